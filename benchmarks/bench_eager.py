"""Eager mode (``%tfmode eager``): a Keras 3 cell run with tfmagic tracking
its variables vs the same cell without tfmagic, and ``%vars`` on the model
vs the listing a user would write.

``eager_fit_1k``: one cell builds a Sequential stack of Dense layers (two
variables each: 500 layers make 1,000), compiles it with Adam and fits one
epoch on 64 samples in batches of 32, so the cell also makes Adam's two slots
per variable, its iteration and learning rate, and the loss tracker's two
variables. Both sides run the same cell, as a numbered notebook cell through
a real shell's ``run_cell``, each run in a fresh process of its own
(``python bench_eager.py fit-sample SIDE LAYERS``): tfmagic side with
``%load_ext tfmagic`` and ``%tfmode eager``, plain side without tfmagic
loaded. Both sides first fit a 5-layer model, untimed, as a notebook would
have by then. Fresh processes because a process that has fitted a few
large models runs the next fit up to 1.8 times slower (TensorFlow and Keras
keep about 200,000 objects per fit alive, and Python's collector walks
them), which in one process drowned any difference between the sides in
the order they ran. The timed cell is model building, compile and fit,
and on the tfmagic side tfmagic's per-cell work (the creator scope, the
records). Fit traces a training step over every variable: seconds per
hundred layers, which is why the repeats are few.

``eager_vars_1k``: ``%vars`` (through ``run_line_magic``: parsing counted,
display not) vs ``pd.DataFrame`` of path, shape and dtype over
``model.variables + model.optimizer.variables + model.metrics_variables``,
the same variables ``%vars`` lists. The model is made once, untimed, in a
tracked cell: built, compiled, and Adam's variables made by
``model.optimizer.build(model.trainable_variables)``, as fit does before its
first step; the same variables as after a fit, without its minutes of
tracing. Steady state, min of N interleaved repeats in one process, as
``vars_1k``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
from _common import (
    Context,
    Result,
    Samples,
    benchmark,
    cell,
    child_report,
    interleaved,
    profile_run,
    progress,
    quiet,
    timed,
)

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


def fit_sample(side: str, layers: int) -> dict:
    """One timed run of the fit cell in this (fresh) process, after an
    untimed warm-up fit on a small model: Keras's first fit in a process
    imports and sets up what every later one reuses."""
    import tfmagic
    from tests.shell import make_shell

    shell = make_shell()
    if side == 'tfmagic':
        with quiet():
            shell.run_line_magic('load_ext', 'tfmagic')
            shell.run_line_magic('tfmode', 'eager')
    cell(shell, fit_code(WARMUP_LAYERS))
    for name in CELL_NAMES:
        shell.user_ns.pop(name, None)
    import keras
    keras.backend.clear_session()
    wall, cpu = timed(lambda: cell(shell, fit_code(layers)))
    model = shell.user_ns['model']
    report = {'wall': wall, 'cpu': cpu, 'model_variables': len(model.variables),
              'listed': len(listed(model)), 'fitted': 'history' in shell.user_ns}
    if side == 'tfmagic':
        report['tracked'] = len(tfmagic.workspace().variables())
    return report


@benchmark('eager_fit_1k', target=FIT_TARGET)
def bench_fit(ctx: Context) -> Result:
    """An eager cell building a 1,000-variable Keras model (500 Dense) and
    fitting one epoch with Adam: tfmagic loaded, %tfmode eager vs not loaded;
    each run in a fresh process."""
    layers = ctx.size(LAYERS_FULL, LAYERS_QUICK)
    repeats = ctx.repeats(3, 2)
    samples = Samples()
    problems: list[str] = []
    counts: dict[str, int] = {}
    for i in range(repeats):
        # Alternate which side runs first, so neither always has the fresher machine.
        for side in ('tfmagic', 'plain') if i % 2 == 0 else ('plain', 'tfmagic'):
            report = child_report([__file__, 'fit-sample', side, str(layers)],
                                  label=f'eager_fit_1k {side}', timeout=3600)
            wall, cpu = (samples.samples_tfmagic, samples.cpu_tfmagic) if side == 'tfmagic' \
                else (samples.samples_plain, samples.cpu_plain)
            wall.append(report['wall'])
            cpu.append(report['cpu'])
            if report['model_variables'] != 2 * layers:
                problems.append(f"{side}: the model has {report['model_variables']} variables, "
                                f'not {2 * layers}')
            if not report['fitted']:
                problems.append(f'{side}: fit did not run')
            counts[f'variables_{side}'] = report['listed']
            if side == 'tfmagic':
                counts['tracked'] = report['tracked']
                if report['tracked'] != report['listed']:
                    problems.append(f"tfmagic tracked {report['tracked']} variables, "
                                    f"not {report['listed']}")
        progress(f'    round {i + 1}: tfmagic {samples.samples_tfmagic[-1]:.2f}s  '
                 f'plain {samples.samples_plain[-1]:.2f}s')
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


if __name__ == '__main__':  # a fit sample, in a process of its own: fit-sample SIDE LAYERS
    _, command, side, layers = sys.argv
    assert command == 'fit-sample' and side in ('tfmagic', 'plain'), sys.argv
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.shell
    print(json.dumps(fit_sample(side, int(layers))))
