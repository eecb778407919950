"""In a real Jupyter kernel: a graph-mode cell, %tfmode eager saying so in
the cell's output, a Keras 3 model built and trained in a cell, %vars in the
next cell listing its variables as Keras's, and %tfmode graph back."""

from __future__ import annotations

import re

import pytest

from tests.kernel import Kernel

pytestmark = pytest.mark.kernel

KERAS_CELL = """\
import keras
import numpy as np
x = np.random.default_rng(0).normal(size=(16, 3)).astype('float32')
model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name='d1'),
                          keras.layers.Dense(1, name='d2')], name='net')
model.compile(optimizer=keras.optimizers.Adam(0.01, name='adam'), loss='mse')
history = model.fit(x, x.sum(axis=1, keepdims=True), epochs=2, verbose=0)
print(model.predict(x[:4], verbose=0).shape, len(history.history['loss']),
      tf.executing_eagerly())
"""

NET = ['net/d1/bias', 'net/d1/kernel', 'net/d2/bias', 'net/d2/kernel']


def test_a_kernel_switches_to_eager_and_lists_a_trained_keras_models_variables(tmp_path):
    with Kernel(tmp_path) as k:
        k.run('%load_ext tfmagic\nimport tensorflow as tf').check()
        graph = k.run("g = tf.compat.v1.get_variable('g', [2])\n"
                      'print(g.eval().shape, tf.executing_eagerly())').check()
        assert graph.stdout == '(2,) False\n'

        switched = k.run('%tfmode eager').check()
        assert switched.stdout == ('tfmagic: eager mode: cells run as plain TF2 (eager), '
                                   'variables still tracked; 1 variable dropped.\n')
        assert k.run('%tfmode').check().stdout == 'tfmagic: eager mode.\n'

        trained = k.run(KERAS_CELL).check()
        assert trained.stdout.splitlines()[-1] == '(4, 1) 2 True'

        listed = k.run('%vars').check()
        html = listed.html
        assert html is not None and '<table' in html
        for name in [*NET, 'adam/iteration', 'adam/net_d1_kernel_momentum', 'loss/total']:
            assert f'<td>{name}</td>' in html, name
        assert '<td>g</td>' not in html
        text = k.run("frame = %vars\n"
                     "print(frame[['name', 'created_by', 'created_in', 'slot_of']]"
                     ".to_string(index=False))").check().stdout
        rows = {line.split()[0]: line.split()[1:] for line in text.splitlines()[1:]}
        assert len(rows) == 16
        assert {row[0] for row in rows.values()} == {'keras'}
        assert {row[1] for row in rows.values()} == {str(trained.execution_count)}
        assert rows['adam/net_d1_kernel_momentum'][2:] == ['net/d1/kernel']
        assert rows['net/d1/kernel'][2:] == []  # no slot_of

        back = k.run('%tfmode graph').check()
        assert re.fullmatch(r"tfmagic: graph mode: [^\n]*; 16 variables no longer tracked\.\n",
                            back.stdout), back.stdout
        again = k.run("g = tf.compat.v1.get_variable('g', [2])\n"
                      'print(g.eval().shape, tf.executing_eagerly())').check()
        assert again.stdout == '(2,) False\n'
        listed = k.run("import tfmagic\nlist(tfmagic.variables()['name'])").check()
        assert listed.plain == "['g']"
