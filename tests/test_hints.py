"""Hints above the traceback of TensorFlow's classic errors, the error handler
that shows them, and the re-run duplicate note."""

from __future__ import annotations

import contextlib
import io
import re
import sys

import pytest
import tensorflow as tf
from IPython.core.error import UsageError

from tests.shell import ok, run
from tfmagic import hints
from tfmagic.workspace import raised_in_managed_session

GET_V = "v = tf.compat.v1.get_variable('v', [1])"


def _fails(ip, capsys, code):
    """Run a failing cell: its error and everything it printed."""
    capsys.readouterr()
    result = run(ip, code)
    assert not result.success
    captured = capsys.readouterr()
    return result.error_in_exec or result.error_before_exec, captured.out + captured.err


def _hint_first(out: str) -> list[str]:
    """The hint the output starts with, checked to be followed by a blank
    line and the traceback."""
    lines = out.splitlines()
    assert lines[0].startswith(hints.PREFIX), out[:500]
    end = lines.index('')
    assert any('Error' in line for line in lines[end:]), out[:500]
    return lines[:end]


def _hinted(ip, capsys, code) -> tuple[BaseException, str]:
    """Run a failing cell whose output must start with a hint: the error
    and the hint as one line."""
    error, out = _fails(ip, capsys, code)
    return error, ' '.join(line.strip() for line in _hint_first(out))


def _cell_numbers(text: str) -> str:
    return re.sub(r'In\[\d+\]|ipython-input-\d+-[0-9a-f]+', 'In[N]', text)


@contextlib.contextmanager
def _without_tfmagic(ip):
    ip.run_line_magic('unload_ext', 'tfmagic')
    try:
        yield
    finally:
        ip.run_line_magic('load_ext', 'tfmagic')


# -- get_variable: already exists, does not exist, another shape or dtype --------------

def test_already_exists_names_the_cell_and_the_fixes(ip, capsys):
    ok(ip, "%%tfscope layer\nw = tf.compat.v1.get_variable('w', [1])")
    cell = ip.execution_count - 1
    error, out = _fails(ip, capsys, "%%tfscope layer\nw = tf.compat.v1.get_variable('w', [1])")
    assert 'already exists, disallowed' in str(error)
    assert _hint_first(out) == [
        f'tfmagic: layer/w already exists: get_variable created it in cell [{cell}].',
        ('  To share it, run the cell with %%tfscope layer --reuse, or in code use '
         "variable_scope('layer', reuse=tf.compat.v1.AUTO_REUSE), "
         'which also creates what is missing.'),
        '  To start over with a fresh graph instead, run %tfreset.']
    assert out.count(hints.PREFIX) == 1


def test_already_exists_at_the_root_suggests_auto_reuse(ip, capsys):
    ok(ip, GET_V)
    _, hint = _hinted(ip, capsys, GET_V)
    fix = ('with tf.compat.v1.variable_scope(tf.compat.v1.get_variable_scope(), '
           'reuse=tf.compat.v1.AUTO_REUSE):')
    assert fix[len('with '):-1] in hint
    assert ok(ip, f"{fix}\n    again = tf.compat.v1.get_variable('v', [1])\nagain is v")


def test_a_partitioned_variable_that_exists_gets_the_same_advice(ip, capsys):
    cell = ("p = tf.compat.v1.get_variable('p', [10, 2], "
            'partitioner=tf.compat.v1.fixed_size_partitioner(2))')
    ok(ip, cell)
    created = ip.execution_count - 1
    error, hint = _hinted(ip, capsys, cell)
    assert str(error).startswith('Partitioned variable with name p already exists.')
    assert f'tfmagic: p already exists: get_variable created it in cell [{created}].' in hint
    assert hints.AUTO_REUSE in hint and '%tfreset' in hint


def test_get_variable_cannot_return_a_tf_variable(ip, capsys):
    ok(ip, "%%tfscope net\nk = tf.compat.v1.Variable(1.0, name='k')")
    cell = ip.execution_count - 1
    error, hint = _hinted(ip, capsys, "%%tfscope net --reuse\nk = tf.compat.v1.get_variable('k')")
    assert 'does not exist, or was not created with tf.get_variable()' in str(error)
    assert (f'tfmagic: net/k exists, but tf.Variable created it in cell [{cell}], '
            'so get_variable can never return it.') in hint
    assert "tf.compat.v1.get_variable('k', ...)" in hint


