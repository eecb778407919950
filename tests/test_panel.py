"""%tfpanel on the Python side: the scope tree, incremental refresh, details,
partitioned variables, optimizer state, checkpoint buttons, escaping, several
panels, a cell's panel replaced by the next one from that cell, and closing."""

import contextlib
from collections.abc import Iterator

import numpy as np
import pytest

import tfmagic
from tests.shell import ok
from tfmagic.panel import ScopeTree, VariableBrowser, histogram_svg
from tfmagic.tracking import VariableRecord

MODEL = ("%%tfscope layer1\n"
         "w = tf.compat.v1.get_variable('w', initializer=[[1.0, 2.0], [3.0, 4.0]])\n"
         "b = tf.compat.v1.Variable([1, 2], name='b')")

#: An initializer for partitioned variables: each part gets its slice of ``full``.
SLICE_OF = """
import numpy as np
def slice_of(full):
    def initializer(shape, dtype=None, partition_info=None):
        start = partition_info.var_offset
        return full[tuple(slice(s, s + n) for s, n in zip(start, shape))]
    return initializer
"""

#: enc/emb: 0..39 as [10, 4], in 3 parts along rows (4, 3 and 3 rows);
#: enc/cols: 0..11 as [2, 6], in 3 parts along columns.
PARTITIONED = SLICE_OF + """
with tf.compat.v1.variable_scope('enc'):
    emb = tf.compat.v1.get_variable(
        'emb', [10, 4], initializer=slice_of(np.arange(40.0).reshape(10, 4)),
        partitioner=tf.compat.v1.fixed_size_partitioner(3))
    cols = tf.compat.v1.get_variable(
        'cols', [2, 6], initializer=slice_of(np.arange(12.0).reshape(2, 6)),
        partitioner=tf.compat.v1.fixed_size_partitioner(3, axis=1))
"""

#: A partitioned embedding and a matrix, trained one step with Adam in the
#: cell that creates them.
TRAINED = """
with tf.compat.v1.variable_scope('enc'):
    emb = tf.compat.v1.get_variable('emb', [10, 4],
                                    partitioner=tf.compat.v1.fixed_size_partitioner(3))
    W = tf.compat.v1.get_variable('W', [4, 2])
loss = tf.reduce_sum(tf.matmul(tf.nn.embedding_lookup(emb, [1, 5, 9]), W) ** 2)
tf.compat.v1.train.AdamOptimizer(0.1).minimize(loss).run()
"""


def labels(panel):
    return [label for label, _ in panel.tree.options]


def keys(panel):
    return [key for _, key in panel.tree.options]


def ok_in_cell(shell, code: str, cell_id: str):
    """Run ``code`` as the notebook cell ``cell_id`` (the id a front end sends)."""
    result = shell.run_cell(code, store_history=True, cell_id=cell_id)
    assert result.success, repr(result.error_in_exec or result.error_before_exec)
    return result.result


def widgets_in(widget):
    """``widget``'s children, theirs, and every one's layout and style."""
    for child in getattr(widget, 'children', ()):
        yield child
        yield from widgets_in(child)
    for name in ('layout', 'style'):
        if getattr(widget, name, None) is not None:
            yield getattr(widget, name)


def open_panel() -> VariableBrowser:
    """The panel ``%tfpanel`` shows in Jupyter (this shell is no kernel, so
    ``%tfpanel`` itself would print the ``%vars`` table instead)."""
    return tfmagic._magics.open_panel()


@contextlib.contextmanager
def opened() -> Iterator[VariableBrowser]:
    """A panel as ``%tfpanel`` shows it, closed afterwards."""
    panel = open_panel()
    try:
        yield panel
    finally:
        panel.close()


