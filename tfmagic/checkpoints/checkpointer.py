"""The :class:`Checkpointer`: saves and restores a workspace's variables,
checked against the checkpoint first, with savers built once per variable set."""

from __future__ import annotations

import fnmatch
import os
import tempfile
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

import tensorflow as tf

from ..tracking import VariableTracker
from ..wording import first_line, human_bytes, plural
from ..workspace import OWN_SCOPE, ClusterUnreachableError, Workspace
from .automap import AMBIGUOUS, CheckpointMap, Placement, auto_map
from .comparison import (
    MATCH,
    MISSING_IN_CHECKPOINT,
    Comparison,
    Entry,
    GraphIndex,
    Saveable,
    compare,
    graph_index,
    map_name,
    saveable_parts,
)
from .convert import ConvertResult, destination, write_checkpoint, write_keras
from .errors import CheckpointError, SaveInterrupted, quiet_tf_logging
from .files import (
    commit,
    dirname,
    exists,
    for_tasks,
    interrupted_save,
    interrupts_deferred,
    normalize_prefix,
    remove_directory,
    size_of,
    temporary_prefix,
    unreachable_by_tasks,
    update_state,
)
from .index import CheckpointIndex, damaged_data, graph_name, read_index
from .keras_files import keras_layout, keras_state
from .live import keras_models, keras_order, layer_order, object_paths
from .sources import Source, as_source

gfile = tf.io.gfile

# -- results -------------------------------------------------------------------------


@dataclass
class SaveResult:
    prefix: str
    variables: int
    nbytes: int
    replaced: bool = False
    deleted: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        line = (f'Saved {plural(self.variables, "variable")} ({human_bytes(self.nbytes)}) '
                f'to {self.prefix}')
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
    #: Variables the checkpoint was never meant to hold (no key maps to
    #: them under --map auto; a Keras model's metrics), left as they were.
    kept: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        line = f'Restored {plural(len(self.restored), "variable")} from {self.prefix}.'
        if self.skipped:
            skipped = '; '.join(e.describe() for e in self.skipped)
            line += f' Skipped {len(self.skipped)}: {skipped}.'
        if self.kept:
            shown = ', '.join(self.kept[:3]) + (', ...' if len(self.kept) > 3 else '')
            line += (f' {plural(len(self.kept), "other variable")} ({shown}) '
                     f'{"has" if len(self.kept) == 1 else "have"} no key in it and kept '
                     f'{"its value" if len(self.kept) == 1 else "their values"}.')
        return line


# -- saving and restoring ----------------------------------------------------------------


