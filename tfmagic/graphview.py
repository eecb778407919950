"""``%tfgraph``: the managed graph as a picture, grouped by scope and laid
out by Graphviz's ``dot``.

The graph is indexed op by op, once, and after that only for the ops added
since (a TensorFlow graph only grows). Each op goes to an *item*: the
logical variable it belongs to, or itself. A variable's own ops are those
made while it was made (``VarHandleOp`` or ``VariableV2``, ``Initializer``,
``Assign``, ``read``, ``IsInitialized``: the tracker notes the span of graph
versions), every ``ReadVariableOp`` of it wherever it is, and, by name, a
partitioned variable's reads; so a scope that happens to share a variable's
name keeps its own ops. Data edges
between items are counted; tfmagic's own ops (under ``tfmagic/``) are left
out. Drawing is a walk of the scope tree down to the depth asked for: the
scopes above that depth are open boxes (Graphviz clusters), those at it are
single nodes with their counts, and each edge joins the nodes that show its
ends, with how many tensors it stands for.

Every name reaches ``dot`` as a quoted string and leaves it as XML text, so
no name can become markup.
"""

from __future__ import annotations

import shutil
import subprocess
import weakref
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from . import marks
from .hints import DOT_MISSING
from .tracking import REUSED, VariableRecord, VariableTracker
from .wording import plural
from .workspace import OWN_SCOPE

if TYPE_CHECKING:
    import tensorflow as tf

#: Ops that read a variable wherever they are made: folded into the variable.
VARIABLE_READS = frozenset({'ReadVariableOp', 'VarIsInitializedOp', 'IsVariableInitialized'})
FORMATS = ('svg', 'png', 'pdf')
#: Seconds ``dot`` may take before it is stopped.
DOT_TIMEOUT = 120

NodeKind = Literal['variable', 'scope', 'op', 'ops']


class GraphError(Exception):
    """``%tfgraph`` cannot draw: no ``dot``, ``dot`` failed, or no such scope."""


# -- the index ---------------------------------------------------------------------------


@dataclass(eq=False)
class _Scope:
    path: str
    scopes: dict[str, _Scope] = field(default_factory=dict)
    variables: dict[str, str] = field(default_factory=dict)  # logical name -> label
    ops: dict[str, str] = field(default_factory=dict)        # leaf -> op type
    variable_count: int = 0  # in it and below
    op_count: int = 0


