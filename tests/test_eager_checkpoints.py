"""Checkpoints in eager mode (issue 12, points 4 and 5): %saveckpt, %restoreckpt
and %inspectckpt on real Keras 3 models and tf.Variables, read by plain
TensorFlow, and exchanged with graph mode under the same names."""

import os

import numpy as np
import pytest
import tensorflow as tf
from IPython.core.error import UsageError

from tests.shell import namespace_kept, ok
from tfmagic.checkpoints import CheckpointError

#: Defined in the shell: a small Sequential 4 -> 3 -> 1 whose model, layers
#: and optimizer have explicit names, so a model built again has the same
#: variable names (Keras uniquifies only the names it makes up: ``sequential_1``,
#: ``adam_1``), and fixed data. A unit count may be ``(units, dtype)``.
BUILD = '''\
import keras
import numpy as np


def build(name='sequential', units=(3, 1), compile=True):
    layers = [keras.Input((4,))]
    for i, spec in enumerate(units, 1):
        n, dtype = spec if isinstance(spec, tuple) else (spec, None)
        layers.append(keras.layers.Dense(n, name=f'd{i}', dtype=dtype))
    model = keras.Sequential(layers, name=name)
    if compile:
        model.compile(optimizer=keras.optimizers.Adam(0.01, name='adam'), loss='mse')
    return model


def numbered(model):
    """Give every weight known values: 1, 2, 3, ... in each."""
    model.set_weights([np.arange(1, w.size + 1, dtype=w.dtype).reshape(w.shape)
                       for w in model.get_weights()])


def state(model):
    """path -> value of every variable of the model, its optimizer and metrics."""
    variables = model.variables + model.metrics_variables
    if getattr(model, 'optimizer', None) is not None:
        variables += model.optimizer.variables
    return {v.path: np.array(v) for v in variables}


x = np.arange(32, dtype='float32').reshape(8, 4) / 32
y = x.sum(axis=1, keepdims=True)
'''

WEIGHTS = ['sequential/d1/bias', 'sequential/d1/kernel',
           'sequential/d2/bias', 'sequential/d2/kernel']
#: What compile() makes before any training step: the optimizer's counters
#: and the loss metric. Its slots come with the first step (or optimizer.build).
COMPILED = ['adam/iteration', 'adam/learning_rate', 'loss/count', 'loss/total']
SLOTS = sorted(f'adam/sequential_{layer}_{kind}_{moment}' for layer in ('d1', 'd2')
               for kind in ('kernel', 'bias') for moment in ('momentum', 'velocity'))
TRAINED = sorted(COMPILED + SLOTS + WEIGHTS)


@pytest.fixture
def eager(ip, tmp_path, monkeypatch):
    """The shell in eager mode, in a temporary directory, with ``build``; back
    in graph mode afterwards, without the names the test defined."""
    monkeypatch.chdir(tmp_path)
    with namespace_kept(ip, 'eager', BUILD):
        yield ip


# Each eager cell ends with a full gc.collect() in tfmagic (about 0.3 s with
# TensorFlow and Keras loaded), so cells here are the steps a user takes:
# making, dropping, saving and restoring variables. Values are read outside
# any cell, with py().


def py(ip, expression: str):
    """``expression`` evaluated in the shell's namespace, outside any cell."""
    return eval(expression, ip.user_ns)


def train(ip):
    """``model``, trained for one epoch; returns its state (path -> value)."""
    ok(ip, 'model = build()\nmodel.fit(x, y, epochs=1, batch_size=4, verbose=0);')
    return model_state(ip)


def model_state(ip):
    """``state(model)``: path -> value of the model's variables."""
    return py(ip, 'state(model)')


def predict(ip):
    return py(ip, 'model.predict(x, verbose=0)')


def names(ip):
    """The names %vars lists, sorted."""
    return sorted(ip.run_line_magic('vars', '')['name'])


def assert_equal(actual: dict, expected: dict):
    assert sorted(actual) == sorted(expected)
    for name, value in expected.items():
        assert actual[name].dtype == value.dtype, name
        assert np.array_equal(actual[name], value), name


def error(ip, magic, line=''):
    """The one-line CheckpointError ``%magic line`` raises."""
    with pytest.raises(CheckpointError) as info:
        ip.run_line_magic(magic, line)
    return str(info.value)


def files(tmp_path):
    return {p.relative_to(tmp_path): p.read_bytes() for p in tmp_path.rglob('*') if p.is_file()}


