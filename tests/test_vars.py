"""%vars: the DataFrame's columns, filters, statistics, and bad input."""

import math

import numpy as np
import pandas as pd
import pytest
from IPython.core.error import UsageError

from tests.shell import ok, ops_count
from tfmagic.tables import STATS_COLUMNS, VARIABLE_COLUMNS

COLUMNS = ['name', 'scope', 'shape', 'dtype', 'trainable', 'created_by', 'created_in',
           'reuses', 'reused_in', 'reuse_status', 'initialized', 'partitions', 'slot_of',
           'device']


@pytest.fixture
def model(ip):
    ok(ip, "v = tf.compat.v1.Variable(1, name='foo')")
    first = ip.execution_count - 1
    ok(ip, "%%tfscope layer1\n"
           "w = tf.compat.v1.get_variable('w', initializer=[[1.0, 2.0], [3.0, 4.0]])\n"
           "b = tf.compat.v1.get_variable('b', [3], dtype=tf.int64, trainable=False)")
    ok(ip, "%%tfscope layer1 --reuse\nw_again = tf.compat.v1.get_variable('w')")
    ok(ip, "%%tfscope layer1/sub\ns = tf.compat.v1.get_variable('s', [])")
    return first


def test_columns_rows_and_values(ip, model):
    frame = ok(ip, '%vars')
    assert list(frame.columns) == COLUMNS == list(VARIABLE_COLUMNS)
    assert frame['name'].tolist() == ['foo', 'layer1/b', 'layer1/sub/s', 'layer1/w']
    rows = frame.set_index('name')
    assert rows.loc['foo'].to_dict() == {
        'scope': '', 'shape': (), 'dtype': 'int32', 'trainable': True,
        'created_by': 'tf.Variable', 'created_in': model, 'reuses': 0, 'reused_in': [],
        'reuse_status': 'not reusable', 'initialized': True, 'partitions': 1, 'slot_of': '',
        'device': ''}
    assert rows.loc['layer1/w', 'shape'] == (2, 2)
    assert rows.loc['layer1/w', 'reuses'] == 1
    assert rows.loc['layer1/w', 'reused_in'] == [model + 2]
    assert rows.loc['layer1/w', 'reuse_status'] == 'reused'
    assert rows.loc['layer1/b', 'dtype'] == 'int64'
    assert not rows.loc['layer1/b', 'trainable']
    assert rows.loc['layer1/b', 'reuse_status'] == 'not reused'
    assert rows.loc['layer1/sub/s', 'scope'] == 'layer1/sub'
    assert str(frame['created_in'].dtype) == 'Int64'


@pytest.mark.parametrize('line, names', [
    ("'layer1/*'", ['layer1/b', 'layer1/sub/s', 'layer1/w']),
    ('*/w', ['layer1/w']),
    ('foo', ['foo']),
    ('--scope layer1/sub', ['layer1/sub/s']),
    ('--scope layer1/', ['layer1/b', 'layer1/sub/s', 'layer1/w']),
    ('--trainable', ['foo', 'layer1/sub/s', 'layer1/w']),
    ("'*' --scope layer1 --trainable", ['layer1/sub/s', 'layer1/w']),
])
def test_filters(ip, model, line, names):
    assert ok(ip, f'%vars {line}')['name'].tolist() == names


def test_a_pattern_matching_nothing_gives_an_empty_frame_with_the_columns(ip, model):
    frame = ok(ip, "%vars 'nothing*'")
    assert frame.empty
    assert list(frame.columns) == COLUMNS
    stats = ok(ip, "%vars 'nothing*' --stats")
    assert list(stats.columns) == COLUMNS + list(STATS_COLUMNS)


def test_stats_are_exact(ip, model):
    frame = ok(ip, '%vars --stats').set_index('name')
    w = frame.loc['layer1/w']
    assert (w['size'], w['nbytes']) == (4, 16)
    assert (w['min'], w['max'], w['mean']) == (1.0, 4.0, 2.5)
    assert math.isclose(w['std'], np.std([1.0, 2.0, 3.0, 4.0]))
    assert frame.loc['layer1/b', 'max'] == 0.0
    assert frame.loc['foo', 'mean'] == 1.0


def test_stats_of_an_uninitialized_variable_are_missing(ip):
    ok(ip, '%config TFMagic.auto_init = False')
    ok(ip, "u = tf.compat.v1.get_variable('u', [2])")
    row = ok(ip, '%vars --stats').iloc[0]
    assert not row['initialized']
    assert pd.isna(row['size']) and math.isnan(row['mean'])


def test_repeated_stats_add_no_op_to_the_graph(ip, ws, model):
    ok(ip, '%vars --stats')
    before = ops_count(ws.graph)
    for _ in range(5):
        ok(ip, '%vars --stats')
        ok(ip, '%vars')
    assert ops_count(ws.graph) == before


def test_stats_reflect_new_values(ip, model):
    ok(ip, "tf.compat.v1.get_default_session().run(w.assign([[0.0, 0.0], [0.0, 8.0]]))")
    assert ok(ip, "%vars 'layer1/w' --stats")['max'].tolist() == [8.0]


def test_stats_in_bounded_batches(ip, ws, model):
    values = ws.fetch_values(ws.variables(), max_batch_bytes=8)
    assert [np.asarray(v).tolist() for v in values][0] == 1
    assert np.asarray(values[1]).tolist() == [[1.0, 2.0], [3.0, 4.0]]


def test_html_and_text_tables(ip, model):
    frame = ok(ip, '%vars')
    data, _ = ip.display_formatter.format(frame)
    assert '<table' in data['text/html'] and 'layer1/w' in data['text/html']
    assert 'layer1/w' in data['text/plain']


#: What %vars refuses, with what it says (in graph and in eager mode).
BAD_ARGUMENTS = [
    ('--scope', 'expected one argument'),
    ("--scope ''", "invalid --scope name ''"),
    ("--scope 'a b'", "invalid --scope name 'a b'"),
    ('--bogus', 'unrecognized arguments: --bogus'),
    ('a b', 'unrecognized arguments: b'),
    ("'unclosed", 'No closing quotation'),
]


@pytest.mark.parametrize('line, message', BAD_ARGUMENTS)
def test_bad_arguments(ip, ws, model, line, message):
    before = ops_count(ws.graph)
    with pytest.raises(UsageError, match='^[^\n]*$') as info:
        ip.run_line_magic('vars', line)
    assert message in str(info.value)
    assert ops_count(ws.graph) == before
