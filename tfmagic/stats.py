"""Summary statistics of variable values: what ``--stats`` adds to a table.

A value is reduced in chunks of at most :data:`CHUNK_ELEMENTS` elements,
each widened to a float64 scratch array, and the chunks' moments are merged,
so the memory a listing needs beyond the fetched value is one chunk whatever
the variable's size (numpy's ``std(dtype=np.float64)`` of a float32 value
makes a float64 temporary twice the value's size).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import NamedTuple

import numpy as np

#: Elements reduced at a time. The float64 scratch array (2 MiB) stays in the
#: CPU's cache through the chunk's passes: about twice as fast as 4 Mi elements.
CHUNK_ELEMENTS = 2**18

Stats = tuple[int | None, int | None, float, float, float, float]

_NAN = math.nan
_UNDEFINED = (_NAN, _NAN, _NAN, _NAN)


class Moments(NamedTuple):
    """What the statistics of a run of values are computed from."""

    size: int  # how many values
    low: float
    high: float
    total: float  # the sum of the values
    offset: float  # their mean minus the reference value (see _reference)
    m2: float  # the sum of squared deviations from the mean

    def merged(self, other: Moments) -> Moments:
        """The moments of both runs together (Chan, Golub and LeVeque's
        update: no sum of squares of raw values, so no cancellation)."""
        size = self.size + other.size
        delta = other.offset - self.offset
        share = other.size / size
        return Moments(size, _low(self.low, other.low), _high(self.high, other.high),
                       self.total + other.total, self.offset + delta * share,
                       self.m2 + other.m2 + delta * delta * self.size * share)


def value_stats(value: np.ndarray | Sequence[np.ndarray] | None) -> Stats:
    """``(size, nbytes, min, max, mean, std)`` of a value, or of the parts of
    a partitioned variable (a list or tuple of arrays) taken together.

    Complex values give the statistics of their absolute values, booleans
    count as 0 and 1; NaN where a statistic is not defined (no elements, not
    numbers), all missing for a variable without a value."""
    if value is None:
        return (None, None, *_UNDEFINED)
    parts = _parts(value)
    size = sum(part.size for part in parts)
    nbytes = sum(part.nbytes for part in parts)
    if size == 0 or not all(is_numeric(part.dtype) for part in parts):
        return (size, nbytes, *_UNDEFINED)
    with np.errstate(all='ignore'):  # inf and NaN give NaN, not a warning per listing
        moments = _moments(parts)
    return (size, nbytes, moments.low, moments.high, moments.total / moments.size,
            math.sqrt(moments.m2 / moments.size))


def _parts(value: np.ndarray | Sequence[np.ndarray]) -> list[np.ndarray]:
    if isinstance(value, (list, tuple)):
        return [np.asarray(part) for part in value]
    return [np.asarray(value)]


def plottable(value: np.ndarray) -> np.ndarray | None:
    """What a histogram of ``value`` shows: the numbers (booleans as 0 and
    1), magnitudes for complex ones; ``None`` for values that are no numbers."""
    if not is_numeric(value.dtype):
        return None
    return np.abs(value) if np.iscomplexobj(value) else value


def is_numeric(dtype: np.dtype) -> bool:
    """Numbers and booleans, including the float types numpy does not know
    as numbers but can widen to float64 (``ml_dtypes``' bfloat16, float8_*,
    which TensorFlow hands out)."""
    return np.issubdtype(dtype, np.number) or np.can_cast(dtype, np.float64)


def _moments(parts: Sequence[np.ndarray]) -> Moments:
    """The moments of all elements of ``parts`` (at least one)."""
    total: Moments | None = None
    reference = 0.0
    for part in parts:
        if part.size == 0:
            continue
        for block in _blocks(part, CHUNK_ELEMENTS):
            if total is None:
                reference = _reference(block)
            # No name holds the scratch array: it is freed before the next one is made.
            moments = _chunk_moments(_widened(block), reference)
            total = moments if total is None else total.merged(moments)
    assert total is not None, 'no elements'
    return total


def _reference(block: np.ndarray) -> float:
    """A value the chunks' means are taken relative to: one of the values,
    so that they differ by about the spread of the values, not their
    magnitude (the spread of 1e6 + noise keeps its digits)."""
    first = float(_widened(block.flat[:1])[0])
    return first if math.isfinite(first) else 0.0


def _blocks(array: np.ndarray, limit: int) -> Iterator[np.ndarray]:
    """Views that together hold every element of ``array`` once, each of at
    most ``limit`` elements: flat slices of a contiguous array, slabs along
    the leading axes of any other."""
    if array.flags.c_contiguous or array.flags.f_contiguous:
        flat = array.ravel(order='K')
        for start in range(0, flat.size, limit):
            yield flat[start:start + limit]
    elif array.size <= limit:
        yield array
    else:
        row = array.size // array.shape[0]  # elements under one index of the first axis
        if row > limit:
            for sub in array:
                yield from _blocks(sub, limit)
        else:
            step = limit // row
            for start in range(0, array.shape[0], step):
                yield array[start:start + step]


def _widened(block: np.ndarray) -> np.ndarray:
    """A new contiguous float64 array of the block's values (absolute values
    when complex, computed in the block's own precision, as ``np.abs`` does)."""
    if block.dtype.kind == 'c':
        return np.abs(block, out=np.empty(block.shape))
    return block.astype(np.float64)


def _chunk_moments(scratch: np.ndarray, reference: float = 0.0) -> Moments:
    """The moments of a non-empty float64 array, which is overwritten."""
    count = scratch.size
    low = float(np.minimum.reduce(scratch, axis=None))
    high = float(np.maximum.reduce(scratch, axis=None))
    total = float(np.add.reduce(scratch, axis=None))
    if reference:
        np.subtract(scratch, reference, out=scratch)
        offset = float(np.add.reduce(scratch, axis=None)) / count
    else:
        offset = total / count
    np.subtract(scratch, offset, out=scratch)
    np.square(scratch, out=scratch)
    return Moments(count, low, high, total, offset, float(np.add.reduce(scratch, axis=None)))


def _low(a: float, b: float) -> float:
    """The smaller, NaN if either is (as numpy's ``min`` propagates NaN)."""
    return a if a <= b or a != a else b


def _high(a: float, b: float) -> float:
    return a if a >= b or a != a else b
