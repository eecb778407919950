"""Save, restore, list and inspect checkpoints of a workspace's variables.

The files are exactly what ``tf.compat.v1.train.Saver`` writes (V2 format:
``PREFIX.index``, ``PREFIX.data-*-of-*``, ``PREFIX.meta`` and the directory's
``checkpoint`` state file), so they interoperate both ways with plain TF code.
What this package adds is safety around the Saver:

* a restore is checked key by key -- name (after ``--map`` renaming), shape,
  dtype -- before anything is assigned, because a plain ``Saver.restore`` lets
  resource variables silently take the checkpoint's shape (:mod:`.comparison`);
* keep-last-K counts per prefix (a plain ``Saver(max_to_keep=K)`` also deletes
  checkpoints it saved under other prefixes), and the state file stores paths
  relative to its directory, so a checkpoint folder can be moved (:mod:`.files`);
* a damaged file is reported once, by name, whatever TensorFlow raised, and
  a file that is no checkpoint (Keras, text, ...) is named for what it is;
* a save is written under a temporary name and committed by rename, so an
  interrupted or killed save never leaves a checkpoint that looks complete;
* savers are built once per variable set, so repeated saves and restores add
  no op to the graph (:mod:`.checkpointer`);
* old checkpoints are mapped onto today's variables by evidence -- exact
  names, the live objects' structure, renamed scopes, TF1 names, unique
  shapes -- never by a guess (:mod:`.automap`, :mod:`.live`), and copied
  under new keys tensor by tensor (:mod:`.convert`);
* Keras 3 weight files (``.weights.h5``, ``.keras``) are read and written
  through h5py like checkpoints (:mod:`.keras_files`, :mod:`.sources`).

A partitioned variable is one key, as ``Saver`` writes it, restored into any
partitioning. All paths go through ``tf.io.gfile``; ``ram://``, ``gs://`` and
``s3://`` work, and ``~`` is expanded in local ones. A ``.meta`` graph is
written but never imported.
"""

from .automap import AMBIGUOUS, MAPPED, UNMATCHED, CheckpointMap, MapRow
from .checkpointer import Checkpointer, RestoreResult, SaveResult
from .comparison import (
    DTYPE_MISMATCH,
    MATCH,
    MISSING_IN_CHECKPOINT,
    MISSING_IN_GRAPH,
    SHAPE_MISMATCH,
    Comparison,
    Entry,
    GraphIndex,
    Saveable,
    compare,
    graph_index,
    map_name,
    parse_mapping,
)
from .convert import FORMATS, ConvertResult
from .errors import CheckpointError, SaveInterrupted, quiet_tf_logging
from .files import (
    CheckpointInfo,
    checkpoint_files,
    default_prefix,
    directory_names,
    expand_user,
    gfile,
    join,
    latest_in,
    list_checkpoints,
    normalize_prefix,
    resolve,
)
from .index import (
    OBJECT_GRAPH_KEY,
    OBJECT_VALUE_SUFFIX,
    CheckpointIndex,
    graph_name,
    read_index,
    read_values,
)
from .sources import Source, as_source, resolve_source

__all__ = [
    'Checkpointer', 'SaveResult', 'RestoreResult', 'CheckpointError', 'SaveInterrupted',
    'CheckpointInfo', 'list_checkpoints', 'resolve', 'latest_in', 'join', 'normalize_prefix',
    'expand_user', 'default_prefix', 'directory_names', 'checkpoint_files', 'CheckpointIndex',
    'read_index', 'read_values', 'graph_name', 'OBJECT_GRAPH_KEY', 'OBJECT_VALUE_SUFFIX',
    'parse_mapping', 'map_name', 'compare', 'graph_index', 'Comparison', 'Entry', 'GraphIndex',
    'Saveable', 'MATCH', 'MISSING_IN_GRAPH', 'MISSING_IN_CHECKPOINT', 'SHAPE_MISMATCH',
    'DTYPE_MISMATCH', 'quiet_tf_logging', 'gfile', 'Source', 'as_source', 'resolve_source',
    'CheckpointMap', 'MapRow', 'MAPPED', 'AMBIGUOUS', 'UNMATCHED', 'FORMATS', 'ConvertResult']
