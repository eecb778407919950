"""How a variable is labelled wherever tfmagic draws it (the panel's rows,
its saved snapshot, ``%tfgraph``'s nodes): one mark for how it can be
shared, and short facts, each with the sentence that explains it on hover."""

from __future__ import annotations

from typing import NamedTuple

from .tracking import (
    CREATED_BY_KERAS,
    NOT_REUSABLE,
    REUSED,
    ROLE_OPTIMIZER,
    ROLE_SLOT,
    ROLE_VARIABLE,
    VariableRecord,
)
from .wording import plural

OPTIMIZER_MARK = '◇'
_REUSE_MARKS = {REUSED: '↻', NOT_REUSABLE: '⊘'}
#: What each mark means, shown when the pointer rests on it.
MARK_TITLES = {
    '↻': 'shared: get_variable with reuse=True returned it again',
    '⊘': 'a tf.Variable: get_variable cannot share it',
    OPTIMIZER_MARK: "an optimizer's state",
}
_ORIGIN_OF_ROLE = {ROLE_SLOT: 'optimizer slot', ROLE_OPTIMIZER: 'optimizer state'}
LEGEND = ('↻ shared by get_variable(reuse=True) · ⊘ tf.Variable, cannot be shared · '
          f'{OPTIMIZER_MARK} optimizer state, slots under their variable · '
          '×N parts: one partitioned variable · cell N: the cell that created it · '
          'shared ×N: reused N times')


class Fact(NamedTuple):
    """One thing said of a variable: a name for styling, the text, and what
    the text means (shown on hover; '' when the text says it all)."""

    kind: str
    text: str
    explained: str


def mark(record: VariableRecord) -> str:
    """``↻`` shared, ``⊘`` a tf.Variable, ``◇`` optimizer state, or ``''``
    (a Keras variable, which no one expects get_variable to share)."""
    if record.role != ROLE_VARIABLE:
        return OPTIMIZER_MARK
    if record.created_by == CREATED_BY_KERAS:
        return ''
    return _REUSE_MARKS.get(record.reuse_status, '')


def shape_text(shape: tuple | None) -> str:
    return 'unknown shape' if shape is None else str(list(shape))


def facts(record: VariableRecord) -> list[Fact]:
    """Its shape, dtype, parts, who made it, in which cell, and how often it
    was shared since."""
    said = [Fact('shape', shape_text(record.shape), ''), Fact('dtype', record.dtype, '')]
    if record.partitions > 1:
        said.append(Fact('parts', f'×{record.partitions} parts',
                         f'one partitioned variable, stored in {record.partitions} parts'))
    said.append(Fact('origin', _ORIGIN_OF_ROLE.get(record.role, record.created_by), ''))
    if record.created_in is not None:
        said.append(Fact('cell', f'cell {record.created_in}',
                         f'created in cell {record.created_in}'))
    if record.reuses:
        cells = ', '.join(map(str, record.reused_in))
        said.append(Fact('shared', f'shared ×{record.reuses}',
                         f"reused {plural(record.reuses, 'time')} with reuse=True"
                         + (f' (cell {cells})' if cells else '')))
    return said


def is_slot(record: VariableRecord) -> bool:
    return record.role == ROLE_SLOT and bool(record.slot_of)


def slot_name(record: VariableRecord) -> str:
    """``'Adam'`` for the slot ``enc/W/Adam`` of ``enc/W``, and for
    ``enc/enc/W/Adam``: an optimizer made in a variable scope puts its
    slots' names in that scope too. ``'momentum'`` for a Keras optimizer's
    ``adam/enc_W_momentum``."""
    _, graph_style, after = ('/' + record.name).rpartition(f'/{record.slot_of}/')
    if graph_style:
        return after
    _, keras_style, after = record.name.rpartition(record.slot_of.replace('/', '_') + '_')
    return after if keras_style else record.name


def hover_text(record: VariableRecord, said: list[Fact]) -> str:
    """The full name and every fact, on one line: what a cut row or a node
    shows on hover."""
    return '  '.join([record.name] + [fact.text for fact in said])
