"""Checkpoint migration: %mapckpt, %restoreckpt --map auto, and Keras 3 weight
files (.weights.h5, .keras) read by %inspectckpt and %restoreckpt.

Every checkpoint here is written in the test by real TensorFlow (a TF1
``Saver`` in a graph of its own, ``tf.train.Checkpoint``) or Keras
(``save_weights``, ``save``); nothing is mocked and no file is checked in."""

from __future__ import annotations

import uuid
import zipfile

import numpy as np
import pytest
import tensorflow as tf
from IPython.core.error import UsageError

from tests.shell import namespace_kept, ok, run
from tfmagic.checkpoints import CheckpointError

#: Defined in the shell (eager tests): Keras models with explicit names, so a
#: model built again has the same variable names, helpers to give them known
#: values and read them, and fixed data.
BUILD = '''\
import keras
import numpy as np


def build(name='sequential', units=(3, 1), compile=False):
    """A Sequential 4 -> 3 -> 1 of Dense layers d1, d2."""
    layers = [keras.Input((4,))]
    layers += [keras.layers.Dense(n, name=f'd{i}') for i, n in enumerate(units, 1)]
    model = keras.Sequential(layers, name=name)
    if compile:
        model.compile(optimizer=keras.optimizers.Adam(0.01, name='adam'), loss='mse')
    return model


def tf1_net(epsilon):
    """The Keras 3 version of the TF1 network: Dense fc1, BatchNorm, Dense fc2."""
    return keras.Sequential([keras.Input((4,)), keras.layers.Dense(5, name='fc1'),
                             keras.layers.BatchNormalization(epsilon=epsilon, name='bn'),
                             keras.layers.Dense(2, name='fc2')], name='net')


def randomize(model, seed):
    """Give every weight random, nonzero values."""
    rng = np.random.default_rng(seed)
    model.set_weights([rng.uniform(0.5, 1.5, w.shape).astype(w.dtype)
                       * rng.choice([-1, 1], w.shape) for w in model.get_weights()])


def weights_of(model):
    """path -> value of every variable of the model."""
    return {v.path: np.array(v) for v in model.variables}


def state(model):
    """path -> value of every variable of the model and its optimizer."""
    return {v.path: np.array(v) for v in model.variables + model.optimizer.variables}


x = np.linspace(-1, 1, 32, dtype='float32').reshape(8, 4)
y = x.sum(axis=1, keepdims=True)
'''

#: The weights of build(), by name.
WEIGHTS = ['sequential/d1/bias', 'sequential/d1/kernel',
           'sequential/d2/bias', 'sequential/d2/kernel']

EPSILON = 1e-3
#: The TF1 checkpoint's keys -> the Keras model's variables (tf1_net).
TF1_TO_KERAS = {
    'fc1/BatchNorm/beta': 'net/bn/beta',
    'fc1/BatchNorm/gamma': 'net/bn/gamma',
    'fc1/BatchNorm/moving_mean': 'net/bn/moving_mean',
    'fc1/BatchNorm/moving_variance': 'net/bn/moving_variance',
    'fc1/biases': 'net/fc1/bias',
    'fc1/weights': 'net/fc1/kernel',
    'fc2/biases': 'net/fc2/bias',
    'fc2/weights': 'net/fc2/kernel',
}
INPUT = np.linspace(-2, 2, 24, dtype='float32').reshape(6, 4)


# -- helpers ---------------------------------------------------------------------------


@pytest.fixture
def eager(ip, tmp_path, monkeypatch):
    """The shell in eager mode, in a temporary directory, with BUILD's names;
    back in graph mode afterwards, without the names the test defined."""
    monkeypatch.chdir(tmp_path)
    with namespace_kept(ip, 'eager', BUILD):
        yield ip


@pytest.fixture
def graph(ip, tmp_path, monkeypatch):
    """The shell in graph mode (the default), in a temporary directory."""
    monkeypatch.chdir(tmp_path)
    with namespace_kept(ip):
        yield ip


def py(ip, expression: str):
    """``expression`` evaluated in the shell's namespace, outside any cell."""
    return eval(expression, ip.user_ns)


