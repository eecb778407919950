"""Checkpoint files and the directory's ``checkpoint`` state file: paths
(``~``, URLs), finding, resolving and listing checkpoints, naming files that
are no checkpoint, and committing a save written under a temporary name.

All paths go through ``tf.io.gfile``; ``ram://``, ``gs://`` and ``s3://`` work.
"""

from __future__ import annotations

import codecs
import contextlib
import datetime
import os
import posixpath
import re
import signal
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING

import tensorflow as tf

from ..wording import first_line
from .errors import CheckpointError, quiet_tf_logging
from .index import read_index

if TYPE_CHECKING:
    from tensorflow.python.training.checkpoint_state_pb2 import CheckpointState

gfile = tf.io.gfile

#: Marks a save in progress: the hidden directory it is written in is named
#: ``.NAME.tempstate<hex>``, after TensorFlow's own temporary files.
_TEMP_MARK = '.tempstate'
_FILE_SUFFIX = re.compile(r'\.(index|meta|data-\d{5}-of-\d{5})$')
_STEP = re.compile(r'-(\d+)$')


# -- paths -------------------------------------------------------------------


def _paths(path: str) -> ModuleType:
    """``os.path`` for local paths, ``posixpath`` for URLs such as ``ram://``."""
    return posixpath if '://' in path else os.path


def expand_user(path: str) -> str:
    """``~`` (or ``~user``) at the start of a local path, as a shell expands
    it; URLs such as ``ram://`` are left alone."""
    path = str(path)
    return path if '://' in path else os.path.expanduser(path)


def normalize_prefix(path: str) -> str:
    """``model.index`` / ``model.meta`` / ``model.data-00000-of-00001`` ->
    ``model`` (``list_variables`` finds nothing under a suffixed prefix)."""
    prefix = _FILE_SUFFIX.sub('', expand_user(path).rstrip('/'))
    return prefix if '://' in prefix else os.path.normpath(prefix)


def for_tasks(path: str) -> str:
    """``path`` as a cluster's tasks must be given it, since they, not this
    process, read and write the files: a local path made absolute (a task
    resolves a relative one in its own working directory). ``ram://`` is
    refused: it is each process's own memory."""
    if path.startswith('ram://'):
        raise CheckpointError(
            f'{path}: ram:// is memory of each process of its own, which the cluster\'s tasks '
            'cannot share with this notebook; on a cluster save to a directory every task '
            'reaches (a shared file system, or gs:// in real clusters)')
    return path if '://' in path else os.path.abspath(path)


def unreachable_by_tasks(path: str, detail: str) -> CheckpointError:
    """The error for checkpoint files the cluster's tasks cannot write or
    read at ``path``, or wrote where this process cannot see them."""
    return CheckpointError(
        f'the cluster\'s tasks cannot reach {dirname(path)} ({detail}): a checkpoint '
        'directory on a cluster must be one path every task and this notebook reach, the same '
        'on each machine (a shared file system, or gs:// in real clusters)')


def default_prefix(directory: str) -> str:
    """Where ``%saveckpt`` (and the panel's Save) write in ``directory``."""
    return join(directory, 'model')


def join(directory: str, name: str) -> str:
    directory = expand_user(directory)
    return _paths(directory).join(directory, name)


def dirname(path: str) -> str:
    return _paths(path).dirname(path) or '.'


def _basename(path: str) -> str:
    return _paths(path).basename(path)


def _does_not_exist(path: str) -> str:
    """Names a relative path absolutely: after ``%cd`` the user may not know
    which directory it was looked up in."""
    absolute = path if '://' in path else os.path.abspath(path)
    return 'it does not exist' if absolute == path else f'{absolute} does not exist'


def exists(prefix: str) -> bool:
    return gfile.exists(prefix + '.index')


def checkpoint_files(prefix: str) -> list[str]:
    """The files of the checkpoint at ``prefix`` that exist."""
    files = [p for p in (prefix + '.index', prefix + '.meta') if gfile.exists(p)]
    return files + sorted(gfile.glob(prefix + '.data-*-of-*'))


