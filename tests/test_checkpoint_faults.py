"""Checkpoints that are damaged, foreign, crafted, unwritable or in ram://."""

import os
import subprocess

import pytest
import tensorflow as tf

from tests.shell import ok, run
from tfmagic import checkpoints
from tfmagic.checkpoints import CheckpointError

MODEL = ("%%tfscope net\n"
         "w = tf.compat.v1.get_variable('w', initializer=np.arange(4000, dtype=np.float32))\n"
         "b = tf.compat.v1.Variable([5, 6, 7], name='b')")


@pytest.fixture
def model(ip, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ok(ip, 'import numpy as np')
    ok(ip, MODEL)
    ok(ip, '%saveckpt ck/good --step 1')
    ok(ip, 'tf.compat.v1.get_default_session().run('
           '[w.assign(tf.zeros([4000])), b.assign([0, 0, 0])])')
    return ip


def unchanged(ip):
    w, b = ok(ip, 'tf.compat.v1.get_default_session().run([w, b])')
    return not w.any() and b.tolist() == [0, 0, 0]


def test_truncated_data_file(model, tmp_path):
    data = tmp_path / 'ck' / 'good-1.data-00000-of-00001'
    data.write_bytes(data.read_bytes()[:1000])
    result = run(model, '%restoreckpt ck/good-1')
    error = result.error_in_exec
    assert isinstance(error, CheckpointError)
    assert str(error).startswith(
        'checkpoint data is damaged or truncated: ck/good-1.data-00000-of-00001 (')
    assert '\n' not in str(error)
    assert unchanged(model)


def test_garbage_index_file(model, tmp_path):
    (tmp_path / 'ck' / 'good-1.index').write_bytes(b'this is not a table' * 10)
    for line in ('%restoreckpt ck/good-1', '%inspectckpt ck/good-1'):
        result = run(model, line)
        assert isinstance(result.error_in_exec, CheckpointError)
        assert str(result.error_in_exec).startswith(
            'cannot read checkpoint index ck/good-1.index: it is damaged or not a checkpoint (')
    frame = ok(model, '%ckpts ck')
    assert frame['variables'].isna().tolist() == [True]
    assert unchanged(model)


def test_empty_and_truncated_index(model, tmp_path):
    index = tmp_path / 'ck' / 'good-1.index'
    content = index.read_bytes()
    for damaged in (b'', content[: len(content) // 2], content[:-10]):
        index.write_bytes(damaged)
        result = run(model, '%restoreckpt ck/good-1')
        assert isinstance(result.error_in_exec, CheckpointError), damaged[:20]
        assert 'ck/good-1.index' in str(result.error_in_exec)
        assert unchanged(model)


def test_missing_data_file(model, tmp_path):
    (tmp_path / 'ck' / 'good-1.data-00000-of-00001').unlink()
    result = run(model, '%restoreckpt ck/good-1')
    assert isinstance(result.error_in_exec, CheckpointError)
    assert 'ck/good-1.data-*' in str(result.error_in_exec)
    assert unchanged(model)


def test_damaged_state_file_falls_back_to_the_files(model, tmp_path):
    (tmp_path / 'ck' / 'checkpoint').write_text('garbage {{{')
    ok(model, '%restoreckpt ck')
    assert not unchanged(model)


@pytest.fixture
def read_only_dir(tmp_path):
    target = tmp_path / 'readonly'
    target.mkdir()
    if os.geteuid() == 0:  # root ignores permission bits; the immutable flag binds root too
        subprocess.run(['chattr', '+i', str(target)], check=True)
        yield target
        subprocess.run(['chattr', '-i', str(target)], check=True)
    else:
        target.chmod(0o555)
        yield target
        target.chmod(0o755)


def test_read_only_target_directory(model, read_only_dir):
    result = run(model, f'%saveckpt {read_only_dir}/model')
    error = result.error_in_exec
    assert isinstance(error, CheckpointError)
    assert str(error).startswith(f'cannot write checkpoint {read_only_dir}/model: ')
    assert os.listdir(read_only_dir) == []


def test_html_names_from_a_crafted_checkpoint_are_escaped(model, tmp_path):
    evil = '<img src=x onerror=alert(1)>'
    prefix = str(tmp_path / 'crafted' / 'model')
    tf.io.gfile.makedirs(os.path.dirname(prefix))
    tf.raw_ops.SaveV2(prefix=prefix, tensor_names=[evil, 'net/b'], shape_and_slices=['', ''],
                      tensors=[tf.constant([1.0]), tf.constant([1, 2, 3])])
    frame = ok(model, f'%inspectckpt {prefix}')
    assert evil in frame['name'].tolist()
    html = model.display_formatter.format(frame)[0]['text/html']
    assert '<img' not in html and '&lt;img src=x onerror=alert(1)&gt;' in html
    result = run(model, f'%restoreckpt {prefix}')
    assert f'{evil}: missing in graph' in str(result.error_in_exec)  # plain text, never HTML
    listing = model.display_formatter.format(
        ok(model, f'%ckpts {tmp_path}/crafted'))[0]['text/html']
    assert '<img' not in listing


def test_a_plain_saver_checkpoint_restores_with_restoreckpt(model, tmp_path):
    ok(model, "saver = tf.compat.v1.train.Saver()\n"
              "sess = tf.compat.v1.get_default_session()\n"
              "sess.run(b.assign([1, 2, 3]))\n"
              f"saver.save(sess, {str(tmp_path / 'plain' / 'tftcp.model')!r})\n"
              "sess.run(b.assign([0, 0, 0]))")
    ok(model, f'%restoreckpt {tmp_path}/plain')
    assert ok(model, 'b.eval()').tolist() == [1, 2, 3]
    frame = ok(model, f'%ckpts {tmp_path}/plain')
    assert frame['latest'].tolist() == [True] and frame['variables'].tolist() == [2]


def test_a_tf2_object_checkpoint_and_a_saved_model(model, tmp_path):
    script = f"""
import tensorflow as tf
class Net(tf.Module):
    def __init__(self):
        self.w = tf.Variable(tf.range(4000, dtype=tf.float32))
        self.b = tf.Variable([5, 6, 7])
net = Net()
tf.train.Checkpoint(net=net).write({str(tmp_path / 'tf2' / 'ckpt')!r})
tf.saved_model.save(net, {str(tmp_path / 'saved')!r})
"""
    subprocess.run([os.sys.executable, '-c', script], check=True, capture_output=True,
                   env={**os.environ, 'TF_CPP_MIN_LOG_LEVEL': '3'})
    frame = ok(model, f'%inspectckpt {tmp_path}/tf2/ckpt').set_index('name')
    assert frame.loc['net/w/.ATTRIBUTES/VARIABLE_VALUE', 'status'] == 'match'
    assert frame.loc['net/b/.ATTRIBUTES/VARIABLE_VALUE', 'shape'] == (3,)
    ok(model, f'%restoreckpt {tmp_path}/tf2/ckpt --allow-missing')
    assert ok(model, 'w.eval()[-1]') == 3999.0
    saved = ok(model, f'%inspectckpt {tmp_path}/saved/variables/variables')
    assert sorted(saved['name']) == ['b/.ATTRIBUTES/VARIABLE_VALUE', 'net/b', 'net/w',
                                     'w/.ATTRIBUTES/VARIABLE_VALUE']
    ok(model, f'%restoreckpt {tmp_path}/saved/variables/variables --map /=net --allow-missing')
    assert ok(model, 'b.eval()').tolist() == [5, 6, 7]


def test_inspect_reads_only_the_index(model, tmp_path):
    (tmp_path / 'ck' / 'good-1.data-00000-of-00001').unlink()
    frame = ok(model, '%inspectckpt ck/good-1')
    assert frame['status'].tolist() == ['match', 'match']
    error = run(model, '%inspectckpt ck/good-1 --stats').error_in_exec
    assert isinstance(error, CheckpointError)
    assert str(error).startswith('checkpoint data is damaged or truncated: ck/good-1.data-*')


def test_ram_filesystem_save_list_inspect_restore(model):
    ok(model, '%saveckpt ram://tfmagic-test/run/model --step 7')
    assert tf.io.gfile.exists('ram://tfmagic-test/run/model-7.index')
    frame = ok(model, '%ckpts ram://tfmagic-test/run')
    assert frame['prefix'].tolist() == ['ram://tfmagic-test/run/model-7']
    assert frame['latest'].tolist() == [True]
    frame = ok(model, '%inspectckpt ram://tfmagic-test/run/model-7')
    assert frame['status'].tolist() == ['match'] * 2
    ok(model, "tf.compat.v1.get_default_session().run(b.assign([1, 1, 1]))")
    ok(model, '%restoreckpt ram://tfmagic-test/run')   # a directory: its latest
    assert ok(model, 'b.eval()').tolist() == [0, 0, 0]
    ok(model, '%restoreckpt ram://tfmagic-test/run/model-7')  # a prefix that looks like a dir
    ok(model, "%config TFMagic.checkpoint_dir = 'ram://tfmagic-test/default'")
    try:
        ok(model, '%saveckpt')
        assert ok(model, '%ckpts')['prefix'].tolist() == ['ram://tfmagic-test/default/model']
        ok(model, '%restoreckpt')
    finally:
        ok(model, "%config TFMagic.checkpoint_dir = 'checkpoints'")


def test_normalize_prefix_strips_file_suffixes():
    for name in ('m.index', 'm.meta', 'm.data-00000-of-00001', 'm', 'm/'):
        assert checkpoints.normalize_prefix(f'dir/{name}') in ('dir/m', 'dir/m')
    assert checkpoints.normalize_prefix('ram://x/m.index') == 'ram://x/m'


def test_map_name_rules():
    mapping = checkpoints.parse_mapping(['old=new', 'old/special=elsewhere/s', '/=root', 'strip='])
    assert checkpoints.map_name('old/w', mapping) == 'new/w'
    assert checkpoints.map_name('old/special/w', mapping) == 'elsewhere/s/w'
    assert checkpoints.map_name('strip/x/y', mapping) == 'x/y'
    assert checkpoints.map_name('other', mapping) == 'root/other'
    assert checkpoints.map_name('oldish/w', {'old': 'new'}) == 'oldish/w'
