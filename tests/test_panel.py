"""%tfpanel on the Python side: the scope tree, incremental refresh, details,
checkpoint buttons, escaping, several panels, and closing."""

import numpy as np
import pytest

import tfmagic
from tfmagic.panel import ScopeTree, VariableBrowser, histogram_svg
from tfmagic.tracking import VariableRecord
from tests.shell import ok

MODEL = ("%%tfscope layer1\n"
         "w = tf.compat.v1.get_variable('w', initializer=[[1.0, 2.0], [3.0, 4.0]])\n"
         "b = tf.compat.v1.Variable([1, 2], name='b')")


def labels(panel):
    return [label for label, _ in panel.tree.options]


@pytest.fixture
def panel(ip, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ok(ip, MODEL)
    panel = ok(ip, '%tfpanel')
    yield panel
    panel.close()


def test_tfpanel_returns_a_browser_of_scopes(panel):
    assert isinstance(panel, VariableBrowser)
    assert labels(panel) == ['▸ layer1/  (2)']
    assert '<b>2</b> variables in <b>1</b> scopes' in panel.summary.value


def test_expanding_a_scope_shows_its_variables_with_marks(ip, panel):
    panel.tree.value = 'scope:layer1'  # what clicking the row does
    cell = ip.execution_count - 2
    assert labels(panel) == ['▾ layer1/  (2)',
                             f'  ⊘ b  [2] int32  tf.Variable [{cell}]',
                             f'    w  [2, 2] float32  get_variable [{cell}]']
    panel.tree.value = 'scope:layer1'
    assert labels(panel) == ['▸ layer1/  (2)']


def test_refreshes_after_every_cell_with_new_variables_and_reuses(ip, panel):
    panel.expand('layer1')
    ok(ip, "%%tfscope layer1 --reuse\nagain = tf.compat.v1.get_variable('w')")
    assert labels(panel)[2].startswith('↻ w', 2) and labels(panel)[2].endswith('×1')
    ok(ip, "%%tfscope layer2/deep\nv = tf.compat.v1.get_variable('v', [3])")
    assert labels(panel)[0] == '▾ layer1/  (2)'
    assert labels(panel)[-1] == '▸ layer2/  (1)'
    panel.expand('layer2')
    assert '  ▸ deep/  (1)' in labels(panel)


def test_tfreset_empties_it(ip, panel):
    panel.select('layer1/w')
    ok(ip, '%tfreset')
    assert labels(panel) == []
    assert '<b>0</b> variables' in panel.summary.value
    assert 'Select a variable' in panel.details.value


def test_details_show_every_column_stats_histogram_and_first_values(panel):
    panel.select('layer1/w')
    details = panel.details.value
    for column in ('name', 'scope', 'shape', 'dtype', 'trainable', 'created_by', 'created_in',
                   'reuses', 'reused_in', 'reuse_status', 'initialized',
                   'size', 'nbytes', 'min', 'max', 'mean', 'std'):
        assert f'<th>{column}</th>' in details
    assert '<th>min</th><td>1.0</td>' in details and '<th>max</th><td>4.0</td>' in details
    assert '<th>mean</th><td>2.5</td>' in details
    assert '<svg class="tfmagic-histogram"' in details
    assert 'first values: <code>1.0, 2.0, 3.0, 4.0</code>' in details


def test_details_follow_new_values(ip, panel):
    panel.select('layer1/w')
    ok(ip, 'tf.compat.v1.get_default_session().run(w.assign([[0.0, 0.0], [0.0, 9.0]]))')
    assert '<th>max</th><td>9.0</td>' in panel.details.value


def test_filter_by_substring_and_glob(ip, panel):
    ok(ip, "%%tfscope layer2\nbias = tf.compat.v1.get_variable('bias', [1])")
    panel.filter.value = 'B'
    assert [key for _, key in panel.tree.options] == [
        'scope:layer1', 'var:layer1/b', 'scope:layer2', 'var:layer2/bias']
    panel.filter.value = '*/w'
    assert [key for _, key in panel.tree.options] == ['scope:layer1', 'var:layer1/w']
    panel.filter.value = 'nothing'
    assert panel.tree.options == ()
    panel.filter.value = ''
    assert labels(panel) == ['▸ layer1/  (2)', '▸ layer2/  (1)']


def test_filter_limits_rows():
    tree = ScopeTree()
    for i in range(30):
        tree.put(VariableRecord(f's/v{i:02d}', (1,), 'float32', 'get_variable'))
    rows = tree.matching('v', limit=10)
    assert len(rows) == 12 and rows[-1][0] == '… and 20 more matches: narrow the filter'


def test_save_and_restore_buttons_call_the_checkpoint_functions(ip, panel, tmp_path):
    panel.save_button.click()
    assert 'tfmagic-ok' in panel.ckpt_message.value
    assert 'Saved 2 variables' in panel.ckpt_message.value
    assert [key for _, key in panel.ckpt_list.options] == ['checkpoints/model']
    ok(ip, 'tf.compat.v1.get_default_session().run(w.assign([[0.0, 0.0], [0.0, 0.0]]))')
    panel.restore_button.click()
    assert 'Restored 2 variables from checkpoints/model.' in panel.ckpt_message.value
    assert ok(ip, 'w.eval().tolist()') == [[1.0, 2.0], [3.0, 4.0]]
    ok(ip, '%tfreset')
    ok(ip, "x = tf.compat.v1.get_variable('x', [1])")
    panel.restore_button.click()
    message = panel.ckpt_message.value
    assert 'tfmagic-error' in message and 'nothing was restored' in message
    assert 'layer1/w: missing in graph' in message


def test_save_errors_show_in_the_panel(ip, panel):
    panel.ckpt_prefix.value = 'checkpoints/model'
    ok(ip, '%saveckpt --vars layer1/w')
    panel.save_button.click()
    assert 'already holds a different checkpoint' in panel.ckpt_message.value


def test_names_and_messages_are_escaped(ip, panel, tmp_path):
    evil = '<img src=x onerror=alert(1)>'
    import tensorflow as tf
    tf.raw_ops.SaveV2(prefix=str(tmp_path / 'checkpoints' / 'evil'), tensor_names=[evil],
                      shape_and_slices=[''], tensors=[tf.constant([1.0])])
    ok(ip, 'pass')  # a cell: the panel notices the new checkpoint
    assert 'checkpoints/evil' in [key for _, key in panel.ckpt_list.options]
    panel.ckpt_list.value = 'checkpoints/evil'
    panel.restore_button.click()
    message = panel.ckpt_message.value
    assert '<img' not in message and '&lt;img src=x onerror=alert(1)&gt;' in message
    ok(ip, "%%tfscope a-b.c>d\nodd = tf.compat.v1.get_variable('x', [1])")
    panel.select('a-b.c>d/x')
    assert '<b>a-b.c&gt;d/x</b>' in panel.details.value


def test_several_panels_stay_in_sync_and_closing_unregisters(ip, panel):
    other = ok(ip, '%tfpanel')
    hooks = tfmagic._magics.hooks
    assert hooks._after_cell.count(panel.refresh) == 1 and other.refresh in hooks._after_cell
    ok(ip, "n = tf.compat.v1.get_variable('n', [1])")
    assert labels(panel) == labels(other) == ['▸ layer1/  (2)', '  n  [1] float32  get_variable '
                                              f'[{ip.execution_count - 1}]']
    other.save_button.click()
    assert panel.ckpt_list.options == other.ckpt_list.options != ()
    other.close()
    assert other.refresh not in hooks._after_cell
    ok(ip, "m = tf.compat.v1.get_variable('m', [1])")
    assert len(labels(panel)) == 3 and len(labels(other)) == 2


def test_unload_unregisters_every_panel(ip, panel):
    hooks = tfmagic._magics.hooks
    ok(ip, '%unload_ext tfmagic')
    assert hooks._after_cell == []
    ok(ip, '%load_ext tfmagic')


def test_large_graph_renders_only_expanded_scopes(ip, ws):
    # 100 scopes as in a large model; benchmarks/ times the 10,000-variable case.
    import tensorflow as tf
    with ws.activate():
        for s in range(100):
            with tf.compat.v1.variable_scope(f'scope{s:03d}'):
                for v in range(20):
                    tf.compat.v1.get_variable(f'v{v:03d}', [1])
    panel = ok(ip, '%tfpanel')
    try:
        assert len(panel.tree.options) == 100
        assert '<b>2000</b> variables in <b>100</b> scopes' in panel.summary.value
        panel.expand('scope042')
        assert len(panel.tree.options) == 120
    finally:
        panel.close()


def test_histogram_svg_is_plain_svg():
    svg = histogram_svg(np.array([0.0, 1.0, 1.0, 2.0]), bins=4)
    assert svg.startswith('<svg class="tfmagic-histogram"') and svg.count('<rect') == 4
    assert histogram_svg(np.array([np.nan])) == ''
