"""Partitioned variables in checkpoints: one variable, one key, as ``Saver``
writes it; saved, re-saved, inspected and restored into any partitioning,
and interoperable with a plain ``Saver`` in another process both ways."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tests.shell import ok, run

VALUES = np.arange(40, dtype=np.float32).reshape(10, 4)


#: Gives each part of emb its slice of VALUES (a constant initializer cannot
#: be split into parts), in the cell that creates it.
FILL = """
parts = [emb] if isinstance(emb, tf.Variable) else list(emb)
tf.compat.v1.get_default_session().run([
    part.assign(np.arange(40, dtype=np.float32).reshape(10, 4)[
        slice(*(lambda info: (info.var_offset[0], info.var_offset[0] + info.var_shape[0])
                if info else (None, None))(part._save_slice_info))])
    for part in parts])
"""


def embedding(parts: int | None, filled: bool = False) -> str:
    partitioner = (f', partitioner=tf.compat.v1.fixed_size_partitioner({parts})'
                   if parts else '')
    return ('%%tfscope enc\nimport numpy as np\n'
            "emb = tf.compat.v1.get_variable('emb', [10, 4], "
            f'initializer=tf.compat.v1.zeros_initializer(){partitioner})'
            + (FILL if filled else ''))


def value(ip) -> np.ndarray:
    return np.asarray(ok(ip, 'tf.compat.v1.get_default_session().run('
                             'tf.convert_to_tensor(emb) if isinstance(emb, tf.Variable) '
                             'else emb.as_tensor())'))


@pytest.fixture
def saved(ip, tmp_path, capsys):
    """enc/emb in 3 parts holding VALUES, saved to tmp_path/model; the
    printed save message."""
    ok(ip, embedding(3, filled=True))
    capsys.readouterr()
    ok(ip, f'%saveckpt {tmp_path}/model')
    return capsys.readouterr().out


def test_save_counts_one_variable_everywhere(ip, tmp_path, saved):
    assert saved.startswith('Saved 1 variable ') and f'to {tmp_path}/model' in saved
    assert ok(ip, f'%ckpts {tmp_path}')['variables'].tolist() == [1]
    frame = ok(ip, f'%inspectckpt {tmp_path}/model')
    assert frame.to_dict('list') == {'name': ['enc/emb'], 'shape': [(10, 4)],
                                     'dtype': ['float32'], 'status': ['match']}


def test_a_second_save_to_the_same_prefix_replaces_it(ip, tmp_path, saved, capsys):
    ok(ip, "tf.compat.v1.get_default_session().run([p.assign(p + 1.0) for p in emb])")
    ok(ip, f'%saveckpt {tmp_path}/model')
    assert 'replacing the earlier save of the same variables' in capsys.readouterr().out
    ok(ip, "tf.compat.v1.get_default_session().run([p.assign(tf.zeros_like(p)) for p in emb])")
    ok(ip, f'%restoreckpt {tmp_path}/model')
    np.testing.assert_array_equal(value(ip), VALUES + 1)


@pytest.mark.parametrize('parts', [3, 2, 5, None])
def test_restore_into_any_partitioning(ip, tmp_path, saved, parts, capsys):
    ok(ip, '%tfreset')
    ok(ip, embedding(parts))
    capsys.readouterr()
    ok(ip, f'%restoreckpt {tmp_path}/model')
    assert capsys.readouterr().out.startswith('Restored 1 variable ')
    np.testing.assert_array_equal(value(ip), VALUES)
    assert ok(ip, '%vars')['initialized'].tolist() == [True]


def test_restore_an_unpartitioned_checkpoint_into_parts(ip, tmp_path):
    ok(ip, embedding(None, filled=True))
    ok(ip, f'%saveckpt {tmp_path}/flat')
    ok(ip, '%tfreset')
    ok(ip, embedding(4))
    ok(ip, f'%restoreckpt {tmp_path}/flat')
    np.testing.assert_array_equal(value(ip), VALUES)


def test_a_shape_mismatch_is_one_problem_and_restores_nothing(ip, tmp_path, saved):
    ok(ip, '%tfreset')
    ok(ip, "%%tfscope enc\nemb = tf.compat.v1.get_variable('emb', [12, 4], "
           "initializer=tf.compat.v1.zeros_initializer(), "
           "partitioner=tf.compat.v1.fixed_size_partitioner(3))")
    result = run(ip, f'%restoreckpt {tmp_path}/model')
    assert 'enc/emb: shape (10, 4) in checkpoint, (12, 4) in graph' in str(result.error_in_exec)
    frame = ok(ip, f'%inspectckpt {tmp_path}/model')
    assert frame['status'].tolist() == ['shape mismatch']
    assert not value(ip).any()


def test_vars_subset_saves_the_whole_partitioned_variable(ip, tmp_path):
    ok(ip, embedding(3, filled=True))
    ok(ip, "other = tf.compat.v1.get_variable('other', [2])")
    ok(ip, f"%saveckpt {tmp_path}/enc --vars 'enc/*'")
    frame = ok(ip, f'%inspectckpt {tmp_path}/enc')
    assert dict(zip(frame['name'], frame['status'], strict=True)) == {
        'enc/emb': 'match', 'other': 'missing in checkpoint'}


PLAIN_SAVE = '''\
import numpy as np, tensorflow as tf
tf.compat.v1.disable_eager_execution()
with tf.compat.v1.variable_scope('enc'):
    emb = tf.compat.v1.get_variable('emb', [10, 4],
                                    partitioner=tf.compat.v1.fixed_size_partitioner(2))
values = np.arange(40, dtype=np.float32).reshape(10, 4)
with tf.compat.v1.Session() as sess:
    sess.run([emb._variable_list[0].assign(values[:5]), emb._variable_list[1].assign(values[5:])])
    tf.compat.v1.train.Saver().save(sess, {prefix!r})
'''

PLAIN_RESTORE = '''\
import numpy as np, tensorflow as tf
tf.compat.v1.disable_eager_execution()
with tf.compat.v1.variable_scope('enc'):
    emb = tf.compat.v1.get_variable('emb', [10, 4], \
partitioner=tf.compat.v1.fixed_size_partitioner(5))
with tf.compat.v1.Session() as sess:
    tf.compat.v1.train.Saver().restore(sess, {prefix!r})
    print(sess.run(emb.as_tensor()).tolist())
'''


def plain(code: str) -> str:
    proc = subprocess.run([sys.executable, '-c', textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=120, env={'TF_CPP_MIN_LOG_LEVEL': '2',
                                                       'PATH': '/usr/bin:/bin'})
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_a_plain_saver_in_another_process_reads_ours(ip, tmp_path, saved):
    out = plain(PLAIN_RESTORE.format(prefix=f'{tmp_path}/model'))
    assert out.strip().splitlines()[-1] == str(VALUES.tolist())


def test_ours_reads_a_plain_savers_partitioned_checkpoint(ip, tmp_path):
    plain(PLAIN_SAVE.format(prefix=f'{tmp_path}/plain'))
    ok(ip, embedding(3))
    assert ok(ip, f'%inspectckpt {tmp_path}/plain')['status'].tolist() == ['match']
    ok(ip, f'%restoreckpt {tmp_path}/plain')
    np.testing.assert_array_equal(value(ip), VALUES)
