"""Statistics computed on the device that holds each variable.

On a cluster a variable lives in a ``ps`` task's memory: fetching it to
summarise it in the notebook would move the whole tensor over the network
and hold it here. Instead a few reduction ops per variable part run where
the part lives and only five numbers per part travel, merged here into the
``(size, nbytes, min, max, mean, std)`` of :func:`.stats.value_stats`. The
ops are built once per variable part under tfmagic's own name scope
(:meth:`.Workspace.own_ops`), so a repeated ``%vars --stats`` adds none.

The reductions run in the value's own float type, as ``tf.reduce_mean``
and ``tf.math.reduce_std`` would (half-precision types in float32,
integers and booleans in float64); the spread is taken about each part's
mean, so large offsets keep their digits.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator, Sequence

import numpy as np
import tensorflow as tf

from .stats import Moments, Stats
from .tracking import VariableInfo
from .workspace import Workspace

_NAN = math.nan


def device_stats(workspace: Workspace, infos: Sequence[VariableInfo]) -> list[Stats]:
    """``value_stats`` of each variable, computed on its devices in one run."""
    parts = [part for info in infos if info.initialized and _summable(info.parts)
             for part in info.parts]
    # Each part's ops made once (its name is unique in the graph), whichever
    # variables are asked for with it.
    tensors = [workspace.own_ops(('stats', part.name), functools.partial(_part_moments, part))
               for part in parts]
    values = iter(workspace.run_cached(tensors) if tensors else [])
    return [_merged(info, values) for info in infos]


def _summable(parts: Sequence[tf.Variable]) -> bool:
    """Parts of a fully known, non-empty shape whose values are numbers."""
    return all(part.shape.is_fully_defined() and part.shape.num_elements()
               for part in parts) and _numeric(parts[0].dtype.base_dtype)


def _numeric(dtype: tf.DType) -> bool:
    return dtype.is_floating or dtype.is_integer or dtype.is_complex or dtype == tf.bool


def _part_moments(part: tf.Variable) -> tf.Tensor:
    """A float64 vector (min, max, sum, mean, m2) of the part, made on its device."""
    with tf.device(part.device), tf.name_scope('stats'):
        value = _read(part)
        dtype = value.dtype.base_dtype
        if dtype.is_complex:
            value = tf.abs(value)
        elif dtype in (tf.float16, tf.bfloat16):
            value = tf.cast(value, tf.float32)
        elif not dtype.is_floating:
            value = tf.cast(value, tf.float64)
        total = tf.reduce_sum(value)
        mean = total / tf.cast(tf.size(value), value.dtype)
        m2 = tf.reduce_sum(tf.square(value - mean))
        moments = [tf.reduce_min(value), tf.reduce_max(value), total, mean, m2]
        return tf.cast(tf.stack(moments), tf.float64)


def _read(part: tf.Variable) -> tf.Tensor:
    """The part's value, read by an op on the part's device (a resource
    variable's own reads clear the device scope they are made in)."""
    handle = getattr(part, 'handle', None)
    if isinstance(handle, tf.Tensor) and handle.dtype == tf.resource:
        return tf.raw_ops.ReadVariableOp(resource=handle, dtype=part.dtype.base_dtype)
    return tf.identity(part)


def _merged(info: VariableInfo, values: Iterator[np.ndarray]) -> Stats:
    parts = info.parts
    size = sum(part.shape.num_elements() or 0 for part in parts)
    nbytes = size * parts[0].dtype.base_dtype.size
    if not info.initialized:
        return (None, None, _NAN, _NAN, _NAN, _NAN)
    if not _summable(parts):
        return (size, nbytes, _NAN, _NAN, _NAN, _NAN)
    total: Moments | None = None
    for part in parts:
        low, high, part_sum, mean, m2 = map(float, next(values))
        moments = Moments(part.shape.num_elements() or 0, low, high, part_sum, mean, m2)
        total = moments if total is None else total.merged(moments)
    assert total is not None, 'a variable has one or more parts'
    return (size, nbytes, total.low, total.high, total.total / total.size,
            math.sqrt(total.m2 / total.size))
