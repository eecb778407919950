"""Short, actionable explanations of the errors people hit with TF variables.

Each function returns two to four lines of text, or ``None`` when it has
nothing useful to add. They only read the tracker and the graph, never run
anything in a session; showing the text is the caller's.

Every pattern below is TensorFlow 2's (and Keras 3's) own wording, as raised
in a graph cell.
"""

from __future__ import annotations

import collections
import difflib
import re
import shlex
from collections.abc import Mapping, Sequence
from types import TracebackType

import tensorflow as tf

from .checkpoints import CheckpointMap
from .tracking import CREATED_BY_VARIABLE, CellReport, VariableRecord, VariableTracker
from .wording import PREFIX, plural
from .workspace import raised_in_managed_session

AUTO_REUSE = 'reuse=tf.compat.v1.AUTO_REUSE'
INIT_ALL = 'sess.run(tf.compat.v1.global_variables_initializer())'
DEFAULT_SESSION = 'sess = tf.compat.v1.get_default_session()'
#: How to run TF2 (eager) code while cells run in the managed graph.
LEAVE_GRAPH_MODE = 'to run TF2 (eager) code, switch: %tfmode eager'

_ALREADY_EXISTS = re.compile(
    r'^(?:Variable (\S+) already exists, disallowed'
    r'|Partitioned variable with name (\S+) already exists\.)')
_DOES_NOT_EXIST = re.compile(
    r'Variable (\S+) does not exist, or was not created with tf\.get_variable\(\)')
_MISMATCH = re.compile(
    r'^Trying to (?:share|reuse partitioned) variable (\S+), '
    r'but specified (shape|dtype) (.+) and found \2 (.+)\.$')
# Reference variables say the first, resource variables (the default) the second.
_UNINITIALIZED = re.compile(
    r'(?:uninitialized value (\S+)|Could not find variable (\S+?)\. )')
# A Python name still bound to an object of a graph that %tfreset or
# %reload_ext replaced: run in the new session, combined with new tensors,
# evaluated with the new default session.
_OTHER_GRAPH = re.compile(
    r"^The Session graph is empty\.|must be from the same graph as "
    r"|is not an element of this graph\.|graph is different from the session's graph\.")
_CLOSED_SESSION = 'Attempted to use a closed Session.'
_DATASET_ITERATION = re.compile(
    r'^`tf\.data\.Dataset` only supports Python-style iteration in eager mode'
    r'|^`tf\.data\.Dataset\.as_numpy_iterator\(\)` is only supported in eager mode')
_VARIABLE_NUMPY = 'numpy() is only available when eager execution is enabled.'
_NESTED_RESET = 'Do not use tf.reset_default_graph() to clear nested graphs'

_MAX_NAMES = 3
#: Problems %mapckpt lists above its table (the table has every one).
_MAX_PROBLEMS = 12


def _where(record: VariableRecord) -> str:
    cell = 'outside a cell' if record.created_in is None else f'in cell [{record.created_in}]'
    return f'{record.created_by} created it {cell}'


def _lines(*lines: str) -> str:
    return '\n'.join([PREFIX + lines[0], *('  ' + line for line in lines[1:])])


def _names(names: list[str]) -> str:
    shown = ', '.join(names[:_MAX_NAMES])
    more = len(names) - _MAX_NAMES
    return shown + (f' (and {more} more)' if more > 0 else '')


def _python_name(name: str) -> str:
    """What the user's Python name for the variable ``name`` probably is."""
    base = name.rpartition('/')[2]
    return base if base.isidentifier() else 'var'


def explain_error(error: BaseException | None, tracker: VariableTracker,
                  cell: str | None = None) -> str | None:
    """A hint for ``error`` raised by a cell whose text is ``cell``, or ``None``."""
    if error is None:
        return None
    message = str(error)
    if isinstance(error, tf.errors.FailedPreconditionError):
        match = _UNINITIALIZED.search(message)
        if match:
            name = (match.group(1) or match.group(2)).split(':')[0]
            return _uninitialized(name, error, tracker)
        return None
    if isinstance(error, ValueError):
        hint = _sharing(message, tracker, cell)
        if hint:
            return hint
    if isinstance(error, (ValueError, RuntimeError)) and _OTHER_GRAPH.search(message):
        return _lines(
            "this cell uses a tensor or variable of another graph than tfmagic's current one: "
            'Python names bound before %tfreset or %reload_ext still point into the graph '
            'they discarded.',
            'Re-run the cells that build them, so that they are made in the current graph.')
    if isinstance(error, RuntimeError) and message == _CLOSED_SESSION:
        return _lines(
            "this session is closed: %tfreset and %reload_ext close tfmagic's session "
            '(so does leaving a `with ... as sess:` block).',
            f'Take the current one with {DEFAULT_SESSION}, and re-run the cells that build '
            'what you run in it.')
    hint = None if tracker.workspace.eager else _graph_mode(error, message)
    if hint:
        return hint
    if isinstance(error, AssertionError) and _NESTED_RESET in message:
        return _lines(
            'reset_default_graph() cannot clear the managed graph from here: inside a `with` '
            'block, or called under another name.',
            'Call tf.compat.v1.reset_default_graph() at the top level of the cell, '
            'or run %tfreset.')
    return None


