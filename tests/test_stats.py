"""value_stats: the chunked statistics equal numpy's, on arrays, on values
fetched from real TensorFlow variables and on a partitioned variable's parts,
and need memory for one chunk, not for copies of the value."""

from __future__ import annotations

import math
import statistics
import tracemalloc

import ml_dtypes
import numpy as np
import pytest
import tensorflow as tf

from tests.shell import ok
from tfmagic import stats
from tfmagic.stats import CHUNK_ELEMENTS, value_stats

RTOL = 1e-12


def rng() -> np.random.Generator:
    return np.random.default_rng(20240611)


def numpy_stats(value: np.ndarray) -> tuple:
    """What value_stats must give: numpy over the whole array at once
    (float32 first for the float types numpy cannot reduce itself)."""
    a = np.asarray(value)
    if not (np.issubdtype(a.dtype, np.number) or a.dtype == np.bool_):  # ml_dtypes' floats
        a = a.astype(np.float32)
    if np.iscomplexobj(a):
        a = np.abs(a)
    return (value.size, value.nbytes, float(a.min()), float(a.max()),
            float(a.mean(dtype=np.float64)), float(a.std(dtype=np.float64)))


def assert_same(got: tuple, want: tuple) -> None:
    size, nbytes, low, high, mean, std = got
    assert (size, nbytes) == want[:2]
    assert all(type(x) is float for x in got[2:]), got
    assert (low, high) == want[2:4]  # exact
    assert mean == pytest.approx(want[4], rel=RTOL, abs=0)
    assert std == pytest.approx(want[5], rel=RTOL, abs=0)


def arrays() -> dict[str, np.ndarray]:
    r = rng()
    normal = r.standard_normal((300, 500))
    return {
        'float32': (normal * 3 + 2).astype(np.float32),
        'float64 1e6 + noise': 1e6 + 1e-3 * normal,
        'float64 -1e9 + noise': -1e9 + normal,
        'float16': (normal + 0.5).astype(np.float16),
        'bfloat16': (normal * 4 + 1).astype(ml_dtypes.bfloat16),
        'float8_e4m3fn': (normal + 1).astype(ml_dtypes.float8_e4m3fn),
        'int64 wide': r.integers(-2**53, 2**53, 100_000, dtype=np.int64),
        'int32': r.integers(-1000, 5000, (7, 9, 11), dtype=np.int32),
        'uint8': r.integers(0, 256, 100_000, dtype=np.uint8),
        'uint64': r.integers(0, 2**63, 1000, dtype=np.uint64) * np.uint64(2),
        'bool': r.random(10_001) < 0.3,
        'complex64': (normal + 1j * normal[::-1] + 3).astype(np.complex64),
        'complex128': normal[:, :7] * 1j - 5,
        '0-d float': np.array(3.25, dtype=np.float32),
        '0-d int': np.array(-7),
        'one element': np.array([[[2.5]]]),
        'fortran order': np.asfortranarray(normal[:, :40] + 9),
        'strided view': normal[::3, 5::7] - 4,
        'transposed view': normal.T[10:200, ::2],
    }


@pytest.mark.parametrize('name', list(arrays()))
def test_equals_numpy(name):
    value = arrays()[name]
    assert_same(value_stats(value), numpy_stats(value))


@pytest.mark.parametrize('name', list(arrays()))
def test_equals_numpy_in_many_small_chunks(monkeypatch, name):
    monkeypatch.setattr(stats, 'CHUNK_ELEMENTS', 997)  # no divisor of any size above
    value = arrays()[name]
    assert_same(value_stats(value), numpy_stats(value))


def test_non_contiguous_rows_larger_than_a_chunk(monkeypatch):
    monkeypatch.setattr(stats, 'CHUNK_ELEMENTS', 50)
    value = rng().standard_normal((6, 40, 30))[:, ::3, 1:] + 100  # a row: 14 x 29
    assert_same(value_stats(value), numpy_stats(value))


def test_more_than_one_default_chunk_with_a_large_offset():
    value = 1e6 + rng().standard_normal(3 * CHUNK_ELEMENTS + 17)
    assert_same(value_stats(value), numpy_stats(value))


def test_int64_beyond_the_precision_of_float64():
    """The statistics of the values as float64 (ulp 1024 near 2**62); there
    numpy's std is off by the rounding of its mean (715 instead of 512)."""
    value = 2**62 + rng().integers(0, 1000, 10_000, dtype=np.int64)
    floats = [float(x) for x in value]
    size, nbytes, low, high, mean, std = value_stats(value)
    assert (low, high) == (float(value.min()), float(value.max())) == (min(floats), max(floats))
    assert mean == pytest.approx(statistics.fmean(floats), rel=RTOL)
    assert std == pytest.approx(statistics.pstdev(floats), rel=RTOL)