# -- 1. a trained Keras model, saved and restored into a freshly built one ------------



def test_trained_keras_model_restores_exactly_into_a_fresh_model(eager, tmp_path, capsys):
    trained = train(eager)
    assert sorted(trained) == names(eager) == TRAINED
    expected = predict(eager)
    capsys.readouterr()
    ok(eager, '%saveckpt')
    assert capsys.readouterr().out.startswith('Saved 16 variables (')
    # Eager mode has no graph to export: no .meta, the rest as Saver writes it.
    assert sorted(os.listdir(tmp_path / 'checkpoints')) == [
        'checkpoint', 'model.data-00000-of-00001', 'model.index']

    # Rebinding the name drops the trained model: its variables leave, and
    # the fresh model's take their names.
    ok(eager, 'model = build()')
    assert names(eager) == sorted(COMPILED + WEIGHTS)
    fresh = model_state(eager)
    assert not np.array_equal(fresh['sequential/d1/kernel'], trained['sequential/d1/kernel'])
    # A fresh optimizer has no slots yet: the check refuses the whole
    # checkpoint before assigning anything.
    message = error(eager, 'restoreckpt')
    assert 'nothing was restored' in message
    for slot in SLOTS:
        assert f'  {slot}: missing in graph\n' in message
    assert_equal(model_state(eager), fresh)
    # What a user resuming training does: build the optimizer's state, so
    # that the whole training state (slots, iteration, loss metric) restores.
    ok(eager, 'model.optimizer.build(model.trainable_variables)')
    assert names(eager) == TRAINED
    capsys.readouterr()
    ok(eager, '%restoreckpt')
    assert capsys.readouterr().out == 'Restored 16 variables from checkpoints/model.\n'
    assert_equal(model_state(eager), trained)
    assert np.array_equal(predict(eager), expected)


def test_model_weights_alone_restore_into_an_uncompiled_model(eager):
    # For inference only: save the layers' weights, restore them into a model
    # that never had an optimizer.
    trained = train(eager)
    expected = predict(eager)
    ok(eager, "%saveckpt weights/model --vars 'sequential/*'")
    assert [k for k, _ in tf.train.list_variables('weights/model')] == WEIGHTS
    ok(eager, 'model = build(compile=False)')
    ok(eager, '%restoreckpt weights')
    assert_equal(model_state(eager), {k: trained[k] for k in WEIGHTS})
    assert np.array_equal(predict(eager), expected)


# -- 2. read by plain TensorFlow ---------------------------------------------------


def test_plain_tensorflow_reads_the_eager_checkpoint(eager):
    trained = train(eager)
    ok(eager, '%saveckpt ck/model --step 3')
    assert tf.train.latest_checkpoint('ck') == os.path.join('ck', 'model-3')
    assert [name for name, _ in tf.train.list_variables('ck/model-3')] == TRAINED
    reader = tf.train.load_checkpoint('ck/model-3')
    assert_equal({k: reader.get_tensor(k) for k in TRAINED}, trained)
    # Outside a cell, this process is plain eager TF: a name-based Saver
    # restores into new tf.Variables of those names.
    targets = {name: tf.Variable(tf.zeros(value.shape, value.dtype))
               for name, value in trained.items()}
    tf.compat.v1.train.Saver(var_list=targets).restore(None, 'ck/model-3')
    assert_equal({k: v.numpy() for k, v in targets.items()}, trained)


# -- 3. interop with graph mode, both ways ---------------------------------------------

#: A graph-mode cell: get_variable variables named as the Keras model's
#: weights, with known values (or zeros).
GRAPH_WEIGHTS = """\
import numpy as np
known = {{'sequential/d1/kernel': np.arange(12, dtype='float32').reshape(4, 3) / 10,
         'sequential/d1/bias': np.array([0.5, -0.5, 1.5], dtype='float32'),
         'sequential/d2/kernel': np.array([[1.0], [-2.0], [3.0]], dtype='float32'),
         'sequential/d2/bias': np.array([0.25], dtype='float32')}}
for path, value in known.items():
    scope, _, leaf = path.rpartition('/')
    with tf.compat.v1.variable_scope(scope):
        tf.compat.v1.get_variable(leaf, initializer={init})
"""


def graph_values(ip):
    """name -> value of the graph's variables, read through the session."""
    return ok(ip, 'tf.compat.v1.get_default_session().run(\n'
                  '    {v.op.name: v for v in tf.compat.v1.global_variables()})')


