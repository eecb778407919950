"""``%tfpanel``: a live browser of the managed graph's variables.

Standard ipywidgets, and one anywidget for the scope tree
(:mod:`tfmagic.treeview`), so it works in JupyterLab and Notebook 7 without a
JavaScript build. The tree is given only the visible rows (scopes collapsed
unless opened), so a graph of any size costs one widget and only expanded
scopes are rendered. The tree model is updated from the tracker's change log
after each cell: the work is proportional to what the cell changed, not to
the size of the graph.

A row is a logical variable: a partitioned variable is one row (``×3
parts``), and an optimizer's slots are rows under the variable they belong
to, not a scope of their own.

Grouped by device (variables on a cluster's parameter servers), the top
level is one node per device, each with the scope tree of what lies on it;
a partitioned variable whose parts lie on several devices is a row under
each of them (``2 of 4 parts``). Each grouping has a tree of its own, both
kept up to date; rows of the device grouping have keys of the form
``scope:DEVICE|PATH`` and ``var:DEVICE|NAME`` (TensorFlow names have no
``|``), so every row's key is unique in either grouping.

Every name, value and message reaches the page through ``html.escape`` or as
the tree's row data, which ``tree.js`` sets as ``textContent``.
"""

from __future__ import annotations

import fnmatch
import html
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from typing import Any, ClassVar, Literal, Protocol

import ipywidgets as widgets
import numpy as np
import tensorflow as tf

from . import checkpoints, graphview, marks, stats, tables
from .checkpoints import Checkpointer, CheckpointError, SaveInterrupted
from .devicestats import device_stats
from .tracking import (
    ROLE_OPTIMIZER,
    ROLE_SLOT,
    ROLE_VARIABLE,
    Role,
    VariableInfo,
    VariableRecord,
    VariableTracker,
    slice_info,
)
from .treeview import RowKind, TreeRow, TreeView, row_text
from .wording import first_line, human_bytes, plural

#: Full width minus the 2px margins ipywidgets puts on each side of a widget,
#: so that wide rows do not overflow the panel.
FULL_WIDTH = 'calc(100% - 4px)'
#: Variables the filtered view shows at most; the rest is summarized in one row.
MAX_FILTERED_ROWS = 2000
HISTOGRAM_BINS = 24
FIRST_VALUES = 10

DETAILS_VIEW, GRAPH_VIEW = 'Details', 'Graph'
BY_SCOPE, BY_DEVICE = 'Scope', 'Device'
#: The device group of the variables placed on no device.
NO_DEVICE = '(no device)'
#: The device of a variable placed on none, as its details say it.
NOT_PLACED = "not placed (the session's default device)"
PARTS_HERE = '{here} of {total} parts'
PARTS_HERE_EXPLAINED = 'this device holds {here} of the {total} parts of this partitioned variable'
NO_GRAPH_IN_EAGER_MODE = ('Eager mode has no graph to draw: %tfmode graph runs cells in '
                          "tfmagic's graph.")
ON_ITS_DEVICE = ('On a cluster the statistics are computed on the task that holds the '
                 'variable, and its values stay there: no histogram or first values.')
UNREADABLE = ("No value: the session cannot read it (variables on a cluster's devices are "
              "read once the workspace is connected to it: %tfconnect). TensorFlow says: {why}")
#: Seconds the Graph view waits for dot, which blocks the kernel meanwhile.
PANEL_DOT_TIMEOUT = 10
SCOPE_KEYS = '→ opens it, ← closes it, Enter or a click opens or closes it.'
NO_SELECTION = '<i>Select a variable to see its details.</i>'
#: Rows of the static picture a saved notebook shows in place of the panel.
SNAPSHOT_ROWS = 200
SNAPSHOT_INDENT = '│   '
SNAPSHOT_NOTE = 'a snapshot from when the panel was shown: run the cell to browse live'

CSS = """
<style>
.tfmagic-details table { border-collapse: collapse; font-size: 12px; }
.tfmagic-details td, .tfmagic-details th { padding: 0 8px; line-height: 1.4; text-align: left; }
.tfmagic-details .tfmagic-parts { margin: 6px 0; }
.tfmagic-graph svg { max-width: 100%; height: auto; }
.tfmagic-legend, .tfmagic-details div { line-height: 1.4; }
.tfmagic-legend { font-size: 11px; color: var(--jp-content-font-color2, #616161); }
.tfmagic-error { color: #b00020; white-space: pre-wrap; }
.tfmagic-ok { color: #1b5e20; white-space: pre-wrap; }
.tfmagic-busy { color: var(--jp-content-font-color2, #616161); white-space: pre-wrap; }
.tfmagic-busy::before { content: '⏳ '; }
</style>
"""


