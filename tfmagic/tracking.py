"""Who created each variable, in which cell, and every time it was shared.

Two public TensorFlow hooks feed the records, no patching:

* a ``variable_creator_scope`` entered for every cell sees each variable as it
  is created, by ``tf.Variable`` or by ``get_variable``;
* a custom getter on the graph's root variable scope sees every
  ``get_variable`` call. TensorFlow wraps a scope's custom getter around its
  parent's, so the root getter runs innermost, under any getter the user sets.
  A call that creates nothing returned an existing variable: a reuse.

What the rest of tfmagic lists are *logical* variables: a partitioned
variable (``get_variable(..., partitioner=...)``) is one record with its full
shape, as ``Saver`` writes it under one key; its parts have records of their
own for ``%vars --shards``. An optimizer's slot (``W/Adam``) names the
variable it belongs to: TensorFlow creates slots, and the optimizer's other
state (``beta1_power``), colocated with a model variable, and only slots are
named under it.

In eager mode (``%tfmode eager``) only the creator scope applies: there is no
graph and no ``get_variable``. Variables are then held weakly (one the user
drops leaves the records after the next cell), Keras 3's are told apart by
the code that made them, and a Keras optimizer's slot
(``adam/sequential_d1_kernel_momentum``) names the variable it belongs to
(``sequential/d1/kernel``) by Keras's naming rule for slots.
"""

from __future__ import annotations

import gc
import inspect
import re
import sys
import weakref
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from types import FrameType
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

import tensorflow as tf

from .workspace import Workspace

if TYPE_CHECKING:
    from tensorflow.python.ops.variables import PartitionedVariable

CreatedBy = Literal['tf.Variable', 'get_variable', 'keras']
CREATED_BY_VARIABLE: CreatedBy = 'tf.Variable'
CREATED_BY_GET_VARIABLE: CreatedBy = 'get_variable'
CREATED_BY_KERAS: CreatedBy = 'keras'

ReuseStatus = Literal['not reused', 'reused', 'not reusable']
NOT_REUSED: ReuseStatus = 'not reused'
REUSED: ReuseStatus = 'reused'
NOT_REUSABLE: ReuseStatus = 'not reusable'

#: What a variable is for: the model's own, an optimizer's slot for one of
#: them, or an optimizer's other state (step counts, ``beta1_power``).
Role = Literal['variable', 'slot', 'optimizer']
ROLE_VARIABLE: Role = 'variable'
ROLE_SLOT: Role = 'slot'
ROLE_OPTIMIZER: Role = 'optimizer'


@dataclass(eq=False)  # one record per variable: identity is equality
class VariableRecord:
    """What is known about one variable; static facts are cached here."""

    name: str
    shape: tuple | None
    dtype: str
    created_by: CreatedBy
    created_in: int | None = None
    reuses: int = 0
    # Replaced, never mutated, on each reuse: a table made earlier keeps its snapshot.
    reused_in: list[int] = field(default_factory=list)
    partitions: int = 1  # of a partitioned variable (and of each of its parts)
    slot_of: str = ''    # the variable an optimizer slot belongs to
    role: Role = ROLE_VARIABLE
    device: str = ''
    scope: str = field(init=False)  # everything before the last '/'
    reuse_status: ReuseStatus = field(init=False)

    def __post_init__(self) -> None:
        self.scope = self.name.rpartition('/')[0]
        self.reuse_status = (NOT_REUSED if self.created_by == CREATED_BY_GET_VARIABLE
                             else NOT_REUSABLE)

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
    parts: tuple[tf.Variable, ...]  # the variable; a partitioned one's parts in order
    trainable: bool
    initialized: bool

    @property
    def saveable(self) -> tf.Variable | list[tf.Variable]:
        """What ``Saver(var_list={key: ...})`` takes for this variable."""
        return self.parts[0] if len(self.parts) == 1 else list(self.parts)


@dataclass
class CellReport:
    """What one cell did to the variables."""

    created: list[tf.Variable]
    duplicates: list[tuple[str, str]]  # (name from the earlier run, new copy)
    earlier_cell: int | None = None
    #: Eager mode: names that two or more live variables have, one made by this cell.
    same_names: list[str] = field(default_factory=list)


