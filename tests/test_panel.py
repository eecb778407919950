"""%tfpanel on the Python side: the scope tree, incremental refresh, details,
partitioned variables, optimizer state, checkpoint buttons, escaping, several
panels, a cell's panel replaced by the next one from that cell, and closing;
the tree's rows and the toggle messages its front end sends, the filtered
view, labels and legend, Save/Restore feedback, and the static snapshot a
saved notebook shows."""

import contextlib
import html
import shutil
from collections.abc import Iterator

import ipywidgets
import numpy as np
import pytest

import tfmagic
from tests.shell import TRAIN, ok
from tfmagic import hints, marks
from tfmagic import panel as panel_module
from tfmagic.panel import ScopeTree, VariableBrowser, histogram_svg
from tfmagic.tracking import VariableRecord
from tfmagic.treeview import row_text

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

#: Beside MODEL's layer1: layer2/deep/wd and layer2/w2.
NESTED = ("%%tfscope layer2\n"
          "with tf.compat.v1.variable_scope('deep'):\n"
          "    wd = tf.compat.v1.get_variable('wd', [3])\n"
          "w2 = tf.compat.v1.get_variable('w2', [1])")


def labels(panel):
    """The tree's rows as the page shows them, one line each."""
    return panel.tree.texts()


def keys(panel):
    return [row['key'] for row in panel.tree.rows]


def depths(panel):
    return [row['depth'] for row in panel.tree.rows]


def outline(rows):
    """Rows as text, indented two spaces per level."""
    return ['  ' * row['depth'] + row_text(row) for row in rows]


def toggle(panel, key, opened):
    """What clicking a scope's twisty (or → / ←) sends from the page."""
    panel.tree._handle_message(None, {'event': 'toggle', 'key': key, 'open': opened}, [])


def legend(panel):
    """The text of the panel's legend widget."""
    found = [w.value for w in widgets_in(panel) if isinstance(w, ipywidgets.HTML)
             and w.value.startswith('<div class="tfmagic-legend">')]
    assert len(found) == 1
    return found[0]


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
    assert labels(panel) == ['▸ layer1/  2 variables']
    assert panel.tree.rows[0]['kind'] == 'scope' and panel.tree.rows[0]['open'] is False
    assert panel.summary.value == '2 variables in 1 scope'


def test_the_toggle_message_opens_and_closes_a_scope(ip, panel):
    toggle(panel, 'scope:layer1', True)  # what clicking the row's twisty sends
    cell = ip.execution_count - 1  # the MODEL cell, the last one run
    assert labels(panel) == ['▾ layer1/  2 variables',
                             f'⊘ b  [2]  int32  tf.Variable  cell {cell}',
                             f'  w  [2, 2]  float32  get_variable  cell {cell}']
    assert keys(panel) == ['scope:layer1', 'var:layer1/b', 'var:layer1/w']
    assert depths(panel) == [0, 1, 1]
    toggle(panel, 'scope:layer1', True)  # opening an open scope changes nothing
    assert len(labels(panel)) == 3
    toggle(panel, 'scope:layer1', False)
    assert labels(panel) == ['▸ layer1/  2 variables']


def test_toggling_nested_scopes_in_the_unfiltered_view(ip, panel):
    ok(ip, NESTED)
    toggle(panel, 'scope:layer2', True)
    assert outline(panel.tree.rows)[1:] == [
        '▾ layer2/  2 variables', '  ▸ deep/  1 variable',
        f'    w2  [1]  float32  get_variable  cell {ip.execution_count - 1}']
    toggle(panel, 'scope:layer2/deep', True)
    assert keys(panel) == ['scope:layer1', 'scope:layer2', 'scope:layer2/deep',
                           'var:layer2/deep/wd', 'var:layer2/w2']
    assert depths(panel) == [0, 0, 1, 2, 1]
    # closing the outer scope hides the inner one; reopening it shows it as it was
    toggle(panel, 'scope:layer2', False)
    assert keys(panel) == ['scope:layer1', 'scope:layer2']
    toggle(panel, 'scope:layer2', True)
    assert keys(panel)[-3:] == ['scope:layer2/deep', 'var:layer2/deep/wd', 'var:layer2/w2']


def test_refreshes_after_every_cell_with_new_variables_and_reuses(ip, panel):
    panel.expand('layer1')
    cell = ip.execution_count - 1
    ok(ip, "%%tfscope layer1 --reuse\nagain = tf.compat.v1.get_variable('w')")
    assert labels(panel)[2] == f'↻ w  [2, 2]  float32  get_variable  cell {cell}  shared ×1'
    ok(ip, "%%tfscope layer2/deep\nv = tf.compat.v1.get_variable('v', [3])")
    assert labels(panel)[0] == '▾ layer1/  2 variables'
    assert labels(panel)[-1] == '▸ layer2/  1 variable'
    panel.expand('layer2')
    assert outline(panel.tree.rows)[-1] == '  ▸ deep/  1 variable'
    assert panel.summary.value == '3 variables in 3 scopes'


