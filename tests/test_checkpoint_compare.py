"""The key-by-key comparison behind %inspectckpt and %restoreckpt: the shortcut
for a checkpoint of exactly the graph's variables, the general path, and the
graph index kept between calls."""

import pytest
import tensorflow as tf

import tfmagic
from tfmagic import checkpoints
from tests.shell import ok, run

MODEL = ("%%tfscope net\n"
         "w = tf.compat.v1.get_variable('w', initializer=[[1.0, 2.0], [3.0, 4.0]])\n"
         "b = tf.compat.v1.Variable([5, 6, 7], name='b')")


@pytest.fixture
def model(ip, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ok(ip, MODEL)
    ok(ip, '%saveckpt')
    return ip


def columns(comparison):
    return (comparison.name, comparison.key, comparison.shape, comparison.dtype,
            comparison.status)


def write(prefix, tensors: dict):
    """A V2 checkpoint holding ``tensors`` (key -> value), written eagerly."""
    keys = list(tensors)
    tf.raw_ops.SaveV2(prefix=str(prefix), tensor_names=keys, shape_and_slices=[''] * len(keys),
                      tensors=[tf.constant(tensors[k]) for k in keys])


def test_the_shortcut_for_the_graphs_own_checkpoint_agrees_with_the_general_path(model):
    index = checkpoints.read_index('checkpoints/model')
    graph = tfmagic.checkpointer().graph_index()
    shortcut = checkpoints.compare(index, graph)
    # A mapping that renames nothing sends the same checkpoint key by key.
    general = checkpoints.compare(index, graph, {'elsewhere': 'other'})
    expected = (['net/b', 'net/w'], ['net/b', 'net/w'], [(3,), (2, 2)],
                ['int32', 'float32'], ['match', 'match'])
    assert columns(shortcut) == columns(general) == expected
    assert [e.variable for e in shortcut.entries()] == [tfmagic.tracker().variable(n) for n in ('net/b', 'net/w')]


def test_a_checkpoint_that_differs_in_every_way_is_listed_in_name_order(model, tmp_path):
    ok(model, "%%tfscope net\nc = tf.compat.v1.get_variable('c', [4], dtype=tf.float64)")
    write(tmp_path / 'odd', {'net/w': [1.0, 2.0], 'net/b': [1.0, 2.0, 3.0],
                             'net/a': [0.0], 'zz': [1]})
    frame = ok(model, f'%inspectckpt {tmp_path}/odd')
    assert frame.to_dict('records') == [
        {'name': 'net/a', 'shape': (1,), 'dtype': 'float32', 'status': 'missing in graph'},
        {'name': 'net/b', 'shape': (3,), 'dtype': 'float32', 'status': 'dtype mismatch'},
        {'name': 'net/c', 'shape': (4,), 'dtype': 'float64', 'status': 'missing in checkpoint'},
        {'name': 'net/w', 'shape': (2,), 'dtype': 'float32', 'status': 'shape mismatch'},
        {'name': 'zz', 'shape': (1,), 'dtype': 'int32', 'status': 'missing in graph'}]


def test_the_graph_index_follows_new_variables_and_resets(model):
    statuses = lambda: ok(model, '%inspectckpt checkpoints/model').set_index('name')['status'].to_dict()  # noqa: E731
    assert statuses() == {'net/b': 'match', 'net/w': 'match'}
    ok(model, "%%tfscope net\nextra = tf.compat.v1.get_variable('extra', [4])")
    assert statuses() == {'net/b': 'match', 'net/extra': 'missing in checkpoint', 'net/w': 'match'}
    # The same number of variables, under the same names, after a reset: the
    # index is rebuilt, not recognised by the ids of freed variables.
    ok(model, '%tfreset')
    ok(model, "%%tfscope net\nw = tf.compat.v1.get_variable('w', [3])\n"
              "b = tf.compat.v1.Variable([5, 6, 7], name='b')")
    assert statuses() == {'net/b': 'match', 'net/w': 'shape mismatch'}
    error = run(model, '%restoreckpt').error_in_exec
    assert 'net/w: shape (2, 2) in checkpoint, (3,) in graph' in str(error)


def test_variables_of_partly_known_or_unknown_shape_match_the_stored_shape(model):
    ok(model, '%tfreset')
    ok(model, "%%tfscope net\n"
              "w = tf.compat.v1.Variable(tf.compat.v1.placeholder_with_default(\n"
              "    tf.zeros([2, 2]), shape=[None, 2]), name='w')\n"
              "b = tf.compat.v1.Variable(tf.compat.v1.placeholder_with_default(\n"
              "    [0, 0, 0], shape=None), name='b')")
    assert ok(model, '(w.shape.as_list(), b.shape.rank)') == ([None, 2], None)
    frame = ok(model, '%inspectckpt checkpoints/model')
    assert frame['status'].tolist() == ['match', 'match']
    ok(model, '%restoreckpt')
    assert ok(model, 'b.eval()').tolist() == [5, 6, 7]
    assert ok(model, 'w.eval()').tolist() == [[1.0, 2.0], [3.0, 4.0]]


def test_two_keys_for_one_variable_the_first_in_key_order_counts(model, tmp_path):
    write(tmp_path / 'two', {'net/w': [[9.0, 9.0], [9.0, 9.0]], 'old/w': [[0.0, 0.0], [0.0, 0.0]],
                             'net/b': [1, 2, 3]})
    comparison = tfmagic.checkpointer().compare(str(tmp_path / 'two'), {'old': 'net'})
    assert list(zip(comparison.key, comparison.name, comparison.status)) == [
        ('net/b', 'net/b', 'match'), ('net/w', 'net/w', 'match'),
        ('old/w', 'net/w', 'missing in graph')]
    ok(model, f'%restoreckpt {tmp_path}/two --map old=net --allow-missing')
    assert ok(model, 'w.eval()').tolist() == [[9.0, 9.0], [9.0, 9.0]]
    assert ok(model, 'b.eval()').tolist() == [1, 2, 3]


def test_saving_a_subset_keeps_the_index_of_all_variables(model):
    ok(model, '%saveckpt checkpoints/part --vars net/w')
    ok(model, '%saveckpt checkpoints/part --vars net/w')  # a re-save: compared with the subset
    frame = ok(model, '%inspectckpt checkpoints/part')
    assert frame.set_index('name')['status'].to_dict() == {
        'net/b': 'missing in checkpoint', 'net/w': 'match'}
