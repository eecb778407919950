"""Summary statistics of variable values: what ``--stats`` adds to a table."""

from __future__ import annotations

import numpy as np


def value_stats(value: np.ndarray | None) -> tuple:
    """``(size, nbytes, min, max, mean, std)``; NaN where not defined, all
    missing for a variable without a value."""
    if value is None:
        return (None, None, np.nan, np.nan, np.nan, np.nan)
    value = np.asarray(value)
    size, nbytes = value.size, value.nbytes
    if size == 0 or not (np.issubdtype(value.dtype, np.number)
                         or value.dtype == np.bool_):
        return (size, nbytes, np.nan, np.nan, np.nan, np.nan)
    if np.iscomplexobj(value):
        value = np.abs(value)
    return (size, nbytes, float(value.min()), float(value.max()),
            float(value.mean(dtype=np.float64)), float(value.std(dtype=np.float64)))