def test_missing_variable_suggests_similar_names(ip, capsys):
    ok(ip, "%%tfscope net\nkernel = tf.compat.v1.get_variable('kernel', [1])")
    _, hint = _hinted(ip, capsys, "%%tfscope net --reuse\nk = tf.compat.v1.get_variable('kernal')")
    assert 'tfmagic: No variable named net/kernal exists' in hint
    assert 'AUTO_REUSE' in hint
    assert 'Similar names in the graph: net/kernel.' in hint


def test_sharing_with_another_shape_names_both_shapes_and_the_cell(ip, capsys):
    ok(ip, "%%tfscope s\nv = tf.compat.v1.get_variable('v', [1])")
    cell = ip.execution_count - 1
    error, out = _fails(ip, capsys,
                        "%%tfscope s --reuse\nw = tf.compat.v1.get_variable('v', [2, 3])")
    assert str(error) == ('Trying to share variable s/v, '
                          'but specified shape (2, 3) and found shape (1,).')
    assert _hint_first(out) == [
        (f'tfmagic: s/v exists with shape (1,) (get_variable created it in cell [{cell}]), '
         'but this call asks for shape (2, 3).'),
        '  To share it, ask for shape (1,); for a different variable, give it a new name.',
        '  To start over with a fresh graph instead, run %tfreset.']
    assert ok(ip, "%%tfscope s --reuse\nw = tf.compat.v1.get_variable('v', [1])\nw is v")


def test_sharing_with_another_dtype_names_both_dtypes(ip, capsys):
    ok(ip, "%%tfscope s\nv = tf.compat.v1.get_variable('v', [1])")
    error, hint = _hinted(
        ip, capsys, "%%tfscope s --reuse\nw = tf.compat.v1.get_variable('v', [1], dtype=tf.int32)")
    assert 'but specified dtype int32 and found dtype float32' in str(error)
    assert 's/v exists with dtype float32' in hint
    assert 'asks for dtype int32' in hint and 'ask for dtype float32' in hint


def test_reusing_a_partitioned_variable_with_another_shape(ip, capsys):
    ok(ip, "p = tf.compat.v1.get_variable('p', [10, 2], "
           'partitioner=tf.compat.v1.fixed_size_partitioner(2))')
    error, hint = _hinted(
        ip, capsys, 'with tf.compat.v1.variable_scope(tf.compat.v1.get_variable_scope(), '
                    'reuse=True):\n'
                    "    tf.compat.v1.get_variable('p', [12, 2], "
                    'partitioner=tf.compat.v1.fixed_size_partitioner(2))')
    assert str(error).startswith('Trying to reuse partitioned variable p, but specified shape')
    assert 'p exists with shape (10, 2)' in hint and 'asks for shape (12, 2)' in hint


def test_get_variable_in_a_name_scope_cell_says_name_scopes_are_ignored(ip, capsys):
    cell = "%%tfscope blk --name-scope\nx = tf.compat.v1.get_variable('x', [1])"
    ok(ip, cell)
    created = ip.execution_count - 1
    assert ok(ip, 'x.op.name') == 'x'
    _, hint = _hinted(ip, capsys, cell)
    assert hint.startswith('tfmagic: x already exists '
                           f'(get_variable created it in cell [{created}]): '
                           'get_variable ignores name scopes')
    assert 'it names the variable x, not blk/x' in hint
    assert 'Run the cell with %%tfscope blk (a variable scope)' in hint
    assert ok(ip, "%%tfscope blk\nx = tf.compat.v1.get_variable('x', [1])\nx.op.name") == 'blk/x'


def test_an_already_exists_outside_a_name_scope_cell_says_nothing_of_name_scopes(ip, capsys):
    ok(ip, "%%tfscope blk\nx = tf.compat.v1.get_variable('x', [1])")
    _, hint = _hinted(ip, capsys, "%%tfscope blk\nx = tf.compat.v1.get_variable('x', [1])")
    assert 'name scope' not in hint and 'blk/x already exists' in hint


# -- uninitialized values: tfmagic's session or another one -------------------------------

