"""``%vars`` listing vs the hand-written listing a user would write.

The variables exist already: created once (untimed) in a tracked tfmagic cell,
zeros initializer to keep the setup short, and initialized by a second cell
running ``global_variables_initializer()`` (auto_init off for those two cells:
its check of 10,000 new variables alone is a ~10 s session run, and auto-init
is what ``cells_create_init`` measures). tfmagic is then told they hold values
(``Workspace.mark_initialized``, as after a restore; without that method the
untimed warm-up ``%vars`` finds out by itself). Both sides are timed in steady
state, min of N interleaved repeats, and list the same graph's variables, so
they see exactly the same objects. ``%vars`` goes through
``shell.run_line_magic('vars', '')``: argument parsing is counted, display is
not.
"""

from __future__ import annotations

import pandas as pd
import tensorflow as tf
from _common import Context, Result, benchmark, cell, get_variable_code, interleaved, profile_run

TARGET = 1.5

INIT_CELL = ('tf.compat.v1.get_default_session().run('
             'tf.compat.v1.global_variables_initializer())')


def plain_listing() -> pd.DataFrame:
    vs = tf.compat.v1.global_variables()
    return pd.DataFrame({'name': [v.op.name for v in vs],
                         'shape': [tuple(v.shape.as_list()) for v in vs],
                         'dtype': [v.dtype.base_dtype.name for v in vs]})


def setup_variables(ctx: Context, n: int) -> tf.Graph:
    """A fresh workspace holding ``n`` tracked, initialized variables."""
    shell = ctx.shell
    ctx.tfreset(auto_init=False)
    cell(shell, get_variable_code(n, initializer='tf.compat.v1.zeros_initializer()'))
    cell(shell, INIT_CELL)
    shell.run_line_magic('config', 'TFMagic.auto_init = True')
    ws = ctx.workspace()
    # They are initialized: tell tfmagic so, as a restore does, instead of
    # letting the warm-up %vars find out with a 10,000-fetch run (~10 s).
    mark = getattr(ws, 'mark_initialized', None)
    if mark is not None:
        mark(ws.variables())
    return ws.graph


def _vars(ctx: Context, name: str, n: int, repeats: int) -> Result:
    shell = ctx.shell
    graph = setup_variables(ctx, n)
    out = {}

    def tfmagic_run():
        out['tfmagic'] = shell.run_line_magic('vars', '')

    def plain_run():
        with graph.as_default():
            out['plain'] = plain_listing()

    samples = interleaved(repeats, tfmagic_run, plain_run, warmup=1, collect=False)
    notes = []
    frame = out['tfmagic']
    if len(frame) != n or len(out['plain']) != n or not frame['initialized'].all():
        notes.append(f'WARNING: expected {n} rows, all initialized; got {len(frame)} '
                     f'(tfmagic) and {len(out["plain"])} (plain)')
    profile_run(ctx, name, tfmagic_run)
    ctx.tfreset()
    return samples.result(name, n, TARGET, notes=notes)


@benchmark('vars_1k', target=TARGET)
def bench_vars_1k(ctx: Context) -> Result:
    """%vars on 1,000 variables vs pd.DataFrame over global_variables()."""
    return _vars(ctx, 'vars_1k', ctx.size(1000, 1000), ctx.repeats(40, 25))


@benchmark('vars_10k', target=TARGET)
def bench_vars_10k(ctx: Context) -> Result:
    """%vars on 10,000 variables vs pd.DataFrame over global_variables()."""
    return _vars(ctx, 'vars_10k', ctx.size(10_000, 2000), ctx.repeats(25, 15))
