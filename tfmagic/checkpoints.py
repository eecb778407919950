"""Save, restore, list and inspect checkpoints of a workspace's variables.

The files are exactly what ``tf.compat.v1.train.Saver`` writes (V2 format:
``PREFIX.index``, ``PREFIX.data-*-of-*``, ``PREFIX.meta`` and the directory's
``checkpoint`` state file), so they interoperate both ways with plain TF code.
What this module adds is safety around the Saver:

* a restore is checked key by key -- name (after ``--map`` renaming), shape,
  dtype -- before anything is assigned, because a plain ``Saver.restore`` lets
  resource variables silently take the checkpoint's shape;
* keep-last-K counts per prefix (a plain ``Saver(max_to_keep=K)`` also deletes
  checkpoints it saved under other prefixes), and the state file stores paths
  relative to its directory, so a checkpoint folder can be moved;
* a damaged file is reported once, by name, whatever TensorFlow raised, and
  a file that is no checkpoint (Keras, text, ...) is named for what it is;
* a save is written under a temporary name and committed by rename, so an
  interrupted or killed save never leaves a checkpoint that looks complete;
* savers are built once per variable set, so repeated saves and restores add
  no op to the graph.

All paths go through ``tf.io.gfile``; ``ram://``, ``gs://`` and ``s3://`` work,
and ``~`` is expanded in local ones.
A ``.meta`` graph is written but never imported.
"""

from __future__ import annotations

import codecs
import contextlib
import datetime
import fnmatch
import functools
import os
import posixpath
import re
import signal
import threading
import time
import uuid
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Iterator, Mapping, Union

import numpy as np
import tensorflow as tf

from .tracking import VariableRecord, VariableTracker

gfile = tf.io.gfile

MATCH = 'match'
MISSING_IN_GRAPH = 'missing in graph'
MISSING_IN_CHECKPOINT = 'missing in checkpoint'
SHAPE_MISMATCH = 'shape mismatch'
DTYPE_MISMATCH = 'dtype mismatch'

#: Key of the object graph that TF2 object-based checkpoints carry; not a variable.
OBJECT_GRAPH_KEY = '_CHECKPOINTABLE_OBJECT_GRAPH'
#: TF2 object-based checkpoints (``tf.train.Checkpoint``, SavedModel) store a
#: variable at ``path/to/var/.ATTRIBUTES/VARIABLE_VALUE``; it is compared
#: with the graph under ``path/to/var``.
OBJECT_VALUE_SUFFIX = '/.ATTRIBUTES/VARIABLE_VALUE'
#: Keys ``tf.train.Checkpoint`` adds for its own bookkeeping (how often it
#: saved): not a model's variable, so never reported as missing in the graph.
BOOKKEEPING_KEYS = frozenset({'save_counter' + OBJECT_VALUE_SUFFIX})

#: Marks a save in progress: the hidden directory it is written in is named
#: ``.NAME.tempstate<hex>``, after TensorFlow's own temporary files.
_TEMP_MARK = '.tempstate'
_FILE_SUFFIX = re.compile(r'\.(index|meta|data-\d{5}-of-\d{5})$')
_STEP = re.compile(r'-(\d+)$')


class CheckpointError(Exception):
    """A checkpoint cannot be saved, found, read or restored; nothing changed."""

    def _render_traceback_(self):
        # IPython and ipykernel show this instead of a traceback: the message
        # is the whole story, and the stack of tfmagic internals is noise.
        return [f'{type(self).__name__}: {self}']


class SaveInterrupted(KeyboardInterrupt):
    """Ctrl-C (a kernel interrupt) stopped a save; the message says what is on disk."""

    def _render_traceback_(self):
        # One line instead of a traceback through TensorFlow's Saver.
        return [str(self)]


# -- paths -------------------------------------------------------------------


def _paths(path: str):
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


def join(directory: str, name: str) -> str:
    directory = expand_user(directory)
    return _paths(directory).join(directory, name)


def _dirname(path: str) -> str:
    return _paths(path).dirname(path) or '.'