def _record(tracker: VariableTracker, name: str) -> VariableRecord | None:
    return tracker.find(name) or next(
        (record for record in tracker.records() if record.name == name), None)


# -- sharing: get_variable --------------------------------------------------------

def _sharing(message: str, tracker: VariableTracker, cell: str | None) -> str | None:
    match = _ALREADY_EXISTS.search(message)
    if match:
        name = match.group(1) or match.group(2)
        scope = _name_scope_of(cell)
        if scope is not None and not name.startswith(scope + '/'):
            return _ignored_name_scope(name, scope, tracker)
        return _already_exists(name, tracker)
    match = _MISMATCH.search(message)
    if match:
        name, what, asked, found = match.groups()
        return _mismatch(name, what, asked, found, tracker)
    match = _DOES_NOT_EXIST.search(message)
    if match:
        return _does_not_exist(match.group(1), tracker)
    return None


def _already_exists(name: str, tracker: VariableTracker) -> str:
    record = _record(tracker, name)
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


def _name_scope_of(cell: str | None) -> str | None:
    """SCOPE, when ``cell`` is a ``%%tfscope SCOPE --name-scope`` cell."""
    line = (cell or '').lstrip().partition('\n')[0]
    if not line.startswith('%%tfscope'):
        return None
    try:
        words = shlex.split(line)[1:]
    except ValueError:
        return None
    # argparse takes any unambiguous prefix of an option, as in --name.
    if not any(len(word) > 3 and '--name-scope'.startswith(word) for word in words):
        return None
    scopes = [word for word in words if not word.startswith('-')]
    return scopes[0].rstrip('/') if scopes else None


def _ignored_name_scope(name: str, scope: str, tracker: VariableTracker) -> str:
    record = _record(tracker, name)
    where = f' ({_where(record)})' if record else ''
    return _lines(
        f'{name} already exists{where}: get_variable ignores name scopes, so in a '
        f'%%tfscope {scope} --name-scope cell it names the variable {name}, not {scope}/{name}.',
        f'Run the cell with %%tfscope {scope} (a variable scope) to make {scope}/{name}; '
        'to start over with a fresh graph, run %tfreset.')


def _mismatch(name: str, what: str, asked: str, found: str, tracker: VariableTracker) -> str:
    record = _record(tracker, name)
    where = f' ({_where(record)})' if record else ''
    return _lines(
        f'{name} exists with {what} {found}{where}, but this call asks for {what} {asked}.',
        f'To share it, ask for {what} {found}; for a different variable, give it a new name.',
        'To start over with a fresh graph instead, run %tfreset.')


def _does_not_exist(name: str, tracker: VariableTracker) -> str:
    records = {record.name: record for record in tracker.records()}
    record = records.get(name)
    if record is not None and record.created_by == CREATED_BY_VARIABLE:
        return _lines(
            f'{name} exists, but {_where(record)}, so get_variable can never return it.',
            'To share a variable, create it with '
            f"tf.compat.v1.get_variable({name.rpartition('/')[2]!r}, ...).")
    similar = difflib.get_close_matches(name, list(records), n=_MAX_NAMES)
    lines = [f'No variable named {name} exists; with reuse=True, get_variable only returns '
             'existing ones.',
             f'Create it first without reuse, or use {AUTO_REUSE} (creates it when missing).']
    if similar:
        lines.append(f'Similar names in the graph: {_names(similar)}.')
    return _lines(*lines)


# -- uninitialized values -----------------------------------------------------------