class Checkpointer:
    """Saves and restores a workspace's variables, reusing its savers."""

    def __init__(self, tracker: VariableTracker,
                 namespace: Callable[[], Mapping[str, Any]] = dict):
        self.tracker = tracker
        self.workspace = tracker.workspace
        #: The notebook's names: the live objects whose structure places a
        #: checkpoint's keys (see :mod:`.live`).
        self.namespace = namespace
        self._savers: dict[tuple, tf.compat.v1.train.Saver] = {}
        self._graph_indexes: list[tuple[list[int], GraphIndex]] = []
        self.workspace.on_reset(self._forget)

    def _forget(self, workspace: Workspace) -> None:
        """Drop what served the old graph; its savers and indexes hold its variables."""
        self._savers.clear()
        self._graph_indexes = []

    def _saver(self, var_list: list[tf.Variable] | dict[str, Saveable]
               ) -> tf.compat.v1.train.Saver:
        """A Saver for exactly ``var_list`` (a list, or a dict key -> variable),
        built once; building one adds save/restore ops to the graph. In eager
        mode it builds none, and is not kept: it would keep the variables
        alive after the user dropped them."""
        if self.workspace.eager:
            with quiet_tf_logging():  # eagerly, Saver warns that it is deprecated
                return tf.compat.v1.train.Saver(var_list=var_list, max_to_keep=None,
                                                save_relative_paths=True)
        items = var_list.items() if isinstance(var_list, dict) else enumerate(var_list)
        key = tuple(sorted((str(k), id(v)) for k, v in items))
        saver = self._savers.get(key)
        if saver is None:
            with self.workspace.graph.as_default():
                # On a cluster, one data file per device holding variables,
                # each written by its task; in process, one file.
                saver = tf.compat.v1.train.Saver(
                    var_list=var_list, max_to_keep=None, save_relative_paths=True,
                    sharded=self.workspace.remote, name=f'{OWN_SCOPE}/save')
            self._savers[key] = saver
        return saver

    def _in_graph(self) -> AbstractContextManager:
        """The workspace's graph as the default, in graph mode; in eager
        mode a Saver works eagerly, on the variables themselves."""
        return nullcontext() if self.workspace.eager else self.workspace.graph.as_default()

    def _session(self) -> tf.compat.v1.Session | None:
        return None if self.workspace.eager else self.workspace.session

    def _path_for_session(self, path: str) -> str:
        """``path`` as the session's ops must be given it (see :func:`for_tasks`)."""
        return for_tasks(path) if self.workspace.remote else path

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
        self._path_for_session(target)  # refuses one the tasks cannot reach, before any work
        # Checked before any variable is held here: a traceback keeps this
        # frame, and the variable the user then drops, alive.
        same = [name for name in (self.tracker.same_names() if ws.eager else ())
                if pattern is None or fnmatch.fnmatchcase(name, pattern)]
        if same:
            raise CheckpointError(
                f'cannot save two variables under one name: {", ".join(same)} (a checkpoint '
                'key is a name; eager TensorFlow does not make names unique). Rename one, '
                'drop the old one, or save the others with --vars')
        chosen = [(record, parts) for record, parts in self.tracker.groups()
                  if pattern is None or fnmatch.fnmatchcase(record.name, pattern)]
        if not chosen:
            raise CheckpointError('nothing to save: ' + (
                f'no variable matches {pattern!r}' if pattern else 'the graph has no variables'))
        # A partitioned variable's parts: Saver writes them as one tensor.
        variables = [part for _, parts in chosen for part in parts]
        values = dict(zip(map(id, variables), ws.initialized(variables), strict=True))
        missing = [record.name for record, parts in chosen
                   if not all(values[id(part)] for part in parts)]
        if missing:
            raise CheckpointError(
                f'cannot save {", ".join(missing)}: not initialized in this session')
        replaced = self._check_overwrite(target, variables)
        directory = dirname(target)
        written = temporary_prefix(target)
        committed = False
        try:
            gfile.makedirs(dirname(written))
            saver = self._saver({record.name: parts[0] for record, parts in chosen}
                                if ws.eager else variables)
            with self._in_graph(), quiet_tf_logging():  # else Saver goes eager
                saver.save(self._session(), self._path_for_session(written), write_state=False,
                           write_meta_graph=not ws.eager)
            if ws.remote and not exists(written):
                raise unreachable_by_tasks(target, 'they wrote the files where this notebook '
                                                   'does not see them')
            with interrupts_deferred():
                commit(written, target)
                deleted = update_state(directory, base, target, keep)
                committed = True
        except ClusterUnreachableError:
            raise
        except (tf.errors.NotFoundError, tf.errors.PermissionDeniedError) as err:
            if ws.remote:
                raise unreachable_by_tasks(target, first_line(err)) from None
            raise CheckpointError(f'cannot write checkpoint {target}: {first_line(err)}') from None
        except (tf.errors.OpError, OSError, ValueError) as err:
            raise CheckpointError(
                f'cannot write checkpoint {target}: {first_line(err)}') from None
        except KeyboardInterrupt:
            raise SaveInterrupted(interrupted_save(target, committed)) from None
        finally:
            remove_directory(dirname(written))
        return SaveResult(target, len(chosen), size_of(target), replaced, deleted)

    def _check_overwrite(self, target: str, variables: list[tf.Variable]) -> bool:
        """True if ``target`` holds a checkpoint of these very variables (a
        re-save); an error if it holds anything else."""
        if not exists(target):
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

    def graph_index(self, variables: Iterable[tf.Variable] | None = None) -> GraphIndex:
        """The graph's variables (or ``variables``) indexed for :func:`compare`;
        kept until they change, so repeated inspections and restores of a
        large graph compare without walking it again."""
        variables = self.workspace.variables() if variables is None else list(variables)
        # A cached index holds its variables, so no other object can take
        # their ids while it is cached: equal ids are the same variables.
        # A list compared, not a tuple hashed as a dict key, which measured
        # slower for 10,000 variables. The two most recently used are kept:
        # all variables, and the --vars subset a re-save compares against.
        if self.workspace.eager:  # not kept: it would keep dropped variables alive
            return graph_index(self.tracker.groups(variables))
        ids = list(map(id, variables))
        for i, (known, index) in enumerate(self._graph_indexes):
            if known == ids:
                self._graph_indexes.insert(0, self._graph_indexes.pop(i))
                return index
        index = graph_index(self.tracker.groups(variables))
        self._graph_indexes = [(ids, index), *self._graph_indexes[:1]]
        return index

    def _check_one_variable_per_key(self, index: CheckpointIndex,
                                    mapping: dict[str, str]) -> None:
        """Eager mode: refuse to restore a key into a name two live
        variables have (which one would take the value?)."""
        wanted = {map_name(graph_name(key), mapping) for key in index.shapes}
        same = [name for name in self.tracker.same_names() if name in wanted]
        if same:
            raise CheckpointError(
                f'cannot restore into two variables of one name: {", ".join(same)} (eager '
                'TensorFlow does not make names unique). Drop the old one (del, or rebind its '
                'name) and restore again')

    def placed_keys(self, source: Source, index: CheckpointIndex
                    ) -> tuple[str | None, dict[str, Placement]]:
        """The keys of ``source`` that the notebook's live objects place:
        a Keras file's by the Keras model that explains them (and its name),
        else by its layers' names and order; a TF2 object-based
        checkpoint's by the object graphs."""
        namespace = self.namespace()
        if not source.keras:
            return None, object_paths(index, namespace, self.tracker.known_name)
        model, placed = keras_order(index, namespace, self.tracker.known_name)
        if placed:
            return model, placed
        # No live model: the file's layer names against the workspace's scopes.
        names = [self.tracker.known_name(var) for var in self.workspace.variables()]
        return None, layer_order(index, [name for name in names if name is not None],
                                 self.graph_index().shapes)

    def _mapping_for(self, source: Source, index: CheckpointIndex,
                     mapping: dict[str, str] | None, *, strict: bool = True) -> dict[str, str]:
        """``mapping`` (of the file's own keys) over the names a live Keras
        model gives a Keras file's keys: without a model its keys are the file's own (``--map
        auto`` also reads its layers' names). Where several models fit the
        file alike, ``strict`` refuses; otherwise their keys stay the file's."""
        if not source.keras:
            return mapping or {}
        models, placed = keras_order(index, self.namespace(), self.tracker.known_name)
        if strict and any(len(names) > 1 for names, _ in placed.values()):
            raise CheckpointError(
                f'{source} fits the Keras models {models} alike, so which one it is for is not '
                f'clear: drop the others, or load it into the one you mean with '
                f'MODEL.load_weights({str(source)!r})')
        return {**{key: names[0] for key, (names, _) in placed.items() if len(names) == 1},
                **(mapping or {})}

    def compare(self, source: Source | str,
                mapping: dict[str, str] | None = None) -> Comparison:
        """The checkpoint against the graph, key by key."""
        source = as_source(source)
        index = source.index()
        return compare(index, self.graph_index(),
                       self._mapping_for(source, index, mapping, strict=False))

    def auto_map(self, source: Source | str,
                 index: CheckpointIndex | None = None) -> CheckpointMap:
        """Every key of ``source`` mapped onto the workspace by evidence (see
        :mod:`.automap`); reads only the index (unless given it)."""
        source = as_source(source)
        if index is None:
            index = source.index()
        model, placed = self.placed_keys(source, index)
        found = auto_map(index, self.graph_index(), placed)
        found.placed_by = model
        return found

    def restore(self, source: Source | str, *, mapping: dict[str, str] | None = None,
                auto: bool = False, allow_missing: bool = False) -> RestoreResult:
        """Assign the checkpoint's values to the graph's variables.

        Every key, shape and dtype is checked first; on any mismatch nothing
        is assigned and the error lists each problem, unless
        ``allow_missing``, which restores the matching subset. With
        ``auto``, the keys are mapped by :meth:`auto_map` first, and an
        ambiguous or unmatched one is such a problem."""
        source = as_source(source)
        prefix = source.path
        on_tasks = prefix if source.keras else self._path_for_session(prefix)
        index = source.index()
        optional: set[str] = set()  # variables whose lack of a key is no problem
        if auto:
            found = self.auto_map(source, index)
            unmapped = [row for row in found.problems() if row.key is not None]
            mapping = found.exact_mapping()
            if not found.mapping() and not any(row.status == AMBIGUOUS for row in unmapped):
                raise CheckpointError(
                    f'--map auto found no variable for any key of {prefix}: no name, shape '
                    'and dtype fits a variable of the workspace (%mapckpt shows each key)')
            if unmapped and not allow_missing:
                raise CheckpointError(
                    f'--map auto cannot map all of {prefix}; nothing was restored:\n'
                    + '\n'.join('  ' + row.describe() for row in unmapped)
                    + '\nPass the pairs yourself with --map OLD=NEW (%mapckpt prints the '
                      'ones it found), or restore the mapped variables only with '
                      '--allow-missing.')
            if not found.mapping():
                raise CheckpointError(f'--map auto found no variable for any key of {prefix} '
                                      'that no other variable fits as well (%mapckpt shows '
                                      'each key)')
            # The issue of a migration is the checkpoint's keys: variables no
            # key maps to (an optimizer the old code had not) keep their values.
            optional = {v for k, v in zip(found.key, found.variable, strict=True) if k is None}
        else:
            mapping = self._mapping_for(source, index, mapping)
            if source.keras:
                optional = self._outside_keras_file(mapping)
        if self.workspace.eager:
            self._check_one_variable_per_key(index, mapping)
        entries = compare(index, self.graph_index(), mapping).entries()
        kept = [e.name for e in entries
                if e.status == MISSING_IN_CHECKPOINT and e.name in optional]
        problems = [e for e in entries if e.status != MATCH and e.name not in optional]
        matched = [e for e in entries if e.status == MATCH]
        if problems and not allow_missing:
            raise CheckpointError(
                f'{prefix} does not fit the graph; nothing was restored:\n'
                + '\n'.join('  ' + e.describe() for e in problems)
                + '\nRename with --map OLD=NEW (checkpoint scope = graph scope), or '
                  'restore the matching variables only with --allow-missing.')
        if not matched:
            raise CheckpointError(
                f'nothing to restore: no key of {prefix} matches a graph variable')
        if source.keras:
            self._assign(source, matched)
            return RestoreResult(prefix, [e.name for e in matched], problems, kept)
        var_list: dict[str, Saveable] = {}
        for e in matched:
            assert e.key is not None and e.variable is not None, 'a match has both sides'
            var_list[e.key] = e.variable
        saver = self._saver(var_list)
        try:
            with self._in_graph(), quiet_tf_logging():
                saver.restore(self._session(), on_tasks)
        except ClusterUnreachableError:
            raise
        except (tf.errors.NotFoundError, tf.errors.PermissionDeniedError) as err:
            if not self.workspace.remote:
                raise damaged_data(prefix, err) from None
            raise unreachable_by_tasks(prefix, first_line(err)) from None
        except Exception as err:
            # One RestoreV2 op reads every tensor before any assignment runs,
            # so a damaged data file leaves all variables as they were.
            raise damaged_data(prefix, err) from None
        self.workspace.mark_initialized(
            [part for e in matched for part in saveable_parts(e.variable)])
        return RestoreResult(prefix, [e.name for e in matched], problems, kept)

    def _outside_keras_file(self, mapping: dict[str, str]) -> set[str]:
        """Variables a Keras weight file is not meant to hold: all but those
        the models it was placed on save (a model's metrics, other models)."""
        placed = set(mapping.values())
        saved: set[str] = set()
        for _, model in keras_models(self.namespace()):
            try:
                layout = keras_layout(model)
            except Exception:  # a model Keras cannot walk holds none of the file
                continue
            names = {self.tracker.known_name(getattr(v, '_value', v)) for v in layout.values()}
            if names & placed:
                saved.update(name for name in names if name is not None)
        return set(self.graph_index().names) - saved if saved else set()

    def _names(self, source: Source, index: CheckpointIndex, mapping: dict[str, str] | None,
               auto: bool) -> dict[str, str]:
        """Checkpoint name -> the name it takes: by ``mapping``, or with
        ``auto`` by :meth:`auto_map` (an ambiguous key stops it)."""
        if not auto:
            mapping = self._mapping_for(source, index, mapping)
            return {graph_name(key): map_name(graph_name(key), mapping) for key in index.shapes}
        found = self.auto_map(source, index)
        ambiguous = [row for row in found.problems() if row.status == AMBIGUOUS]
        if ambiguous or not found.mapping():
            raise CheckpointError(
                f'--map auto found no variable for any key of {source}' if not ambiguous else
                '--map auto will not guess; nothing was written:\n'
                + '\n'.join('  ' + row.describe() for row in ambiguous)
                + '\nPass the pairs yourself with --map OLD=NEW (%mapckpt prints the rest).')
        return found.exact_mapping()

    def convert(self, source: Source | str, dest: str, *, mapping: dict[str, str] | None = None,
                auto: bool = False, fmt: str = 'tf', force: bool = False) -> ConvertResult:
        """Write ``source`` to ``dest`` under new keys, tensor by tensor: the
        names ``mapping`` (or ``auto``) gives, as a V2 checkpoint (``tf``;
        keys not renamed keep their own) or as the Keras weight file of the
        live Keras model (``h5``), which must then get every variable."""
        source = as_source(source)
        dest = destination(source, dest, fmt, force)
        index = source.index()
        names = self._names(source, index, mapping, auto)
        keys = sorted(index.shapes)
        if fmt == 'tf':
            plan = [(key, key if names.get(graph_name(key), graph_name(key)) == graph_name(key)
                     else names[graph_name(key)]) for key in keys]
            return write_checkpoint(source, plan, dest)
        return write_keras(source, self._keras_plan(keys, names, index), dest)

    def _keras_plan(self, keys: list[str], names: dict[str, str],
                    index: CheckpointIndex) -> list[tuple[str, str]]:
        """(checkpoint key, Keras key) for every variable of the live Keras
        model the mapped names reach, in Keras's order."""
        targets: dict[str, str] = {}
        for key in keys:
            name = names.get(graph_name(key), graph_name(key))
            if name in targets:
                raise CheckpointError(f'two keys would be written as {name}: {targets[name]} '
                                      f'and {key}; map one of them elsewhere')
            targets[name] = key
        best: tuple[int, str, dict[str, str], set[str]] | None = None
        for model_name, model in keras_models(self.namespace()):
            layout: dict[str, str] = {}
            try:
                state, valued = keras_state(model)
            except Exception:  # a model Keras cannot walk gets none of the file
                continue
            for keras_key, variable in state.items():
                inner = getattr(variable, '_value', variable)
                layout[keras_key] = self.tracker.known_name(inner) or str(variable.path)
            reached = sum(name in targets for name in layout.values())
            if best is None or reached > best[0]:
                best = (reached, model_name, layout, valued)
        if best is None or not best[0]:
            raise CheckpointError(
                '--format h5 writes the weight file of a Keras model, and no live Keras model '
                'gets a variable from this checkpoint' if best else
                '--format h5 writes the weight file of a Keras model: build one in the '
                'notebook first (its variables say where each tensor goes)')
        _, model_name, layout, valued = best
        # An optimizer's state is written only whole: load_weights skips it otherwise.
        if any(layout[key] not in targets for key in valued):
            layout = {key: name for key, name in layout.items() if key not in valued}
        lacking = [name for name in layout.values() if name not in targets]
        if lacking:
            raise CheckpointError(
                f'{model_name}.load_weights would fail: no key of the checkpoint maps to '
                f'{", ".join(lacking)}; map them with --map OLD=NEW or --map auto')
        shapes = self.graph_index().shapes
        for name in layout.values():
            key = targets[name]
            if name in shapes and shapes[name] != list(index.shapes[key]):
                raise CheckpointError(f'{key} -> {name}: shape {tuple(index.shapes[key])} in '
                                      f'the checkpoint, {tuple(shapes[name] or ())} in '
                                      f'{model_name}')
        return [(targets[name], keras_key) for keras_key, name in layout.items()]

    def _assign(self, source: Source, matched: list[Entry]) -> None:
        """Assign the values of a file no Saver reads (a Keras file): all
        are read before any is assigned, so a damaged file changes nothing.
        In graph mode they are first copied, tensor by tensor, into a
        temporary V2 checkpoint, which the variables' Saver restores as it
        restores any checkpoint (partitioned variables included)."""
        if not self.workspace.eager:
            with tempfile.TemporaryDirectory(prefix='tfmagic-restore-') as directory:
                copy = for_tasks(os.path.join(directory, 'copy'))
                write_checkpoint(source, [(e.key, e.key) for e in matched if e.key], copy)
                saver = self._saver({e.key: e.variable for e in matched
                                     if e.key is not None and e.variable is not None})
                try:
                    with self._in_graph(), quiet_tf_logging():
                        saver.restore(self._session(), copy)
                except ClusterUnreachableError:
                    raise
                except tf.errors.OpError as err:  # one op: nothing was assigned
                    raise CheckpointError(f'cannot restore from {source}: '
                                          f'{first_line(err)}') from None
            self.workspace.mark_initialized(
                [part for e in matched for part in saveable_parts(e.variable)])
            return
        values = list(source.values([e.key for e in matched]))
        pieces: list[tuple[tf.Variable, object]] = []
        for entry, value in zip(matched, values, strict=True):
            assert entry.variable is not None and value is not None, 'a match has both sides'
            for part in saveable_parts(entry.variable):
                pieces.append((part, value))
        for part, piece in pieces:
            part.assign(piece)
        self.workspace.mark_initialized([part for part, _ in pieces])