def _basename(path: str) -> str:
    return _paths(path).basename(path)


def _does_not_exist(path: str) -> str:
    """Names a relative path absolutely: after ``%cd`` the user may not know
    which directory it was looked up in."""
    absolute = path if '://' in path else os.path.abspath(path)
    return 'it does not exist' if absolute == path else f'{absolute} does not exist'


def _exists(prefix: str) -> bool:
    return gfile.exists(prefix + '.index')


def checkpoint_files(prefix: str) -> list[str]:
    """The files of the checkpoint at ``prefix`` that exist."""
    files = [p for p in (prefix + '.index', prefix + '.meta') if gfile.exists(p)]
    return files + sorted(gfile.glob(prefix + '.data-*-of-*'))


def _size(prefix: str) -> int:
    return sum(gfile.stat(p).length for p in checkpoint_files(prefix))


def _state_path(prefix: str, directory: str) -> str:
    """How to pass ``prefix`` to ``update_checkpoint_state`` so that the state
    file stores it relative to ``directory`` and the folder can be moved: TF
    itself makes paths relative when ``directory`` is relative (a URL counts
    as relative), and stores them as given when it is absolute."""
    if os.path.isabs(directory) and prefix.startswith(directory.rstrip('/') + '/'):
        return prefix[len(directory.rstrip('/')) + 1:]
    return prefix


def _state(directory: str):
    try:
        return tf.compat.v1.train.get_checkpoint_state(directory)
    except Exception:  # a damaged state file: treat as absent, files still count
        return None


def _prefixes_in(directory: str) -> list[str]:
    return sorted(normalize_prefix(p) for p in gfile.glob(join(directory, '*.index')))


def _state_order(state) -> dict[str, int]:
    paths = state.all_model_checkpoint_paths if state is not None else ()
    return {normalize_prefix(p): i for i, p in enumerate(paths)}


def _state_timestamps(state) -> dict[str, float]:
    """Prefix -> when it was saved, as the state file records it (tfmagic,
    ``Saver`` and ``CheckpointManager`` write these; hand-made files may not)."""
    if state is None or len(state.all_model_checkpoint_timestamps) != len(
            state.all_model_checkpoint_paths):
        return {}
    return {normalize_prefix(p): t for p, t in
            zip(state.all_model_checkpoint_paths, state.all_model_checkpoint_timestamps)}


def _saved_seconds(prefix: str, timestamps: dict[str, float]) -> float | None:
    """When ``prefix`` was saved: its index file's modification time, or where
    the file system keeps none (``ram://`` says 0), the state file's."""
    mtime = gfile.stat(prefix + '.index').mtime_nsec / 1e9
    seconds = mtime if mtime > 0 else timestamps.get(prefix, 0.0)
    return seconds if seconds > 0 else None


def _oldest_first(prefixes, state) -> list[str]:
    """Order checkpoints by age: index mtime (whole seconds on most file
    systems), then the state file's order, then step."""
    order = _state_order(state)

    def age(prefix):
        step = _STEP.search(prefix)
        return (gfile.stat(prefix + '.index').mtime_nsec, order.get(prefix, -1),
                int(step.group(1)) if step else -1, prefix)
    return sorted(prefixes, key=age)


def latest_in(directory: str) -> str:
    """The newest checkpoint in ``directory``: the state file's, if its files
    exist, else the most recently written one."""
    directory = expand_user(directory)
    state = _state(directory)
    if state is not None and _exists(state.model_checkpoint_path):
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
    if _exists(prefix):  # first: under ram:// a prefix also looks like a directory
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
    if not _exists(prefix):
        raise CheckpointError(f'{directory} is a SavedModel without variables: '
                              f'{prefix}.index does not exist')
    return prefix


_CHECKPOINT_WANTED = ("give a checkpoint's prefix (PREFIX of PREFIX.index and "
                      "PREFIX.data-*) or its directory")