def test_a_graph_mode_checkpoint_restores_into_the_keras_model(eager, capsys):
    ok(eager, '%tfmode graph')
    ok(eager, GRAPH_WEIGHTS.format(init='value'))
    known = eager.user_ns['known']
    ok(eager, '%saveckpt graph/model')
    ok(eager, '%tfmode eager')
    ok(eager, 'model = build()')
    compiled = {k: v for k, v in model_state(eager).items() if k in COMPILED}
    # The compiled model also has its optimizer's counters and loss metric,
    # which a graph of weights does not: restore the weights, say the rest.
    assert 'adam/iteration: missing in checkpoint' in error(eager, 'restoreckpt', 'graph')
    capsys.readouterr()
    ok(eager, '%restoreckpt graph --allow-missing')
    assert capsys.readouterr().out == (
        'Restored 4 variables from graph/model. Skipped 4: '
        + '; '.join(f'{name}: missing in checkpoint' for name in COMPILED) + '.\n')
    assert_equal(model_state(eager), {**known, **compiled})
    hidden = eager.user_ns['x'] @ known['sequential/d1/kernel'] + known['sequential/d1/bias']
    assert np.allclose(predict(eager),
                       hidden @ known['sequential/d2/kernel'] + known['sequential/d2/bias'])


def test_a_keras_checkpoint_restores_into_graph_mode_variables(eager):
    trained = train(eager)
    ok(eager, "%saveckpt keras/model --vars 'sequential/*'")
    ok(eager, '%tfmode graph')
    ok(eager, GRAPH_WEIGHTS.format(init='np.zeros_like(value)'))
    assert names(eager) == WEIGHTS
    assert not graph_values(eager)['sequential/d1/kernel'].any()
    ok(eager, '%restoreckpt keras')
    assert_equal(graph_values(eager), {k: trained[k] for k in WEIGHTS})


def test_a_full_training_checkpoint_restores_its_weights_into_graph_mode(eager, capsys):
    trained = train(eager)
    ok(eager, '%saveckpt')
    ok(eager, '%tfmode graph')
    ok(eager, GRAPH_WEIGHTS.format(init='np.zeros_like(value)'))
    capsys.readouterr()
    ok(eager, '%restoreckpt --allow-missing')
    out = capsys.readouterr().out
    assert out.startswith('Restored 4 variables from checkpoints/model. Skipped 12: ')
    assert 'adam/sequential_d1_kernel_momentum: missing in graph' in out
    assert_equal(graph_values(eager), {k: trained[k] for k in WEIGHTS})


# -- 4. %restoreckpt checks everything before assigning anything ----------------------


@pytest.fixture
def weights(eager):
    """The weights of an uncompiled model, 1, 2, 3, ... in each, saved to
    w/model; the model is dropped by the next cell that rebinds ``model``."""
    ok(eager, 'model = build(compile=False)\nnumbered(model)')
    eager.run_line_magic('saveckpt', 'w/model')
    return model_state(eager)


@pytest.mark.parametrize('units, problems', [
    ((5, 1), ['sequential/d1/bias: shape (3,) in checkpoint, (5,) in graph',
              'sequential/d1/kernel: shape (4, 3) in checkpoint, (4, 5) in graph',
              'sequential/d2/kernel: shape (3, 1) in checkpoint, (5, 1) in graph']),
    (((3, 'float64'), 1), ['sequential/d1/bias: dtype float32 in checkpoint, float64 in graph',
                           'sequential/d1/kernel: dtype float32 in checkpoint, float64 in graph']),
    ((3, 1, 2), ['sequential/d3/bias: missing in checkpoint',
                 'sequential/d3/kernel: missing in checkpoint']),
    ((3,), ['sequential/d2/bias: missing in graph',
            'sequential/d2/kernel: missing in graph']),
], ids=['shape', 'dtype', 'missing-in-checkpoint', 'missing-in-graph'])
def test_a_mismatch_restores_nothing_and_lists_each_problem(eager, weights, capsys,
                                                            units, problems):
    ok(eager, f'model = build(units={units!r}, compile=False)')
    fresh = model_state(eager)
    message = error(eager, 'restoreckpt', 'w/model')
    assert message.splitlines()[1:-1] == ['  ' + p for p in problems]
    assert 'nothing was restored' in message and '--allow-missing' in message
    assert_equal(model_state(eager), fresh)
    # --allow-missing restores every variable that fits, and only those.
    capsys.readouterr()
    ok(eager, '%restoreckpt w/model --allow-missing')
    fitting = [k for k in fresh if k in weights and not any(p.startswith(k + ':')
                                                            for p in problems)]
    assert capsys.readouterr().out == (
        f'Restored {len(fitting)} variable{"s" * (len(fitting) != 1)} from w/model. '
        f'Skipped {len(problems)}: {"; ".join(problems)}.\n')
    assert_equal(model_state(eager), {k: weights[k] if k in fitting else fresh[k] for k in fresh})


