"""Every cell runs in the managed graph and session, and leaves them balanced."""

import pytest
import tensorflow as tf

import tfmagic
from tests.shell import ok, ops_count, run


def test_seed_code_runs_unchanged_in_plain_cells(ip):
    ok(ip, "var = tf.compat.v1.Variable(1)\nvar1 = tf.compat.v1.Variable(2)\n"
           "var2 = tf.compat.v1.Variable(3, name='foo')\n"
           "var3 = tf.compat.v1.Variable(4, name='foo')")
    names = ok(ip, '[v.name for v in (var, var1, var2, var3)]')
    assert names == ['Variable:0', 'Variable_1:0', 'foo:0', 'foo_1:0']
    ok(ip, "v = tf.compat.v1.get_variable('var', [1], initializer=tf.compat.v1.ones_initializer())")
    assert ok(ip, 'tf.compat.v1.get_default_session().run(var2)') == 3
    assert ok(ip, 'var3.eval()') == 4
    assert ok(ip, 'v.eval().tolist()') == [1.0]


def test_every_cell_gets_the_graph_and_session_and_gives_them_back(ip, ws):
    ok(ip, 'g = tf.compat.v1.get_default_graph()\ns = tf.compat.v1.get_default_session()')
    assert ip.user_ns['g'] is ws.graph
    assert ip.user_ns['s'] is ws.session
    assert not ws.active
    assert tf.compat.v1.get_default_graph() is not ws.graph
    assert tf.compat.v1.get_default_session() is None


@pytest.mark.parametrize('failure', [
    "raise ValueError('boom')",
    'raise KeyboardInterrupt',
    ("with tf.compat.v1.variable_scope('outer'):\n"
     "    with tf.name_scope('inner'):\n"
     '        raise KeyboardInterrupt'),
])
def test_a_failing_or_interrupted_cell_leaves_the_defaults_balanced(ip, ws, failure):
    result = run(ip, failure)
    assert not result.success
    assert not ws.active
    assert tf.compat.v1.get_default_graph() is not ws.graph
    ok(ip, 'g = tf.compat.v1.get_default_graph()\n'
           'scope = tf.compat.v1.get_variable_scope().name\nname_scope = g.get_name_scope()')
    assert ip.user_ns['g'] is ws.graph
    assert (ip.user_ns['scope'], ip.user_ns['name_scope']) == ('', '')


def test_new_variables_are_initialized_after_the_cell(ip, ws):
    ok(ip, "a = tf.compat.v1.get_variable('a', initializer=[1.0, 2.0])\n"
           "b = tf.compat.v1.Variable(a * 2, name='b')")
    assert ok(ip, 'tf.compat.v1.get_default_session().run([a, b])')[1].tolist() == [2.0, 4.0]
    assert ok(ip, '%vars')['initialized'].tolist() == [True, True]


@pytest.mark.parametrize('assign', [
    'sess.run(c.initializer)\nsess.run(c.assign(7.0))',
    'c.load(7.0)',
    'c.assign(7.0).eval()',
    'sess.make_callable(c.assign(7.0))()',
    'op = c.assign(7.0)\nsess.partial_run(sess.partial_run_setup([op], []), op)',
])
def test_values_assigned_in_the_creating_cell_are_kept(ip, assign):
    ok(ip, "c = tf.compat.v1.get_variable('c', initializer=1.0)\n"
           "sess = tf.compat.v1.get_default_session()\n" + assign)
    assert ok(ip, 'c.eval()') == 7.0


def test_a_variable_made_from_a_variable_def_keeps_the_value_it_wraps(ip):
    # A new Python object on the ops of an existing variable, made in a cell
    # that runs nothing: the value is already there and stays.
    ok(ip, "v = tf.compat.v1.get_variable('v', initializer=1.0)")
    ok(ip, 'v.load(5.0)')
    ok(ip, 'alias = tf.compat.v1.Variable(variable_def=v.to_proto())')
    assert ok(ip, 'v.eval()') == 5.0
    assert ok(ip, 'alias.eval()') == 5.0


def test_auto_init_of_a_cell_that_ran_nothing_is_one_run(ip, ws):
    # Nothing ran since the variables were created, so none can hold a value:
    # they are initialized without asking the session first.
    before = ws.runs
    ok(ip, "e = [tf.compat.v1.get_variable(f'e{i}', [3]) for i in range(5)]")
    assert ws.runs == before + 1
    assert ok(ip, '%vars')['initialized'].tolist() == [True] * 5
    before = ws.runs
    ok(ip, "f = tf.compat.v1.get_variable('f', [3])\nf.initializer.run()")
    assert ws.runs == before + 2  # the cell's run, then the check: nothing to initialize


def test_auto_init_can_be_turned_off(ip, capsys):
    ok(ip, '%config TFMagic.auto_init = False')
    ok(ip, "d = tf.compat.v1.get_variable('d', [2])")
    assert ok(ip, '%vars')['initialized'].tolist() == [False]
    capsys.readouterr()
    result = run(ip, 'd.eval()')
    assert isinstance(result.error_in_exec, tf.errors.FailedPreconditionError)
    out = capsys.readouterr().out
    assert 'tfmagic: d has no value yet: with %config TFMagic.auto_init = False' in out
    ok(ip, 'tf.compat.v1.get_default_session().run(tf.compat.v1.global_variables_initializer())')
    assert ok(ip, '%vars')['initialized'].tolist() == [True]


