"""Cell overhead: a managed, tracked cell creating variables with
``get_variable`` vs the same code in a plain ``with graph.as_default():``
block on a fresh graph.

Each repeat starts from a fresh graph: ``%tfreset`` in a cell of its own on the
tfmagic side (which also opens the new graph's session, as the first cell after
a reset does), a new ``tf.Graph`` (and, for the initializing variant, a new
``Session``) on the plain side; neither reset is timed. Before either side runs,
the other side's graph is dropped too, so both run with the same heap (a
1,000-variable graph left alive makes the collector slower for whoever runs
next). The tfmagic side's time is the whole ``shell.run_cell``, IPython's own
per-cell work included (milliseconds, against seconds of graph building).
"""

from __future__ import annotations

import tensorflow as tf
from _common import Context, Result, benchmark, cell, get_variable_code, interleaved, profile_run

TARGET = 1.05
N_FULL, N_QUICK = 1000, 300


def _count(graph: tf.Graph) -> int:
    return len(graph.get_collection(tf.compat.v1.GraphKeys.GLOBAL_VARIABLES))


class _Plain:
    """The plain side's graph and session, dropped whenever the tfmagic side runs."""

    def __init__(self):
        self.graph: tf.Graph | None = None
        self.session: tf.compat.v1.Session | None = None
        self.namespace: dict = {}  # of the code last run on the plain side

    def drop(self) -> None:
        if self.session is not None:
            self.session.close()
        self.graph = self.session = None
        self.namespace = {}

    def fresh(self, with_session: bool) -> None:
        self.drop()
        self.graph = tf.Graph()
        if with_session:
            self.session = tf.compat.v1.Session(graph=self.graph)


def _run(ctx: Context, name: str, auto_init: bool) -> Result:
    n = ctx.size(N_FULL, N_QUICK)
    # Nine: one side's samples drift by up to 50 % within a run (8 -> 12 s for
    # 1,000 variables), and five minimums moved the ratio by +-0.1.
    repeats = ctx.repeats(9, 3)
    code = get_variable_code(n)
    shell = ctx.shell
    plain = _Plain()
    problems: list[str] = []

    # Each side's result is checked (untimed) just before it is dropped.
    def check_tfmagic() -> None:
        ws = ctx.workspace()
        variables = ws.variables()
        if len(variables) != n:
            problems.append(f'tfmagic made {len(variables)} variables, not {n}')
        elif auto_init and not all(ws.initialized(variables)):
            problems.append('auto_init left variables uninitialized')

    def check_plain() -> None:
        if plain.graph is not None and _count(plain.graph) != n:
            problems.append(f'plain made {_count(plain.graph)} variables, not {n}')

    def tfmagic_setup():
        check_plain()
        plain.drop()
        ctx.tfreset(auto_init=auto_init)

    def tfmagic_run():
        cell(shell, code)

    def plain_setup():
        check_tfmagic()
        ctx.tfreset(auto_init=auto_init)
        plain.fresh(with_session=auto_init)

    def plain_run():
        with plain.graph.as_default():
            exec(compile(code, '<plain>', 'exec'), {'tf': tf})
            if auto_init:
                plain.session.run(tf.compat.v1.global_variables_initializer())

    samples = interleaved(repeats, tfmagic_run, plain_run, tfmagic_setup, plain_setup)
    check_plain()
    plain.drop()
    profile_run(ctx, name, tfmagic_run, tfmagic_setup)
    ctx.tfreset()
    notes = [f'WARNING: {p}' for p in dict.fromkeys(problems)]
    return samples.result(name, n, TARGET, notes=notes)


@benchmark('cells_create', target=TARGET)
def bench_create(ctx: Context) -> Result:
    """Creating N get_variable variables: tfmagic cell (auto_init off) vs plain."""
    return _run(ctx, 'cells_create', auto_init=False)


