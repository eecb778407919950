"""Keras 3 weight files: ``.weights.h5`` and the weights inside a ``.keras``
archive, read and written through h5py without building a model.

A Keras weight file keeps each layer's variables at ``PATH/vars/I``:
``layers/dense/vars/0`` is the first variable of the model's first Dense
layer, ``optimizer/vars/3`` the optimizer's fourth. PATH comes from the
model's structure and I from each layer's own variable order, not from any
variable's name, so a file's keys say which variable they hold only against
a model: :func:`keras_layout` asks the model itself, with Keras's own walk.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import tensorflow as tf

from ..wording import first_line
from .errors import CheckpointError
from .index import CheckpointIndex

gfile = tf.io.gfile

HDF5_SIGNATURE = b'\x89HDF\r\n\x1a\n'
ZIP_SIGNATURE = b'PK\x03\x04'
#: Where a ``.keras`` archive keeps its weights.
ARCHIVE_WEIGHTS = 'model.weights.h5'
#: The suffix ``model.load_weights`` and ``save_weights`` require.
WEIGHTS_SUFFIX = '.weights.h5'


def _head(path: str, size: int = 8) -> bytes:
    try:
        with gfile.GFile(path, 'rb') as f:
            return f.read(size)
    except (tf.errors.OpError, OSError):
        return b''


def is_keras_file(path: str) -> bool:
    """Whether ``path`` is an existing Keras weight file: HDF5, or a ``.keras`` zip."""
    if gfile.isdir(path) or not gfile.exists(path):
        return False
    head = _head(path)
    return head.startswith(HDF5_SIGNATURE) or (
        head.startswith(ZIP_SIGNATURE) and path.endswith('.keras'))


@contextlib.contextmanager
def open_weights(path: str) -> Iterator[Any]:
    """The weights of the Keras file at ``path`` as an open ``h5py.File``."""
    import h5py

    with contextlib.ExitStack() as stack:
        try:
            raw = stack.enter_context(gfile.GFile(path, 'rb'))
            if _head(path).startswith(ZIP_SIGNATURE):
                archive = stack.enter_context(zipfile.ZipFile(raw))
                if ARCHIVE_WEIGHTS not in archive.namelist():
                    raise CheckpointError(
                        f'{path} is a Keras archive without weights (no {ARCHIVE_WEIGHTS} '
                        f'in it; it holds {", ".join(archive.namelist()) or "nothing"})')
                raw = stack.enter_context(archive.open(ARCHIVE_WEIGHTS))
            weights = stack.enter_context(h5py.File(raw, 'r'))
        except CheckpointError:
            raise
        except Exception as err:  # OSError from h5py, BadZipFile, ...
            raise CheckpointError(
                f'cannot read Keras weights {path}: it is damaged or not a Keras file '
                f'({type(err).__name__}: {first_line(err)})') from None
        yield weights


def _datasets(weights: Any) -> list[tuple[str, Any]]:
    import h5py

    found: list[tuple[str, Any]] = []
    weights.visititems(lambda name, item: found.append((name, item))
                       if isinstance(item, h5py.Dataset) else None)
    return found


def _dtype_enum(dataset: Any) -> int:
    if dataset.attrs.get('dtype') == 'bfloat16':  # Keras stores bfloat16 as raw bytes
        return tf.bfloat16.as_datatype_enum
    return tf.as_dtype(dataset.dtype).as_datatype_enum


def read_keras_index(path: str) -> CheckpointIndex:
    """Every variable's key (``layers/dense/vars/0``), shape and dtype, from
    the file's metadata; no value is read."""
    with open_weights(path) as weights:
        try:
            datasets = _datasets(weights)
            shapes = {name: list(item.shape) for name, item in datasets}
            dtypes = {name: _dtype_enum(item) for name, item in datasets}
            layer_names = {}
            for group in {name.rpartition('/')[0] for name in shapes}:
                saved_as = weights[group].attrs.get('name') if group else None
                if isinstance(saved_as, bytes):
                    saved_as = saved_as.decode()
                if isinstance(saved_as, str):
                    layer_names[group] = saved_as
        except Exception as err:
            raise CheckpointError(
                f'cannot read Keras weights {path}: it is damaged '
                f'({type(err).__name__}: {first_line(err)})') from None
    return CheckpointIndex(shapes, dtypes, layer_names)


