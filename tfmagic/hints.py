"""Short, actionable explanations of the errors people hit with TF variables.

Each function returns two or three lines of text, or ``None`` when it has
nothing useful to add. They only read the tracker; printing is the caller's.
"""

from __future__ import annotations

import difflib
import re

import tensorflow as tf

from .tracking import CREATED_BY_VARIABLE, CellReport, VariableRecord, VariableTracker

PREFIX = 'tfmagic: '
AUTO_REUSE = 'reuse=tf.compat.v1.AUTO_REUSE'

_ALREADY_EXISTS = re.compile(r'Variable (\S+) already exists, disallowed')
_DOES_NOT_EXIST = re.compile(
    r'Variable (\S+) does not exist, or was not created with tf\.get_variable\(\)')
# Reference variables say the first, resource variables (the default) the second.
_UNINITIALIZED = re.compile(
    r'(?:uninitialized value (\S+)|Could not find variable (\S+?)\. )')
_NESTED_RESET = 'Do not use tf.reset_default_graph() to clear nested graphs'

_MAX_NAMES = 3


def _where(record: VariableRecord) -> str:
    cell = 'outside a cell' if record.created_in is None else f'in cell [{record.created_in}]'
    return f'{record.created_by} created it {cell}'


def _lines(*lines: str) -> str:
    return '\n'.join([PREFIX + lines[0], *('  ' + line for line in lines[1:])])


def _names(names: list[str]) -> str:
    shown = ', '.join(names[:_MAX_NAMES])
    more = len(names) - _MAX_NAMES
    return shown + (f' (and {more} more)' if more > 0 else '')


def explain_error(error: BaseException | None, tracker: VariableTracker,
                  cell: str | None = None) -> str | None:
    """A hint for ``error`` raised by a cell whose text is ``cell``, or ``None``."""
    if error is None:
        return None
    message = str(error)
    if isinstance(error, ValueError):
        match = _ALREADY_EXISTS.search(message)
        if match:
            return _already_exists(match.group(1), tracker)
        match = _DOES_NOT_EXIST.search(message)
        if match:
            return _does_not_exist(match.group(1), tracker)
    if isinstance(error, tf.errors.FailedPreconditionError):
        match = _UNINITIALIZED.search(message)
        if match:
            return _uninitialized((match.group(1) or match.group(2)).split(':')[0], tracker)
    if isinstance(error, AssertionError) and _NESTED_RESET in message:
        return _lines(
            'reset_default_graph() cannot clear the managed graph from here: inside a `with` '
            'block, or called under another name.',
            'Call tf.compat.v1.reset_default_graph() at the top level of the cell, or run %tfreset.')
    return None


def _records(tracker: VariableTracker) -> dict[str, VariableRecord]:
    return {info.record.name: info.record for info in tracker.describe()}


def _already_exists(name: str, tracker: VariableTracker) -> str:
    record = _records(tracker).get(name)
    scope = name.rpartition('/')[0]
    where = _where(record) if record else 'it is in the graph'
    if scope:
        share = (f'run the cell with %%tfscope {scope} --reuse, or in code use '
                 f'variable_scope({scope!r}, {AUTO_REUSE}), which also creates what is missing')
    else:
        share = ('wrap the call in tf.compat.v1.variable_scope('
                 f'tf.compat.v1.get_variable_scope(), {AUTO_REUSE})')
    return _lines(
        f'{name} already exists: {where}.',
        f'To share it, {share}.',
        'To start over with a fresh graph instead, run %tfreset.')


def _uninitialized(name: str, tracker: VariableTracker) -> str:
    var = tracker.variable(name)
    if var is not None and tracker.workspace.initialized([var])[0]:
        return _lines(
            f"{name} has a value in tfmagic's session, but this cell ran it in another session, "
            'where every variable starts without one.',
            'Use sess = tf.compat.v1.get_default_session() instead of a new Session, or run '
            'tf.compat.v1.global_variables_initializer() in yours.')
    return _lines(
        f'{name} has no value in this session yet: tfmagic initializes new variables '
        'after the cell that creates them (unless %config TFMagic.auto_init = False).',
        'Use it from the next cell, or initialize it first: '
        'sess.run(tf.compat.v1.global_variables_initializer()).')


def _does_not_exist(name: str, tracker: VariableTracker) -> str:
    records = _records(tracker)
    record = records.get(name)
    if record is not None and record.created_by == CREATED_BY_VARIABLE:
        return _lines(
            f'{name} exists, but {_where(record)}, so get_variable can never return it.',
            f"To share a variable, create it with tf.compat.v1.get_variable({name.rpartition('/')[2]!r}, ...).")
    similar = difflib.get_close_matches(name, list(records), n=_MAX_NAMES)
    lines = [f'No variable named {name} exists; with reuse=True, get_variable only returns existing ones.',
             f'Create it first without reuse, or use {AUTO_REUSE} (creates it when missing).']
    if similar:
        lines.append(f'Similar names in the graph: {_names(similar)}.')
    return _lines(*lines)


def not_initialized(var, error) -> str:
    """Auto-init could not run ``var``'s initializer (it reads a placeholder,
    say) and nothing in the cell gave it a value."""
    return f'{PREFIX}could not initialize {var.op.name}: {error.message.splitlines()[0]}'


def duplicates_note(report: CellReport) -> str | None:
    """Say so when re-running a cell made copies of the variables its earlier
    run created (``foo`` beside ``foo_1``)."""
    if not report.duplicates:
        return None
    earlier = [old for old, _ in report.duplicates]
    copies = [new for _, new in report.duplicates]
    cell = '' if report.earlier_cell is None else f' (In [{report.earlier_cell}])'
    them = 'it' if len(copies) == 1 else 'them'
    return _lines(
        f'this cell ran before{cell} and created {_names(earlier)}; running it again '
        f'created {_names(copies)} beside {them}: new variables, not the same ones.',
        'To re-run without copies, run %tfreset first, or create them with '
        f'tf.compat.v1.get_variable under {AUTO_REUSE}.')


RESET_NOTE = _lines(
    'tf.compat.v1.reset_default_graph() started a fresh managed graph and session, '
    'as %tfreset does.')
