"""Cells written the way real notebooks are, not the way the lessons are:
variables used in the cell that creates them, an optimizer trained where it is
built, partitioned variables, optimizer slots, scopes re-entered by later
cells, the extension loaded in a cell that goes on to build a model."""

import numpy as np
import pytest
import tensorflow as tf

import tfmagic
from tests.shell import TRAIN, ok, run

EMBEDDING = ("emb = tf.compat.v1.get_variable('emb', [10, 4], "
             "partitioner=tf.compat.v1.fixed_size_partitioner(3))")


def rows(frame):
    return frame.set_index('name')


# -- 1. usable in the creating cell ------------------------------------------------


def test_a_variable_is_usable_in_the_cell_that_creates_it(ip):
    ok(ip, "a = tf.compat.v1.get_variable('a', initializer=[1.0])\n"
           "value = tf.compat.v1.get_default_session().run(a)")
    assert ip.user_ns['value'].tolist() == [1.0]


@pytest.mark.parametrize('use', [
    'value = a.eval()',
    'value = a.read_value().eval()',
    'value = tf.compat.v1.get_default_session().make_callable(a)()',
    'sess = tf.compat.v1.get_default_session()\n'
    'read = a.value()\n'
    'value = sess.partial_run(sess.partial_run_setup([read], []), read)',
])
def test_every_way_of_running_initializes_first(ip, use):
    ok(ip, "a = tf.compat.v1.get_variable('a', initializer=[1.0])\n" + use)
    assert np.asarray(ip.user_ns['value']).tolist() == [1.0]


def test_an_optimizer_trains_in_the_cell_that_builds_it(ip):
    ok(ip, TRAIN)
    assert ok(ip, 'sess.run(step)') == 3
    slots = ok(ip, "sess.run([v for v in tf.compat.v1.global_variables() if 'Adam' in v.op.name])")
    assert len(slots) == 2 and all(np.abs(s).sum() > 0 for s in slots)
    frame = ok(ip, '%vars')
    assert frame['initialized'].all()


def test_a_metric_runs_where_it_is_created(ip):
    ok(ip, 'm, update = tf.compat.v1.metrics.mean([1.0, 2.0, 3.0])\n'
           'sess = tf.compat.v1.get_default_session()\n'
           'sess.run(update)\nvalue = sess.run(m)')
    assert ip.user_ns['value'] == 2.0
    frame = rows(ok(ip, '%vars'))
    assert frame.loc['mean/total', 'initialized'] and frame.loc['mean/count', 'initialized']


def test_a_training_loop_pays_the_initialization_once(ip, ws):
    ok(ip, TRAIN.replace('range(3)', 'range(1)'))
    before = ws.runs
    ok(ip, 'w2 = tf.compat.v1.get_variable("w2", [3])\n'
           'for _ in range(1000):\n    sess.run(train, {x: [[1.0, 2.0]], y: [[3.0]]})')
    # 1,000 steps, and one run that initialized w2 before the first of them.
    assert ws.runs - before == 1001


def test_values_set_in_the_creating_cell_survive_the_first_run(ip, tmp_path):
    ok(ip, "a = tf.compat.v1.get_variable('a', initializer=1.0)\n"
           "sess = tf.compat.v1.get_default_session()\n"
           "sess.run(a.assign(5.0))\nb = tf.compat.v1.get_variable('b', initializer=2.0)\n"
           "after = sess.run([a, b])")
    assert ip.user_ns['after'] == [5.0, 2.0]
    saver_path = str(tmp_path / 'ab')
    ok(ip, f"tf.compat.v1.train.Saver().save(sess, {saver_path!r})")
    ok(ip, '%tfreset')
    ok(ip, "a = tf.compat.v1.get_variable('a', initializer=0.0)\n"
           "b = tf.compat.v1.get_variable('b', initializer=0.0)\n"
           "sess = tf.compat.v1.get_default_session()\n"
           f"tf.compat.v1.train.Saver().restore(sess, {saver_path!r})\n"
           "restored = sess.run([a, b])")
    assert ip.user_ns['restored'] == [5.0, 2.0]
    assert ok(ip, 'sess.run([a, b])') == [5.0, 2.0]


