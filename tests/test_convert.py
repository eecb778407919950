"""%convertckpt against real files and real TF/Keras: a re-keyed copy of a
checkpoint as a V2 name-based checkpoint (read by plain Saver and
tf.train.load_checkpoint) or as a Keras .weights.h5 (read by
model.load_weights), on local paths and ram://, in graph and eager mode;
what it refuses leaves every file as it was."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import h5py
import numpy as np
import pytest
import tensorflow as tf
from IPython.core.error import UsageError

import tfmagic
from tests.kernel import Kernel
from tests.shell import namespace_kept, ok, ops_count
from tfmagic.checkpoints import CheckpointError

gfile = tf.io.gfile

#: Graph-mode values under old/a, old/b.
A = np.arange(6, dtype=np.float32).reshape(2, 3) / 4 - 0.5
B = np.array([7, -8, 9], dtype=np.int64)

#: A TF1-style checkpoint of a 4 -> 3 -> 2 network, known values.
_rng = np.random.default_rng(12)
TF1 = {name: _rng.normal(size=shape).astype(np.float32)
       for name, shape in [('fc1/weights', (4, 3)), ('fc1/biases', (3,)),
                           ('fc2/weights', (3, 2)), ('fc2/biases', (2,))]}
#: Where --map auto puts each TF1 key in the Keras model ``sequential``.
KERAS_NAME = {'fc1/weights': 'sequential/fc1/kernel', 'fc1/biases': 'sequential/fc1/bias',
              'fc2/weights': 'sequential/fc2/kernel', 'fc2/biases': 'sequential/fc2/bias'}
AS_KERAS = {KERAS_NAME[k]: v for k, v in TF1.items()}

#: Defined in the shell in eager mode (definitions only, no variable made).
BUILD = '''\
import keras
import numpy as np


def build(name='sequential', compile=False):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name='fc1'),
                              keras.layers.Dense(2, name='fc2')], name=name)
    if compile:
        model.compile(optimizer=keras.optimizers.Adam(0.01, name='adam'), loss='mse')
    return model


def weights(model):
    """path -> value of the model's own weights."""
    return {v.path: np.array(v) for v in model.weights}