def graph_values(ip) -> dict:
    """name -> value of the managed graph's variables, read through its session."""
    return ok(ip, 'tf.compat.v1.get_default_session().run(\n'
                  '    {v.op.name: v for v in tf.compat.v1.global_variables()})')


def assert_equal(actual: dict, expected: dict):
    assert sorted(actual) == sorted(expected)
    for name, value in expected.items():
        assert actual[name].dtype == value.dtype, name
        assert np.array_equal(actual[name], value), name


def failure(ip, line: str, kind=CheckpointError) -> str:
    """The message of the error ``line`` (a magic, run as a cell) raises; one of ``kind``."""
    result = run(ip, line)
    assert isinstance(result.error_in_exec, kind), repr(result.error_in_exec)
    return str(result.error_in_exec)


def printed_map_line(out: str) -> str:
    """The ``%restoreckpt ... --map ...`` line %mapckpt printed, as a user pastes it."""
    lines = [line.strip() for line in out.splitlines() if line.strip().startswith('%restoreckpt')]
    assert len(lines) == 1, out
    return lines[0]


def save_tf1(prefix: str, values: dict[str, np.ndarray]) -> None:
    """A TF1 script's checkpoint: get_variable under variable scopes, saved by
    a plain Saver, in a graph and session of its own."""
    with tf.Graph().as_default() as g:
        for name, value in values.items():
            scope, _, leaf = name.rpartition('/')
            with tf.compat.v1.variable_scope(scope or tf.compat.v1.get_variable_scope()):
                tf.compat.v1.get_variable(leaf, initializer=value)
        saver = tf.compat.v1.train.Saver()
        with tf.compat.v1.Session(graph=g) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            saver.save(sess, prefix, write_meta_graph=False)
    assert sorted(k for k, _ in tf.train.list_variables(prefix)) == sorted(values)


def tf1_contrib_model(prefix: str) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """A contrib-style TF1 network (fc1 with BatchNorm, fc2) with random
    nonzero values, saved by a plain Saver; its values and its output on INPUT."""
    rng = np.random.default_rng(7)

    def normal(*shape):
        return rng.normal(0.0, 1.0, shape).astype('float32') + 0.1

    values = {
        'fc1/weights': normal(4, 5),
        'fc1/biases': normal(5),
        'fc1/BatchNorm/gamma': rng.uniform(0.5, 2.0, 5).astype('float32'),
        'fc1/BatchNorm/beta': normal(5),
        'fc1/BatchNorm/moving_mean': normal(5),
        'fc1/BatchNorm/moving_variance': rng.uniform(0.5, 2.0, 5).astype('float32'),
        'fc2/weights': normal(5, 2),
        'fc2/biases': normal(2),
    }
    with tf.Graph().as_default() as g:
        inputs = tf.compat.v1.placeholder(tf.float32, [None, 4])

        def var(leaf):  # the variable ``leaf`` of the current scope, with its value
            name = f'{tf.compat.v1.get_variable_scope().name}/{leaf}'
            return tf.compat.v1.get_variable(leaf, initializer=values[name],
                                             trainable=not leaf.startswith('moving_'))

        with tf.compat.v1.variable_scope('fc1'):
            hidden = tf.matmul(inputs, var('weights')) + var('biases')
            with tf.compat.v1.variable_scope('BatchNorm'):
                gamma, beta = var('gamma'), var('beta')
                mean, variance = var('moving_mean'), var('moving_variance')
            hidden = (hidden - mean) / tf.sqrt(variance + EPSILON) * gamma + beta
        with tf.compat.v1.variable_scope('fc2'):
            output = tf.matmul(hidden, var('weights')) + var('biases')
        saver = tf.compat.v1.train.Saver()
        with tf.compat.v1.Session(graph=g) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            result = sess.run(output, {inputs: INPUT})
            saver.save(sess, prefix)
    stored = tf.compat.v1.train.NewCheckpointReader(prefix).get_variable_to_shape_map()
    assert sorted(stored) == sorted(values)
    return values, result