def test_a_new_session_is_named_as_the_cause_of_uninitialized_values(ip, capsys):
    ok(ip, "v = tf.compat.v1.get_variable('v', initializer=1.0)")
    error, hint = _hinted(ip, capsys, 'with tf.compat.v1.Session() as sess:\n    sess.run(v)')
    assert isinstance(error, tf.errors.FailedPreconditionError)
    assert not raised_in_managed_session(error)
    assert hint.startswith("tfmagic: this cell ran v in a session other than tfmagic's")
    assert 'tf.compat.v1.get_default_session()' in hint
    assert ok(ip, 'tf.compat.v1.get_default_session().run(v)') == 1.0


def test_another_session_with_auto_init_off_is_still_another_session(ip, capsys):
    ok(ip, '%config TFMagic.auto_init = False')
    ok(ip, GET_V)
    _, hint = _hinted(ip, capsys, 'with tf.compat.v1.Session() as sess:\n    sess.run(v)')
    assert "a session other than tfmagic's" in hint
    assert 'auto_init' not in hint


@pytest.mark.parametrize('use', ['v.eval()', 'tf.compat.v1.get_default_session().run(v)'])
def test_with_auto_init_off_the_hint_says_how_to_initialize(ip, capsys, use):
    ok(ip, '%config TFMagic.auto_init = False')
    ok(ip, GET_V)
    error, hint = _hinted(ip, capsys, use)
    assert raised_in_managed_session(error)
    assert ('with %config TFMagic.auto_init = False, tfmagic does not initialize new variables'
            in hint)
    assert 'sess.run(tf.compat.v1.global_variables_initializer())' in hint
    assert 'v.initializer.run()' in hint
    assert '%config TFMagic.auto_init = True' in hint
    assert 'next cell' not in hint and 'other than' not in hint
    ok(ip, 'v.initializer.run()')
    ok(ip, use)


def test_a_failed_initializer_is_named_as_the_cause(ip, capsys):
    ok(ip, "bad = tf.compat.v1.get_variable('bad', initializer=tf.debugging.check_numerics("
           "tf.constant([float('nan')]), 'not a number'))")
    created = ip.execution_count - 1
    error, hint = _hinted(ip, capsys, 'bad.eval()')
    assert raised_in_managed_session(error)
    assert hint.startswith("tfmagic: bad has no value in tfmagic's session, and auto-init did "
                           'not give it one: its initializer failed (see the note under cell '
                           f'[{created}])')
    assert 'sess.run(bad.initializer)' in hint
    assert 'other than' not in hint


def test_a_value_lost_with_a_closed_session_is_explained(ip, capsys):
    ok(ip, f'{GET_V}\nwith tf.compat.v1.get_default_session() as sess:\n    sess.run(v)')
    error, hint = _hinted(ip, capsys, 'v.eval()')
    assert raised_in_managed_session(error)
    assert 'or the session was closed since (leaving `with ... as sess:` closes it)' in hint
    assert 'after a closed session, all of them: ' \
           'sess.run(tf.compat.v1.global_variables_initializer())' in hint
    ok(ip, 'tf.compat.v1.get_default_session().run(tf.compat.v1.global_variables_initializer())')
    ok(ip, 'v.eval()')


def test_an_initializer_that_reads_a_placeholder_says_what_to_feed(ip, capsys):
    ok(ip, "p = tf.compat.v1.placeholder(tf.float32, [1], name='p')\n"
           "w = tf.compat.v1.get_variable('w', initializer=p, validate_shape=False)")
    _, hint = _hinted(ip, capsys, 'w.eval()')
    assert 'its initial value reads p, which auto-init cannot feed' in hint
    assert 'sess.run(w.initializer, feed_dict={p: ...})' in hint
    ok(ip, 'tf.compat.v1.get_default_session().run(w.initializer, feed_dict={p: [2.0]})')
    assert ok(ip, 'w.eval()') == [2.0]


# -- Python names that outlived their graph -------------------------------------------------

STALE_USES = {
    'The Session graph is empty': 'tf.compat.v1.get_default_session().run(v)',
    'is not an element of this graph': ('w = tf.constant(1.0)\n'
                                        'tf.compat.v1.get_default_session().run(v)'),
    'must be from the same graph': "w = tf.constant([1.0])\nv + w",
    "graph is different from the session's graph": 'v.eval()',
}