def test_an_initializer_the_cell_feeds_itself_is_not_reported(ip, capsys):
    # Auto-init cannot run it (it needs a feed); the cell does, so all is well.
    ok(ip, "p = tf.compat.v1.placeholder(tf.float32, [2])\n"
           "v = tf.compat.v1.Variable(p, name='v')\n"
           "sess = tf.compat.v1.get_default_session()\n"
           "sess.run(v.initializer, {p: [1.0, 2.0]})\nvalue = sess.run(v)")
    assert ip.user_ns['value'].tolist() == [1.0, 2.0]
    assert 'could not initialize' not in capsys.readouterr().out


def test_with_auto_init_off_nothing_is_initialized_behind_the_cells_back(ip):
    ok(ip, '%config TFMagic.auto_init = False')
    result = run(ip, "a = tf.compat.v1.get_variable('a', [1])\n"
                     "tf.compat.v1.get_default_session().run(a)")
    assert isinstance(result.error_in_exec, tf.errors.FailedPreconditionError)
    assert ok(ip, '%vars')['initialized'].tolist() == [False]


# -- 2. the cell that loads the extension -------------------------------------------


def test_the_rest_of_the_loading_cell_runs_in_the_managed_graph(ip):
    shell = ip
    shell.run_line_magic('unload_ext', 'tfmagic')
    try:
        ok(shell, "%load_ext tfmagic\nv = tf.compat.v1.get_variable('v', [2])\n"
                  "value = tf.compat.v1.get_default_session().run(v)")
        cell = shell.execution_count - 1
        assert shell.user_ns['v'].graph is tfmagic.workspace().graph
        frame = ok(shell, '%vars')
        assert frame['name'].tolist() == ['v']
        assert frame['created_in'].tolist() == [cell]
        assert tf.executing_eagerly()  # outside cells, eager as before
    finally:
        ok(shell, '%tfreset')


def test_reload_says_the_graph_is_new(ip, capsys):
    ok(ip, "v = tf.compat.v1.get_variable('v', [2])")
    capsys.readouterr()
    ok(ip, '%reload_ext tfmagic')
    out = capsys.readouterr().out
    assert out.count('\n') == 1 and 'tfmagic: unloaded' in out and '1 variable ' in out
    assert ok(ip, '%vars').empty


# -- 3. partitioned variables are one variable --------------------------------------


def test_a_partitioned_variable_is_one_row(ip):
    ok(ip, f'%%tfscope enc\n{EMBEDDING}')
    frame = ok(ip, '%vars')
    assert frame['name'].tolist() == ['enc/emb']
    row = rows(frame).loc['enc/emb']
    assert (row['shape'], row['partitions'], row['scope'], row['initialized']) == (
        (10, 4), 3, 'enc', True)
    shards = ok(ip, '%vars --shards')
    assert shards['name'].tolist() == ['enc/emb/part_0', 'enc/emb/part_1', 'enc/emb/part_2']
    assert shards['shape'].tolist() == [(4, 4), (3, 4), (3, 4)]
    assert shards['partitions'].tolist() == [3, 3, 3]


def test_stats_cover_the_whole_partitioned_variable(ip):
    ok(ip, f'%%tfscope enc\n{EMBEDDING}\n'
           'tf.compat.v1.get_default_session().run([p.assign(tf.fill(p.shape, float(i))) '
           'for i, p in enumerate(emb)])')
    row = rows(ok(ip, '%vars --stats')).loc['enc/emb']
    values = np.concatenate([np.full((4, 4), 0.0), np.full((3, 4), 1.0), np.full((3, 4), 2.0)])
    assert (row['size'], row['nbytes']) == (40, 160)
    assert (row['min'], row['max']) == (0.0, 2.0)
    assert row['mean'] == pytest.approx(values.mean())
    assert row['std'] == pytest.approx(values.std())


def test_sharing_a_partitioned_variable_counts_once(ip):
    ok(ip, f'%%tfscope enc\n{EMBEDDING}')
    cell = ip.execution_count
    ok(ip, f'%%tfscope enc --reuse\n{EMBEDDING.replace("emb =", "again =")}')
    row = rows(ok(ip, '%vars')).loc['enc/emb']
    assert (row['reuses'], row['reused_in'], row['reuse_status']) == (1, [cell], 'reused')


