"""``%tfpanel``: a live browser of the managed graph's variables.

Standard ipywidgets only, so it works in JupyterLab, Notebook 7 and VS Code
without a JavaScript build. The tree is one ``Select`` whose options are the
visible rows (scopes indented, collapsed unless opened), so a graph of any
size costs one widget and only expanded scopes are rendered. The tree model
is updated from the tracker's change log after each cell: the work is
proportional to what the cell changed, not to the size of the graph.

A row is a logical variable: a partitioned variable is one row (``×3
parts``), and an optimizer's slots are rows under the variable they belong
to, not a scope of their own.

Every name, value and message reaches the page through ``html.escape`` or as
option text, which the browser shows as text.
"""

from __future__ import annotations

import fnmatch
import html
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import ipywidgets as widgets
import numpy as np

from . import checkpoints, stats, tables
from .checkpoints import Checkpointer, CheckpointError
from .tracking import (
    NOT_REUSABLE,
    REUSED,
    ROLE_OPTIMIZER,
    ROLE_SLOT,
    ROLE_VARIABLE,
    VariableInfo,
    VariableRecord,
    VariableTracker,
    slice_info,
)
from .wording import human_bytes, plural

if TYPE_CHECKING:
    import tensorflow as tf

#: Full width minus the 2px margins ipywidgets puts on each side of a widget,
#: so that wide rows do not overflow the panel.
FULL_WIDTH = 'calc(100% - 4px)'
#: Variables the filtered view shows at most; the rest is summarized in one row.
MAX_FILTERED_ROWS = 2000
HISTOGRAM_BINS = 24
FIRST_VALUES = 10

OPTIMIZER_MARK = '◇'
_REUSE_MARKS = {REUSED: '↻', NOT_REUSABLE: '⊘'}
_ORIGIN_OF_ROLE = {ROLE_SLOT: 'optimizer slot', ROLE_OPTIMIZER: 'optimizer state'}
LEGEND = ('↻ reused · ⊘ tf.Variable, not reusable · '
          f'{OPTIMIZER_MARK} optimizer state (slots under their variable) · '
          '×N parts: one partitioned variable')
NO_SELECTION = '<i>Select a variable to see its details.</i>'

CSS = """
<style>
.tfmagic-tree select { font-family: var(--jp-code-font-family, monospace); font-size: 12px; }
.tfmagic-details table { border-collapse: collapse; font-size: 12px; }
.tfmagic-details td, .tfmagic-details th { padding: 0 8px; line-height: 1.4; text-align: left; }
.tfmagic-details .tfmagic-parts { margin: 6px 0; }
.tfmagic-error { color: #b00020; white-space: pre-wrap; }
.tfmagic-ok { color: #1b5e20; white-space: pre-wrap; }
</style>
"""

Row = tuple[str, str]  # (label, key): what the tree's Select shows and reports


class Settings(Protocol):
    """What the panel reads of the ``TFMagic`` configuration."""

    checkpoint_dir: str
    max_to_keep: int


class CellEvents(Protocol):
    """Calls the panel back after every cell (:class:`~tfmagic.cellhooks.CellHooks`)."""

    def after_cell(self, callback: Callable[[], None]) -> None: ...
    def remove_after_cell(self, callback: Callable[[], None]) -> None: ...
    def notify(self) -> None: ...


def _is_slot(record: VariableRecord) -> bool:
    return record.role == ROLE_SLOT and bool(record.slot_of)


def _slot_name(record: VariableRecord) -> str:
    """``'Adam'`` for the slot ``enc/W/Adam`` of ``enc/W``, and for
    ``enc/enc/W/Adam``: an optimizer made in a variable scope puts its
    slots' names in that scope too."""
    return ('/' + record.name).rpartition(f'/{record.slot_of}/')[2]