def read_keras_values(path: str, keys: Iterable[str | None]) -> Iterator[np.ndarray | None]:
    """The array stored under each of ``keys`` (None for None), one at a time."""
    with open_weights(path) as weights:
        for key in keys:
            if key is None:
                yield None
                continue
            try:
                dataset = weights[key]
                if dataset.attrs.get('dtype') == 'bfloat16':  # as Keras reads it
                    value = np.array(dataset, dtype=tf.bfloat16.as_numpy_dtype)
                else:
                    value = np.asarray(dataset[()])
            except Exception as err:
                raise CheckpointError(
                    f'cannot read {key} from Keras weights {path}: it is damaged '
                    f'({type(err).__name__}: {first_line(err)})') from None
            yield value


# -- against a live model ---------------------------------------------------------


def keras_layout(model: Any) -> dict[str, Any]:
    """:func:`keras_state` without telling which keys hold values."""
    return keras_state(model)[0]


def keras_state(model: Any) -> tuple[dict[str, Any], set[str]]:
    """Key -> Keras variable, for every variable ``model.save_weights`` would
    write: Keras's own walk over the model, recorded instead of written.
    What is stored as a value (a Keras optimizer stores ``variable.numpy()``
    of each of its variables) is the variable of that position in the
    variables of the model's attribute at that path (``optimizer``); the
    second item names those keys: Keras's ``load_weights`` skips them, with
    a warning, when their count does not fit."""
    from keras.src.saving import saving_lib

    recorded: dict[str, Any] = {}
    stored_as_values: dict[str, list[str]] = {}  # path -> keys of values, not variables

    class RecordingStore(saving_lib.H5IOStore):
        """Takes what a layer's ``save_own_variables`` stores; writes nothing."""

        def __init__(self) -> None:  # no file
            self.path = ''

        def __bool__(self) -> bool:
            return True

        def make(self, path: str, metadata: dict | None = None) -> RecordingStore:
            self.path = path
            return self

        def __setitem__(self, key: str, value: Any) -> None:
            if hasattr(value, 'path'):  # a variable, not a value
                recorded[f'{self.path}/vars/{key}' if self.path else f'vars/{key}'] = value
            else:
                stored_as_values.setdefault(self.path, []).append(key)

    from tensorflow.python.eager import context

    # Eagerly, as the model's variables were made: an optimizer reads their
    # values, which a graph-mode cell's default graph would refuse.
    with context.eager_mode():
        saving_lib._save_state(model, weights_store=RecordingStore(), assets_store=None,
                               inner_path='', visited_saveables=set())
    # A Keras optimizer stores its variables' values (variable.numpy()), in
    # the order of its variables; it is the model's attribute at that path.
    valued: set[str] = set()
    for path, keys in stored_as_values.items():
        owner = model
        for part in path.split('/') if path else ():
            owner = getattr(owner, part, None)
        variables = list(getattr(owner, 'variables', None) or ())
        for key in keys:
            if key.isdigit() and int(key) < len(variables):
                full = f'{path}/vars/{key}' if path else f'vars/{key}'
                recorded[full] = variables[int(key)]
                valued.add(full)
    return recorded, valued


# -- writing --------------------------------------------------------------------------


def write_keras_weights(path: str, items: Iterable[tuple[str, np.ndarray]]) -> None:
    """Write ``(key, array)`` pairs, one at a time, as a Keras weight file at
    ``path``; a file system h5py cannot write to (``ram://``, ``gs://``) gets
    a local file copied there."""
    import h5py

    local = path if '://' not in path else None
    with contextlib.ExitStack() as stack:
        if local is None:
            directory = stack.enter_context(tempfile.TemporaryDirectory())
            local = os.path.join(directory, 'weights.h5')
        with h5py.File(local, 'w') as weights:
            for key, value in items:
                group, _, name = key.rpartition('/')
                target = weights.require_group(group) if group else weights
                dataset = target.create_dataset(name, data=value)
                if value.dtype == tf.bfloat16.as_numpy_dtype:  # as Keras writes it
                    dataset.attrs['dtype'] = 'bfloat16'
        if local != path:
            with open(local, 'rb') as source, gfile.GFile(path, 'wb') as out:
                shutil.copyfileobj(source, out, 16 << 20)
