"""%tfpanel and devices: every variable's details say where it lives, and
the tree can be grouped by device (one node per device, the scope tree of
its variables under it; a partitioned variable under each device holding
parts), with filtering, opening and closing, selection and the saved
snapshot following the grouping; a value the session cannot read (a
variable on a parameter server the local session does not have) is said in
the details, not raised."""

import html

import pytest

from tests.shell import ok
from tests.test_panel import keys, labels, opened, outline, toggle
from tfmagic import marks
from tfmagic.panel import ScopeTree
from tfmagic.tracking import VariableRecord
from tfmagic.treeview import row_text

CPU = '/device:CPU:0'  # what TensorFlow makes of tf.device('/cpu:0')
PS0, PS1 = '/job:ps/task:0', '/job:ps/task:1'

#: enc/w and enc/emb (2 parts) on the CPU; enc/bias and step on no device.
PLACED = """
with tf.device('/cpu:0'):
    with tf.compat.v1.variable_scope('enc'):
        w = tf.compat.v1.get_variable('w', initializer=[[1.0, 2.0], [3.0, 4.0]])
        emb = tf.compat.v1.get_variable('emb', [4, 2],
                                        partitioner=tf.compat.v1.fixed_size_partitioner(2))
with tf.compat.v1.variable_scope('enc'):
    bias = tf.compat.v1.get_variable('bias', [2])
step = tf.compat.v1.get_variable('step', [], dtype=tf.int64)
"""

#: Placed as on a cluster: enc/emb's 3 parts round-robin on two parameter
#: servers (parts 0 and 2 on task 0, part 1 on task 1), then enc/w on task 1;
#: step on no device. The local session has no such devices: nothing of
#: this graph can run in it.
ON_PARAMETER_SERVERS = """
with tf.compat.v1.device(tf.compat.v1.train.replica_device_setter(ps_tasks=2)):
    with tf.compat.v1.variable_scope('enc'):
        emb = tf.compat.v1.get_variable('emb', [6, 2],
                                        partitioner=tf.compat.v1.fixed_size_partitioner(3))
        w = tf.compat.v1.get_variable('w', [2])
step = tf.compat.v1.get_variable('step', [], dtype=tf.int64)
"""

NOT_PLACED = html.escape("not placed (the session's default device)")


def by_device(panel):
    panel.group_by.value = 'Device'  # what clicking the Device button does


def placed_cell(panel) -> int:
    """The cell that made the variables (each test makes them in one)."""
    return panel._tracker.find('step').created_in


