"""TensorFlow clusters: targets, cluster specs, and local clusters of server tasks.

A cluster is TensorFlow's own distributed runtime: ``tf.distribute.Server``
tasks in jobs (``ps``, ``worker``) that a session on a ``grpc://`` target
drives. This package parses what the user names a cluster by
(:mod:`.specs`) and launches a local one (:mod:`.local`); placing variables
and running the session is :mod:`tfmagic.workspace`'s. One task of a real
cluster runs with::

    python -m tfmagic.cluster --cluster cluster.json --job ps --task 0

TensorFlow's servers have no authentication: whoever reaches a task's port
can run any op on it, file access included. Local clusters name 127.0.0.1
in their cluster spec and every connection tfmagic makes goes there, but
TensorFlow's gRPC server listens on every interface of the machine
(``grpc_server_lib.cc`` binds ``0.0.0.0:PORT``, with no option to change
it), so on a machine others can reach, a firewall must keep the ports closed.
"""

from .connect import connect, placement
from .local import LocalCluster, running_local_cluster, start_local_cluster
from .probe import check_reachable, diagnose, lost_message
from .specs import (
    CONNECT_TIMEOUT,
    LOCAL,
    ClusterError,
    ClusterSpec,
    checked_spec,
    parse_cluster_spec,
    parse_target,
    refused,
    target_of,
    tasks,
)

__all__ = ['CONNECT_TIMEOUT', 'LOCAL', 'ClusterError', 'ClusterSpec', 'LocalCluster',
           'check_reachable', 'checked_spec', 'connect', 'diagnose', 'lost_message',
           'parse_cluster_spec', 'parse_target', 'placement', 'refused', 'running_local_cluster',
           'start_local_cluster', 'target_of', 'tasks']