@pytest.fixture
def panel(ip, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ok(ip, MODEL)
    with opened() as panel:
        yield panel


def test_tfpanel_returns_a_browser_of_scopes(panel):
    assert isinstance(panel, VariableBrowser)
    assert labels(panel) == ['▸ layer1/  (2)']
    assert '<b>2</b> variables in <b>1</b> scopes' in panel.summary.value


def test_expanding_a_scope_shows_its_variables_with_marks(ip, panel):
    panel.tree.value = 'scope:layer1'  # what clicking the row does
    cell = ip.execution_count - 1  # the MODEL cell, the last one run
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
    ok(ip, "%%tfscope a-b.c>d\nodd = tf.compat.v1.get_variable('x', [1])\n"
           "parted = tf.compat.v1.get_variable(\n"
           "    'p', [4, 1], partitioner=tf.compat.v1.fixed_size_partitioner(2))")
    panel.select('a-b.c>d/x')
    assert '<b>a-b.c&gt;d/x</b>' in panel.details.value
    panel.select('a-b.c>d/p')
    assert '<td>a-b.c&gt;d/p/part_1</td>' in panel.details.value
    assert 'c>d' not in panel.details.value


def test_several_panels_stay_in_sync_and_closing_unregisters(ip, panel):
    other = open_panel()
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
    with opened() as panel:
        assert len(panel.tree.options) == 100
        assert '<b>2000</b> variables in <b>100</b> scopes' in panel.summary.value
        panel.expand('scope042')
        assert len(panel.tree.options) == 120


def test_histogram_svg_is_plain_svg():
    svg = histogram_svg(np.array([0.0, 1.0, 1.0, 2.0]), bins=4)
    assert svg.startswith('<svg class="tfmagic-histogram"') and svg.count('<rect') == 4
    assert histogram_svg(np.array([np.nan])) == ''


# -- partitioned variables ----------------------------------------------------------------


def test_a_partitioned_variable_is_one_row_counted_once(ip, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ok(ip, PARTITIONED)
    cell = ip.execution_count - 1
    with opened() as panel:
        panel.expand('enc')
        assert labels(panel) == ['▾ enc/  (2)',
                                 f'    cols  [2, 6] float32 ×3 parts  get_variable [{cell}]',
                                 f'    emb  [10, 4] float32 ×3 parts  get_variable [{cell}]']
        assert '<b>2</b> variables in <b>1</b> scopes' in panel.summary.value
        assert len(ok(ip, '%vars')) == 2
        assert '×N parts: one partitioned variable' in panel.summary.value


def test_details_of_a_partitioned_variable_cover_all_its_parts(ip, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ok(ip, PARTITIONED)
    with opened() as panel:
        panel.select('enc/emb')
        details = panel.details.value
        assert '<th>shape</th><td>(10, 4)</td>' in details
        assert '<th>partitions</th><td>3</td>' in details
        assert '<th>size</th><td>40</td>' in details
        assert '<th>min</th><td>0.0</td>' in details and '<th>max</th><td>39.0</td>' in details
        assert '<th>mean</th><td>19.5</td>' in details
        assert '<svg class="tfmagic-histogram"' in details
        assert 'first values: <code>0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, …</code>' \
            in details
        assert ('<table class="tfmagic-parts"><tr><th>part</th><th>shape</th><th>offset</th></tr>'
                '<tr><td>enc/emb/part_0</td><td>[4, 4]</td><td>[0, 0]</td></tr>'
                '<tr><td>enc/emb/part_1</td><td>[3, 4]</td><td>[4, 0]</td></tr>'
                '<tr><td>enc/emb/part_2</td><td>[3, 4]</td><td>[7, 0]</td></tr></table>') in details
        # parts side by side: the values still read row by row of the whole
        panel.select('enc/cols')
        assert ('first values: <code>0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, …</code>'
                in panel.details.value)
        assert '<td>enc/cols/part_2</td><td>[2, 2]</td><td>[0, 4]</td>' in panel.details.value


def test_the_parts_list_names_their_devices(ip, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ok(ip, SLICE_OF + """
with tf.device('/cpu:0'):
    emb = tf.compat.v1.get_variable('emb', [4, 2], initializer=slice_of(np.zeros((4, 2))),
                                    partitioner=tf.compat.v1.fixed_size_partitioner(2))
""")
    with opened() as panel:
        panel.select('emb')
        assert '<th>device</th></tr><tr><td>emb/part_0</td><td>[2, 2]</td><td>[0, 0]</td>' \
               '<td>/device:CPU:0</td></tr>' in panel.details.value


# -- optimizer state ------------------------------------------------------------------------


def test_optimizer_slots_are_rows_under_their_variable(ip, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ok(ip, TRAINED)
    cell = ip.execution_count - 1
    with opened() as panel:
        panel.expand('enc')
        assert labels(panel) == [
            '▾ enc/  (6)',
            f'    W  [4, 2] float32  get_variable [{cell}]',
            f'    ◇ Adam  [4, 2] float32  optimizer slot [{cell}]',
            f'    ◇ Adam_1  [4, 2] float32  optimizer slot [{cell}]',
            f'    emb  [10, 4] float32 ×3 parts  get_variable [{cell}]',
            f'    ◇ Adam  [10, 4] float32 ×3 parts  optimizer slot [{cell}]',
            f'    ◇ Adam_1  [10, 4] float32 ×3 parts  optimizer slot [{cell}]',
            f'◇ beta1_power  [] float32  optimizer state [{cell}]',
            f'◇ beta2_power  [] float32  optimizer state [{cell}]',
        ]
        assert keys(panel)[1:4] == ['var:enc/W', 'var:enc/W/Adam', 'var:enc/W/Adam_1']
        summary = panel.summary.value
        assert '<b>8</b> variables (<b>6</b> optimizer state) in <b>1</b> scopes' in summary
        assert '◇ optimizer state (slots under their variable)' in summary
        assert len(ok(ip, '%vars')) == 8
        panel.select('enc/W/Adam')
        assert '<th>slot_of</th><td>enc/W</td>' in panel.details.value
        panel.select('enc/emb/Adam_1')
        assert panel.details.value.count('<td>enc/emb/part_') == 3
        panel.select('beta1_power')
        assert '<th>min</th><td>0.81</td>' in panel.details.value  # 0.9, times 0.9 per step


def test_a_matching_slot_is_shown_under_its_variable(ip, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ok(ip, TRAINED)
    with opened() as panel:
        panel.filter.value = 'W/Adam_1'
        assert keys(panel) == ['scope:enc', 'var:enc/W', 'var:enc/W/Adam_1']
        assert labels(panel)[2].startswith('    ◇ Adam_1  ')
        panel.filter.value = 'beta*'
        assert keys(panel) == ['var:beta1_power', 'var:beta2_power']


def test_slots_stay_with_their_variable_in_the_tree():
    tree = ScopeTree()
    tree.put(VariableRecord('s/w', (2,), 'float32', 'get_variable'))
    tree.put(VariableRecord('s/w/Momentum', (2,), 'float32', 'get_variable',
                            slot_of='s/w', role='slot'))
    # an optimizer made in a variable scope names its slots in that scope too
    tree.put(VariableRecord('s/s/w/Momentum_1', (2,), 'float32', 'get_variable',
                            slot_of='s/w', role='slot'))
    # a slot whose variable is not listed (in no collection) still shows whose it is
    tree.put(VariableRecord('s/hidden/Momentum', (2,), 'float32', 'get_variable',
                            slot_of='s/hidden', role='slot'))
    assert [label.rstrip() for label, _ in tree.rows({'s'})] == [
        '▾ s/  (4)',
        '  ◇ hidden/Momentum  [2] float32  optimizer slot',
        '    w  [2] float32  get_variable',
        '    ◇ Momentum  [2] float32  optimizer slot',
        '    ◇ Momentum_1  [2] float32  optimizer slot',
    ]
    assert tree.scope_count() == 1 and tree.optimizer_count == 3


# -- a cell's panel is replaced by the next one from that cell --------------------------------


def test_a_new_panel_from_the_same_cell_closes_the_earlier_one(ip, panel):
    hooks = tfmagic._magics.hooks
    panels = [ok_in_cell(ip, 'tfmagic._magics.open_panel()', 'panel-cell') for _ in range(10)]
    *replaced, last = panels
    try:
        assert all(p.comm is None for p in replaced) and last.comm is not None
        live = [p for p in panels if p.refresh in hooks._after_cell]
        assert live == [last]
        ok(ip, "n = tf.compat.v1.get_variable('n', [1])")
        assert [labels(p) for p in panels] == [['▸ layer1/  (2)']] * 9 + [[
            '▸ layer1/  (2)', f'  n  [1] float32  get_variable [{ip.execution_count - 1}]']]
        # a panel shown by another cell is not affected
        assert panel.comm is not None and panel.refresh in hooks._after_cell
    finally:
        last.close()


def test_a_panel_replaces_only_the_panel_of_its_own_cell(ip, panel):
    tracker, magics = tfmagic.tracker(), tfmagic._magics
    def panel_of(cell_id):
        return VariableBrowser(tracker, magics.checkpointer, magics, magics.hooks,
                               cell_id=cell_id)
    first, other = panel_of('a'), panel_of('b')
    second = panel_of('a')
    try:
        assert first.comm is None and other.comm is not None and second.comm is not None
        second.close()
        third = panel_of('a')  # nothing left to replace
        assert other.comm is not None and third.comm is not None
        third.close()
    finally:
        other.close()


def test_closing_a_panel_closes_every_widget_in_it(ip, panel):
    parts = list(widgets_in(panel))
    assert len(parts) > 20 and all(part.comm is not None for part in parts)
    panel.close()
    assert panel.comm is None and [part for part in parts if part.comm is not None] == []
