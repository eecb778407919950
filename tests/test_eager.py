"""Eager mode (%tfmode eager, TFMagic.mode): switching, plain TF2 and Keras 3
in cells, what is tracked and how (tf.Variable, Keras models, optimizers and
metrics, tf.Module), variables held weakly, two live variables with one name,
and the magics that adapt (%vars, %%tfscope, the panel) or refuse (%tfgraph,
%tfconnect to a cluster, --reuse).

Every test leaves the shell in graph mode, as the other test modules expect.
Queries that need no cell of their own (%vars, refusals) are made with
``run_line_magic``: each eager cell ends with a full garbage collection.
"""

from __future__ import annotations

import math
import statistics
import time

import numpy as np
import pytest
import tensorflow as tf
from IPython.core.error import UsageError

import tfmagic
from tests.shell import ok, run
from tests.test_vars import BAD_ARGUMENTS
from tfmagic import CheckpointError, WorkspaceError
from tfmagic.tables import STATS_COLUMNS, VARIABLE_COLUMNS

EAGER_SWITCH = ('tfmagic: eager mode: cells run as plain TF2 (eager), variables still '
                'tracked; {} dropped.\n')
SAME_NAMES = 'tfmagic: two or more live variables are named {}: eager TensorFlow does not'

#: Small data for the Keras models: y = sum of x's columns.
DATA = """
x = np.random.default_rng(0).normal(size=(16, 3)).astype('float32')
y = x.sum(axis=1, keepdims=True)
"""

#: A Keras 3 Sequential model named 'net' (Keras numbers unnamed models and
#: optimizers across the process: sequential, sequential_1, ...).
SEQUENTIAL = """
model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name='d1'),
                          keras.layers.Dense(1, name='d2')], name='net')
"""

#: Compiled with Adam and trained two epochs; the History is assigned, so the
#: cell's Out does not keep the model alive.
FIT = """
model.compile(optimizer=keras.optimizers.Adam(0.01, name='adam'), loss='mse')
history = model.fit(x, y, epochs=2, batch_size=8, verbose=0)
"""

NET = ['net/d1/bias', 'net/d1/kernel', 'net/d2/bias', 'net/d2/kernel']
ADAM_SLOTS = {f'adam/net_{layer}_{kind}_{slot}': f'net/{layer}/{kind}'
              for layer in ('d1', 'd2') for kind in ('kernel', 'bias')
              for slot in ('momentum', 'velocity')}
ADAM_STATE = ['adam/iteration', 'adam/learning_rate']
LOSS = ['loss/count', 'loss/total']

#: A Keras layer with an SGD optimizer's slots (built, no training), a
#: tf.Variable, and a non-trainable one in a name scope.
SMALL = """
dense = keras.layers.Dense(2, name='dense')
dense.build((None, 3))
sgd = keras.optimizers.SGD(0.1, momentum=0.9, name='sgd')
sgd.build(dense.trainable_variables)
w = tf.Variable([[1.0, -2.0], [3.0, 4.5]], name='w')
with tf.name_scope('stats'):
    count = tf.Variable([1, 2, 3, 10], name='count', trainable=False)
"""
SMALL_NAMES = ['dense/bias', 'dense/kernel', 'sgd/dense_bias_momentum',
               'sgd/dense_kernel_momentum', 'sgd/iteration', 'sgd/learning_rate',
               'stats/count', 'w']


@pytest.fixture(autouse=True)
def back_in_graph_mode(ip):
    """After each test: graph mode, with the TFMagic.mode trait, the shell's
    config and the workspace agreeing (as the other modules expect)."""
    yield
    magics = tfmagic._magics
    ip.config.TFMagic.pop('mode', None)
    if magics.workspace.eager or magics.mode != 'graph':
        ok(ip, '%tfmode graph')
    if magics.workspace.eager:  # %tfmode graph did not switch (see the tests below)
        magics.workspace.set_mode('graph')
    magics.mode = 'graph'
    assert not tfmagic.workspace().eager


@pytest.fixture
def eager(ip, tmp_path, monkeypatch):
    """The shell in eager mode, in a temporary working directory, with
    Keras, NumPy and weakref imported in it."""
    monkeypatch.chdir(tmp_path)
    ok(ip, '%tfmode eager\nimport weakref\nimport keras\nimport numpy as np')
    return ip


def vars_(shell, line: str = ''):
    """``%vars LINE``, without a cell of its own."""
    return shell.run_line_magic('vars', line)


def names(frame) -> list[str]:
    return frame['name'].tolist()


def last_cell(shell) -> int:
    """The number of the cell that ran last."""
    return shell.execution_count - 1


def said(shell, capsys, code: str) -> str:
    """Run ``code`` as a cell that must succeed; what it printed."""
    capsys.readouterr()
    ok(shell, code)
    return capsys.readouterr().out


