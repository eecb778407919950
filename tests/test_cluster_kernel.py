"""A local cluster driven from a real Jupyter kernel: a task killed while
connected fails the next cell with one line and the kernel lives on; the
cluster's processes end with ``%tfconnect local``, ``%unload_ext`` and the
kernel itself, even a killed one."""

from __future__ import annotations

import ast
import os
import signal
import time

import pytest

from tests.kernel import Kernel
from tests.test_cluster import wait_gone

pytestmark = [pytest.mark.kernel, pytest.mark.cluster]


def pids(k: Kernel) -> list[int]:
    result = k.run('print(list(tfmagic._magics.local_cluster.pids.values()))').check()
    return ast.literal_eval(result.stdout)


def test_a_killed_task_a_recovery_and_every_way_the_cluster_ends(tmp_path):
    with Kernel(tmp_path) as k:
        k.run('%load_ext tfmagic\nimport tensorflow as tf\nimport tfmagic').check()
        connected = k.run('%tfconnect --local-cluster 2', timeout=120).check()
        assert connected.stdout.startswith('tfmagic: now on grpc://127.0.0.1:')
        assert connected.stdout.count('\n') == 1
        tasks = pids(k)
        k.run("w = tf.compat.v1.get_variable('w', [4])\n"
              "b = tf.compat.v1.get_variable('b', [4])\n"
              'sess = tf.compat.v1.get_default_session()\nsess.run(w)').check()
        k.run('%config TFMagic.operation_timeout = 20').check()
        os.kill(tasks[0], signal.SIGKILL)  # /job:ps/task:0, which holds w
        start = time.monotonic()
        failed = k.run('sess.run(w + b)', timeout=60)
        assert time.monotonic() - start < 20
        assert failed.error['ename'] == 'ClusterUnreachableError'
        assert len(failed.error['traceback']) == 1  # the one line, no traceback
        assert '/job:ps/task:0 (127.0.0.1:' in failed.error['evalue']
        assert k.run('print(1 + 1)').check().stdout == '2\n'  # the kernel lives on
        back = k.run('%tfconnect local', timeout=30).check()
        assert 'stopped the local cluster (3 tasks)' in back.stdout
        assert wait_gone(tasks) == []
        k.run("v = tf.compat.v1.get_variable('v', [2])\n"
              'tf.compat.v1.get_default_session().run(v)').check()

        k.run('%tfconnect --local-cluster 1', timeout=120).check()
        tasks = pids(k)
        unloaded = k.run('%unload_ext tfmagic').check()
        assert 'unloaded' in unloaded.stdout
        assert wait_gone(tasks) == []

        k.run('%load_ext tfmagic').check()
        k.run('%tfconnect --local-cluster 1', timeout=120).check()
        tasks = pids(k)
        kernel_pid = int(k.run('import os\nprint(os.getpid())').check().stdout)
        os.kill(kernel_pid, signal.SIGKILL)  # no atexit: only the tasks' watch on their stdin
    assert wait_gone(tasks) == []


def test_python_m_tfmagic_cluster_help_warns_about_exposed_ports():
    import subprocess
    import sys
    shown = subprocess.run([sys.executable, '-m', 'tfmagic.cluster', '--help'],
                           capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0
    assert 'no authentication' in shown.stdout and '--cluster SPEC' in shown.stdout
