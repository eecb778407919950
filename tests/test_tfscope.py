"""%%tfscope: variable scopes, name scopes, reuse, display, and bad input."""

import pytest
from IPython.core.error import UsageError

from tests.shell import ok, ops_count, run

BODY = ("a = tf.compat.v1.Variable(1, name='a')\n"
        "b = tf.compat.v1.get_variable('b', initializer=2)\n"
        "c = tf.constant(3, name='c')\n"
        "[a.op.name, b.op.name, c.op.name]")


def test_variable_scope_prefixes_everything(ip):
    assert ok(ip, '%%tfscope scope_vars\n' + BODY) == [
        'scope_vars/a', 'scope_vars/b', 'scope_vars/c']


def test_name_scope_is_ignored_by_get_variable(ip):
    assert ok(ip, '%%tfscope scope_name --name-scope\n' + BODY) == [
        'scope_name/a', 'b', 'scope_name/c']


def test_nested_scope_path(ip):
    assert ok(ip, "%%tfscope net/layer1\ntf.compat.v1.get_variable('w', [1]).op.name") == (
        'net/layer1/w')


def test_reuse_true_returns_the_same_variable_and_counts_it(ip):
    ok(ip, "%%tfscope shared\nw = tf.compat.v1.get_variable('w', [2])")
    assert ok(ip, "%%tfscope shared --reuse\nw2 = tf.compat.v1.get_variable('w')\nw2 is w") is True
    reuse_cell = ip.execution_count - 1
    assert ok(ip, "%%tfscope shared --reuse true\ntf.compat.v1.get_variable('w') is w") is True
    row = ok(ip, '%vars').set_index('name').loc['shared/w']
    assert row['reuses'] == 2
    assert row['reused_in'] == [reuse_cell, reuse_cell + 1]
    assert row['reuse_status'] == 'reused'


def test_reuse_auto_creates_then_reuses(ip):
    cell = "%%tfscope auto --reuse auto\ntf.compat.v1.get_variable('v', [1])"
    first = ok(ip, cell)
    second = ok(ip, cell)
    assert first is second
    frame = ok(ip, '%vars')
    assert frame['name'].tolist() == ['auto/v']
    assert frame['reuses'].tolist() == [1]


def test_last_expression_is_displayed_and_semicolon_hides_it(ip, capsys):
    ok(ip, '%%tfscope disp\nx = 41\nx + 1')
    assert 'Out[' in capsys.readouterr().out
    assert ok(ip, '%%tfscope disp\nx + 1;') is None
    assert ok(ip, '%%tfscope disp\nx + 1;  # a comment after the semicolon') is None
    assert ok(ip, '%%tfscope disp\ny = 5') is None


def test_line_magics_work_inside_the_cell(ip):
    frame = ok(ip, "%%tfscope magic\nm = tf.compat.v1.get_variable('m', [1])\n%vars")
    assert frame['name'].tolist() == ['magic/m']


def test_an_exception_inside_leaves_the_scope_stack_at_the_root(ip, ws):
    result = run(ip, "%%tfscope broken\nq = tf.compat.v1.get_variable('q', [1])\n"
                     "raise RuntimeError('inside')")
    assert isinstance(result.error_in_exec, RuntimeError)
    ok(ip, "scope = tf.compat.v1.get_variable_scope().name\n"
           "name_scope = tf.compat.v1.get_default_graph().get_name_scope()\n"
           "r = tf.compat.v1.get_variable('r', [1])")
    assert (ip.user_ns['scope'], ip.user_ns['name_scope']) == ('', '')
    assert ip.user_ns['r'].op.name == 'r'


@pytest.mark.parametrize('line, message', [
    ('', 'the following arguments are required: scope'),
    ("''", "invalid scope name ''"),
    ("'a b'", "invalid scope name 'a b'"),
    ('/a', "invalid scope name '/a'"),
    ('a//b', "invalid scope name 'a//b'"),
    ('a//', "invalid scope name 'a/'"),
    ('/', "invalid scope name ''"),
    ('_hidden', "invalid scope name '_hidden'"),
    ('s --reuse maybe', "invalid choice: 'maybe'"),
    ('s --name-scope --reuse', '--reuse applies to variable scopes'),
    ('s --bogus', 'unrecognized arguments: --bogus'),
    ('s extra', 'unrecognized arguments: extra'),
    ('"unclosed', 'No closing quotation'),
])
def test_bad_arguments_raise_usage_error_and_change_nothing(ip, ws, line, message):
    before = ops_count(ws.graph)
    ip.user_ns.pop('ran', None)
    with pytest.raises(UsageError, match='^[^\n]*$') as info:
        with ws.activate():
            ip.run_cell_magic('tfscope', line, "ran = tf.compat.v1.get_variable('ran', [1])")
    assert message in str(info.value)
    assert 'ran' not in ip.user_ns
    assert ops_count(ws.graph) == before


def test_invalid_scope_name_explains_tensorflows_rule(ip):
    result = run(ip, "%%tfscope 'my layer'\nx = 1")
    assert isinstance(result.error_in_exec, UsageError)
    assert "each starting with a letter, digit or '.'" in str(result.error_in_exec)