def assert_tf1_mapping(frame):
    """%mapckpt's table for the TF1 checkpoint against tf1_net: all 8 keys
    mapped by their TF1 names, no variable left over."""
    assert list(frame.columns) == ['key', 'shape', 'dtype', 'variable', 'how', 'status']
    assert len(frame) == 8
    rows = frame.to_dict('records')
    assert [row['key'] for row in rows] == sorted(TF1_TO_KERAS)
    for row in rows:
        assert row['variable'] == TF1_TO_KERAS[row['key']], row
        assert (row['how'], row['status'], row['dtype']) == ('TF1 name', 'mapped', 'float32'), row
    shapes = {row['key']: row['shape'] for row in rows}
    assert shapes['fc1/weights'] == (4, 5) and shapes['fc2/weights'] == (5, 2)
    assert shapes['fc1/BatchNorm/moving_variance'] == (5,)


# -- 1. a TF1 contrib model into its Keras 3 rewrite --------------------------------------


def test_tf1_contrib_checkpoint_maps_and_restores_into_a_keras_model(eager, capsys):
    values, expected = tf1_contrib_model('tf1/model.ckpt')
    ok(eager, f'model = tf1_net({EPSILON})')
    before = py(eager, 'weights_of(model)')
    assert sorted(before) == sorted(TF1_TO_KERAS.values())

    capsys.readouterr()
    frame = ok(eager, '%mapckpt tf1/model.ckpt')
    out = capsys.readouterr().out
    assert_tf1_mapping(frame)
    assert out.startswith('tfmagic: 8 of 8 keys mapped (8 TF1 name).\n')
    # Reading the index maps nothing into the variables.
    assert_equal(py(eager, 'weights_of(model)'), before)

    capsys.readouterr()
    ok(eager, '%restoreckpt tf1/model.ckpt --map auto')
    assert capsys.readouterr().out == 'Restored 8 variables from tf1/model.ckpt.\n'
    assert_equal(py(eager, 'weights_of(model)'),
                 {new: values[old] for old, new in TF1_TO_KERAS.items()})
    predicted = py(eager, 'model.predict')(INPUT, verbose=0)
    assert np.allclose(predicted, expected, rtol=1e-5, atol=1e-5)


# -- 2. the printed --map line, pasted ------------------------------------------------------


def test_the_printed_map_line_pasted_as_is_restores_the_same_values(eager, capsys):
    values, expected = tf1_contrib_model('tf1/model.ckpt')
    ok(eager, f'model = tf1_net({EPSILON})')
    capsys.readouterr()
    ok(eager, '%mapckpt tf1/model.ckpt')
    line = printed_map_line(capsys.readouterr().out)
    assert line.startswith('%restoreckpt tf1/model.ckpt --map ')
    assert 'auto' not in line and '--allow-missing' not in line
    # One scope pair covers the BatchNorm variables; the others are renamed one by one.
    assert 'fc1/BatchNorm=net/bn' in line.split()
    assert 'fc1/weights=net/fc1/kernel' in line.split()

    fresh = py(eager, 'weights_of(model)')
    assert not np.array_equal(fresh['net/fc1/kernel'], values['fc1/weights'])
    capsys.readouterr()
    ok(eager, line)
    assert capsys.readouterr().out == 'Restored 8 variables from tf1/model.ckpt.\n'
    assert_equal(py(eager, 'weights_of(model)'),
                 {new: values[old] for old, new in TF1_TO_KERAS.items()})
    assert np.allclose(py(eager, 'model.predict')(INPUT, verbose=0), expected,
                       rtol=1e-5, atol=1e-5)


# -- 3. a tf.train.Checkpoint of a model into a rebuilt one ----------------------------


