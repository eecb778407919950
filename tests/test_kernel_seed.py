"""The seed article ("Variables in Tensorflow"), cell by cell in a real kernel.

The article's TF1 code, made Python 3 with ``tf.compat.v1``, is run the way a
notebook user would run it, with tfmagic loaded; each test checks the exact
names, values, records and hints. One kernel serves the whole module; every
test starts from ``%tfreset``.
"""

from __future__ import annotations

import json

import pytest

from tests.kernel import Kernel, Result, strip_ansi

pytestmark = pytest.mark.kernel

SETUP = '''\
%load_ext tfmagic
import json
import pandas as pd
import tensorflow as tf
import tfmagic


def _vars_json(line=''):
    """Print the %vars table as JSON records."""
    def plain(value):
        if value is pd.NA:
            return None
        return value.item() if hasattr(value, 'item') else str(value)
    table = get_ipython().run_line_magic('vars', line)
    print(json.dumps(table.to_dict('records'), default=plain))
'''

ARTICLE_VARIABLES = '''\
var = tf.compat.v1.Variable(1)
var1 = tf.compat.v1.Variable(2)
var2 = tf.compat.v1.Variable(3, name='foo')
var3 = tf.compat.v1.Variable(4, name='foo')
print(json.dumps([v.op.name for v in (var, var1, var2, var3)]))
'''

SCOPING = '''\
def scoping(fn, scope1, scope2, vals):
    with fn(scope1):
        a = tf.compat.v1.Variable(vals[0], name='a')
        b = tf.compat.v1.get_variable('b', initializer=vals[1])
        c = tf.constant(vals[2], name='c')
        with fn(scope2):
            d = tf.add(a * b, c, name='res')

        print('\\n  '.join([scope1, a.name, b.name, c.name, d.name]), '\\n')
    return d

d1 = scoping(tf.compat.v1.variable_scope, 'scope_vars', 'res', [1, 2, 3])
d2 = scoping(tf.compat.v1.name_scope,     'scope_name', 'res', [1, 2, 3])
'''

SAVE = '''\
a = tf.compat.v1.get_variable('a', [])
b = tf.compat.v1.get_variable('b', [])
init = tf.compat.v1.global_variables_initializer()

saver = tf.compat.v1.train.Saver()
sess = tf.compat.v1.Session()
sess.run(init)
saver.save(sess, './tftcp.model')
print(json.dumps([float(x) for x in sess.run([a, b])]))
'''

LOAD = '''\
tf.compat.v1.reset_default_graph()  # a new program: a fresh graph
a = tf.compat.v1.get_variable('a', [])
b = tf.compat.v1.get_variable('b', [])

saver = tf.compat.v1.train.Saver()
sess = tf.compat.v1.Session()
saver.restore(sess, './tftcp.model')
restored = sess.run([a, b])
saver.restore(tf.compat.v1.get_default_session(), './tftcp.model')  # and into tfmagic's
print(json.dumps([float(x) for x in restored]))
'''

CELL_STATE = '''\
print(json.dumps({
    'graph': tf.compat.v1.get_default_graph() is tfmagic.workspace().graph,
    'session': tf.compat.v1.get_default_session() is tfmagic.workspace().session,
    'eager': tf.executing_eagerly(),
    'variable_scope': tf.compat.v1.get_variable_scope().name,
    'name_scope': tf.compat.v1.get_default_graph().get_name_scope(),
}))
'''


@pytest.fixture(scope='module')
def kernel(tmp_path_factory):
    with Kernel(tmp_path_factory.mktemp('kernel')) as k:
        k.run(SETUP).check()
        yield k


@pytest.fixture
def k(kernel):
    """The module's kernel with a fresh managed graph."""
    ok(kernel, '%tfreset', notes=True)
    return kernel


def ok(k: Kernel, code: str, notes: bool = False) -> Result:
    """Run a cell that must succeed (and, unless ``notes``, print no tfmagic note)."""
    result = k.run(code).check()
    if not notes:
        assert 'tfmagic: ' not in result.text, result.text
    return result


def fails(k: Kernel, code: str, ename: str, evalue: str) -> Result:
    """Run a cell that must raise ``ename`` with ``evalue`` in its message."""
    result = k.run(code)
    assert result.error is not None, f'cell did not fail:\n{code}\n{result.text}'
    assert result.error['ename'] == ename, strip_ansi(result.traceback)
    assert evalue in result.error['evalue']
    return result


