"""%tfconnect and variables on a TensorFlow cluster, in the real shell.

The cluster is real: ``ps`` and ``worker`` tasks are ``tf.distribute.Server``
child processes on 127.0.0.1 (one local cluster for the module, started by
tfmagic's own launcher; a fault test starts its own, to kill a task of it).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf
from IPython.core.error import UsageError
from traitlets import TraitError

import tfmagic
from tests.shell import ok, ops_count, run
from tfmagic import cluster
from tfmagic.checkpoints import CheckpointError
from tfmagic.cluster.local import SERVING
from tfmagic.cluster.specs import free_ports
from tfmagic.workspace import ClusterUnreachableError

pytestmark = pytest.mark.cluster

#: Two variables round-robin on the two ps tasks, and an embedding in two
#: parts, one on each; the values are known, to check statistics and restores.
MODEL = '''\
_emb = np.linspace(-1, 1, 40, dtype=np.float32).reshape(10, 4)
def _emb_part(shape, dtype=None, partition_info=None):
    start = partition_info.var_offset[0] if partition_info else 0
    return tf.constant(_emb[start:start + shape[0]])
with tf.compat.v1.variable_scope('net'):
    w = tf.compat.v1.get_variable('w', initializer=np.arange(12, dtype=np.float32).reshape(3, 4))
    b = tf.compat.v1.get_variable('b', initializer=np.array([1, 2, 3], dtype=np.int64))
    emb = tf.compat.v1.get_variable('emb', [10, 4], initializer=_emb_part,
                                    partitioner=tf.compat.v1.fixed_size_partitioner(2))
'''


def free_port() -> int:
    return free_ports(1)[0]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A child that exited but was not reaped yet is a zombie: gone all the same.
    with open(f'/proc/{pid}/stat') as stat:
        return stat.read().split(')')[-1].split()[0] != 'Z'


def wait_gone(pids, timeout: float = 10.0) -> list[int]:
    """The pids still running after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(map(alive, pids)):
        time.sleep(0.1)
    return [pid for pid in pids if alive(pid)]


@pytest.fixture(scope='module')
def local_cluster():
    with cluster.running_local_cluster(2) as started:
        yield started


@pytest.fixture
def on_cluster(ip, local_cluster, tmp_path, monkeypatch):
    """The shell connected to the module's cluster, in a temporary folder,
    with MODEL built; back in process afterwards."""
    monkeypatch.chdir(tmp_path)
    spec = json.dumps(local_cluster.spec)
    ok(ip, f"%tfconnect {local_cluster.target} --cluster '{spec}'")
    ok(ip, 'import numpy as np\n' + MODEL)
    yield ip
    ok(ip, '%tfconnect local')


def values(ip, names=('w', 'b', 'emb')):
    """The values of MODEL's variables as the session has them."""
    fetches = ', '.join('list(emb)' if name == 'emb' else name for name in names)
    ok(ip, f'_values = tf.compat.v1.get_default_session().run([{fetches}])')
    return [np.concatenate(v) if isinstance(v, list) else v for v in ip.user_ns['_values']]


# -- what the user types, checked before anything changes ---------------------------------


@pytest.mark.parametrize('text', ['grpc://', 'http://127.0.0.1:2222', 'grpc://host', 'grpc://h:0',
                                  'grpc://h:70000', 'locall', '127.0.0.1:2222'])
def test_bad_targets_are_refused(text):
    with pytest.raises(cluster.ClusterError, match='is not a target'):
        cluster.parse_target(text)


def test_targets():
    assert cluster.parse_target('local') == ''
    assert cluster.parse_target('grpc://10.0.0.5:2222') == 'grpc://10.0.0.5:2222'