def one_line(error: BaseException) -> str:
    message = str(error)
    assert message and '\n' not in message, message
    return message


def refused(shell, code: str, error: type[BaseException] = UsageError) -> str:
    """Run ``code`` as a cell that must fail with ``error``; its one-line message."""
    result = run(shell, code)
    assert isinstance(result.error_in_exec, error), repr(result.error_in_exec)
    return one_line(result.error_in_exec)


def refused_line(shell, magic: str, line: str) -> str:
    """``%magic line`` must raise a one-line UsageError; its message."""
    with pytest.raises(UsageError) as info:
        shell.run_line_magic(magic, line)
    return one_line(info.value)


# -- switching -------------------------------------------------------------------------


def test_tfmode_shows_and_switches_in_one_line_starting_clean(ip, ws, capsys):
    ok(ip, "g = tf.compat.v1.get_variable('g', [2])\nh = tf.compat.v1.Variable(1.0, name='h')")
    old_graph = ws.graph
    assert said(ip, capsys, '%tfmode') == 'tfmagic: graph mode.\n'
    assert (ws.mode, ws.eager) == ('graph', False)

    assert said(ip, capsys, '%tfmode eager') == EAGER_SWITCH.format('2 variables')
    assert tfmagic.workspace() is ws and (ws.mode, ws.eager) == ('eager', True)
    assert tfmagic._magics.mode == 'eager'
    assert vars_(ip).empty and tfmagic.variables().empty
    assert said(ip, capsys, "%tfmode\ne = tf.Variable(3.0, name='e')\n"
                            'inside = tf.executing_eagerly()') == 'tfmagic: eager mode.\n'
    assert ip.user_ns['inside'] is True
    assert said(ip, capsys, '%tfmode eager') == 'tfmagic: already in eager mode.\n'
    assert names(vars_(ip)) == ['e']

    out = said(ip, capsys, '%tfmode graph')
    assert out.startswith('tfmagic: graph mode')
    assert out.endswith('; 1 variable no longer tracked.\n')
    assert out.count('\n') == 1
    assert (ws.mode, ws.eager, tfmagic._magics.mode) == ('graph', False, 'graph')
    assert ws.graph is not old_graph  # a new managed graph
    ok(ip, "g = tf.compat.v1.get_variable('g', [2])\nshape = g.eval().shape\n"
           'inside = tf.executing_eagerly()')
    assert (ip.user_ns['shape'], ip.user_ns['inside']) == ((2,), False)
    assert names(vars_(ip)) == ['g']
    assert said(ip, capsys, '%tfmode graph') == 'tfmagic: already in graph mode.\n'


def test_config_mode_switches_as_tfmode_does(ip, ws, capsys):
    ok(ip, "h = tf.compat.v1.Variable(1.0, name='h')")
    assert said(ip, capsys, "%config TFMagic.mode = 'eager'") == EAGER_SWITCH.format(
        '1 variable')
    assert ws.eager and tfmagic._magics.mode == 'eager'
    ip.run_line_magic('config', "TFMagic.mode = 'eager'")
    assert capsys.readouterr().out == ''  # no change: nothing said
    ip.run_line_magic('tfmode', '')
    assert capsys.readouterr().out == 'tfmagic: eager mode.\n'
    assert said(ip, capsys, "%config TFMagic.mode = 'graph'").startswith('tfmagic: graph mode')
    assert not ws.eager


@pytest.mark.parametrize('line, message', [
    ('bogus', "invalid choice: 'bogus'"),
    ('Eager', "invalid choice: 'Eager'"),
    ('eager graph', 'unrecognized arguments: graph'),
    ('--bogus', 'unrecognized arguments: --bogus'),
    ("'unclosed", 'No closing quotation'),
])
def test_a_bad_mode_is_a_usage_error_and_changes_nothing(ip, ws, line, message):
    ok(ip, "g = tf.compat.v1.get_variable('g', [2])")
    graph = ws.graph
    assert message in refused_line(ip, 'tfmode', line)
    assert (ws.mode, tfmagic._magics.mode, ws.graph) == ('graph', 'graph', graph)
    assert names(vars_(ip)) == ['g']


def test_a_bad_config_mode_changes_nothing(ip, ws):
    ok(ip, "g = tf.compat.v1.get_variable('g', [2])")
    graph = ws.graph
    result = run(ip, "%config TFMagic.mode = 'bogus'")  # traitlets' TraitError, reported
    assert result.error_in_exec is None or 'bogus' in str(result.error_in_exec)
    assert (ws.mode, tfmagic._magics.mode, ws.graph) == ('graph', 'graph', graph)
    assert names(vars_(ip)) == ['g']


