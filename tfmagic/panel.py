"""``%tfpanel``: a live browser of the managed graph's variables.

Standard ipywidgets only, so it works in JupyterLab, Notebook 7 and VS Code
without a JavaScript build. The tree is one ``Select`` whose options are the
visible rows (scopes indented, collapsed unless opened), so a graph of any
size costs one widget and only expanded scopes are rendered. The tree model
is updated from the tracker's change log after each cell: the work is
proportional to what the cell changed, not to the size of the graph.

Every name, value and message reaches the page through ``html.escape`` or as
option text, which the browser shows as text.
"""

from __future__ import annotations

import fnmatch
import html
import ipywidgets as widgets
import numpy as np

from . import checkpoints, tables
from .checkpoints import CheckpointError, Checkpointer
from .tracking import NOT_REUSABLE, REUSED, VariableRecord, VariableTracker

#: Full width minus the 2px margins ipywidgets puts on each side of a widget,
#: so that wide rows do not overflow the panel.
FULL_WIDTH = 'calc(100% - 4px)'
#: Variables the filtered view shows at most; the rest is summarized in one row.
MAX_FILTERED_ROWS = 2000
HISTOGRAM_BINS = 24
FIRST_VALUES = 10

_MARKS = {REUSED: '↻', NOT_REUSABLE: '⊘'}

CSS = """
<style>
.tfmagic-tree select { font-family: var(--jp-code-font-family, monospace); font-size: 12px; }
.tfmagic-details table { border-collapse: collapse; font-size: 12px; }
.tfmagic-details td, .tfmagic-details th { padding: 0 8px; line-height: 1.4; text-align: left; }
.tfmagic-error { color: #b00020; white-space: pre-wrap; }
.tfmagic-ok { color: #1b5e20; white-space: pre-wrap; }
</style>
"""


class _Scope:
    __slots__ = ('path', 'scopes', 'variables', 'count', '_order')

    def __init__(self, path: str):
        self.path = path
        self.scopes: dict[str, _Scope] = {}
        self.variables: dict[str, VariableRecord] = {}
        self.count = 0          # variables in this scope and below
        self._order = None      # sorted child keys, rebuilt after a change

    def order(self) -> tuple[list[str], list[str]]:
        if self._order is None:
            self._order = (sorted(self.scopes), sorted(self.variables))
        return self._order


class ScopeTree:
    """Variable records grouped by scope, updated one record at a time."""

    def __init__(self):
        self.root = _Scope('')

    def __len__(self) -> int:
        return self.root.count

    def put(self, record: VariableRecord) -> None:
        """Add the record, or replace the one of the same name."""
        *scopes, leaf = record.name.split('/')
        path, nodes = [], [self.root]
        for part in scopes:
            path.append(part)
            node = nodes[-1].scopes.get(part)
            if node is None:
                node = nodes[-1].scopes[part] = _Scope('/'.join(path))
                nodes[-1]._order = None
            nodes.append(node)
        parent = nodes[-1]
        if leaf not in parent.variables:
            parent._order = None
            for node in nodes:
                node.count += 1
        parent.variables[leaf] = record

    def scope_count(self) -> int:
        stack, count = [self.root], 0
        while stack:
            node = stack.pop()
            count += len(node.scopes)
            stack.extend(node.scopes.values())
        return count

    def rows(self, expanded: set[str]) -> list[tuple[str, str]]:
        """``(label, key)`` of every visible row: scopes, and the variables of
        the root and of expanded scopes."""
        rows: list[tuple[str, str]] = []
        self._walk(self.root, expanded, 0, rows)
        return rows

    def _walk(self, node: _Scope, expanded: set[str], depth: int, rows: list) -> None:
        scope_names, variable_names = node.order()
        indent = '  ' * depth
        for name in scope_names:
            child = node.scopes[name]
            opened = child.path in expanded
            rows.append((f"{indent}{'▾' if opened else '▸'} {name}/  ({child.count})",
                         'scope:' + child.path))
            if opened:
                self._walk(child, expanded, depth + 1, rows)
        for name in variable_names:
            rows.append((indent + variable_label(node.variables[name], name),
                         'var:' + node.variables[name].name))

    def matching(self, text: str, limit: int = MAX_FILTERED_ROWS) -> list[tuple[str, str]]:
        """Rows of the variables whose full name matches ``text`` (a glob if
        it has ``*?[``, else a case-insensitive substring), under their scopes."""
        if any(c in text for c in '*?['):
            def match(name): return fnmatch.fnmatchcase(name, text)
        else:
            needle = text.lower()
            def match(name): return needle in name.lower()
        rows, shown_scopes, total = [], set(), 0
        for record in self._records(self.root):
            if not match(record.name):
                continue
            total += 1
            if total > limit:
                continue
            parts = record.name.split('/')
            for depth in range(len(parts) - 1):
                path = '/'.join(parts[:depth + 1])
                if path not in shown_scopes:
                    shown_scopes.add(path)
                    rows.append((f"{'  ' * depth}▾ {parts[depth]}/", 'scope:' + path))
            rows.append(('  ' * (len(parts) - 1) + variable_label(record, parts[-1]),
                         'var:' + record.name))
        if total > limit:
            rows.append((f'… and {total - limit} more matches: narrow the filter', 'more:'))
        return rows

    def _records(self, node: _Scope):
        scope_names, variable_names = node.order()
        for name in variable_names:
            yield node.variables[name]
        for name in scope_names:
            yield from self._records(node.scopes[name])