@pytest.mark.parametrize('spec, message', [
    ('{"ps": ["127.0.0.1:1"]', 'is not JSON'),
    ('[1]', 'must be a JSON object'),
    ('{}', 'must be a JSON object'),
    ('{"PS": ["127.0.0.1:1"]}', 'is not a job name'),
    ('{"ps": []}', 'one or more'),
    ('{"ps": "127.0.0.1:1"}', 'one or more'),
    ('{"ps": ["127.0.0.1"]}', '/job:ps/task:0 has address'),
    ('{"ps": ["127.0.0.1:1"], "worker": ["127.0.0.1:1"]}', 'both have address'),
])
def test_bad_cluster_specs_are_refused(spec, message):
    with pytest.raises(cluster.ClusterError, match=message):
        cluster.parse_cluster_spec(spec)


def test_cluster_spec_from_a_file(tmp_path):
    path = tmp_path / 'cluster.json'
    path.write_text('{"ps": ["127.0.0.1:2222", "127.0.0.1:2223"], "worker": ["127.0.0.1:2224"]}')
    spec = cluster.parse_cluster_spec(str(path))
    assert spec == {'ps': ['127.0.0.1:2222', '127.0.0.1:2223'], 'worker': ['127.0.0.1:2224']}
    assert cluster.tasks(spec)['/job:ps/task:1'] == '127.0.0.1:2223'
    with pytest.raises(cluster.ClusterError, match='cannot read cluster spec'):
        cluster.parse_cluster_spec(str(tmp_path / 'missing.json'))


@pytest.mark.parametrize('line, message', [
    ('grpc://nowhere', 'is not a target'),
    ('--cluster \'{"ps": ["127.0.0.1:1"]}\'', '--cluster describes the cluster of a TARGET'),
    ('--local-cluster 0', '1 or more ps tasks'),
    ('grpc://127.0.0.1:2 --local-cluster 1', 'give it alone'),
    ('grpc://127.0.0.1:2 --cluster \'{"ps": [}\'', 'is not JSON'),
    ('grpc://127.0.0.1:2 --cluster missing.json', 'cannot read cluster spec'),
    ('local extra', 'unrecognized arguments'),
])
def test_bad_arguments_change_nothing(ip, ws, tmp_path, monkeypatch, line, message):
    monkeypatch.chdir(tmp_path)
    ok(ip, "v = tf.compat.v1.get_variable('v', [2])")
    graph, before = ws.graph, ops_count(ws.graph)
    with pytest.raises(UsageError, match='^[^\n]*$') as info:
        ip.run_line_magic('tfconnect', line)
    assert message in str(info.value)
    assert ws.graph is graph and ops_count(graph) == before and ws.target == ''


def test_a_target_where_nothing_listens_fails_at_once(ip, ws):
    ok(ip, "v = tf.compat.v1.get_variable('v', [2])")
    graph = ws.graph
    port = free_port()
    start = time.monotonic()
    with pytest.raises(UsageError, match=rf'^%tfconnect: nothing listens at grpc://127.0.0.1:{port}$'):
        ip.run_line_magic('tfconnect', f'grpc://127.0.0.1:{port}')
    assert time.monotonic() - start < 3
    assert ws.graph is graph and ws.target == ''
    ok(ip, 'tf.compat.v1.get_default_session().run(v)')  # still the in-process session


def test_without_arguments_it_says_where_the_workspace_runs(ip, capsys):
    ok(ip, '%tfconnect')
    assert capsys.readouterr().out == 'tfmagic: running on the in-process session (local).\n'


def test_operation_timeout_must_be_positive(ip, ws):
    with pytest.raises(TraitError, match='operation_timeout'):
        tfmagic._magics.operation_timeout = -1
    ok(ip, '%config TFMagic.operation_timeout = 5')
    assert ws.operation_timeout == 5
    ok(ip, '%config TFMagic.operation_timeout = 60')


# -- placement, devices and statistics ------------------------------------------------------


