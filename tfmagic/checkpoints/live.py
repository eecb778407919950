"""Where the user's live objects put their variables in a checkpoint: the
object paths a ``tf.train.Checkpoint`` of a model writes, and the keys of a
Keras weight file. These are the structural tiers of :mod:`.automap`:
evidence from the objects themselves, not from names.

The objects are the ones the notebook's names hold (``model``, ``net``,
``optimizer``, ...): a checkpoint does not say which object it was made
from, so each root of the checkpoint is matched with the live object that
explains most of its keys, and used only when no other explains as many.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import tensorflow as tf

from .automap import How, Placement
from .index import OBJECT_VALUE_SUFFIX, CheckpointIndex, graph_name
from .keras_files import keras_layout

#: Name of a variable in the workspace, for a TensorFlow variable; None if
#: the workspace does not know it.
NameOf = Callable[[tf.Variable], 'str | None']


def _tf_variable(obj: Any) -> tf.Variable | None:
    """The TensorFlow variable of a variable-like object (a Keras 3
    variable holds one)."""
    if isinstance(obj, tf.Variable):
        return obj
    inner = getattr(obj, '_value', None)
    return inner if isinstance(inner, tf.Variable) else None


def _is_variable(obj: Any) -> bool:
    return _tf_variable(obj) is not None or type(obj).__name__ == 'Variable'


def trackable_roots(namespace: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """The trackable objects (models, layers, modules, optimizers,
    checkpoints) the notebook's public names hold, each once."""
    trackable = tf.__internal__.tracking.Trackable
    seen: set[int] = set()
    roots = []
    for name, obj in list(namespace.items()):
        if name.startswith('_') or id(obj) in seen:
            continue
        if isinstance(obj, trackable) and not _is_variable(obj):
            seen.add(id(obj))
            roots.append((name, obj))
    return roots