def test_switching_inside_a_tfscope_cell_is_refused(ip, ws):
    ok(ip, "g = tf.compat.v1.get_variable('g', [2])")
    graph = ws.graph
    message = refused(ip, '%%tfscope s\n%tfmode eager')
    assert message.startswith('%tfmode: ') and 'top level of a cell' in message
    assert (ws.mode, tfmagic._magics.mode, ws.graph) == ('graph', 'graph', graph)
    assert names(vars_(ip)) == ['g']
    ok(ip, "%tfmode eager\ne = tf.Variable(1.0, name='e')")
    refused(ip, '%%tfscope s\n%tfmode graph')
    assert (ws.mode, tfmagic._magics.mode) == ('eager', 'eager')
    assert names(vars_(ip)) == ['e']


def test_the_rest_of_a_switching_cell_runs_in_the_new_mode(ip):
    ok(ip, "%tfmode eager\nv = tf.Variable([1.0, 2.0], name='v')\nvalue = v.numpy()")
    assert ip.user_ns['value'].tolist() == [1.0, 2.0]
    frame = vars_(ip)
    assert names(frame) == ['v'] and frame['created_in'].tolist() == [last_cell(ip)]
    ok(ip, "%tfmode graph\ng = tf.compat.v1.get_variable('g', [1])\nvalue = g.eval()")
    assert ip.user_ns['value'].shape == (1,)
    assert names(vars_(ip)) == ['g']


def test_no_session_in_eager_mode_and_tfreset_stays_eager(eager, ws):
    with pytest.raises(WorkspaceError, match='eager mode has no session'):
        ws.session  # noqa: B018
    ok(eager, "a = tf.Variable(1.0, name='a')\nsession = tf.compat.v1.get_default_session()")
    assert eager.user_ns['session'] is None
    ok(eager, '%tfreset')
    assert ws.eager and vars_(eager).empty
    ok(eager, "b = tf.Variable(2.0, name='b')")
    assert names(vars_(eager)) == ['b']


def test_tfmode_graph_switches_back_after_set_mode_from_python(ip, ws, capsys):
    """Bug: Workspace.set_mode('eager') leaves the TFMagic.mode trait at
    'graph', so ``%tfmode graph`` (and ``%config TFMagic.mode = 'graph'``)
    change nothing and say nothing."""
    ws.set_mode('eager')
    ip.run_line_magic('tfmode', '')
    assert capsys.readouterr().out == 'tfmagic: eager mode.\n'
    ip.run_line_magic('tfmode', 'graph')
    out = capsys.readouterr().out
    assert not ws.eager, 'still in eager mode after %tfmode graph'
    assert out.startswith('tfmagic: graph mode')


def test_an_eager_cell_is_not_slowed_down_by_tracking(eager):
    """Bug: every eager cell ends with a full gc.collect() (tracking.py,
    VariableTracker._forget_dropped), even one that made or dropped
    nothing: with TensorFlow and Keras loaded that is about half a second
    per cell (a graph-mode cell takes a millisecond)."""
    ok(eager, 'pass')
    times = []
    for _ in range(3):
        start = time.perf_counter()
        ok(eager, 'pass')
        times.append(time.perf_counter() - start)
    assert statistics.median(times) < 0.05, times


# -- plain TF2 and Keras 3 work --------------------------------------------------------


def test_plain_tf2_code_runs_in_cells(eager):
    ok(eager, """
v = tf.Variable([1.0, 2.0, 3.0], name='v')
as_numpy = v.numpy()
batches = [b.numpy().tolist() for b in tf.data.Dataset.range(5).batch(2)]
@tf.function
def scaled(t, k):
    return t * k
traced = scaled(v, 2.0).numpy()
with tf.GradientTape() as tape:
    loss = tf.reduce_sum(v * v)
grad = tape.gradient(loss, v).numpy()
v.assign_add([1.0, 1.0, 1.0])
inside = tf.executing_eagerly()
""")
    ns = eager.user_ns
    assert ns['inside'] is True
    assert ns['as_numpy'].tolist() == [1.0, 2.0, 3.0]
    assert ns['batches'] == [[0, 1], [2, 3], [4]]
    assert ns['traced'].tolist() == [2.0, 4.0, 6.0]
    assert ns['grad'].tolist() == [2.0, 4.0, 6.0]
    assert ns['v'].numpy().tolist() == [2.0, 3.0, 4.0]
    assert names(vars_(eager)) == ['v']