def size_of(prefix: str) -> int:
    return sum(gfile.stat(p).length for p in checkpoint_files(prefix))


def _state_path(prefix: str, directory: str) -> str:
    """How to pass ``prefix`` to ``update_checkpoint_state`` so that the state
    file stores it relative to ``directory`` and the folder can be moved: TF
    itself makes paths relative when ``directory`` is relative (a URL counts
    as relative), and stores them as given when it is absolute."""
    if os.path.isabs(directory) and prefix.startswith(directory.rstrip('/') + '/'):
        return prefix[len(directory.rstrip('/')) + 1:]
    return prefix


def _state(directory: str) -> CheckpointState | None:
    try:
        return tf.compat.v1.train.get_checkpoint_state(directory)
    except Exception:  # a damaged state file: treat as absent, files still count
        return None


def _prefixes_in(directory: str) -> list[str]:
    return sorted(normalize_prefix(p) for p in gfile.glob(join(directory, '*.index')))


def _state_order(state: CheckpointState | None) -> dict[str, int]:
    paths = state.all_model_checkpoint_paths if state is not None else ()
    return {normalize_prefix(p): i for i, p in enumerate(paths)}


def _state_timestamps(state: CheckpointState | None) -> dict[str, float]:
    """Prefix -> when it was saved, as the state file records it (tfmagic,
    ``Saver`` and ``CheckpointManager`` write these; hand-made files may not)."""
    if state is None or len(state.all_model_checkpoint_timestamps) != len(
            state.all_model_checkpoint_paths):
        return {}
    paths, times = state.all_model_checkpoint_paths, state.all_model_checkpoint_timestamps
    return {normalize_prefix(p): t for p, t in zip(paths, times, strict=True)}


def _saved_seconds(prefix: str, timestamps: dict[str, float]) -> float | None:
    """When ``prefix`` was saved: its index file's modification time, or where
    the file system keeps none (``ram://`` says 0), the state file's."""
    mtime = gfile.stat(prefix + '.index').mtime_nsec / 1e9
    seconds = mtime if mtime > 0 else timestamps.get(prefix, 0.0)
    return seconds if seconds > 0 else None


def _oldest_first(prefixes: Iterable[str], state: CheckpointState | None) -> list[str]:
    """Order checkpoints by age: index mtime (whole seconds on most file
    systems), then the state file's order, then step."""
    order = _state_order(state)

    def age(prefix: str) -> tuple[int, int, int, str]:
        step = _STEP.search(prefix)
        return (gfile.stat(prefix + '.index').mtime_nsec, order.get(prefix, -1),
                int(step.group(1)) if step else -1, prefix)
    return sorted(prefixes, key=age)


def latest_in(directory: str) -> str:
    """The newest checkpoint in ``directory``: the state file's, if its files
    exist, else the most recently written one."""
    directory = expand_user(directory)
    state = _state(directory)
    if state is not None and exists(state.model_checkpoint_path):
        return normalize_prefix(state.model_checkpoint_path)
    if not gfile.isdir(directory):
        raise CheckpointError(f'no checkpoint in {directory!r}: {_does_not_exist(directory)}')
    prefixes = _prefixes_in(directory)
    if not prefixes:
        raise CheckpointError(f'no checkpoint in {directory!r}: it has no *.index file')
    return _oldest_first(prefixes, state)[-1]


def resolve(path: str | None, default_dir: str) -> str:
    """The checkpoint prefix that ``path`` (a prefix, one of its files, a
    directory, or a SavedModel; ``None`` for ``default_dir``) names."""
    if path is None:
        return latest_in(default_dir)
    prefix = normalize_prefix(path)
    if exists(prefix):  # first: under ram:// a prefix also looks like a directory
        return prefix
    if gfile.isdir(prefix):
        return _saved_model_variables(prefix) or latest_in(prefix)
    if gfile.exists(prefix):
        raise CheckpointError(_not_a_checkpoint(prefix))
    if prefix == normalize_prefix(default_dir):  # the default directory, not made yet
        return latest_in(prefix)
    raise CheckpointError(f'no checkpoint at {path!r}: {prefix}.index does not exist')