@pytest.mark.parametrize('chunk', [CHUNK_ELEMENTS, 997])
def test_constant_values_have_no_spread(monkeypatch, chunk):
    """Exactly 0, where numpy's std is off by its mean's rounding (1e-17)."""
    monkeypatch.setattr(stats, 'CHUNK_ELEMENTS', chunk)
    size, nbytes, low, high, mean, std = value_stats(np.full(100_000, 0.1))
    assert (low, high, std) == (0.1, 0.1, 0.0)
    assert mean == pytest.approx(0.1, rel=RTOL)


def test_values_are_python_numbers():
    size, nbytes, *floats = value_stats(np.arange(6, dtype=np.int16).reshape(2, 3))
    assert (type(size), type(nbytes)) == (int, int)
    assert [type(x) for x in floats] == [float] * 4
    assert floats[:3] == [0.0, 5.0, 2.5]


def test_a_variable_without_a_value():
    size, nbytes, *floats = value_stats(None)
    assert (size, nbytes) == (None, None)
    assert all(math.isnan(x) for x in floats)


@pytest.mark.parametrize('value, size, nbytes', [
    (np.zeros((0, 3), np.float32), 0, 0),
    (np.array([b'ab', b'c'], dtype=object), 2, 16),
    (np.array(['ab', 'c']), 2, 16),
    (np.array([1, 2], dtype='datetime64[s]'), 2, 16),
    ([], 0, 0),
    ([np.zeros(0), np.zeros((2, 0))], 0, 0),
    ([np.array([1.0]), np.array(['x'])], 2, 12),
])
def test_undefined_statistics_are_nan(value, size, nbytes):
    got = value_stats(value)
    assert got[:2] == (size, nbytes)
    assert all(math.isnan(x) for x in got[2:])


@pytest.mark.parametrize('values', [
    [1.0, np.inf, 2.0], [np.inf, 1.0], [1.0, np.nan, 2.0], [np.nan, 3.0],
    [-np.inf, np.inf], [1e200, -1e200], [np.nan],
])
def test_infinities_and_nan_as_numpy_without_warnings(values, recwarn):
    value = np.array(values)
    with np.errstate(all='ignore'):
        want = (value.min(), value.max(), value.mean(), value.std())
    got = value_stats(value)[2:]
    np.testing.assert_array_equal(got, want)
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


# -- a partitioned variable's parts -----------------------------------------------

def test_parts_give_the_statistics_of_their_concatenation(monkeypatch):
    r = rng()
    parts = [r.standard_normal((n, 30)) * 2 + 50 for n in (400, 0, 399, 1)]
    whole = np.concatenate(parts)
    assert_same(value_stats(parts), numpy_stats(whole))
    assert_same(value_stats(tuple(parts)), numpy_stats(whole))
    monkeypatch.setattr(stats, 'CHUNK_ELEMENTS', 1000)
    assert_same(value_stats(parts), numpy_stats(whole))


def test_a_part_with_one_element_and_complex_parts():
    parts = [np.array([4.0 + 3.0j], np.complex64), np.array([[0.0, 12.0j]], np.complex64)]
    size, nbytes, low, high, mean, std = value_stats(parts)
    assert (size, nbytes, low, high, mean) == (3, 24, 0.0, 12.0, 17.0 / 3)
    assert std == pytest.approx(np.std([5.0, 0.0, 12.0]), rel=RTOL)


# -- values fetched from real TensorFlow variables ------------------------------------

INITIALIZERS = {
    'float32': (tf.float32, tf.compat.v1.random_normal_initializer(3.0, 2.0)),
    'float16': (tf.float16, tf.compat.v1.random_uniform_initializer(-3.0, 7.0)),
    'bfloat16': (tf.bfloat16, tf.compat.v1.random_normal_initializer(5.0, 2.0)),
    'float64': (tf.float64, tf.compat.v1.random_normal_initializer(1e6, 1e-3)),
    'int64': (tf.int64, tf.compat.v1.random_uniform_initializer(-2**40, 2**40)),
    'int32': (tf.int32, tf.compat.v1.random_uniform_initializer(-50, 50)),
    'uint8': (tf.uint8, tf.compat.v1.constant_initializer(np.arange(300 * 70) % 251)),
    'bool': (tf.bool, tf.compat.v1.constant_initializer(np.arange(300 * 70) % 3 == 0)),
    'complex64': (tf.complex64, tf.compat.v1.constant_initializer(
        np.exp(1j * np.arange(300 * 70)) * np.arange(300 * 70))),
}


@pytest.fixture(scope='module')
def fetched() -> dict[str, np.ndarray]:
    """The values of real variables, fetched from a tf.compat.v1 session."""
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.set_random_seed(7)
        variables = {
            name: tf.compat.v1.get_variable(name, [300, 70], dtype=dtype, initializer=init)
            for name, (dtype, init) in INITIALIZERS.items()}
        parted = tf.compat.v1.get_variable(
            'parted', [1001, 30], initializer=tf.compat.v1.random_normal_initializer(-8.0, 3.0),
            partitioner=tf.compat.v1.fixed_size_partitioner(3))
        init = tf.compat.v1.global_variables_initializer()
    with tf.compat.v1.Session(graph=graph) as session:
        session.run(init)
        values = session.run(variables)
        values['parts'] = session.run(list(parted))
        values['parted'] = session.run(parted.as_tensor())
    return values