def test_a_keras_model_fits_predicts_is_tracked_and_freed_when_dropped(eager):
    ok(eager, DATA + SEQUENTIAL)
    built = last_cell(eager)
    frame = vars_(eager)
    assert names(frame) == NET
    assert set(frame['created_by']) == {'keras'} and frame['trainable'].all()
    assert frame['created_in'].tolist() == [built] * 4

    ok(eager, FIT + 'predicted = model.predict(x[:4], verbose=0)')
    fitted = last_cell(eager)
    ns = eager.user_ns
    losses = ns['history'].history['loss']
    assert len(losses) == 2 and all(map(math.isfinite, losses))
    w1, b1, w2, b2 = ns['model'].get_weights()
    assert [w.shape for w in (w1, b1, w2, b2)] == [(3, 2), (2,), (2, 1), (1,)]
    np.testing.assert_allclose(ns['predicted'], (ns['x'][:4] @ w1 + b1) @ w2 + b2,
                               rtol=1e-5, atol=1e-6)

    frame = vars_(eager)
    assert names(frame) == sorted([*ADAM_STATE, *ADAM_SLOTS, *LOSS, *NET])
    rows = frame.set_index('name')
    assert set(frame['created_by']) == {'keras'}
    assert set(frame['reuse_status']) == {'not reusable'}
    assert frame['reuses'].eq(0).all() and frame['reused_in'].map(len).eq(0).all()
    assert frame['initialized'].all() and frame['partitions'].eq(1).all()
    assert {name: rows.loc[name, 'slot_of'] for name in ADAM_SLOTS} == ADAM_SLOTS
    assert rows.loc[[*ADAM_STATE, *LOSS, *NET], 'slot_of'].eq('').all()
    assert (rows.loc['adam/iteration', 'dtype'], rows.loc['adam/iteration', 'shape']) == (
        'int64', ())
    assert rows.loc['adam/net_d1_kernel_momentum', 'shape'] == (3, 2)
    assert rows.loc['net/d1/kernel', 'scope'] == 'net/d1'
    assert rows.loc[NET, 'trainable'].all()
    assert not rows.loc[[*ADAM_SLOTS, *ADAM_STATE, *LOSS], 'trainable'].any()
    assert rows.loc[NET, 'created_in'].tolist() == [built] * 4
    assert rows.loc[[*ADAM_SLOTS, *ADAM_STATE, *LOSS], 'created_in'].eq(fitted).all()
    # the names are Keras's paths
    model = ns['model']
    assert sorted(v.path for v in model.variables + model.optimizer.variables) == sorted(
        [*ADAM_STATE, *ADAM_SLOTS, *NET])
    del model
    stats = vars_(eager, "'net/d1/kernel' --stats").iloc[0]
    assert math.isclose(stats['mean'], float(w1.mean()), rel_tol=1e-6)

    ok(eager, """
kernel = weakref.ref(model.layers[0].kernel.value)  # the tf.Variable itself
slot = weakref.ref(model.optimizer.variables[-1].value)
whole = weakref.ref(model)
del model, history
""")
    assert vars_(eager).empty
    assert (ns['kernel'](), ns['slot'](), ns['whole']()) == (None, None, None)


# -- what is tracked ------------------------------------------------------------------


def test_a_tf_variable_has_every_column(eager):
    ok(eager, "v = tf.Variable([[1.0, 2.0], [3.0, 4.0]], name='v')\n"
              "n = tf.Variable(7, trainable=False)")
    cell = last_cell(eager)
    assert eager.run_cell("quiet = tf.Variable(1.0, name='quiet')",
                          store_history=False).success  # in no numbered cell
    frame = vars_(eager)
    assert list(frame.columns) == list(VARIABLE_COLUMNS)
    assert names(frame) == ['Variable', 'quiet', 'v']  # no ':0'; an unnamed one is 'Variable'
    rows = frame.set_index('name')
    assert rows.loc['v'].to_dict() == {
        'scope': '', 'shape': (2, 2), 'dtype': 'float32', 'trainable': True,
        'created_by': 'tf.Variable', 'created_in': cell, 'reuses': 0, 'reused_in': [],
        'reuse_status': 'not reusable', 'initialized': True, 'partitions': 1, 'slot_of': '',
        'device': eager.user_ns['v'].device}
    assert (rows.loc['Variable', 'dtype'], rows.loc['Variable', 'trainable']) == ('int32', False)
    assert str(frame['created_in'].dtype) == 'Int64'
    assert rows['created_in'].isna().tolist() == [False, True, False]


