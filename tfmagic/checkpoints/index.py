"""Reading a checkpoint: its index (keys, shapes, dtypes) without the data,
and its stored values one tensor at a time."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import tensorflow as tf

from ..wording import first_line
from .errors import CheckpointError

if TYPE_CHECKING:
    from tensorflow.python.training.py_checkpoint_reader import CheckpointReader

gfile = tf.io.gfile

#: Key of the object graph that TF2 object-based checkpoints carry; not a variable.
OBJECT_GRAPH_KEY = '_CHECKPOINTABLE_OBJECT_GRAPH'
#: TF2 object-based checkpoints (``tf.train.Checkpoint``, SavedModel) store a
#: variable at ``path/to/var/.ATTRIBUTES/VARIABLE_VALUE``; it is compared
#: with the graph under ``path/to/var``.
OBJECT_VALUE_SUFFIX = '/.ATTRIBUTES/VARIABLE_VALUE'
#: Keys ``tf.train.Checkpoint`` adds for its own bookkeeping (how often it
#: saved): not a model's variable, so never reported as missing in the graph.
BOOKKEEPING_KEYS = frozenset({'save_counter' + OBJECT_VALUE_SUFFIX})

@dataclass(frozen=True)
class CheckpointIndex:
    """A checkpoint's keys with their shapes and dtypes, read from its index
    file, kept in the reader's own terms (shapes as lists of ints, dtypes as
    ``DataType`` enums) so that no per-key conversion is paid to compare."""

    shapes: dict[str, list[int]]
    dtypes: dict[str, int]
    #: A Keras weight file's: the group of each layer's variables
    #: (``layers/dense/vars``) -> the layer's name when saved (``d1``).
    layer_names: dict[str, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.shapes)

    def dtype_names(self, keys: Sequence[str]) -> list[str]:
        names = {enum: _dtype_name(enum) for enum in set(self.dtypes.values())}
        if len(names) == 1:  # one dtype throughout, as most checkpoints have
            return [next(iter(names.values()))] * len(keys)
        return list(map(names.__getitem__, map(self.dtypes.__getitem__, keys)))


def read_index(prefix: str) -> CheckpointIndex:
    """Shapes and dtypes of every key in the checkpoint, from its index only."""
    try:
        reader = tf.compat.v1.train.NewCheckpointReader(prefix)
        shapes = reader.get_variable_to_shape_map()
        dtypes = _dtype_enums(reader)
    except Exception as err:  # DataLossError, OutOfRangeError, IndexError, ...
        raise CheckpointError(
            f'cannot read checkpoint index {prefix}.index: it is damaged or not a '
            f'checkpoint ({type(err).__name__}: {first_line(err)})') from None
    shapes.pop(OBJECT_GRAPH_KEY, None)
    dtypes.pop(OBJECT_GRAPH_KEY, None)
    return CheckpointIndex(shapes, dtypes)


@functools.cache
def _dtype_name(enum: int) -> str:
    return tf.dtypes.as_dtype(enum).base_dtype.name


def _dtype_enums(reader: CheckpointReader) -> dict[str, int]:
    """Key -> ``DataType`` enum. ``get_variable_to_dtype_map`` wraps the
    reader's enum map in a new ``DType`` per key, which dominates reading a
    large index; the enum map it wraps is used directly where it exists."""
    enums = getattr(reader, '_GetVariableToDataTypeMap', None)
    if enums is None:
        return {k: v.as_datatype_enum for k, v in reader.get_variable_to_dtype_map().items()}
    return enums()


def read_values(prefix: str, keys: Iterable[str | None]) -> Iterator[np.ndarray | None]:
    """The tensor stored under each of ``keys`` (None for a None key), read
    from the data files as they are asked for: a consumer that keeps only a
    summary of each never holds the whole checkpoint in memory."""
    try:
        reader = tf.compat.v1.train.NewCheckpointReader(prefix)
    except Exception as err:
        raise damaged_data(prefix, err) from None
    for key in keys:
        if key is None:
            yield None
            continue
        try:
            value = reader.get_tensor(key)
        except MemoryError:
            raise
        except Exception as err:  # DataLossError, OutOfRangeError, ...: damaged files
            raise damaged_data(prefix, err) from None
        yield value


def damaged_data(prefix: str, err: BaseException) -> CheckpointError:
    files = ', '.join(gfile.glob(prefix + '.data-*-of-*')) or f'{prefix}.data-*'
    return CheckpointError(
        f'checkpoint data is damaged or truncated: {files} '
        f'({type(err).__name__}: {first_line(err)})')


def graph_name(key: str) -> str:
    """The graph variable name a checkpoint key is compared with."""
    return key[:-len(OBJECT_VALUE_SUFFIX)] if key.endswith(OBJECT_VALUE_SUFFIX) else key