class GraphIndex:
    """The graph's variables and ops by scope, with the data edges between
    them; :meth:`update` adds what is new since the last call."""

    def __init__(self, tracker: VariableTracker):
        # Weakly: the index lives in a WeakKeyDictionary keyed by the tracker.
        self._tracker = weakref.ref(tracker)
        self.graph: tf.Graph = tracker.workspace.graph  # a reset makes a new one
        self.root = _Scope('')
        self.records: dict[str, VariableRecord] = {}
        #: item ('v:NAME' for a variable, 'o:NAME' for an op) -> (scope path, label)
        self.places: dict[str, tuple[str, str]] = {}
        self.edges: Counter[tuple[str, str]] = Counter()
        self._owner_of_op: dict[str, str] = {}  # a variable's (or part's) op -> logical name
        # Names whose ops fold into a variable by name: a partitioned
        # variable's (its reads: ConcatPartitions, an Identity) and those of
        # variables made without the tracker seeing which ops made them.
        self._owner_by_prefix: dict[str, str] = {}
        self._spans_read = 0   # of tracker.op_spans
        self._span_at = 0      # the first span that may hold the next op
        self._spanned: set[str] = set()
        self._item_of_op: dict[str, str | None] = {}
        self._ops_seen = 0
        self._position: int | None = None  # in the tracker's change log

    @property
    def stamp(self) -> tuple[int, int | None]:
        """Changes whenever :meth:`update` finds something new."""
        return self._ops_seen, self._position

    def update(self) -> None:
        tracker = self._tracker()
        if tracker is None:
            return
        if self._position is None:  # first: every variable in the graph
            groups = [(record, parts) for record, parts in tracker.groups()]
            _, self._position = tracker.changes_since(0)
        else:
            names, self._position = tracker.changes_since(self._position)
            if not names and self.graph.version == self._ops_seen:
                return  # nothing new (a graph's version counts its ops)
            groups = [(record, tracker.parts(name)) for name in dict.fromkeys(names)
                      if (record := tracker.find(name)) is not None]
        spans = tracker.op_spans
        new_spans = [var.op.name for _, _, var in spans[self._spans_read:]]
        self._spanned.update(new_spans)
        self._spans_read = len(spans)
        # variables the collections do not hold (collections=[]) are in no group
        groups += [(record, tracker.parts(record.name)) for name in new_spans
                   if (record := tracker.find(name)) is not None
                   and record.name not in self.records and record.partitions == 1]
        for record, parts in groups:
            for part in parts:
                self._owner_of_op[part.op.name] = record.name
                if part.op.name not in self._spanned:
                    self._owner_by_prefix[part.op.name] = record.name
            if len(parts) > 1:
                self._owner_by_prefix[record.name] = record.name
            if record.name not in self.records:
                self._add_variable(record)
            self.records[record.name] = record
        operations = self.graph.get_operations()
        for position in range(self._ops_seen, len(operations)):
            self._add_op(operations[position], self._made_with(spans, position))
        self._ops_seen = len(operations)

    def _made_with(self, spans: list[tuple[int, int, tf.Variable]], position: int) -> str | None:
        """The variable whose making made the op at ``position`` in the
        graph (an op's id is its position + 1; spans are in graph versions)."""
        while self._span_at < len(spans) and spans[self._span_at][1] <= position:
            self._span_at += 1
        if self._span_at < len(spans):
            first, end, var = spans[self._span_at]
            if first <= position < end:
                return self._owner_of_op.get(var.op.name)
        return None

    def _add_variable(self, record: VariableRecord) -> None:
        if marks.is_slot(record):  # beside its variable: W/Adam
            scope, _, owner = record.slot_of.rpartition('/')
            label = f'{owner}/{marks.slot_name(record)}'
        else:
            scope, _, label = record.name.rpartition('/')
        self.places['v:' + record.name] = (scope, label)
        for node in self._path_to(scope):
            node.variable_count += 1
        node.variables[record.name] = label

    def _add_op(self, op: tf.Operation, made_with: str | None) -> None:
        name = op.name
        if name == OWN_SCOPE or name.startswith(OWN_SCOPE + '/'):
            self._item_of_op[name] = None
            return
        owner = made_with or self._owner_of_op.get(name) or self._owner(name)
        item = None if owner is None else 'v:' + owner
        if item is None and op.type in VARIABLE_READS and op.inputs:
            source = self._item_of_op.get(op.inputs[0].op.name)
            if source is not None and source.startswith('v:'):
                item = source
        if item is None:
            item = 'o:' + name
            scope, _, leaf = name.rpartition('/')
            self.places[item] = (scope, leaf)
            for node in self._path_to(scope):
                node.op_count += 1
            node.ops[leaf] = op.type
        self._item_of_op[name] = item
        for tensor in op.inputs:
            source = self._item_of_op.get(tensor.op.name)
            if source is not None and source != item:
                self.edges[source, item] += 1

    def _owner(self, op_name: str) -> str | None:
        """The variable ``op_name`` belongs to by its name alone: the
        longest name it starts with among those that fold by name
        (``emb/ConcatPartitions/concat`` is the partitioned ``emb``'s). Ops a
        scope of the same name as a tracked variable holds are not its."""
        parts = op_name.split('/')
        for end in range(len(parts), 0, -1):
            owner = self._owner_by_prefix.get('/'.join(parts[:end]))
            if owner is not None:
                return owner
        return None

    def _path_to(self, path: str) -> list[_Scope]:
        nodes = [self.root]
        for part in path.split('/') if path else ():
            parent = nodes[-1]
            node = parent.scopes.get(part)
            if node is None:
                node = parent.scopes[part] = _Scope(f'{parent.path}/{part}' if parent.path
                                                    else part)
            nodes.append(node)
        return nodes

    def scope(self, path: str) -> _Scope | None:
        node: _Scope | None = self.root
        for part in path.split('/') if path else ():
            node = node.scopes.get(part) if node is not None else None
        return node


_indexes: weakref.WeakKeyDictionary[VariableTracker, GraphIndex] = weakref.WeakKeyDictionary()


def index_of(tracker: VariableTracker) -> GraphIndex:
    """The tracker's graph index, brought up to date (made anew after a reset)."""
    index = _indexes.get(tracker)
    if index is None or index.graph is not tracker.workspace.graph:
        index = _indexes[tracker] = GraphIndex(tracker)
    index.update()
    return index


# -- the picture -------------------------------------------------------------------------


@dataclass
class Node:
    id: str
    kind: NodeKind
    lines: list[str]
    tooltip: str


@dataclass
class Box:
    """An open scope: a Graphviz cluster holding its nodes and boxes."""

    id: str
    label: str
    tooltip: str
    nodes: list[Node] = field(default_factory=list)
    boxes: list[Box] = field(default_factory=list)


@dataclass
class Edge:
    source: str
    target: str
    count: int
    shared: bool  # from a shared variable to a scope other than its own


