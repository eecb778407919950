"""The :class:`Checkpointer`: saves and restores a workspace's variables,
checked against the checkpoint first, with savers built once per variable set."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field

import tensorflow as tf

from ..tracking import VariableTracker
from ..wording import first_line, human_bytes, plural
from ..workspace import OWN_SCOPE, ClusterUnreachableError, Workspace
from .comparison import (
    MATCH,
    Comparison,
    Entry,
    GraphIndex,
    Saveable,
    compare,
    graph_index,
    map_name,
    saveable_parts,
)
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

    def __str__(self) -> str:
        line = f'Restored {plural(len(self.restored), "variable")} from {self.prefix}.'
        if self.skipped:
            skipped = '; '.join(e.describe() for e in self.skipped)
            line += f' Skipped {len(self.skipped)}: {skipped}.'
        return line


# -- saving and restoring ----------------------------------------------------------------


class Checkpointer:
    """Saves and restores a workspace's variables, reusing its savers."""

    def __init__(self, tracker: VariableTracker):
        self.tracker = tracker
        self.workspace = tracker.workspace
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

    def compare(self, prefix: str, mapping: dict[str, str] | None = None) -> Comparison:
        """The checkpoint at ``prefix`` against the graph, key by key."""
        return compare(read_index(prefix), self.graph_index(), mapping)

    def restore(self, prefix: str, *, mapping: dict[str, str] | None = None,
                allow_missing: bool = False) -> RestoreResult:
        """Assign the checkpoint's values to the graph's variables.

        Every key, shape and dtype is checked first; on any mismatch nothing
        is assigned and the error lists each problem, unless
        ``allow_missing``, which restores the matching subset."""
        on_tasks = self._path_for_session(prefix)  # refuses one the tasks cannot reach
        index = read_index(prefix)
        if self.workspace.eager:
            self._check_one_variable_per_key(index, mapping or {})
        entries = compare(index, self.graph_index(), mapping).entries()
        problems = [e for e in entries if e.status != MATCH]
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
        return RestoreResult(prefix, [e.name for e in matched], problems)
