"""A local cluster (``%tfconnect --local-cluster 2``): ``%vars --stats``
computed on the ps tasks vs hand-built per-variable reductions, the notebook
memory that listing needs, and sharded ``%saveckpt`` / ``%restoreckpt`` vs a
cached plain ``Saver(sharded=True)``.

The fixture (built once, untimed, shared by the three in-shell ``cluster_*``
benchmarks while it is still the workspace's graph): ``%tfconnect
--local-cluster 2`` (two ``ps`` tasks and a worker, real
``tf.distribute.Server`` child processes on 127.0.0.1), then a cell creating
100 float32 variables of shape [2621440] (10 MB each, 1 GB in all; [524288],
200 MB, with ``--quick``) with ``get_variable(...,
initializer=random_normal_initializer())``, placed on the ps tasks by the
cell's ``replica_device_setter`` (alternately ps 0 and ps 1) and initialized
there by auto_init. Both sides use the workspace's session (on the worker's
target) and graph; the plain side's ops and Saver are built once in that
graph, untimed -- what a user would keep.

``cluster_stats_1g``: ``%vars --stats`` (``run_line_magic``: the whole table,
no display; tfmagic reduces each variable on its ps task and fetches five
float64 numbers per variable) vs ``sess.run`` of ``[tf.reduce_min(v),
tf.reduce_max(v), tf.reduce_mean(v), tf.math.reduce_std(v)]`` per variable,
each built under ``with tf.device(v.device)``.

``cluster_ckpt_save_1g`` / ``cluster_ckpt_restore_1g``: as
:mod:`bench_checkpoints` (same helpers: rotating order, untimed prune,
``os.sync()`` and memory warming before each timed run; see its docstring
for why), but sharded, on the cluster: the ps tasks write and read the data
files, one per ps task. Timed: ``%saveckpt DIR/model --step i`` (checks,
save into a hidden directory, rename, state file, keep-last-5 finding
nothing to delete) vs ``saver.save(sess, DIR/model, global_step=i,
write_state=False)``; ``%restoreckpt PREFIX`` (key/shape/dtype check, then
restore) vs ``saver.restore(sess, PREFIX)`` of the same checkpoint. The
paths are absolute (a temporary directory on the same disk).

``cluster_stats_memory_1g`` measures bytes, not seconds, in a child process
that starts (and stops) its own local cluster: see its docstring.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import tensorflow as tf
from _common import (
    MEMORY_PROBE,
    Context,
    Result,
    benchmark,
    cell,
    extra_peak,
    interleaved,
    memory_child,
    profile_run,
    quiet,
)
from bench_checkpoints import time_restoreckpt, time_saveckpt

STATS_TARGET = 1.2
SAVE_TARGET = 1.05
RESTORE_TARGET = 1.05
MEMORY_TARGET = 50.0  # MB of extra peak RSS in the notebook process

PS_TASKS = 2
N_VARS = 100
SIZE_FULL, SIZE_QUICK = 2_621_440, 524_288  # float32 elements per variable
MB = 1e6


def variables_code(n: int, size: int) -> str:
    return (f'for i in range({n}):\n'
            f"    tf.compat.v1.get_variable(f'v{{i}}', [{size}], "
            'initializer=tf.compat.v1.random_normal_initializer())\n')


# -- the cluster fixture ----------------------------------------------------------------

@dataclass
class ClusterModel:
    graph: tf.Graph
    target: str
    variables: list
    plain_stats: list  # [min, max, mean, std] per variable, each on its variable's device
    saver: tf.compat.v1.train.Saver  # the plain side's, sharded, built once
    nbytes: int
    size: int


_model: ClusterModel | None = None


def cluster_model(ctx: Context) -> ClusterModel:
    """The workspace connected to a local cluster of PS_TASKS ps tasks and
    holding N_VARS initialized variables on them; rebuilt only if the
    workspace moved on."""
    global _model
    size = ctx.size(SIZE_FULL, SIZE_QUICK)
    ws = ctx.workspace()
    if (_model is not None and ws.graph is _model.graph and ws.target == _model.target
            and _model.size == size):
        return _model
    _model = None
    shell = ctx.shell
    with quiet():
        cell(shell, f'%tfconnect --local-cluster {PS_TASKS}')
        shell.run_line_magic('config', 'TFMagic.auto_init = True')
        cell(shell, variables_code(N_VARS, size))
    variables = ws.variables()
    devices = sorted({v.device for v in variables})
    if (len(variables) != N_VARS or not all(ws.initialized(variables))
            or devices != [f'/job:ps/task:{k}' for k in range(PS_TASKS)]):
        raise RuntimeError(f'the cluster fixture is incomplete, not initialized or not on '
                           f'the ps tasks (devices {devices})')
    with ws.graph.as_default():
        plain_stats = []
        for v in variables:
            with tf.device(v.device):
                plain_stats.append([tf.reduce_min(v), tf.reduce_max(v), tf.reduce_mean(v),
                                    tf.math.reduce_std(v)])
        saver = tf.compat.v1.train.Saver(var_list=variables, sharded=True)
    nbytes = sum(v.shape.num_elements() * v.dtype.size for v in variables)
    _model = ClusterModel(ws.graph, ws.target, variables, plain_stats, saver, nbytes, size)
    return _model


def release(ctx: Context) -> None:
    """Back to the in-process session: the local cluster's tasks stop."""
    global _model
    _model = None
    with quiet():
        cell(ctx.shell, '%tfconnect local')