def test_object_checkpoint_maps_by_object_path_into_a_rebuilt_model(eager, capsys):
    ok(eager, 'model = build()\nrandomize(model, 1)\n'
              "tf.train.Checkpoint(model=model).write('tf2/model')")
    trained = py(eager, 'weights_of(model)')
    expected = py(eager, 'model.predict(x, verbose=0)')
    keys = sorted(k for k, _ in tf.train.list_variables('tf2/model'))
    assert all(k.startswith('model/') or k.startswith('_CHECKPOINTABLE') or
               k.startswith('save_counter') for k in keys), keys

    # A new object of the same structure; the old one gone.
    ok(eager, 'rebuilt = keras.models.clone_model(model)\ndel model')
    fresh = py(eager, 'weights_of(rebuilt)')
    assert sorted(fresh) == sorted(trained)
    assert not np.array_equal(fresh['sequential/d1/kernel'], trained['sequential/d1/kernel'])

    capsys.readouterr()
    frame = ok(eager, '%mapckpt tf2/model')
    out = capsys.readouterr().out
    rows = frame.to_dict('records')
    assert len(rows) == 4, rows
    for row in rows:
        assert row['key'].endswith('/.ATTRIBUTES/VARIABLE_VALUE'), row
        assert (row['how'], row['status']) == ('object path', 'mapped'), row
    assert sorted(row['variable'] for row in rows) == WEIGHTS
    assert out.startswith('tfmagic: 4 of 4 keys mapped (4 object path).\n')

    ok(eager, '%restoreckpt tf2/model --map auto')
    assert_equal(py(eager, 'weights_of(rebuilt)'), trained)
    assert np.array_equal(py(eager, 'rebuilt.predict(x, verbose=0)'), expected)


def test_object_checkpoint_of_a_trained_model_restores_weights_and_optimizer_state(
        eager, capsys):
    ok(eager, 'model = build(compile=True)\n'
              'model.fit(x, y, epochs=2, batch_size=4, verbose=0)\n'
              "tf.train.Checkpoint(model=model).write('tf2/model')")
    trained = py(eager, 'state(model)')
    assert len(trained) == 14 and py(eager, 'int(model.optimizer.iterations)') == 4
    expected = py(eager, 'model.predict(x, verbose=0)')
    # clone_model of a compiled model is compiled too, with its optimizer built.
    ok(eager, 'rebuilt = keras.models.clone_model(model)\ndel model')
    fresh = py(eager, 'state(rebuilt)')
    assert sorted(fresh) == sorted(trained)
    assert not np.array_equal(fresh['sequential/d1/kernel'], trained['sequential/d1/kernel'])
    assert not fresh['adam/iteration']

    capsys.readouterr()
    frame = ok(eager, '%mapckpt tf2/model')
    out = capsys.readouterr().out
    mapped = frame[frame['status'] == 'mapped']
    assert len(mapped) == 14 and set(mapped['how']) == {'object path'}
    assert sorted(mapped['variable']) == sorted(trained)
    # The object paths say which slot is which, though many share a shape.
    by_key = dict(zip(mapped['key'], mapped['variable'], strict=True))
    assert by_key['model/optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE'] == 'adam/iteration'
    # The loss metric's variables are in no tf.train.Checkpoint.
    rest = frame[frame['status'] != 'mapped']
    assert rest['key'].isna().all() and sorted(rest['variable']) == ['loss/count', 'loss/total']
    assert out.startswith('tfmagic: 14 of 14 keys mapped (14 object path).\n')
    assert '  loss/count: no key maps to it\n' in out
    assert printed_map_line(out).endswith(' --allow-missing')

    # The checkpoint's keys all map: the variables no key maps to (the loss
    # metric's) keep their values and are named, and the restore goes on.
    capsys.readouterr()
    ok(eager, '%restoreckpt tf2/model --map auto')
    said = capsys.readouterr().out
    assert said.startswith('Restored 14 variables from tf2/model.'), said
    assert '2 other variables (loss/count, loss/total) have no key in it' in said
    assert_equal(py(eager, 'state(rebuilt)'), trained)
    ok(eager, '%restoreckpt tf2/model --map auto --allow-missing')
    assert_equal(py(eager, 'state(rebuilt)'), trained)
    assert np.array_equal(py(eager, 'rebuilt.predict(x, verbose=0)'), expected)


# -- 4. a Keras weight file into graph-mode variables --------------------------------------


#: A graph-mode cell: get_variable variables scoped like the Keras layers,
#: kernel before bias as Keras makes them, all zeros.
GRAPH_LAYERS = '''\
for layer, shape in [('d1', (4, 3)), ('d2', (3, 1))]:
    with tf.compat.v1.variable_scope(layer):
        tf.compat.v1.get_variable('kernel', shape, initializer=tf.compat.v1.zeros_initializer())
        tf.compat.v1.get_variable('bias', shape[1:], initializer=tf.compat.v1.zeros_initializer())
'''