def test_connecting_places_variables_on_the_ps_tasks(on_cluster, local_cluster, capsys):
    ip = on_cluster
    frame = ok(ip, '%vars').set_index('name')
    assert frame.loc['net/w', 'device'] == '/job:ps/task:0'
    assert frame.loc['net/b', 'device'] == '/job:ps/task:1'
    assert set(frame.loc['net/emb', 'device'].split(', ')) == {'/job:ps/task:0',
                                                             '/job:ps/task:1'}
    shards = ok(ip, "%vars 'net/emb*' --shards")
    assert sorted(shards.device) == ['/job:ps/task:0', '/job:ps/task:1']
    capsys.readouterr()
    ok(ip, '%tfconnect')
    shown = capsys.readouterr().out
    assert shown.startswith(f'tfmagic: running on {local_cluster.target} with a cluster of '
                            '2 ps tasks, 1 worker task, variables on the ps tasks.')
    for task, address in cluster.tasks(local_cluster.spec).items():
        assert f'{task}  {address}' in shown
    # Ops go to the task the session runs on; a user's own device scope still wins.
    ok(ip, 'y = tf.reduce_sum(w)\nwith tf.device("/job:ps/task:1"):\n    z = w + 1')
    assert ip.user_ns['y'].device == '/job:worker/task:0'  # the target's task
    assert ip.user_ns['z'].device == '/job:ps/task:1'


def test_connecting_says_so_in_one_line_and_starts_clean(on_cluster, local_cluster, capsys):
    ip = on_cluster
    capsys.readouterr()
    ok(ip, f'%tfconnect {local_cluster.target}')
    out = capsys.readouterr().out
    assert out == (f'tfmagic: now on {local_cluster.target}; new graph and session, '
                   '3 variables dropped.\n')
    assert len(ok(ip, '%vars')) == 0


def test_stats_are_computed_on_the_devices(on_cluster):
    ip = on_cluster
    ws = tfmagic.workspace()
    frame = ok(ip, '%vars --stats').set_index('name')
    w, b, emb = values(ip)
    for name, value in (('net/w', w), ('net/b', b), ('net/emb', emb)):
        row = frame.loc[name]
        assert row['size'] == value.size and row['nbytes'] == value.nbytes
        assert row['min'] == value.min() and row['max'] == value.max()
        assert row['mean'] == pytest.approx(value.mean(), rel=1e-6, abs=1e-7)
        assert row['std'] == pytest.approx(value.std(), rel=1e-5)
    stats_ops = [op for op in ws.graph.get_operations() if op.name.startswith('tfmagic/stats')]
    assert stats_ops
    for op in stats_ops:  # on a ps task, or (reading a variable) colocated with it
        assert op.device in ('/job:ps/task:0', '/job:ps/task:1') or all(
            group.startswith(b'loc:@net/') for group in op.colocation_groups()), op
    # Built once: a repeated call adds no op, and %vars lists none of them.
    before = ops_count(ws.graph)
    again = ok(ip, '%vars --stats').set_index('name')
    assert ops_count(ws.graph) == before
    assert list(again.index) == ['net/b', 'net/emb', 'net/w']
    ok(ip, 'tf.compat.v1.get_default_session().run(w.assign(w * 2))')
    assert ok(ip, "%vars 'net/w' --stats")['max'][0] == 22.0


# -- sharded checkpoints --------------------------------------------------------------------


def test_a_sharded_checkpoint_restores_in_process_and_back(on_cluster, tmp_path):
    ip = on_cluster
    ok(ip, '%saveckpt ckpt/model')
    files = sorted(p.name for p in (tmp_path / 'ckpt').iterdir())
    assert files == ['checkpoint', 'model.data-00000-of-00002', 'model.data-00001-of-00002',
                     'model.index', 'model.meta']
    saved = values(ip)
    ok(ip, '%tfconnect local')
    ok(ip, 'import numpy as np\n' + MODEL.replace('np.arange', '-np.arange'))
    ok(ip, '%restoreckpt ckpt/model')
    restored = values(ip)
    for before, after in zip(saved, restored, strict=True):
        np.testing.assert_array_equal(before, after)