def _not_a_checkpoint(path: str) -> str:
    """What the existing file ``path`` is, since it is not a checkpoint."""
    head = _head(path)
    if head.startswith(b'\x89HDF\r\n\x1a\n'):
        what = ('a Keras weights file (HDF5)' if path.endswith('.weights.h5')
                else 'an HDF5 file (Keras saves weights in this format)')
        return (f'{path} is {what}, not a TensorFlow checkpoint; '
                f'load it in Keras with model.load_weights({path!r})')
    if head.startswith(b'PK\x03\x04') and path.endswith('.keras'):
        return (f'{path} is a Keras model archive (zip), not a TensorFlow checkpoint; '
                f'load it with keras.models.load_model({path!r})')
    if _basename(path) == 'checkpoint':
        return (f"{path} is TensorFlow's checkpoint state file, not a checkpoint; "
                f'give its directory {_dirname(path)!r} for the latest checkpoint')
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


# -- reading -------------------------------------------------------------------


def _first_line(error: BaseException) -> str:
    text = getattr(error, 'message', None) or str(error) or type(error).__name__
    return text.strip().splitlines()[0]


@dataclass(frozen=True)
class CheckpointIndex:
    """A checkpoint's keys with their shapes and dtypes, read from its index
    file, kept in the reader's own terms (shapes as lists of ints, dtypes as
    ``DataType`` enums) so that no per-key conversion is paid to compare."""

    shapes: dict[str, list[int]]
    dtypes: dict[str, int]

    def __len__(self) -> int:
        return len(self.shapes)

    def dtype_names(self, keys) -> list[str]:
        names = {enum: _dtype_name(enum) for enum in set(self.dtypes.values())}
        return [names[self.dtypes[key]] for key in keys]


def read_index(prefix: str) -> CheckpointIndex:
    """Shapes and dtypes of every key in the checkpoint, from its index only."""
    try:
        reader = tf.compat.v1.train.NewCheckpointReader(prefix)
        shapes = reader.get_variable_to_shape_map()
        dtypes = _dtype_enums(reader)
    except Exception as err:  # DataLossError, OutOfRangeError, IndexError, ...
        raise CheckpointError(
            f'cannot read checkpoint index {prefix}.index: it is damaged or not a '
            f'checkpoint ({type(err).__name__}: {_first_line(err)})') from None
    shapes.pop(OBJECT_GRAPH_KEY, None)
    dtypes.pop(OBJECT_GRAPH_KEY, None)
    return CheckpointIndex(shapes, dtypes)


@functools.lru_cache(maxsize=None)
def _dtype_name(enum: int) -> str:
    return tf.dtypes.as_dtype(enum).base_dtype.name


def _dtype_enums(reader) -> dict[str, int]:
    """Key -> ``DataType`` enum. ``get_variable_to_dtype_map`` wraps the
    reader's enum map in a new ``DType`` per key, which dominates reading a
    large index; the enum map it wraps is used directly where it exists."""
    enums = getattr(reader, '_GetVariableToDataTypeMap', None)
    if enums is None:
        return {k: v.as_datatype_enum for k, v in reader.get_variable_to_dtype_map().items()}
    return enums()


def read_values(prefix: str, keys) -> Iterator[np.ndarray | None]:
    """The tensor stored under each of ``keys`` (None for a None key), read
    from the data files as they are asked for: a consumer that keeps only a
    summary of each never holds the whole checkpoint in memory."""
    try:
        reader = tf.compat.v1.train.NewCheckpointReader(prefix)
    except Exception as err:
        raise _damaged_data(prefix, err) from None
    for key in keys:
        if key is None:
            yield None
            continue
        try:
            value = reader.get_tensor(key)
        except MemoryError:
            raise
        except Exception as err:  # DataLossError, OutOfRangeError, ...: damaged files
            raise _damaged_data(prefix, err) from None
        yield value


def _damaged_data(prefix: str, err: BaseException) -> CheckpointError:
    files = ', '.join(gfile.glob(prefix + '.data-*-of-*')) or f'{prefix}.data-*'
    return CheckpointError(
        f'checkpoint data is damaged or truncated: {files} '
        f'({type(err).__name__}: {_first_line(err)})')