def test_a_failing_initializer_is_reported_and_the_rest_initialized(ip, capsys):
    ok(ip, '%config TFMagic.auto_init = False')
    ok(ip, "x = tf.compat.v1.get_variable('x', [1])")
    ok(ip, '%config TFMagic.auto_init = True')
    capsys.readouterr()
    ok(ip, "y = tf.compat.v1.Variable(x + 1.0, name='y')\nz = tf.compat.v1.Variable(3.0, name='z')")
    out = capsys.readouterr().out
    assert 'tfmagic: could not initialize y' in out
    frame = ok(ip, '%vars')
    assert dict(zip(frame['name'], frame['initialized'], strict=True)) == {
        'x': False, 'y': False, 'z': True}


def test_reset_default_graph_in_a_cell_acts_as_tfreset(ip, capsys):
    ok(ip, "v = tf.compat.v1.get_variable('v', [1])")
    old = tfmagic.workspace().graph
    capsys.readouterr()
    ok(ip, "tf.compat.v1.reset_default_graph()\nv = tf.compat.v1.get_variable('v', [1])\n"
           "same = tf.compat.v1.get_default_graph() is tfmagic.workspace().graph")
    assert 'started a fresh managed graph' in capsys.readouterr().out
    assert ip.user_ns['same'] is True
    assert tfmagic.workspace().graph is not old
    frame = ok(ip, '%vars')
    assert frame['name'].tolist() == ['v']
    assert frame['initialized'].tolist() == [True]


def test_reset_default_graph_inside_a_scope_is_explained(ip, ws, capsys):
    graph = ws.graph
    result = run(ip, "with tf.compat.v1.variable_scope('s'):\n"
                     '    tf.compat.v1.reset_default_graph()')
    assert isinstance(result.error_in_exec, AssertionError)
    assert ('reset_default_graph() cannot clear the managed graph from here'
            in capsys.readouterr().out)
    assert ws.graph is graph


def test_other_functions_named_reset_default_graph_are_left_alone(ip):
    ok(ip, 'class Fake:\n    def reset_default_graph(self):\n        return "mine"\n'
           'answer = Fake().reset_default_graph()')
    assert ip.user_ns['answer'] == 'mine'


def test_user_custom_getters_keep_working_and_are_tracked(ip):
    ok(ip, "def doubled(getter, name, *args, **kwargs):\n"
           "    return getter(name, *args, **kwargs) * 2\n"
           "with tf.compat.v1.variable_scope('g', custom_getter=doubled):\n"
           "    w = tf.compat.v1.get_variable('w', initializer=3.0)\n"
           "with tf.compat.v1.variable_scope('g', reuse=True, custom_getter=doubled):\n"
           "    w2 = tf.compat.v1.get_variable('w')")
    assert ok(ip, 'tf.compat.v1.get_default_session().run([w, w2])') == [6.0, 6.0]
    frame = ok(ip, '%vars').set_index('name')
    assert frame.loc['g/w', 'created_by'] == 'get_variable'
    assert frame.loc['g/w', 'reuses'] == 1


def test_variables_created_outside_cells_are_listed_with_na_cell(ip, ws):
    with ws.activate():
        tf.compat.v1.get_variable('from_api', [1])
        tf.compat.v1.Variable(1, name='plain_from_api')
    frame = ok(ip, '%vars').set_index('name')
    assert frame.loc['from_api', 'created_by'] == 'get_variable'
    assert frame.loc['plain_from_api', 'created_by'] == 'tf.Variable'
    assert frame['created_in'].isna().all()


def test_untracked_variables_get_their_creator_inferred(ip, ws):
    graph_vars = ws.variables()
    with ws.graph.as_default():  # no activate(): the tracker's hooks do not see these
        tf.compat.v1.get_variable('hidden_gv', [1])
        tf.compat.v1.Variable(1, name='hidden_tv')
    before = ops_count(ws.graph)
    frame = ok(ip, '%vars').set_index('name')
    assert len(ws.variables()) == len(graph_vars) + 2
    assert frame.loc['hidden_gv', 'created_by'] == 'get_variable'
    assert frame.loc['hidden_tv', 'created_by'] == 'tf.Variable'
    assert frame.loc['hidden_gv', 'reuses'] == 0
    assert ops_count(ws.graph) == before


def test_an_aliased_reset_default_graph_is_explained(ip, ws, capsys):
    graph = ws.graph
    result = run(ip, 'rdg = tf.compat.v1.reset_default_graph\nrdg()')
    assert isinstance(result.error_in_exec, AssertionError)
    out = capsys.readouterr().out
    assert 'called under another name' in out and '%tfreset' in out
    assert ws.graph is graph


def test_a_closed_managed_session_is_replaced_by_a_fresh_one(ip, ws, capsys):
    ok(ip, "v = tf.compat.v1.get_variable('v', initializer=2.0)")
    ok(ip, 'with tf.compat.v1.get_default_session() as sess:\n    value = sess.run(v)')
    assert ip.user_ns['value'] == 2.0
    capsys.readouterr()
    result = run(ip, 'v.eval()')
    assert isinstance(result.error_in_exec, tf.errors.FailedPreconditionError)
    assert 'or the session was closed since' in capsys.readouterr().out
    ok(ip, "w = tf.compat.v1.get_variable('w', initializer=3.0)")
    assert ok(ip, 'w.eval()') == 3.0
    assert ok(ip, '%vars')['initialized'].tolist() == [False, True]


def test_listing_right_after_the_session_was_closed_reports_no_values(ip):
    ok(ip, "v = tf.compat.v1.get_variable('v', initializer=2.0)")
    assert ok(ip, '%vars --stats')['max'].tolist() == [2.0]
    ok(ip, 'tf.compat.v1.get_default_session().close()')
    frame = tfmagic.variables(stats=True)  # outside a cell, as the panel reads after one
    assert frame['initialized'].tolist() == [False]
    assert frame['max'].isna().all()