@benchmark('cells_create_init', target=TARGET)
def bench_create_init(ctx: Context) -> Result:
    """Creating + initializing N variables: tfmagic cell (auto_init on) vs plain
    creation + sess.run(global_variables_initializer())."""
    return _run(ctx, 'cells_create_init', auto_init=True)


TRAIN_TARGET = 1.03
TRAIN_STEPS_FULL, TRAIN_STEPS_QUICK = 1000, 300

#: A small model built and trained in one cell, as notebooks do: the
#: optimizer's variables exist only once minimize() has run, so tfmagic must
#: initialize them inside the cell, before the first step.
TRAIN_MODEL = '''\
x = tf.compat.v1.placeholder(tf.float32, [None, 8])
y = tf.compat.v1.placeholder(tf.float32, [None, 1])
with tf.compat.v1.variable_scope('hidden'):
    hidden = tf.nn.relu(tf.matmul(x, tf.compat.v1.get_variable('kernel', [8, 16]))
                        + tf.compat.v1.get_variable('bias', [16]))
with tf.compat.v1.variable_scope('out'):
    out = tf.matmul(hidden, tf.compat.v1.get_variable('kernel', [16, 1]))
loss = tf.reduce_mean((out - y) ** 2)
step = tf.compat.v1.train.get_or_create_global_step()
train = tf.compat.v1.train.AdamOptimizer(0.01).minimize(loss, global_step=step)
feed = {x: np.ones((32, 8), np.float32), y: np.zeros((32, 1), np.float32)}
'''
TRAIN_LOOP = '''\
for _ in range({steps}):
    sess.run(train, feed)
'''


@benchmark('cells_train', target=TRAIN_TARGET)
def bench_train(ctx: Context) -> Result:
    """A cell that builds a small model with Adam and runs 1,000 training
    steps (auto_init on: initialized inside the cell, before the first step)
    vs plain TF running global_variables_initializer() first."""
    import numpy as np

    steps = ctx.size(TRAIN_STEPS_FULL, TRAIN_STEPS_QUICK)
    repeats = ctx.repeats(7, 3)
    shell = ctx.shell
    tfmagic_code = (TRAIN_MODEL + 'sess = tf.compat.v1.get_default_session()\n'
                    + TRAIN_LOOP.format(steps=steps))
    plain_code = (TRAIN_MODEL + 'sess.run(tf.compat.v1.global_variables_initializer())\n'
                  + TRAIN_LOOP.format(steps=steps))
    plain = _Plain()
    problems: list[str] = []
    shell.user_ns['np'] = np

    def check_tfmagic() -> None:
        value, ws = shell.user_ns.get('step'), ctx.workspace()
        if value is None or value.graph is not ws.graph:
            return  # not run since the last reset
        if ws.session.run(value) != steps:
            problems.append(f'tfmagic did not run {steps} steps')

    def check_plain() -> None:
        step = plain.namespace.get('step')
        if plain.session is not None and plain.session.run(step) != steps:
            problems.append(f'plain did not run {steps} steps')

    def tfmagic_setup():
        check_plain()
        plain.drop()
        ctx.tfreset(auto_init=True)

    def tfmagic_run():
        cell(shell, tfmagic_code)

    def plain_setup():
        check_tfmagic()
        ctx.tfreset(auto_init=True)
        plain.fresh(with_session=True)

    def plain_run():
        plain.namespace = {'tf': tf, 'np': np, 'sess': plain.session}
        with plain.graph.as_default():
            exec(compile(plain_code, '<plain>', 'exec'), plain.namespace)

    samples = interleaved(repeats, tfmagic_run, plain_run, tfmagic_setup, plain_setup)
    check_plain()
    check_tfmagic()
    plain.drop()
    ctx.tfreset()
    notes = [f'WARNING: {p}' for p in dict.fromkeys(problems)]
    return samples.result('cells_train', steps, TRAIN_TARGET, notes=notes)
