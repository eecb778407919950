"""Repeated ``%vars --stats`` vs a plain cached callable plus numpy reductions,
and the check that repeated listings add no op to the user's graph; and the
memory ``%vars --stats`` needs for one large variable.

tfmagic side: a workspace with N variables (default initializer, so values are
not constant), created and auto-initialized in a cell, untimed. Plain side: the
same code on its own graph and session, initialized, and
``sess.make_callable(variables)`` built once, untimed (the cached callable a
user would keep). Timed per call: tfmagic ``%vars --stats`` (via
``run_line_magic``: parsing and the whole 17-column table, no display) vs the
callable's fetch plus size, nbytes, min, max, mean, std of every array.

``stats_memory_1g`` measures bytes, not seconds: see its docstring.
"""

from __future__ import annotations

import json

import tensorflow as tf
from _common import (
    MEMORY_PROBE,
    Context,
    Result,
    benchmark,
    cell,
    extra_peak,
    get_variable_code,
    interleaved,
    memory_child,
    plain_graph,
    profile_run,
    progress,
)

TARGET = 1.3
LISTINGS = 10


def plain_stats(run) -> list[tuple]:
    values = run()
    return [(a.size, a.nbytes, a.min(), a.max(), a.mean(), a.std()) for a in values]


@benchmark('stats_1k', target=TARGET)
def bench_stats(ctx: Context) -> Result:
    """%vars --stats on 1,000 variables vs cached make_callable + numpy reductions."""
    n = ctx.size(1000, 300)
    repeats = ctx.repeats(25, 15)
    shell = ctx.shell
    code = get_variable_code(n)

    ctx.tfreset(auto_init=True)
    cell(shell, code)
    graph = ctx.workspace().graph

    plain = plain_graph(code)
    session = tf.compat.v1.Session(graph=plain)
    with plain.as_default():
        session.run(tf.compat.v1.global_variables_initializer())
        run = session.make_callable(tf.compat.v1.global_variables())

    # The graph must not grow on repeated listings (the first one included).
    ops_before = len(graph.get_operations())
    counts = []
    for _ in range(LISTINGS):
        shell.run_line_magic('vars', '--stats')
        counts.append(len(graph.get_operations()))
    ops_after = counts[-1]
    identical = ops_before == ops_after
    progress(f'    graph ops: {ops_before} before, {ops_after} after {LISTINGS} listings')

    out = {}

    def tfmagic_run():
        out['tfmagic'] = shell.run_line_magic('vars', '--stats')

    def plain_run():
        out['plain'] = plain_stats(run)

    samples = interleaved(repeats, tfmagic_run, plain_run, warmup=1, collect=False)
    notes = [f'graph ops before {LISTINGS} x %vars --stats: {ops_before}, after: '
             f'{ops_after} -> {"identical" if identical else "CHANGED"}'
             + ('' if identical else f' (after each: {counts})')]
    frame = out['tfmagic']
    if len(frame) != n or frame['std'].isna().any() or len(out['plain']) != n:
        notes.append('WARNING: the tfmagic table lacks rows or statistics')
    session.close()
    profile_run(ctx, 'stats_1k', tfmagic_run)
    ctx.tfreset()
    return samples.result('stats_1k', n, TARGET, notes=notes,
                          extra={'ops_before': ops_before, 'ops_after': ops_after,
                                 'ops_after_each': counts, 'ops_identical': identical})


MEMORY_TARGET = 1.25
GiB = 2**30

