"""Real-notebook cells in a real kernel: the extension loaded in a cell that
goes on to build a model, variables run where they are created, an optimizer
trained in the cell that builds it, a metric, and a scope re-entered."""

from __future__ import annotations

import json

import pytest

from tests.kernel import Kernel
from tests.shell import TRAIN

pytestmark = pytest.mark.kernel

LOAD_AND_BUILD = '''\
%load_ext tfmagic
import json
import tensorflow as tf
import tfmagic

v = tf.compat.v1.get_variable('v', initializer=[1.0, 2.0])
print(json.dumps(tf.compat.v1.get_default_session().run(v).tolist()))
'''

RUN_WHERE_CREATED = '''\
a = tf.compat.v1.get_variable('a', initializer=[1.0])
print(json.dumps(tf.compat.v1.get_default_session().run(a).tolist()))
'''

TRAIN_WHERE_BUILT = TRAIN + 'print(json.dumps(int(sess.run(step))))\n'

METRIC_WHERE_CREATED = '''\
m, update = tf.compat.v1.metrics.mean([1.0, 2.0, 3.0])
sess.run(update)
print(json.dumps(float(sess.run(m))))
'''

TABLE = '''\
frame = %vars
print(frame[['name', 'created_in', 'initialized', 'slot_of']].to_json(orient='records'))
'''


@pytest.fixture(scope='module')
def kernel(tmp_path_factory):
    with Kernel(tmp_path_factory.mktemp('notebooks')) as k:
        yield k


def printed(k: Kernel, code: str):
    result = k.run(code).check()
    assert 'tfmagic: ' not in result.text, result.text
    return json.loads(result.stdout.splitlines()[-1])


def test_a_real_notebook_from_its_first_cell(kernel):
    assert printed(kernel, LOAD_AND_BUILD) == [1.0, 2.0]
    loading_cell = kernel.run('pass').execution_count - 1
    assert printed(kernel, RUN_WHERE_CREATED) == [1.0]
    assert printed(kernel, TRAIN_WHERE_BUILT) == 3
    assert printed(kernel, METRIC_WHERE_CREATED) == 2.0
    rows = {row['name']: row for row in printed(kernel, TABLE)}
    assert rows['v']['created_in'] == loading_cell
    assert all(row['initialized'] for row in rows.values())
    assert rows['enc/W/Adam']['slot_of'] == rows['enc/W/Adam_1']['slot_of'] == 'enc/W'


def test_scopes_re_entered_by_later_cells(kernel):
    kernel.run('%tfreset').check()
    for _ in range(2):
        kernel.run("%%tfscope enc --reuse auto\nt = tf.compat.v1.Variable(1.0, name='t')\n"
                   "w = tf.compat.v1.get_variable('w', [1])").check()
    names = printed(kernel, "print(json.dumps(sorted(v.op.name for v in "
                            "tf.compat.v1.global_variables())))")
    assert names == ['enc/t', 'enc/t_1', 'enc/w']
