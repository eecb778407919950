"""Repeated ``%vars --stats`` vs a plain cached callable plus numpy reductions,
and the check that repeated listings add no op to the user's graph.

tfmagic side: a workspace with N variables (default initializer, so values are
not constant), created and auto-initialized in a cell, untimed. Plain side: the
same code on its own graph and session, initialized, and
``sess.make_callable(variables)`` built once, untimed (the cached callable a
user would keep). Timed per call: tfmagic ``%vars --stats`` (via
``run_line_magic``: parsing and the whole 17-column table, no display) vs the
callable's fetch plus size, nbytes, min, max, mean, std of every array.
"""

from __future__ import annotations

import tensorflow as tf

from _common import (Context, Result, benchmark, cell, get_variable_code,
                     interleaved, plain_graph, profile_run, progress)

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
