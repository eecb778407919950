"""Variables as pandas DataFrames: the columns ``%vars`` and the panel show."""

from __future__ import annotations

import fnmatch
import operator
from collections.abc import Iterable, Iterator, Sequence

import numpy as np
import pandas as pd

from .checkpoints import CheckpointInfo, CheckpointMap, Comparison
from .devicestats import device_stats
from .stats import Stats, value_stats
from .tracking import VariableInfo, VariableTracker

VARIABLE_COLUMNS = (
    'name', 'scope', 'shape', 'dtype', 'trainable', 'created_by', 'created_in',
    'reuses', 'reused_in', 'reuse_status', 'initialized', 'partitions', 'slot_of', 'device')
STATS_COLUMNS = ('size', 'nbytes', 'min', 'max', 'mean', 'std')
CHECKPOINT_COLUMNS = ('prefix', 'step', 'saved_at', 'size_bytes', 'variables', 'latest')
INSPECT_COLUMNS = ('name', 'shape', 'dtype', 'status')
MAP_COLUMNS = ('key', 'shape', 'dtype', 'variable', 'how', 'status')


_BY_NAME = operator.attrgetter('record.name')

#: A variable's value as the statistics take it: one array, a partitioned
#: variable's parts, or None for a variable without a value.
Value = np.ndarray | list[np.ndarray] | None


def in_scope(name: str, scope: str) -> bool:
    """True when ``name`` lies in ``scope`` or one of its sub-scopes."""
    return name.startswith(scope + '/')


def select(infos: Sequence[VariableInfo], pattern: str | None = None,
           scope: str | None = None, trainable_only: bool = False) -> list[VariableInfo]:
    """The infos whose name matches the glob ``pattern``, that lie in
    ``scope`` and, with ``trainable_only``, are trainable; sorted by name."""
    chosen = [
        info for info in infos
        if (pattern is None or fnmatch.fnmatchcase(info.record.name, pattern))
        and (scope is None or in_scope(info.record.name, scope))
        and (info.trainable or not trainable_only)]
    chosen.sort(key=_BY_NAME)
    return chosen


def variables_frame(infos: Sequence[VariableInfo],
                    values: Iterable[Value] | None = None) -> pd.DataFrame:
    """One row per variable, in the given order; with ``values`` (``None``
    for a variable without one, a list of arrays for a partitioned one's
    parts), consumed one at a time, the statistics columns too."""
    records = [info.record for info in infos]
    columns = {
        'name': [r.name for r in records],
        'scope': [r.scope for r in records],
        'shape': [r.shape for r in records],
        'dtype': [r.dtype for r in records],
        'trainable': [info.trainable for info in infos],
        'created_by': [r.created_by for r in records],
        'created_in': _nullable_ints([r.created_in for r in records]),
        'reuses': [r.reuses for r in records],
        'reused_in': [r.reused_in for r in records],  # never mutated by the tracker
        'reuse_status': [r.reuse_status for r in records],
        'initialized': [info.initialized for info in infos],
        'partitions': [r.partitions for r in records],
        'slot_of': [r.slot_of for r in records],
        'device': [r.device for r in records],
    }
    frame = pd.DataFrame(columns, columns=list(VARIABLE_COLUMNS))
    frame['trainable'] = frame['trainable'].astype(bool)
    frame['initialized'] = frame['initialized'].astype(bool)
    frame['reuses'] = frame['reuses'].astype('int64')
    frame['partitions'] = frame['partitions'].astype('int64')
    return frame if values is None else with_stats(frame, summarised(values))


def _nullable_ints(values: list[int | None]) -> pd.arrays.IntegerArray:
    """``pd.array(values, dtype='Int64')``, without its per-item inference."""
    count = len(values)
    mask = np.fromiter((v is None for v in values), dtype=bool, count=count)
    data = np.fromiter((0 if v is None else v for v in values), dtype=np.int64, count=count)
    return pd.arrays.IntegerArray(data, mask)