def test_map_restores_under_another_model_name(eager, weights):
    ok(eager, "model = build('other', compile=False)")
    assert names(eager) == [name.replace('sequential', 'other') for name in WEIGHTS]
    message = error(eager, 'restoreckpt', 'w/model')
    assert '  sequential/d1/kernel: missing in graph\n' in message
    assert '  other/d1/kernel: missing in checkpoint\n' in message
    ok(eager, '%restoreckpt w/model --map sequential=other')
    assert_equal(model_state(eager),
                 {k.replace('sequential', 'other'): v for k, v in weights.items()})


# -- 5. %inspectckpt against the live variables ----------------------------------------


def test_inspect_compares_the_checkpoint_with_the_live_variables(eager):
    ok(eager, 'model = build()\nnumbered(model)')
    ok(eager, '%saveckpt')
    saved = model_state(eager)
    # A different model, uncompiled, and a counter of the wrong dtype.
    ok(eager, "model = build(units=(3, 2, 1), compile=False)\n"
              "counter = tf.Variable(0.0, name='adam/iteration')")
    frame = eager.run_line_magic('inspectckpt', 'checkpoints/model')
    assert list(frame.columns) == ['name', 'shape', 'dtype', 'status']
    assert frame.to_dict('records') == [
        {'name': 'adam/iteration', 'shape': (), 'dtype': 'int64', 'status': 'dtype mismatch'},
        {'name': 'adam/learning_rate', 'shape': (), 'dtype': 'float32',
         'status': 'missing in graph'},
        {'name': 'loss/count', 'shape': (), 'dtype': 'float32', 'status': 'missing in graph'},
        {'name': 'loss/total', 'shape': (), 'dtype': 'float32', 'status': 'missing in graph'},
        {'name': 'sequential/d1/bias', 'shape': (3,), 'dtype': 'float32', 'status': 'match'},
        {'name': 'sequential/d1/kernel', 'shape': (4, 3), 'dtype': 'float32', 'status': 'match'},
        {'name': 'sequential/d2/bias', 'shape': (1,), 'dtype': 'float32',
         'status': 'shape mismatch'},
        {'name': 'sequential/d2/kernel', 'shape': (3, 1), 'dtype': 'float32',
         'status': 'shape mismatch'},
        {'name': 'sequential/d3/bias', 'shape': (1,), 'dtype': 'float32',
         'status': 'missing in checkpoint'},
        {'name': 'sequential/d3/kernel', 'shape': (2, 1), 'dtype': 'float32',
         'status': 'missing in checkpoint'}]
    stats = eager.run_line_magic('inspectckpt', 'checkpoints --stats').set_index('name')
    kernel = saved['sequential/d1/kernel']
    row = stats.loc['sequential/d1/kernel']
    assert (row['size'], row['min'], row['max'], row['mean']) == (
        kernel.size, kernel.min(), kernel.max(), kernel.mean())
    assert stats.loc['sequential/d3/kernel', ['size', 'min']].isna().all()


# -- 6. two live variables under one name --------------------------------------------


def test_two_keras_models_with_the_same_names_are_refused_until_one_goes(eager, tmp_path):
    ok(eager, 'first = build(compile=False)\nsecond = build(compile=False)\nnumbered(second)')
    assert names(eager) == sorted(WEIGHTS * 2)
    message = error(eager, 'saveckpt')
    assert len(message.splitlines()) == 1
    assert message.startswith('cannot save two variables under one name: ')
    for name in WEIGHTS:
        assert name in message
    assert files(tmp_path) == {}
    ok(eager, 'del first')
    assert names(eager) == WEIGHTS
    ok(eager, '%saveckpt')
    reader = tf.train.load_checkpoint('checkpoints/model')
    assert_equal({k: reader.get_tensor(k) for k in WEIGHTS}, py(eager, 'state(second)'))