@pytest.mark.parametrize('discard', ['%tfreset', '%reload_ext tfmagic'])
@pytest.mark.parametrize('message', sorted(STALE_USES))
def test_a_name_bound_before_a_reset_is_explained(ip, capsys, discard, message):
    ok(ip, GET_V)
    ok(ip, discard)
    error, hint = _hinted(ip, capsys, STALE_USES[message])
    assert message in str(error)
    assert hint.startswith("tfmagic: this cell uses a tensor or variable of another graph than "
                           "tfmagic's current one")
    assert '%tfreset or %reload_ext' in hint and 'Re-run the cells that build them' in hint
    ok(ip, GET_V)
    ok(ip, STALE_USES[message])


def test_a_session_closed_by_tfreset_is_explained(ip, capsys):
    ok(ip, f'{GET_V}\nsess = tf.compat.v1.get_default_session()')
    ok(ip, '%tfreset')
    ok(ip, GET_V)
    error, hint = _hinted(ip, capsys, 'sess.run(v)')
    assert str(error) == 'Attempted to use a closed Session.'
    assert 'this session is closed: %tfreset and %reload_ext close' in hint
    assert 'sess = tf.compat.v1.get_default_session()' in hint


# -- TF2 (eager) calls in a graph cell ---------------------------------------------------

@pytest.mark.parametrize('value', [
    'tf.constant(1.0)', "tf.compat.v1.get_variable('n', [1])",
    "tf.compat.v1.Variable(1.0, use_resource=False, name='r')"])
def test_numpy_in_a_graph_cell_says_to_evaluate_in_the_session(ip, capsys, value):
    _, hint = _hinted(ip, capsys, f'x = {value}\nx.numpy()')
    assert hint.startswith("tfmagic: cells run in tfmagic's graph (graph mode)")
    assert 'sess.run(x) or x.eval()' in hint
    assert hint.endswith('to run TF2 (eager) code, switch: %tfmode eager.')
    ok(ip, 'tf.compat.v1.get_default_session().run(x)')


@pytest.mark.parametrize('use', ['for item in ds:\n    pass', 'list(ds)',
                                 'list(ds.as_numpy_iterator())'])
def test_iterating_a_dataset_in_a_graph_cell_says_to_use_an_iterator(ip, capsys, use):
    _, hint = _hinted(ip, capsys, f'ds = tf.data.Dataset.range(3)\n{use}')
    assert 'a tf.data.Dataset cannot be iterated in Python' in hint
    assert 'tf.compat.v1.data.make_one_shot_iterator(ds).get_next()' in hint
    assert '%tfmode eager' in hint
    assert ok(ip, 'item = tf.compat.v1.data.make_one_shot_iterator(ds).get_next()\n'
                  '[item.eval() for _ in range(3)]') == [0, 1, 2]


@pytest.mark.parametrize('call', [
    "model.fit(x, y, verbose=0)", "model.predict(x, verbose=0)", "model.evaluate(x, y, verbose=0)",
    "model.fit(tf.data.Dataset.from_tensor_slices((x, y)).batch(2), shuffle=False, verbose=0)"])
def test_keras_training_in_a_graph_cell_says_to_call_the_model(ip, capsys, call):
    ok(ip, 'import keras\nimport numpy as np\n'
           'model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])\n'
           "model.compile('sgd', 'mse')\n"
           "x, y = np.ones((4, 3), 'float32'), np.zeros((4, 2), 'float32')")
    _, hint = _hinted(ip, capsys, call)
    assert hint.startswith("tfmagic: Keras's fit, evaluate and predict need eager execution")
    assert 'y = model(x), then sess.run(y)' in hint and '%tfmode eager' in hint
    assert ok(ip, 'tf.compat.v1.get_default_session().run(model(x)).shape') == (4, 2)


# -- where the hint goes ----------------------------------------------------------------

@pytest.mark.parametrize('mode', ['Plain', 'Context', 'Verbose', 'Minimal'])
def test_each_hint_line_is_a_line_of_its_own_above_the_traceback(ip, capsys, mode):
    ok(ip, GET_V)
    ip.run_line_magic('xmode', mode)
    try:
        _, out = _fails(ip, capsys, GET_V)
    finally:
        ip.run_line_magic('xmode', 'Plain')
    lines = out.splitlines()
    assert [line[:20] for line in lines[:4]] == [
        'tfmagic: v already e', '  To share it, wrap ', '  To start over with', '']
    assert lines[4].strip()  # the traceback right under the blank line
    assert 'ValueError: Variable v already exists, disallowed.' in out