def _uninitialized(name: str, error: tf.errors.OpError, tracker: VariableTracker) -> str:
    ws = tracker.workspace
    if not raised_in_managed_session(error):
        if error.op is not None and error.op.graph is not ws.graph:
            return _lines(
                f'{name} has no value in this session: a new Session starts with every '
                'variable uninitialized.',
                f'Initialize them in it first: {INIT_ALL}.')
        return _lines(
            f"this cell ran {name} in a session other than tfmagic's, where every variable "
            'starts without a value.',
            f'Use tfmagic\'s session ({DEFAULT_SESSION}) instead of a new Session, or run '
            f'{INIT_ALL} in yours.')
    var = _python_name(name)
    if not ws.auto_init:
        return _lines(
            f'{name} has no value yet: with %config TFMagic.auto_init = False, tfmagic does not '
            'initialize new variables.',
            f'Initialize them first: {INIT_ALL}, or this one alone: {var}.initializer.run().',
            'Or let tfmagic do it again: %config TFMagic.auto_init = True.')
    record = _record(tracker, name)
    variable = tracker.variable(name)
    placeholders = _placeholders(variable.initializer) if variable is not None else []
    if placeholders:
        feed = ', '.join(f'{p}: ...' for p in placeholders[:_MAX_NAMES])
        return _lines(
            f"{name} has no value in tfmagic's session: its initial value reads "
            f'{_names(placeholders)}, which auto-init cannot feed.',
            f'Initialize it yourself: sess.run({var}.initializer, feed_dict={{{feed}}}).')
    note = '' if record is None or record.created_in is None else (
        f' (see the note under cell [{record.created_in}])')
    return _lines(
        f"{name} has no value in tfmagic's session, and auto-init did not give it one: its "
        f'initializer failed{note}, it was made while auto_init was off, or the session was '
        'closed since (leaving `with ... as sess:` closes it).',
        f'Initialize it yourself: sess.run({var}.initializer); after a closed session, '
        f'all of them: {INIT_ALL}.')


def _placeholders(op: tf.Operation) -> list[str]:
    """Names of the placeholders ``op`` reads, directly or through other ops."""
    seen = {op}
    queue = collections.deque([op])
    found = []
    while queue:
        current = queue.popleft()
        if current.type in ('Placeholder', 'PlaceholderV2'):
            found.append(current.name)
        for source in [t.op for t in current.inputs] + list(current.control_inputs):
            if source not in seen:
                seen.add(source)
                queue.append(source)
    return found


# -- TF2 code in a graph cell -------------------------------------------------------

def _graph_mode(error: BaseException, message: str) -> str | None:
    """Eager-only calls: ``.numpy()``, iterating a dataset, Keras's fit/predict
    (which iterate one, or convert results with ``.numpy()``)."""
    numpy = _is_numpy_call(error, message)
    dataset = isinstance(error, RuntimeError) and bool(_DATASET_ITERATION.search(message))
    if (numpy or dataset or _is_symbolic_conversion(error, message)) and _raised_in_keras(error):
        return _lines(
            "Keras's fit, evaluate and predict need eager execution, but cells run in "
            "tfmagic's graph (graph mode).",
            'Call the model on tensors instead: y = model(x), then sess.run(y); '
            f'or, {LEAVE_GRAPH_MODE}.')
    if numpy:
        return _lines(
            "cells run in tfmagic's graph (graph mode), where a tensor or variable is symbolic: "
            '.numpy() has no value to return.',
            f'Evaluate it in the session: sess.run(x) or x.eval(); {LEAVE_GRAPH_MODE}.')
    if dataset:
        return _lines(
            "cells run in tfmagic's graph (graph mode), where a tf.data.Dataset cannot be "
            'iterated in Python.',
            'Read it through an iterator: next_item = '
            'tf.compat.v1.data.make_one_shot_iterator(ds).get_next(), then sess.run(next_item).',
            f'Or, {LEAVE_GRAPH_MODE}.')
    return None


def _is_numpy_call(error: BaseException, message: str) -> bool:
    if isinstance(error, NotImplementedError):
        return message == _VARIABLE_NUMPY  # a resource variable's
    return (isinstance(error, AttributeError) and error.name == 'numpy'
            and isinstance(error.obj, (tf.Tensor, tf.Variable)))


def _is_symbolic_conversion(error: BaseException, message: str) -> bool:
    """``int(tensor)`` and the like on a graph tensor (Keras's fit does it)."""
    return isinstance(error, TypeError) and "not 'SymbolicTensor'" in message


def _raised_in_keras(error: BaseException) -> bool:
    tb: TracebackType | None = error.__traceback__
    while tb is not None:
        if tb.tb_frame.f_globals.get('__name__', '').partition('.')[0] == 'keras':
            return True
        tb = tb.tb_next
    return False


# -- notes after a cell ---------------------------------------------------------------

def not_initialized(var: tf.Variable, error: tf.errors.OpError) -> str:
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


def same_names_note(report: CellReport) -> str | None:
    """Eager mode: say so when a cell made a variable whose name another
    live variable has (eager TensorFlow does not make names unique)."""
    if not report.same_names:
        return None
    return _lines(
        f'two or more live variables are named {_names(report.same_names)}: eager TensorFlow '
        'does not make names unique, as a graph does.',
        '%vars lists each; %saveckpt refuses to save them together (a checkpoint key is a '
        'name). Give them distinct names, or drop the old ones (del, or rebind the name).')