def graph_name(key: str) -> str:
    """The graph variable name a checkpoint key is compared with."""
    return key[:-len(OBJECT_VALUE_SUFFIX)] if key.endswith(OBJECT_VALUE_SUFFIX) else key


# -- renaming (--map) ------------------------------------------------------------


def parse_mapping(pairs) -> dict[str, str]:
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
    (the longest matching entry wins)."""
    for old in sorted(mapping, key=len, reverse=True):
        new = mapping[old]
        if not old:
            return f'{new}/{name}'
        if name == old:
            return new or name
        if name.startswith(old + '/'):
            rest = name[len(old) + 1:]
            return f'{new}/{rest}' if new else rest
    return name


# -- comparing with the graph ------------------------------------------------------


#: What a ``Saver``'s ``var_list`` maps a key to: a variable, or the parts
#: of a partitioned one (saved and restored as one tensor, slice by slice).
Saveable = Union[tf.Variable, list]


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
    status: str

    def describe(self) -> str:
        where = self.key if self.key is not None else self.name
        if self.key is not None and self.name != self.key:
            where = f'{self.key} -> {self.name}'
        if self.status == SHAPE_MISMATCH:
            return f'{where}: shape {self.shape} in checkpoint, {self.record.shape} in graph'
        if self.status == DTYPE_MISMATCH:
            return f'{where}: dtype {self.dtype} in checkpoint, {self.record.dtype} in graph'
        return f'{where}: {self.status}'


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


def graph_index(groups: list[tuple[VariableRecord, tuple[tf.Variable, ...]]]) -> GraphIndex:
    """Index logical variables (each record with its parts, see
    :meth:`VariableTracker.groups`) for :func:`compare`."""
    by_name = sorted(groups, key=lambda pair: pair[0].name)
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
        g is None or g == c for g, c in zip(graph_shape, ckpt_shape))


def _status(record: VariableRecord, shape: tuple, dtype: str) -> str:
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
    status: list[str]
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
                in zip(self.name, self.key, self.shape, self.dtype, self.status)]


def _without_bookkeeping(keys: list[str], names: list[str],
                         graph_shapes: Mapping) -> tuple[list[str], list[str]]:
    """``keys`` and their graph ``names`` less the bookkeeping keys of a
    ``tf.train.Checkpoint``, unless the graph has a variable of that name."""
    if BOOKKEEPING_KEYS.isdisjoint(keys):
        return keys, names
    kept = [(key, name) for key, name in zip(keys, names)
            if key not in BOOKKEEPING_KEYS or name in graph_shapes]
    return [key for key, _ in kept], [name for _, name in kept]


def compare(index: CheckpointIndex, graph: GraphIndex,
            mapping: dict | None = None) -> Comparison:
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
    status = [MISSING_IN_GRAPH if name not in graph_shapes
              else MATCH if graph_shapes[name] == shapes[key] and graph_dtypes[name] == dtypes[key]
              else None
              for name, key in zip(names, keys)]
    key_shapes = [tuple(shapes[k]) for k in keys]
    key_dtypes = index.dtype_names(keys)
    if None in status:  # a shape or dtype differs, or a dimension is unknown in the graph
        status = [_status(graph.records[name], shape, dtype) if s is None else s
                  for name, shape, dtype, s in zip(names, key_shapes, key_dtypes, status)]
    found = set(names)
    if len(found) < len(names):  # two keys for one variable: the first one counts
        found = set()
        status = [MISSING_IN_GRAPH if name in found else (found.add(name) or s)
                  for name, s in zip(names, status)]
    found.intersection_update(graph_shapes)
    lacking = sorted(graph_shapes.keys() - found) if len(found) < len(graph_shapes) else []
    if not lacking and names is keys:  # in name order already: the keys are sorted
        return Comparison(names, list(keys), key_shapes, key_dtypes, status, graph)
    records = [graph.records[name] for name in lacking]
    columns = [names + lacking, keys + [None] * len(lacking),
               key_shapes + [r.shape for r in records], key_dtypes + [r.dtype for r in records],
               status + [MISSING_IN_CHECKPOINT] * len(lacking)]
    # A stable sort by name: the keys of one name stay in key order.
    order = sorted(range(len(columns[0])), key=columns[0].__getitem__)
    return Comparison(*[list(map(column.__getitem__, order)) for column in columns],
                      graph)


# -- results -------------------------------------------------------------------------


def _human(nbytes: int) -> str:
    if nbytes < 1000:
        return f'{nbytes} bytes'
    size = nbytes / 1000
    for unit in ('KB', 'MB'):
        if size < 1000:
            return f'{size:.1f} {unit}'
        size /= 1000
    return f'{size:.1f} GB'


@dataclass
class SaveResult:
    prefix: str
    variables: int
    nbytes: int
    replaced: bool = False
    deleted: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        what = 'variable' if self.variables == 1 else 'variables'
        line = f'Saved {self.variables} {what} ({_human(self.nbytes)}) to {self.prefix}'
        if self.replaced:
            line += ', replacing the earlier save of the same variables'
        if self.deleted:
            line += f'; removed {len(self.deleted)} older ({", ".join(self.deleted)})'
        return line + '.'


@dataclass
class RestoreResult:
    prefix: str
    restored: list[str]
    skipped: list[Entry] = field(default_factory=list)

    def __str__(self) -> str:
        what = 'variable' if len(self.restored) == 1 else 'variables'
        line = f'Restored {len(self.restored)} {what} from {self.prefix}.'
        if self.skipped:
            line += f' Skipped {len(self.skipped)}: ' + '; '.join(e.describe() for e in self.skipped) + '.'
        return line


@dataclass
class CheckpointInfo:
    prefix: str
    step: int | None
    saved_at: datetime.datetime | None
    size_bytes: int
    variables: int | None
    latest: bool


# -- listing -------------------------------------------------------------------------


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
    present = [p for p in prefixes if _exists(p)]
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
            size_bytes=_size(prefix) if prefix in present else 0, variables=count,
            latest=prefix == latest))
    return infos


# -- saving and restoring ----------------------------------------------------------------


@contextlib.contextmanager
def quiet_tf_logging():
    """Hold back TensorFlow's INFO and deprecation lines: the result says it all."""
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel('ERROR')
    try:
        yield
    finally:
        logger.setLevel(level)