def printed(result: Result):
    """The JSON the cell printed last (TensorFlow may log lines before it)."""
    return json.loads(result.stdout.splitlines()[-1])


def variables(k: Kernel, line: str = '') -> dict[str, dict]:
    """``%vars LINE`` as {name: row}."""
    rows = printed(ok(k, f'_vars_json({line!r})'))
    return {row['name']: row for row in rows}


def hint(result: Result) -> str:
    """The tfmagic lines the cell printed, joined into one line."""
    text = result.text + strip_ansi(result.traceback)
    assert 'tfmagic: ' in text, f'no tfmagic hint in:\n{text}'
    return ' '.join(line.strip() for line in text[text.index('tfmagic: '):].splitlines())


# -- 一. Variable use -----------------------------------------------------------


def test_tf_variable_names_are_made_unique(k):
    cell = ok(k, ARTICLE_VARIABLES)
    assert printed(cell) == ['Variable', 'Variable_1', 'foo', 'foo_1']

    rows = variables(k)
    assert sorted(rows) == ['Variable', 'Variable_1', 'foo', 'foo_1']
    for row in rows.values():
        assert row['created_by'] == 'tf.Variable'
        assert row['created_in'] == cell.execution_count
        assert (row['scope'], row['shape'], row['dtype']) == ('', [], 'int32')
        assert (row['reuses'], row['reused_in'], row['reuse_status']) == (0, [], 'not reusable')
        assert row['initialized'] is True
    # initialized after the cell that made them: readable from the next one
    values = ok(k, 'print(json.dumps([int(v.eval()) for v in (var, var1, var2, var3)]))')
    assert printed(values) == [1, 2, 3, 4]


def test_get_variable_uses_the_given_name(k):
    cell = ok(k, "var = tf.compat.v1.get_variable('var', [1])\nprint(var.name)")
    assert cell.stdout == 'var:0\n'
    row = variables(k)['var']
    assert row == {
        'name': 'var', 'scope': '', 'shape': [1], 'dtype': 'float32', 'trainable': True,
        'created_by': 'get_variable', 'created_in': cell.execution_count, 'reuses': 0,
        'reused_in': [], 'reuse_status': 'not reused', 'initialized': True,
        'partitions': 1, 'slot_of': '', 'device': ''}


# -- 二. Variable management: scopes ----------------------------------------------


def test_scoping_under_variable_scope_and_name_scope(k):
    cell = ok(k, SCOPING)
    assert cell.stdout == (
        'scope_vars\n  scope_vars/a:0\n  scope_vars/b:0\n  scope_vars/c:0\n'
        '  scope_vars/res/res:0 \n\n'
        'scope_name\n  scope_name/a:0\n  b:0\n  scope_name/c:0\n'
        '  scope_name/res/res:0 \n\n')

    rows = variables(k)
    assert {name: row['created_by'] for name, row in rows.items()} == {
        'scope_vars/a': 'tf.Variable', 'scope_vars/b': 'get_variable',
        'scope_name/a': 'tf.Variable', 'b': 'get_variable'}  # get_variable ignores name_scope
    assert {row['created_in'] for row in rows.values()} == {cell.execution_count}
    assert rows['scope_name/a']['scope'] == 'scope_name' and rows['b']['scope'] == ''

    # The article's last cell, run in the managed session (initialized by now),
    # with the graph written for TensorBoard.
    run = ok(k, '''\
sess = tf.compat.v1.get_default_session()
writer = tf.compat.v1.summary.FileWriter('logs', sess.graph)
print(json.dumps([int(x) for x in sess.run([d1, d2])]))
writer.close()
''')
    assert printed(run) == [5, 5]
    events = list((k.cwd / 'logs').glob('events.out.tfevents.*'))
    assert len(events) == 1 and events[0].stat().st_size > 0
    nodes = printed(ok(k, f'''\
graph_def = tf.compat.v1.GraphDef()
for event in tf.compat.v1.train.summary_iterator({str(events[0])!r}):
    if event.graph_def:
        graph_def.ParseFromString(event.graph_def)
print(json.dumps(sorted(node.name for node in graph_def.node)))
'''))
    for name in ('scope_vars/a', 'scope_vars/b', 'scope_vars/c', 'scope_vars/res/res',
                 'scope_name/a', 'b', 'scope_name/c', 'scope_name/res/res'):
        assert name in nodes