def _shape_of(var: tf.Variable) -> tuple | None:
    shape = var.shape
    return tuple(shape.as_list()) if shape.rank is not None else None


def slice_info(var: tf.Variable | None) -> tf.Variable.SaveSliceInfo | None:
    """Where ``var`` lies in the partitioned variable it is a part of, if any."""
    return getattr(var, '_save_slice_info', None)


def _part_info(part: tf.Variable) -> tf.Variable.SaveSliceInfo:
    """Where ``part``, a part of a partitioned variable, lies in it."""
    info = slice_info(part)
    assert info is not None, f'{part.name} is not a part of a partitioned variable'
    return info


def _colocated_with(var: tf.Variable) -> str:
    """The op ``var``'s ops were colocated with, if not its own (``''``)."""
    own = var.op.name
    for group in var.op.colocation_groups():
        name = group.decode()[len('loc:@'):]
        if name != own:
            return name
    return ''


def variable_name(var: tf.Variable) -> str:
    """The variable's name without the output index: its op's name in a
    graph, ``v`` for an eager ``v:0``."""
    if tf.executing_eagerly() or not hasattr(var, 'op'):
        return var.name.rpartition(':')[0] or var.name
    return var.op.name


#: How many caller frames are searched for the Keras code that makes a
#: variable: an optimizer's slots are made deep inside a traced tf.function.
_KERAS_FRAMES = 80


#: The modules whose code makes the TensorFlow variable of a Keras 3 variable
#: (its ``self`` is the Keras variable, with its path).
_KERAS_VARIABLE_MODULES = ('keras.src.backend.tensorflow.core',
                           'keras.src.backend.common.variables')


class KerasOrigin(NamedTuple):
    """What the code on the stack says of a variable being made."""

    keras: bool = False  # Keras made it
    optimizer: bool = False  # a Keras optimizer made it
    path: str | None = None  # its Keras path, which its TF name may not be