class _Scope:
    __slots__ = ('path', 'depth', 'scopes', 'variables', 'slots', 'count', '_order')

    def __init__(self, path: str, depth: int):
        self.path = path
        self.depth = depth
        self.scopes: dict[str, _Scope] = {}
        self.variables: dict[str, VariableRecord] = {}
        # variable leaf -> full name of each of its slots -> the slot's record
        self.slots: dict[str, dict[str, VariableRecord]] = {}
        self.count = 0          # variables (slots included) in this scope and below
        self._order: tuple[list[str], list[str]] | None = None  # rebuilt after a change

    def order(self) -> tuple[list[str], list[str]]:
        """Sorted names of the sub-scopes, and of the variables (with the
        variable leaf of any slots whose variable is not here)."""
        if self._order is None:
            self._order = (sorted(self.scopes), sorted(self.variables.keys() | self.slots.keys()))
        return self._order

    def slots_of(self, leaf: str) -> list[tuple[str, VariableRecord]]:
        """``(slot name, record)`` of the slots of the variable ``leaf``, by name."""
        named = [(_slot_name(slot), slot) for slot in self.slots.get(leaf, {}).values()]
        return sorted(named, key=lambda pair: (pair[0], pair[1].name))


class ScopeTree:
    """Variable records grouped by scope, an optimizer's slots with their
    variable; updated one record at a time."""

    def __init__(self) -> None:
        self.root = _Scope('', 0)
        self.optimizer_count = 0  # slots and other optimizer state
        self._scope_count = 0

    def __len__(self) -> int:
        return self.root.count

    def scope_count(self) -> int:
        return self._scope_count

    def put(self, record: VariableRecord) -> None:
        """Add the record, or replace the one of the same name."""
        if _is_slot(record):
            nodes, owner = self._path_to(record.slot_of)
            entries, key = nodes[-1].slots.setdefault(owner, {}), record.name
        else:
            nodes, key = self._path_to(record.name)
            entries = nodes[-1].variables
        if key not in entries:
            nodes[-1]._order = None
            for node in nodes:
                node.count += 1
            if record.role != ROLE_VARIABLE:
                self.optimizer_count += 1
        entries[key] = record

    def _path_to(self, name: str) -> tuple[list[_Scope], str]:
        """The scopes from the root down to ``name``'s (made as needed), and its leaf."""
        *scopes, leaf = name.split('/')
        nodes = [self.root]
        for part in scopes:
            parent = nodes[-1]
            node = parent.scopes.get(part)
            if node is None:
                path = f'{parent.path}/{part}' if parent.path else part
                node = parent.scopes[part] = _Scope(path, parent.depth + 1)
                parent._order = None
                self._scope_count += 1
            nodes.append(node)
        return nodes, leaf

    def rows(self, expanded: set[str]) -> list[Row]:
        """``(label, key)`` of every visible row: scopes, and the variables of
        the root and of expanded scopes, each followed by its slots."""
        rows: list[Row] = []
        self._walk(self.root, expanded, rows)
        return rows

    def _walk(self, node: _Scope, expanded: set[str], rows: list[Row]) -> None:
        scope_names, leaves = node.order()
        indent = '  ' * node.depth
        for name in scope_names:
            child = node.scopes[name]
            opened = child.path in expanded
            rows.append((f"{indent}{'▾' if opened else '▸'} {name}/  ({child.count})",
                         'scope:' + child.path))
            if opened:
                self._walk(child, expanded, rows)
        for leaf in leaves:
            rows.extend(_family_rows(indent, leaf, node.variables.get(leaf), node.slots_of(leaf)))

    def matching(self, text: str, limit: int = MAX_FILTERED_ROWS) -> list[Row]:
        """Rows of the variables whose full name matches ``text`` (a glob if
        it has ``*?[``, else a case-insensitive substring), under their
        scopes; a matching slot under its variable."""
        match = _matcher(text)
        rows: list[Row] = []
        shown_scopes: set[str] = set()
        shown = total = 0
        for node, leaf in self._families(self.root):
            record = node.variables.get(leaf)
            own = record is not None and match(record.name)
            slots = [(name, slot) for name, slot in node.slots_of(leaf) if match(slot.name)]
            found = own + len(slots)
            total += found
            if not found or shown >= limit:
                continue
            shown += found
            rows.extend(_scope_rows(node.path, shown_scopes))
            rows.extend(_family_rows('  ' * node.depth, leaf, record, slots))
        if total > shown:
            rows.append((f'… and {total - shown} more matches: narrow the filter', 'more:'))
        return rows

    def _families(self, node: _Scope) -> Iterator[tuple[_Scope, str]]:
        """Every variable leaf (with its slots), scope by scope, depth first."""
        scope_names, leaves = node.order()
        for leaf in leaves:
            yield node, leaf
        for name in scope_names:
            yield from self._families(node.scopes[name])