#: One side of stats_memory_1g, run as ``python -c MEMORY_CHILD SIDE SHAPE``
#: in a process of its own (:func:`memory_child`), so that its peak resident
#: memory is its own. It prints one JSON line: for each measured step the
#: resident bytes before it, at its peak and after it.
MEMORY_CHILD = MEMORY_PROBE + r"""
import json, sys, tracemalloc
import tensorflow as tf

side, shape = sys.argv[1], json.loads(sys.argv[2])
CODE = (f"v = tf.compat.v1.get_variable('v', {shape}, "
        "initializer=tf.compat.v1.random_uniform_initializer())")

report = {}
if side == 'tfmagic':
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config
    import tfmagic
    from tfmagic.stats import value_stats

    config = Config()
    config.HistoryManager.hist_file = ':memory:'
    shell = InteractiveShell.instance(config=config)
    shell.run_line_magic('load_ext', 'tfmagic')
    result = shell.run_cell('import tensorflow as tf\n' + CODE, store_history=True)
    if not result.success:
        raise SystemExit(f'cell failed: {result.error_in_exec!r}')
    shell.run_line_magic('vars', '')  # auto-init done, the table code loaded
    frame, report['vars_stats'] = measured(lambda: shell.run_line_magic('vars', '--stats'))
    row = frame.iloc[0]
    report['stats'] = [float(row[c]) for c in ('size', 'nbytes', 'min', 'max', 'mean', 'std')]
    del frame, row
    # Where the bytes go: the fetch alone, then value_stats alone on its value.
    ws = tfmagic.workspace()
    value, report['fetch'] = measured(lambda: ws.fetch_values(ws.variables())[0])
    _, report['value_stats'] = measured(lambda: value_stats(value))
    tracemalloc.start()  # RSS misses heap pages reused: the bytes numpy allocated
    value_stats(value)
    report['value_stats_allocated'] = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
else:
    graph = tf.Graph()
    with graph.as_default():
        exec(CODE, {'tf': tf})
        init = tf.compat.v1.global_variables_initializer()
        (v,) = tf.compat.v1.global_variables()
    session = tf.compat.v1.Session(graph=graph)
    session.run(init)

    def fetch_and_reduce():
        a = session.run(v)
        return [float(x) for x in (a.size, a.nbytes, a.min(), a.max(), a.mean(), a.std())]

    report['stats'], report['fetch_numpy'] = measured(fetch_and_reduce)
print(json.dumps(report))
"""


def _memory_child(side: str, shape: list[int]) -> dict:
    """Run one side in a child process (the venv's python, as this one)."""
    return memory_child(MEMORY_CHILD, side, json.dumps(shape), label=side, timeout=1800)


@benchmark('stats_memory_1g', target=MEMORY_TARGET)
def bench_stats_memory(ctx: Context) -> Result:
    """Extra peak RSS of %vars --stats on one 1 GiB float32 variable, per variable size.

    Bytes, not seconds, each side in a child process of its own: "tfmagic s"
    is the extra peak of %vars --stats (the fetch included) and "plain s" the
    variable's size, both in GiB, so the ratio is the extra peak in multiples
    of the size. The plain side (sess.run(v), then numpy's min, max, mean,
    std) and where tfmagic's bytes go are in the notes. --quick: 256 MiB.
    """
    shape = [64, 1024, 1024] if ctx.quick else [256, 1024, 1024]
    elements = shape[0] * shape[1] * shape[2]
    size = 4 * elements
    # One child at a time: the plain one peaks at 3 x size plus TensorFlow's own.
    tfmagic = _memory_child('tfmagic', shape)
    plain = _memory_child('plain', shape)

    magic_extra, plain_extra = extra_peak(tfmagic['vars_stats']), extra_peak(plain['fetch_numpy'])
    fetch_extra, stats_extra = extra_peak(tfmagic['fetch']), extra_peak(tfmagic['value_stats'])
    method = {tfmagic['vars_stats']['method'], plain['fetch_numpy']['method']}
    notes = [
        f'bytes, not seconds: tfmagic s = extra peak RSS of %vars --stats, '
        f'plain s = the variable\'s size ({size / GiB:g} GiB float32), both in GiB; '
        f'ratio = extra peak / size (peak: {", ".join(sorted(method))})',
        f'extra peak, x variable size: tfmagic %vars --stats {magic_extra / size:.3f}, '
        f'plain sess.run(v) + numpy min/max/mean/std {plain_extra / size:.3f}; '
        f'tfmagic / plain {magic_extra / plain_extra:.3f}',
        f'tfmagic breakdown, x size: fetch_values alone {fetch_extra / size:.3f}, '
        f'value_stats alone on the fetched value {stats_extra / size:.3f} '
        f'(RSS +{stats_extra / 2**20:.1f} MiB, numpy allocated '
        f'{tfmagic["value_stats_allocated"] / 2**20:.1f} MiB); held after %vars --stats '
        f'{(tfmagic["vars_stats"]["after"] - tfmagic["vars_stats"]["before"]) / size:.3f}',
    ]
    got, want = tfmagic['stats'], plain['stats']
    if got[:2] != want[:2] or any(x != x for x in got) or abs(got[4] - want[4]) > 1e-3:
        notes.append(f'WARNING: statistics differ: tfmagic {got}, plain {want}')
    return Result('stats_memory_1g', elements, MEMORY_TARGET,
                  [magic_extra / GiB], [size / GiB], notes=notes,
                  extra={'variable_bytes': size, 'tfmagic': tfmagic, 'plain': plain,
                         'tfmagic_extra_over_size': magic_extra / size,
                         'plain_extra_over_size': plain_extra / size,
                         'tfmagic_over_plain': magic_extra / plain_extra})