def _keras_origin() -> KerasOrigin:
    """Whether the variable being made comes from Keras, from a Keras
    optimizer, and its Keras path, by the code on the stack."""
    frame: FrameType | None = sys._getframe(2)
    keras, path = False, None
    for _ in range(_KERAS_FRAMES):
        if frame is None:
            break
        module = frame.f_globals.get('__name__', '')
        if module.startswith('keras.'):
            keras = True
            if path is None and module in _KERAS_VARIABLE_MODULES:
                path = getattr(frame.f_locals.get('self'), 'path', None)
            if module.startswith('keras.src.optimizers.'):
                return KerasOrigin(True, True, path)
        frame = frame.f_back
    return KerasOrigin(keras, False, path)


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
        # Weakly: in eager mode nothing else holds a variable the user dropped.
        self._variables: weakref.WeakValueDictionary[str, tf.Variable] = (
            weakref.WeakValueDictionary())
        # Eager mode: Keras's slot names of the variables (a/b/c -> a_b_c).
        self._underscored: dict[str, str] = {}
        # Partitioned variables: full name -> parts in offset order; kept up
        # to date by _group(), which runs when the graph has new variables.
        self._partitioned: dict[str, tuple[tf.Variable, ...]] = {}
        # How far _group() has read the global and local variable collections.
        self._grouped: tuple[int, int] = (0, 0)
        self._cell_created: list[tf.Variable] = []
        self._cell_ids: set[int] = set()  # eager mode: the ids of the cell's variables
        #: (first op, end) of each variable (or part) made through the
        #: creator, in graph-version numbers, with the variable: the ops that
        #: make up the variable (%tfgraph folds them into it).
        self.op_spans: list[tuple[int, int, tf.Variable]] = []
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

    def _creator_scope(self) -> AbstractContextManager[None]:
        return tf.compat.v1.variable_creator_scope(self._creator)

    def _creator(self, next_creator: Callable[..., tf.Variable], **kwargs: Any) -> tf.Variable:
        if self.workspace.eager:
            var = next_creator(**kwargs)
            origin = _keras_origin()
            self._record(var, CREATED_BY_KERAS if origin.keras else CREATED_BY_VARIABLE,
                         self._cell, optimizer=origin.optimizer, name=origin.path)
            self._cell_ids.add(id(var))  # not the variable: the cell may drop it
            self.workspace.note_created(var)
            return var
        graph = self.workspace.graph
        first = graph.version
        var = next_creator(**kwargs)
        self.op_spans.append((first, graph.version, var))
        self._creations += 1
        by = CREATED_BY_GET_VARIABLE if self._getter_depth else CREATED_BY_VARIABLE
        self._record(var, by, self._cell)
        self._cell_created.append(var)
        self.workspace.note_created(var, may_hold_value=kwargs.get('variable_def') is not None)
        return var

    def _custom_getter(self, getter: Callable[..., Any], name: str, *args: Any, **kwargs: Any
                       ) -> tf.Variable | PartitionedVariable:
        before = (self._creations, self._variable_count())
        self._getter_depth += 1
        try:
            var = getter(name, *args, **kwargs)
        finally:
            self._getter_depth -= 1
        # Nothing created, seen by the creator scope or not: an existing variable.
        if (self._creations, self._variable_count()) == before and not self._quiet:
            if isinstance(var, tf.Variable):
                record = self.record(var)
            else:  # a PartitionedVariable
                self._group()
                record = self._by_name[var.name]
            record.add_reuse(self._cell)
            self._changes.append(record.name)
        return var

    # TensorFlow reads a custom getter's parameters (fn_args, has_kwargs) up to
    # six times per get_variable call; inspect returns a __signature__ as it
    # is, so each read is a lookup instead of a parse of the code object.
    _custom_getter.__signature__ = inspect.signature(_custom_getter)  # type: ignore[attr-defined]  # a function takes any attribute

    def _collections(self) -> tuple[list[tf.Variable], list[tf.Variable]]:
        """The graph's global and local variable collections, as TF keeps them."""
        graph = self.workspace.graph
        return (graph.get_collection_ref(tf.compat.v1.GraphKeys.GLOBAL_VARIABLES),
                graph.get_collection_ref(tf.compat.v1.GraphKeys.LOCAL_VARIABLES))

    def _variable_count(self) -> int:
        global_vars, local_vars = self._collections()
        return len(global_vars) + len(local_vars)

    def _record(self, var: tf.Variable, created_by: CreatedBy, cell: int | None, *,
                optimizer: bool = False, name: str | None = None) -> VariableRecord:
        record = VariableRecord(
            name=name or variable_name(var), shape=_shape_of(var),
            dtype=var.dtype.base_dtype.name, created_by=created_by, created_in=cell,
            device=var.device)
        if self.workspace.eager:
            self._retire(self._by_id.get(id(var)))  # a freed variable's, whose id this one took
            self._eager_role(record, optimizer)
            primary = ''
        else:
            primary = _colocated_with(var)
        if primary and primary in self._variables:
            # [the optimizer's name scope/]primary/slot: Adam made in a
            # scope names W's slot enc/W/Adam, or enc/enc/W/Adam in enc.
            if f'/{primary}/' in f'/{record.name}':
                info = slice_info(self._variables[primary])
                record.role, record.slot_of = ROLE_SLOT, info.full_name if info else primary
            else:
                record.role = ROLE_OPTIMIZER
        self._by_id[id(var)] = record
        self._by_name[record.name] = record
        self._variables[record.name] = var
        self._changes.append(record.name)
        return record

    def _eager_role(self, record: VariableRecord, optimizer: bool) -> None:
        """A Keras optimizer's variable: a slot if its name is Keras's slot
        name of a recorded variable (``{optimizer}/{a_b_c}_{slot}``), else
        the optimizer's own state (``adam/iteration``)."""
        if not optimizer:
            self._underscored[record.name.replace('/', '_')] = record.name
            return
        record.role = ROLE_OPTIMIZER
        rest = record.name.partition('/')[2]
        cut = rest.rfind('_')
        while cut > 0:
            owner = self._underscored.get(rest[:cut])
            if owner is not None:
                record.role, record.slot_of = ROLE_SLOT, owner
                return
            cut = rest.rfind('_', 0, cut)

    # -- partitioned variables ---------------------------------------------------

    def _group(self) -> None:
        """Bring the partitioned variables' records up to date with the graph.

        Parts learn what they are part of only after they are created (the
        slice info is set on them afterwards), so the grouping is done when
        asked for. The collections only grow between resets, so only the
        variables added since the last call are read: a cell's worth, not
        the graph."""
        global_vars, local_vars = self._collections()
        done_global, done_local = self._grouped
        if (len(global_vars), len(local_vars)) == self._grouped:
            return
        if len(global_vars) < done_global or len(local_vars) < done_local:  # edited by hand
            done_global = done_local = 0
            self._partitioned.clear()
        grown: dict[str, dict[int, tf.Variable]] = {}  # by id: Variable.__eq__ builds ops
        for var in [*global_vars[done_global:], *local_vars[done_local:]]:
            info = slice_info(var)
            if info is None:
                continue
            if info.full_name not in grown:
                known = self._partitioned.get(info.full_name, ())
                grown[info.full_name] = {id(part): part for part in known}
            grown[info.full_name][id(var)] = var
        for name, by_id in grown.items():
            parts = sorted(by_id.values(), key=lambda part: _part_info(part).var_offset)
            self._partitioned[name] = tuple(parts)
            self._record_partitioned(name, parts)
        self._grouped = (len(global_vars), len(local_vars))

    def _record_partitioned(self, name: str, parts: list[tf.Variable]) -> None:
        records = [self.record(part) for part in parts]
        first = records[0]
        known = self._by_name.get(name)
        record = VariableRecord(
            name=name, shape=tuple(_part_info(parts[0]).full_shape), dtype=first.dtype,
            created_by=first.created_by, created_in=first.created_in,
            reuses=known.reuses if known else 0, reused_in=known.reused_in if known else [],
            partitions=len(parts), slot_of=first.slot_of, role=first.role,
            device=', '.join(dict.fromkeys(r.device for r in records if r.device)))
        if known is not None:
            record.reuse_status = known.reuse_status
        for part in records:
            part.partitions = len(parts)
        self._by_name[name] = record

    def _logical_name(self, name: str) -> str:
        info = slice_info(self._variables.get(name))
        return info.full_name if info is not None else name

    # -- cells -------------------------------------------------------------------

    def begin_cell(self, number: int | None, source: str | None = None) -> None:
        """Attribute what follows to cell ``number``, whose text is ``source``."""
        self._cell = number
        self._source = source.strip() if source else None
        self._cell_created = []
        self._cell_ids = set()

    def end_cell(self, *, collect: bool = False) -> CellReport:
        """Finish the cell; report its new variables and any copies of
        variables an earlier run of the same source created. In eager mode,
        forget the variables no one holds any more; with ``collect``, after
        freeing reference cycles (a dropped Keras model is one)."""
        created, self._cell_created = self._cell_created, []
        report = CellReport(created=created, duplicates=[])
        if self.workspace.eager:
            if collect:
                gc.collect()
            live = self.workspace.variables()
            self._forget_dropped(live)
            ids, self._cell_ids = self._cell_ids, set()
            report.created = [var for var in live if id(var) in ids]
            report.same_names = self._same_names(report.created)
            self._cell = None
            self._source = None
            return report
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

    def _forget_dropped(self, live: list[tf.Variable]) -> None:
        """Eager mode: drop the records of variables no one holds any more
        (weakly held, they are gone once freed; ``live`` are the others); a
        new generation, so that views of the records start over."""
        live_ids = set(map(id, live))
        dropped = [key for key in self._by_id if key not in live_ids]
        for key in dropped:
            self._retire(self._by_id.pop(key))
        for var in live:  # a name another variable still has
            record = self._by_id.get(id(var))
            if record is not None and record.name not in self._by_name:
                self._by_name[record.name] = record
                self._variables[record.name] = var
        names = {record.name for record in self._by_id.values()}
        for underscored, name in list(self._underscored.items()):
            if name not in names:
                del self._underscored[underscored]

    def _retire(self, record: VariableRecord | None) -> None:
        """Eager mode: forget the record of a freed variable; a new
        generation, so that views of the records start over."""
        if record is None:
            return
        if self._by_name.get(record.name) is record:
            del self._by_name[record.name]
        self.generation += 1

    def _same_names(self, created: list[tf.Variable]) -> list[str]:
        """Names of variables made in this cell that another live variable has too."""
        counts: dict[str, int] = {}
        for record in self._by_id.values():
            counts[record.name] = counts.get(record.name, 0) + 1
        return list(dict.fromkeys(
            name for var in created
            if (name := self._by_id[id(var)].name if id(var) in self._by_id else '')
            and counts[name] > 1))

    def same_names(self) -> dict[str, list[VariableRecord]]:
        """Eager mode: each name two or more live variables have, with their records."""
        by_name: dict[str, list[VariableRecord]] = {}
        for var in self.workspace.variables():
            record = self._by_id.get(id(var))
            if record is not None:
                by_name.setdefault(record.name, []).append(record)
        return {name: records for name, records in by_name.items() if len(records) > 1}

    # -- queries -----------------------------------------------------------------

    def record(self, var: tf.Variable) -> VariableRecord:
        """The record of ``var``; one is made for variables created untracked."""
        record = self._by_id.get(id(var))
        if record is None:
            record = self._record(var, self._infer_created_by(var), None)
        return record

    def known_name(self, var: tf.Variable) -> str | None:
        """The name ``var`` is recorded under; None if it is not recorded."""
        record = self._by_id.get(id(var))
        return None if record is None else record.name

    def _infer_created_by(self, var: tf.Variable) -> CreatedBy:
        # get_variable keeps what it creates in the graph's variable store;
        # a variable found there under its own name came from get_variable.
        if self.workspace.eager:
            return CREATED_BY_VARIABLE
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
        """Names of the (logical) variables created or reused since
        ``position`` in this generation's change log, and the position to
        ask from next."""
        self._group()
        changes = self._changes[position:]
        if self._partitioned:
            changes = [self._logical_name(name) for name in changes]
        return changes, len(self._changes)

    def records(self) -> list[VariableRecord]:
        """The record of every logical variable, untracked ones included, in
        graph order."""
        return [record for record, _ in self.groups(self.workspace.variables())]

    def find(self, name: str) -> VariableRecord | None:
        """The record of the variable, or part, named ``name`` (no ``:0``)."""
        self._group()
        return self._by_name.get(name)

    def variable(self, name: str) -> tf.Variable | None:
        """The recorded variable (or part) named ``name``, if any; see
        :meth:`parts` for a partitioned variable."""
        return self._variables.get(name)

    def parts(self, name: str) -> tuple[tf.Variable, ...]:
        """The variable named ``name``, or a partitioned variable's parts;
        ``()`` if there is none."""
        self._group()
        parts = self._partitioned.get(name)
        if parts is not None:
            return parts
        var = self._variables.get(name)
        return () if var is None else (var,)

    def describe(self, variables: Iterable[tf.Variable] | None = None, *,
                 shards: bool = False) -> list[VariableInfo]:
        """Records joined with trainability and initialization, in graph
        order: one per logical variable (a partitioned one's parts together,
        in the place of its first part), or with ``shards`` one per part."""
        variables = self.workspace.variables() if variables is None else list(variables)
        self._group()
        if shards or not self._partitioned:  # then each variable is a logical one
            ws = self.workspace
            trainable = ws.trainable_ids()
            return [VariableInfo(self.record(v), (v,), id(v) in trainable, flag)
                    for v, flag in zip(variables, ws.initialized(variables), strict=True)]
        groups = self.groups(variables)
        ws = self.workspace
        trainable = ws.trainable_ids()
        flags = iter(ws.initialized([part for _, parts in groups for part in parts]))
        return [VariableInfo(record, parts, id(parts[0]) in trainable,
                             all([next(flags) for _ in parts]))
                for record, parts in groups]

    def groups(self, variables: list[tf.Variable] | None = None
               ) -> list[tuple[VariableRecord, tuple[tf.Variable, ...]]]:
        """The graph's variables (or ``variables``) as logical variables,
        each with its record and parts, in graph order."""
        variables = self.workspace.variables() if variables is None else variables
        self._group()
        if not self._partitioned:
            return [(self.record(var), (var,)) for var in variables]
        groups: list[tuple[VariableRecord, tuple[tf.Variable, ...]]] = []
        seen: set[str] = set()
        for var in variables:
            info = slice_info(var)
            if info is None:
                groups.append((self.record(var), (var,)))
            elif info.full_name not in seen:
                seen.add(info.full_name)
                groups.append((self._by_name[info.full_name], self._partitioned[info.full_name]))
        return groups