@dataclass
class Picture:
    """What ``dot`` is given: the canvas (SCOPE, or the whole graph) with its
    nodes and boxes, and the edges between nodes."""

    canvas: Box
    edges: list[Edge]

    def boxes(self) -> list[Box]:
        found, todo = [], list(self.canvas.boxes)
        while todo:
            box = todo.pop()
            found.append(box)
            todo.extend(box.boxes)
        return found

    def nodes(self) -> list[Node]:
        return [node for box in [self.canvas, *self.boxes()] for node in box.nodes]

    def summary(self) -> str:
        nodes = self.nodes()
        kinds = Counter(node.kind for node in nodes)
        return ', '.join([plural(len(self.boxes()), 'open scope'),
                          plural(kinds['scope'], 'closed scope'),
                          plural(kinds['variable'], 'variable'),
                          plural(kinds['op'] + kinds['ops'], 'op node'),
                          plural(len(self.edges), 'edge')])


def picture(index: GraphIndex, scope: str = '', depth: int = 1, ops: bool = False) -> Picture:
    """The picture of ``scope`` (the whole graph if ``''``): scopes less
    than ``depth`` levels below it open, those ``depth`` levels below it
    closed, and each operation drawn (``ops``) or counted per open scope."""
    scope = scope.strip('/')
    top = index.scope(scope)
    if top is None:
        raise GraphError(f'no scope {scope!r} in the graph')
    ids: dict[str, str] = {}

    def node_id(key: str) -> str:
        return ids.setdefault(key, f'n{len(ids)}')

    def fill(box: Box, node: _Scope, level: int) -> None:
        for name in sorted(node.scopes):
            child = node.scopes[name]
            if level + 1 < depth:
                inner = Box(node_id('box:' + child.path), name + '/', child.path + '/')
                fill(inner, child, level + 1)
                box.boxes.append(inner)
            else:
                counts = [plural(n, noun) for n, noun in ((child.variable_count, 'variable'),
                                                          (child.op_count, 'op')) if n]
                box.nodes.append(Node(node_id('scope:' + child.path), 'scope',
                                      [name + '/', ' · '.join(counts) or 'empty'],
                                      child.path + '/'))
        for name, label in sorted(node.variables.items(), key=lambda item: (item[1], item[0])):
            record = index.records[name]
            box.nodes.append(_variable_node(node_id('v:' + name), record, label))
        if ops:
            for leaf in sorted(node.ops):
                path = f'{node.path}/{leaf}' if node.path else leaf
                box.nodes.append(Node(node_id('o:' + path), 'op', [leaf, node.ops[leaf]], path))
        elif node.ops:
            box.nodes.append(Node(node_id('ops:' + node.path), 'ops',
                                  [plural(len(node.ops), 'op')],
                                  f"{node.path + '/' if node.path else ''}: "
                                  + ', '.join(sorted(node.ops))))

    canvas = Box('canvas', scope + '/' if scope else '', scope)
    fill(canvas, top, 0)
    if not canvas.nodes and not canvas.boxes:
        raise GraphError(f"nothing to draw: {f'the scope {scope!r}' if scope else 'the graph'} "
                         'is empty')
    prefix = scope.split('/') if scope else []

    def shown_as(item: str) -> str | None:
        path, _ = index.places[item]
        parts = path.split('/') if path else []
        if parts[:len(prefix)] != prefix:
            return None
        below = parts[len(prefix):]
        if len(below) >= depth:
            return ids.get('scope:' + '/'.join(parts[:len(prefix) + depth]))
        if item.startswith('o:') and not ops:
            return ids.get('ops:' + path)
        return ids.get(item)

    counted: Counter[tuple[str, str, bool]] = Counter()
    for (source, target), count in index.edges.items():
        start, end = shown_as(source), shown_as(target)
        if start is None or end is None or start == end:
            continue
        shared = False
        if source.startswith('v:'):
            record = index.records[source[2:]]
            shared = (record.reuse_status == REUSED
                      and index.places[target][0] != index.places[source][0])
        counted[start, end, shared] += count
    edges = [Edge(start, end, count, shared) for (start, end, shared), count in counted.items()]
    return Picture(canvas, sorted(edges, key=lambda e: (e.source, e.target, e.shared)))


def _variable_node(node_id: str, record: VariableRecord, label: str) -> Node:
    said = marks.facts(record)
    facts = {fact.kind: fact.text for fact in said}
    sign = marks.mark(record)
    lines = [f'{sign} {label}' if sign else label,
             f"{facts['shape']} {facts['dtype']}" + (f" {facts['parts']}" if 'parts' in facts
                                                    else '')]
    when = [facts[kind] for kind in ('cell', 'shared') if kind in facts]
    if when:
        lines.append(' · '.join(when))
    return Node(node_id, 'variable', lines, marks.hover_text(record, said))


# -- dot ------------------------------------------------------------------------------------

