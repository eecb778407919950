"""Checkpoint edges: interrupted saves, tf.train.Checkpoint's bookkeeping keys,
``~`` in paths, ram:// times, %cd, and files that are not checkpoints."""

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pandas as pd
import pytest
import tensorflow as tf

import tfmagic
from tests.kernel import Kernel
from tests.shell import ok, ops_count, run
from tfmagic import checkpoints
from tfmagic.checkpoints import CheckpointError, SaveInterrupted
from tfmagic.checkpoints.files import interrupts_deferred


def values(ip):
    w, b = ok(ip, 'tf.compat.v1.get_default_session().run([w, b])')
    return w.tolist(), b.tolist()


def set_values(ip, w, b):
    ok(ip, f'tf.compat.v1.get_default_session().run([w.assign({w}), b.assign({b})])')


def files(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``root`` (hidden ones too): its size and mtime."""
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(root.rglob('*')) if p.is_file()}


# -- 1. an interrupted save ------------------------------------------------------

# 200 MB: a save takes about half a second, long enough to be interrupted.
BIG = "big = tf.compat.v1.get_variable('big', initializer=tf.range(50_000_000, dtype=tf.float32))"
BIG_IS = "tf.compat.v1.get_default_session().run(tf.reduce_all(tf.equal(big, {expected})))"
ORIGINAL = 'tf.range(50_000_000, dtype=tf.float32)'


def when_writing(directory: Path, interrupt) -> threading.Thread:
    """Call ``interrupt`` as soon as a save into ``directory`` is writing its
    data (TensorFlow's ``.tempstate`` file, in tfmagic's hidden directory)."""
    def watch():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if list(directory.rglob('*.data-*tempstate*')):
                interrupt()
                return
            time.sleep(0.001)
    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def interrupt_main_thread():
    """What Ctrl-C does in a terminal: SIGINT to the main thread."""
    signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)


def interrupted_save(ip, line: str, directory: Path, capsys) -> tuple[BaseException, str]:
    capsys.readouterr()
    watcher = when_writing(directory, interrupt_main_thread)
    result = run(ip, line)
    watcher.join()
    return result.error_in_exec, capsys.readouterr().out


def test_an_interrupted_save_leaves_the_previous_checkpoint_latest(ip, tmp_path, monkeypatch,
                                                                   capsys):
    monkeypatch.chdir(tmp_path)
    ok(ip, BIG)
    ok(ip, '%saveckpt ck/big --step 1')
    ok(ip, 'tf.compat.v1.get_default_session().run(big.assign(big * 2.0))')
    before = files(tmp_path / 'ck')
    handler = signal.getsignal(signal.SIGINT)
    for line in ('%saveckpt ck/big --step 2', '%saveckpt ck/big --step 1'):  # new, and a re-save
        error, out = interrupted_save(ip, line, tmp_path / 'ck', capsys)
        assert isinstance(error, SaveInterrupted) and isinstance(error, KeyboardInterrupt), line
        assert out.strip() == 'save interrupted: nothing was written; ck/big-1 is still the latest'
        assert files(tmp_path / 'ck') == before  # no temporary file left, the old ones untouched
        assert signal.getsignal(signal.SIGINT) is handler
    frame = ok(ip, '%ckpts ck')
    assert frame[['prefix', 'latest']].to_dict('list') == {'prefix': ['ck/big-1'], 'latest': [True]}
    ok(ip, '%restoreckpt ck')
    assert ok(ip, BIG_IS.format(expected=ORIGINAL))


@pytest.mark.kernel
def test_an_interrupted_save_in_a_kernel(tmp_path):
    with Kernel(tmp_path, timeout=180) as k:
        k.run("%load_ext tfmagic\nimport tensorflow as tf").check()
        k.run(BIG).check()
        k.run('%saveckpt ck/big --step 1').check()
        k.run('tf.compat.v1.get_default_session().run(big.assign(big * 2.0))').check()
        watcher = when_writing(tmp_path / 'ck', k.interrupt)
        result = k.run('%saveckpt ck/big --step 2')
        watcher.join()
        assert result.error['ename'] == 'SaveInterrupted'
        assert result.error['traceback'] == [
            'save interrupted: nothing was written; ck/big-1 is still the latest']
        assert sorted(os.listdir(tmp_path / 'ck')) == [
            'big-1.data-00000-of-00001', 'big-1.index', 'big-1.meta', 'checkpoint']
        listing = k.run('frame = %ckpts ck\n'
                        "print(frame[['prefix', 'latest']].to_dict('list'))").check()
        assert listing.stdout.strip() == "{'prefix': ['ck/big-1'], 'latest': [True]}"
        k.run('%restoreckpt ck').check()
        assert k.run(f'print({BIG_IS.format(expected=ORIGINAL)})').check().stdout.strip() == 'True'


def test_an_interrupt_in_the_commit_step_waits_until_it_is_done():
    handler = signal.getsignal(signal.SIGINT)
    steps = []
    with pytest.raises(KeyboardInterrupt), interrupts_deferred():
        signal.raise_signal(signal.SIGINT)
        steps.append('after the signal')
    assert steps == ['after the signal']
    assert signal.getsignal(signal.SIGINT) is handler


def test_a_resave_replaces_every_file_of_the_earlier_save(model, tmp_path):
    ok(model, '%saveckpt ck/m')
    (tmp_path / 'ck' / 'm.data-00001-of-00002').write_bytes(b'a shard of an older save')
    set_values(model, [[9.0, 9.0], [9.0, 9.0]], [9, 9, 9])
    ok(model, '%saveckpt ck/m')
    assert sorted(os.listdir(tmp_path / 'ck')) == [
        'checkpoint', 'm.data-00000-of-00001', 'm.index', 'm.meta']
    set_values(model, [[0.0, 0.0], [0.0, 0.0]], [0, 0, 0])
    ok(model, '%restoreckpt ck/m')
    assert values(model) == ([[9.0, 9.0], [9.0, 9.0]], [9, 9, 9])


# -- 2. tf.train.Checkpoint, SavedModel and Keras files, written by real TF and Keras

FOREIGN = """
import keras
import tensorflow as tf

class Net(tf.Module):
    def __init__(self):
        self.w = tf.Variable([[9.0, 8.0], [7.0, 6.0]])
        self.b = tf.Variable([1, 2, 3])

net = Net()
tf.train.Checkpoint(net=net).save('tf2/ckpt')   # ckpt-1, with save_counter
tf.saved_model.save(net, 'saved')
model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
model.save_weights('m.weights.h5')
model.save('m.keras')
"""


@pytest.fixture(scope='module')
def foreign(tmp_path_factory) -> Path:
    """A tf.train.Checkpoint, a SavedModel and Keras files, made in a fresh process."""
    where = tmp_path_factory.mktemp('foreign')
    made = subprocess.run([sys.executable, '-c', FOREIGN], cwd=where, capture_output=True,
                          text=True, check=False, env={**os.environ, 'TF_CPP_MIN_LOG_LEVEL': '3'})
    assert made.returncode == 0, made.stderr
    return where


def test_a_tf_train_checkpoint_restores_without_allow_missing(model, foreign):
    keys = dict(tf.train.list_variables(str(foreign / 'tf2' / 'ckpt-1')))
    assert 'save_counter/.ATTRIBUTES/VARIABLE_VALUE' in keys
    assert '_CHECKPOINTABLE_OBJECT_GRAPH' in keys
    frame = ok(model, f'%inspectckpt {foreign}/tf2/ckpt-1')
    assert frame['status'].tolist() == ['match', 'match']
    ok(model, f'%restoreckpt {foreign}/tf2')
    assert values(model) == ([[9.0, 8.0], [7.0, 6.0]], [1, 2, 3])


def test_a_graph_variable_named_save_counter_is_restored_from_it(model, foreign):
    ok(model, "save_counter = tf.compat.v1.get_variable('save_counter', "
              'initializer=tf.constant(0, tf.int64))')
    frame = ok(model, f'%inspectckpt {foreign}/tf2/ckpt-1').set_index('name')
    assert frame.loc['save_counter/.ATTRIBUTES/VARIABLE_VALUE', 'status'] == 'match'
    ok(model, f'%restoreckpt {foreign}/tf2/ckpt-1')
    assert ok(model, 'save_counter.eval()') == 1


def test_a_saved_model_directory_stands_for_its_variables(model, foreign, capsys):
    frame = ok(model, f'%inspectckpt {foreign}/saved')
    assert sorted(frame['name']) == ['b/.ATTRIBUTES/VARIABLE_VALUE', 'net/b', 'net/w',
                                     'w/.ATTRIBUTES/VARIABLE_VALUE']
    capsys.readouterr()
    ok(model, f'%restoreckpt {foreign}/saved --map /=net')
    assert capsys.readouterr().out.strip() == (
        f'Restored 2 variables from {foreign}/saved/variables/variables.')
    assert values(model) == ([[9.0, 8.0], [7.0, 6.0]], [1, 2, 3])


@pytest.fixture
def strangers(model, tmp_path, foreign):
    """Files that are not checkpoints beside a real one, in the working directory."""
    ok(model, '%saveckpt ck/good --step 1')
    shutil.copy(foreign / 'm.weights.h5', tmp_path)
    shutil.copy(foreign / 'm.keras', tmp_path)
    shutil.copytree(foreign / 'saved', tmp_path / 'novars',
                    ignore=shutil.ignore_patterns('variables'))
    (tmp_path / 'notes.txt').write_text('lesson notes: save after step 100\n')
    (tmp_path / 'empty').mkdir()
    set_values(model, [[7.0, 7.0], [7.0, 7.0]], [7, 7, 7])
    return model


@pytest.mark.parametrize('path, message', [
    ('notes.txt', ("notes.txt is a text file, not a TensorFlow checkpoint; give a checkpoint's "
                   "prefix (PREFIX of PREFIX.index and PREFIX.data-*) or its directory")),
    ('novars', ('novars is a SavedModel without variables: '
                'novars/variables/variables.index does not exist')),
    ('ck/checkpoint', ("ck/checkpoint is TensorFlow's checkpoint state file, not a checkpoint; "
                       "give its directory 'ck' for the latest checkpoint")),
    ('empty', "no checkpoint in 'empty': it has no *.index file"),
])
@pytest.mark.parametrize('magic', ['inspectckpt', 'restoreckpt'])
def test_a_file_that_is_not_a_checkpoint_is_named_for_what_it_is(strangers, tmp_path, magic,
                                                                 path, message):
    before = files(tmp_path)
    ops = ops_count(tfmagic.workspace().graph)
    with pytest.raises(CheckpointError) as info:
        strangers.run_line_magic(magic, path)
    assert str(info.value) == message
    assert files(tmp_path) == before
    assert ops_count(tfmagic.workspace().graph) == ops
    assert values(strangers) == ([[7.0, 7.0], [7.0, 7.0]], [7, 7, 7])


@pytest.mark.parametrize('path', ['m.weights.h5', 'm.keras'])
def test_a_keras_file_without_a_model_keeps_its_own_keys(strangers, tmp_path, path):
    """Graph mode has no Keras model to place a Keras file's keys: they are
    the file's own, so the file fits nothing and a restore changes nothing."""
    frame = ok(strangers, f'%inspectckpt {path}')
    assert sorted(frame['name']) == ['layers/dense/vars/0', 'layers/dense/vars/1',
                                     'net/b', 'net/w']
    assert frame.set_index('name')['shape'].to_dict()['layers/dense/vars/0'] == (3, 2)
    before = files(tmp_path)
    with pytest.raises(CheckpointError, match='does not fit the graph; nothing was restored'):
        strangers.run_line_magic('restoreckpt', path)
    assert files(tmp_path) == before
    assert values(strangers) == ([[7.0, 7.0], [7.0, 7.0]], [7, 7, 7])


# -- 3. ~ in paths ---------------------------------------------------------------------


def test_tilde_is_the_home_directory_in_every_path(model, tmp_path, monkeypatch):
    home = tmp_path / 'home'
    home.mkdir()
    monkeypatch.setenv('HOME', str(home))
    ok(model, '%saveckpt ~/x/model --step 1')
    assert (home / 'x' / 'model-1.index').exists() and not (tmp_path / '~').exists()
    assert ok(model, '%ckpts ~/x')['prefix'].tolist() == [f'{home}/x/model-1']
    assert ok(model, '%inspectckpt ~/x/model-1')['status'].tolist() == ['match', 'match']
    for line in ('~/x', '~/x/model-1.index'):
        set_values(model, [[0.0, 0.0], [0.0, 0.0]], [0, 0, 0])
        ok(model, f'%restoreckpt {line}')
        assert values(model) == ([[1.0, 2.0], [3.0, 4.0]], [5, 6, 7])
    ok(model, "%config TFMagic.checkpoint_dir = '~/ck'")
    try:
        ok(model, '%saveckpt')
        assert (home / 'ck' / 'model.index').exists()
        assert ok(model, '%ckpts')['prefix'].tolist() == [f'{home}/ck/model']
        assert ok(model, '%inspectckpt ~/ck')['status'].tolist() == ['match', 'match']
        set_values(model, [[0.0, 0.0], [0.0, 0.0]], [0, 0, 0])
        ok(model, '%restoreckpt')
        assert values(model) == ([[1.0, 2.0], [3.0, 4.0]], [5, 6, 7])
    finally:
        ok(model, "%config TFMagic.checkpoint_dir = 'checkpoints'")
    assert not (tmp_path / '~').exists()


def test_tilde_stays_in_urls():
    assert checkpoints.normalize_prefix('ram://~/m.index') == 'ram://~/m'
    assert checkpoints.join('ram://~', 'model') == 'ram://~/model'


# -- 4. ram:// times --------------------------------------------------------------------


def test_ram_checkpoints_show_when_they_were_saved(model):
    run_dir = f'ram://edges-{uuid.uuid4().hex}/run'
    started = pd.Timestamp.now().floor('s')
    ok(model, f'%saveckpt {run_dir}/model --step 1')
    ok(model, f'%saveckpt {run_dir}/model --step 2')
    ok(model, f'%saveckpt {run_dir}/model --step 2')  # a re-save, committed by rename in ram://
    ended = pd.Timestamp.now()
    tf.raw_ops.SaveV2(prefix=f'{run_dir}/raw', tensor_names=['net/b'], shape_and_slices=[''],
                      tensors=[tf.constant([1, 2, 3])])  # no state file entry: no time known
    frame = ok(model, f'%ckpts {run_dir}').set_index('prefix')
    saved = frame.loc[[f'{run_dir}/model-1', f'{run_dir}/model-2'], 'saved_at']
    assert ((saved >= started) & (saved <= ended)).all(), saved
    assert pd.isna(frame.loc[f'{run_dir}/raw', 'saved_at'])
    assert not [name for name in tf.io.gfile.listdir(run_dir) if name.startswith('.')]


# -- 5. the working directory changed --------------------------------------------------


def test_after_cd_a_missing_default_directory_is_named_absolutely(model, tmp_path):
    ok(model, '%saveckpt')  # in tmp_path/checkpoints, not where %cd goes
    (tmp_path / 'sub').mkdir()
    ok(model, '%cd sub')
    where = str(tmp_path / 'sub' / 'checkpoints')
    before = files(tmp_path)
    set_values(model, [[0.0, 0.0], [0.0, 0.0]], [0, 0, 0])
    for magic, line in (('restoreckpt', ''), ('ckpts', ''), ('inspectckpt', 'checkpoints')):
        with pytest.raises(CheckpointError, match='^[^\n]*$') as info:
            model.run_line_magic(magic, line)
        assert f'{where} does not exist' in str(info.value), magic
    assert files(tmp_path) == before
    assert values(model) == ([[0.0, 0.0], [0.0, 0.0]], [0, 0, 0])