def _matcher(text: str) -> Callable[[str], bool]:
    if any(c in text for c in '*?['):
        return lambda name: fnmatch.fnmatchcase(name, text)
    needle = text.lower()
    return lambda name: needle in name.lower()


def _scope_rows(path: str, shown: set[str]) -> Iterator[Row]:
    """Opened rows for ``path`` and the scopes above it not yet in ``shown``."""
    if not path:
        return
    parts = path.split('/')
    for depth in range(len(parts)):
        prefix = '/'.join(parts[:depth + 1])
        if prefix not in shown:
            shown.add(prefix)
            yield f"{'  ' * depth}▾ {parts[depth]}/", 'scope:' + prefix


def _family_rows(indent: str, leaf: str, record: VariableRecord | None,
                 slots: list[tuple[str, VariableRecord]]) -> list[Row]:
    """A variable's row followed by its slots' rows, indented under it."""
    rows = []
    if record is not None:
        rows.append((indent + variable_label(record, leaf), 'var:' + record.name))
    for name, slot in slots:
        if record is not None:
            rows.append((indent + '  ' + variable_label(slot, name), 'var:' + slot.name))
        else:  # its variable is not listed (not in a collection): say whose slot it is
            rows.append((indent + variable_label(slot, f'{leaf}/{name}'), 'var:' + slot.name))
    return rows


def variable_label(record: VariableRecord, leaf: str) -> str:
    shape = _shape_text(record.shape)
    parts = f' ×{record.partitions} parts' if record.partitions > 1 else ''
    origin = _ORIGIN_OF_ROLE.get(record.role, record.created_by)
    cell = '' if record.created_in is None else f' [{record.created_in}]'
    reuses = f' ×{record.reuses}' if record.reuses else ''
    return f'{_mark(record)} {leaf}  {shape} {record.dtype}{parts}  {origin}{cell}{reuses}'


def _shape_text(shape: tuple | None) -> str:
    return 'unknown shape' if shape is None else str(list(shape))


def _mark(record: VariableRecord) -> str:
    if record.role != ROLE_VARIABLE:
        return OPTIMIZER_MARK
    return _REUSE_MARKS.get(record.reuse_status, ' ')


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
    count = 'unreadable' if info.variables is None else plural(info.variables, 'variable')
    latest = '  (latest)' if info.latest else ''
    return f'{info.prefix}  {count}  {human_bytes(info.size_bytes)}{latest}'


def _cell(value: object) -> str:
    """Floats to six significant digits, still reading as floats (``1.0``)."""
    if not isinstance(value, float):
        return str(value)
    text = f'{value:.6g}'
    return text if any(c in text for c in '.eEni') else text + '.0'


def _table(rows: Iterable[tuple[object, object]]) -> str:
    """A two-column table: each column's name and the variable's value in it."""
    return '<table class="tfmagic-columns">' + ''.join(
        f'<tr><th>{html.escape(str(k))}</th><td>{html.escape(_cell(v))}</td></tr>'
        for k, v in rows) + '</table>'


def _parts_table(parts: list[VariableRecord], offsets: list[list[int]]) -> str:
    """A partitioned variable's parts: name, shape, where it starts, and its
    device when any part is placed."""
    placed = any(part.device for part in parts)
    head = ['part', 'shape', 'offset'] + (['device'] if placed else [])
    rows = [[part.name, _shape_text(part.shape), str(list(offset))]
            + ([part.device] if placed else [])
            for part, offset in zip(parts, offsets, strict=True)]
    return ('<table class="tfmagic-parts">' + _html_row('th', head)
            + ''.join(_html_row('td', row) for row in rows) + '</table>')