@contextlib.contextmanager
def _interrupts_deferred() -> Iterator[None]:
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


def _temporary_prefix(target: str) -> str:
    """Where a save of ``target`` is written before it is committed: a hidden
    directory beside it, which no ``*.index`` glob of the directory sees."""
    directory, name = _dirname(target), _basename(target)
    return join(join(directory, f'.{name}{_TEMP_MARK}{uuid.uuid4().hex}'), name)


def _commit(written: str, target: str) -> None:
    """Move the checkpoint at ``written`` to ``target`` by rename. The
    ``.index`` file is what marks a checkpoint as there, so the old one's goes
    first and the new one's last: at no moment does ``target.index`` sit
    beside data files of another save."""
    new = {path[len(written):]: path for path in checkpoint_files(written)}
    if _exists(target):
        gfile.remove(target + '.index')
    for path in checkpoint_files(target):  # the rest of an earlier save
        if path[len(target):] not in new:
            gfile.remove(path)
    for suffix, path in new.items():
        if suffix != '.index':
            gfile.rename(path, target + suffix, overwrite=True)
    gfile.rename(new['.index'], target + '.index', overwrite=True)


def _remove_directory(directory: str) -> None:
    try:
        if gfile.exists(directory):
            gfile.rmtree(directory)
    except (tf.errors.OpError, OSError):
        pass  # a leftover hidden directory is harmless; the save's own error matters