def test_tfreset_empties_it(ip, panel):
    panel.select('layer1/w')
    ok(ip, '%tfreset')
    assert labels(panel) == [] and panel.tree.selected is None
    assert panel.summary.value == '0 variables in 0 scopes'
    assert 'Select a variable' in panel.details.value


def test_details_show_every_column_stats_histogram_and_first_values(panel):
    panel.select('layer1/w')
    assert panel.tree.selected == 'var:layer1/w'
    details = panel.details.value
    for column in ('name', 'scope', 'shape', 'dtype', 'trainable', 'created_by', 'created_in',
                   'reuses', 'reused_in', 'reuse_status', 'initialized',
                   'size', 'nbytes', 'min', 'max', 'mean', 'std'):
        assert f'<th>{column}</th>' in details
    assert '<th>min</th><td>1.0</td>' in details and '<th>max</th><td>4.0</td>' in details
    assert '<th>mean</th><td>2.5</td>' in details
    assert '<svg class="tfmagic-histogram"' in details
    assert 'first values: <code>1.0, 2.0, 3.0, 4.0</code>' in details


def test_selecting_a_row_shows_its_details(panel):
    panel.tree.selected = 'var:layer1/b'  # what clicking the row does
    assert panel.details.value.startswith('<b>layer1/b</b>')
    assert '<th>dtype</th><td>int32</td>' in panel.details.value


def test_details_follow_new_values(ip, panel):
    panel.select('layer1/w')
    ok(ip, 'tf.compat.v1.get_default_session().run(w.assign([[0.0, 0.0], [0.0, 9.0]]))')
    assert '<th>max</th><td>9.0</td>' in panel.details.value


def test_an_integer_variable_has_integer_min_and_max(ip, panel):
    panel.select('layer1/b')  # int32 [1, 2]
    details = panel.details.value
    assert '<th>min</th><td>1</td>' in details and '<th>max</th><td>2</td>' in details
    assert '<th>mean</th><td>1.5</td>' in details  # the mean is no integer
    assert 'first values: <code>1, 2</code>' in details
    ok(ip, "big = tf.compat.v1.get_variable('big', initializer=tf.constant([-7, 123456789],"
           " dtype=tf.int64))")
    panel.select('big')
    details = panel.details.value
    assert '<th>min</th><td>-7</td>' in details
    assert '<th>max</th><td>123456789</td>' in details


def test_selecting_a_scope_shows_its_summary(ip, panel):
    ok(ip, NESTED)
    panel.tree.selected = 'scope:layer2'
    assert panel.details.value == (
        '<b>layer2/</b><div>2 variables in it and below; 1 scope directly under it.</div>'
        '<i>→ opens it, ← closes it, Enter or a click opens or closes it.</i>')
    panel.tree.selected = 'scope:layer2/deep'
    assert panel.details.value.startswith(
        '<b>layer2/deep/</b><div>1 variable in it and below; 0 scopes directly under it.</div>')
    assert labels(panel)[1] == '▸ layer2/  2 variables'  # selecting does not open it
    panel.tree.selected = 'var:layer1/w'
    assert panel.details.value.startswith('<b>layer1/w</b>')


def test_a_selected_scope_keeps_its_details_after_a_cell(ip, panel):
    panel.select('layer1/w')
    panel.tree.selected = 'scope:layer1'
    ok(ip, "%%tfscope layer1\nmore = tf.compat.v1.get_variable('more', [1])")
    assert panel.details.value.startswith(
        '<b>layer1/</b><div>3 variables in it and below;')  # its new count, not w's details


def test_an_int64_beyond_float_precision_shows_exact_min_and_max(ip, panel):
    ok(ip, "big = tf.compat.v1.get_variable('big', initializer=tf.constant("
           "[2**60 + 1, 2**60 + 3], dtype=tf.int64))")
    panel.select('big')
    details = panel.details.value
    assert '<th>min</th><td>1152921504606846977</td>' in details
    assert '<th>max</th><td>1152921504606846979</td>' in details
    assert 'all 2 values are' not in details  # two values, not one rounded value
    same = np.array([2**60 + 1] * 3, dtype=np.int64)
    assert 'all 3 values are 1152921504606846977' in histogram_svg(same)


