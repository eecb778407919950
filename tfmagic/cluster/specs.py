"""Targets and cluster specs as the user gives them, checked."""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
from collections.abc import Mapping, Sequence

#: The target of the in-process session (no cluster).
LOCAL = 'local'
#: Where local clusters' tasks listen, and the only host they are told about.
LOOPBACK = '127.0.0.1'
#: Seconds %tfconnect waits for a target and its tasks to answer.
CONNECT_TIMEOUT = 8.0

_HOST_PORT = r'(?P<host>[A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\]):(?P<port>\d{1,5})'
_TARGET = re.compile(rf'^grpc://{_HOST_PORT}$')
_ADDRESS = re.compile(rf'^{_HOST_PORT}$')
_JOB = re.compile(r'^[a-z][a-z0-9_]*$')

ClusterSpec = dict[str, list[str]]


class ClusterError(Exception):
    """A target, cluster spec or task that cannot be used; the message says why."""


# -- what the user names -------------------------------------------------------------


def parse_target(text: str) -> str:
    """The session target for ``text``: ``''`` for ``local`` (the in-process
    session), else ``grpc://HOST:PORT`` as given."""
    if text == LOCAL:
        return ''
    match = _TARGET.match(text)
    if not match or not 0 < int(match['port']) < 65536:
        raise ClusterError(f'{text!r} is not a target: give grpc://HOST:PORT of a TensorFlow '
                           f'server task, or {LOCAL}')
    return text


def parse_cluster_spec(text: str) -> ClusterSpec:
    """A cluster spec from JSON text or from the path of a JSON file:
    ``{"ps": ["host:port", ...], "worker": [...]}``."""
    source = 'the cluster spec'
    if not text.lstrip().startswith(('{', '[')):
        path = os.path.expanduser(text)
        try:
            with open(path, encoding='utf-8') as file:
                text = file.read()
        except OSError as err:
            raise ClusterError(f'cannot read cluster spec {path}: {err.strerror or err}; give '
                               'a JSON file or JSON text such as {"ps": ["HOST:PORT"], '
                               '"worker": ["HOST:PORT"]}') from None
        source = path
    try:
        spec = json.loads(text)
    except json.JSONDecodeError as err:
        raise ClusterError(f'{source} is not JSON: {err}') from None
    return checked_spec(spec, source)


def checked_spec(spec: object, source: str = 'the cluster spec') -> ClusterSpec:
    """``spec`` if it is a valid cluster spec, else a :class:`ClusterError`."""
    shape = 'a JSON object of job names to lists of "HOST:PORT", e.g. {"ps": ["HOST:PORT"]}'
    if not isinstance(spec, dict) or not spec:
        raise ClusterError(f'{source} must be {shape}')
    seen: dict[str, str] = {}
    for job, addresses in spec.items():
        if not _JOB.match(job):
            raise ClusterError(f'{source}: {job!r} is not a job name (lowercase letters, '
                               'digits and _)')
        if not isinstance(addresses, list) or not addresses:
            raise ClusterError(f'{source}: job {job!r} must list one or more "HOST:PORT"')
        for index, address in enumerate(addresses):
            match = _ADDRESS.match(address) if isinstance(address, str) else None
            if not match or not 0 < int(match['port']) < 65536:
                raise ClusterError(f'{source}: /job:{job}/task:{index} has address '
                                   f'{address!r}; give "HOST:PORT"')
            task = f'/job:{job}/task:{index}'
            if address in seen:
                raise ClusterError(f'{source}: {seen[address]} and {task} both have '
                                   f'address {address}')
            seen[address] = task
    return {job: list(addresses) for job, addresses in spec.items()}


def tasks(spec: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """Each task's name (``/job:ps/task:0``) and address."""
    return {f'/job:{job}/task:{i}': address
            for job, addresses in spec.items() for i, address in enumerate(addresses)}


def target_of(spec: Mapping[str, Sequence[str]], job: str = 'worker', task: int = 0) -> str:
    return f'grpc://{spec[job][task]}'


def refused(address: str, timeout: float = 1.0) -> bool:
    """True when nothing accepts a connection at ``address`` (``HOST:PORT``)."""
    host, _, port = address.rpartition(':')
    try:
        with socket.create_connection((host.strip('[]'), int(port)), timeout=timeout):
            return False
    except OSError:
        return True


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports nothing listens on at 127.0.0.1 now."""
    with contextlib.ExitStack() as stack:
        ports = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket())
            sock.bind((LOOPBACK, 0))
            ports.append(sock.getsockname()[1])
        return ports