def warm_bytes(model: ClusterModel) -> int:
    """Memory touched before each timed checkpoint run (see bench_checkpoints,
    which touches 3x: there the notebook process also holds the tensors; here
    a save needs the data's size in page cache and a restore in the ps tasks'
    tensors, and 2x keeps the run under four minutes)."""
    return max(2 * model.nbytes, 2**29)


def _label(model: ClusterModel) -> str:
    return (f'{N_VARS} x float32[{model.size}] = {model.nbytes / 1e9:.2f} GB on '
            f'{PS_TASKS} ps tasks of a local cluster')


# -- cluster_stats_1g ----------------------------------------------------------------------

def _stats_differ(frame, plain: list) -> list[str]:
    """Variables whose tfmagic statistics differ from the plain ones (float32
    reductions in another order: relative 1e-4 of the spread)."""
    rows = frame.set_index('name')
    bad = []
    for k, (low, high, mean, std) in enumerate(plain):
        row = rows.loc[f'v{k}']
        got = [float(row[c]) for c in ('min', 'max', 'mean', 'std')]
        want = [float(low), float(high), float(mean), float(std)]
        tolerance = 1e-4 * max(want[3], 1e-6)
        if got[:2] != want[:2] or any(not math.isclose(g, w, rel_tol=1e-4, abs_tol=tolerance)
                                      for g, w in zip(got[2:], want[2:], strict=True)):
            bad.append(f'v{k}: tfmagic {got}, plain {want}')
    return bad


@benchmark('cluster_stats_1g', target=STATS_TARGET)
def bench_cluster_stats(ctx: Context) -> Result:
    """%vars --stats of 1 GB on 2 ps tasks vs cached per-variable reduce_min/max/mean/std."""
    model = cluster_model(ctx)
    shell, ws = ctx.shell, ctx.workspace()
    repeats = ctx.repeats(10, 5)
    graph = model.graph
    out = {}
    ops: list[int] = []  # graph ops before each tfmagic listing, then at the end

    def tfmagic_setup():
        ops.append(len(graph.get_operations()))

    def tfmagic_run():
        out['tfmagic'] = shell.run_line_magic('vars', '--stats')

    def plain_run():
        out['plain'] = ws.session.run(model.plain_stats)

    samples = interleaved(repeats, tfmagic_run, plain_run, tfmagic_setup=tfmagic_setup,
                          warmup=1)
    ops.append(len(graph.get_operations()))
    identical = len(set(ops[1:])) == 1
    frame = out['tfmagic']
    notes = [f'{_label(model)}; {repeats} timed per side after 1 warm-up (tfmagic builds its '
             'ops there), the plain ops built once before, untimed',
             f'graph ops: {ops[0]} before the first %vars --stats, {ops[1]} after it '
             f'(+{ops[1] - ops[0]}), {ops[-1]} after {repeats} more -> '
             + ('identical' if identical else f'CHANGED {ops}')]
    if len(frame) != N_VARS or frame['std'].isna().any():
        notes.append('WARNING: the tfmagic table lacks rows or statistics')
    else:
        bad = _stats_differ(frame, out['plain'])
        if bad:
            notes.append(f'WARNING: {len(bad)} variables\' statistics differ, e.g. {bad[0]}')
    profile_run(ctx, 'cluster_stats_1g', tfmagic_run)
    return samples.result('cluster_stats_1g', N_VARS, STATS_TARGET, notes=notes,
                          extra={'bytes': model.nbytes, 'ops': ops, 'ops_identical': identical})


# -- cluster_stats_memory_1g ------------------------------------------------------------------