_STYLE = {
    'variable': 'shape=box, style="rounded,filled", fillcolor="#e3ecf7", color="#4f7fbf"',
    'scope': 'shape=folder, style=filled, fillcolor="#f5f5f5", color="#9e9e9e"',
    'op': 'shape=ellipse, color="#9e9e9e", fontsize=9',
    'ops': 'shape=plaintext, fontcolor="#616161", fontsize=9',
}


def quoted(text: str, *, tooltip: bool = False) -> str:
    """``text`` as a DOT string shown as written: ``&`` as ``&amp;`` (dot
    reads entities), backslashes doubled (dot reads ``\\N``, ``\\G``,
    ``\\l`` ... as escapes), twice in a tooltip (unescaped twice), quotes
    escaped."""
    backslash = '\\' * (4 if tooltip else 2)
    return '"' + text.replace('&', '&amp;').replace('\\', backslash).replace('"', '\\"') + '"'


def _label(lines: list[str]) -> str:
    return '"' + '\\n'.join(quoted(line)[1:-1] for line in lines) + '"'


def to_dot(drawn: Picture) -> str:
    out = ['digraph tfgraph {',
           '  graph [rankdir=TB, fontname="Helvetica", fontsize=11, nodesep=0.25, '
           'ranksep=0.4, newrank=true];',
           '  node [fontname="Helvetica", fontsize=10, margin="0.08,0.04"];',
           '  edge [color="#757575", arrowsize=0.6, fontname="Helvetica", fontsize=9];']

    def emit(box: Box, indent: str) -> None:
        for node in box.nodes:
            out.append(f'{indent}{node.id} [label={_label(node.lines)}, '
                       f'tooltip={quoted(node.tooltip, tooltip=True)}, class={node.kind}, '
                       f'{_STYLE[node.kind]}];')
        for inner in box.boxes:
            out.append(f'{indent}subgraph cluster_{inner.id} {{')
            out.append(f'{indent}  label={quoted(inner.label)}; '
                       f'tooltip={quoted(inner.tooltip, tooltip=True)}; '
                       'class=scope; style="rounded"; color="#9e9e9e"; labeljust=l;')
            emit(inner, indent + '  ')
            out.append(f'{indent}}}')

    emit(drawn.canvas, '  ')
    for edge in drawn.edges:
        text = str(edge.count) if edge.count > 1 else ''
        attributes = []
        if edge.shared:
            text = f'shared · {edge.count}' if edge.count > 1 else 'shared'
            attributes = ['style=dashed', 'color="#b36b00"', 'fontcolor="#b36b00"', 'class=shared']
        if text:
            attributes.insert(0, f'label={quoted(text)}')
        out.append(f'  {edge.source} -> {edge.target}'
                   + (f' [{", ".join(attributes)}]' if attributes else '') + ';')
    out.append('}')
    return '\n'.join(out) + '\n'


def dot_path() -> str:
    """Where ``dot`` is, or :class:`GraphError` saying how to install it."""
    found = shutil.which('dot')
    if found is None:
        raise GraphError(DOT_MISSING)
    return found


def render(source: str, fmt: str = 'svg', timeout: float = DOT_TIMEOUT) -> bytes:
    """``source`` laid out by ``dot`` as ``fmt`` (svg, png or pdf)."""
    if fmt not in FORMATS:
        raise GraphError(f'cannot draw as {fmt!r}: one of {", ".join(FORMATS)}')
    try:
        done = subprocess.run([dot_path(), f'-T{fmt}'], input=source.encode(),
                              capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise GraphError(f'dot did not finish in {timeout:g} s: draw less of the graph '
                         '(one scope, fewer levels, not every op)') from None
    except OSError as err:  # there, but it cannot run
        raise GraphError(f'cannot run dot: {err}') from None
    if done.returncode != 0:
        raise GraphError('dot failed: ' + done.stderr.decode(errors='replace').strip())
    return done.stdout


def svg_element(svg: bytes) -> str:
    """The ``<svg>`` element alone, without the XML prolog and DOCTYPE, to
    put inside a page."""
    text = svg.decode()
    return text[text.index('<svg'):]


@dataclass
class Drawing:
    """A drawn picture as a notebook shows it: the SVG, which stays in the
    saved notebook, and one line of text for front ends without images."""

    svg: str
    summary: str

    def _repr_mimebundle_(self, include: object = None, exclude: object = None
                          ) -> dict[str, str]:
        return {'image/svg+xml': self.svg, 'text/plain': f'<%tfgraph: {self.summary}>'}


def picture_and_source(tracker: VariableTracker, scope: str = '', depth: int = 1,
                       ops: bool = False) -> tuple[Picture, str]:
    """The picture of ``scope`` (see :func:`picture`) and its DOT source."""
    drawn = picture(index_of(tracker), scope, depth, ops)
    return drawn, to_dot(drawn)