def _html_row(cell: str, texts: list[str]) -> str:
    return '<tr>' + ''.join(f'<{cell}>{html.escape(text)}</{cell}>' for text in texts) + '</tr>'


def whole_value(info: VariableInfo, value: tables.Value) -> np.ndarray | None:
    """The variable's value as one array: a partitioned variable's parts
    (``value`` is then their list) put together where each part lies."""
    if value is None:
        return None
    if not isinstance(value, list):
        return np.asarray(value)
    whole = np.empty(_slice_of(info.parts[0]).full_shape, dtype=np.asarray(value[0]).dtype)
    for part, part_value in zip(info.parts, value, strict=True):
        start = _slice_of(part).var_offset
        where = tuple(slice(s, s + n) for s, n in zip(start, np.shape(part_value), strict=True))
        whole[where] = part_value
    return whole


def _slice_of(part: tf.Variable) -> tf.Variable.SaveSliceInfo:
    """Where ``part`` lies in the partitioned variable it is a part of."""
    info = slice_info(part)
    assert info is not None, f'{part.name} is not part of a partitioned variable'
    return info


def _first_values(value: np.ndarray) -> str:
    first = ', '.join(str(v) for v in value.ravel()[:FIRST_VALUES])
    return first + (', …' if value.size > FIRST_VALUES else '')


def _message(text: str, ok: bool) -> str:
    css = 'tfmagic-ok' if ok else 'tfmagic-error'
    return f'<div class="{css}">{html.escape(text)}</div>'