class Settings(Protocol):
    """What the panel reads of the ``TFMagic`` configuration."""

    checkpoint_dir: str
    max_to_keep: int


class CellEvents(Protocol):
    """Calls the panel back after every cell (:class:`~tfmagic.cellhooks.CellHooks`)."""

    def after_cell(self, callback: Callable[[], None]) -> None: ...
    def remove_after_cell(self, callback: Callable[[], None]) -> None: ...
    def notify(self) -> None: ...


class _Scope:
    """A scope, or in a tree grouped by device a device's node (its
    ``path`` is ``''``); every node under a device has that ``device``."""

    __slots__ = ('path', 'device', 'key', 'parent', 'depth', 'scopes', 'variables', 'slots',
                 'parts', 'count', '_order')

    def __init__(self, path: str, parent: _Scope | None, device: str | None = None):
        self.path = path
        self.device = device  # None when the tree is grouped by scope
        self.key = _node_key(device, path)
        self.parent = parent
        self.depth: int = parent.depth + 1 if parent is not None else 0
        self.scopes: dict[str, _Scope] = {}
        self.variables: dict[str, VariableRecord] = {}
        # variable leaf -> full name of each of its slots -> the slot's record
        self.slots: dict[str, dict[str, VariableRecord]] = {}
        # full name -> how many of its parts lie here, for one split over devices
        self.parts: dict[str, int] = {}
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
        named = [(marks.slot_name(slot), slot) for slot in self.slots.get(leaf, {}).values()]
        return sorted(named, key=lambda pair: (pair[0], pair[1].name))

    def label(self) -> str:
        """What its row says: ``'deep/'``, or the device."""
        return self.path.rpartition('/')[2] + '/' if self.path else _device_label(self.device)

    def heading(self) -> str:
        """``'layer2/deep/'``, or the device."""
        return self.path + '/' if self.path else _device_label(self.device)


def _node_key(device: str | None, path: str) -> str:
    """What identifies a node (``path``) or variable (``path`` is its name)
    in a tree: the path itself, or grouped by device ``DEVICE|PATH``."""
    return path if device is None else f'{device}|{path}'


def _path_in(key: str) -> str:
    """The scope path or variable name in a :func:`_node_key`."""
    return key.rpartition('|')[2]


def _device_label(device: str | None) -> str:
    return device or NO_DEVICE