def _interrupted_save(target: str, committed: bool) -> str:
    """What an interrupted save of ``target`` left on disk, in one line."""
    if committed:
        return f'save interrupted once it was complete: {target} is saved and is the latest'
    try:
        latest = latest_in(_dirname(target))
    except CheckpointError:
        return 'save interrupted: nothing was written'
    return f'save interrupted: nothing was written; {latest} is still the latest'


class Checkpointer:
    """Saves and restores a workspace's variables, reusing its savers."""

    def __init__(self, tracker: VariableTracker):
        self.tracker = tracker
        self.workspace = tracker.workspace
        self._savers: dict[tuple, tf.compat.v1.train.Saver] = {}
        self._graph_indexes: list[tuple[list[int], GraphIndex]] = []
        self.workspace.on_reset(self._forget)

    def _forget(self, workspace) -> None:
        """Drop what served the old graph; its savers and indexes hold its variables."""
        self._savers.clear()
        self._graph_indexes = []

    def _saver(self, var_list) -> tf.compat.v1.train.Saver:
        """A Saver for exactly ``var_list`` (a list, or a dict key -> variable),
        built once; building one adds save/restore ops to the graph."""
        items = var_list.items() if isinstance(var_list, dict) else enumerate(var_list)
        key = tuple(sorted((str(k), id(v)) for k, v in items))
        saver = self._savers.get(key)
        if saver is None:
            with self.workspace.graph.as_default():
                saver = tf.compat.v1.train.Saver(
                    var_list=var_list, max_to_keep=None, save_relative_paths=True)
            self._savers[key] = saver
        return saver

    def save(self, prefix: str, *, step: int | None = None, pattern: str | None = None,
             keep: int = 5) -> SaveResult:
        """Write the variables (those whose name matches ``pattern``) to
        ``prefix[-step]``, record it in the directory's state file as the
        latest, and keep the newest ``keep`` checkpoints of ``prefix`` (0: all).

        The files are written in a hidden directory beside the target and
        moved into place by rename, as TensorFlow writes its state file: a
        save that is interrupted (:class:`SaveInterrupted`) or fails leaves
        the earlier checkpoints as they were, and a killed one never leaves a
        checkpoint that looks complete. Ctrl-C waits for the short rename
        step, which it would otherwise cut in two."""
        ws = self.workspace
        base = normalize_prefix(prefix)
        target = base if step is None else f'{base}-{step}'
        chosen = [(record, parts) for record, parts in self.tracker.groups()
                  if pattern is None or fnmatch.fnmatchcase(record.name, pattern)]
        if not chosen:
            raise CheckpointError('nothing to save: ' + (
                f'no variable matches {pattern!r}' if pattern else 'the graph has no variables'))
        # A partitioned variable's parts: Saver writes them as one tensor.
        variables = [part for _, parts in chosen for part in parts]
        values = dict(zip(map(id, variables), ws.initialized(variables)))
        missing = [record.name for record, parts in chosen
                   if not all(values[id(part)] for part in parts)]
        if missing:
            raise CheckpointError(
                f'cannot save {", ".join(missing)}: not initialized in this session')
        replaced = self._check_overwrite(target, variables)
        directory = _dirname(target)
        written = _temporary_prefix(target)
        committed = False
        try:
            gfile.makedirs(_dirname(written))
            saver = self._saver(variables)
            with ws.graph.as_default(), quiet_tf_logging():  # else Saver goes eager
                saver.save(ws.session, written, write_state=False)
            with _interrupts_deferred():
                _commit(written, target)
                deleted = self._update_state(directory, base, target, keep)
                committed = True
        except (tf.errors.OpError, OSError, ValueError) as err:
            raise CheckpointError(
                f'cannot write checkpoint {target}: {_first_line(err)}') from None
        except KeyboardInterrupt:
            raise SaveInterrupted(_interrupted_save(target, committed)) from None
        finally:
            _remove_directory(_dirname(written))
        return SaveResult(target, len(chosen), _size(target), replaced, deleted)

    def _check_overwrite(self, target: str, variables) -> bool:
        """True if ``target`` holds a checkpoint of these very variables (a
        re-save); an error if it holds anything else."""
        if not _exists(target):
            return False
        try:
            index = read_index(target)
        except CheckpointError:
            index = None
        same = index is not None and all(
            status == MATCH for status in compare(index, self.graph_index(variables)).status)
        if not same:
            raise CheckpointError(
                f'{target} already holds a different checkpoint; save under another '
                'prefix or --step, or delete its files first')
        return True

    def _update_state(self, directory: str, base: str, target: str, keep: int) -> list[str]:
        """Make ``target`` the latest in the state file and delete the oldest
        checkpoints of the same prefix beyond ``keep``; return those deleted."""
        state = _state(directory)
        listed = [normalize_prefix(p) for p in (state.all_model_checkpoint_paths if state else ())]
        listed = [p for p in dict.fromkeys(listed) if p != target and _exists(p)]
        family = re.compile(re.escape(base) + r'(-\d+)?$')
        ours = [p for p in set(listed) | set(_prefixes_in(directory))
                if family.match(p) and p != target]
        ours = _oldest_first(ours, state)
        deleted = ours[:max(0, len(ours) - (keep - 1))] if keep > 0 else []
        kept = [p for p in listed if p not in deleted]
        # Timestamps too: where the file system keeps no modification time
        # (ram://), they are how %ckpts knows when each one was saved.
        timestamps = _state_timestamps(state)
        times = [_saved_seconds(p, timestamps) or 0.0 for p in kept] + [time.time()]
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

    def graph_index(self, variables=None) -> GraphIndex:
        """The graph's variables (or ``variables``) indexed for :func:`compare`;
        kept until they change, so repeated inspections and restores of a
        large graph compare without walking it again."""
        variables = self.workspace.variables() if variables is None else list(variables)
        # A cached index holds its variables, so no other object can take
        # their ids while it is cached: equal ids are the same variables.
        # A list compared, not a tuple hashed as a dict key, which measured
        # slower for 10,000 variables. The two most recently used are kept:
        # all variables, and the --vars subset a re-save compares against.
        ids = list(map(id, variables))
        for i, (known, index) in enumerate(self._graph_indexes):
            if known == ids:
                self._graph_indexes.insert(0, self._graph_indexes.pop(i))
                return index
        index = graph_index(self.tracker.groups(variables))
        self._graph_indexes = [(ids, index), *self._graph_indexes[:1]]
        return index

    def compare(self, prefix: str, mapping: dict | None = None) -> Comparison:
        """The checkpoint at ``prefix`` against the graph, key by key."""
        return compare(read_index(prefix), self.graph_index(), mapping)

    def restore(self, prefix: str, *, mapping: dict | None = None,
                allow_missing: bool = False) -> RestoreResult:
        """Assign the checkpoint's values to the graph's variables.

        Every key, shape and dtype is checked first; on any mismatch nothing
        is assigned and the error lists each problem, unless
        ``allow_missing``, which restores the matching subset."""
        entries = self.compare(prefix, mapping).entries()
        problems = [e for e in entries if e.status != MATCH]
        matched = [e for e in entries if e.status == MATCH]
        if problems and not allow_missing:
            raise CheckpointError(
                f'{prefix} does not fit the graph; nothing was restored:\n'
                + '\n'.join('  ' + e.describe() for e in problems)
                + '\nRename with --map OLD=NEW (checkpoint scope = graph scope), or '
                  'restore the matching variables only with --allow-missing.')
        if not matched:
            raise CheckpointError(f'nothing to restore: no key of {prefix} matches a graph variable')
        saver = self._saver({e.key: e.variable for e in matched})
        try:
            with self.workspace.graph.as_default(), quiet_tf_logging():
                saver.restore(self.workspace.session, prefix)
        except Exception as err:
            # One RestoreV2 op reads every tensor before any assignment runs,
            # so a damaged data file leaves all variables as they were.
            raise _damaged_data(prefix, err) from None
        self.workspace.mark_initialized(
            [part for e in matched for part in saveable_parts(e.variable)])
        return RestoreResult(prefix, [e.name for e in matched], problems)