def test_a_reset_reopens_the_scopes_closed_in_the_filtered_view(ip, panel):
    panel.filter.value = 'w'
    toggle(panel, 'scope:layer1', False)
    assert labels(panel) == ['▸ layer1/  1 of 2 variables']
    ok(ip, '%tfreset')
    ok(ip, MODEL)
    assert labels(panel)[0] == '▾ layer1/  1 of 2 variables'


def test_messages_that_are_no_toggle_of_a_known_scope_change_nothing(ip, panel):
    for content in ('toggle', ['toggle'], None, 7):
        panel.tree._handle_message(None, content, [])  # ignored, no error
    toggle(panel, 'scope:later', True)  # no such scope yet: not remembered as opened
    ok(ip, "%%tfscope later\nx = tf.compat.v1.get_variable('x', [1])")
    assert '▸ later/  1 variable' in labels(panel)


def test_filter_by_substring_and_glob(ip, panel):
    ok(ip, "%%tfscope layer2\nbias = tf.compat.v1.get_variable('bias', [1])")
    panel.filter.value = 'B'
    assert keys(panel) == ['scope:layer1', 'var:layer1/b', 'scope:layer2', 'var:layer2/bias']
    assert panel.summary.value == '<b>2</b> of 3 variables match <code>B</code>'
    panel.filter.value = '*/w'
    assert keys(panel) == ['scope:layer1', 'var:layer1/w']
    assert labels(panel)[0] == '▾ layer1/  1 of 2 variables'
    panel.filter.value = 'nothing'
    assert panel.tree.rows == []
    assert panel.summary.value == '<b>0</b> of 3 variables match <code>nothing</code>'
    panel.filter.value = ''
    assert labels(panel) == ['▸ layer1/  2 variables', '▸ layer2/  1 variable']
    assert panel.summary.value == '3 variables in 2 scopes'


def test_filtered_summary_and_counts_per_scope(ip, panel):
    ok(ip, TRAIN)
    cell = ip.execution_count - 1
    assert panel.summary.value == '8 variables (4 optimizer state) in 2 scopes'
    panel.filter.value = 'adam'
    assert panel.summary.value == '<b>2</b> of 8 variables match <code>adam</code>'
    # enc/W does not match, so its matching slots stand alone, named after it
    assert labels(panel) == ['▾ enc/  2 of 3 variables',
                             f'◇ W/Adam  [2, 1]  float32  optimizer slot  cell {cell}',
                             f'◇ W/Adam_1  [2, 1]  float32  optimizer slot  cell {cell}']
    assert depths(panel) == [0, 1, 1]
    assert panel.tree.rows[0]['title'] == 'enc/: 2 of 3 variables'
    panel.filter.value = '  <i>dam '  # surrounding blanks do not count; the text is escaped
    assert panel.summary.value == ('<b>0</b> of 8 variables match '
                                   '<code>&lt;i&gt;dam</code>')
    panel.filter.value = 'a'  # layer1/*, the slots, beta1/2_power, global_step
    assert panel.summary.value == '<b>7</b> of 8 variables match <code>a</code>'
    assert [text for text in labels(panel) if text.endswith('variables')] == [
        '▾ enc/  2 of 3 variables', '▾ layer1/  2 of 2 variables']


def test_closing_and_reopening_a_scope_in_the_filtered_view(ip, panel):
    ok(ip, NESTED)
    panel.expand('layer1')  # the unfiltered view's own open scopes
    panel.filter.value = 'w'
    everything = ['▾ layer1/  1 of 2 variables', 'w', '▾ layer2/  2 of 2 variables',
                  '▾ deep/  1 of 1 variable', 'wd', 'w2']
    names = [row_text(row) if row['kind'] == 'scope' else row['name'] for row in panel.tree.rows]
    assert names == everything and depths(panel) == [0, 1, 0, 1, 2, 1]
    summary = panel.summary.value
    assert summary == '<b>3</b> of 4 variables match <code>w</code>'
    toggle(panel, 'scope:layer2', False)
    assert labels(panel)[2:] == ['▸ layer2/  2 of 2 variables']  # deep is hidden with it
    assert panel.summary.value == summary  # closing hides rows, not matches
    toggle(panel, 'scope:layer2/deep', False)
    toggle(panel, 'scope:layer2', True)
    assert keys(panel)[2:] == ['scope:layer2', 'scope:layer2/deep', 'var:layer2/w2']
    assert labels(panel)[3] == '▸ deep/  1 of 1 variable'
    toggle(panel, 'scope:layer2/deep', True)
    assert len(labels(panel)) == 6
    toggle(panel, 'scope:layer1', False)
    assert keys(panel)[:2] == ['scope:layer1', 'scope:layer2']
    panel.filter.value = 'W'  # another filter: every scope open again
    assert len(labels(panel)) == 6 and labels(panel)[0] == '▾ layer1/  1 of 2 variables'
    panel.filter.value = ''  # the unfiltered view is as it was left
    assert keys(panel) == ['scope:layer1', 'var:layer1/b', 'var:layer1/w', 'scope:layer2']