def test_a_keras_functional_model_its_slots_a_metric_and_a_keras_variable(eager):
    ok(eager, """
inp = keras.Input((3,), name='x')
hidden = keras.layers.Dense(4, name='hidden')(inp)
fm = keras.Model(inp, keras.layers.Dense(1, name='out')(hidden), name='func')
opt = keras.optimizers.SGD(0.1, momentum=0.9, name='sgd')
opt.build(fm.trainable_variables)
avg = keras.metrics.Mean(name='avg')
avg.update_state([1.0, 3.0])
kv = keras.Variable(2.0, name='kv')
""")
    rows = vars_(eager).set_index('name')
    model = ['hidden/bias', 'hidden/kernel', 'out/bias', 'out/kernel']
    slots = {f'sgd/{n.replace("/", "_")}_momentum': n for n in model}
    assert sorted(rows.index) == sorted([*model, *slots, 'sgd/iteration', 'sgd/learning_rate',
                                         'avg/count', 'avg/total', 'kv'])
    assert set(rows['created_by']) == {'keras'}
    assert {name: rows.loc[name, 'slot_of'] for name in slots} == slots
    assert rows.loc[['sgd/iteration', 'avg/total', 'kv', *model], 'slot_of'].eq('').all()
    assert rows.loc['avg/total', 'scope'] == 'avg' and not rows.loc['avg/total', 'trainable']
    assert float(eager.user_ns['avg'].result()) == 2.0
    assert rows.loc['kv', 'trainable'] and rows.loc['kv', 'shape'] == ()


def test_a_tf_module_with_a_name_scope_and_a_lazy_tf_function_variable(eager):
    ok(eager, """
class Linear(tf.Module):
    def __init__(self):
        super().__init__(name='lin')
        with self.name_scope:
            self.w = tf.Variable(tf.ones([2, 2]), name='w')
            self.b = tf.Variable(tf.zeros([2]), name='b', trainable=False)
    @tf.function
    def __call__(self, x):
        return x @ self.w + self.b
class Lazy(tf.Module):
    @tf.function
    def __call__(self, x):
        if not hasattr(self, 'v'):
            self.v = tf.Variable(3.0, name='lazy')
        return x * self.v
lin = Linear()
out = lin(tf.ones([1, 2])).numpy()
lazy = Lazy()
""")
    made = last_cell(eager)
    ok(eager, 'tripled = lazy(tf.constant(2.0)).numpy()')  # the variable is made in here
    assert eager.user_ns['out'].tolist() == [[2.0, 2.0]] and eager.user_ns['tripled'] == 6.0
    frame = vars_(eager)
    assert names(frame) == ['lazy', 'lin/b', 'lin/w']
    rows = frame.set_index('name')
    assert set(frame['created_by']) == {'tf.Variable'}
    assert rows.loc['lin/w', 'created_in'] == made and rows.loc['lin/w', 'scope'] == 'lin'
    assert rows.loc['lazy', 'created_in'] == made + 1
    assert not rows.loc['lin/b', 'trainable']
    assert sorted(v.name for v in eager.user_ns['lin'].variables) == ['lin/b:0', 'lin/w:0']


def test_a_keras_model_in_a_tfscope_is_named_by_its_keras_paths_with_its_slots(eager):
    """A tf.name_scope does not change Keras paths: %%tfscope S prefixes a
    tf.Variable's name, not a Keras model's, whose slots name it."""
    ok(eager, "%%tfscope S\nmodel = keras.Sequential([keras.Input((3,)), "
              "keras.layers.Dense(2, name='d1')], name='seq')\n"
              "u = tf.Variable(1.0, name='u')")
    ok(eager, "opt = keras.optimizers.SGD(0.1, momentum=0.9, name='sgd')\n"
              'opt.build(model.trainable_variables)')
    rows = vars_(eager).set_index('name')
    assert sorted(rows.index) == ['S/u', 'seq/d1/bias', 'seq/d1/kernel', 'sgd/iteration',
                                  'sgd/learning_rate', 'sgd/seq_d1_bias_momentum',
                                  'sgd/seq_d1_kernel_momentum']
    assert rows.loc['sgd/seq_d1_kernel_momentum', 'slot_of'] == 'seq/d1/kernel'
    assert rows.loc['sgd/seq_d1_bias_momentum', 'slot_of'] == 'seq/d1/bias'
    assert rows.loc['seq/d1/kernel', 'created_by'] == 'keras'


# -- held weakly ---------------------------------------------------------------------


def test_records_stats_and_the_panel_keep_no_dropped_variable_alive(eager):
    panel = tfmagic._magics.open_panel()
    try:
        ok(eager, "big = tf.Variable(tf.ones([512, 512]), name='big')\nref = weakref.ref(big)\n"
                  "v = tf.Variable(tf.zeros([256, 256]), name='old')\nold = weakref.ref(v)")
        assert vars_(eager, '--stats').set_index('name').loc['big', 'size'] == 512 * 512
        vars_(eager, "'big' --shards")
        panel.select('big')
        assert '<th>min</th>' in panel.details.value
        assert panel.summary.value.startswith('2 variables')
        ok(eager, "del big\nv = tf.Variable(1.0, name='new')")  # dropped, and rebound
        assert eager.user_ns['ref']() is None and eager.user_ns['old']() is None
        assert names(vars_(eager)) == ['new']
        assert panel.summary.value.startswith('1 variable')
    finally:
        panel.close()


