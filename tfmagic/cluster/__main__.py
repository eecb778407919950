"""``python -m tfmagic.cluster``: run one task of a TensorFlow cluster until stopped."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import threading
from collections.abc import Sequence
from typing import IO

from .local import SERVING
from .specs import ClusterError, parse_cluster_spec

_DESCRIPTION = ('Run one task of a TensorFlow cluster (a tf.distribute.Server) until stopped. '
                'TensorFlow servers have no authentication and listen on every interface: '
                'never let a machine you do not trust reach their ports.')


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog='python -m tfmagic.cluster', description=_DESCRIPTION)
    parser.add_argument('--cluster', required=True, metavar='SPEC',
                        help='cluster spec: JSON text or the path of a JSON file, '
                             'e.g. \'{"ps": ["HOST:PORT"], "worker": ["HOST:PORT"]}\'')
    parser.add_argument('--job', required=True, help="this task's job, e.g. ps or worker")
    parser.add_argument('--task', required=True, type=int, help="this task's index in its job")
    # Local clusters: exit when the notebook's end of the pipe closes.
    parser.add_argument('--exit-with-stdin', action='store_true', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        spec = parse_cluster_spec(args.cluster)
    except ClusterError as err:
        parser.error(str(err))
    if args.job not in spec or not 0 <= args.task < len(spec[args.job]):
        jobs = ', '.join(f'{job} ×{len(addresses)}' for job, addresses in spec.items())
        parser.error(f'/job:{args.job}/task:{args.task} is not in the cluster spec ({jobs})')
    if args.exit_with_stdin:
        _exit_at_end_of(sys.stdin.buffer)

    import tensorflow as tf

    server = tf.distribute.Server(tf.train.ClusterSpec(spec), job_name=args.job,
                                  task_index=args.task, start=True)
    print(SERVING, spec[args.job][args.task], flush=True)
    server.join()


def _exit_at_end_of(stream: IO[bytes]) -> None:
    """Exit the process when ``stream`` ends: its parent is gone."""
    def watch() -> None:
        with contextlib.suppress(OSError, ValueError):
            while stream.read(4096):
                pass
        os._exit(0)
    threading.Thread(target=watch, name='tfmagic-parent-watch', daemon=True).start()


if __name__ == '__main__':
    main()