def _saved_model_variables(directory: str) -> str | None:
    """The variables checkpoint of the SavedModel in ``directory``; None if it is none."""
    if not any(gfile.exists(join(directory, name))
               for name in ('saved_model.pb', 'saved_model.pbtxt')):
        return None
    prefix = join(join(directory, 'variables'), 'variables')
    if not exists(prefix):
        raise CheckpointError(f'{directory} is a SavedModel without variables: '
                              f'{prefix}.index does not exist')
    return prefix


_CHECKPOINT_WANTED = ("give a checkpoint's prefix (PREFIX of PREFIX.index and "
                      "PREFIX.data-*) or its directory")


def _not_a_checkpoint(path: str) -> str:
    """What the existing file ``path`` is, since it is not a checkpoint."""
    head = _head(path)  # Keras weight files are read as checkpoints (sources.py)
    if _basename(path) == 'checkpoint':
        return (f"{path} is TensorFlow's checkpoint state file, not a checkpoint; "
                f'give its directory {dirname(path)!r} for the latest checkpoint')
    if not head:
        what = 'is an empty file, not a TensorFlow checkpoint'
    elif head.startswith(b'PK\x03\x04'):
        what = 'is a zip archive, not a TensorFlow checkpoint'
    elif _is_text(head):
        what = 'is a text file, not a TensorFlow checkpoint'
    else:
        what = f'is not a TensorFlow checkpoint ({path}.index does not exist)'
    return f'{path} {what}; {_CHECKPOINT_WANTED}'


def _head(path: str, size: int = 512) -> bytes:
    try:
        with gfile.GFile(path, 'rb') as f:
            return f.read(size)
    except (tf.errors.OpError, OSError):
        return b'?'  # unreadable: named as a file that is not a checkpoint


def _is_text(head: bytes) -> bool:
    if b'\0' in head:
        return False
    try:
        codecs.getincrementaldecoder('utf-8')().decode(head)  # a cut last character is fine
    except UnicodeDecodeError:
        return False
    return True


@dataclass
class CheckpointInfo:
    prefix: str
    step: int | None
    saved_at: datetime.datetime | None
    size_bytes: int
    variables: int | None
    latest: bool


# -- listing -------------------------------------------------------------------------


def directory_names(directory: str) -> tuple[str, ...]:
    """The names in ``directory``, sorted; ``()`` if it does not exist yet.
    A directory that exists but cannot be read is a :class:`CheckpointError`."""
    try:
        return tuple(sorted(gfile.listdir(expand_user(directory))))
    except tf.errors.NotFoundError:
        return ()
    except (tf.errors.OpError, OSError) as err:
        raise CheckpointError(f'cannot list {directory}: {first_line(err)}') from None


def list_checkpoints(directory: str) -> list[CheckpointInfo]:
    """The checkpoints in ``directory``: the state file's and any other
    ``*.index`` there (the state file may have forgotten them), oldest first.
    A damaged index shows ``variables=None``; a forgotten-file entry size 0."""
    directory = expand_user(directory).rstrip('/') or '/'
    if not gfile.isdir(directory):
        raise CheckpointError(
            f'no checkpoint directory {directory!r}: {_does_not_exist(directory)}')
    state = _state(directory)
    latest = normalize_prefix(state.model_checkpoint_path) if state is not None else None
    timestamps = _state_timestamps(state)
    prefixes = set(_prefixes_in(directory))
    if state is not None:
        prefixes.update(normalize_prefix(p) for p in state.all_model_checkpoint_paths)
    present = [p for p in prefixes if exists(p)]
    forgotten = sorted(p for p in prefixes if p not in present)  # in the state file only
    infos = []
    for prefix in _oldest_first(present, state) + forgotten:
        saved_at, count = None, None
        if prefix in present:
            seconds = _saved_seconds(prefix, timestamps)
            if seconds is not None:
                saved_at = datetime.datetime.fromtimestamp(seconds).replace(microsecond=0)
            try:
                count = len(read_index(prefix))
            except CheckpointError:
                count = None
        step = _STEP.search(prefix)
        infos.append(CheckpointInfo(
            prefix=prefix, step=int(step.group(1)) if step else None, saved_at=saved_at,
            size_bytes=size_of(prefix) if prefix in present else 0, variables=count,
            latest=prefix == latest))
    return infos