def test_a_failed_save_keeps_no_dropped_variable_alive(eager):
    """Bug: a %saveckpt refused because the prefix holds another checkpoint
    raises from Checkpointer._check_overwrite, after save() holds the
    variables (checkpoints/checkpointer.py, save: ``chosen``,
    ``variables``); the traceback IPython keeps (sys.last_traceback) keeps
    a variable the user then drops alive, and listed in %vars, until a
    later error replaces it."""
    ok(eager, "a = tf.Variable(1.0, name='a')\n%saveckpt ckpt/p")
    ok(eager, "b = tf.Variable(tf.zeros([256, 256]), name='b')\nref = weakref.ref(b)")
    assert 'already holds a different checkpoint' in refused(eager, '%saveckpt ckpt/p',
                                                             CheckpointError)
    ok(eager, 'del b')
    assert names(vars_(eager)) == ['a']
    assert eager.user_ns['ref']() is None


def test_a_failed_restore_keeps_no_dropped_variable_alive(eager):
    """Bug: as a failed save, a %restoreckpt that does not fit keeps the
    variables it compared alive in the traceback IPython keeps."""
    ok(eager, "a = tf.Variable(1.0, name='a')\n%saveckpt ckpt/p")
    ok(eager, "c = tf.Variable(tf.zeros([256, 256]), name='c')\nref = weakref.ref(c)")
    result = run(eager, '%restoreckpt ckpt/p')
    assert isinstance(result.error_in_exec, CheckpointError)
    assert 'c: missing in checkpoint' in str(result.error_in_exec)
    ok(eager, 'del c')
    assert names(vars_(eager)) == ['a']
    assert eager.user_ns['ref']() is None


# -- two live variables with one name -----------------------------------------------------


def test_two_live_variables_with_one_name_are_listed_flagged_and_not_saved(eager, capsys):
    assert said(eager, capsys, "first = tf.Variable(1.0, name='v')\n"
                               "other = tf.Variable(3.0, name='other')") == ''
    one = last_cell(eager)
    out = said(eager, capsys, "second = tf.Variable(2.0, name='v')")
    two = last_cell(eager)
    assert out.startswith(SAME_NAMES.format('v') + ' make names unique')
    assert '%saveckpt refuses' in out
    frame = vars_(eager)
    assert names(frame) == ['other', 'v', 'v']
    assert frame['created_in'].tolist()[1:] in ([one, two], [two, one])
    assert len(vars_(eager, '--stats')) == 3

    with pytest.raises(CheckpointError) as info:
        eager.run_line_magic('saveckpt', '')
    assert one_line(info.value).startswith('cannot save two variables under one name: v ')
    del info
    assert not tf.io.gfile.exists('checkpoints')
    eager.run_line_magic('saveckpt', "only/other --vars 'other'")  # the others can be saved
    assert tf.train.load_checkpoint('only/other').get_tensor('other') == 3.0

    ok(eager, 'del first')
    assert names(vars_(eager)) == ['other', 'v']
    eager.run_line_magic('saveckpt', '')
    reader = tf.train.load_checkpoint('checkpoints/model')
    assert sorted(reader.get_variable_to_shape_map()) == ['other', 'v']
    assert reader.get_tensor('v') == 2.0

    out = said(eager, capsys, "several = [tf.Variable(float(i), name='w') for i in range(3)]")
    assert out.count(SAME_NAMES.format('w')) == 1
    assert sorted(vars_(eager, "'w' --stats")['mean']) == [0.0, 1.0, 2.0]


# -- %%tfscope, %tfgraph, %tfconnect ------------------------------------------------


def test_tfscope_opens_a_name_scope(eager):
    value = ok(eager, "%%tfscope S\nu = tf.Variable(1.0, name='u')\nu.numpy()")
    assert value == 1.0  # the last expression is the cell's value
    ok(eager, "%%tfscope S/T --name-scope\nt = tf.Variable(2.0, name='t')\n"
              "scope_inside = tf.get_current_name_scope()")
    ok(eager, "%%tfscope lay\nlayer = keras.layers.Dense(1, name='dd')\n"
              'layer.build((None, 2))')
    assert eager.user_ns['scope_inside'] == 'S/T'
    frame = vars_(eager)
    assert names(frame) == ['S/T/t', 'S/u', 'dd/bias', 'dd/kernel']  # Keras: its own path
    rows = frame.set_index('name')
    assert rows.loc['S/T/t', 'scope'] == 'S/T'
    assert rows.loc['dd/kernel', 'created_by'] == 'keras'
    ok(eager, 'scope_after = tf.get_current_name_scope()')
    assert eager.user_ns['scope_after'] == ''  # left after the cell
    assert names(vars_(eager, '--scope S')) == ['S/T/t', 'S/u']


