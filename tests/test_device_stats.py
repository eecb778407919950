"""Statistics computed by ops where a variable lives (what %vars --stats does
on a cluster) agree with those of the fetched values (what it does in process)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import tfmagic
from tests.shell import ok, ops_count
from tfmagic.devicestats import device_stats
from tfmagic.stats import value_stats
from tfmagic.tables import values_of

CELL = '''\
import numpy as np
rng = np.random.default_rng(0)
f32 = tf.compat.v1.get_variable('f32', initializer=rng.normal(1e4, 3, [50, 7]).astype(np.float32))
f64 = tf.compat.v1.get_variable('f64', initializer=rng.normal(-2, 5, [300]))
f16 = tf.compat.v1.get_variable('f16', initializer=rng.normal(0, 1, [64]).astype(np.float16))
i64 = tf.compat.v1.get_variable('i64', initializer=np.array([-3, 2**40, 7], dtype=np.int64))
flags = tf.compat.v1.get_variable('flags', initializer=np.array([True, False, True, True]))
c64 = tf.compat.v1.get_variable('c64', initializer=np.array([3 + 4j, 1j], dtype=np.complex64))
words = tf.compat.v1.get_variable('words', initializer=tf.constant(['a', 'b']))
empty = tf.compat.v1.get_variable('empty', [0, 3])
ref = tf.compat.v1.Variable(np.arange(5.0), name='ref', use_resource=False)
emb = tf.compat.v1.get_variable('emb', [9, 2], partitioner=tf.compat.v1.fixed_size_partitioner(3))
'''


def test_device_stats_agree_with_the_values_stats(ip, ws):
    ok(ip, CELL)
    ok(ip, '%config TFMagic.auto_init = False')
    ok(ip, "later = tf.compat.v1.get_variable('later', [2])")
    infos = tfmagic.tracker().describe()
    on_device = device_stats(ws, infos)
    fetched = [value_stats(value) for value in values_of(tfmagic.tracker(), infos)]
    names = [info.record.name for info in infos]
    assert len(names) == 11
    for name, ours, theirs in zip(names, on_device, fetched, strict=True):
        # size and nbytes (a string tensor's bytes are its strings': no value, no count)
        assert ours[:2] == theirs[:2] or name == 'words' and ours[0] == theirs[0], name
        for a, b in zip(ours[2:], theirs[2:], strict=True):
            if math.isnan(b):
                assert math.isnan(a), name
            else:
                assert a == pytest.approx(b, rel=1e-6, abs=1e-6), name
    later = on_device[names.index('later')]  # no value: nothing is computed
    assert later[:2] == (None, None) and all(math.isnan(x) for x in later[2:])
    before = ops_count(ws.graph)
    np.testing.assert_equal(device_stats(ws, infos), on_device)  # built once: no new op
    assert ops_count(ws.graph) == before