def mode_switched(mode: str, dropped: int, untracked: bool = False) -> str:
    """The one line ``%tfmode`` says after switching; ``untracked``: the
    variables left behind are eager ones, which live on untracked."""
    what = ('cells run as plain TF2 (eager), variables still tracked' if mode == 'eager'
            else "cells run in tfmagic's managed graph and session")
    gone = 'no longer tracked' if untracked else 'dropped'
    return f'{PREFIX}{mode} mode: {what}; {plural(dropped, "variable")} {gone}.'


RESET_NOTE = _lines(
    'tf.compat.v1.reset_default_graph() started a fresh managed graph and session, '
    'as %tfreset does.')


def unloaded(count: int) -> str:
    """Said by ``%unload_ext`` and ``%reload_ext``."""
    return (f'{PREFIX}unloaded; the managed graph and its {plural(count, "variable")} are gone '
            '(%load_ext or %reload_ext starts a new graph: re-run the cells that build it).')

PANEL_NEEDS_JUPYTER = f'{PREFIX}%tfpanel needs Jupyter (a kernel with widgets); here is %vars.'

DOT_MISSING = ("%tfgraph needs Graphviz's dot, which is not installed: `sudo apt-get install "
               'graphviz` (Debian, Ubuntu), `brew install graphviz` (macOS) or `conda install '
               "graphviz`; in tfmagic's own repository, `make lab` installs it.")


# -- %tfconnect ------------------------------------------------------------------

def _cluster_jobs(cluster: Mapping[str, Sequence[str]]) -> str:
    return ', '.join(plural(len(addresses), f'{job} task') for job, addresses in cluster.items())


def connection(target: str, cluster: Mapping[str, Sequence[str]] | None,
               local_pids: Sequence[int] = ()) -> str:
    """Where the workspace runs, as ``%tfconnect`` says it."""
    if not target:
        return 'the in-process session (local)'
    where = target
    if cluster:
        where += f' with a cluster of {_cluster_jobs(cluster)}'
        if cluster.get('ps'):
            where += ', variables on the ps tasks'
    if local_pids:
        where += (' (a local cluster tfmagic started on 127.0.0.1, pids '
                  + ', '.join(map(str, local_pids)) + ')')
    return where


def connected(target: str, cluster: Mapping[str, Sequence[str]] | None, dropped: int,
              local_pids: Sequence[int] = (), stopped: int = 0) -> str:
    """The one line ``%tfconnect`` says after connecting."""
    line = (f'{PREFIX}now on {connection(target, cluster, local_pids)}; new graph and session, '
            f'{plural(dropped, "variable")} dropped')
    if stopped:
        line += f'; stopped the local cluster ({plural(stopped, "task")})'
    return line + '.'


def show_connection(target: str, cluster: Mapping[str, Sequence[str]] | None,
                    local_pids: Sequence[int] = (), lost: str | None = None) -> str:
    """What ``%tfconnect`` without arguments shows."""
    lines = [f'{PREFIX}running on {connection(target, cluster, local_pids)}.']
    for job, addresses in (cluster or {}).items():
        lines.extend(f'  /job:{job}/task:{i}  {address}' for i, address in enumerate(addresses))
    if lost:
        lines.append('  ' + lost)
    return '\n'.join(lines)


def mapping_summary(found: CheckpointMap, source: str, arguments: Sequence[str],
                    model: str | None = None) -> str:
    """What ``%mapckpt`` prints above its table: how the keys were mapped,
    what is left, and the ``%restoreckpt`` line that reproduces it."""
    counts = found.counts()
    keys = len(found) - found.key.count(None)
    mapped = sum(counts.values())
    how = ', '.join(f'{n} {how}' for how, n in counts.most_common())
    lines = [f'{PREFIX}{mapped} of {plural(keys, "key")} mapped'
             + (f' ({how})' if how else '')
             + (f', placed by the Keras model {model}' if model else '') + '.']
    problems = found.problems()
    lines += [f'  {row.describe()}' for row in problems[:_MAX_PROBLEMS]]
    if len(problems) > _MAX_PROBLEMS:
        lines.append(f'  ... and {len(problems) - _MAX_PROBLEMS} more (status column)')
    if not mapped:
        lines.append('Nothing to restore with: no key fits a variable.')
    elif arguments:
        lines.append('To restore with this mapping:')
        lines.append(f'  %restoreckpt {source} --map {" ".join(arguments)}'
                     + (' --allow-missing' if problems else ''))
    else:
        lines.append(f'Every mapped key has its variable\'s name: %restoreckpt {source}'
                     + (' --allow-missing' if problems else ''))
    return '\n'.join(lines)
