"""``%tfgraph`` on 10,000 variables in 100 scopes (``tfgraph_10k``).

The graph of bench_checkpoints (``s0/v0`` ... ``s99/v99``: 100 scopes of 100
float32 [10] variables, about 50,000 ops with their initializers and reads),
drawn at depth 1: 100 closed scope boxes, not 10,000 variables.

tfmagic side: ``%tfgraph`` as a cell runs it -- bringing the graph index up
to date, grouping by scope, writing the DOT source, and ``dot -Tsvg`` -- vs
the plain side: ``dot -Tsvg`` alone on the same DOT source, which is the part
no tool can skip. The ratio says how much tfmagic's own grouping adds to the
layout. The index is built by the first (untimed, warm-up) call; the time of
that first call is in the notes. Both sides start ``dot`` as a child process,
so the process-CPU ratio means nothing here.
"""

from __future__ import annotations

import subprocess
import time

from _common import Context, Result, benchmark, interleaved, profile_run
from bench_checkpoints import N_SCOPES, PER_SCOPE, scoped_10k, spread

TARGET = 1.5


@benchmark('tfgraph_10k', target=TARGET)
def bench_tfgraph(ctx: Context) -> Result:
    """%tfgraph at depth 1 on 10,000 variables in 100 scopes vs dot alone on its source."""
    from tfmagic import graphview
    ws = scoped_10k(ctx)
    shell = ctx.shell
    n = N_SCOPES * PER_SCOPE
    tracker = shell.magics_manager.registry['TFMagic'].tracker
    graphview._indexes.pop(tracker, None)  # the first call indexes the whole graph
    started = time.perf_counter()
    first = shell.run_line_magic('tfgraph', '')
    first_s = time.perf_counter() - started
    drawn, source = graphview.picture_and_source(tracker)
    dot = graphview.dot_path()
    out = {}

    def tfmagic_run():
        out['drawing'] = shell.run_line_magic('tfgraph', '')

    def plain_run():
        subprocess.run([dot, '-Tsvg'], input=source.encode(), capture_output=True, check=True)

    ops = len(ws.graph.get_operations())
    samples = interleaved(ctx.repeats(12, 5), tfmagic_run, plain_run, warmup=1)
    profile_run(ctx, 'tfgraph_10k', tfmagic_run)
    kinds = [node.kind for node in drawn.nodes()]
    notes = [f'%tfgraph at depth 1 on {n:,} variables ({ops:,} ops) in {N_SCOPES} scopes: '
             f'{spread(samples.samples_tfmagic)}; dot alone on the same source: '
             f'{spread(samples.samples_plain)}',
             f'the first call, which indexes the whole graph: {first_s:.3f} s; later calls '
             'index only the ops added since',
             f'drawn: {drawn.summary()}']
    if kinds.count('scope') != N_SCOPES or 'variable' in kinds or first is None:
        notes.append(f'WARNING: expected {N_SCOPES} closed scopes and no variable node, '
                     f'drew {drawn.summary()}')
    if out['drawing'].svg.count('class="node scope"') != N_SCOPES:
        notes.append('WARNING: the SVG does not hold one node per scope')
    return samples.result('tfgraph_10k', n, TARGET, notes=notes,
                          extra={'first_call_s': first_s, 'ops': ops})
