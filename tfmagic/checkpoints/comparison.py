"""A checkpoint's keys against the graph's variables, after ``--map``
renaming: which match, which are missing on either side, which differ in
shape or dtype. Kept in columns, so that 10,000 keys compare in milliseconds."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal, TypeAlias, TypeVar

import tensorflow as tf

from ..tracking import VariableRecord
from .index import BOOKKEEPING_KEYS, OBJECT_VALUE_SUFFIX, CheckpointIndex, graph_name

#: How a checkpoint key and a graph variable compare (``%inspectckpt``'s status).
Status: TypeAlias = Literal['match', 'missing in graph', 'missing in checkpoint',
                            'shape mismatch', 'dtype mismatch']
MATCH: Status = 'match'
MISSING_IN_GRAPH: Status = 'missing in graph'
MISSING_IN_CHECKPOINT: Status = 'missing in checkpoint'
SHAPE_MISMATCH: Status = 'shape mismatch'
DTYPE_MISMATCH: Status = 'dtype mismatch'

T = TypeVar('T')

# -- renaming (--map) ------------------------------------------------------------


def parse_mapping(pairs: Iterable[str] | None) -> dict[str, str]:
    """``['old=new', 'a/b=c']`` -> ``{'old': 'new', 'a/b': 'c'}``; ``'/'`` or
    an empty side is the root scope."""
    mapping: dict[str, str] = {}
    for pair in pairs or ():
        old, sep, new = pair.partition('=')
        if not sep:
            raise ValueError(f'--map takes OLD=NEW (checkpoint name or scope = graph '
                             f'name or scope), got {pair!r}')
        old, new = old.strip().strip('/'), new.strip().strip('/')
        if old in mapping:
            raise ValueError(f'--map names {old or "/"!r} twice')
        if not old and not new:
            raise ValueError(f'--map {pair!r} maps the root to itself')
        mapping[old] = new
    return mapping


def map_name(name: str, mapping: dict[str, str]) -> str:
    """Rename a checkpoint name into the graph, as ``init_from_checkpoint``'s
    assignment map does: an exact name, or a scope and everything under it
    (the longest matching entry wins). Looks up each enclosing scope of
    ``name``, so a mapping of 10,000 names costs no more than one of two."""
    if not mapping:
        return name
    parts = name.split('/')
    for end in range(len(parts), 0, -1):
        new = mapping.get('/'.join(parts[:end]))
        if new is None:
            continue
        rest = '/'.join(parts[end:])
        if not rest:
            return new or name
        return f'{new}/{rest}' if new else rest
    root = mapping.get('')
    return name if root is None else f'{root}/{name}'


# -- comparing with the graph ------------------------------------------------------


#: What a ``Saver``'s ``var_list`` maps a key to: a variable, or the parts
#: of a partitioned one (saved and restored as one tensor, slice by slice).
Saveable: TypeAlias = tf.Variable | list[tf.Variable]


def saveable_parts(saveable: Saveable) -> list[tf.Variable]:
    return saveable if isinstance(saveable, list) else [saveable]


@dataclass(slots=True)
class Entry:
    """One checkpoint key and/or graph variable, and how they compare."""

    name: str                      # graph-side name (after renaming)
    key: str | None                # checkpoint key; None if missing in checkpoint
    variable: Saveable | None      # None if missing in graph
    record: VariableRecord | None  # the graph variable's; None if missing in graph
    shape: tuple | None            # the checkpoint's; the graph's if missing there
    dtype: str
    status: Status

    def describe(self) -> str:
        where = self.key if self.key is not None else self.name
        if self.key is not None and self.name != self.key:
            where = f'{self.key} -> {self.name}'
        if self.status not in (SHAPE_MISMATCH, DTYPE_MISMATCH):
            return f'{where}: {self.status}'
        assert self.record is not None, 'a mismatch is with a graph variable'
        if self.status == SHAPE_MISMATCH:
            return f'{where}: shape {self.shape} in checkpoint, {self.record.shape} in graph'
        return f'{where}: dtype {self.dtype} in checkpoint, {self.record.dtype} in graph'


@dataclass(frozen=True)
class GraphIndex:
    """Graph variables by name, their shapes and dtypes in a
    :class:`CheckpointIndex`'s terms: a checkpoint of exactly these variables
    is recognised by two dict comparisons, and its rows are ready here."""

    variables: Mapping[str, Saveable]  # read-only: comparisons hand it out
    records: Mapping[str, VariableRecord]
    shapes: dict[str, list | None]  # [None, 3] for a partly known shape; None for unknown rank
    dtypes: dict[str, int]
    # The rows of a comparison in which every key matches, in name order.
    names: list[str]
    shape_column: list[tuple | None]
    dtype_column: list[str]

    @functools.cached_property
    def by_suffix(self) -> dict[str, list[str]]:
        """Every run of trailing name components (``b/c`` and ``c`` of
        ``a/b/c``, and the name itself) -> the names that end so."""
        index: dict[str, list[str]] = {}
        for name in self.names:
            suffix = name
            while True:
                index.setdefault(suffix, []).append(name)
                cut = suffix.find('/')
                if cut < 0:
                    break
                suffix = suffix[cut + 1:]
        return index

    @functools.cached_property
    def by_suffix_and_kind(self) -> dict[tuple[str, tuple | None, int], list[str]]:
        """:attr:`by_suffix` split by shape and dtype: a name's fitting
        variables in one lookup (a name with an unknown dimension is under
        shape None, to be checked one by one)."""
        index: dict[tuple[str, tuple | None, int], list[str]] = {}
        for suffix, names in self.by_suffix.items():
            for name in names:
                shape = self.shapes[name]
                known = shape is not None and None not in shape
                index.setdefault((suffix, tuple(shape) if known and shape is not None else None,
                                  self.dtypes[name]), []).append(name)
        return index

    @functools.cached_property
    def by_head(self) -> tuple[dict[str, dict[str, str]], dict[str, str], frozenset[str]]:
        """The names by top-level scope (``head -> {rest: name}``), each rest's
        first head, and the rests under more than one head: what a mapping
        looks up a renamed top-level scope in (see :mod:`.automap`). Made
        once per index, which lives as long as the variables do not change."""
        by_head: dict[str, dict[str, str]] = {}
        head_of_rest: dict[str, str] = {}
        shared: set[str] = set()
        for name in self.names:
            head, sep, rest = name.partition('/')
            if sep:
                by_head.setdefault(head, {})[rest] = name
                if head_of_rest.setdefault(rest, head) != head:
                    shared.add(rest)
        return by_head, head_of_rest, frozenset(shared)


def graph_index(groups: list[tuple[VariableRecord, tuple[tf.Variable, ...]]]) -> GraphIndex:
    """Index logical variables (each record with its parts, see
    :meth:`VariableTracker.groups`) for :func:`compare`. Names are unique
    in a graph; of eager variables that share one, the newest is indexed."""
    by_name = sorted({r.name: (r, parts) for r, parts in groups}.values(),
                     key=lambda pair: pair[0].name)
    return GraphIndex(
        variables=MappingProxyType({r.name: parts[0] if len(parts) == 1 else list(parts)
                                    for r, parts in by_name}),
        records=MappingProxyType({r.name: r for r, _ in by_name}),
        shapes={r.name: None if r.shape is None else list(r.shape) for r, _ in by_name},
        dtypes={r.name: parts[0].dtype.base_dtype.as_datatype_enum for r, parts in by_name},
        names=[r.name for r, _ in by_name],
        shape_column=[r.shape for r, _ in by_name],
        dtype_column=[r.dtype for r, _ in by_name])


def _shapes_agree(graph_shape: tuple | None, ckpt_shape: tuple) -> bool:
    if graph_shape is None:
        return True
    return len(graph_shape) == len(ckpt_shape) and all(
        g is None or g == c for g, c in zip(graph_shape, ckpt_shape, strict=True))


def _status(record: VariableRecord, shape: tuple, dtype: str) -> Status:
    if not _shapes_agree(record.shape, shape):
        return SHAPE_MISMATCH
    return MATCH if record.dtype == dtype else DTYPE_MISMATCH


@dataclass
class Comparison:
    """Checkpoint keys against graph variables, one row per key or variable,
    in name order, kept as columns: a 10,000-key checkpoint is compared
    without building 10,000 objects. :meth:`entries` gives row objects."""

    name: list[str]
    key: list[str | None]
    shape: list
    dtype: list[str]
    status: list[Status]
    graph: GraphIndex

    @property
    def variables(self) -> Mapping[str, Saveable]:
        """Graph name -> variable (or a partitioned variable's parts)."""
        return self.graph.variables

    def __len__(self) -> int:
        return len(self.name)

    def entries(self) -> list[Entry]:
        variables, records = self.graph.variables, self.graph.records
        return [Entry(name, key, None if status == MISSING_IN_GRAPH else variables[name],
                      None if status == MISSING_IN_GRAPH else records[name],
                      shape, dtype, status)
                for name, key, shape, dtype, status
                in zip(self.name, self.key, self.shape, self.dtype, self.status, strict=True)]


def _without_bookkeeping(keys: list[str], names: list[str],
                         graph_shapes: Mapping) -> tuple[list[str], list[str]]:
    """``keys`` and their graph ``names`` less the bookkeeping keys of a
    ``tf.train.Checkpoint``, unless the graph has a variable of that name."""
    if BOOKKEEPING_KEYS.isdisjoint(keys):
        return keys, names
    kept = [(key, name) for key, name in zip(keys, names, strict=True)
            if key not in BOOKKEEPING_KEYS or name in graph_shapes]
    return [key for key, _ in kept], [name for _, name in kept]


def compare(index: CheckpointIndex, graph: GraphIndex,
            mapping: dict[str, str] | None = None) -> Comparison:
    """Every checkpoint key against the graph (after ``mapping``, see
    :func:`map_name`), and every graph variable the checkpoint lacks."""
    if not mapping and index.shapes == graph.shapes and index.dtypes == graph.dtypes:
        # A checkpoint of exactly the graph's variables, the common case:
        # every key matches, and the rows are the graph's.
        return Comparison(list(graph.names), list(graph.names), list(graph.shape_column),
                          list(graph.dtype_column), [MATCH] * len(graph.names), graph)
    keys = sorted(index.shapes)
    names = keys
    if mapping or any(k.endswith(OBJECT_VALUE_SUFFIX) for k in keys):
        names = [map_name(graph_name(k), mapping or {}) for k in keys]
        keys, names = _without_bookkeeping(keys, names, graph.shapes)
    shapes, dtypes = index.shapes, index.dtypes
    graph_shapes, graph_dtypes = graph.shapes, graph.dtypes
    key_shapes = [tuple(shapes[k]) for k in keys]
    key_dtypes = index.dtype_names(keys)
    # _status where a shape or dtype differs, or a dimension is unknown in the graph.
    rows = zip(names, keys, key_shapes, key_dtypes, strict=True)
    status = [MISSING_IN_GRAPH if name not in graph_shapes
              else MATCH if graph_shapes[name] == shapes[key] and graph_dtypes[name] == dtypes[key]
              else _status(graph.records[name], shape, dtype)
              for name, key, shape, dtype in rows]
    found = set(names)
    if len(found) < len(names):  # two keys for one variable: the first one counts
        found = set()
        for i, name in enumerate(names):
            if name in found:
                status[i] = MISSING_IN_GRAPH
            found.add(name)
    found.intersection_update(graph_shapes)
    lacking = sorted(graph_shapes.keys() - found) if len(found) < len(graph_shapes) else []
    if not lacking and names is keys:  # in name order already: the keys are sorted
        return Comparison(names, list(keys), key_shapes, key_dtypes, status, graph)
    records = [graph.records[name] for name in lacking]
    all_names = names + lacking
    # A stable sort by name: the keys of one name stay in key order.
    order = sorted(range(len(all_names)), key=all_names.__getitem__)
    return Comparison(
        _in_order(all_names, order), _in_order(keys + [None] * len(lacking), order),
        _in_order(key_shapes + [r.shape for r in records], order),
        _in_order(key_dtypes + [r.dtype for r in records], order),
        _in_order(status + [MISSING_IN_CHECKPOINT] * len(lacking), order), graph)


def _in_order(column: list[T], order: list[int]) -> list[T]:
    """The items of ``column`` at the positions ``order`` lists, in that order."""
    return list(map(column.__getitem__, order))