def test_keras_weight_file_restores_into_graph_mode_variables(eager, capsys):
    ok(eager, "model = build()\nrandomize(model, 2)\nmodel.save_weights('m.weights.h5')")
    saved = py(eager, 'weights_of(model)')
    ok(eager, 'del model')
    ok(eager, '%tfmode graph')
    ok(eager, GRAPH_LAYERS)
    zeros = graph_values(eager)
    assert sorted(zeros) == ['d1/bias', 'd1/kernel', 'd2/bias', 'd2/kernel']
    assert not any(value.any() for value in zeros.values())

    # Without a Keras model, the file's own keys, against the graph's names.
    frame = ok(eager, '%inspectckpt m.weights.h5')
    rows = {row['name']: row for row in frame.to_dict('records')}
    file_keys = {'layers/dense/vars/0': (4, 3), 'layers/dense/vars/1': (3,),
                 'layers/dense_1/vars/0': (3, 1), 'layers/dense_1/vars/1': (1,)}
    assert set(rows) == set(file_keys) | set(zeros)
    for key, shape in file_keys.items():
        assert (rows[key]['shape'], rows[key]['status']) == (shape, 'missing in graph')
    for name in zeros:
        assert rows[name]['status'] == 'missing in checkpoint'

    capsys.readouterr()
    frame = ok(eager, '%mapckpt m.weights.h5')
    capsys.readouterr()
    assert frame[['key', 'variable', 'how', 'status']].to_dict('records') == [
        {'key': 'layers/dense/vars/0', 'variable': 'd1/kernel', 'how': 'keras order',
         'status': 'mapped'},
        {'key': 'layers/dense/vars/1', 'variable': 'd1/bias', 'how': 'keras order',
         'status': 'mapped'},
        {'key': 'layers/dense_1/vars/0', 'variable': 'd2/kernel', 'how': 'keras order',
         'status': 'mapped'},
        {'key': 'layers/dense_1/vars/1', 'variable': 'd2/bias', 'how': 'keras order',
         'status': 'mapped'}]

    ok(eager, '%restoreckpt m.weights.h5 --map auto')
    assert capsys.readouterr().out == 'Restored 4 variables from m.weights.h5.\n'
    assert_equal(graph_values(eager),
                 {name.removeprefix('sequential/'): value for name, value in saved.items()})


# -- 5. .weights.h5 and .keras against a live model -----------------------------------------


def test_keras_files_are_named_by_the_live_model_and_restore_into_a_rebuilt_one(eager, capsys):
    ok(eager, "model = build()\nrandomize(model, 3)\n"
              "model.save_weights('m.weights.h5')\nmodel.save('m.keras')")
    saved = py(eager, 'weights_of(model)')
    expected = py(eager, 'model.predict(x, verbose=0)')

    for path in ('m.weights.h5', 'm.keras'):
        frame = ok(eager, f'%inspectckpt {path}')
        assert frame.to_dict('records') == [
            {'name': name, 'shape': saved[name].shape, 'dtype': 'float32', 'status': 'match'}
            for name in WEIGHTS]
        stats = ok(eager, f'%inspectckpt {path} --stats').set_index('name')
        assert sorted(stats.index) == WEIGHTS
        for name in WEIGHTS:
            row = stats.loc[name]
            assert row['status'] == 'match'
            assert (row['size'], row['min'], row['max']) == (
                saved[name].size, saved[name].min(), saved[name].max())
            assert np.isclose(row['mean'], saved[name].mean())

    # Rebinding the name drops the saved model; the rebuilt one takes its names.
    ok(eager, 'model = build()')
    fresh = py(eager, 'weights_of(model)')
    assert sorted(fresh) == WEIGHTS
    assert not np.array_equal(fresh['sequential/d1/kernel'], saved['sequential/d1/kernel'])
    capsys.readouterr()
    ok(eager, '%restoreckpt m.keras')
    assert capsys.readouterr().out == 'Restored 4 variables from m.keras.\n'
    assert_equal(py(eager, 'weights_of(model)'), saved)
    assert np.array_equal(py(eager, 'model.predict(x, verbose=0)'), expected)

    # %mapckpt says which model placed the keys.
    frame = ok(eager, '%mapckpt m.weights.h5')
    assert set(frame['how']) == {'keras order'} and set(frame['status']) == {'mapped'}
    assert ', placed by the Keras model model.' in capsys.readouterr().out


