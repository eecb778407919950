"""Whether a cluster's tasks answer, and which ones stopped."""

from __future__ import annotations

import tensorflow as tf

from .specs import ClusterError, ClusterSpec, refused, tasks, tasks_named_in

#: Seconds a task that stopped may take to refuse a connection before it is named.
_REFUSE_TIMEOUT = 0.5


def check_reachable(target: str, spec: ClusterSpec | None, timeout: float) -> None:
    """Run one tiny op on ``target``, and on every task of ``spec``: raise a
    :class:`ClusterError` naming the task that does not answer within
    ``timeout`` seconds or that the target's cluster does not have."""
    graph = tf.Graph()
    with graph.as_default():
        probes = []
        for task in (tasks(spec) if spec else [None]):
            with graph.device(task):
                probes.append(tf.constant(0, name='probe'))
    config = tf.compat.v1.ConfigProto(operation_timeout_in_ms=max(1, round(timeout * 1000)))
    session = tf.compat.v1.Session(target, graph=graph, config=config)
    try:
        session.run(probes)
    except (tf.errors.UnavailableError, tf.errors.DeadlineExceededError) as err:
        raise ClusterError(_not_answering(target, spec, err, f'{timeout:g} s')) from None
    except tf.errors.InvalidArgumentError as err:
        raise ClusterError(
            f'the cluster of {target} does not match the cluster spec: {_first_line(err)}; '
            'give --cluster the spec its tasks were started with') from None
    finally:
        session.close()


def _not_answering(target: str, spec: ClusterSpec | None, error: tf.errors.OpError,
                   limit: str) -> str:
    where = _unreachable(spec, error) or (f'{target} or a task of its cluster' if spec else target)
    if isinstance(error, tf.errors.DeadlineExceededError):
        return f'{where} did not answer within {limit}'
    return f'{where} {"are" if "," in where else "is"} unreachable'


def _unreachable(spec: ClusterSpec | None, error: tf.errors.OpError) -> str:
    """The tasks ``error`` names (those that refuse connections when it
    names none), each with its address; '' when none is known."""
    addresses = tasks(spec) if spec else {}
    named = tasks_named_in(error.message)
    # An error names the task that reported it as well as the one it could
    # not reach: those that refuse connections are the ones to name.
    suspects = [task for task in (named or addresses) if task in addresses]
    refusing = [task for task in suspects if refused(addresses[task], _REFUSE_TIMEOUT)]
    return ', '.join(f'{task} ({addresses[task]})' if task in addresses else task
                     for task in refusing or named)


def lost_tasks_message(target: str, spec: ClusterSpec | None, error: tf.errors.OpError,
                       timeout: float) -> str:
    """One line for a workspace whose run on ``target`` failed with ``error``:
    which task stopped answering, and how to go on."""
    what = _not_answering(target, spec, error, f'TFMagic.operation_timeout ({timeout:g} s)')
    return (f'the cluster stopped answering: {what}. Nothing more runs on it: '
            f'%tfconnect local goes back to the in-process session, %tfconnect {target} '
            'reconnects (each starts a new graph).')


def _first_line(error: tf.errors.OpError) -> str:
    return error.message.strip().splitlines()[0] if error.message.strip() else type(error).__name__
