"""Whether a cluster's tasks answer, and which ones stopped."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable

import tensorflow as tf

from ..wording import first_line
from ..workspace import Diagnose, abandon
from .specs import ClusterError, ClusterSpec, refused, tasks

#: Seconds a task that stopped may take to refuse a connection.
_REFUSE_TIMEOUT = 0.5
#: Seconds the tasks have to answer again after a run took too long.
_RECHECK_TIMEOUT = 2.0


def check_reachable(target: str, spec: ClusterSpec | None, timeout: float) -> None:
    """Raise a :class:`ClusterError` naming each task of ``spec`` (or the
    target, without one) that refuses connections, does not run a tiny op
    within ``timeout`` seconds, or is not in the target's cluster."""
    addresses = tasks(spec) if spec else {target: target.removeprefix('grpc://')}
    refusing = [task for task, address in addresses.items() if refused(address, _REFUSE_TIMEOUT)]
    if refusing:
        raise ClusterError(f'nothing listens at {_named(refusing, addresses)}')
    failures = _probe(target, list(addresses) if spec else [None], timeout)
    if not failures:
        return
    late = [task or target for task, err in failures.items()
            if isinstance(err, (tf.errors.DeadlineExceededError, tf.errors.UnavailableError))]
    if late:
        raise ClusterError(f'{_named(late, addresses)} did not answer within {timeout:g} s')
    task, err = next(iter(failures.items()))
    if isinstance(err, tf.errors.InvalidArgumentError):
        raise ClusterError(f'the cluster of {target} has no task {task}: give --cluster the '
                           f'spec its tasks were started with ({first_line(err)})')
    raise ClusterError(f'{target} is not a TensorFlow server task ({first_line(err)})')


def _probe(target: str, devices: list[str | None], timeout: float
           ) -> dict[str | None, tf.errors.OpError]:
    """Run a constant on each device at once, each in a session that sees
    only that device (a session that sees all waits for the slowest); the
    error of each that failed."""
    milliseconds = max(1, round(timeout * 1000))
    with concurrent.futures.ThreadPoolExecutor(len(devices)) as pool:
        runs = {device: pool.submit(_probe_one, target, device, milliseconds)
                for device in devices}
    return {device: error for device, run in runs.items()
            if (error := run.result()) is not None}


def _probe_one(target: str, device: str | None, milliseconds: int) -> tf.errors.OpError | None:
    graph = tf.Graph()
    with graph.as_default(), graph.device(device):
        probe = tf.constant(0, name='probe')
    config = tf.compat.v1.ConfigProto(operation_timeout_in_ms=milliseconds)
    if device is not None:
        config.device_filters.append(device)
    session = tf.compat.v1.Session(target, graph=graph, config=config)
    try:
        session.run(probe, options=tf.compat.v1.RunOptions(timeout_in_ms=milliseconds))
    except tf.errors.OpError as err:
        abandon(session)  # closing it would wait for the task that did not answer
        return err
    session.close()
    return None


def _named(names: list[str], addresses: dict[str, str]) -> str:
    """``/job:ps/task:0 (HOST:PORT), ...``; a target is its own address."""
    return ', '.join(name if name.startswith('grpc://') else f'{name} ({addresses[name]})'
                     for name in names)


def lost_message(target: str, what: str) -> str:
    """One line for a workspace whose cluster stopped answering: ``what``
    happened, and how to go on."""
    return (f'the cluster stopped answering: {what}. Nothing more runs on it: '
            f'%tfconnect local goes back to the in-process session, %tfconnect {target} '
            'reconnects (each starts a new graph).')


def diagnose(target: str, spec: ClusterSpec | None, operation_timeout: Callable[[], float]
             ) -> Diagnose:
    """What :meth:`.Workspace.connect` calls when a run on the cluster failed
    as unavailable or late (``error``), or before closing its session
    (``None``): the line naming the task that stopped answering, or None
    when every task answers (a failed run's error is then TensorFlow's own,
    and the workspace goes on)."""
    def diagnosed(error: tf.errors.OpError | None) -> str | None:
        try:
            check_reachable(target, spec, min(_RECHECK_TIMEOUT, operation_timeout()))
        except ClusterError as err:
            what = str(err)
        else:
            return None  # every task answers: a slow run, or a blip to retry
        if isinstance(error, tf.errors.DeadlineExceededError):
            what += ('; a run took longer than TFMagic.operation_timeout '
                     f'({operation_timeout():g} s)')
        return lost_message(target, what)

    return diagnosed
