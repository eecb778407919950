"""Eager mode (``%tfmode eager``): a Keras 3 cell run with tfmagic tracking
its variables vs the same cell without tfmagic, and ``%vars`` on the model
vs the listing a user would write.

``eager_fit_1k``: one cell builds a Sequential stack of Dense layers (two
variables each: 500 layers make 1,000), compiles it with Adam and fits one
epoch on 64 samples in batches of 32, so the cell also makes Adam's two slots
per variable, its iteration and learning rate, and the loss tracker's two
variables. Both sides run the same cell, as a numbered notebook cell through
the same shell's ``run_cell``, in the same process: tfmagic side with
tfmagic loaded and ``%tfmode eager``, plain side after ``%unload_ext
tfmagic``. Loading and unloading are untimed setup, as are dropping the last
run's model from the namespace and ``keras.backend.clear_session()``; the
timed cell is model building, compile and fit, and on the tfmagic side
tfmagic's per-cell work (the creator scope, the records, and a garbage
collection after a cell that drops an object its names held). Fit traces a
training step over every variable: seconds per hundred layers, which is why
the repeats are few.

``eager_vars_1k``: ``%vars`` (through ``run_line_magic``: parsing counted,
display not) vs ``pd.DataFrame`` of path, shape and dtype over
``model.variables + model.optimizer.variables + model.metrics_variables``,
the same variables ``%vars`` lists. The model is made once, untimed, in a
tracked cell: built, compiled, and Adam's variables made by
``model.optimizer.build(model.trainable_variables)``, as fit does before its
first step; the same variables as after a fit, without its minutes of
tracing. Steady state, min of N interleaved repeats, as ``vars_1k``.
"""

from __future__ import annotations

import pandas as pd
from _common import Context, Result, benchmark, cell, interleaved, profile_run, quiet

FIT_TARGET = 1.03
VARS_TARGET = 1.5
LAYERS_FULL, LAYERS_QUICK = 500, 50
WARMUP_LAYERS = 5

MODEL = '''\
import numpy as np
import keras
layers = [keras.Input((4,))] + [keras.layers.Dense(4) for _ in range({layers})]
model = keras.Sequential(layers)
model.compile(optimizer='adam', loss='mse')
'''
FIT = '''\
x = np.ones((64, 4), np.float32)
y = np.zeros((64, 4), np.float32)
history = model.fit(x, y, epochs=1, batch_size=32, verbose=0)
'''
#: Adam's variables without fitting: what fit does before its first step.
BUILD_OPTIMIZER = 'model.optimizer.build(model.trainable_variables)\n'

#: What the cells leave in the namespace, dropped (untimed) before each run.
CELL_NAMES = ('layers', 'model', 'x', 'y', 'history')


def fit_code(layers: int) -> str:
    return MODEL.format(layers=layers) + FIT


def _loaded(shell) -> bool:
    return 'tfmagic' in shell.extension_manager.loaded


def tfmagic_on(ctx: Context) -> None:
    """tfmagic loaded, in eager mode, with nothing tracked yet."""
    shell = ctx.shell
    with quiet():
        if _loaded(shell):
            shell.run_line_magic('unload_ext', 'tfmagic')
        shell.run_line_magic('load_ext', 'tfmagic')
        shell.run_line_magic('tfmode', 'eager')


def tfmagic_off(ctx: Context) -> None:
    shell = ctx.shell
    with quiet():
        if _loaded(shell):
            shell.run_line_magic('unload_ext', 'tfmagic')


def restore(ctx: Context) -> None:
    """Leave the shell as the other benchmarks expect it: tfmagic loaded, graph mode."""
    drop_model(ctx)
    shell = ctx.shell
    with quiet():
        if not _loaded(shell):
            shell.run_line_magic('load_ext', 'tfmagic')
        shell.run_line_magic('tfmode', 'graph')  # as %tfreset when switching
    ctx.tfreset()


def drop_model(ctx: Context) -> None:
    import keras

    for name in CELL_NAMES:
        ctx.shell.user_ns.pop(name, None)
    keras.backend.clear_session()