def test_a_compiled_models_keras_file_places_its_optimizer_state_too(eager):
    # model.save_weights writes the optimizer's variables too, by Keras's own
    # walk, as optimizer/vars/I: the live model places those keys as well.
    ok(eager, 'model = build(compile=True)\n'
              'model.fit(x, y, epochs=2, batch_size=4, verbose=0)\n'
              "model.save_weights('t.weights.h5')")
    trained = py(eager, 'state(model)')
    assert len(trained) == 14
    frame = ok(eager, '%inspectckpt t.weights.h5')
    # Keras saves no metric: only the loss tracker's two variables are not in the file.
    assert dict(zip(frame['name'], frame['status'], strict=True)) == {
        **{name: 'match' for name in trained},
        'loss/count': 'missing in checkpoint', 'loss/total': 'missing in checkpoint'}

    ok(eager, 'rebuilt = keras.models.clone_model(model)\ndel model')
    frame = ok(eager, '%mapckpt t.weights.h5')
    mapped = frame[frame['status'] == 'mapped']
    assert sorted(mapped['variable']) == sorted(trained)
    assert set(mapped['how']) == {'keras order'}
    ok(eager, '%restoreckpt t.weights.h5 --map auto --allow-missing')
    assert_equal(py(eager, 'state(rebuilt)'), trained)


def test_two_live_models_that_fit_a_keras_file_alike_are_refused(eager):
    ok(eager, "model = build()\nrandomize(model, 4)\nmodel.save_weights('m.weights.h5')")
    ok(eager, "del model\nfirst = build('first')\nsecond = build('second')")
    before = {name: py(eager, f'weights_of({name})') for name in ('first', 'second')}
    message = failure(eager, '%restoreckpt m.weights.h5')
    assert 'first or second' in message or 'second or first' in message
    assert "MODEL.load_weights('m.weights.h5')" in message
    for name, state in before.items():
        assert_equal(py(eager, f'weights_of({name})'), state)


# -- 6. two keys and two variables of one shape: nothing guessed ----------------------------


def test_ambiguous_keys_are_named_with_their_candidates_and_restore_nothing(graph, capsys):
    save_tf1('old/model', {'p': np.array([10.0, 20.0, 30.0], 'float32'),
                           'q': np.array([40.0, 50.0, 60.0], 'float32')})
    ok(graph, "alpha = tf.compat.v1.get_variable('alpha', initializer=[1.0, 2.0, 3.0])\n"
              "beta = tf.compat.v1.get_variable('beta', initializer=[4.0, 5.0, 6.0])")
    before = graph_values(graph)

    capsys.readouterr()
    frame = ok(graph, '%mapckpt old/model')
    out = capsys.readouterr().out
    rows = frame.to_dict('records')
    assert rows[:2] == [
        {'key': 'p', 'shape': (3,), 'dtype': 'float32', 'variable': 'alpha or beta',
         'how': '', 'status': 'ambiguous'},
        {'key': 'q', 'shape': (3,), 'dtype': 'float32', 'variable': 'alpha or beta',
         'how': '', 'status': 'ambiguous'}]
    # A variable no key maps to: no key (None, which pandas 3 shows as NaN).
    assert frame['key'][2:].isna().all()
    assert [(row['variable'], row['how'], row['status']) for row in rows[2:]] == [
        ('alpha', '', 'unmatched'), ('beta', '', 'unmatched')]
    assert '  p: ambiguous, could be alpha or beta\n' in out
    assert '  q: ambiguous, could be alpha or beta\n' in out

    # The refusal names each ambiguous key and its candidates (not "nothing
    # in common": both keys fit both variables), and changes nothing.
    message = failure(graph, '%restoreckpt old/model --map auto')
    assert_equal(graph_values(graph), before)
    assert '  p: ambiguous, could be alpha or beta\n' in message, message
    assert '  q: ambiguous, could be alpha or beta\n' in message, message