@pytest.mark.parametrize('name', list(INITIALIZERS))
def test_values_of_real_variables(fetched, name):
    value = fetched[name]
    assert value.dtype == INITIALIZERS[name][0].as_numpy_dtype
    assert_same(value_stats(value), numpy_stats(value))


def test_bfloat16_is_no_numpy_number_but_gets_statistics(fetched):
    value = fetched['bfloat16']
    assert not np.issubdtype(value.dtype, np.number)
    size, nbytes, low, high, mean, std = value_stats(value)
    assert (size, nbytes) == (300 * 70, 300 * 70 * 2)
    assert low < 5.0 < high
    assert mean == pytest.approx(5.0, abs=0.1) and std == pytest.approx(2.0, rel=0.1)


def test_parts_of_a_real_partitioned_variable(fetched):
    parts, whole = fetched['parts'], fetched['parted']
    assert len(parts) == 3
    assert_same(value_stats(parts), numpy_stats(whole))


def test_vars_stats_of_bfloat16_and_float16_variables(ip):
    ok(ip, "h = tf.compat.v1.get_variable('h', [40, 50], dtype=tf.float16)\n"
           "b = tf.compat.v1.get_variable('b', [40, 50], dtype=tf.bfloat16,\n"
           "    initializer=tf.compat.v1.random_normal_initializer(5.0, 2.0))")
    frame = ok(ip, '%vars --stats').set_index('name')
    values = dict(zip(['h', 'b'], ok(ip, 'tf.compat.v1.get_default_session().run([h, b])'),
                      strict=True))
    for name, value in values.items():
        row = frame.loc[name]
        want = numpy_stats(value)
        assert (row['size'], row['nbytes']) == want[:2]
        assert [row[c] for c in ('min', 'max')] == list(want[2:4])
        assert row['mean'] == pytest.approx(want[4], rel=RTOL)
        assert row['std'] == pytest.approx(want[5], rel=RTOL)


# -- memory: one chunk at a time -----------------------------------------------------

#: Allowed allocation peak, whatever the value's size: one chunk's float64
#: scratch array (a non-contiguous chunk is widened without a copy first).
MEMORY_BOUND = 1.25 * CHUNK_ELEMENTS * 8


def traced_peak(func) -> int:
    """Bytes allocated at the peak of ``func()`` beyond what existed before
    (numpy registers its array buffers with tracemalloc)."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        func()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


@pytest.fixture(scope='module')
def big() -> np.ndarray:
    """256 MiB of float32."""
    return rng().standard_normal(64 * 2**20, dtype=np.float32).reshape(256, 512, 512)


def test_memory_of_a_large_value_is_one_chunk(big):
    out = {}
    peak = traced_peak(lambda: out.setdefault('stats', value_stats(big)))
    assert peak < MEMORY_BOUND, f'{peak / 2**20:.1f} MiB for a {big.nbytes / 2**20:.0f} MiB value'
    size, nbytes, low, high, mean, std = out['stats']
    assert (size, nbytes) == (big.size, big.nbytes)
    assert (low, high) == (float(big.min()), float(big.max()))
    assert mean == pytest.approx(float(big.mean(dtype=np.float64)), rel=RTOL)
    assert std == pytest.approx(1.0, rel=1e-3)


@pytest.mark.parametrize('view', [
    lambda a: a[:, ::2, 1:],                  # not contiguous
    lambda a: a.transpose(1, 0, 2),
    lambda a: a[:128].view(np.complex64),     # complex: absolute values
    lambda a: [a[:100], a[100:101], a[101:]],  # parts
])
def test_memory_of_views_complex_and_parts_is_bounded(big, view):
    value = view(big)
    peak = traced_peak(lambda: value_stats(value))
    assert peak < MEMORY_BOUND, f'{peak / 2**20:.1f} MiB'


def test_memory_of_a_non_contiguous_float64_value_is_one_chunk(big):
    value = big[:48].astype(np.float64)[:, 1:, ::2]  # 96 MiB viewed
    peak = traced_peak(lambda: value_stats(value))
    assert peak < MEMORY_BOUND, f'{peak / 2**20:.1f} MiB'


def test_memory_of_a_large_bfloat16_value_is_one_chunk(big):
    value = big[:128].astype(ml_dtypes.bfloat16)  # 64 MiB, 32 Mi elements
    peak = traced_peak(lambda: value_stats(value))
    assert peak < MEMORY_BOUND, f'{peak / 2**20:.1f} MiB'
