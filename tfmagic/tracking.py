"""Who created each variable, in which cell, and every time it was shared.

Two public TensorFlow hooks feed the records, no patching:

* a ``variable_creator_scope`` entered for every cell sees each variable as it
  is created, by ``tf.Variable`` or by ``get_variable``;
* a custom getter on the graph's root variable scope sees every
  ``get_variable`` call. TensorFlow wraps a scope's custom getter around its
  parent's, so the root getter runs innermost, under any getter the user sets.
  A call that creates nothing returned an existing variable: a reuse.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field

import tensorflow as tf

from .workspace import Workspace

CREATED_BY_VARIABLE = 'tf.Variable'
CREATED_BY_GET_VARIABLE = 'get_variable'

NOT_REUSED = 'not reused'
REUSED = 'reused'
NOT_REUSABLE = 'not reusable'


@dataclass(eq=False)  # one record per variable: identity is equality
class VariableRecord:
    """What is known about one variable; static facts are cached here."""

    name: str
    shape: tuple | None
    dtype: str
    created_by: str
    created_in: int | None = None
    reuses: int = 0
    # Replaced, never mutated, on each reuse: a table made earlier keeps its snapshot.
    reused_in: list[int] = field(default_factory=list)
    scope: str = field(init=False)  # everything before the last '/'
    reuse_status: str = field(init=False)

    def __post_init__(self):
        self.scope = self.name.rpartition('/')[0]
        self.reuse_status = NOT_REUSABLE if self.created_by == CREATED_BY_VARIABLE else NOT_REUSED

    def add_reuse(self, cell: int | None) -> None:
        self.reuses += 1
        if self.reuse_status == NOT_REUSED:
            self.reuse_status = REUSED
        if cell is not None and cell not in self.reused_in:
            self.reused_in = [*self.reused_in, cell]


@dataclass(slots=True)
class VariableInfo:
    """A record with the graph's and session's view of the variable."""

    record: VariableRecord
    variable: tf.Variable
    trainable: bool
    initialized: bool


@dataclass
class CellReport:
    """What one cell did to the variables."""

    created: list[tf.Variable]
    duplicates: list[tuple[str, str]]  # (name from the earlier run, new copy)
    earlier_cell: int | None = None


def _shape_of(var) -> tuple | None:
    shape = var.shape
    return tuple(shape.as_list()) if shape.rank is not None else None


_UNIQUIFIED = re.compile(r'_\d+$')


def _base_name(name: str) -> str:
    """``'s_1/foo_2'`` -> ``'s/foo'``: the name before TensorFlow uniquified it."""
    return '/'.join(_UNIQUIFIED.sub('', part) for part in name.split('/'))


class VariableTracker:
    """Records for the variables of one :class:`Workspace`, across resets."""

    def __init__(self, workspace: Workspace):
        self.workspace = workspace
        self._cell: int | None = None
        self._getter_depth = 0
        self._creations = 0
        self._quiet = False
        self.generation = 0  # bumped by every reset
        self._clear()
        workspace.add_cell_context(self._creator_scope)
        workspace.on_reset(self._on_reset)

    def _clear(self) -> None:
        self.generation += 1
        self._changes: list[str] = []  # names created or reused, in order
        self._by_id: dict[int, VariableRecord] = {}
        self._by_name: dict[str, VariableRecord] = {}
        self._variables: dict[str, tf.Variable] = {}
        self._cell_created: list[tf.Variable] = []
        self._runs_by_source: dict[str, tuple[int | None, list[str]]] = {}
        self._source: str | None = None
        with self.workspace.graph.as_default():
            tf.compat.v1.get_variable_scope().set_custom_getter(self._custom_getter)

    def _on_reset(self, workspace: Workspace) -> None:
        self._clear()

    def detach(self) -> None:
        """Stop tracking: remove the hooks from the workspace and its graph."""
        self.workspace.remove_cell_context(self._creator_scope)
        with self.workspace.graph.as_default():
            scope = tf.compat.v1.get_variable_scope()
            if scope.custom_getter == self._custom_getter:
                scope.set_custom_getter(None)

    # -- hooks -----------------------------------------------------------------

    def _creator_scope(self):
        return tf.compat.v1.variable_creator_scope(self._creator)

    def _creator(self, next_creator, **kwargs):
        var = next_creator(**kwargs)
        self._creations += 1
        by = CREATED_BY_GET_VARIABLE if self._getter_depth else CREATED_BY_VARIABLE
        self._record(var, by, self._cell)
        self._cell_created.append(var)
        self.workspace.note_created(var, may_hold_value=kwargs.get('variable_def') is not None)
        return var

    def _custom_getter(self, getter, name, *args, **kwargs):
        before = (self._creations, self._variable_count())
        self._getter_depth += 1
        try:
            var = getter(name, *args, **kwargs)
        finally:
            self._getter_depth -= 1
        # Nothing created, seen by the creator scope or not: an existing variable.
        if (self._creations, self._variable_count()) == before and not self._quiet:
            for part in ([var] if isinstance(var, tf.Variable) else list(var)):
                record = self.record(part)
                record.add_reuse(self._cell)
                self._changes.append(record.name)
        return var

    # TensorFlow reads a custom getter's parameters (fn_args, has_kwargs) up to
    # six times per get_variable call; inspect returns a __signature__ as it
    # is, so each read is a lookup instead of a parse of the code object.
    _custom_getter.__signature__ = inspect.signature(_custom_getter)

    def _variable_count(self) -> int:
        graph = self.workspace.graph
        return (len(graph.get_collection_ref(tf.compat.v1.GraphKeys.GLOBAL_VARIABLES))
                + len(graph.get_collection_ref(tf.compat.v1.GraphKeys.LOCAL_VARIABLES)))

    def _record(self, var, created_by: str, cell: int | None) -> VariableRecord:
        record = VariableRecord(
            name=var.op.name, shape=_shape_of(var),
            dtype=var.dtype.base_dtype.name, created_by=created_by, created_in=cell)
        self._by_id[id(var)] = record
        self._by_name[record.name] = record
        self._variables[record.name] = var
        self._changes.append(record.name)
        return record

    # -- cells -------------------------------------------------------------------

    def begin_cell(self, number: int | None, source: str | None = None) -> None:
        """Attribute what follows to cell ``number``, whose text is ``source``."""
        self._cell = number
        self._source = source.strip() if source else None
        self._cell_created = []

    def end_cell(self) -> CellReport:
        """Finish the cell; report its new variables and any copies of
        variables an earlier run of the same source created."""
        created, self._cell_created = self._cell_created, []
        report = CellReport(created=created, duplicates=[])
        live = [v for v in created if id(v) in self._by_id]
        if self._source and live:
            names = [self._by_id[id(v)].name for v in live]
            earlier = self._runs_by_source.get(self._source)
            if earlier is not None:
                report.earlier_cell, earlier_names = earlier
                by_base = {_base_name(n): n for n in earlier_names}
                taken = set(earlier_names)
                report.duplicates = [
                    (by_base[_base_name(n)], n) for n in names
                    if n not in taken and _base_name(n) in by_base]
            self._runs_by_source[self._source] = (self._cell, names)
        self._cell = None
        self._source = None
        return report

    # -- queries -----------------------------------------------------------------

    def record(self, var) -> VariableRecord:
        """The record of ``var``; one is made for variables created untracked."""
        record = self._by_id.get(id(var))
        if record is None:
            record = self._record(var, self._infer_created_by(var), None)
        return record

    def _infer_created_by(self, var) -> str:
        # get_variable keeps what it creates in the graph's variable store;
        # a variable found there under its own name came from get_variable.
        self._quiet = True
        try:
            with self.workspace.graph.as_default():
                scope = tf.compat.v1.get_variable_scope()
                with tf.compat.v1.variable_scope(scope, reuse=True):
                    found = tf.compat.v1.get_variable(var.op.name) is var
        except (ValueError, TypeError):
            found = False
        finally:
            self._quiet = False
        return CREATED_BY_GET_VARIABLE if found else CREATED_BY_VARIABLE

    def changes_since(self, position: int) -> tuple[list[str], int]:
        """Names of the variables created or reused since ``position`` in
        this generation's change log, and the position to ask from next."""
        return self._changes[position:], len(self._changes)

    def records(self) -> list[VariableRecord]:
        """Every record, untracked variables included, in graph order."""
        return [self.record(v) for v in self.workspace.variables()]

    def find(self, name: str) -> VariableRecord | None:
        """The record of the variable named ``name`` (no ``:0``), if any."""
        return self._by_name.get(name)

    def variable(self, name: str) -> tf.Variable | None:
        """The recorded variable named ``name``, if any."""
        return self._variables.get(name)

    def describe(self, variables=None) -> list[VariableInfo]:
        """Records joined with trainability and initialization, in graph order."""
        ws = self.workspace
        variables = ws.variables() if variables is None else list(variables)
        trainable = ws.trainable_ids()
        initialized = ws.initialized(variables)
        return [VariableInfo(self.record(v), v, id(v) in trainable, flag)
                for v, flag in zip(variables, initialized)]