def test_bad_toggle_messages_change_nothing(ip, panel):
    ok(ip, NESTED)
    panel.expand('layer1')
    for text in ('', 'w'):
        panel.filter.value = text
        rows, summary = panel.tree.rows, panel.summary.value
        for message in ({'event': 'toggle', 'open': True},  # no key
                        {'event': 'toggle', 'key': None, 'open': True},
                        {'event': 'toggle', 'key': 3, 'open': False},
                        {'event': 'toggle', 'key': ['scope:layer1'], 'open': False},
                        {'event': 'toggle', 'key': 'var:layer1/w', 'open': False},
                        {'event': 'toggle', 'key': 'more:', 'open': False},
                        {'event': 'toggle', 'key': 'layer1', 'open': False},  # no kind
                        {'event': 'toggle', 'key': 'bogus:layer1', 'open': False},
                        {'event': 'select', 'key': 'scope:layer1', 'open': False},
                        {'key': 'scope:layer1', 'open': False},  # no event
                        {}):
            panel.tree._handle_message(None, message, [])
            assert panel.tree.rows == rows, message
            assert panel.summary.value == summary, message
    panel.filter.value = ''
    assert keys(panel)[:3] == ['scope:layer1', 'var:layer1/b', 'var:layer1/w']


def test_filter_limits_rows():
    tree = ScopeTree()
    for i in range(30):
        tree.put(VariableRecord(f's/v{i:02d}', (1,), 'float32', 'get_variable'))
    rows, matched = tree.matching('v', limit=10)
    assert matched == 30 and len(rows) == 12
    assert rows[0]['key'] == 'scope:s' and row_text(rows[0]) == '▾ s/  30 of 30 variables'
    assert rows[-1]['kind'] == 'more' and rows[-1]['key'] == 'more:'
    assert rows[-1]['name'] == '… and 20 more matches: narrow the filter'
    # rows under a closed scope are not "more matches": they are only folded away
    rows, matched = tree.matching('v', closed={'s'}, limit=10)
    assert matched == 30 and [row_text(row) for row in rows] == ['▸ s/  30 of 30 variables']


def test_row_labels_and_what_they_say_on_hover(ip, panel):
    made = ip.execution_count - 1
    ok(ip, "%%tfscope layer1 --reuse\nagain = tf.compat.v1.get_variable('w')")
    first = ip.execution_count - 1
    ok(ip, "%%tfscope layer1 --reuse\nagain = tf.compat.v1.get_variable('w')")
    second = ip.execution_count - 1
    panel.expand('layer1')
    scope, b, w = panel.tree.rows
    assert scope['title'] == 'layer1/: 2 variables' and scope['cols'] == [
        ('count', '2 variables', '')]
    assert b['kind'] == 'variable' and b['mark'] == '⊘'
    assert b['mark_title'] == 'a tf.Variable: get_variable cannot share it'
    assert b['title'] == f'layer1/b  [2]  int32  tf.Variable  cell {made}'
    assert w['mark'] == '↻'
    assert w['mark_title'] == 'shared: get_variable with reuse=True returned it again'
    assert w['cols'] == [('shape', '[2, 2]', ''), ('dtype', 'float32', ''),
                         ('origin', 'get_variable', ''),
                         ('cell', f'cell {made}', f'created in cell {made}'),
                         ('shared', 'shared ×2',
                          f'reused 2 times with reuse=True (cell {first}, {second})')]
    assert w['title'] == (f'layer1/w  [2, 2]  float32  get_variable  cell {made}  shared ×2')
    ok(ip, "plain = tf.compat.v1.get_variable('plain', [1])")
    row = panel.tree.rows[-1]
    assert row['name'] == 'plain' and row['mark'] == '' and row['mark_title'] == ''
    assert labels(panel)[-1].startswith('  plain  [1]  float32  get_variable  cell ')