def test_tfscope_reuse_tfgraph_and_tfconnect_to_a_cluster_are_refused(eager, ws, tmp_path):
    ok(eager, "v = tf.Variable(1.0, name='v')")
    message = refused(eager, "%%tfscope S --reuse\nran = tf.Variable(1.0, name='ran')")
    assert message.startswith('--reuse ') and 'eager mode' in message
    for flags in ('--reuse true', '--reuse auto'):
        with pytest.raises(UsageError, match='^--reuse [^\n]*eager mode[^\n]*$'):
            eager.run_cell_magic('tfscope', f'S {flags}', "ran = tf.Variable(1.0, name='ran')")
    assert 'ran' not in eager.user_ns

    assert refused(eager, '%tfgraph').startswith('eager mode has no graph to draw')
    for line in ('S', '--depth 2 --ops', '--save g.svg'):
        assert refused_line(eager, 'tfgraph', line).startswith('eager mode has no graph')
    assert not (tmp_path / 'g.svg').exists()

    for line in ('grpc://127.0.0.1:1', '--local-cluster 1',
                 'grpc://127.0.0.1:1 --cluster \'{"ps": ["127.0.0.1:2"]}\''):
        assert '%tfmode graph' in refused_line(eager, 'tfconnect', line)
    assert ws.eager and ws.target == '' and tfmagic._magics.local_cluster is None
    assert names(vars_(eager)) == ['v']


# -- %vars -----------------------------------------------------------------------------


def test_vars_flags_and_bad_arguments(eager):
    ok(eager, SMALL)
    for line, expected in [
        ('', SMALL_NAMES),
        ("'dense/*'", ['dense/bias', 'dense/kernel']),
        ("'*momentum'", ['sgd/dense_bias_momentum', 'sgd/dense_kernel_momentum']),
        ('w', ['w']),
        ('--scope stats', ['stats/count']),
        ('--scope sgd/', ['sgd/dense_bias_momentum', 'sgd/dense_kernel_momentum',
                          'sgd/iteration', 'sgd/learning_rate']),
        ('--trainable', ['dense/bias', 'dense/kernel', 'w']),
        ("'*' --scope dense --trainable", ['dense/bias', 'dense/kernel']),
        ('--shards', SMALL_NAMES),
        ("'nothing*'", []),
    ]:
        frame = vars_(eager, line)
        assert names(frame) == expected, line
        assert list(frame.columns) == list(VARIABLE_COLUMNS), line
    rows = vars_(eager).set_index('name')
    assert rows.loc['sgd/dense_kernel_momentum', 'slot_of'] == 'dense/kernel'
    assert rows.loc['sgd/iteration', 'slot_of'] == ''
    assert rows.loc['w', 'created_by'] == 'tf.Variable'
    assert rows.loc['dense/kernel', 'created_by'] == 'keras'

    for line, message in BAD_ARGUMENTS:
        assert message in refused_line(eager, 'vars', line), line
    assert names(vars_(eager)) == SMALL_NAMES

    assert names(tfmagic.variables('dense/*')) == ['dense/bias', 'dense/kernel']
    assert names(tfmagic.variables(scope='stats', stats=True)) == ['stats/count']
    data, _ = eager.display_formatter.format(vars_(eager))
    assert '<table' in data['text/html'] and 'sgd/dense_kernel_momentum' in data['text/html']


def test_vars_stats_are_numpys(eager):
    ok(eager, SMALL)
    frame = vars_(eager, '--stats')
    assert list(frame.columns) == list(VARIABLE_COLUMNS) + list(STATS_COLUMNS)
    ns = eager.user_ns
    values = {v.path: v.numpy() for v in ns['dense'].weights + ns['sgd'].variables}
    values.update(w=ns['w'].numpy(), **{'stats/count': ns['count'].numpy()})
    assert sorted(values) == names(frame)
    for row in frame.itertuples():
        value = values[row.name]
        assert (row.size, row.nbytes) == (value.size, value.nbytes), row.name
        assert math.isclose(row.min, value.min()) and math.isclose(row.max, value.max())
        assert math.isclose(row.mean, value.mean(), rel_tol=1e-6, abs_tol=1e-12), row.name
        assert math.isclose(row.std, value.std(), rel_tol=1e-6, abs_tol=1e-12), row.name
    rows = frame.set_index('name')
    assert (rows.loc['w', 'min'], rows.loc['w', 'max'], rows.loc['w', 'mean']) == (
        -2.0, 4.5, 1.625)
    assert rows.loc['stats/count', 'nbytes'] == 16
    ns['w'].assign([[0.0, 0.0], [0.0, 8.0]])  # new values are read
    assert vars_(eager, "'w' --stats")['max'].tolist() == [8.0]
    assert list(vars_(eager, "'nothing*' --stats").columns) == (
        list(VARIABLE_COLUMNS) + list(STATS_COLUMNS))