# -- 二. Variable management: sharing ---------------------------------------------


def test_sharing_with_tfscope_reuse(k):
    made = ok(k, "%%tfscope layer1\nw = tf.compat.v1.get_variable('w', [3, 3])")
    again = ok(k, '%%tfscope layer1 --reuse\n'
                  "w_again = tf.compat.v1.get_variable('w')\nw_again is w")
    auto = ok(k, "%%tfscope layer1 --reuse auto\n"
                 "w_auto = tf.compat.v1.get_variable('w', [3, 3])\nw_auto is w")
    assert again.plain == auto.plain == 'True'
    fresh = ok(k, "%%tfscope layer2 --reuse auto\nv = tf.compat.v1.get_variable('v', [2])\nv.name")
    assert fresh.plain == "'layer2/v:0'"

    rows = variables(k)
    assert sorted(rows) == ['layer1/w', 'layer2/v']
    w, v = rows['layer1/w'], rows['layer2/v']
    assert (w['scope'], w['shape'], w['created_by'], w['created_in']) == (
        'layer1', [3, 3], 'get_variable', made.execution_count)
    assert (w['reuses'], w['reused_in'], w['reuse_status']) == (
        2, [again.execution_count, auto.execution_count], 'reused')
    assert (v['created_by'], v['created_in'], v['reuses'], v['reused_in'], v['reuse_status']) == (
        'get_variable', fresh.execution_count, 0, [], 'not reused')


def test_already_exists_error_explained(k):
    first = ok(k, "tf.compat.v1.get_variable('var', [1]);")
    again = fails(k, "tf.compat.v1.get_variable('var', [1])",
                  'ValueError', 'Variable var already exists, disallowed')
    text = hint(again)
    assert f'var already exists: get_variable created it in cell [{first.execution_count}]' in text
    assert 'reuse=tf.compat.v1.AUTO_REUSE' in text and '%tfreset' in text

    made = ok(k, "%%tfscope layer\nw = tf.compat.v1.get_variable('w', [2])")
    again = fails(k, "%%tfscope layer\nw = tf.compat.v1.get_variable('w', [2])",
                  'ValueError', 'Variable layer/w already exists, disallowed')
    text = hint(again)
    assert ('layer/w already exists: '
            f'get_variable created it in cell [{made.execution_count}]') in text
    assert '%%tfscope layer --reuse' in text and 'AUTO_REUSE' in text and '%tfreset' in text
    assert sorted(variables(k)) == ['layer/w', 'var']  # the failed cells made nothing


def test_does_not_exist_error_explained(k):
    made = ok(k, "%%tfscope conv\nk = tf.compat.v1.Variable(1.0, name='k')")
    cell = fails(k, "%%tfscope conv --reuse\nk2 = tf.compat.v1.get_variable('k')",
                 'ValueError', 'Variable conv/k does not exist, or was not created with '
                 'tf.get_variable()')
    text = hint(cell)
    assert (f'conv/k exists, but tf.Variable created it in cell [{made.execution_count}], '
            'so get_variable can never return it') in text
    assert "tf.compat.v1.get_variable('k', ...)" in text

    cell = fails(k, "%%tfscope conv --reuse\nkernel = tf.compat.v1.get_variable('kernel')",
                 'ValueError', 'Variable conv/kernel does not exist')
    text = hint(cell)
    assert 'No variable named conv/kernel exists' in text
    assert 'AUTO_REUSE' in text and 'Similar names in the graph: conv/k.' in text
    assert sorted(variables(k)) == ['conv/k']


def test_rerunning_a_cell_notes_the_copies(k):
    code = "foo = tf.compat.v1.Variable(1, name='foo')"
    first = ok(k, code)
    second = ok(k, code, notes=True)
    text = hint(second)
    assert (f'this cell ran before (In [{first.execution_count}]) and created foo; running it '
            'again created foo_1 beside it') in text
    assert '%tfreset' in text
    rows = variables(k)
    assert {n: r['created_in'] for n, r in rows.items()} == {
        'foo': first.execution_count, 'foo_1': second.execution_count}