def test_errors_without_a_hint_print_nothing_extra(ip, capsys):
    _, out = _fails(ip, capsys, "raise ValueError('unrelated')")
    with _without_tfmagic(ip):
        _, vanilla = _fails(ip, capsys, "raise ValueError('unrelated')")
    assert hints.PREFIX not in out
    assert _cell_numbers(out) == _cell_numbers(vanilla)


# -- the error handler: as IPython without it, otherwise ------------------------------

@pytest.mark.parametrize('code', [
    '1 +', 'if True:\nx = 1', 'def f(:\n    pass', "exec('1 +')", 'import no_such_module_here',
    '%tb_no_such_magic', "raise KeyError('k')"])
def test_other_errors_look_as_they_do_without_tfmagic(ip, capsys, code):
    _, with_hints = _fails(ip, capsys, code)
    with _without_tfmagic(ip):
        _, vanilla = _fails(ip, capsys, code)
    assert _cell_numbers(with_hints) == _cell_numbers(vanilla)


def test_a_syntax_error_is_shown_as_one(ip, capsys):
    error, out = _fails(ip, capsys, '1 +')
    assert isinstance(error, SyntaxError)
    assert out.startswith('  Cell In[') and 'Traceback' not in out
    assert out.rstrip().endswith('SyntaxError: invalid syntax')


def test_a_usage_error_is_one_line(ip, capsys):
    error, out = _fails(ip, capsys, "%%tfscope blk --name-scope --reuse\nx = 1")
    assert isinstance(error, UsageError)
    assert out.strip() == ('UsageError: --reuse applies to variable scopes; '
                           'drop it or drop --name-scope')


def test_an_exception_that_renders_its_own_traceback_keeps_it(ip, capsys):
    ok(ip, GET_V)
    _, out = _fails(ip, capsys, (
        'class Remote(ValueError):\n'
        '    def _render_traceback_(self):\n'
        "        return ['remote traceback']\n"
        "raise Remote('Variable v already exists, disallowed.')"))
    assert out.strip() == 'remote traceback'


def test_debug_and_tb_work_after_a_hinted_error(ip, capsys, monkeypatch):
    ok(ip, GET_V)
    error, out = _fails(ip, capsys, GET_V)
    assert out.startswith(hints.PREFIX)
    assert (sys.last_type, sys.last_value, sys.last_traceback) == (
        type(error), error, error.__traceback__)
    assert not hasattr(error, '_render_traceback_')
    ok(ip, '%tb')
    tb = capsys.readouterr().out
    assert 'Traceback (most recent call last)' in tb and 'already exists, disallowed' in tb
    monkeypatch.setattr(sys, 'stdin', io.StringIO('p name\nq\n'))
    ok(ip, '%debug')
    debugged = capsys.readouterr().out
    assert 'variable_scope.py' in debugged and "ipdb> 'v'" in debugged


def test_a_failing_hint_never_hides_the_error(ip, capsys, caplog):
    _, out = _fails(ip, capsys, (
        'class Unprintable(Exception):\n'
        '    def __str__(self):\n'
        "        raise RuntimeError('no text')\n"
        'raise Unprintable()'))
    assert 'Traceback (most recent call last)' in out and 'Unprintable' in out
    assert 'could not show this error' in caplog.text
    assert ip.custom_exceptions == (Exception,)  # still installed
    ok(ip, GET_V)
    assert _fails(ip, capsys, GET_V)[1].startswith(hints.PREFIX)


class Handled(Exception):
    pass


def _previous_handler(shell, etype, value, tb, tb_offset=None):
    print(f'previous handler: {etype.__name__}')


def _failing_handler(shell, etype, value, tb, tb_offset=None):
    raise RuntimeError('the previous handler broke')