def test_restore_on_the_cluster_of_an_in_process_checkpoint(ip, local_cluster, tmp_path,
                                                           monkeypatch):
    monkeypatch.chdir(tmp_path)
    ok(ip, 'import numpy as np\n' + MODEL)
    ok(ip, 'tf.compat.v1.get_default_session().run(b.assign([7, 8, 9]))')
    ok(ip, '%saveckpt local/model')
    ok(ip, f"%tfconnect {local_cluster.target} --cluster '{json.dumps(local_cluster.spec)}'")
    try:
        ok(ip, MODEL)
        ok(ip, '%restoreckpt local/model')
        np.testing.assert_array_equal(values(ip, ['b'])[0], [7, 8, 9])
    finally:
        ok(ip, '%tfconnect local')


def test_plain_sharded_saver_reads_and_writes_the_same_files(on_cluster, tmp_path):
    ip = on_cluster
    ok(ip, '%saveckpt ckpt/model')
    # A plain TF1 script on the same cluster: its own graph, session and Savers.
    ok(ip, '''
import os
_plain = tf.Graph()
_placement = tf.compat.v1.train.replica_device_setter(
    cluster=tf.train.ClusterSpec(tfmagic.workspace().cluster))
with _plain.as_default(), tf.compat.v1.device(_placement):
    _w = tf.compat.v1.get_variable('plain_net/w', [3, 4])
    _b = tf.compat.v1.get_variable('plain_net/b', [3], dtype=tf.int64)
    _read = tf.compat.v1.train.Saver({'net/w': _w, 'net/b': _b}, sharded=True)
    _write = tf.compat.v1.train.Saver(sharded=True)
with tf.compat.v1.Session(tfmagic.workspace().target, graph=_plain) as _s:
    _read.restore(_s, os.path.abspath('ckpt/model'))
    _plain_values = _s.run([_w, _b])
    _s.run(_b.assign([4, 5, 6]))
    os.makedirs('plain')
    _write.save(_s, os.path.abspath('plain/model'), write_meta_graph=False)
''')
    mine = values(ip, ['w', 'b'])
    for theirs, ours in zip(ip.user_ns['_plain_values'], mine, strict=True):
        np.testing.assert_array_equal(theirs, ours)
    assert len(list((tmp_path / 'plain').glob('model.data-*-of-00002'))) == 2
    ok(ip, '%restoreckpt plain/model --map plain_net=net --allow-missing')
    np.testing.assert_array_equal(values(ip, ['b'])[0], [4, 5, 6])


def test_relative_paths_are_the_notebooks_not_the_tasks(on_cluster, tmp_path):
    """The tasks' working directory is not the notebook's: a relative prefix
    still lands in the notebook's folder, after %cd too."""
    ip = on_cluster
    (tmp_path / 'elsewhere').mkdir()
    ip.run_line_magic('cd', '-q elsewhere')
    ok(ip, '%saveckpt run/model --step 3')
    assert (tmp_path / 'elsewhere' / 'run' / 'model-3.index').exists()
    assert len(ok(ip, '%ckpts run')) == 1


def test_ram_paths_are_refused_on_a_cluster(ip, ws, local_cluster, tmp_path, monkeypatch):
    """ram:// is each process's own memory: the tasks would write where the
    notebook never sees it. Refused before anything is built."""
    monkeypatch.chdir(tmp_path)
    ok(ip, 'import numpy as np\n' + MODEL)
    ok(ip, '%saveckpt ram://cluster_test/model')  # in process, ram:// is fine
    ok(ip, f"%tfconnect {local_cluster.target} --cluster '{json.dumps(local_cluster.spec)}'")
    try:
        ok(ip, MODEL)
        before = ops_count(ws.graph)
        for magic in ('saveckpt', 'restoreckpt'):
            with pytest.raises(CheckpointError, match='ram:// is memory of each process'):
                ip.run_line_magic(magic, 'ram://cluster_test/model')
        assert ops_count(ws.graph) == before
        assert len(ok(ip, '%ckpts ram://cluster_test')) == 1
    finally:
        ok(ip, '%tfconnect local')