def test_reset_default_graph_in_a_cell_starts_over(k):
    ok(k, "var = tf.compat.v1.get_variable('var', [1])\nfoo = tf.compat.v1.Variable(0, name='foo')")
    cell = ok(k, '''\
tf.compat.v1.reset_default_graph()
var = tf.compat.v1.get_variable('var', [1])
foo = tf.compat.v1.Variable(0, name='foo')
print(var.op.name, foo.op.name)
''', notes=True)
    assert cell.stdout.splitlines() == [
        'tfmagic: tf.compat.v1.reset_default_graph() started a fresh managed graph and '
        'session, as %tfreset does.',
        'var foo']
    rows = variables(k)
    assert {n: r['created_in'] for n, r in rows.items()} == {
        'var': cell.execution_count, 'foo': cell.execution_count}
    check = ok(k, 'print(int(foo.eval()), var.eval().shape, '
                  'foo.graph is var.graph is tfmagic.workspace().graph)')
    assert check.stdout == '0 (1,) True\n'


def test_tfreset_then_same_names_again(k):
    ok(k, ARTICLE_VARIABLES)
    reset = ok(k, '%tfreset', notes=True)
    assert reset.stdout == 'tfmagic: new graph and session; 4 variables dropped.\n'
    assert variables(k) == {}
    again = ok(k, ARTICLE_VARIABLES)  # no duplicate note: the records went too
    assert printed(again) == ['Variable', 'Variable_1', 'foo', 'foo_1']
    assert {r['created_in'] for r in variables(k).values()} == {again.execution_count}


# -- 三. Save and restore ------------------------------------------------------------


def test_saver_save_and_restore(k):
    for name in ('checkpoint', 'tftcp.model.index', 'tftcp.model.data-00000-of-00001',
                 'tftcp.model.meta'):
        (k.cwd / name).unlink(missing_ok=True)
    saved = printed(ok(k, SAVE))
    files = {p.name for p in k.cwd.iterdir() if p.name.startswith(('tftcp', 'checkpoint'))}
    assert files == {'checkpoint', 'tftcp.model.index', 'tftcp.model.data-00000-of-00001',
                     'tftcp.model.meta'}
    assert 'model_checkpoint_path: "tftcp.model"' in (k.cwd / 'checkpoint').read_text()

    load = ok(k, LOAD, notes=True)
    assert load.stdout.startswith(
        'tfmagic: tf.compat.v1.reset_default_graph() started a fresh managed graph')
    assert printed(load) == saved
    # restored into the managed session in the cell that made a and b: the
    # automatic initialization after the cell must keep the restored values
    managed = ok(k, 'print(json.dumps([float(x) for x in '
                    'tf.compat.v1.get_default_session().run([a, b])]))')
    assert printed(managed) == saved
    assert all(row['initialized'] for row in variables(k).values())


# -- the kernel itself -----------------------------------------------------------------


@pytest.mark.parametrize('how', ['interrupt', 'raise'])
def test_keyboard_interrupt_leaves_the_kernel_usable(k, how):
    if how == 'interrupt':  # the stop button, while the cell sleeps inside a scope
        code = "%%tfscope inner\nimport time\nprint('sleeping', flush=True)\ntime.sleep(30)"
        cell = k.run(code, timeout=20, interrupt_on='sleeping')
    else:
        code = "%%tfscope inner\nw = tf.compat.v1.get_variable('w', [1])\nraise KeyboardInterrupt"
        cell = k.run(code)
    assert cell.error is not None and cell.error['ename'] == 'KeyboardInterrupt'

    state = printed(ok(k, CELL_STATE))
    assert state == {'graph': True, 'session': True, 'eager': False,
                     'variable_scope': '', 'name_scope': ''}
    made = ok(k, "after = tf.compat.v1.Variable(3, name='after')")
    assert ok(k, 'int(after.eval())').plain == '3'
    assert variables(k, 'after')['after']['created_in'] == made.execution_count


def test_vars_is_an_html_table_with_names_escaped(k):
    ok(k, "x = tf.compat.v1.Variable(1, name='x->y')")  # '>' is legal in a TF name
    cell = ok(k, '%vars')
    assert cell.html is not None and cell.plain is not None
    assert '<table' in cell.html and 'class="dataframe"' in cell.html
    assert '<td>x-&gt;y</td>' in cell.html and 'x->y' not in cell.html
    assert 'x->y' in cell.plain and 'created_by' in cell.plain