# -- the panel -------------------------------------------------------------------------


def test_the_panel_lists_eager_variables_and_has_no_graph(eager):
    panel = tfmagic._magics.open_panel()
    try:
        assert panel.summary.value == '0 variables in 0 scopes'
        ok(eager, SMALL)
        cell = last_cell(eager)
        assert panel.summary.value.startswith('8 variables (4 optimizer state) in ')
        texts = panel.tree.texts()
        assert any(text.startswith('▸ dense/') for text in texts), texts
        assert any(text.startswith('▸ sgd/') for text in texts), texts
        panel.expand('dense')
        rows = {row['key']: row for row in panel.tree.rows}
        kernel = rows['var:dense/kernel']
        assert kernel['kind'] == 'variable'
        assert kernel['title'].startswith('dense/kernel  [3, 2]  float32  keras')
        assert f'cell {cell}' in kernel['title']
        slot = rows['var:sgd/dense_kernel_momentum']
        assert slot['kind'] == 'slot' and slot['mark'] == '◇'
        panel.select('dense/kernel')
        details = panel.details.value
        assert 'dense/kernel' in details and '<th>min</th>' in details
        panel.select('sgd/dense_kernel_momentum')
        assert '<th>slot_of</th><td>dense/kernel</td>' in panel.details.value
        panel.view.value = 'Graph'
        assert 'Eager mode has no graph to draw' in panel.details.value
        panel.view.value = 'Details'
        ok(eager, 'del dense, sgd')
        assert panel.summary.value.startswith('2 variables')
        ok(eager, '%tfmode graph')
        assert panel.summary.value == '0 variables in 0 scopes'
    finally:
        panel.close()


# -- what a review found ------------------------------------------------------------------


def test_a_model_rebuilt_in_a_cell_magic_leaves_no_copy(eager):
    """The name bound in a %%tfscope body counts as rebinding: the first
    model is collected, not listed beside the second."""
    build = '%%tfscope s\n' + DATA + SEQUENTIAL
    ok(eager, build)
    ok(eager, build)
    assert names(vars_(eager)) == NET  # Keras paths, which a name scope does not change
    assert tfmagic.tracker().same_names() == {}


def test_a_function_or_class_rebinding_a_name_drops_its_model(eager):
    ok(eager, DATA + SEQUENTIAL)
    ok(eager, 'def model():\n    pass')
    assert names(vars_(eager)) == []


def test_a_restore_that_fails_in_tensorflow_keeps_no_dropped_variable_alive(eager, tmp_path):
    ok(eager, "c = tf.Variable(tf.zeros([64]), name='c')\n%saveckpt ckpt/c")
    data = next((tmp_path / 'ckpt').glob('c.data-*'))
    data.write_bytes(data.read_bytes()[:10])
    ok(eager, 'ref = weakref.ref(c)')
    result = run(eager, '%restoreckpt ckpt/c')
    assert isinstance(result.error_in_exec, CheckpointError)
    ok(eager, 'del c')
    assert eager.user_ns['ref']() is None
    assert names(vars_(eager)) == []


def test_a_new_variable_with_a_freed_ones_id_is_not_mistaken_for_it(eager):
    ok(eager, "a = tf.Variable(1.0, name='a')")
    generation = tfmagic.tracker().generation
    # del and create in one cell: the new variable may take the freed one's id
    ok(eager, "del a\nb = tf.Variable(2.0, name='b')")
    assert names(vars_(eager)) == ['b']
    assert tfmagic.tracker().find('a') is None
    assert tfmagic.tracker().generation > generation
    panel = tfmagic._magics.open_panel()
    try:
        assert panel._summary_text().startswith('1 variable ')
    finally:
        panel.close()


def test_the_survivor_of_two_same_named_variables_keeps_its_details(eager):
    ok(eager, "v1 = tf.Variable(1.0, name='v')\nv2 = tf.Variable(2.0, name='v')")
    ok(eager, 'del v2')
    parts = tfmagic.tracker().parts('v')
    assert len(parts) == 1 and parts[0] is eager.user_ns['v1']
    assert tfmagic.tracker().find('v').created_in is not None


def test_leaving_eager_mode_says_the_variables_are_no_longer_tracked(eager, capsys):
    ok(eager, "t = tf.Variable(1.0, name='t')")
    out = said(eager, capsys, '%tfmode graph')
    assert out.endswith('; 1 variable no longer tracked.\n'), out
    assert float(eager.user_ns['t'].numpy()) == 1.0
