"""Running a workspace on a cluster, or back in process."""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf

from ..workspace import DevicePlacement, Workspace
from .probe import check_reachable, diagnose
from .specs import CONNECT_TIMEOUT, ClusterSpec, tasks


def connect(workspace: Workspace, target: str = '', spec: ClusterSpec | None = None, *,
            timeout: float = CONNECT_TIMEOUT) -> None:
    """Check that ``target`` (``''``: in process) and every task of ``spec``
    answer within ``timeout`` seconds, then run ``workspace`` there with a
    new graph and session: with ``spec``, each cell under
    ``replica_device_setter``, which puts variables on the ``ps`` tasks.
    Raises :class:`.ClusterError`, changing nothing, when a task does not
    answer. ``tfmagic.cluster.connect(tfmagic.workspace(), '')`` goes back."""
    if target:
        check_reachable(target, spec, timeout)
    workspace.connect(
        target, spec, placement=placement(target, spec) if spec else None,
        diagnose=diagnose(target, spec, lambda: workspace.operation_timeout) if target else None)


def placement(target: str, spec: ClusterSpec) -> Callable[[], DevicePlacement] | None:
    """What makes the device function of a graph on ``target``'s cluster:
    variables round-robin on the ``ps`` tasks, other ops on the task the
    session runs on (the target's, when the spec names it)."""
    if not spec.get('ps'):
        return None
    address = target.removeprefix('grpc://')
    own = next((task for task, at in tasks(spec).items() if at == address), None)
    options = {} if own is None else {'worker_device': own}

    def device_function() -> DevicePlacement:
        return tf.compat.v1.train.replica_device_setter(
            cluster=tf.train.ClusterSpec(spec), **options)
    return device_function