x = np.linspace(-1, 1, 20, dtype='float32').reshape(5, 4)
'''


# -- helpers -----------------------------------------------------------------------------


def saver_checkpoint(prefix: str, values: dict[str, np.ndarray]) -> None:
    """Write ``values`` with plain TF1: variables of those names in a graph
    of their own, saved by a name-based ``Saver`` (V2)."""
    graph = tf.Graph()
    with graph.as_default():
        for name, value in values.items():
            tf.compat.v1.Variable(value, name=name)
        saver = tf.compat.v1.train.Saver()
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            saver.save(sess, prefix)


def two_shard_checkpoint(prefix: str, values: dict[str, np.ndarray]) -> None:
    """A V2 checkpoint in two data files, as a Saver sharded over two devices writes."""
    keys = sorted(values)
    halves = [keys[:len(keys) // 2], keys[len(keys) // 2:]]
    gfile.makedirs(f'{prefix}_temp')
    graph = tf.Graph()
    with graph.as_default():
        shards = [f'{prefix}_temp/part-{i}' for i in range(2)]
        saves = [tf.raw_ops.SaveV2(prefix=shard, tensor_names=half,
                                   shape_and_slices=[''] * len(half),
                                   tensors=[tf.constant(values[k]) for k in half])
                 for shard, half in zip(shards, halves, strict=True)]
        with tf.control_dependencies(saves):
            merge = tf.raw_ops.MergeV2Checkpoints(checkpoint_prefixes=shards,
                                                  destination_prefix=prefix)
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(merge)


def read(prefix: str) -> dict[str, np.ndarray]:
    """Every key of the checkpoint and its value, as plain TF reads them
    (``NewCheckpointReader``: ``load_checkpoint`` takes a ram:// prefix for a
    directory)."""
    reader = tf.compat.v1.train.NewCheckpointReader(prefix)
    return {key: reader.get_tensor(key) for key in reader.get_variable_to_shape_map()}


def h5_values(path: str) -> dict[str, np.ndarray]:
    found = {}
    with h5py.File(path, 'r') as f:
        f.visititems(lambda name, item: found.__setitem__(name, item[()])
                     if isinstance(item, h5py.Dataset) else None)
    return found


def assert_equal(actual: dict, expected: dict):
    assert sorted(actual) == sorted(expected)
    for name, value in expected.items():
        assert actual[name].dtype == value.dtype, name
        assert actual[name].shape == value.shape, name
        assert np.array_equal(actual[name], value), name


def files(root) -> dict:
    """relative path -> bytes of every file under ``root``."""
    return {p.relative_to(root): p.read_bytes() for p in root.rglob('*') if p.is_file()}


def hidden(root) -> list:
    """Every name under ``root`` that starts with '.': what a write under a
    temporary name would leave behind."""
    return sorted(str(p.relative_to(root)) for p in root.rglob('.*'))


def ram_hidden(directory: str) -> list[str]:
    found = []
    for path, dirs, names in gfile.walk(directory):
        found += [f'{path}/{n}' for n in dirs + names if n.startswith('.')]
    return found


def py(ip, expression: str):
    """``expression`` evaluated in the shell's namespace, outside any cell."""
    return eval(expression, ip.user_ns)


def refused(ip, line: str, expected: str, error=CheckpointError) -> str:
    """``%convertckpt line`` raises a one-line ``error`` containing ``expected``."""
    with pytest.raises(error) as info:
        ip.run_line_magic('convertckpt', line)
    message = str(info.value)
    assert '\n' not in message, message
    assert expected in message, message
    return message


@pytest.fixture
def graph_dir(ip, tmp_path, monkeypatch):
    """The shell in graph mode, in a temporary directory."""
    monkeypatch.chdir(tmp_path)
    return ip


@pytest.fixture
def eager(ip, tmp_path, monkeypatch):
    """The shell in eager mode, in a temporary directory, with ``build``; back
    in graph mode afterwards, without the names the test defined."""
    monkeypatch.chdir(tmp_path)
    with namespace_kept(ip, 'eager', BUILD):
        yield ip


@pytest.fixture
def ram():
    root = f'ram://convert-{uuid.uuid4().hex}'
    yield root
    if gfile.exists(root):
        gfile.rmtree(root)


# -- 1. graph mode: --map OLD=NEW, read by plain TF --------------------------------------


def test_graph_mode_map_renames_keys_and_plain_saver_restores_them(graph_dir, tmp_path, capsys):
    saver_checkpoint('src/model', {'old/a': A, 'old/b': B})
    source_files = files(tmp_path / 'src')
    graph = tfmagic.workspace().graph
    ops = ops_count(graph)
    capsys.readouterr()

    ok(graph_dir, '%convertckpt src/model dst/model --map old=new')
    out = capsys.readouterr().out
    assert out.startswith('Wrote dst/model (')
    assert out.endswith('): 2 tensors of src/model, 2 under new keys.\n')
    # Written by rename from a hidden name: just the two V2 files, nothing else.
    assert sorted(os.listdir(tmp_path / 'dst')) == ['model.data-00000-of-00001', 'model.index']
    assert hidden(tmp_path) == []
    # The workspace's graph gets no op; the source is untouched.
    assert ops_count(graph) == ops
    assert files(tmp_path / 'src') == source_files

    # Plain TF reads it: exactly the renamed keys, no object graph.
    assert tf.train.list_variables('dst/model') == [('new/a', [2, 3]), ('new/b', [3])]
    reader = tf.train.load_checkpoint('dst/model')
    assert_equal({k: reader.get_tensor(k) for k in ('new/a', 'new/b')},
                 {'new/a': A, 'new/b': B})
    assert_equal(read('dst/model'), {'new/a': A, 'new/b': B})

    # A plain name-based Saver in a fresh graph restores it.
    fresh = tf.Graph()
    with fresh.as_default():
        a = tf.compat.v1.Variable(np.zeros((2, 3), np.float32), name='new/a')
        b = tf.compat.v1.Variable(np.zeros(3, np.int64), name='new/b')
        saver = tf.compat.v1.train.Saver()
        with tf.compat.v1.Session(graph=fresh) as sess:
            saver.restore(sess, 'dst/model')
            got_a, got_b = sess.run([a, b])
    assert_equal({'a': got_a, 'b': got_b}, {'a': A, 'b': B})

    # Without --map the keys stay; a directory names its latest checkpoint.
    capsys.readouterr()
    ok(graph_dir, '%convertckpt src same/model')
    assert capsys.readouterr().out.endswith(': 2 tensors of src/model, 0 under new keys.\n')
    assert tf.train.list_variables('same/model') == [('old/a', [2, 3]), ('old/b', [3])]
    assert_equal(read('same/model'), {'old/a': A, 'old/b': B})
    assert hidden(tmp_path) == []


def test_an_object_based_source_becomes_name_based_without_its_object_graph(graph_dir,
                                                                           tmp_path):
    # A tf.train.Checkpoint keeps its variables at .ATTRIBUTES/VARIABLE_VALUE
    # keys plus the object graph; the converted copy is name-based.
    graph = tf.Graph()
    with graph.as_default():
        module = tf.Module()
        module.a = tf.compat.v1.Variable(A, name='x')
        module.b = tf.compat.v1.Variable(B, name='y')
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            tf.train.Checkpoint(old=module).write('obj/ckpt')
    keys = dict(tf.train.list_variables('obj/ckpt'))
    assert '_CHECKPOINTABLE_OBJECT_GRAPH' in keys
    assert 'old/a/.ATTRIBUTES/VARIABLE_VALUE' in keys

    ok(graph_dir, '%convertckpt obj/ckpt dst/model --map old=new')
    assert_equal(read('dst/model'), {'new/a': A, 'new/b': B})
    assert hidden(tmp_path) == []
    fresh = tf.Graph()
    with fresh.as_default():
        a = tf.compat.v1.Variable(np.zeros((2, 3), np.float32), name='new/a')
        b = tf.compat.v1.Variable(np.zeros(3, np.int64), name='new/b')
        with tf.compat.v1.Session(graph=fresh) as sess:
            tf.compat.v1.train.Saver().restore(sess, 'dst/model')
            assert_equal(dict(zip('ab', sess.run([a, b]), strict=True)), {'a': A, 'b': B})


def test_graph_mode_map_auto_onto_get_variable_names(graph_dir, tmp_path):
    saver_checkpoint('tf1/model.ckpt', TF1)
    ok(graph_dir, "with tf.compat.v1.variable_scope('net'):\n"
                  "    for scope, shape in [('fc1', [4, 3]), ('fc2', [3, 2])]:\n"
                  "        with tf.compat.v1.variable_scope(scope):\n"
                  "            tf.compat.v1.get_variable('kernel', shape)\n"
                  "            tf.compat.v1.get_variable('bias', shape[-1:])")
    ok(graph_dir, '%convertckpt tf1/model.ckpt net/model --map auto')
    expected = {'net/' + KERAS_NAME[k].split('/', 1)[1]: v for k, v in TF1.items()}
    assert_equal(read('net/model'), expected)
    ok(graph_dir, '%restoreckpt net/model')
    restored = ok(graph_dir, 'tf.compat.v1.get_default_session().run(\n'
                             '    {v.op.name: v for v in tf.compat.v1.global_variables()})')
    assert_equal(restored, expected)


def test_every_dtype_and_a_partitioned_variable_convert_exactly(graph_dir, tmp_path):
    graph = tf.Graph()
    with graph.as_default():
        part = tf.compat.v1.get_variable(
            'old/part', shape=(6, 2), initializer=tf.compat.v1.random_normal_initializer(),
            partitioner=tf.compat.v1.fixed_size_partitioner(3))
        values = {
            'old/str': np.array([b'ab', b'\x00c'], dtype=object),
            'old/bool': np.array([True, False]),
            'old/f64': np.float64(3.5),
            'old/empty': np.zeros((0, 3), np.float32),
            'old/f16': np.array([1.5, -2.0], np.float16),
            'old/i8': np.array([[-128, 127]], np.int8),
        }
        for name, value in values.items():
            tf.compat.v1.Variable(value, name=name)
        bf16 = tf.compat.v1.Variable(tf.constant([1.5, -2.0], tf.bfloat16), name='old/bf16')
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            tf.compat.v1.train.Saver().save(sess, 'src/model')
            values['old/part'], values['old/bf16'] = sess.run([part.as_tensor(), bf16])
    dtypes = tf.train.load_checkpoint('src/model').get_variable_to_dtype_map()

    ok(graph_dir, '%convertckpt src/model dst/model --map old=new')
    converted = read('dst/model')
    assert sorted(converted) == sorted('new/' + k[4:] for k in values)
    for key, value in values.items():
        new = 'new/' + key[4:]
        assert np.asarray(converted[new]).dtype == np.asarray(value).dtype, key
        assert np.array_equal(converted[new], value), key
    assert tf.train.load_checkpoint('dst/model').get_variable_to_dtype_map() == {
        'new/' + k[4:]: v for k, v in dtypes.items()}
    # The partitioned variable is one tensor now; a Saver restores it into
    # a plain variable, or into one partitioned another way.
    fresh = tf.Graph()
    with fresh.as_default():
        whole = tf.compat.v1.Variable(np.zeros((6, 2), np.float32), name='new/part')
        parts = tf.compat.v1.get_variable(
            'again', shape=(6, 2), partitioner=tf.compat.v1.fixed_size_partitioner(2))
        with tf.compat.v1.Session(graph=fresh) as sess:
            tf.compat.v1.train.Saver({'new/part': whole}).restore(sess, 'dst/model')
            tf.compat.v1.train.Saver({'new/part': parts}).restore(sess, 'dst/model')
            got_whole, got_parts = sess.run([whole, parts.as_tensor()])
    assert np.array_equal(got_whole, values['old/part'])
    assert np.array_equal(got_parts, values['old/part'])
    assert hidden(tmp_path) == []


# -- 2. --map auto onto a live Keras model, tf format -------------------------------------


def test_map_auto_writes_the_keras_models_variable_names(eager, tmp_path, capsys):
    saver_checkpoint('tf1/model.ckpt', TF1)
    ok(eager, 'model = build()')
    before = py(eager, 'weights(model)')
    capsys.readouterr()
    ok(eager, '%convertckpt tf1/model.ckpt auto/model --map auto')
    assert capsys.readouterr().out.endswith(': 4 tensors of tf1/model.ckpt, 4 under new keys.\n')
    assert tf.train.list_variables('auto/model') == [
        ('sequential/fc1/bias', [3]), ('sequential/fc1/kernel', [4, 3]),
        ('sequential/fc2/bias', [2]), ('sequential/fc2/kernel', [3, 2])]
    assert_equal(read('auto/model'), AS_KERAS)
    # Converting changes no variable.
    assert_equal(py(eager, 'weights(model)'), before)
    assert hidden(tmp_path) == []

    ok(eager, '%restoreckpt auto/model')
    assert_equal(py(eager, 'weights(model)'), AS_KERAS)
    x = eager.user_ns['x']
    hidden_layer = x @ TF1['fc1/weights'] + TF1['fc1/biases']
    assert np.allclose(py(eager, 'model.predict(x, verbose=0)'),
                       hidden_layer @ TF1['fc2/weights'] + TF1['fc2/biases'], atol=1e-5)


def test_map_old_new_in_eager_mode(eager, tmp_path):
    saver_checkpoint('src/model', {'old/a': A, 'old/b': B})
    ok(eager, '%convertckpt src/model dst/model --map old=new')
    assert_equal(read('dst/model'), {'new/a': A, 'new/b': B})
    assert hidden(tmp_path) == []


# -- 3. --format h5: a weight file model.load_weights reads -----------------------------


def test_h5_with_map_auto_loads_into_a_clone_of_the_model(eager, tmp_path, capsys):
    saver_checkpoint('tf1/model.ckpt', TF1)
    ok(eager, 'model = build()')
    capsys.readouterr()
    ok(eager, '%convertckpt tf1/model.ckpt x.weights.h5 --map auto --format h5')
    assert capsys.readouterr().out.startswith('Wrote x.weights.h5 (')
    assert hidden(tmp_path) == []
    # The same layout as the model's own save_weights, with the checkpoint's values.
    py(eager, "model.save_weights('own.weights.h5')")
    assert sorted(h5_values('x.weights.h5')) == sorted(h5_values('own.weights.h5'))

    ok(eager, "clone = keras.models.clone_model(model)\n"
              "clone.build((None, 4))\n"
              "clone.load_weights('x.weights.h5')")
    assert_equal(py(eager, 'weights(clone)'), AS_KERAS)
    predicted = py(eager, 'clone.predict(x, verbose=0)')
    # The model itself, restored from the TF1 checkpoint, predicts the same
    # (once the clone, whose variables have the model's names, is gone).
    ok(eager, 'del clone')
    ok(eager, '%restoreckpt tf1/model.ckpt --map auto')
    assert_equal(py(eager, 'weights(model)'), AS_KERAS)
    assert np.array_equal(py(eager, 'model.predict(x, verbose=0)'), predicted)


def test_h5_for_a_compiled_model_is_written_or_refused_in_one_line(eager, tmp_path):
    # A compiled model's save_weights also holds its optimizer's variables
    # (Keras records those as numpy values, not variables). The conversion
    # must write a file load_weights takes, or refuse with a CheckpointError.
    saver_checkpoint('tf1/model.ckpt', TF1)
    ok(eager, 'model = build(compile=True)')
    before = files(tmp_path)
    try:
        eager.run_line_magic('convertckpt', 'tf1/model.ckpt x.weights.h5 --map auto --format h5')
    except CheckpointError as err:
        assert '\n' not in str(err)
        assert files(tmp_path) == before
    else:
        py(eager, "model.load_weights('x.weights.h5')")
        assert_equal(py(eager, 'weights(model)'), AS_KERAS)
    assert hidden(tmp_path) == []


# -- 4. a Keras .weights.h5 source ------------------------------------------------------


def test_a_keras_weight_file_converts_to_the_live_models_names(eager, tmp_path, capsys):
    ok(eager, "model = build('net')\n"
              'model.set_weights([np.arange(1, w.size + 1, dtype=w.dtype).reshape(w.shape) / 7\n'
              '                   for w in model.get_weights()])\n'
              "model.save_weights('m.weights.h5')")
    saved = py(eager, 'weights(model)')
    assert sorted(saved) == ['net/fc1/bias', 'net/fc1/kernel', 'net/fc2/bias', 'net/fc2/kernel']
    capsys.readouterr()
    ok(eager, '%convertckpt m.weights.h5 out/model')
    assert capsys.readouterr().out.endswith(': 4 tensors of m.weights.h5, 4 under new keys.\n')
    assert_equal(read('out/model'), saved)
    assert hidden(tmp_path) == []

    # And back: a fresh model restores the tf copy.
    ok(eager, "model = build('net')")
    ok(eager, '%restoreckpt out/model')
    assert_equal(py(eager, 'weights(model)'), saved)

    # Without a live model the file's own keys stay.
    ok(eager, 'del model')
    ok(eager, '%convertckpt m.weights.h5 raw/model')
    assert_equal(read('raw/model'), h5_values('m.weights.h5'))


# -- 5. ram:// -----------------------------------------------------------------------


def test_ram_source_and_dest_in_both_formats(eager, ram):
    saver_checkpoint(f'{ram}/src/model', TF1)
    ok(eager, 'model = build()')
    ok(eager, f'%convertckpt {ram}/src/model {ram}/dst/model --map auto')
    assert_equal(read(f'{ram}/dst/model'), AS_KERAS)
    ok(eager, f'%restoreckpt {ram}/dst/model')
    assert_equal(py(eager, 'weights(model)'), AS_KERAS)

    ok(eager, f'%convertckpt {ram}/src/model {ram}/dst/x.weights.h5 --map auto --format h5')
    ok(eager, "clone = keras.models.clone_model(model)\n"
              f"clone.load_weights('{ram}/dst/x.weights.h5')")
    assert_equal(py(eager, 'weights(clone)'), AS_KERAS)
    ok(eager, 'del clone')

    # A Keras weight file on ram:// as the source.
    py(eager, f"model.save_weights('{ram}/m.weights.h5')")
    ok(eager, f'%convertckpt {ram}/m.weights.h5 {ram}/from_h5/model')
    assert_equal(read(f'{ram}/from_h5/model'), AS_KERAS)

    assert sorted(gfile.listdir(f'{ram}/dst')) == [
        'model.data-00000-of-00001', 'model.index', 'x.weights.h5']
    assert ram_hidden(ram) == []

    # Refusals on ram:// too.
    snapshot = {p: gfile.GFile(p, 'rb').read() for p in gfile.glob(f'{ram}/*/*')}
    refused(eager, f'{ram}/src/model {ram}/src/model.index --force', 'is the source itself')
    refused(eager, f'{ram}/src/model {ram}/dst/model', 'already exists; --force replaces it')
    refused(eager, f'{ram}/src/model {ram}/dst/x.weights.h5 --format h5 --map auto',
            'already exists; --force replaces it')
    assert {p: gfile.GFile(p, 'rb').read() for p in gfile.glob(f'{ram}/*/*')} == snapshot
    assert ram_hidden(ram) == []


# -- 6. refusals change nothing ----------------------------------------------------------


def test_refusals_are_one_line_and_change_no_file(graph_dir, tmp_path):
    saver_checkpoint('src/model', {'old/a': A, 'old/b': B})
    saver_checkpoint('existing/model', {'other': np.ones(2, np.float32)})
    before = files(tmp_path)
    for line, message in [
            ('src/model src/model', 'src/model is the source itself'),
            ('src/model src/model --force', 'src/model is the source itself'),
            ('src/model src/model.index --force', 'src/model is the source itself'),
            ('src/model src/model.data-00000-of-00001 --force', 'is the source itself'),
            ('src src/model --force', 'src/model is the source itself'),
            ('src/model ./src/../src/model --force', 'is the source itself'),
            ('src/model existing/model', 'existing/model already exists; --force replaces it'),
            ('src/model existing/model.index', 'already exists; --force replaces it'),
            ('src/model out/x.h5 --format h5', 'must end in .weights.h5'),
            ('src/model out/model --format h5', 'must end in .weights.h5'),
            ('src/model out/x.weights.h5 --format h5', 'build one in the notebook first'),
            ('src/model out/model --map auto', '--map auto found no variable'),
            ('missing/model out/model', "no checkpoint at 'missing/model'"),
            ('src/model out/model --map old/a=x old/b=x', 'two keys would be written as x'),
            ('src/model out/model --map old/a=old/b', 'two keys would be written as old/b')]:
        refused(graph_dir, line, message)
        assert files(tmp_path) == before, line
        assert hidden(tmp_path) == [], line
        assert not (tmp_path / 'out').exists(), line
    for line, message in [
            ('src/model out/model --format xyz', "invalid choice: 'xyz'"),
            ('src/model out/model --map auto old=new', 'auto or OLD=NEW pairs, not both'),
            ('src/model', 'DEST')]:
        refused(graph_dir, line, message, error=UsageError)
        assert files(tmp_path) == before, line
        assert hidden(tmp_path) == [], line


def test_h5_refusals_in_eager_mode_change_no_file(eager, tmp_path):
    saver_checkpoint('tf1/model.ckpt', TF1)
    saver_checkpoint('other/model.ckpt', {'unrelated/thing': np.ones((5, 7), np.float32)})
    before = files(tmp_path)
    # No Keras model at all.
    refused(eager, 'tf1/model.ckpt x.weights.h5 --format h5 --map auto',
            '--map auto found no variable')
    refused(eager, 'tf1/model.ckpt x.weights.h5 --format h5', 'build one in the notebook first')
    ok(eager, 'model = build()')
    # A model the checkpoint's keys do not reach.
    refused(eager, 'other/model.ckpt x.weights.h5 --format h5',
            'no live Keras model gets a variable from this checkpoint')
    refused(eager, 'other/model.ckpt x.weights.h5 --format h5 --map auto',
            '--map auto found no variable')
    # Reaching only part of the model: load_weights would fail.
    refused(eager, 'tf1/model.ckpt x.weights.h5 --format h5 '
                   '--map fc1/weights=sequential/fc1/kernel fc1/biases=sequential/fc1/bias',
            'model.load_weights would fail: no key of the checkpoint maps to '
            'sequential/fc2/kernel, sequential/fc2/bias')
    refused(eager, 'tf1/model.ckpt x.h5 --format h5 --map auto', 'must end in .weights.h5')
    assert files(tmp_path) == before
    assert hidden(tmp_path) == []


def test_force_replaces_an_existing_dest(graph_dir, tmp_path):
    saver_checkpoint('src/model', {'old/a': A, 'old/b': B})
    # An earlier save in two data files, a .meta and a state file.
    two_shard_checkpoint('existing/model', {'p': np.ones(2, np.float32),
                                            'q': np.zeros(3, np.int32)})
    (tmp_path / 'existing' / 'model.meta').write_bytes(b'an earlier graph')
    (tmp_path / 'existing' / 'checkpoint').write_text('model_checkpoint_path: "model"\n')
    assert sorted(os.listdir(tmp_path / 'existing')) == [
        'checkpoint', 'model.data-00000-of-00002', 'model.data-00001-of-00002',
        'model.index', 'model.meta']
    before = files(tmp_path)
    refused(graph_dir, 'src/model existing/model --map old=new', 'already exists')
    assert files(tmp_path) == before

    ok(graph_dir, '%convertckpt src/model existing/model --map old=new --force')
    assert_equal(read('existing/model'), {'new/a': A, 'new/b': B})
    # Nothing of the earlier checkpoint is left beside the new one.
    assert sorted(os.listdir(tmp_path / 'existing')) == [
        'checkpoint', 'model.data-00000-of-00001', 'model.index']
    assert hidden(tmp_path) == []
    assert files(tmp_path / 'src') == {k.relative_to('src'): v for k, v in before.items()
                                       if k.parts[0] == 'src'}


def test_force_replaces_an_existing_weight_file(eager, tmp_path):
    saver_checkpoint('tf1/model.ckpt', TF1)
    ok(eager, 'model = build()')
    py(eager, "model.save_weights('x.weights.h5')")
    own = h5_values('x.weights.h5')
    refused(eager, 'tf1/model.ckpt x.weights.h5 --format h5 --map auto', 'already exists')
    assert_equal(h5_values('x.weights.h5'), own)
    ok(eager, '%convertckpt tf1/model.ckpt x.weights.h5 --format h5 --map auto --force')
    py(eager, "model.load_weights('x.weights.h5')")
    assert_equal(py(eager, 'weights(model)'), AS_KERAS)
    assert hidden(tmp_path) == []


def test_a_damaged_source_leaves_dest_as_it_was(graph_dir, tmp_path):
    saver_checkpoint('src/model', {'old/a': A, 'old/b': B})
    saver_checkpoint('existing/model', {'other': np.ones(2, np.float32)})
    data = tmp_path / 'src' / 'model.data-00000-of-00001'
    data.write_bytes(data.read_bytes()[:10])
    before = files(tmp_path)
    refused(graph_dir, 'src/model existing/model --force', 'checkpoint data is damaged')
    refused(graph_dir, 'src/model fresh/model', 'checkpoint data is damaged')
    assert files(tmp_path) == before
    assert hidden(tmp_path) == []
    assert not (tmp_path / 'fresh' / 'model.index').exists()
    assert_equal(read('existing/model'), {'other': np.ones(2, np.float32)})


# -- 7. memory: a 1 GB checkpoint in a real kernel ------------------------------------

SIDE = 4096  # 16 variables of 4096 x 4096 float32: 64 MB each, 1 GB in all

#: Run in a process of its own: the kernel never holds the source, so its
#: allocator has no free gigabyte to reuse unseen while converting.
WRITE_BIG = f'''\
import tensorflow as tf