# -- 4. optimizer slots belong to their variable --------------------------------------


def test_slots_name_their_variable(ip):
    ok(ip, TRAIN)
    frame = rows(ok(ip, '%vars'))
    assert frame.loc['enc/W/Adam', 'slot_of'] == 'enc/W'
    assert frame.loc['enc/W/Adam_1', 'slot_of'] == 'enc/W'
    assert (frame.drop(['enc/W/Adam', 'enc/W/Adam_1'])['slot_of'] == '').all()


def test_slots_of_a_partitioned_variable_are_partitioned_too(ip):
    ok(ip, f'%%tfscope enc\n{EMBEDDING}')
    ok(ip, 'loss = tf.reduce_sum(tf.nn.embedding_lookup(emb, [1, 8]))\n'
           'train = tf.compat.v1.train.AdamOptimizer(0.1).minimize(loss)\n'
           'tf.compat.v1.get_default_session().run(train)')
    frame = rows(ok(ip, '%vars'))
    assert frame.loc['enc/emb/Adam', 'slot_of'] == 'enc/emb'
    assert frame.loc['enc/emb/Adam', 'shape'] == (10, 4)
    assert frame.loc['enc/emb/Adam', 'partitions'] == 3
    assert frame.loc['enc/emb', 'slot_of'] == ''


# -- 5. scopes re-entered by later cells -----------------------------------------------


def test_a_later_cell_re_enters_the_same_scope(ip):
    ok(ip, "%%tfscope enc\nv = tf.compat.v1.Variable(1.0, name='v')\n"
           "w = tf.compat.v1.get_variable('w', [1])\ns = tf.add(v, w, name='sum')")
    ok(ip, "%%tfscope enc\nv2 = tf.compat.v1.Variable(1.0, name='v')\n"
           "w2 = tf.compat.v1.get_variable('w2', [1])\ns2 = tf.add(v2, w2, name='sum')")
    names = [ip.user_ns[n].op.name for n in ('v', 'w', 's', 'v2', 'w2', 's2')]
    assert names == ['enc/v', 'enc/w', 'enc/sum', 'enc/v_1', 'enc/w2', 'enc/sum_1']
    assert ok(ip, '%vars')['scope'].unique().tolist() == ['enc']


@pytest.mark.parametrize('scope', ['blk', 'blk/'])
def test_a_later_name_scope_cell_re_enters_the_name_scope(ip, scope):
    for _ in range(3):
        ok(ip, f"%%tfscope {scope} --name-scope\nt = tf.compat.v1.Variable(1.0, name='t')")
    assert ok(ip, '%vars')['name'].tolist() == ['blk/t', 'blk/t_1', 'blk/t_2']


def test_a_trailing_slash_names_the_same_variable_scope(ip):
    ok(ip, "%%tfscope enc/\nw = tf.compat.v1.get_variable('w', [1])")
    ok(ip, "%%tfscope enc/ --reuse\nsame = tf.compat.v1.get_variable('w')")
    assert ip.user_ns['same'] is ip.user_ns['w']
    assert ok(ip, '%vars')['name'].tolist() == ['enc/w']


# -- 9. configuration and magics ------------------------------------------------------


def test_a_negative_max_to_keep_is_refused_and_the_old_value_kept(ip):
    ok(ip, '%config TFMagic.max_to_keep = 3')
    run(ip, '%config TFMagic.max_to_keep = -1')
    assert ok(ip, '%config TFMagic.max_to_keep') == 3
    ok(ip, '%config TFMagic.max_to_keep = 5')


def test_restoreckpt_takes_the_prefix_after_map_pairs(ip, tmp_path):
    prefix = tmp_path / 'old'
    ok(ip, "%%tfscope old\nw = tf.compat.v1.get_variable('w', initializer=[3.0])")
    ok(ip, f'%saveckpt {prefix}')
    ok(ip, '%tfreset')
    ok(ip, "%%tfscope new\nw = tf.compat.v1.get_variable('w', initializer=[0.0])")
    ok(ip, f'%restoreckpt --map old=new {prefix}')
    assert ok(ip, 'w.eval()').tolist() == [3.0]