def test_ambiguous_keys_beside_a_mapped_one_stop_the_whole_restore(graph, capsys):
    save_tf1('old/model', {'p': np.array([10.0, 20.0, 30.0], 'float32'),
                           'q': np.array([40.0, 50.0, 60.0], 'float32'),
                           'step': np.array(9, 'int64')})
    ok(graph, "alpha = tf.compat.v1.get_variable('alpha', initializer=[1.0, 2.0, 3.0])\n"
              "beta = tf.compat.v1.get_variable('beta', initializer=[4.0, 5.0, 6.0])\n"
              "step = tf.compat.v1.get_variable('step', initializer=tf.constant(0, tf.int64))")
    before = graph_values(graph)

    frame = ok(graph, '%mapckpt old/model')
    assert frame[['variable', 'how', 'status']].to_dict('records')[:3] == [
        {'variable': 'alpha or beta', 'how': '', 'status': 'ambiguous'},
        {'variable': 'alpha or beta', 'how': '', 'status': 'ambiguous'},
        {'variable': 'step', 'how': 'exact', 'status': 'mapped'}]
    message = failure(graph, '%restoreckpt old/model --map auto')
    assert message.startswith('--map auto cannot map all of old/model; nothing was restored:\n')
    assert '  p: ambiguous, could be alpha or beta\n' in message
    assert '  q: ambiguous, could be alpha or beta\n' in message
    assert 'alpha: no key maps to it' not in message  # keys stop it, not variables
    assert_equal(graph_values(graph), before)
    # --allow-missing restores what is mapped for sure, and only that.
    capsys.readouterr()
    ok(graph, '%restoreckpt old/model --map auto --allow-missing')
    assert capsys.readouterr().out.startswith('Restored 1 variable from old/model.')
    assert_equal(graph_values(graph), {**before, 'step': np.array(9, 'int64')})


# -- 7. bad input: a clear error, nothing changed -------------------------------------------