class ScopeTree:
    """Variable records grouped by scope, an optimizer's slots with their
    variable; updated one record at a time. Records put with their places
    are grouped by device first (see :meth:`put`)."""

    def __init__(self) -> None:
        self.root = _Scope('', None)
        self.optimizer_count = 0  # slots and other optimizer state
        self._size = 0
        self._scope_count = 0
        self._nodes: dict[str, _Scope] = {}  # by key

    def __len__(self) -> int:
        return self._size

    def scope_count(self) -> int:
        return self._scope_count

    def put(self, record: VariableRecord, places: Mapping[str, int] | None = None) -> None:
        """Add the record, or replace the one of the same name. With
        ``places`` (device, ``''`` for none -> how many of its parts lie
        there) it goes under each of those devices; a tree's records are
        all put with places, or none."""
        groups: Iterable[tuple[str | None, int]] = (
            [(None, record.partitions)] if places is None else places.items())
        new = False
        for device, parts in groups:
            new |= self._put_in(record, device, parts)
        if new:
            self._size += 1
            if record.role != ROLE_VARIABLE:
                self.optimizer_count += 1

    def _put_in(self, record: VariableRecord, device: str | None, parts: int) -> bool:
        """Put the record under ``device`` (None: the tree by scope); True if it is new there."""
        if marks.is_slot(record):
            nodes, owner = self._path_to(record.slot_of, device)
            entries, key = nodes[-1].slots.setdefault(owner, {}), record.name
        else:
            nodes, key = self._path_to(record.name, device)
            entries = nodes[-1].variables
        if parts < record.partitions:
            nodes[-1].parts[record.name] = parts
        new = key not in entries
        if new:
            nodes[-1]._order = None
            for node in nodes:
                node.count += 1
        entries[key] = record
        return new

    def _path_to(self, name: str, device: str | None) -> tuple[list[_Scope], str]:
        """The nodes from the root down to ``name``'s scope (under its
        device, if any; made as needed), and its leaf."""
        *scopes, leaf = name.split('/')
        nodes = [self.root]
        if device is not None:
            nodes.append(self._device_node(device))
        for part in scopes:
            nodes.append(self._scope_node(nodes[-1], part))
        return nodes, leaf

    def _device_node(self, device: str) -> _Scope:
        node = self.root.scopes.get(device)
        if node is None:
            node = self.root.scopes[device] = _Scope('', self.root, device)
            self._nodes[node.key] = node
            self.root._order = None
        return node

    def _scope_node(self, parent: _Scope, part: str) -> _Scope:
        node = parent.scopes.get(part)
        if node is None:
            path = f'{parent.path}/{part}' if parent.path else part
            node = parent.scopes[part] = _Scope(path, parent, parent.device)
            self._nodes[node.key] = node
            parent._order = None
            self._scope_count += 1
        return node

    def scope(self, key: str) -> _Scope | None:
        """The scope (or device's node) whose row's key is ``'scope:' + key``."""
        return self._nodes.get(key)

    def rows(self, expanded: set[str] | None, limit: int | None = None) -> list[TreeRow]:
        """Every visible row: scopes, and the variables of the root and of
        expanded scopes (every scope if ``expanded`` is None), each followed
        by its slots; at most ``limit`` rows."""
        rows: list[TreeRow] = []
        self._walk(self.root, expanded, rows, limit)
        return rows

    def _walk(self, node: _Scope, expanded: set[str] | None, rows: list[TreeRow],
              limit: int | None) -> None:
        scope_names, leaves = node.order()
        for name in scope_names:
            if limit is not None and len(rows) >= limit:
                return
            child = node.scopes[name]
            opened = expanded is None or child.key in expanded
            rows.append(_scope_row(child, opened, plural(child.count, 'variable')))
            if opened:
                self._walk(child, expanded, rows, limit)
        for leaf in leaves:
            if limit is not None and len(rows) >= limit:
                return
            rows.extend(_family_rows(node, leaf, node.variables.get(leaf), node.slots_of(leaf)))

    def matching(self, text: str, closed: Collection[str] = (),
                 limit: int = MAX_FILTERED_ROWS) -> tuple[list[TreeRow], int]:
        """The rows of the variables whose full name matches ``text`` (a glob
        if it has ``*?[``, else a case-insensitive substring) under their
        scopes, each scope with how many of its variables match; a matching
        slot under its variable. Nothing under a scope in ``closed`` is shown.
        Also returns how many variables match (each once, though grouped by
        device a variable may be a row under several devices)."""
        match = _matcher(text)
        found: list[tuple[_Scope, str, VariableRecord | None,
                          list[tuple[str, VariableRecord]]]] = []
        matches: dict[str, int] = {}  # scope key -> matching variables in it and below
        names: set[str] = set()
        for node, leaf in self._families(self.root):
            record = node.variables.get(leaf)
            own = record if record is not None and match(record.name) else None
            slots = [(name, slot) for name, slot in node.slots_of(leaf) if match(slot.name)]
            if own or slots:
                found.append((node, leaf, own, slots))
                if own is not None:
                    names.add(own.name)
                names.update(slot.name for _, slot in slots)
                for scope in self._chain(node):
                    matches[scope.key] = matches.get(scope.key, 0) + (own is not None) + len(slots)
        rows: list[TreeRow] = []
        shown_scopes: set[str] = set()
        shown = folded = total = 0  # rows; folded: under a closed scope
        for node, leaf, record, slots in found:
            count = (record is not None) + len(slots)
            total += count
            if shown >= limit:
                continue
            for scope in self._chain(node):
                if scope.key not in shown_scopes:
                    shown_scopes.add(scope.key)
                    rows.append(_scope_row(scope, scope.key not in closed,
                                           f'{matches[scope.key]:,} of '
                                           f'{plural(scope.count, "variable")}'))
                if scope.key in closed:
                    folded += count
                    break
            else:
                shown += count
                rows.extend(_family_rows(node, leaf, record, slots))
        if total > shown + folded:
            rows.append({'key': 'more:', 'depth': 0, 'kind': 'more', 'cols': [],
                         'name': f'… and {total - shown - folded:,} more matches: '
                                 'narrow the filter'})
        return rows, len(names)

    def _chain(self, node: _Scope) -> list[_Scope]:
        """The nodes from the root's child down to ``node``."""
        chain = []
        while node.parent is not None:
            chain.append(node)
            node = node.parent
        return chain[::-1]

    def _families(self, node: _Scope) -> Iterator[tuple[_Scope, str]]:
        """Every variable leaf (with its slots), scope by scope, depth first,
        in the order of the tree: sub-scopes before a scope's variables."""
        scope_names, leaves = node.order()
        for name in scope_names:
            yield from self._families(node.scopes[name])
        for leaf in leaves:
            yield node, leaf