def test_round_robin_goes_on_from_cell_to_cell(on_cluster):
    ip = on_cluster
    for name in 'abcd':
        ok(ip, f"{name} = tf.compat.v1.get_variable('{name}', [1])")
    devices = [ip.user_ns[name].device for name in 'abcd']
    # MODEL placed w, b, then emb's two parts: the next is task 0 again
    assert devices == ['/job:ps/task:0', '/job:ps/task:1'] * 2


def test_a_reset_on_the_cluster_starts_clean(on_cluster):
    """The tasks keep no variable of an earlier session: a name comes back
    with another dtype, and without a value."""
    ip = on_cluster
    ok(ip, '%tfreset')
    ok(ip, "b = tf.compat.v1.get_variable('net/b', initializer=[0.5, 1.5])")
    np.testing.assert_array_equal(values(ip, ['b'])[0], [0.5, 1.5])
    ok(ip, '%config TFMagic.auto_init = False')
    try:
        ok(ip, '%tfreset')
        ok(ip, "b = tf.compat.v1.get_variable('net/b', [2])")
        assert not ok(ip, '%vars')['initialized'][0]
    finally:
        ok(ip, '%config TFMagic.auto_init = True')


# -- faults ----------------------------------------------------------------------------------


def test_a_killed_ps_task_fails_the_next_cell_and_local_recovers(ip, ws, tmp_path, monkeypatch,
                                                                 capsys):
    monkeypatch.chdir(tmp_path)
    ok(ip, '%config TFMagic.operation_timeout = 20')
    try:
        ok(ip, '%tfconnect --local-cluster 2')
        started = tfmagic._magics.local_cluster
        pids = list(started.pids.values())
        ok(ip, 'import numpy as np\n' + MODEL)
        ps0 = started.processes['/job:ps/task:0']
        ps0.kill()
        ps0.wait()
        start = time.monotonic()
        result = run(ip, 'tf.compat.v1.get_default_session().run(w)')
        assert time.monotonic() - start < 5
        error = result.error_in_exec
        assert isinstance(error, ClusterUnreachableError)
        address = started.spec['ps'][0]
        assert error.message.startswith(
            f'the cluster stopped answering: nothing listens at /job:ps/task:0 ({address}).')
        assert '%tfconnect local' in error.message and '\n' not in error.message
        # Every later call fails at once, magics included, with the same line.
        start = time.monotonic()
        for line in ('vars --stats', 'saveckpt ckpt/model'):
            with pytest.raises(ClusterUnreachableError) as again:
                ip.run_line_magic(*line.split(' ', 1))
            assert again.value.message == error.message
        assert time.monotonic() - start < 2
        capsys.readouterr()
        start = time.monotonic()
        ok(ip, '%tfconnect local')
        assert time.monotonic() - start < 10
        assert 'stopped the local cluster (3 tasks)' in capsys.readouterr().out
        assert wait_gone(pids) == []
        assert ws.target == '' and ws.lost is None
        ok(ip, "v = tf.compat.v1.get_variable('v', [2])\n"
               'tf.compat.v1.get_default_session().run(v)')
    finally:
        ok(ip, '%config TFMagic.operation_timeout = 60')
        tfmagic._magics.stop_local_cluster()