def test_two_tf_variables_named_alike_are_refused_and_the_others_can_be_saved(eager, tmp_path):
    ok(eager, "a = tf.Variable(1.0, name='v')\n"
              "b = tf.Variable([1.0, 2.0], name='v')\n"
              "c = tf.Variable(3, name='w')")
    assert names(eager) == ['v', 'v', 'w']
    message = error(eager, 'saveckpt')
    assert message.startswith('cannot save two variables under one name: v ')
    assert message.endswith('save the others with --vars')
    assert files(tmp_path) == {}
    eager.run_line_magic('saveckpt', 'only_w --vars w')
    assert tf.train.list_variables('only_w') == [('w', [])]
    ok(eager, 'b = None')  # rebinding the name drops the variable too
    ok(eager, '%saveckpt')
    reader = tf.train.load_checkpoint('checkpoints/model')
    assert (reader.get_tensor('v'), reader.get_tensor('w')) == (1.0, 3)


def test_restore_while_an_old_model_of_the_same_names_lives_is_refused(eager, weights):
    # The user built a fresh model but kept the old one: each name is two
    # live variables. Which should take a key's value? The restore refuses,
    # naming them, and changes nothing; %inspectckpt shows each key once.
    ok(eager, 'old = model\n'
              'old.set_weights([w * 0 for w in old.get_weights()])\n'
              'model = build(compile=False)')
    assert names(eager) == sorted(WEIGHTS * 2)
    frame = eager.run_line_magic('inspectckpt', 'w/model')
    assert frame['name'].tolist() == WEIGHTS
    assert frame['status'].tolist() == ['match'] * 4
    before = model_state(eager)
    with pytest.raises(CheckpointError, match='^cannot restore into two variables of one name: '
                       'sequential/d1/kernel, '):
        eager.run_line_magic('restoreckpt', 'w/model')
    assert_equal(model_state(eager), before)
    assert not any(w.any() for w in py(eager, 'old.get_weights()'))
    ok(eager, 'del old')
    ok(eager, '%restoreckpt w/model')
    assert_equal(model_state(eager), weights)


# -- 7. bad input: one line, nothing changed ----------------------------------------


@pytest.fixture
def saved_then_changed(eager):
    """``model`` trained and saved to checkpoints/model, then set to 0;
    returns the zero state."""
    train(eager)
    eager.run_line_magic('saveckpt', '')
    for variable in py(eager, 'model.variables + model.optimizer.variables'):
        variable.assign(np.zeros(variable.shape, variable.dtype))
    return model_state(eager)


def test_a_bad_prefix_or_argument_is_one_line_and_changes_nothing(
        eager, saved_then_changed, tmp_path):
    before = files(tmp_path)
    for magic, line, message in [
            ('restoreckpt', 'missing/model', "no checkpoint at 'missing/model'"),
            ('restoreckpt', 'checkpoints/other', "no checkpoint at 'checkpoints/other'"),
            ('inspectckpt', 'missing', "no checkpoint at 'missing'"),
            ('restoreckpt', '--map sequential', '--map takes OLD=NEW'),
            ('saveckpt', "--vars 'nomatch*'", "nothing to save: no variable matches 'nomatch*'")]:
        with pytest.raises((UsageError, CheckpointError), match='^[^\n]*$') as info:
            eager.run_line_magic(magic, line)
        assert message in str(info.value)
        assert files(tmp_path) == before
        assert_equal(model_state(eager), saved_then_changed)


def test_a_truncated_data_file_is_one_line_and_changes_nothing(
        eager, saved_then_changed, tmp_path):
    data = tmp_path / 'checkpoints' / 'model.data-00000-of-00001'
    content = data.read_bytes()
    for length in (0, len(content) // 2, len(content) - 1):
        data.write_bytes(content[:length])
        before = files(tmp_path)
        with pytest.raises(CheckpointError, match='^[^\n]*$') as info:
            eager.run_line_magic('restoreckpt', '')
        assert str(info.value).startswith('checkpoint data is damaged or truncated: ')
        assert 'model.data-00000-of-00001' in str(info.value)
        assert files(tmp_path) == before
        assert_equal(model_state(eager), saved_then_changed)
    data.write_bytes(content)
    ok(eager, '%restoreckpt')
    assert not np.array_equal(model_state(eager)['sequential/d1/kernel'],
                              saved_then_changed['sequential/d1/kernel'])