def _matcher(text: str) -> Callable[[str], bool]:
    if any(c in text for c in '*?['):
        return lambda name: fnmatch.fnmatchcase(name, text)
    needle = text.lower()
    return lambda name: needle in name.lower()


def _scope_row(scope: _Scope, opened: bool, count: str) -> TreeRow:
    return {'key': 'scope:' + scope.key, 'depth': scope.depth - 1, 'kind': 'scope',
            'open': opened, 'name': scope.label(),
            'cols': [('count', count, '')], 'title': f'{scope.heading()}: {count}'}


def _family_rows(node: _Scope, leaf: str, record: VariableRecord | None,
                 slots: list[tuple[str, VariableRecord]]) -> list[TreeRow]:
    """A variable's row followed by its slots' rows, one level under it. A
    slot whose variable is not shown is named after it (``W/Adam``)."""
    def row(member: VariableRecord, name: str, depth: int) -> TreeRow:
        return variable_row(member, name, depth, node.device, node.parts.get(member.name))

    rows = []
    if record is not None:
        rows.append(row(record, leaf, node.depth))
    for name, slot in slots:
        if record is not None:
            rows.append(row(slot, name, node.depth + 1))
        else:
            rows.append(row(slot, f'{leaf}/{name}', node.depth))
    return rows


_KIND_OF_ROLE: dict[Role, RowKind] = {ROLE_SLOT: 'slot', ROLE_OPTIMIZER: 'optimizer'}


def variable_row(record: VariableRecord, leaf: str, depth: int, device: str | None = None,
                 parts_here: int | None = None) -> TreeRow:
    """A variable's row: its mark, name, and facts (shape, dtype, parts, who
    made it, in which cell, how often it was shared), each explained on hover.
    Under ``device`` (grouped by device), holding ``parts_here`` of its parts
    when the others lie elsewhere."""
    said = marks.facts(record)
    if parts_here is not None:
        said = [_parts_here(record, parts_here) if fact.kind == 'parts' else fact
                for fact in said]
    cols = [(fact.kind, fact.text, fact.explained) for fact in said]
    sign = marks.mark(record)
    return {'key': 'var:' + _node_key(device, record.name), 'depth': depth,
            'kind': _KIND_OF_ROLE.get(record.role, 'variable'),
            'mark': sign, 'mark_title': marks.MARK_TITLES.get(sign, ''), 'name': leaf,
            'cols': cols, 'title': marks.hover_text(record, said)}


def _parts_here(record: VariableRecord, here: int) -> marks.Fact:
    said = {'here': here, 'total': record.partitions}
    return marks.Fact('parts', PARTS_HERE.format(**said), PARTS_HERE_EXPLAINED.format(**said))


def histogram_svg(values: np.ndarray, bins: int = HISTOGRAM_BINS,
                  width: int = 240, height: int = 60) -> str:
    """A small bar chart of ``values`` as inline SVG (no plotting library).
    Values that are all the same are one bar labelled with that value,
    not a range numpy would invent around it."""
    finite = values[np.isfinite(values)] if values.dtype.kind == 'f' else values
    if finite.size == 0:
        return ''
    if finite.min() == finite.max():  # in its own dtype: float64 would merge large int64s
        value = _number(finite.flat[0])
        label = (f'one value: {value}' if finite.size == 1
                 else f'all {finite.size:,} values are {value}')
        return (f'<svg class="tfmagic-histogram" width="{width}" height="{height + 14}" '
                f'xmlns="http://www.w3.org/2000/svg"><rect x="0" y="0" width="{width}" '
                f'height="{height}" fill="#4f7fbf"><title>{html.escape(label)}</title></rect>'
                f'<text x="{width / 2}" y="{height + 12}" font-size="10" text-anchor="middle">'
                f'{html.escape(label)}</text></svg>')
    numbers, origin = _from_minimum(finite)
    counts, edges = np.histogram(numbers, bins=bins)
    edges = edges + origin
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


def _from_minimum(values: np.ndarray) -> tuple[np.ndarray, float]:
    """``values`` as float64 and the origin to add back: integers as their
    distance from the smallest (exact, unlike int64s past 2**53 as floats)."""
    if values.dtype.kind not in 'iu':
        return values.astype(np.float64, copy=False), 0.0
    unsigned = values.dtype.newbyteorder('=').str.replace('i', 'u')
    low = values.min()
    distance = values.astype(unsigned) - np.asarray(low).astype(unsigned)  # wraps exactly
    return distance.astype(np.float64), float(low)