def test_a_hung_task_is_named_once_a_run_outlasts_the_timeout(ip, tmp_path, monkeypatch):
    """A stopped (not killed) task accepts connections but never answers.
    The timeout is changed after connecting, and applies at once."""
    monkeypatch.chdir(tmp_path)
    try:
        ok(ip, '%tfconnect --local-cluster 2')
        started = tfmagic._magics.local_cluster
        ok(ip, 'import numpy as np\n' + MODEL)
        ok(ip, '%config TFMagic.operation_timeout = 3')
        os.kill(started.pids['/job:ps/task:1'], signal.SIGSTOP)
        start = time.monotonic()
        result = run(ip, 'tf.compat.v1.get_default_session().run(b)')
        assert 3 <= time.monotonic() - start < 9  # the run's 3 s, then 2 s to find the task
        error = result.error_in_exec
        assert isinstance(error, ClusterUnreachableError)
        assert (f"/job:ps/task:1 ({started.spec['ps'][1]}) did not answer within 2 s; a run "
                'took longer than TFMagic.operation_timeout (3 s)') in error.message
        start = time.monotonic()
        ok(ip, '%tfconnect local')
        assert time.monotonic() - start < 10
    finally:
        ok(ip, '%config TFMagic.operation_timeout = 60')
        tfmagic._magics.stop_local_cluster()


def test_a_slow_run_is_not_a_lost_cluster(on_cluster, ws):
    """A run that waits longer than the timeout while every task answers
    (an empty queue) fails with TensorFlow's own error, and the next works;
    a deadline the run sets itself is its own business."""
    ip = on_cluster
    ok(ip, 'q = tf.queue.FIFOQueue(1, tf.float32)\ntaken = q.dequeue()')
    ok(ip, '%config TFMagic.operation_timeout = 1')
    try:
        result = run(ip, 'tf.compat.v1.get_default_session().run(taken)')
        assert type(result.error_in_exec) is tf.errors.DeadlineExceededError
        assert ws.lost is None
        result = run(ip, 'tf.compat.v1.get_default_session().run(taken, options='
                         'tf.compat.v1.RunOptions(timeout_in_ms=200))')
        assert type(result.error_in_exec) is tf.errors.DeadlineExceededError
        assert ws.lost is None
        ok(ip, 'tf.compat.v1.get_default_session().run(w)')
    finally:
        ok(ip, '%config TFMagic.operation_timeout = 60')


def test_a_task_killed_unnoticed_does_not_slow_leaving(ip, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    ok(ip, '%tfconnect --local-cluster 1')
    started = tfmagic._magics.local_cluster
    ok(ip, "v = tf.compat.v1.get_variable('v', [2])")
    started.processes['/job:ps/task:0'].kill()
    start = time.monotonic()
    ok(ip, '%tfconnect local')
    assert time.monotonic() - start < 5
    assert wait_gone(list(started.pids.values())) == []


# -- tasks of a real cluster, started by hand ------------------------------------------------


def test_python_m_tfmagic_cluster_runs_one_task(ip, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = {'ps': [f'127.0.0.1:{free_port()}'], 'worker': [f'127.0.0.1:{free_port()}']}
    (tmp_path / 'cluster.json').write_text(json.dumps(spec))
    command = [sys.executable, '-m', 'tfmagic.cluster', '--cluster', 'cluster.json']
    tasks = [subprocess.Popen([*command, '--job', job, '--task', '0'], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
             for job in ('ps', 'worker')]
    try:
        for task, job in zip(tasks, ('ps', 'worker'), strict=True):
            assert task.stdout.readline() == f'{SERVING} {spec[job][0]}\n'
        ok(ip, f'%tfconnect grpc://{spec["worker"][0]} --cluster cluster.json')
        ok(ip, "v = tf.compat.v1.get_variable('v', [2])\n"
               'tf.compat.v1.get_default_session().run(v)')
        assert ok(ip, '%vars')['device'][0] == '/job:ps/task:0'
        ok(ip, '%tfconnect local')
    finally:
        for task in tasks:
            task.kill()
            task.wait()
    bad = subprocess.run([*command, '--job', 'chief', '--task', '0'], capture_output=True,
                         text=True, timeout=60)
    assert bad.returncode == 2
    assert '/job:chief/task:0 is not in the cluster spec (ps ×1, worker ×1)' in bad.stderr