def variable_label(record: VariableRecord, leaf: str) -> str:
    shape = 'unknown shape' if record.shape is None else str(list(record.shape))
    cell = '' if record.created_in is None else f' [{record.created_in}]'
    mark = _MARKS.get(record.reuse_status, ' ')
    reuses = f' ×{record.reuses}' if record.reuses else ''
    return f'{mark} {leaf}  {shape} {record.dtype}  {record.created_by}{cell}{reuses}'


def histogram_svg(values: np.ndarray, bins: int = HISTOGRAM_BINS,
                  width: int = 240, height: int = 60) -> str:
    """A small bar chart of ``values`` as inline SVG (no plotting library)."""
    finite = values[np.isfinite(values)] if values.dtype.kind == 'f' else values
    if finite.size == 0:
        return ''
    counts, edges = np.histogram(finite.astype(np.float64, copy=False), bins=bins)
    top = counts.max() or 1
    bar = width / len(counts)
    rects = ''.join(
        f'<rect x="{i * bar:.1f}" y="{height - c / top * height:.1f}" width="{bar - 1:.1f}" '
        f'height="{c / top * height:.1f}" fill="#4f7fbf"><title>{edges[i]:.4g} – '
        f'{edges[i + 1]:.4g}: {c}</title></rect>'
        for i, c in enumerate(counts))
    return (f'<svg class="tfmagic-histogram" width="{width}" height="{height + 14}" '
            f'xmlns="http://www.w3.org/2000/svg">{rects}'
            f'<text x="0" y="{height + 12}" font-size="10">{edges[0]:.4g}</text>'
            f'<text x="{width}" y="{height + 12}" font-size="10" text-anchor="end">'
            f'{edges[-1]:.4g}</text></svg>')


def _checkpoint_label(info: checkpoints.CheckpointInfo) -> str:
    if info.variables is None:
        count = 'unreadable'
    else:
        count = f"{info.variables} variable{'' if info.variables == 1 else 's'}"
    return f"{info.prefix}  {count}  {info.size_bytes} bytes{'  (latest)' if info.latest else ''}"


def _cell(value) -> str:
    """Floats to six significant digits, still reading as floats (``1.0``)."""
    if not isinstance(value, float):
        return str(value)
    text = f'{value:.6g}'
    return text if any(c in text for c in '.eEni') else text + '.0'


def _table(rows) -> str:
    return '<table>' + ''.join(
        f'<tr><th>{html.escape(str(k))}</th><td>{html.escape(_cell(v))}</td></tr>'
        for k, v in rows) + '</table>'