@contextlib.contextmanager
def _installed_before_tfmagic(ip, exceptions, handler):
    with _without_tfmagic(ip):
        ip.set_custom_exc(exceptions, handler)
        installed = ip.CustomTB
    try:
        yield installed
    finally:
        ip.run_line_magic('unload_ext', 'tfmagic')
        ip.set_custom_exc((), None)
        ip.run_line_magic('load_ext', 'tfmagic')


def test_a_handler_installed_before_gets_its_exceptions_and_comes_back(ip, capsys):
    ip.user_ns['Handled'] = Handled
    with _installed_before_tfmagic(ip, (Handled, SyntaxError), _previous_handler) as previous:
        ok(ip, GET_V)
        assert _fails(ip, capsys, "raise Handled('mine')")[1] == 'previous handler: Handled\n'
        assert _fails(ip, capsys, '1 +')[1] == 'previous handler: SyntaxError\n'
        assert _fails(ip, capsys, GET_V)[1].startswith(hints.PREFIX)
        ip.run_line_magic('unload_ext', 'tfmagic')
        assert ip.custom_exceptions == (Handled, SyntaxError) and ip.CustomTB is previous
        ip.run_line_magic('load_ext', 'tfmagic')


def test_a_previous_handler_that_fails_does_not_hide_the_error(ip, capsys):
    ip.user_ns['Handled'] = Handled
    with _installed_before_tfmagic(ip, (Handled,), _failing_handler):
        _, out = _fails(ip, capsys, "raise Handled('mine')")
        failure, _, shown = out.partition('The original exception:')
        assert 'the previous handler broke' in failure
        assert "raise Handled('mine')\nHandled: mine" in shown
        assert ip.custom_exceptions == (Exception,)  # ours, without the broken one
        ok(ip, GET_V)
        assert _fails(ip, capsys, GET_V)[1].startswith(hints.PREFIX)
        ip.run_line_magic('unload_ext', 'tfmagic')
        assert ip.custom_exceptions == ()


def test_unloading_leaves_a_handler_installed_after_tfmagic(ip, capsys):
    ip.user_ns['Handled'] = Handled
    ip.set_custom_exc((Handled,), _previous_handler)
    later = ip.CustomTB
    try:
        ip.run_line_magic('unload_ext', 'tfmagic')
        assert ip.CustomTB is later
    finally:
        ip.set_custom_exc((), None)
        ip.run_line_magic('load_ext', 'tfmagic')


# -- notes after a cell ---------------------------------------------------------------------

def test_rerunning_a_cell_that_duplicates_tf_variables_says_so_once(ip, capsys):
    cell = "foo = tf.compat.v1.Variable(1, name='foo')\nbar = tf.compat.v1.Variable(2, name='bar')"
    ok(ip, cell)
    first = ip.execution_count - 1
    assert 'tfmagic:' not in capsys.readouterr().out
    ok(ip, cell)
    out = capsys.readouterr().out
    assert out.count('tfmagic:') == 1
    assert (f'tfmagic: this cell ran before (In [{first}]) and created foo, bar; running it '
            'again created foo_1, bar_1 beside them') in out
    assert '%tfreset' in out
    ok(ip, cell)
    assert 'created foo_1, bar_1; running it again created foo_2, bar_2' in capsys.readouterr().out


def test_scoped_reruns_are_recognized(ip, capsys):
    cell = "with tf.compat.v1.variable_scope('blk'):\n    a = tf.compat.v1.Variable(1, name='a')"
    ok(ip, cell)
    ok(ip, cell)
    assert 'created blk/a; running it again created blk_1/a beside it' in capsys.readouterr().out


def test_no_note_for_a_different_cell_or_after_tfreset(ip, capsys):
    ok(ip, "one = tf.compat.v1.Variable(1, name='foo')")
    ok(ip, "two = tf.compat.v1.Variable(1, name='foo')  # another cell")
    assert 'ran before' not in capsys.readouterr().out
    ok(ip, '%tfreset')
    ok(ip, "one = tf.compat.v1.Variable(1, name='foo')")
    assert 'ran before' not in capsys.readouterr().out
    assert ok(ip, 'one.op.name') == 'foo'


def test_get_variable_reruns_need_no_note(ip, capsys):
    cell = "%%tfscope s --reuse auto\ng = tf.compat.v1.get_variable('g', [1])"
    ok(ip, cell)
    ok(ip, cell)
    assert 'tfmagic:' not in capsys.readouterr().out