def listed(model) -> list:
    """The variables ``%vars`` lists for a compiled model whose optimizer is built."""
    return model.variables + model.optimizer.variables + model.metrics_variables


@benchmark('eager_fit_1k', target=FIT_TARGET)
def bench_fit(ctx: Context) -> Result:
    """An eager cell building a 1,000-variable Keras model (500 Dense) and
    fitting one epoch with Adam: tfmagic loaded, %tfmode eager vs unloaded."""
    import tfmagic

    layers = ctx.size(LAYERS_FULL, LAYERS_QUICK)
    repeats = ctx.repeats(3, 3)
    code = fit_code(layers)
    shell = ctx.shell
    problems: list[str] = []
    counts: dict[str, int] = {}

    def check(side: str) -> None:
        model = shell.user_ns.get('model')
        if model is None:
            return
        if len(model.variables) != 2 * layers:
            problems.append(f'{side}: the model has {len(model.variables)} variables, '
                            f'not {2 * layers}')
        if 'history' not in shell.user_ns:
            problems.append(f'{side}: fit did not run')
        expected = len(listed(model))
        counts[f'variables_{side}'] = expected
        if side == 'tfmagic':
            tracked = len(tfmagic.workspace().variables())
            counts['tracked'] = tracked
            if tracked != expected:
                problems.append(f'tfmagic tracked {tracked} variables, not {expected}')

    def tfmagic_setup():
        check('plain')
        drop_model(ctx)
        tfmagic_on(ctx)

    def plain_setup():
        check('tfmagic')
        drop_model(ctx)
        tfmagic_off(ctx)

    def run():
        cell(shell, code)

    # Untimed, on a small model: Keras's first fit in the process imports and
    # sets up what every later one reuses.
    for setup in (tfmagic_setup, plain_setup):
        setup()
        cell(shell, fit_code(WARMUP_LAYERS))
    drop_model(ctx)
    problems.clear()
    try:
        samples = interleaved(repeats, run, run, tfmagic_setup, plain_setup)
        check('plain')
        profile_run(ctx, 'eager_fit_1k', run, tfmagic_setup)
    finally:
        restore(ctx)
    notes = [f'WARNING: {p}' for p in dict.fromkeys(problems)]
    return samples.result('eager_fit_1k', 2 * layers, FIT_TARGET, notes=notes,
                          extra={'layers': layers, **counts})


def plain_listing(model) -> pd.DataFrame:
    variables = listed(model)
    return pd.DataFrame({'path': [v.path for v in variables],
                         'shape': [tuple(v.shape) for v in variables],
                         'dtype': [v.dtype for v in variables]})


@benchmark('eager_vars_1k', target=VARS_TARGET)
def bench_vars(ctx: Context) -> Result:
    """%vars on that model (1,000 variables + Adam's + the loss tracker's) vs
    pd.DataFrame of path, shape, dtype over the model's and optimizer's variables."""
    layers = ctx.size(LAYERS_FULL, LAYERS_FULL)
    repeats = ctx.repeats(40, 25)
    shell = ctx.shell
    out = {}
    try:
        drop_model(ctx)
        tfmagic_on(ctx)
        cell(shell, MODEL.format(layers=layers) + BUILD_OPTIMIZER)
        box = {'model': shell.user_ns['model']}

        def tfmagic_run():
            out['tfmagic'] = shell.run_line_magic('vars', '')

        def plain_run():
            out['plain'] = plain_listing(box['model'])

        samples = interleaved(repeats, tfmagic_run, plain_run, warmup=1, collect=False)
        notes = []
        mine, theirs = out['tfmagic'], out['plain']
        if len(mine) != len(theirs) or set(mine['name']) != set(theirs['path']):
            notes.append(f'WARNING: %vars listed {len(mine)} variables, the hand-written '
                         f'listing {len(theirs)}; not the same names')
        profile_run(ctx, 'eager_vars_1k', tfmagic_run)
        box.clear()
    finally:
        restore(ctx)
    return samples.result('eager_vars_1k', len(theirs), VARS_TARGET, notes=notes,
                          extra={'layers': layers, 'model_variables': 2 * layers})
