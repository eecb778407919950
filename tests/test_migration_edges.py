"""Checkpoint migration at its edges: the cases where a mapping could guess,
stretch a single name over the keys under it, or pick a weaker match once
the right one is taken, and the ones where a file could be overwritten.
Found in review; each is a real checkpoint written by plain TensorFlow or
Keras."""

import os

import numpy as np
import pytest
from IPython.core.error import UsageError

from tests.shell import namespace_kept, ok
from tests.test_migration import (
    BUILD,
    assert_equal,
    failure,
    graph_values,
    printed_map_line,
    save_tf1,
)
from tfmagic.checkpoints import CheckpointError


@pytest.fixture
def graph(ip, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with namespace_kept(ip):
        yield ip


@pytest.fixture
def eager(ip, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with namespace_kept(ip, 'eager', BUILD):
        yield ip


def f32(*values):
    return np.array(values, 'float32')


def variables(ip, names_and_values: dict) -> None:
    ok(ip, '\n'.join(f'tf.compat.v1.get_variable({name!r}, initializer={list(value)!r})'
                     for name, value in names_and_values.items()))


def test_a_single_name_pair_does_not_stretch_over_the_keys_under_it(graph, capsys):
    save_tf1('ck/model', {'a/w': f32(1, 1), 'a/w/ema': f32(2, 2), 'a/z': f32(3, 3, 3),
                          'c/w/ema': f32(4, 4)})
    variables(graph, {'b/w': [0.0, 0.0], 'b/w/ema': [0.0, 0.0]})
    frame = ok(graph, '%mapckpt ck/model').set_index('key')
    assert frame.loc['a/w', 'variable'] == 'b/w'
    # Two keys end in w/ema: which one b/w/ema takes is not for tfmagic to guess.
    assert frame.loc[['a/w/ema', 'c/w/ema'], 'status'].tolist() == ['ambiguous'] * 2
    line = printed_map_line(capsys.readouterr().out)
    assert 'a/w/ema=a/w/ema' in line  # a/w=b/w alone would also rename a/w/ema
    ok(graph, '%restoreckpt ck/model --map auto --allow-missing')
    assert_equal(graph_values(graph), {'b/w': f32(1, 1), 'b/w/ema': f32(0, 0)})
    ok(graph, '%tfreset')
    variables(graph, {'b/w': [0.0, 0.0], 'b/w/ema': [0.0, 0.0]})
    ok(graph, line)  # the printed pairs give the same values
    assert_equal(graph_values(graph), {'b/w': f32(1, 1), 'b/w/ema': f32(0, 0)})


def test_two_scopes_renamed_onto_one_are_ambiguous(graph):
    save_tf1('ck/model', {'online/dense/kernel': f32(1, 2), 'target/dense/kernel': f32(3, 4)})
    variables(graph, {'q/dense/kernel': [0.0, 0.0]})
    frame = ok(graph, '%mapckpt ck/model')
    assert frame['status'].tolist()[:2] == ['ambiguous', 'ambiguous']
    before = graph_values(graph)
    assert 'ambiguous' in failure(graph, '%restoreckpt ck/model --map auto')
    assert_equal(graph_values(graph), before)


def test_a_taken_match_does_not_fall_back_to_a_weaker_one(graph):
    save_tf1('ck/model', {'a/enc/kernel': np.ones((4, 4), 'float32'),
                          'b/enc/kernel': np.ones((8, 8), 'float32')})
    ok(graph, "tf.compat.v1.get_variable('net/enc/kernel', [4, 4])\n"
              "tf.compat.v1.get_variable('net/dec/kernel', [8, 8])\n"
              "tf.compat.v1.get_variable('net/dec/w2', [8, 8])")
    frame = ok(graph, '%mapckpt ck/model').set_index('key')
    assert frame.loc['a/enc/kernel', 'variable'] == 'net/enc/kernel'
    assert frame.loc['b/enc/kernel', 'status'] != 'mapped'  # never onto the decoder


def test_keras_file_into_graph_variables_that_share_an_initial_value(eager):
    ok(eager, "m = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2, name='d1')])\n"
              "m.set_weights([np.array([[1., 2.], [3., 4.]], 'float32'), "
              "np.array([5., 6.], 'float32')])\n"
              "m.compile(optimizer='adam', loss='mse')\n"
              "m.optimizer.build(m.trainable_variables)\n"
              "m.save_weights('m.weights.h5')")
    # The compiled model lives on in graph mode: its optimizer's values are
    # read eagerly when tfmagic walks it (a graph-mode cell could not).
    ok(eager, '%tfmode graph')
    ok(eager, "z = tf.zeros([2, 2])\n"
              "with tf.compat.v1.variable_scope('d1'):\n"
              "    k = tf.compat.v1.get_variable('kernel', initializer=z)\n"
              "    k2 = tf.compat.v1.get_variable('kernel2', initializer=z)")
    ok(eager, '%restoreckpt m.weights.h5 --map layers/dense/vars/0=d1/kernel --allow-missing')
    values = graph_values(eager)
    assert np.array_equal(values['d1/kernel'], [[1, 2], [3, 4]])
    assert np.array_equal(values['d1/kernel2'], [[0, 0], [0, 0]])  # its own value, untouched


def test_layer_order_never_guesses_between_same_shaped_siblings(eager, tmp_path):
    ok(eager, "bn = keras.Sequential([keras.Input((3,)), keras.layers.BatchNormalization("
              "name='bn')])\nbn.save_weights('bn.weights.h5')\ndel bn")
    ok(eager, '%tfmode graph')
    ok(eager, "with tf.compat.v1.variable_scope('bn'):\n"
              "    for leaf in ('beta', 'gamma', 'moving_mean', 'moving_variance'):\n"
              "        tf.compat.v1.get_variable(leaf, [3])")
    frame = ok(eager, '%mapckpt bn.weights.h5')
    keys = frame[frame['key'].notna()]
    assert set(keys['status']) == {'ambiguous'}


def test_map_auto_after_pairs_is_refused(graph):
    save_tf1('ck/model', {'v': f32(1)})
    variables(graph, {'v': [0.0]})
    assert 'not both' in failure(graph, '%restoreckpt ck/model --map a=b auto', UsageError)


def test_object_path_pairs_paste(eager, capsys):
    ok(eager, "model = build(compile=False)\n"
              "ck = tf.train.Checkpoint(model=model)\npath = ck.write('obj/ckpt')\n"
              "old = {v.path: v.numpy() for v in model.variables}")
    ok(eager, "model = build(compile=False)\ndel ck")
    ok(eager, '%mapckpt obj/ckpt')
    line = printed_map_line(capsys.readouterr().out)
    assert '_kernel' in line  # the object paths Keras 3 writes
    ok(eager, line)
    assert ok(eager, "all(np.array_equal(v.numpy(), old[v.path]) for v in model.variables)")


def test_convert_through_a_symbolic_link_never_overwrites_the_source(graph, tmp_path):
    save_tf1('real/model', {'v': f32(1, 2)})
    os.symlink(tmp_path / 'real', tmp_path / 'link')
    before = {p.name: p.read_bytes() for p in (tmp_path / 'real').iterdir()}
    with pytest.raises(CheckpointError, match='the source itself'):
        graph.run_line_magic('convertckpt', 'link/model real/model --force')
    assert {p.name: p.read_bytes() for p in (tmp_path / 'real').iterdir()} == before


def test_a_stray_file_of_dest_counts_as_existing(graph, tmp_path):
    save_tf1('src/model', {'v': f32(1, 2)})
    (tmp_path / 'out').mkdir()
    (tmp_path / 'out' / 'model.meta').write_bytes(b'mine')
    with pytest.raises(CheckpointError, match='already exists'):
        graph.run_line_magic('convertckpt', 'src/model out/model')
    assert (tmp_path / 'out' / 'model.meta').read_bytes() == b'mine'