#: cluster_stats_memory_1g's child: ``python -c MEMORY_CHILD PS_TASKS CODE``,
#: a process of its own (:func:`memory_child`), so that its peak resident
#: memory is the notebook's alone (the ps tasks are processes of their own).
#: Prints one JSON line: for each measured step the resident bytes before it,
#: at its peak and after it.
MEMORY_CHILD = MEMORY_PROBE + r"""
import contextlib, io, json, sys
import tensorflow as tf
from tests.shell import make_shell

ps_tasks, code = int(sys.argv[1]), sys.argv[2]


def ok(code):
    result = shell.run_cell(code, store_history=True)
    if not result.success:
        raise SystemExit(f'cell failed: {result.error_in_exec or result.error_before_exec!r}')


report = {}
shell = make_shell()
with contextlib.redirect_stdout(io.StringIO()):
    shell.run_line_magic('load_ext', 'tfmagic')
    ok(f'%tfconnect --local-cluster {ps_tasks}')
import tfmagic
ws = tfmagic.workspace()
try:
    ok(code)
    shell.run_line_magic('vars', '')  # auto-init done, the table code loaded
    variables = ws.variables()
    report['devices'] = sorted({v.device for v in variables})
    report['bytes'] = sum(v.shape.num_elements() * v.dtype.size for v in variables)
    frame, report['vars_stats_first'] = measured(lambda: shell.run_line_magic('vars', '--stats'))
    frame, report['vars_stats'] = measured(lambda: shell.run_line_magic('vars', '--stats'))
    report['stats_rows'] = len(frame)
    report['stats_complete'] = not frame['std'].isna().any()
    del frame
    # The plain way to look at the values: fetch them all into the notebook.
    values, report['sess_run'] = measured(lambda: ws.session.run(variables))
    report['fetched_bytes'] = sum(value.nbytes for value in values)
    del values
finally:
    with contextlib.redirect_stdout(io.StringIO()):
        shell.run_line_magic('tfconnect', 'local')  # stops the local cluster
print(json.dumps(report))
"""


@benchmark('cluster_stats_memory_1g', target=MEMORY_TARGET)
def bench_cluster_stats_memory(ctx: Context) -> Result:
    """Extra peak RSS (MB) of the notebook process in %vars --stats of 1 GB on 2 ps tasks.

    Bytes, not seconds, in a child process that starts its own local
    cluster (stopped at its end): "tfmagic s" is the larger extra peak of the
    first %vars --stats (which builds its ops) and of a repeated one, in MB;
    "plain s" is 1 (MB), so the ratio reads in MB against the 50 MB target.
    The plain way to the same numbers, sess.run of every variable into the
    notebook, and its extra peak, are in the notes. --quick: 200 MB.
    """
    size = ctx.size(SIZE_FULL, SIZE_QUICK)
    report = memory_child(MEMORY_CHILD, str(PS_TASKS), variables_code(N_VARS, size),
                          label='child', timeout=900)
    first, repeat, fetch = (extra_peak(report[k])
                            for k in ('vars_stats_first', 'vars_stats', 'sess_run'))
    nbytes = report['bytes']
    magic = max(first, repeat)
    methods = sorted({report[k]['method'] for k in ('vars_stats_first', 'vars_stats',
                                                    'sess_run')})
    notes = [
        f'bytes, not seconds: tfmagic s = extra peak RSS of the notebook process during '
        f'%vars --stats, in MB; plain s = 1 MB, so ratio = MB (peak: {", ".join(methods)}); '
        f'{N_VARS} x float32[{size}] = {nbytes / 1e9:.2f} GB on {PS_TASKS} ps tasks '
        f'({", ".join(report["devices"])}), in a child process with a local cluster of its own',
        f'%vars --stats extra peak: first {first / MB:.1f} MB (builds the ops), repeated '
        f'{repeat / MB:.1f} MB; plain sess.run(all variables) into the notebook: '
        f'{fetch / MB:.1f} MB = {fetch / nbytes:.2f} x the variables\' size '
        f'(fetched {report["fetched_bytes"] / 1e9:.2f} GB); tfmagic / plain {magic / fetch:.4f}',
    ]
    if report['stats_rows'] != N_VARS or not report['stats_complete']:
        notes.append('WARNING: the tfmagic table lacks rows or statistics')
    return Result('cluster_stats_memory_1g', N_VARS, MEMORY_TARGET, [magic / MB], [1.0],
                  notes=notes,
                  extra={'variable_bytes': nbytes, 'tfmagic_extra_mb': magic / MB,
                         'tfmagic_first_extra_mb': first / MB,
                         'tfmagic_repeat_extra_mb': repeat / MB,
                         'plain_sess_run_extra_mb': fetch / MB,
                         'plain_extra_over_size': fetch / nbytes, 'child': report})


# -- cluster_ckpt_save_1g, cluster_ckpt_restore_1g -----------------------------------------------

@benchmark('cluster_ckpt_save_1g', target=SAVE_TARGET)
def bench_cluster_save(ctx: Context) -> Result:
    """Sharded %saveckpt PREFIX --step i of 1 GB on 2 ps tasks vs cached Saver(sharded=True)."""
    model = cluster_model(ctx)
    return time_saveckpt(ctx, model, 'cluster_ckpt_save_1g', SAVE_TARGET, ctx.repeats(6, 3),
                         _label(model), warm_bytes(model), files=PS_TASKS, write_state=False)


@benchmark('cluster_ckpt_restore_1g', target=RESTORE_TARGET)
def bench_cluster_restore(ctx: Context) -> Result:
    """Sharded %restoreckpt PREFIX of 1 GB on 2 ps tasks vs cached saver.restore(sess, PREFIX)."""
    model = cluster_model(ctx)
    result = time_restoreckpt(ctx, model, 'cluster_ckpt_restore_1g', RESTORE_TARGET,
                              ctx.repeats(7, 3), _label(model), warm_bytes(model))
    # The last benchmark on the cluster: stop its tasks, free their memory.
    release(ctx)
    return result