def _message(text: str, ok: bool) -> str:
    css = 'tfmagic-ok' if ok else 'tfmagic-error'
    return f'<div class="{css}">{html.escape(text)}</div>'


class VariableBrowser(widgets.VBox):
    """The ``%tfpanel`` widget: scopes as a tree, a filter, the selected
    variable's details, and the checkpoints with Save and Restore.

    ``settings`` provides ``checkpoint_dir`` and ``max_to_keep`` (the
    ``TFMagic`` configuration). ``events`` calls :meth:`refresh` after every
    cell: ``events.after_cell(f)`` / ``events.remove_after_cell(f)`` register,
    ``events.notify()`` refreshes every panel now (after a Save or Restore).
    """

    def __init__(self, tracker: VariableTracker, checkpointer: Checkpointer, settings,
                 events, **kwargs):
        self._tracker = tracker
        self._checkpointer = checkpointer
        self._settings = settings
        self._events = events
        self._tree = ScopeTree()
        self._expanded: set[str] = set()
        self._generation = None
        self._position = 0
        self._selected: str | None = None
        self._ckpt_listing = None
        self._updating = False

        self.summary = widgets.HTML()
        self.filter = widgets.Text(placeholder="filter: text, or a glob such as layer1/*",
                                   continuous_update=True, layout=widgets.Layout(width=FULL_WIDTH))
        self.tree = widgets.Select(options=[], rows=18, layout=widgets.Layout(width='55%'))
        self.tree.add_class('tfmagic-tree')
        self.details = widgets.HTML('<i>Select a variable to see its details.</i>',
                                    layout=widgets.Layout(width='45%'))
        self.details.add_class('tfmagic-details')
        self.ckpt_prefix = widgets.Text(description='Prefix', layout=widgets.Layout(width='60%'))
        self.save_button = widgets.Button(description='Save', icon='save')
        self.restore_button = widgets.Button(description='Restore', icon='undo')
        self.ckpt_list = widgets.Select(options=[], rows=5, layout=widgets.Layout(width=FULL_WIDTH))
        self.ckpt_message = widgets.HTML()
        checkpoints_box = widgets.VBox([
            widgets.HTML('<b>Checkpoints</b>'),
            widgets.HBox([self.ckpt_prefix, self.save_button, self.restore_button]),
            self.ckpt_list, self.ckpt_message])
        checkpoints_box.add_class('tfmagic-checkpoints')
        super().__init__([widgets.HTML(CSS), self.summary, self.filter,
                          widgets.HBox([self.tree, self.details]), checkpoints_box], **kwargs)
        self.add_class('tfmagic-panel')

        self.filter.observe(self._on_filter, 'value')
        self.tree.observe(self._on_select, 'value')
        self.save_button.on_click(lambda _: self.save())
        self.restore_button.on_click(lambda _: self.restore())
        events.after_cell(self.refresh)
        self.refresh()

    # -- keeping up with the graph ------------------------------------------------

    def refresh(self) -> None:
        """Bring the tree up to date with what changed since the last refresh."""
        tracker = self._tracker
        rebuild = tracker.generation != self._generation
        if rebuild:  # first refresh, or a reset: start over from every record
            self._tree = ScopeTree()
            self._expanded.clear()
            self._selected = None
            self._generation = tracker.generation
            names = [r.name for r in tracker.records()]
            _, self._position = tracker.changes_since(0)
        else:
            names, self._position = tracker.changes_since(self._position)
        for name in dict.fromkeys(names):
            record = tracker.find(name)
            if record is not None:
                self._tree.put(record)
        if names or rebuild:
            self._render()
        if self._selected is not None:  # its values may have changed
            self._show_details(self._selected)
        elif rebuild:
            self.details.value = '<i>Select a variable to see its details.</i>'
        self._refresh_checkpoints()

    def close(self) -> None:
        """Close the widget and stop refreshing it."""
        self._events.remove_after_cell(self.refresh)
        super().close()

    # -- the tree -----------------------------------------------------------------

    def _render(self) -> None:
        text = self.filter.value.strip()
        rows = self._tree.matching(text) if text else self._tree.rows(self._expanded)
        self.summary.value = (f'<b>{len(self._tree)}</b> variables in '
                              f'<b>{self._tree.scope_count()}</b> scopes · '
                              '↻ reused · ⊘ tf.Variable, not reusable')
        self._updating = True
        try:
            self.tree.options = rows
            keys = {key for _, key in rows}
            selected = 'var:' + self._selected if self._selected else None
            self.tree.value = selected if selected in keys else None
        finally:
            self._updating = False

    def _on_filter(self, change) -> None:
        self._render()

    def _on_select(self, change) -> None:
        if self._updating or change['new'] is None:
            return
        kind, _, name = change['new'].partition(':')
        if kind == 'scope':
            if not self.filter.value.strip():
                self._expanded.symmetric_difference_update({name})
            self._render()
        elif kind == 'var':
            self._selected = name
            self._show_details(name)

    def expand(self, scope: str, opened: bool = True) -> None:
        """Open (or close) a scope, as clicking its row does."""
        (self._expanded.add if opened else self._expanded.discard)(scope)
        self._render()

    def select(self, name: str) -> None:
        """Show a variable's details, as clicking its row does."""
        self._selected = name
        self._show_details(name)
        self._render()

    # -- details ------------------------------------------------------------------

    def _show_details(self, name: str) -> None:
        variable = self._tracker.variable(name)
        if variable is None:
            self.details.value = _message(f'{name} is no longer in the graph.', False)
            return
        info = self._tracker.describe([variable])[0]
        value = None
        if info.initialized:
            value = np.asarray(self._tracker.workspace.fetch_values([variable])[0])
        row = tables.variables_frame([info], None if value is None else [value]).iloc[0]
        parts = [f'<b>{html.escape(name)}</b>', _table(row.items())]
        if value is not None and value.size:
            numeric = np.issubdtype(value.dtype, np.number) or value.dtype == np.bool_
            if numeric:
                parts.append(histogram_svg(np.abs(value) if np.iscomplexobj(value) else value))
            first = ', '.join(str(v) for v in value.ravel()[:FIRST_VALUES])
            more = ', …' if value.size > FIRST_VALUES else ''
            parts.append(f'<div>first values: <code>{html.escape(first + more)}</code></div>')
        self.details.value = ''.join(parts)

    # -- checkpoints --------------------------------------------------------------

    def _default_prefix(self) -> str:
        return checkpoints.join(self._settings.checkpoint_dir, 'model')

    def _refresh_checkpoints(self, force: bool = False) -> None:
        directory = self._settings.checkpoint_dir
        if not self.ckpt_prefix.value:
            self.ckpt_prefix.value = self._default_prefix()
        try:
            listing = (directory, tuple(sorted(checkpoints.gfile.listdir(directory))))
        except Exception:  # not created yet
            listing = (directory, ())
        if listing == self._ckpt_listing and not force:
            return
        self._ckpt_listing = listing
        try:
            infos = checkpoints.list_checkpoints(directory) if listing[1] else []
        except CheckpointError:
            infos = []
        self.ckpt_list.options = [(_checkpoint_label(i), i.prefix) for i in reversed(infos)]

    def save(self) -> None:
        """What the Save button does: ``%saveckpt`` with the prefix box."""
        prefix = self.ckpt_prefix.value.strip() or self._default_prefix()
        self._run(lambda: self._checkpointer.save(prefix, keep=self._settings.max_to_keep))

    def restore(self) -> None:
        """What the Restore button does: ``%restoreckpt`` of the selected
        checkpoint, or of the latest one."""
        def restore():
            prefix = checkpoints.resolve(self.ckpt_list.value, self._settings.checkpoint_dir)
            return self._checkpointer.restore(prefix)
        self._run(restore)

    def _run(self, action) -> None:
        try:
            self.ckpt_message.value = _message(str(action()), True)
        except CheckpointError as err:
            self.ckpt_message.value = _message(str(err), False)
        self._refresh_checkpoints(force=True)
        self._events.notify()  # other panels: new checkpoint files, restored values