def test_labels_of_parts_and_optimizer_state(ip, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ok(ip, TRAINED)
    cell = ip.execution_count - 1
    with opened() as panel:
        panel.expand('enc')
        rows = {row['key']: row for row in panel.tree.rows}
        emb = rows['var:enc/emb']
        assert ('parts', '×3 parts', 'one partitioned variable, stored in 3 parts') in emb['cols']
        assert emb['title'] == f'enc/emb  [10, 4]  float32  ×3 parts  get_variable  cell {cell}'
        slot = rows['var:enc/W/Adam']
        assert slot['kind'] == 'slot' and slot['mark'] == '◇'
        assert slot['mark_title'] == "an optimizer's state"
        assert slot['title'] == f'enc/W/Adam  [4, 2]  float32  optimizer slot  cell {cell}'
        power = rows['var:beta1_power']
        assert power['kind'] == 'optimizer' and power['mark_title'] == "an optimizer's state"


def test_the_legend_explains_marks_and_labels(panel):
    text = legend(panel)
    for part in ('↻ shared by get_variable(reuse=True)', '⊘ tf.Variable, cannot be shared',
                 '◇ optimizer state, slots under their variable',
                 '×N parts: one partitioned variable', 'cell N: the cell that created it',
                 'shared ×N: reused N times'):
        assert part in text
    assert '↻' not in panel.summary.value  # the summary is only the counts


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


def test_no_checkpoints_says_so_until_a_save(ip, panel, tmp_path):
    assert panel.ckpt_list.layout.display == 'none' and panel.ckpt_list.options == ()
    assert panel.ckpt_empty.value == ('<i>No checkpoints in checkpoints/ yet: '
                                      'Save writes checkpoints/model.</i>')
    panel.save()
    assert panel.ckpt_empty.value == '' and panel.ckpt_list.layout.display is None
    assert len(panel.ckpt_list.options) == 1
    shutil.rmtree(tmp_path / 'checkpoints')
    ok(ip, 'pass')  # a cell: the panel notices the checkpoint is gone
    assert panel.ckpt_list.layout.display == 'none' and panel.ckpt_list.options == ()
    assert 'No checkpoints in checkpoints/ yet' in panel.ckpt_empty.value


def watch_checkpoint_controls(panel):
    """Every change of the checkpoint controls' ``disabled`` and of the
    message, in order, as ``(what, new value)``."""
    seen = []
    controls = {'save': panel.save_button, 'restore': panel.restore_button,
                'prefix': panel.ckpt_prefix, 'list': panel.ckpt_list}
    for what, control in controls.items():
        control.observe(lambda change, what=what: seen.append((what, change['new'])),
                        'disabled')
    panel.ckpt_message.observe(lambda change: seen.append(('message', change['new'])), 'value')
    return seen


def busy_then(result_check, seen, doing):
    """``seen`` is: every control disabled, the busy note, the result, every
    control enabled."""
    disabled = [('save', True), ('restore', True), ('prefix', True), ('list', True)]
    enabled = [('save', False), ('restore', False), ('prefix', False), ('list', False)]
    assert seen[:4] == disabled
    assert seen[4] == ('message', f'<div class="tfmagic-busy">{doing}</div>')
    assert seen[5][0] == 'message' and result_check(seen[5][1])
    assert seen[6:] == enabled


def test_save_disables_the_controls_and_says_what_it_does(panel):
    seen = watch_checkpoint_controls(panel)
    panel.save()
    busy_then(lambda message: message.startswith('<div class="tfmagic-ok">Saved 2 variables'),
              seen, 'Saving checkpoints/model…')
    seen.clear()
    panel.ckpt_prefix.value = '  checkpoints/other  '
    panel.save_button.click()
    busy_then(lambda message: 'tfmagic-ok' in message, seen, 'Saving checkpoints/other…')


def test_restore_disables_the_controls_and_says_what_it_does(ip, panel):
    panel.save()
    seen = watch_checkpoint_controls(panel)
    panel.restore()
    busy_then(lambda message: message == ('<div class="tfmagic-ok">Restored 2 variables from '
                                          'checkpoints/model.</div>'),
              seen, 'Restoring the latest checkpoint…')
    seen.clear()
    panel.ckpt_list.value = 'checkpoints/model'
    panel.restore_button.click()
    busy_then(lambda message: 'Restored 2 variables' in message, seen,
              'Restoring checkpoints/model…')


def test_a_failed_save_or_restore_enables_the_controls_again(ip, panel):
    seen = watch_checkpoint_controls(panel)
    panel.restore()  # nothing saved yet
    busy_then(lambda message: message.startswith('<div class="tfmagic-error">no checkpoint'),
              seen, 'Restoring the latest checkpoint…')
    panel.save()
    ok(ip, '%tfreset')
    ok(ip, "x = tf.compat.v1.get_variable('x', [1])")
    seen.clear()
    panel.restore()  # a checkpoint of other variables
    busy_then(lambda message: 'tfmagic-error' in message and 'nothing was restored' in message,
              seen, 'Restoring the latest checkpoint…')
    seen.clear()
    panel.save()  # checkpoints/model holds the other variables
    busy_then(lambda message: 'already holds a different checkpoint' in message, seen,
              'Saving checkpoints/model…')
    assert not any(control.disabled for control in (
        panel.save_button, panel.restore_button, panel.ckpt_prefix, panel.ckpt_list))


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
    panel.tree.selected = 'scope:a-b.c>d'
    assert panel.details.value.startswith('<b>a-b.c&gt;d/</b>')
    # the tree's rows are data, which the page writes as text
    assert '▸ a-b.c>d/  2 variables' in labels(panel)


def test_several_panels_stay_in_sync_and_closing_unregisters(ip, panel):
    other = open_panel()
    hooks = tfmagic._magics.hooks
    assert hooks._after_cell.count(panel.refresh) == 1 and other.refresh in hooks._after_cell
    ok(ip, "n = tf.compat.v1.get_variable('n', [1])")
    assert labels(panel) == labels(other) == [
        '▸ layer1/  2 variables', f'  n  [1]  float32  get_variable  cell {ip.execution_count - 1}']
    other.save_button.click()
    assert panel.ckpt_list.options == other.ckpt_list.options != ()
    assert panel.ckpt_empty.value == ''  # the other panel's save shows here too
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
        assert len(panel.tree.rows) == 100
        assert panel.summary.value == '2,000 variables in 100 scopes'  # thousands separated
        panel.expand('scope042')
        assert len(panel.tree.rows) == 120
        panel.filter.value = 'v00'  # v000 to v009 of every scope
        assert panel.summary.value == '<b>1,000</b> of 2,000 variables match <code>v00</code>'
        assert len(panel.tree.rows) == 1100
        assert labels(panel)[0] == '▾ scope000/  10 of 20 variables'


def test_thousands_in_a_scope_row_and_the_more_row():
    tree = ScopeTree()
    for i in range(1012):
        tree.put(VariableRecord(f's/v{i:04d}', (1,), 'float32', 'get_variable'))
    assert [row_text(row) for row in tree.rows(set())] == ['▸ s/  1,012 variables']
    rows, matched = tree.matching('v', limit=10)
    assert matched == 1012 and row_text(rows[0]) == '▾ s/  1,012 of 1,012 variables'
    assert rows[-1]['name'] == '… and 1,002 more matches: narrow the filter'


def test_histogram_svg_is_plain_svg():
    svg = histogram_svg(np.array([0.0, 1.0, 1.0, 2.0]), bins=4)
    assert svg.startswith('<svg class="tfmagic-histogram"') and svg.count('<rect') == 4
    assert histogram_svg(np.array([np.nan])) == ''


def test_the_histogram_of_one_value_is_one_labelled_bar():
    svg = histogram_svg(np.array([3, 3, 3], dtype=np.int32))
    assert svg.count('<rect') == 1
    assert '<title>all 3 values are 3</title>' in svg and '>all 3 values are 3</text>' in svg
    assert '-0.5' not in svg and '0.5' not in svg and '3.0' not in svg
    svg = histogram_svg(np.array([2.5, np.nan, 2.5]))  # the NaN is left out
    assert svg.count('<rect') == 1 and 'all 2 values are 2.5' in svg
    svg = histogram_svg(np.array([7.0]))
    assert svg.count('<rect') == 1 and 'one value: 7.0' in svg and 'all' not in svg
    svg = histogram_svg(np.zeros(1500))
    assert 'all 1,500 values are 0.0' in svg and '-0.5' not in svg


def test_details_of_a_scalar_show_its_one_value(ip, panel):
    ok(ip, TRAIN)  # three steps: global_step is 3
    panel.select('global_step')
    details = panel.details.value
    assert '<th>min</th><td>3</td>' in details and '<th>max</th><td>3</td>' in details
    assert details.count('<rect') == 1 and 'one value: 3' in details
    assert '-0.5' not in details and '3.5' not in details


# -- what a saved notebook shows ----------------------------------------------------------


def test_the_snapshot_shows_the_whole_tree_as_text(ip, panel):
    ok(ip, TRAIN)
    cell = ip.execution_count - 1
    panel.filter.value = 'adam'  # neither the filter nor closed scopes matter
    bundle = panel._repr_mimebundle_()
    assert bundle['application/vnd.jupyter.widget-view+json']['model_id'] == panel.model_id
    note = 'a snapshot from when the panel was shown: run the cell to browse live'
    summary = '8 variables (4 optimizer state) in 2 scopes'
    lines = ['▾ enc/  3 variables',
             f'│     W  [2, 1]  float32  get_variable  cell {cell}',
             f'│   │   ◇ Adam  [2, 1]  float32  optimizer slot  cell {cell}',
             f'│   │   ◇ Adam_1  [2, 1]  float32  optimizer slot  cell {cell}',
             '▾ layer1/  2 variables',
             f'│   ⊘ b  [2]  int32  tf.Variable  cell {cell - 1}',
             f'│     w  [2, 2]  float32  get_variable  cell {cell - 1}',
             f'◇ beta1_power  []  float32  optimizer state  cell {cell}',
             f'◇ beta2_power  []  float32  optimizer state  cell {cell}',
             f'  global_step  []  int64  get_variable  cell {cell}']
    legend = marks.LEGEND  # what the marks mean, under the tree
    assert bundle['text/plain'] == '\n'.join([f'{summary} ({note})', *lines, legend])
    assert bundle['text/html'] == (f'<div class="tfmagic-snapshot"><p><b>{summary}</b> '
                                   f'<i>({note})</i></p><pre>' + '\n'.join(lines)
                                   + f'</pre><p><small>{legend}</small></p></div>')


def test_the_snapshot_escapes_names(ip, panel):
    ok(ip, "%%tfscope a-b.c>d\nodd = tf.compat.v1.get_variable('x>y', [1])")
    bundle = panel._repr_mimebundle_()
    html, text = bundle['text/html'], bundle['text/plain']
    assert '▾ a-b.c&gt;d/  1 variable' in html and '  x&gt;y  [1]  float32' in html
    assert 'c>d' not in html and 'x>y' not in html
    assert '▾ a-b.c>d/  1 variable' in text and '  x>y  [1]  float32' in text


def test_the_snapshot_has_at_most_so_many_rows(ip, ws, monkeypatch):
    import tensorflow as tf
    rows = panel_module.SNAPSHOT_ROWS
    with ws.activate():
        for v in range(rows + 1):
            tf.compat.v1.get_variable(f'v{v:03d}', [1])
    with opened() as panel:
        *text, legend = panel._repr_mimebundle_()['text/plain'].split('\n')
        assert legend == marks.LEGEND
        assert len(text) == 1 + rows + 1 and text[-1] == '…'
        assert text[0].startswith(f'{rows + 1} variables in 0 scopes')
        assert text[-2].startswith(f'  v{rows - 1:03d}  [1]')
        assert f'{text[-2]}\n…</pre>' in panel._repr_mimebundle_()['text/html']
        monkeypatch.setattr(panel_module, 'SNAPSHOT_ROWS', rows + 1)
        *text, _ = panel._repr_mimebundle_()['text/plain'].split('\n')
        assert len(text) == 1 + rows + 1 and text[-1].startswith(f'  v{rows:03d}  [1]')


# -- partitioned variables ----------------------------------------------------------------


def test_a_partitioned_variable_is_one_row_counted_once(ip, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ok(ip, PARTITIONED)
    cell = ip.execution_count - 1
    with opened() as panel:
        panel.expand('enc')
        assert labels(panel) == ['▾ enc/  2 variables',
                                 f'  cols  [2, 6]  float32  ×3 parts  get_variable  cell {cell}',
                                 f'  emb  [10, 4]  float32  ×3 parts  get_variable  cell {cell}']
        assert depths(panel) == [0, 1, 1]
        assert panel.summary.value == '2 variables in 1 scope'
        assert len(ok(ip, '%vars')) == 2
        assert '×N parts: one partitioned variable' in legend(panel)


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
        assert outline(panel.tree.rows) == [
            '▾ enc/  6 variables',
            f'    W  [4, 2]  float32  get_variable  cell {cell}',
            f'    ◇ Adam  [4, 2]  float32  optimizer slot  cell {cell}',
            f'    ◇ Adam_1  [4, 2]  float32  optimizer slot  cell {cell}',
            f'    emb  [10, 4]  float32  ×3 parts  get_variable  cell {cell}',
            f'    ◇ Adam  [10, 4]  float32  ×3 parts  optimizer slot  cell {cell}',
            f'    ◇ Adam_1  [10, 4]  float32  ×3 parts  optimizer slot  cell {cell}',
            f'◇ beta1_power  []  float32  optimizer state  cell {cell}',
            f'◇ beta2_power  []  float32  optimizer state  cell {cell}',
        ]
        assert keys(panel)[1:4] == ['var:enc/W', 'var:enc/W/Adam', 'var:enc/W/Adam_1']
        assert depths(panel)[1:4] == [1, 2, 2]
        assert panel.summary.value == '8 variables (6 optimizer state) in 1 scope'
        assert '◇ optimizer state, slots under their variable' in legend(panel)
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
        panel.filter.value = 'enc/W*'  # enc/W and its slots
        assert keys(panel) == ['scope:enc', 'var:enc/W', 'var:enc/W/Adam', 'var:enc/W/Adam_1']
        assert depths(panel) == [0, 1, 2, 2]
        assert labels(panel)[2].startswith('◇ Adam  ')
        assert labels(panel)[0] == '▾ enc/  3 of 6 variables'
        # a slot whose variable does not match is named after it
        panel.filter.value = 'W/Adam_1'
        assert keys(panel) == ['scope:enc', 'var:enc/W/Adam_1']
        assert depths(panel) == [0, 1]
        assert labels(panel)[1].startswith('◇ W/Adam_1  [4, 2]  float32  optimizer slot')
        assert labels(panel)[0] == '▾ enc/  1 of 6 variables'
        panel.filter.value = 'beta*'
        assert keys(panel) == ['var:beta1_power', 'var:beta2_power']
        assert panel.summary.value == '<b>2</b> of 8 variables match <code>beta*</code>'


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
    expected = [
        '▾ s/  4 variables',
        '  ◇ hidden/Momentum  [2]  float32  optimizer slot',
        '    w  [2]  float32  get_variable',
        '    ◇ Momentum  [2]  float32  optimizer slot',
        '    ◇ Momentum_1  [2]  float32  optimizer slot',
    ]
    assert outline(tree.rows({'s'})) == expected
    assert outline(tree.rows(None)) == expected  # None: every scope open
    assert outline(tree.rows(set())) == ['▸ s/  4 variables']
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
        assert [labels(p) for p in panels] == [['▸ layer1/  2 variables']] * 9 + [[
            '▸ layer1/  2 variables',
            f'  n  [1]  float32  get_variable  cell {ip.execution_count - 1}']]
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
    assert panel.tree in parts
    panel.close()
    assert panel.comm is None and [part for part in parts if part.comm is not None] == []


def test_the_graph_view_draws_the_selected_scope(ip, panel, monkeypatch):
    assert panel.view.options == ('Details', 'Graph') and panel.view.value == 'Details'
    panel.view.value = 'Graph'  # nothing selected: the whole graph, as %tfgraph draws it
    details = panel.details.value
    assert details.startswith('<div class="tfmagic-graph"><code>%tfgraph</code>')
    assert '<svg' in details and '<?xml' not in details and '>layer1/</text>' in details
    panel.tree.selected = 'scope:layer1'  # the scope, as %tfgraph layer1 draws it
    details = panel.details.value
    assert '<code>%tfgraph layer1</code>' in details
    assert '>⊘ b</text>' in details and '>↻ w</text>' not in details and '>w</text>' in details
    panel.select('layer1/w')  # a variable: its scope's graph
    assert '<code>%tfgraph layer1</code>' in panel.details.value
    ok(ip, "%%tfscope layer1\nlater = tf.compat.v1.get_variable('later', [1])")
    assert '>later</text>' in panel.details.value  # redrawn after the cell
    drawn = panel.details.value
    ok(ip, 'pass')  # nothing new in the graph: the picture is not drawn again
    assert panel.details.value is drawn or panel.details.value == drawn
    monkeypatch.setenv('PATH', '/nonexistent')
    panel.tree.selected = 'scope:layer1'  # the same picture: not drawn again
    assert '>later</text>' in panel.details.value
    ok(ip, "%%tfscope layer1\nnewer = tf.compat.v1.get_variable('newer', [1])")
    assert panel.details.value == (
        '<div class="tfmagic-error">' + html.escape(hints.DOT_MISSING) + '</div>')
    panel.view.value = 'Details'
    assert panel.details.value.startswith('<b>layer1/</b>')


def test_the_prefix_box_follows_the_checkpoint_directory_unless_edited(ip, panel):
    assert panel.ckpt_prefix.value == 'checkpoints/model'
    ok(ip, "%config TFMagic.checkpoint_dir = 'elsewhere'")
    try:
        assert panel.ckpt_prefix.value == 'elsewhere/model'
        assert 'Save writes elsewhere/model.' in panel.ckpt_empty.value
        panel.ckpt_prefix.value = 'mine/run1'  # the user's own: kept from now on
        ok(ip, "%config TFMagic.checkpoint_dir = 'third'")
        assert panel.ckpt_prefix.value == 'mine/run1'
        assert 'No checkpoints in third/ yet: Save writes mine/run1.' in panel.ckpt_empty.value
    finally:
        ok(ip, "%config TFMagic.checkpoint_dir = 'checkpoints'")