class VariableBrowser(widgets.VBox):
    """The ``%tfpanel`` widget: scopes as a tree, a filter, the selected
    variable's details, and the checkpoints with Save and Restore.

    ``settings`` is the ``TFMagic`` configuration. ``events`` calls
    :meth:`refresh` after every cell; ``events.notify()`` refreshes every
    panel now (after a Save or Restore).

    ``cell_id`` is the id the front end gives the notebook cell that shows
    the panel. Running that cell again replaces its output, so a new panel
    from the same cell closes the one shown there before; otherwise that
    panel would stay alive (ipywidgets keeps every open widget in its
    registry) and go on refreshing after every cell, unseen.
    """

    #: The open panel each notebook cell shows, by cell id.
    _shown_in_cell: ClassVar[dict[str, VariableBrowser]] = {}

    def __init__(self, tracker: VariableTracker, checkpointer: Checkpointer, settings: Settings,
                 events: CellEvents, cell_id: str | None = None, **kwargs: Any):
        self._tracker = tracker
        self._checkpointer = checkpointer
        self._settings = settings
        self._events = events
        self._cell_id = cell_id
        self._scope_tree = ScopeTree()
        self._expanded: set[str] = set()
        self._generation: int | None = None
        self._position = 0
        self._selected: str | None = None
        self._ckpt_listing: tuple[str, tuple[str, ...]] | None = None
        self._updating = False

        self.summary = widgets.HTML()
        self.filter = widgets.Text(placeholder="filter: text, or a glob such as layer1/*",
                                   continuous_update=True, layout=widgets.Layout(width=FULL_WIDTH))
        self.tree = widgets.Select(options=[], rows=18, layout=widgets.Layout(width='55%'))
        self.tree.add_class('tfmagic-tree')
        self.details = widgets.HTML(NO_SELECTION, layout=widgets.Layout(width='45%'))
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
        self._replace_earlier_panel_of_cell()
        events.after_cell(self.refresh)
        self.refresh()

    def _replace_earlier_panel_of_cell(self) -> None:
        if self._cell_id is None:
            return
        earlier = self._shown_in_cell.get(self._cell_id)
        if earlier is not None:
            earlier.close()
        self._shown_in_cell[self._cell_id] = self

    # -- keeping up with the graph ------------------------------------------------

    def refresh(self) -> None:
        """Bring the tree up to date with what changed since the last refresh."""
        tracker = self._tracker
        rebuild = tracker.generation != self._generation
        if rebuild:  # first refresh, or a reset: start over from every record
            self._scope_tree = ScopeTree()
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
                self._scope_tree.put(record)
        if names or rebuild:
            self._render()
        if self._selected is not None:  # its values may have changed
            self._show_details(self._selected)
        elif rebuild:
            self.details.value = NO_SELECTION
        self._refresh_checkpoints()

    def close(self) -> None:
        """Stop refreshing, and close the panel and every widget it is made of."""
        self._events.remove_after_cell(self.refresh)
        if self._cell_id is not None and self._shown_in_cell.get(self._cell_id) is self:
            del self._shown_in_cell[self._cell_id]
        for widget in _widgets_inside(self):
            widget.close()
        super().close()

    # -- the tree -----------------------------------------------------------------

    def _render(self) -> None:
        text = self.filter.value.strip()
        rows = self._scope_tree.matching(text) if text else self._scope_tree.rows(self._expanded)
        self.summary.value = self._summary()
        self._updating = True
        try:
            self.tree.options = rows
            keys = {key for _, key in rows}
            selected = 'var:' + self._selected if self._selected else None
            self.tree.value = selected if selected in keys else None
        finally:
            self._updating = False

    def _summary(self) -> str:
        tree = self._scope_tree
        optimizer = (f' (<b>{tree.optimizer_count}</b> optimizer state)'
                     if tree.optimizer_count else '')
        return (f'<b>{len(tree)}</b> variables{optimizer} in <b>{tree.scope_count()}</b> '
                f'scopes · {LEGEND}')

    def _on_filter(self, change: dict[str, Any]) -> None:
        self._render()

    def _on_select(self, change: dict[str, Any]) -> None:
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
        parts = self._tracker.parts(name)
        if not parts:
            self.details.value = _message(f'{name} is no longer in the graph.', False)
            return
        info, = self._tracker.describe(parts)
        value = whole_value(info, next(tables.values_of(self._tracker, [info])))
        row = tables.variables_frame([info], [value]).iloc[0]
        sections = [f'<b>{html.escape(name)}</b>', _table(row.items())]
        if len(parts) > 1:
            sections.append(_parts_table([self._tracker.record(part) for part in parts],
                                         [_slice_of(part).var_offset for part in parts]))
        if value is not None and value.size:
            plotted = stats.plottable(value)
            if plotted is not None:
                sections.append(histogram_svg(plotted))
            sections.append(f'<div>first values: <code>{html.escape(_first_values(value))}'
                            '</code></div>')
        self.details.value = ''.join(sections)

    # -- checkpoints --------------------------------------------------------------

    def _default_prefix(self) -> str:
        return checkpoints.default_prefix(self._settings.checkpoint_dir)

    def _refresh_checkpoints(self, force: bool = False) -> None:
        directory = checkpoints.expand_user(self._settings.checkpoint_dir)
        if not self.ckpt_prefix.value:
            self.ckpt_prefix.value = self._default_prefix()
        try:
            listing = (directory, checkpoints.directory_names(directory))
        except CheckpointError as err:  # unreadable: say why, list nothing
            listing = (directory, ())
            self.ckpt_message.value = _message(str(err), False)
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
        def restore() -> object:
            prefix = checkpoints.resolve(self.ckpt_list.value, self._settings.checkpoint_dir)
            return self._checkpointer.restore(prefix)
        self._run(restore)

    def _run(self, action: Callable[[], object]) -> None:
        try:
            self.ckpt_message.value = _message(str(action()), True)
        except CheckpointError as err:
            self.ckpt_message.value = _message(str(err), False)
        self._refresh_checkpoints(force=True)
        self._events.notify()  # other panels: new checkpoint files, restored values


def _widgets_inside(box: widgets.Widget) -> Iterator[widgets.Widget]:
    """Every widget ``box`` is made of: its children, theirs, and each one's
    layout and style (widgets too). Closing a box closes none of them."""
    for child in getattr(box, 'children', ()):
        yield from _widgets_inside(child)
        yield child
    for name in ('layout', 'style'):
        part = getattr(box, name, None)
        if isinstance(part, widgets.Widget):
            yield part