def keras_models(namespace: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """The built Keras models the notebook's public names hold, each once."""
    keras = sys.modules.get('keras')
    if keras is None:
        return []
    seen: set[int] = set()
    models = []
    for name, obj in list(namespace.items()):
        if (not name.startswith('_') and isinstance(obj, keras.Model)
                and getattr(obj, 'built', False) and id(obj) not in seen):
            seen.add(id(obj))
            models.append((name, obj))
    return models


#: A live object as the explanation of a checkpoint's keys: its name in the
#: notebook, key -> workspace variable it has there, and how many of those
#: fit (shape and dtype).
Candidate = tuple[str, dict[str, str], int]


def _best(candidates: Iterable[Candidate]) -> list[Candidate]:
    """The candidates with the most keys that fit: one, or those tied."""
    ranked = sorted(candidates, key=lambda c: -c[2])
    if not ranked or not ranked[0][2]:
        return []
    return [c for c in ranked if c[2] == ranked[0][2]]


def _placements(chosen: list[Candidate], how: How) -> dict[str, Placement]:
    """Key -> the variable each chosen candidate has there."""
    names: dict[str, list[str]] = {}
    for _, placed, _ in chosen:
        for key, var_name in placed.items():
            names.setdefault(key, []).append(var_name)
    return {key: (tuple(dict.fromkeys(found)), how) for key, found in names.items()}


def _fits(index: CheckpointIndex, key: str, variable: tf.Variable) -> bool:
    return (list(variable.shape) == index.shapes[key]
            and variable.dtype.base_dtype.as_datatype_enum == index.dtypes[key])


def object_paths(index: CheckpointIndex, namespace: Mapping[str, Any],
                 name_of: NameOf) -> dict[str, Placement]:
    """Object-based keys (``model/.../.ATTRIBUTES/VARIABLE_VALUE``) -> the
    workspace variable a live object graph has at that path. Each of the
    checkpoint's roots (``model`` in ``tf.train.Checkpoint(model=...)``),
    or the checkpoint as a whole, goes to the live object that has the most
    of its keys."""
    if OBJECT_VALUE_SUFFIX not in '\n'.join(index.shapes):  # one search, not one per key
        return {}
    keys = [key for key in index.shapes if key.endswith(OBJECT_VALUE_SUFFIX)]
    by_root: dict[str, list[str]] = {'': keys}
    for key in keys:
        head, sep, _ = key.partition('/')
        if sep:
            by_root.setdefault(head, []).append(key)
    candidates: dict[str, list[Candidate]] = {}
    for name, root in trackable_roots(namespace):
        at_path = _variables_by_path(root)
        for head, head_keys in by_root.items():
            cut = len(head) + 1 if head else 0
            candidates.setdefault(head, []).append(_placed(
                index, name, {key: at_path.get(graph_name(key)[cut:]) for key in head_keys},
                name_of))
    # Every root's best explanation counts: where two disagree on a key (the
    # checkpoint object of an old model and a new model), it is ambiguous.
    merged: dict[str, list[str]] = {}
    for best in map(_best, candidates.values()):
        for key, (names, _) in _placements(best, 'object path').items():
            merged.setdefault(key, []).extend(names)
    return {key: (tuple(dict.fromkeys(names)), 'object path') for key, names in merged.items()}


def _placed(index: CheckpointIndex, name: str, variables: Mapping[str, tf.Variable | None],
            name_of: NameOf) -> Candidate:
    """The candidate ``name`` whose object puts these ``variables`` at these keys."""
    placed = {}
    fitting = 0
    for key, variable in variables.items():
        var_name = None if variable is None else name_of(variable)
        if var_name is not None:
            placed[key] = var_name
            fitting += _fits(index, key, variable)
    return name, placed, fitting


def _variables_by_path(root: Any) -> dict[str, tf.Variable]:
    """Object path (as a checkpoint of ``root`` writes it) -> variable."""
    from tensorflow.python.checkpoint import graph_view
    from tensorflow.python.trackable import trackable_utils

    try:
        objects, paths = graph_view.ObjectGraphView(root).breadth_first_traversal()
    except Exception:  # an object TensorFlow cannot walk is no evidence
        return {}
    at_path = {}
    for obj in objects:
        variable = _tf_variable(obj)
        if variable is not None and obj in paths:
            at_path[trackable_utils.object_path_to_string(paths[obj])] = variable
    return at_path


def keras_order(index: CheckpointIndex, namespace: Mapping[str, Any],
                name_of: NameOf) -> tuple[str | None, dict[str, Placement]]:
    """Keys of a Keras weight file (``layers/dense/vars/0``) -> the workspace
    variable the live Keras model keeps there, by Keras's own walk over the
    model; and the name of that model (the one that places the most keys;
    models that place as many are all named, and their keys ambiguous)."""
    candidates = []
    for name, model in keras_models(namespace):
        try:
            layout = keras_layout(model)
        except Exception:  # a model Keras cannot walk is no evidence
            continue
        candidates.append(_placed(index, name, {key: _tf_variable(v) for key, v in layout.items()
                                                if key in index.shapes}, name_of))
    best = _best(candidates)
    return ' or '.join(name for name, _, _ in best) or None, _placements(best, 'keras order')


def layer_order(index: CheckpointIndex, names: list[str],
                shapes: Mapping[str, list | None]) -> dict[str, Placement]:
    """Keys of a Keras weight file, without a live model: the I-th key of
    the layer saved as N (``layers/dense/vars/I`` in a group named ``N``)
    -> the I-th variable, in creation order, of the workspace's scope ``N``
    (or ``.../N``). ``names`` are the workspace's variables in creation
    order; a layer name that ends several scopes places a key in each. A
    variable with a sibling of its shape is no evidence (creation order
    need not be Keras's: ``beta`` may come before ``gamma``): the key is
    placed on all of them, ambiguous."""
    by_scope: dict[str, list[str]] = {}
    for name in names:
        by_scope.setdefault(name.rpartition('/')[0], []).append(name)
    found: dict[str, Placement] = {}
    for key in index.shapes:
        group, _, position = key.rpartition('/')
        layer = index.layer_names.get(group)
        if layer is None or not position.isdigit():
            continue
        candidates = tuple(
            name for scope, members in by_scope.items()
            if (scope == layer or scope.endswith('/' + layer)) and int(position) < len(members)
            for name in members
            if shapes.get(name) == shapes.get(members[int(position)]))
        if candidates:
            found[key] = (candidates, 'keras order')
    return found