def test_damaged_keras_files_are_refused_and_change_nothing(eager, tmp_path):
    ok(eager, "model = build()\nrandomize(model, 5)\nmodel.save_weights('m.weights.h5')")
    ok(eager, 'model = build()')  # other values than the file's
    before = py(eager, 'weights_of(model)')
    content = (tmp_path / 'm.weights.h5').read_bytes()
    assert content.startswith(b'\x89HDF\r\n\x1a\n')
    (tmp_path / 'half.weights.h5').write_bytes(content[:len(content) // 2])
    (tmp_path / 'garbage.weights.h5').write_bytes(
        content[:8] + bytes(range(256)) * 8)
    with zipfile.ZipFile(tmp_path / 'empty.keras', 'w') as archive:
        archive.writestr('config.json', '{"class_name": "Sequential"}')

    for path in ('half.weights.h5', 'garbage.weights.h5'):
        for line in (f'%inspectckpt {path}', f'%inspectckpt {path} --stats',
                     f'%mapckpt {path}', f'%restoreckpt {path}',
                     f'%restoreckpt {path} --map auto'):
            message = failure(eager, line)
            assert message.startswith(f'cannot read Keras weights {path}: it is damaged'), \
                (line, message)
            assert '\n' not in message, (line, message)
            assert_equal(py(eager, 'weights_of(model)'), before)
    for line in ('%inspectckpt empty.keras', '%mapckpt empty.keras',
                 '%restoreckpt empty.keras', '%restoreckpt empty.keras --map auto'):
        message = failure(eager, line)
        assert 'empty.keras is a Keras archive without weights' in message, (line, message)
        assert 'config.json' in message
        assert_equal(py(eager, 'weights_of(model)'), before)

    # The intact file still restores.
    ok(eager, '%restoreckpt m.weights.h5')
    assert not np.array_equal(py(eager, 'weights_of(model)')['sequential/d1/kernel'],
                              before['sequential/d1/kernel'])


def test_map_auto_with_nothing_in_common_or_with_pairs_is_refused(graph):
    save_tf1('counts/model', {'steps': np.arange(7, dtype='int64')})
    ok(graph, "v = tf.compat.v1.get_variable('v', initializer=[1.0, 2.0, 3.0])")
    before = graph_values(graph)

    frame = ok(graph, '%mapckpt counts/model')
    assert frame['key'].tolist()[0] == 'steps' and frame['key'].isna().tolist() == [False, True]
    assert frame[['variable', 'status']].to_dict('records') == [
        {'variable': '', 'status': 'unmatched'}, {'variable': 'v', 'status': 'unmatched'}]
    message = failure(graph, '%restoreckpt counts/model --map auto')
    assert message.startswith('--map auto found no variable for any key of counts/model')
    assert_equal(graph_values(graph), before)
    # --allow-missing does not make an empty mapping a restore.
    message = failure(graph, '%restoreckpt counts/model --map auto --allow-missing')
    assert message.startswith('--map auto found no variable for any key of counts/model')
    assert_equal(graph_values(graph), before)

    message = failure(graph, '%restoreckpt counts/model --map auto x=y', UsageError)
    assert message == '--map takes auto or OLD=NEW pairs, not both'
    assert_equal(graph_values(graph), before)


# -- 8. ram:// ---------------------------------------------------------------------------


def test_ram_checkpoints_and_keras_files_map_and_restore(eager, capsys):
    root = f'ram://migration-{uuid.uuid4().hex}'
    try:
        values, expected = tf1_contrib_model(f'{root}/tf1/model.ckpt')
        ok(eager, f'model = tf1_net({EPSILON})')
        capsys.readouterr()
        assert_tf1_mapping(ok(eager, f'%mapckpt {root}/tf1/model.ckpt'))
        assert f'%restoreckpt {root}/tf1/model.ckpt --map ' in capsys.readouterr().out
        ok(eager, f'%restoreckpt {root}/tf1/model.ckpt --map auto')
        assert_equal(py(eager, 'weights_of(model)'),
                     {new: values[old] for old, new in TF1_TO_KERAS.items()})
        assert np.allclose(py(eager, 'model.predict')(INPUT, verbose=0), expected,
                           rtol=1e-5, atol=1e-5)

        # A Keras weight file, copied to ram://; rebinding `model` drops tf1_net.
        ok(eager, "model = build()\nrandomize(model, 6)\nmodel.save_weights('m.weights.h5')")
        saved = py(eager, 'weights_of(model)')
        tf.io.gfile.copy('m.weights.h5', f'{root}/keras/m.weights.h5')
        ok(eager, 'model = build()')
        assert not np.array_equal(py(eager, 'weights_of(model)')['sequential/d2/kernel'],
                                  saved['sequential/d2/kernel'])
        frame = ok(eager, f'%mapckpt {root}/keras/m.weights.h5')
        assert sorted(frame['variable']) == WEIGHTS
        assert set(frame['how']) == {'keras order'} and set(frame['status']) == {'mapped'}
        ok(eager, f'%restoreckpt {root}/keras/m.weights.h5 --map auto')
        assert_equal(py(eager, 'weights_of(model)'), saved)
    finally:
        if tf.io.gfile.exists(root):
            tf.io.gfile.rmtree(root)


# -- 9. a renamed scope ---------------------------------------------------------------------


def test_a_renamed_scope_maps_by_its_trailing_names(graph, capsys):
    kernel = np.arange(1, 7, dtype='float32').reshape(2, 3)
    bias = np.array([-1.0, -2.0, -3.0], 'float32')
    save_tf1('old/model', {'old_net/dense/kernel': kernel, 'old_net/dense/bias': bias})
    ok(graph, "with tf.compat.v1.variable_scope('net/dense'):\n"
              "    tf.compat.v1.get_variable('kernel', [2, 3])\n"
              "    tf.compat.v1.get_variable('bias', [3])")

    capsys.readouterr()
    frame = ok(graph, '%mapckpt old/model')
    out = capsys.readouterr().out
    assert frame[['key', 'variable', 'how', 'status']].to_dict('records') == [
        {'key': 'old_net/dense/bias', 'variable': 'net/dense/bias', 'how': 'scope renamed',
         'status': 'mapped'},
        {'key': 'old_net/dense/kernel', 'variable': 'net/dense/kernel', 'how': 'scope renamed',
         'status': 'mapped'}]
    line = printed_map_line(out)
    assert line == '%restoreckpt old/model --map old_net=net'

    ok(graph, line)
    assert_equal(graph_values(graph), {'net/dense/kernel': kernel, 'net/dense/bias': bias})