@contextlib.contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Hold back Ctrl-C (SIGINT) for a short step that must not stop half way,
    and deliver it to the previous handler once the step is done. Only the
    main thread can set signal handlers, and only it gets KeyboardInterrupt."""
    previous = signal.getsignal(signal.SIGINT)
    if threading.current_thread() is not threading.main_thread() or previous is None:
        yield  # None: a handler set outside Python, which could not be put back
        return
    received: list[int] = []
    signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        signal.raise_signal(signal.SIGINT)


def temporary_prefix(target: str) -> str:
    """Where a save of ``target`` is written before it is committed: a hidden
    directory beside it, which no ``*.index`` glob of the directory sees."""
    directory, name = dirname(target), _basename(target)
    return join(join(directory, f'.{name}{_TEMP_MARK}{uuid.uuid4().hex}'), name)


def commit(written: str, target: str) -> None:
    """Move the checkpoint at ``written`` to ``target`` by rename. The
    ``.index`` file is what marks a checkpoint as there, so the old one's goes
    first and the new one's last: at no moment does ``target.index`` sit
    beside data files of another save."""
    new = {path[len(written):]: path for path in checkpoint_files(written)}
    if exists(target):
        gfile.remove(target + '.index')
    for path in checkpoint_files(target):  # the rest of an earlier save
        if path[len(target):] not in new:
            gfile.remove(path)
    for suffix, path in new.items():
        if suffix != '.index':
            gfile.rename(path, target + suffix, overwrite=True)
    gfile.rename(new['.index'], target + '.index', overwrite=True)


def remove_directory(directory: str) -> None:
    try:
        if gfile.exists(directory):
            gfile.rmtree(directory)
    except (tf.errors.OpError, OSError):
        pass  # a leftover hidden directory is harmless; the save's own error matters


def interrupted_save(target: str, committed: bool) -> str:
    """What an interrupted save of ``target`` left on disk, in one line."""
    if committed:
        return f'save interrupted once it was complete: {target} is saved and is the latest'
    try:
        latest = latest_in(dirname(target))
    except CheckpointError:
        return 'save interrupted: nothing was written'
    return f'save interrupted: nothing was written; {latest} is still the latest'


def update_state(directory: str, base: str, target: str, keep: int) -> list[str]:
    """Make ``target`` the latest in the state file and delete the oldest
    checkpoints of the same prefix beyond ``keep``; return those deleted."""
    state = _state(directory)
    listed = [normalize_prefix(p) for p in (state.all_model_checkpoint_paths if state else ())]
    listed = [p for p in dict.fromkeys(listed) if p != target and exists(p)]
    family = re.compile(re.escape(base) + r'(-\d+)?$')
    ours = [p for p in set(listed) | set(_prefixes_in(directory))
            if family.match(p) and p != target]
    ours = _oldest_first(ours, state)
    deleted = ours[:max(0, len(ours) - (keep - 1))] if keep > 0 else []
    kept = [p for p in listed if p not in deleted]
    # Timestamps too: where the file system keeps no modification time
    # (ram://), they are how %ckpts knows when each one was saved.
    timestamps = _state_timestamps(state)
    # Whole seconds, as %ckpts shows them: the file's size stays the same.
    times = [_saved_seconds(p, timestamps) or 0.0 for p in kept] + [float(int(time.time()))]
    with quiet_tf_logging():  # a deprecation notice pointing at CheckpointManager
        tf.compat.v1.train.update_checkpoint_state(
            directory, _state_path(target, directory),
            all_model_checkpoint_paths=[_state_path(p, directory) for p in kept + [target]],
            all_model_checkpoint_timestamps=times)
    # Only once the state file names the new checkpoint: a crash before
    # this point leaves every checkpoint the state file names in place.
    for prefix in deleted:
        for path in checkpoint_files(prefix):
            gfile.remove(path)
    return deleted