def _number(value: object) -> str:
    """An integer as an integer (``0``, not ``0.0``); other numbers as :func:`_cell`."""
    if isinstance(value, np.generic):
        value = value.item()
    return _cell(value)


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
    rows = [[part.name, marks.shape_text(part.shape), str(list(offset))]
            + ([part.device or NOT_PLACED] if placed else [])
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


def _message(text: str, state: Literal['ok', 'error', 'busy']) -> str:
    return f'<div class="tfmagic-{state}">{html.escape(text)}</div>'


class VariableBrowser(widgets.VBox):
    """The ``%tfpanel`` widget: scopes (or devices, then scopes) as a tree,
    a filter, the selected variable's details, and the checkpoints with
    Save and Restore.

    ``settings`` is the ``TFMagic`` configuration. ``events`` calls
    :meth:`refresh` after every cell; ``events.notify()`` refreshes every
    panel now (after a Save or Restore).

    ``cell_id`` is the id the front end gives the notebook cell that shows
    the panel. Running that cell again replaces its output, so a new panel
    from the same cell closes the one shown there before; otherwise that
    panel would stay alive (ipywidgets keeps every open widget in its
    registry) and go on refreshing after every cell, unseen.

    Displayed, it also carries a static picture of its tree (``text/html``
    and ``text/plain``), which whatever shows a saved notebook without a
    kernel (nbconvert, GitHub, an untrusted notebook) shows instead.
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
        self._device_tree = ScopeTree()
        # keys of the open scopes (and devices) of both groupings, which never share one
        self._expanded: set[str] = set()
        self._closed_in_filter: set[str] = set()  # closed in the filtered view
        self._generation: int | None = None
        self._position = 0
        self._ckpt_listing: tuple[str, tuple[str, ...]] | None = None
        self._prefix_given = ''  # the default prefix last put in the box
        self._graph_shown: tuple[tuple[object, ...], str] | None = None  # (what, its HTML)

        self.summary = widgets.HTML()
        self.summary.add_class('tfmagic-summary')
        self.filter = widgets.Text(placeholder="filter: text, or a glob such as layer1/*",
                                   continuous_update=True, layout=widgets.Layout(width=FULL_WIDTH))
        self.tree = TreeView(self._toggle, layout=widgets.Layout(width=FULL_WIDTH))
        self.tree.add_class('tfmagic-tree')
        self.group_by = widgets.ToggleButtons(
            options=[BY_SCOPE, BY_DEVICE], description='Group by',
            tooltips=['by scope, as the names nest',
                      'by the device each variable is placed on, then by scope'])
        self.group_by.add_class('tfmagic-group-by')
        self.details = widgets.HTML(NO_SELECTION)
        self.details.add_class('tfmagic-details')
        self.view = widgets.ToggleButtons(options=[DETAILS_VIEW, GRAPH_VIEW],
                                          tooltips=['the selected variable or scope',
                                                    "the selected scope's graph (%tfgraph)"])
        self.view.add_class('tfmagic-view')
        legend = widgets.HTML(f'<div class="tfmagic-legend">{html.escape(marks.LEGEND)}</div>')
        self.ckpt_prefix = widgets.Text(description='Prefix', layout=widgets.Layout(width='60%'))
        self.save_button = widgets.Button(description='Save', icon='save')
        self.restore_button = widgets.Button(description='Restore', icon='undo')
        self.ckpt_list = widgets.Select(options=[], rows=5, layout=widgets.Layout(width=FULL_WIDTH))
        self.ckpt_empty = widgets.HTML()
        self.ckpt_empty.add_class('tfmagic-no-checkpoints')
        self.ckpt_message = widgets.HTML()
        checkpoints_box = widgets.VBox([
            widgets.HTML('<b>Checkpoints</b>'),
            widgets.HBox([self.ckpt_prefix, self.save_button, self.restore_button]),
            self.ckpt_list, self.ckpt_empty, self.ckpt_message])
        checkpoints_box.add_class('tfmagic-checkpoints')
        super().__init__([widgets.HTML(CSS), self.summary, self.filter,
                          widgets.HBox([
                              widgets.VBox([self.group_by, self.tree],
                                           layout=widgets.Layout(width='55%')),
                              widgets.VBox([self.view, self.details],
                                           layout=widgets.Layout(width='45%'))]),
                          legend, checkpoints_box],
                         **kwargs)
        self.add_class('tfmagic-panel')

        self.filter.observe(self._on_filter, 'value')
        self.tree.observe(self._on_select, 'selected')
        self.view.observe(self._on_select, 'value')
        self.group_by.observe(self._on_group_by, 'value')
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

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any] | None:
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle is not None:
            lines, summary = self._snapshot()
            bundle['text/plain'] = '\n'.join([f'{summary} ({SNAPSHOT_NOTE})', *lines,
                                              marks.LEGEND])
            bundle['text/html'] = (
                f'<div class="tfmagic-snapshot"><p><b>{html.escape(summary)}</b> '
                f'<i>({html.escape(SNAPSHOT_NOTE)})</i></p>'
                f'<pre>{html.escape(chr(10).join(lines))}</pre>'
                f'<p><small>{html.escape(marks.LEGEND)}</small></p></div>')
        return bundle

    def _snapshot(self) -> tuple[list[str], str]:
        """The tree as grouped, every scope open (at most SNAPSHOT_ROWS rows), as
        lines indented by level, and the summary line. The saved picture
        says what its marks mean too: the legend follows the tree."""
        rows = self._tree().rows(None, limit=SNAPSHOT_ROWS + 1)
        # a guide per level, so that a top-level variable after a scope's
        # variables is plainly not one of them
        lines = [SNAPSHOT_INDENT * row['depth'] + row_text(row) for row in rows[:SNAPSHOT_ROWS]]
        if len(rows) > SNAPSHOT_ROWS:
            lines.append('…')
        return lines, self._summary_text()

    # -- keeping up with the graph ------------------------------------------------

    def refresh(self) -> None:
        """Bring the tree up to date with what changed since the last refresh."""
        tracker = self._tracker
        rebuild = tracker.generation != self._generation
        if rebuild:  # first refresh, or a reset: start over from every record
            self._scope_tree, self._device_tree = ScopeTree(), ScopeTree()
            self._expanded.clear()
            self._closed_in_filter.clear()
            self.tree.selected = None
            self._generation = tracker.generation
            names = [r.name for r in tracker.records()]
            _, self._position = tracker.changes_since(0)
        else:
            names, self._position = tracker.changes_since(self._position)
        for name in dict.fromkeys(names):
            record = tracker.find(name)
            if record is not None:
                self._scope_tree.put(record)
                self._device_tree.put(record, self._places(record))
        if names or rebuild:
            self._render()
        if self.tree.selected is not None or rebuild or self.view.value == GRAPH_VIEW:
            self._show_selection()  # new values, counts or ops
        self._refresh_checkpoints()

    def _places(self, record: VariableRecord) -> dict[str, int]:
        """The devices (``''`` for none) that hold the variable, each with
        how many of its parts lie there."""
        if record.partitions == 1:
            return {record.device: 1}
        parts = self._tracker.parts(record.name)
        return dict(Counter(self._tracker.record(part).device for part in parts))

    def close(self) -> None:
        """Stop refreshing, and close the panel and every widget it is made of."""
        self._events.remove_after_cell(self.refresh)
        if self._cell_id is not None and self._shown_in_cell.get(self._cell_id) is self:
            del self._shown_in_cell[self._cell_id]
        for widget in _widgets_inside(self):
            widget.close()
        super().close()

    # -- the tree -----------------------------------------------------------------

    def _tree(self) -> ScopeTree:
        """The tree of the chosen grouping."""
        return self._device_tree if self.group_by.value == BY_DEVICE else self._scope_tree

    def _render(self) -> None:
        text = self.filter.value.strip()
        if text:
            rows, matched = self._tree().matching(text, self._closed_in_filter)
        else:
            rows, matched = self._tree().rows(self._expanded), None
        self.summary.value = self._summary_html(matched)
        self.tree.rows = rows

    def _summary_text(self) -> str:
        tree = self._scope_tree
        optimizer = f' ({tree.optimizer_count:,} optimizer state)' if tree.optimizer_count else ''
        return (f"{plural(len(tree), 'variable')}{optimizer} in "
                f"{plural(tree.scope_count(), 'scope')}")

    def _summary_html(self, matched: int | None) -> str:
        if matched is None:
            return html.escape(self._summary_text())
        return (f'<b>{matched:,}</b> of {plural(len(self._scope_tree), "variable")} '
                f'match <code>{html.escape(self.filter.value.strip())}</code>')

    def _on_filter(self, change: dict[str, Any]) -> None:
        self._closed_in_filter.clear()
        self._render()

    def _on_select(self, change: dict[str, Any]) -> None:
        self._show_selection()

    def _on_group_by(self, change: dict[str, Any]) -> None:
        """Show the other grouping; a selected variable stays selected (its
        first row there), a selected scope is not."""
        kind, _, key = (self.tree.selected or '').partition(':')
        self._render()
        self.tree.selected = self._variable_key(_path_in(key)) if kind == 'var' else None

    def _toggle(self, key: str, opened: bool) -> None:
        kind, _, node = key.partition(':')
        if kind != 'scope' or self._tree().scope(node) is None:
            return
        if self.filter.value.strip():
            (self._closed_in_filter.discard if opened else self._closed_in_filter.add)(node)
            self._render()
        else:
            self._open(node, opened)

    def expand(self, scope: str, opened: bool = True, device: str | None = None) -> None:
        """Open (or close) a scope, as clicking its row does; grouped by
        device, the scope under ``device`` (``''`` for none), and with
        ``scope`` ``''`` the device's node itself."""
        self._open(_node_key(device, scope), opened)

    def _open(self, key: str, opened: bool) -> None:
        (self._expanded.add if opened else self._expanded.discard)(key)
        self._render()

    def _variable_key(self, name: str) -> str:
        """The key of the variable's row (its first, grouped by device)."""
        record = self._tracker.find(name)
        if self.group_by.value == BY_SCOPE or record is None:
            return 'var:' + name
        return 'var:' + _node_key(min(self._places(record)), name)

    def select(self, name: str) -> None:
        """Show a variable's details, as clicking its row does."""
        key = self._variable_key(name)
        if self.tree.selected == key:
            self._show_selection()
        else:
            self.tree.selected = key  # shown by _on_select

    # -- details ------------------------------------------------------------------

    def _show_selection(self) -> None:
        """The selected row in the chosen view: a variable's details, a
        scope's counts, or the graph of the selected scope (of the selected
        variable's scope; of the whole graph if nothing is selected)."""
        kind, _, key = (self.tree.selected or '').partition(':')
        name = _path_in(key)  # a variable's name, a scope's path ('' for a device)
        if self.view.value == GRAPH_VIEW:
            record = self._tracker.find(name) if kind == 'var' else None
            owner = (record.slot_of or record.name) if record is not None else ''
            self._show_graph(name if kind == 'scope' else owner.rpartition('/')[0])
        elif kind == 'var':
            self._show_details(name)
        elif kind == 'scope':
            self._show_scope(key)
        else:
            self.details.value = NO_SELECTION

    def _show_graph(self, scope: str) -> None:
        """``%tfgraph SCOPE``'s picture; drawn again only when the graph or
        its variables changed since (not after every cell)."""
        if self._tracker.workspace.eager:
            self.details.value = _message(NO_GRAPH_IN_EAGER_MODE, 'error')
            return
        index = graphview.index_of(self._tracker)
        key = (id(index), index.stamp, scope)
        if self._graph_shown is None or self._graph_shown[0] != key:
            try:
                drawn = graphview.picture(index, scope)
                svg = graphview.svg_element(graphview.render(graphview.to_dot(drawn),
                                                             timeout=PANEL_DOT_TIMEOUT))
                title = f'%tfgraph {scope}' if scope else '%tfgraph'
                shown = (f'<div class="tfmagic-graph"><code>{html.escape(title)}</code>'
                         f'<div>{html.escape(drawn.summary())}</div>{svg}</div>')
            except graphview.GraphError as err:
                shown = _message(str(err), 'error')
            self._graph_shown = (key, shown)
        self.details.value = self._graph_shown[1]

    def _show_scope(self, key: str) -> None:
        scope = self._tree().scope(key)
        if scope is None:
            return
        variables, scopes = plural(scope.count, 'variable'), plural(len(scope.scopes), 'scope')
        if not scope.path:  # a device's node
            held = f'{variables} on it' if scope.device else f'{variables}, {NOT_PLACED}'
        elif scope.device is not None:
            held = f'{variables} on {_device_label(scope.device)} in it and below'
        else:
            held = f'{variables} in it and below'
        self.details.value = (f'<b>{html.escape(scope.heading())}</b><div>'
                              f'{html.escape(held)}; {scopes} directly under it.</div>'
                              f'<i>{SCOPE_KEYS}</i>')

    def _show_details(self, name: str) -> None:
        parts = self._tracker.parts(name)
        if not parts:
            self.details.value = _message(f'{name} is no longer in the graph.', 'error')
            return
        unread = ''
        remote = self._tracker.workspace.remote
        try:
            info, = self._tracker.describe(parts)
            if remote:  # summarised where it lives: the value stays on its task
                value = None
                row = tables.with_stats(tables.variables_frame([info]),
                                        device_stats(self._tracker.workspace, [info])).iloc[0]
            else:
                value = whole_value(info, next(tables.values_of(self._tracker, [info])))
        except tf.errors.OpError as err:  # a device the session lacks, a cluster gone
            info, value, remote = self._described_unread(name, parts), None, False
            unread = _message(UNREADABLE.format(why=first_line(err)), 'error')
        if not remote:
            row = tables.variables_frame([info], [value]).iloc[0]
        row['device'] = row['device'] or NOT_PLACED
        if unread:
            row['initialized'] = 'unknown'
        if value is not None and value.size and value.dtype.kind in 'iub':
            # exact: the statistics are float64, which rounds int64s past 2**53
            row['min'], row['max'] = value.min().item(), value.max().item()
        sections = [f'<b>{html.escape(name)}</b>', unread, _table(row.items())]
        if len(parts) > 1:
            sections.append(_parts_table([self._tracker.record(part) for part in parts],
                                         [_slice_of(part).var_offset for part in parts]))
        if remote and info.initialized:
            sections.append(f'<div><i>{html.escape(ON_ITS_DEVICE)}</i></div>')
        if value is not None and value.size:
            plotted = stats.plottable(value)
            if plotted is not None:
                sections.append(histogram_svg(plotted))
            sections.append(f'<div>first values: <code>{html.escape(_first_values(value))}'
                            '</code></div>')
        self.details.value = ''.join(sections)

    def _described_unread(self, name: str, parts: tuple[tf.Variable, ...]) -> VariableInfo:
        """What is known of the variable without the session (which cannot
        say whether it is initialized)."""
        record = self._tracker.find(name)
        assert record is not None, f'{name} has parts but no record'
        trainable = id(parts[0]) in self._tracker.workspace.trainable_ids()
        return VariableInfo(record, parts, trainable, initialized=False)

    # -- checkpoints --------------------------------------------------------------

    def _default_prefix(self) -> str:
        return checkpoints.default_prefix(self._settings.checkpoint_dir)

    def _refresh_checkpoints(self, force: bool = False) -> None:
        directory = checkpoints.expand_user(self._settings.checkpoint_dir)
        default = self._default_prefix()
        if self.ckpt_prefix.value in ('', self._prefix_given):  # not the user's own
            self.ckpt_prefix.value = self._prefix_given = default
        try:
            listing = (directory, checkpoints.directory_names(directory))
        except CheckpointError as err:  # unreadable: say why, list nothing
            listing = (directory, ())
            self.ckpt_message.value = _message(str(err), 'error')
        if listing == self._ckpt_listing and not force:
            return
        self._ckpt_listing = listing
        try:
            infos = checkpoints.list_checkpoints(directory) if listing[1] else []
        except CheckpointError:
            infos = []
        self.ckpt_list.options = [(_checkpoint_label(i), i.prefix) for i in reversed(infos)]
        self.ckpt_list.layout.display = None if infos else 'none'
        self.ckpt_empty.value = '' if infos else (
            f'<i>No checkpoints in {html.escape(self._settings.checkpoint_dir.rstrip("/"))}/ '
            f'yet: Save writes {html.escape(self.ckpt_prefix.value.strip() or default)}.</i>')

    def save(self) -> None:
        """What the Save button does: ``%saveckpt`` with the prefix box."""
        prefix = self.ckpt_prefix.value.strip() or self._default_prefix()
        self._run(f'Saving {prefix}…',
                  lambda: self._checkpointer.save(prefix, keep=self._settings.max_to_keep))

    def restore(self) -> None:
        """What the Restore button does: ``%restoreckpt`` of the selected
        checkpoint, or of the latest one."""
        chosen = self.ckpt_list.value

        def restore() -> object:
            source = checkpoints.resolve_source(chosen, self._settings.checkpoint_dir)
            return self._checkpointer.restore(source)
        self._run(f"Restoring {chosen or 'the latest checkpoint'}…", restore)

    def _run(self, doing: str, action: Callable[[], object]) -> None:
        """Run a checkpoint action with the buttons disabled and a note of
        what is being done, then show its result. The front end sees each
        step as it happens: widget updates are sent at once, even while
        this handler still runs."""
        controls = (self.save_button, self.restore_button, self.ckpt_prefix, self.ckpt_list)
        for control in controls:
            control.disabled = True
        self.ckpt_message.value = _message(doing, 'busy')
        try:
            self.ckpt_message.value = _message(str(action()), 'ok')
        except CheckpointError as err:
            self.ckpt_message.value = _message(str(err), 'error')
        except BaseException as err:  # interrupted (or a bug): say so, then let it go on
            said = str(err) if isinstance(err, SaveInterrupted) else f'{type(err).__name__}: {err}'
            self.ckpt_message.value = _message(f'{doing.rstrip("…")} stopped. {said}', 'error')
            raise
        finally:
            for control in controls:
                control.disabled = False
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
