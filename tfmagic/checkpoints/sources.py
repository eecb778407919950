"""What a checkpoint magic reads from: a TensorFlow checkpoint (a Saver's,
a ``tf.train.Checkpoint``'s, a SavedModel's variables) or a Keras 3 weight
file (``.weights.h5``, or the weights inside a ``.keras`` archive), behind
one interface: its index, and its values one tensor at a time."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from .files import expand_user, resolve
from .index import CheckpointIndex, read_index, read_values
from .keras_files import is_keras_file, read_keras_index, read_keras_values


@dataclass(frozen=True)
class Source:
    """A checkpoint to read: ``path`` is a TF checkpoint's prefix, or a
    Keras weight file (``keras``)."""

    path: str
    keras: bool = False

    def __str__(self) -> str:
        return self.path

    def index(self) -> CheckpointIndex:
        return read_keras_index(self.path) if self.keras else read_index(self.path)

    def values(self, keys: Iterable[str | None]) -> Iterator[np.ndarray | None]:
        return read_keras_values(self.path, keys) if self.keras else read_values(self.path, keys)


def resolve_source(path: str | None, default_dir: str) -> Source:
    """The checkpoint ``path`` names: a Keras weight file as it is, else
    what :func:`~.files.resolve` finds (a prefix, one of its files, a
    directory's latest, a SavedModel's variables)."""
    if path is not None and is_keras_file(expand_user(path)):
        return Source(expand_user(path), keras=True)
    return Source(resolve(path, default_dir))


def as_source(source: Source | str) -> Source:
    """``source``, or the checkpoint at the path ``source`` (a TF
    checkpoint's prefix, or a Keras file)."""
    if isinstance(source, Source):
        return source
    path = expand_user(str(source))
    return Source(path, keras=is_keras_file(path))