@pytest.fixture
def placed(ip, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ok(ip, PLACED)
    with opened() as panel:
        yield panel


@pytest.fixture
def on_parameter_servers(ip, tmp_path, monkeypatch):
    """A panel on :data:`ON_PARAMETER_SERVERS`, built without initializing
    it (the initializers cannot run here either)."""
    monkeypatch.chdir(tmp_path)
    ok(ip, '%config TFMagic.auto_init = False')
    ok(ip, ON_PARAMETER_SERVERS)
    with opened() as panel:
        yield panel


def test_details_name_the_device_or_say_it_is_not_placed(placed):
    placed.select('enc/w')
    assert f'<th>device</th><td>{CPU}</td>' in placed.details.value
    assert '<th>max</th><td>4.0</td>' in placed.details.value  # its value is read as before
    placed.select('enc/bias')
    assert f'<th>device</th><td>{NOT_PLACED}</td>' in placed.details.value
    placed.select('enc/emb')  # the whole variable's device, then each part's
    assert f'<th>device</th><td>{CPU}</td>' in placed.details.value
    assert f'<td>enc/emb/part_1</td><td>[2, 2]</td><td>[2, 0]</td><td>{CPU}</td>' \
        in placed.details.value


def test_the_grouping_is_by_scope_unless_chosen(placed):
    assert placed.group_by.options == ('Scope', 'Device') and placed.group_by.value == 'Scope'
    assert placed.group_by.description == 'Group by'
    assert labels(placed) == ['▸ enc/  3 variables',
                              f'  step  []  int64  get_variable  cell {placed_cell(placed)}']


def test_grouped_by_device_the_top_level_is_one_node_per_device(placed):
    by_device(placed)
    assert labels(placed) == ['▸ (no device)  2 variables', f'▸ {CPU}  2 variables']
    assert keys(placed) == ['scope:|', f'scope:{CPU}|']
    assert [row['kind'] for row in placed.tree.rows] == ['scope', 'scope']
    assert placed.tree.rows[1]['title'] == f'{CPU}: 2 variables'
    assert placed.summary.value == '4 variables in 1 scope'  # the same variables
    placed.group_by.value = 'Scope'
    assert labels(placed)[0] == '▸ enc/  3 variables'


def test_devices_and_their_scopes_open_and_close(placed):
    cell = placed_cell(placed)
    by_device(placed)
    toggle(placed, f'scope:{CPU}|', True)  # what clicking the device's row sends
    toggle(placed, f'scope:{CPU}|enc', True)
    assert outline(placed.tree.rows) == [
        '▸ (no device)  2 variables',
        f'▾ {CPU}  2 variables',
        '  ▾ enc/  2 variables',
        f'      emb  [4, 2]  float32  ×2 parts  get_variable  cell {cell}',
        f'      w  [2, 2]  float32  get_variable  cell {cell}']
    assert keys(placed)[3:] == [f'var:{CPU}|enc/emb', f'var:{CPU}|enc/w']
    placed.expand('', device='')  # the API: the node of the variables on no device
    placed.expand('enc', device='')
    assert outline(placed.tree.rows)[:4] == [
        '▾ (no device)  2 variables', '  ▾ enc/  1 variable',
        f'      bias  [2]  float32  get_variable  cell {cell}',
        f'    step  []  int64  get_variable  cell {cell}']
    assert len(set(keys(placed))) == len(keys(placed)) == 8  # the arrow keys need each once
    toggle(placed, f'scope:{CPU}|', False)
    assert labels(placed)[-1] == f'▸ {CPU}  2 variables'
    # each grouping keeps its own open scopes
    placed.group_by.value = 'Scope'
    assert labels(placed)[0] == '▸ enc/  3 variables'
    placed.expand('enc')
    by_device(placed)
    assert outline(placed.tree.rows)[:2] == ['▾ (no device)  2 variables', '  ▾ enc/  1 variable']
    for bad in ('scope:', 'scope:enc', f'scope:{CPU}', f'scope:{CPU}|nothing', 'var:|step'):
        rows = placed.tree.rows
        toggle(placed, bad, False)
        assert placed.tree.rows == rows, bad


def test_selection_follows_the_grouping(placed):
    placed.select('enc/w')
    details = placed.details.value
    by_device(placed)
    assert placed.tree.selected == f'var:{CPU}|enc/w'  # the same variable, in its new row
    assert placed.details.value == details
    placed.select('step')
    assert placed.tree.selected == 'var:|step'
    assert placed.details.value.startswith('<b>step</b>')
    placed.tree.selected = f'scope:{CPU}|'
    assert placed.details.value.startswith(
        f'<b>{CPU}</b><div>2 variables on it; 1 scope directly under it.</div>')
    placed.tree.selected = 'scope:|'
    assert placed.details.value.startswith(
        f'<b>(no device)</b><div>2 variables, {NOT_PLACED}; 1 scope directly under it.</div>')
    placed.tree.selected = f'scope:{CPU}|enc'
    assert placed.details.value.startswith(
        f'<b>enc/</b><div>2 variables on {CPU} in it and below; 0 scopes directly under it.')
    placed.group_by.value = 'Scope'  # a device's scope is no scope of the other grouping
    assert placed.tree.selected is None
    assert 'Select a variable' in placed.details.value


def test_a_variable_split_over_devices_is_under_each_with_its_parts_there(
        ip, on_parameter_servers):
    panel, cell = on_parameter_servers, ip.execution_count - 1
    by_device(panel)
    assert labels(panel) == ['▸ (no device)  1 variable', f'▸ {PS0}  1 variable',
                             f'▸ {PS1}  2 variables']
    for device in (PS0, PS1):
        panel.expand('', device=device)
        panel.expand('enc', device=device)
    assert outline(panel.tree.rows)[1:] == [
        f'▾ {PS0}  1 variable', '  ▾ enc/  1 variable',
        f'      emb  [6, 2]  float32  2 of 3 parts  get_variable  cell {cell}',
        f'▾ {PS1}  2 variables', '  ▾ enc/  2 variables',
        f'      emb  [6, 2]  float32  1 of 3 parts  get_variable  cell {cell}',
        f'      w  [2]  float32  get_variable  cell {cell}']
    rows = {row['key']: row for row in panel.tree.rows}
    assert ('parts', '2 of 3 parts', 'this device holds 2 of the 3 parts of this '
            'partitioned variable') in rows[f'var:{PS0}|enc/emb']['cols']
    assert rows[f'var:{PS1}|enc/emb']['title'] == (
        f'enc/emb  [6, 2]  float32  1 of 3 parts  get_variable  cell {cell}')
    assert panel.summary.value == '3 variables in 1 scope'  # enc/emb once
    panel.select('enc/emb')
    assert panel.tree.selected == f'var:{PS0}|enc/emb'  # its first row
    panel.group_by.value = 'Scope'  # one row, all its parts
    panel.expand('enc')
    assert f'  emb  [6, 2]  float32  ×3 parts  get_variable  cell {cell}' in labels(panel)


def test_filtering_when_grouped_by_device_counts_each_variable_once(on_parameter_servers):
    panel = on_parameter_servers
    by_device(panel)
    panel.filter.value = 'emb'
    assert panel.summary.value == '<b>1</b> of 3 variables match <code>emb</code>'
    assert keys(panel) == [f'scope:{PS0}|', f'scope:{PS0}|enc', f'var:{PS0}|enc/emb',
                           f'scope:{PS1}|', f'scope:{PS1}|enc', f'var:{PS1}|enc/emb']
    assert [row_text(row) for row in panel.tree.rows if row['kind'] == 'scope'] == [
        f'▾ {PS0}  1 of 1 variable', '▾ enc/  1 of 1 variable',
        f'▾ {PS1}  1 of 2 variables', '▾ enc/  1 of 2 variables']
    toggle(panel, f'scope:{PS0}|', False)  # closing hides rows, not matches
    assert keys(panel) == [f'scope:{PS0}|', f'scope:{PS1}|', f'scope:{PS1}|enc',
                           f'var:{PS1}|enc/emb']
    assert panel.summary.value == '<b>1</b> of 3 variables match <code>emb</code>'
    panel.filter.value = 'e'  # enc/emb, enc/w, step
    assert panel.summary.value == '<b>3</b> of 3 variables match <code>e</code>'
    assert keys(panel)[:2] == ['scope:|', 'var:|step']
    panel.filter.value = '*/w'
    assert keys(panel) == [f'scope:{PS1}|', f'scope:{PS1}|enc', f'var:{PS1}|enc/w']
    panel.group_by.value = 'Scope'  # the same filter, grouped by scope
    assert keys(panel) == ['scope:enc', 'var:enc/w']
    assert panel.summary.value == '<b>1</b> of 3 variables match <code>*/w</code>'


def test_the_grouping_survives_refreshes_and_a_reset(ip, placed):
    by_device(placed)
    ok(ip, "with tf.device('/cpu:0'):\n    more = tf.compat.v1.get_variable('more', [1])")
    assert placed.group_by.value == 'Device'
    assert labels(placed) == ['▸ (no device)  2 variables', f'▸ {CPU}  3 variables']
    placed.expand('', device=CPU)
    assert labels(placed)[-1].startswith('  more  [1]  float32  get_variable  cell ')
    ok(ip, '%tfreset')
    assert labels(placed) == [] and placed.group_by.value == 'Device'
    ok(ip, "fresh = tf.compat.v1.get_variable('fresh', [1])")
    assert labels(placed) == ['▸ (no device)  1 variable']


def test_the_snapshot_follows_the_grouping(placed):
    cell = placed_cell(placed)
    by_device(placed)
    placed.filter.value = 'w'  # neither the filter nor closed nodes matter
    bundle = placed._repr_mimebundle_()
    note = 'a snapshot from when the panel was shown: run the cell to browse live'
    lines = ['▾ (no device)  2 variables',
             '│   ▾ enc/  1 variable',
             f'│   │     bias  [2]  float32  get_variable  cell {cell}',
             f'│     step  []  int64  get_variable  cell {cell}',
             f'▾ {CPU}  2 variables',
             '│   ▾ enc/  2 variables',
             f'│   │     emb  [4, 2]  float32  ×2 parts  get_variable  cell {cell}',
             f'│   │     w  [2, 2]  float32  get_variable  cell {cell}']
    assert bundle['text/plain'] == '\n'.join(
        [f'4 variables in 1 scope ({note})', *lines, marks.LEGEND])
    assert f'<pre>{html.escape(chr(10).join(lines))}</pre>' in bundle['text/html']
    placed.group_by.value = 'Scope'
    plain = placed._repr_mimebundle_()['text/plain'].split('\n')
    assert plain[1:3] == ['▾ enc/  3 variables',
                          f'│     bias  [2]  float32  get_variable  cell {cell}']


def test_slots_stay_with_their_variable_when_grouped_by_device(ip, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ok(ip, """
with tf.device('/cpu:0'):
    W = tf.compat.v1.get_variable('W', [2, 1])
tf.compat.v1.train.AdamOptimizer(0.1).minimize(tf.reduce_sum(W ** 2)).run()
""")
    cell = ip.execution_count - 1
    with opened() as panel:
        by_device(panel)
        # the optimizer's state is colocated with W
        assert labels(panel) == [f'▸ {CPU}  5 variables']
        panel.expand('', device=CPU)
        assert outline(panel.tree.rows)[1:] == [
            f'    W  [2, 1]  float32  get_variable  cell {cell}',
            f'    ◇ Adam  [2, 1]  float32  optimizer slot  cell {cell}',
            f'    ◇ Adam_1  [2, 1]  float32  optimizer slot  cell {cell}',
            f'  ◇ beta1_power  []  float32  optimizer state  cell {cell}',
            f'  ◇ beta2_power  []  float32  optimizer state  cell {cell}']
        assert panel.summary.value == '5 variables (4 optimizer state) in 0 scopes'
        panel.select('W/Adam')
        assert panel.tree.selected == f'var:{CPU}|W/Adam'
        assert '<th>slot_of</th><td>W</td>' in panel.details.value


def test_an_unreadable_value_is_said_in_the_details(ip, on_parameter_servers):
    panel = on_parameter_servers
    by_device(panel)
    panel.select('enc/emb')
    details = panel.details.value
    assert details.startswith('<b>enc/emb</b><div class="tfmagic-error">No value: the session '
                              'cannot read it (')
    assert '%tfconnect' in details and 'Cannot assign a device' in details
    assert 'Colocation Debug Info' not in details  # TensorFlow's first line only
    assert f'<th>device</th><td>{PS0}, {PS1}</td>' in details
    assert '<th>initialized</th><td>unknown</td>' in details
    assert f'<td>enc/emb/part_1</td><td>[2, 2]</td><td>[2, 0]</td><td>{PS1}</td>' in details
    assert '<svg' not in details and 'first values' not in details
    ok(ip, 'pass')  # the refresh after a cell reads it again, and says so again
    assert panel.details.value == details
    panel.select('step')  # placed nowhere, in a graph the session cannot run at all
    assert f'<th>device</th><td>{NOT_PLACED}</td>' in panel.details.value
    assert 'No value: the session cannot read it' in panel.details.value


def test_no_variables_in_either_grouping(ip):
    with opened() as panel:
        by_device(panel)
        assert panel.tree.rows == [] and panel.summary.value == '0 variables in 0 scopes'
        panel.filter.value = 'w'
        assert panel.tree.rows == []
        assert panel.summary.value == '<b>0</b> of 0 variables match <code>w</code>'
        toggle(panel, 'scope:|', True)
        panel.select('nothing')
        assert panel.tree.selected == 'var:nothing'
        assert 'nothing is no longer in the graph.' in panel.details.value
        assert panel._repr_mimebundle_()['text/plain'].split('\n')[1:] == [marks.LEGEND]
        panel.group_by.value = 'Scope'
        assert panel.tree.rows == [] and panel.tree.selected == 'var:nothing'


def test_a_tree_by_device_counts_each_variable_once():
    tree = ScopeTree()
    emb = VariableRecord('enc/emb', (4, 2), 'float32', 'get_variable', partitions=4,
                         device=f'{PS0}, {PS1}')
    tree.put(emb, {PS0: 3, PS1: 1})
    tree.put(VariableRecord('step', (), 'int64', 'get_variable'), {'': 1})
    tree.put(emb, {PS0: 3, PS1: 1})  # again, as after a reuse: replaced, not added
    assert len(tree) == 2 and tree.scope_count() == 2  # enc/ under each device
    assert outline(tree.rows(None)) == [
        '▾ (no device)  1 variable', '    step  []  int64  get_variable',
        f'▾ {PS0}  1 variable', '  ▾ enc/  1 variable',
        '      emb  [4, 2]  float32  3 of 4 parts  get_variable',
        f'▾ {PS1}  1 variable', '  ▾ enc/  1 variable',
        '      emb  [4, 2]  float32  1 of 4 parts  get_variable']
    rows, matched = tree.matching('e')
    assert matched == 2 and len(rows) == 8
    rows, matched = tree.matching('e', limit=1)
    assert matched == 2 and rows[-1]['name'] == '… and 2 more matches: narrow the filter'
    assert tree.scope(f'{PS1}|enc') is not None and tree.scope('enc') is None
