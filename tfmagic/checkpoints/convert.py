"""Writing a re-keyed copy of a checkpoint, tensor by tensor: as a V2
name-based checkpoint (what ``Saver`` reads), or as a Keras weight file
(what ``model.load_weights`` reads).

Memory stays near the largest tensor, not the checkpoint: tensors are read
one at a time and written in shards of at most :data:`SHARD_BYTES` with
``SaveV2``, which ``MergeV2Checkpoints`` then joins into one checkpoint, as
a sharded ``Saver`` joins its devices' files. The copy is written under a
temporary name and moved into place by rename, so an interrupted
conversion leaves nothing that looks complete.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from ..wording import first_line, human_bytes, plural
from .errors import CheckpointError, quiet_tf_logging
from .files import (
    checkpoint_files,
    commit,
    dirname,
    expand_user,
    interrupts_deferred,
    join,
    normalize_prefix,
    remove_directory,
    size_of,
    temporary_prefix,
)
from .keras_files import WEIGHTS_SUFFIX, write_keras_weights
from .sources import Source

gfile = tf.io.gfile

#: Most bytes of tensors held for one ``SaveV2`` shard.
SHARD_BYTES = 64 << 20
FORMATS = ('tf', 'h5')


@dataclass
class ConvertResult:
    source: str
    dest: str
    keys: int
    renamed: int
    nbytes: int

    def __str__(self) -> str:
        return (f'Wrote {self.dest} ({human_bytes(self.nbytes)}): '
                f'{plural(self.keys, "tensor")} of {self.source}, {self.renamed} under new keys.')


def _same_file(a: str, b: str) -> bool:
    if '://' in a or '://' in b:
        return a.rstrip('/') == b.rstrip('/')
    return os.path.realpath(a) == os.path.realpath(b)  # through symbolic links too


def destination(source: Source, dest: str, fmt: str, force: bool) -> str:
    """The path to write: a prefix for ``tf``, a ``.weights.h5`` file for
    ``h5``; refused if it is the source, or exists and not ``force``."""
    dest = normalize_prefix(dest) if fmt == 'tf' else expand_user(dest)
    if fmt == 'h5' and not dest.endswith(WEIGHTS_SUFFIX):
        raise CheckpointError(f'{dest}: a Keras weight file must end in {WEIGHTS_SUFFIX} '
                              '(model.load_weights reads no other name)')
    if _same_file(dest, source.path):
        raise CheckpointError(f'{dest} is the source itself; write the copy elsewhere '
                              '(a conversion never overwrites its source)')
    there = bool(checkpoint_files(dest)) if fmt == 'tf' else gfile.exists(dest)
    if there and not force:
        raise CheckpointError(f'{dest} already exists; --force replaces it')
    return dest


def _check_keys(plan: list[tuple[str, str]]) -> None:
    seen: dict[str, str] = {}
    for old, new in plan:
        if new in seen:
            raise CheckpointError(f'two keys would be written as {new}: {seen[new]} and {old}; '
                                  'map one of them elsewhere')
        seen[new] = old


def _values(source: Source, plan: list[tuple[str, str]]) -> Iterator[tuple[str, np.ndarray]]:
    for (_, new), value in zip(plan, source.values(old for old, _ in plan), strict=True):
        assert value is not None, 'every planned key has a value'
        yield new, value


def _nothing() -> None:
    pass


def _made_directory(directory: str) -> Callable[[], None]:
    """Make ``directory`` if it is not there; return what undoes that on a
    failure (removes it again if this made it and it is still empty)."""
    if gfile.isdir(directory):
        return _nothing
    gfile.makedirs(directory)

    def undo() -> None:
        try:
            if not gfile.listdir(directory):
                gfile.rmtree(directory)
        except (tf.errors.OpError, OSError):
            pass  # left behind: harmless, and the conversion's own error matters
    return undo


@contextlib.contextmanager
def _writing(dest: str) -> Iterator[None]:
    """Writing ``dest``: its directory made if needed (and removed again if
    the writing fails and leaves it empty), any error one CheckpointError."""
    made: Callable[[], None] = _nothing
    try:
        made = _made_directory(dirname(dest))
        yield
    except CheckpointError:
        made()
        raise
    except (tf.errors.OpError, OSError, ValueError) as err:
        made()
        raise CheckpointError(f'cannot write {dest}: {first_line(err)}') from None


def write_checkpoint(source: Source, plan: list[tuple[str, str]], dest: str) -> ConvertResult:
    """Copy each ``(old key, new key)`` of ``plan`` from ``source`` to a V2
    checkpoint at ``dest``."""
    from tensorflow.python.eager import context

    _check_keys(plan)
    written = temporary_prefix(dest)
    with _writing(dest):
        try:
            gfile.makedirs(dirname(written))
            shards: list[str] = []
            batch: list[tuple[str, np.ndarray]] = []

            def flush() -> None:
                shard = f'{written}_shard{len(shards):05d}'
                tf.raw_ops.SaveV2(prefix=shard, tensor_names=[k for k, _ in batch],
                                  shape_and_slices=[''] * len(batch),
                                  tensors=[v for _, v in batch])
                shards.append(shard)
                batch.clear()

            with context.eager_mode(), quiet_tf_logging():  # the workspace's graph is untouched
                held = 0
                for key, value in _values(source, plan):
                    batch.append((key, value))
                    held += value.nbytes
                    if held >= SHARD_BYTES:
                        flush()
                        held = 0
                if batch or not shards:
                    flush()
                tf.raw_ops.MergeV2Checkpoints(checkpoint_prefixes=shards,
                                              destination_prefix=written, delete_old_dirs=False)
            with interrupts_deferred():
                commit(written, dest)
        finally:
            remove_directory(dirname(written))
    return ConvertResult(source.path, dest, len(plan),
                         sum(old != new for old, new in plan), size_of(dest))


def write_keras(source: Source, plan: list[tuple[str, str]], dest: str) -> ConvertResult:
    """Copy each ``(old key, Keras key)`` of ``plan`` to a Keras weight file."""
    _check_keys(plan)
    hidden = join(dirname(dest), f'.{uuid.uuid4().hex}{WEIGHTS_SUFFIX}')
    with _writing(dest):
        try:
            write_keras_weights(hidden, _values(source, plan))
            with interrupts_deferred():
                gfile.rename(hidden, dest, overwrite=True)
        finally:
            if gfile.exists(hidden):
                gfile.remove(hidden)
    return ConvertResult(source.path, dest, len(plan), sum(old != new for old, new in plan),
                         gfile.stat(dest).length)
