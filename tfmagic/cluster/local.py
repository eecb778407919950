"""Local clusters: ``ps`` tasks and a ``worker``, each a child process
running TensorFlow's own server (``python -m tfmagic.cluster``) on 127.0.0.1."""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import selectors
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO

from .specs import LOOPBACK, ClusterError, ClusterSpec, free_ports, target_of, tasks

#: Seconds a local cluster's tasks may take to start (TensorFlow's import included).
START_TIMEOUT = 120.0
#: A task prints this, then its address, once its server is started.
SERVING = 'tfmagic.cluster: serving'


@dataclass(eq=False)
class LocalCluster:
    """The running tasks of a local cluster (see :func:`start_local_cluster`).

    The children exit when :meth:`stop` is called, when this process exits,
    or when it dies: each one watches its stdin, a pipe only this process
    holds open."""

    spec: ClusterSpec
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)  # by task name
    logs: dict[str, IO[bytes]] = field(default_factory=dict)  # each task's stderr

    @property
    def target(self) -> str:
        """The worker's target, which sessions connect to."""
        return target_of(self.spec)

    @property
    def pids(self) -> dict[str, int]:
        return {task: process.pid for task, process in self.processes.items()}

    def exited(self) -> list[str]:
        """The tasks whose process has exited."""
        return [task for task, process in self.processes.items() if process.poll() is not None]

    def stop(self) -> None:
        """Stop every task; idempotent. A TensorFlow server cannot shut down
        cleanly (its ``stop()`` is unimplemented), so each is killed."""
        atexit.unregister(self.stop)
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
        for process in self.processes.values():
            process.wait()
            for pipe in (process.stdin, process.stdout):
                if pipe is not None:
                    pipe.close()
        for log in self.logs.values():
            log.close()
        self.logs.clear()


def start_local_cluster(ps_tasks: int, *, timeout: float = START_TIMEOUT) -> LocalCluster:
    """Start ``ps_tasks`` parameter servers and one worker on free ports of
    127.0.0.1 and return once each serves; they are stopped at exit."""
    if ps_tasks < 1:
        raise ClusterError(f'a local cluster needs 1 or more ps tasks, not {ps_tasks}')
    try:
        return _start(ps_tasks, timeout)
    except _PortTaken:  # between free_ports() and the task's bind: once more, on new ports
        return _start(ps_tasks, timeout)


class _PortTaken(ClusterError):
    """A task could not listen on its port: another process took it first."""


def _start(ps_tasks: int, timeout: float) -> LocalCluster:
    ports = free_ports(ps_tasks + 1)
    cluster = LocalCluster({'ps': [f'{LOOPBACK}:{port}' for port in ports[:-1]],
                            'worker': [f'{LOOPBACK}:{ports[-1]}']})
    atexit.register(cluster.stop)
    try:
        for task in tasks(cluster.spec):
            job, index = task.removeprefix('/job:').split('/task:')
            log = cluster.logs[task] = tempfile.TemporaryFile()
            cluster.processes[task] = subprocess.Popen(
                [sys.executable, '-m', 'tfmagic.cluster', '--cluster', json.dumps(cluster.spec),
                 '--job', job, '--task', index, '--exit-with-stdin'],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                env={**os.environ, 'TF_CPP_MIN_LOG_LEVEL': os.environ.get(
                    'TF_CPP_MIN_LOG_LEVEL', '2')},
                start_new_session=True)  # a Ctrl-C in a terminal is the notebook's alone
        _wait_serving(cluster, timeout)
    except BaseException:
        cluster.stop()
        raise
    return cluster


@contextlib.contextmanager
def running_local_cluster(ps_tasks: int) -> Iterator[LocalCluster]:
    """``with running_local_cluster(2) as cluster:``, stopped at the end."""
    cluster = start_local_cluster(ps_tasks)
    try:
        yield cluster
    finally:
        cluster.stop()


def _wait_serving(cluster: LocalCluster, timeout: float) -> None:
    """Return once every task printed :data:`SERVING`; raise, with the
    task's last log line, if one exits first or the time runs out."""
    waiting = set(cluster.processes)
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        for task, process in cluster.processes.items():
            selector.register(process.stdout, selectors.EVENT_READ, data=task)  # type: ignore[arg-type]  # a pipe
        while waiting:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ClusterError(f'{", ".join(sorted(waiting))} did not start within '
                                   f'{timeout:g} s')
            for key, _ in selector.select(left):
                task = key.data
                stdout = cluster.processes[task].stdout
                assert stdout is not None, 'started with stdout=PIPE'
                line = stdout.readline()
                if not line:
                    said = _last_log_line(cluster.logs[task])
                    taken = any(sign in said.lower()
                                for sign in ('in use', 'could not start grpc server'))
                    raise (_PortTaken if taken else ClusterError)(
                        f'{task} exited while starting: {said}')
                if line.startswith(SERVING.encode()):
                    selector.unregister(stdout)
                    waiting.discard(task)


def _last_log_line(log: IO[bytes]) -> str:
    log.seek(0)
    lines = [line.strip() for line in log.read().decode(errors='replace').splitlines()
             if line.strip()]
    return lines[-1] if lines else 'no output'