graph = tf.Graph()
with graph.as_default():
    counting = tf.reshape(tf.range({SIDE * SIDE}, dtype=tf.float32), [{SIDE}, {SIDE}])
    for i in range(16):
        tf.compat.v1.Variable(counting * float(i + 1), name=f'v{{i}}')
    saver = tf.compat.v1.train.Saver()
    with tf.compat.v1.Session(graph=graph) as sess:
        sess.run(tf.compat.v1.global_variables_initializer())
        saver.save(sess, 'big/model', write_meta_graph=False)
'''

MEASURE = '''\
import gc


def status(field):
    with open('/proc/self/status') as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(field + ':'))


def reset_peak():
    """Measure from here: VmHWM restarts from the current RSS (Linux >= 4.0)."""
    gc.collect()
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')
    return status('VmRSS')
'''


def big_value(i: int) -> np.ndarray:
    return np.arange(SIDE * SIDE, dtype=np.float32).reshape(SIDE, SIDE) * np.float32(i + 1)


@pytest.mark.kernel
def test_converting_a_1gb_checkpoint_stays_near_one_tensor_of_memory(tmp_path):
    mb = 2 ** 20
    try:
        subprocess.run([sys.executable, '-c', WRITE_BIG], cwd=tmp_path, check=True,
                       timeout=180, env={**os.environ, 'TF_CPP_MIN_LOG_LEVEL': '2'})
        assert sum(p.stat().st_size for p in (tmp_path / 'big').iterdir()) > 2 ** 30
        with Kernel(tmp_path, timeout=180) as k:
            k.run('%load_ext tfmagic\nimport tensorflow as tf').check()
            k.run(MEASURE).check()
            k.run('rss_before = reset_peak()').check()
            converted = k.run('%convertckpt big/model big2/model --map v0=w0').check()
            assert converted.stdout.endswith(': 16 tensors of big/model, 1 under new keys.\n')
            peak = int(k.run("print(status('VmHWM') - rss_before)").check().stdout)
            assert peak < 300 * mb, f'converting took {peak / mb:.0f} MB above the start'
            # The method sees memory that is held: the whole checkpoint at once.
            k.run('rss_before = reset_peak()\n'
                  "reader = tf.train.load_checkpoint('big/model')\n"
                  "held = [reader.get_tensor(f'v{i}') for i in range(16)]\n"
                  'del held, reader').check()
            held = int(k.run("print(status('VmHWM') - rss_before)").check().stdout)
            assert held > 700 * mb, f'holding 1 GB measured {held / mb:.0f} MB'
        shapes = dict(tf.train.list_variables(str(tmp_path / 'big2' / 'model')))
        assert shapes == {**{f'v{i}': [SIDE, SIDE] for i in range(1, 16)}, 'w0': [SIDE, SIDE]}
        reader = tf.train.load_checkpoint(str(tmp_path / 'big2' / 'model'))
        for key, i in [('w0', 0), ('v7', 7), ('v15', 15)]:
            value = reader.get_tensor(key)
            assert value.dtype == np.float32
            assert np.array_equal(value, big_value(i)), key
            del value
        del reader
        assert hidden(tmp_path) == []
    finally:
        for directory in ('big', 'big2'):
            if (tmp_path / directory).is_dir():
                for path in (tmp_path / directory).iterdir():
                    path.unlink()