def summarised(values: Iterable[Value]) -> list[Stats]:
    # map, not a comprehension: its loop variable would keep each value
    # alive while the next one is fetched.
    return list(map(value_stats, values))


def with_stats(frame: pd.DataFrame, stats: Sequence[Stats]) -> pd.DataFrame:
    """``frame`` with the statistics columns, one ``stats`` tuple per row."""
    for i, column in enumerate(STATS_COLUMNS):
        frame[column] = pd.array([s[i] for s in stats],
                                 dtype='Int64' if i < 2 else 'float64')
    return frame


def list_variables(tracker: VariableTracker, pattern: str | None = None,
                   scope: str | None = None, trainable_only: bool = False,
                   stats: bool = False, shards: bool = False) -> pd.DataFrame:
    """The ``%vars`` table of the tracker's workspace: one row per variable
    (a partitioned one is one row), or with ``shards`` one per part."""
    infos = select(tracker.describe(shards=shards), pattern, scope, trainable_only)
    if stats and tracker.workspace.remote:  # summarised where they live: no value travels
        return with_stats(variables_frame(infos), device_stats(tracker.workspace, infos))
    return variables_frame(infos, values_of(tracker, infos) if stats else None)


def values_of(tracker: VariableTracker, infos: Sequence[VariableInfo]) -> Iterator[Value]:
    """The value of each variable (``None`` without one; a partitioned
    one's parts as a list), read batch by batch as they are consumed, so
    that summarising them never holds all of them in memory."""
    with_value = [part for info in infos if info.initialized for part in info.parts]
    fetched = tracker.workspace.iter_values(with_value)
    for info in infos:
        if not info.initialized:
            yield None
        elif len(info.parts) == 1:
            yield next(fetched)
        else:
            yield [next(fetched) for _ in info.parts]


def checkpoints_frame(infos: Sequence[CheckpointInfo]) -> pd.DataFrame:
    """The ``%ckpts`` table: one row per checkpoint, oldest first."""
    return pd.DataFrame({
        'prefix': [i.prefix for i in infos],
        'step': pd.array([i.step for i in infos], dtype='Int64'),
        'saved_at': pd.to_datetime([i.saved_at for i in infos]),
        'size_bytes': pd.array([i.size_bytes for i in infos], dtype='int64'),
        'variables': pd.array([i.variables for i in infos], dtype='Int64'),
        'latest': pd.array([i.latest for i in infos], dtype='bool'),
    }, columns=list(CHECKPOINT_COLUMNS))


def inspect_frame(comparison: Comparison,
                  values: Iterable[np.ndarray | None] | None = None, *,
                  mapped_names: bool = False) -> pd.DataFrame:
    """The ``%inspectckpt`` table: checkpoint keys against the graph; with
    ``values``, the stored value of each row in row order (None where the
    checkpoint has none), the statistics of each too. ``values`` is consumed
    one at a time (see :func:`checkpoints.read_values`). ``mapped_names``
    names each row by the variable its key was mapped to (a Keras file's
    keys, placed by a live model)."""
    keys = comparison.name if mapped_names else comparison.key
    if None in keys:  # a graph variable missing in the checkpoint: its graph name
        keys = [n if k is None else k for n, k in zip(comparison.name, keys, strict=True)]
    frame = pd.DataFrame({
        'name': keys,
        'shape': comparison.shape,
        'dtype': comparison.dtype,
        'status': comparison.status,
    }, columns=list(INSPECT_COLUMNS))
    return frame if values is None else with_stats(frame, summarised(values))


def map_frame(found: CheckpointMap) -> pd.DataFrame:
    """The ``%mapckpt`` table: one row per checkpoint key, then one per
    variable no key maps to (``key`` None)."""
    # Object columns as given: no type inference (``key`` keeps its None).
    return pd.DataFrame({
        'key': found.key, 'shape': found.shape, 'dtype': found.dtype,
        'variable': found.variable, 'how': found.how, 'status': found.status,
    }, columns=list(MAP_COLUMNS), dtype=object)
