"""Checkpoints: ``%saveckpt`` and ``%restoreckpt`` of about 1 GB vs a plain
cached ``tf.compat.v1.train.Saver``; that Saver vs numpy writing the same
bytes (the disk's limit); ``%inspectckpt`` of a 10,000-variable checkpoint vs
``tf.train.list_variables``: a checkpoint of exactly the graph's variables,
and (context) one that half fits the graph.

The 1 GB fixture (built once, untimed, shared by the three ``ckpt_*``
benchmarks while it is still the workspace's graph): 200 float32 variables
of shape [1000, 1250] (1.25M elements, 5 MB each; 200 x [250, 1000], 200 MB,
with ``--quick``), created in a tfmagic cell with ``get_variable``'s default
initializer and initialized by auto_init. The plain side is a
``tf.compat.v1.train.Saver(var_list=those variables)`` built once on the same
graph, used with the same session -- the cached Saver a user would keep.
Both sides therefore save the same graph (same ``.meta``) and the same bytes.

Disk discipline: both sides write to the same disk, in two sibling
directories (one ``checkpoint`` state file each, so they do not edit each
other's), under a temporary directory deleted at the end. Every round
alternates which side goes first, and ``os.sync()`` runs (untimed) before
each timed operation, so neither side pays for writing back the other's dirty
pages. Before each save, files older than the previous round are deleted
(untimed): at most two rounds of checkpoints exist at once, and neither
tfmagic's keep-last-5 (the default ``%saveckpt`` keep) nor the plain Saver's
``max_to_keep=5`` finds anything left to delete inside a timed save. The
first round is an untimed warm-up: tfmagic builds its Saver there (one per
variable set, adding ops once).

Memory discipline: this machine is a VM whose kernel reports freed pages to
the host (``page_reporting``); the first touch of such a page is a host
fault, and a save's or restore's 1 GB of fresh page-cache or tensor pages
took anywhere from 0.5 to 2.7 s for the very same save, at random, mostly in
system time. So, untimed, after ``os.sync()`` and just before each timed run,
3x the fixture's bytes of anonymous memory are touched and freed
(:func:`warm_memory`): the run then gets recently backed pages, and the
minimum measures the software, not the host. Both sides get the same
treatment.

Timed: ``shell.run_line_magic('saveckpt', 'PREFIX --step i')`` (argument
parsing, the checks, the save, the state file and keep-last-K bookkeeping;
its printed line swallowed) vs ``saver.save(sess, PREFIX, global_step=i)``
inside ``with graph.as_default()`` (outside one, TF2's Saver takes its eager
path); ``%restoreckpt PREFIX`` (key/shape/dtype check against the graph, then
restore) vs ``saver.restore(sess, PREFIX)`` of the same checkpoint.

A 1 GB save's minimum still moves by about +-5% from run to run here, more
than the 1.05 target allows for, so each tfmagic run also records how long
it spent inside ``Saver.save`` / ``Saver.restore`` (the class method wrapped
with a timer during the tfmagic runs only); the note "outside Saver.save" is
tfmagic's own work per call, free of the disk's and the memory's noise.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import glob
import io
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import tensorflow as tf
from _common import (
    Context,
    Result,
    Samples,
    benchmark,
    cell,
    get_variable_code,
    profile_run,
    progress,
    quiet,
    timed,
)

from tfmagic.checkpoints import quiet_tf_logging

SAVE_TARGET = 1.05
RESTORE_TARGET = 1.05
INSPECT_TARGET = 1.5

N_BIG = 200
Saver = tf.compat.v1.train.Saver
SHAPE_FULL, SHAPE_QUICK = (1000, 1250), (250, 1000)

N_SCOPES, PER_SCOPE = 100, 100  # the 10,000-variable graph: s0/v0 ... s99/v99
SCOPED_CODE = (
    f'for j in range({N_SCOPES}):\n'
    f"    with tf.compat.v1.variable_scope(f's{{j}}'):\n"
    f'        for i in range({PER_SCOPE}):\n'
    f"            tf.compat.v1.get_variable(f'v{{i}}', [10], "
    f'initializer=tf.compat.v1.zeros_initializer())\n')
INIT_CELL = ('tf.compat.v1.get_default_session().run('
             'tf.compat.v1.global_variables_initializer())')


# -- helpers shared with bench_panel ------------------------------------------------

def warm_memory(nbytes: int) -> None:
    """Touch ``nbytes`` of fresh anonymous memory and free it again."""
    if nbytes > 0:
        block = np.ones(nbytes // 8)
        del block


def rotating(repeats: int, sides: Sequence[tuple[Callable | None, Callable]],
             warmup: int = 1, sync: bool = False, collect: bool = True,
             warm_bytes: int = 0) -> list[tuple[list[float], list[float]]]:
    """Time ``sides`` (``(setup, run)`` pairs, each called with the round
    number) in a rotating order: round i starts with side ``i % len(sides)``
    (for two sides: A B, B A, A B, ...). Untimed, just before each timed run:
    ``sync`` runs ``os.sync()``, ``warm_bytes`` runs :func:`warm_memory`.
    Returns ``(wall, cpu)`` lists per side, without the ``warmup`` rounds."""
    out = [([], []) for _ in sides]
    for i in range(warmup + repeats):
        start = i % len(sides)
        figures = {}
        for k in [*range(start, len(sides)), *range(start)]:
            setup, run = sides[k]
            if setup is not None:
                setup(i)
            if sync:
                os.sync()
            warm_memory(warm_bytes)
            figures[k] = timed(functools.partial(run, i), collect)
        if i >= warmup:
            for k, (wall, cpu) in figures.items():
                out[k][0].append(wall)
                out[k][1].append(cpu)
        progress(f'    round {i + 1 - warmup if i >= warmup else "warmup"} '
                 f'(side {start} first): '
                 + '  '.join(f'[{k}] {w:.4f}s (cpu {c:.4f})'
                             for k, (w, c) in sorted(figures.items())))
    return out


def samples_of(a: tuple[list, list], b: tuple[list, list]) -> Samples:
    return Samples(a[0], b[0], a[1], b[1])


def spread(values: list[float]) -> str:
    ordered = sorted(values)
    scale, unit = (1e3, 'ms') if ordered[-1] < 0.1 else (1, 's')
    return ', '.join(f'{label} {value * scale:.3f} {unit}' for label, value in (
        ('min', ordered[0]), ('median', ordered[len(ordered) // 2]), ('max', ordered[-1])))


_ROOT: str | None = None


@contextlib.contextmanager
def scratch(name: str):
    """A fresh directory under this run's temporary directory, deleted after."""
    global _ROOT
    if _ROOT is None:
        _ROOT = tempfile.mkdtemp(prefix='tfmagic-bench-')
        atexit.register(shutil.rmtree, _ROOT, ignore_errors=True)
    path = os.path.join(_ROOT, name)
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def captured():
    """Keep what the block prints (a magic's one-line report) for checking."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        yield buffer


_STEP_FILE = re.compile(r'-(\d+)\.(index|meta|data-\d{5}-of-\d{5}|bin)$')


def prune(directory: str, current: int) -> None:
    """Delete the checkpoint (and numpy) files of rounds before ``current - 1``."""
    for path in glob.glob(os.path.join(directory, '*-*.*')):
        match = _STEP_FILE.search(path)
        if match and int(match.group(1)) < current - 1:
            os.remove(path)


# The plain Saver's own keep-last-5 deletion logs a deprecation warning (once
# per process) that would land in the middle of the results; tfmagic holds
# the same lines back around its own saves.
tf_warnings_off = quiet_tf_logging


@contextlib.contextmanager
def timing_calls(cls, name: str, into: list[float]):
    """Within the block, append the wall-clock seconds of every call of the
    method ``cls.name`` to ``into`` (a wrapper of about a microsecond)."""
    original = cls.__dict__[name]

    def wrapper(self, *args, **kwargs):
        start = time.perf_counter()
        try:
            return original(self, *args, **kwargs)
        finally:
            into.append(time.perf_counter() - start)
    setattr(cls, name, wrapper)
    try:
        yield into
    finally:
        setattr(cls, name, original)


def magic_timing_saver(shell, magic: str, line: Callable[[int], str], method: str,
                       inner: dict[int, float], said: list[str]) -> Callable[[int], None]:
    """The tfmagic side of a round: ``%magic line(i)``, keeping the seconds it
    spent inside ``Saver.<method>`` (``inner[i]``) and what it printed."""
    def run(i: int) -> None:
        calls: list[float] = []
        with timing_calls(Saver, method, calls), captured() as out:
            shell.run_line_magic(magic, line(i))
        inner[i] = sum(calls)
        said.append(out.getvalue())
    return run


def outside_note(what: str, method: str, walls: list[float], inner: dict[int, float],
                 warmup: int, plain_min: float) -> tuple[str, list[float]]:
    """How long the tfmagic runs spent outside ``Saver.<method>``."""
    outside = [wall - inner[warmup + k] for k, wall in enumerate(walls)]
    ordered = sorted(outside)
    return (f'{what} outside Saver.{method} (tfmagic\'s own work, from the same timed runs, '
            f'immune to the disk and memory noise): min {ordered[0] * 1e3:.1f} ms, median '
            f'{ordered[len(ordered) // 2] * 1e3:.1f} ms = '
            f'{ordered[len(ordered) // 2] / plain_min:.1%} of the plain side\'s min'), outside


def data_bytes(prefix: str) -> int:
    return sum(os.path.getsize(p) for p in glob.glob(prefix + '.data-*-of-*'))


# -- the 1 GB fixture ------------------------------------------------------------------

@dataclass
class Big:
    graph: tf.Graph
    variables: list
    saver: tf.compat.v1.train.Saver  # the plain side's, built once
    nbytes: int
    shape: tuple


_big: Big | None = None


def big_fixture(ctx: Context) -> Big:
    """The workspace holding N_BIG initialized variables (about 1 GB), and a
    plain Saver of them; rebuilt only if the workspace moved on."""
    global _big
    shape = ctx.size(SHAPE_FULL, SHAPE_QUICK)
    ws = ctx.workspace()
    if _big is not None and ws.graph is _big.graph and _big.shape == shape:
        return _big
    _big = None
    ctx.tfreset(auto_init=True)
    with quiet():
        cell(ctx.shell, get_variable_code(N_BIG, shape))
    variables = ws.variables()
    if len(variables) != N_BIG or not all(ws.initialized(variables)):
        raise RuntimeError('the 1 GB fixture is incomplete or not initialized')
    with ws.graph.as_default():
        saver = tf.compat.v1.train.Saver(var_list=variables)
    nbytes = sum(int(np.prod(v.shape.as_list())) * v.dtype.size for v in variables)
    _big = Big(ws.graph, variables, saver, nbytes, shape)
    return _big


def warm_bytes(big: Big) -> int:
    """How much memory to touch before each timed run (see the module docstring)."""
    return max(3 * big.nbytes, 2**29)


def _size_label(big: Big) -> str:
    return f'{N_BIG} x float32{list(big.shape)} = {big.nbytes / 1e9:.2f} GB'


# -- %saveckpt / %restoreckpt vs a cached Saver, on any fixture -------------------------

class SaverFixture(Protocol):
    """What :func:`time_saveckpt` and :func:`time_restoreckpt` time against:
    the workspace's graph and (initialized) variables, the plain side's
    cached Saver of them, and their bytes."""

    graph: tf.Graph
    variables: list
    saver: tf.compat.v1.train.Saver
    nbytes: int


@dataclass
class Rounds:
    """What :func:`_ckpt_rounds` measured and saw."""

    figures: list[tuple[list[float], list[float]]]  # (wall, cpu) of tfmagic, then plain
    ops: list[int]  # graph ops before each tfmagic run, then at the end
    said: list[str]  # what each %saveckpt / %restoreckpt printed
    tfmagic_run: Callable[[int], None]
    outside_note: str
    outside: list[float]

    @property
    def ops_identical(self) -> bool:
        return len(set(self.ops[1:])) == 1

    def ops_verdict(self) -> str:
        return 'identical' if self.ops_identical else f'CHANGED {self.ops}'


def _ckpt_rounds(ctx: Context, fixture: SaverFixture, magic: str, line: Callable[[int], str],
                 plain_run: Callable[[int], object], repeats: int, warm: int,
                 prune_dirs: tuple[str, str] | None = None) -> Rounds:
    """``%magic line(i)`` (``saveckpt`` or ``restoreckpt``) vs ``plain_run(i)``:
    1 warm-up and ``repeats`` timed rounds in rotating order, ``os.sync()``
    and ``warm`` bytes of memory touched before each run; with ``prune_dirs``
    (tfmagic's, plain's), each side's old rounds are pruned first. The graph's
    ops are counted before each tfmagic run and at the end."""
    method = magic.removesuffix('ckpt')
    ops: list[int] = []
    said: list[str] = []
    inner: dict[int, float] = {}  # round -> seconds inside Saver.<method>
    tfmagic_run = magic_timing_saver(ctx.shell, magic, line, method, inner, said)

    def tfmagic_setup(i):
        if prune_dirs:
            prune(prune_dirs[0], i)
        ops.append(len(fixture.graph.get_operations()))

    def plain_setup(i):
        prune(prune_dirs[1], i)

    with tf_warnings_off():
        figures = rotating(repeats, [(tfmagic_setup, tfmagic_run),
                                     (plain_setup if prune_dirs else None, plain_run)],
                           warmup=1, sync=True, warm_bytes=warm)
    ops.append(len(fixture.graph.get_operations()))
    note, outside = outside_note(f'%{magic}', method, figures[0][0], inner, 1,
                                 min(figures[1][0]))
    return Rounds(figures, ops, said, tfmagic_run, note, outside)


def data_files(prefix: str) -> list[str]:
    """The suffixes (``data-00000-of-00002``, ...) of a checkpoint's data files."""
    return sorted(os.path.basename(p).split('.', 1)[1]
                  for p in glob.glob(prefix + '.data-*-of-*'))


def time_saveckpt(ctx: Context, fixture: SaverFixture, name: str, target: float,
                  repeats: int, size_label: str, warm: int, files: int = 1,
                  write_state: bool = True) -> Result:
    """Benchmark ``name``: ``%saveckpt DIR/model --step i`` vs
    ``fixture.saver.save(sess, DIR/model, global_step=i, write_state=...)``,
    each side into a directory of its own (see the module docstring); the
    checkpoints should have ``files`` data files (with more than one, a
    sharded save, they are listed in the notes and ``extra``)."""
    ws, graph = ctx.workspace(), fixture.graph
    n = len(fixture.variables)
    with scratch(name) as root:
        tf_dir, plain_dir = os.path.join(root, 'tfmagic'), os.path.join(root, 'plain')
        os.makedirs(tf_dir)
        os.makedirs(plain_dir)

        def plain_run(i):
            with graph.as_default():
                fixture.saver.save(ws.session, f'{plain_dir}/model', global_step=i,
                                   write_state=write_state)

        rounds = _ckpt_rounds(ctx, fixture, 'saveckpt', lambda i: f'{tf_dir}/model --step {i}',
                              plain_run, repeats, warm, (tf_dir, plain_dir))
        ops, said = rounds.ops, rounds.said
        last = repeats  # the last round's step
        shards = (data_files(f'{tf_dir}/model-{last}'), data_files(f'{plain_dir}/model-{last}'))
        sizes = (data_bytes(f'{tf_dir}/model-{last}'), data_bytes(f'{plain_dir}/model-{last}'))
        notes = [f'{size_label}; {repeats} timed saves per side after 1 warm-up, '
                 f'order alternating; untimed before each: prune, os.sync(), '
                 f'{warm / 1e9:.1f} GB of memory touched (see the module docstring)'
                 + (f'; data files per save: tfmagic {shards[0]}, plain {shards[1]}'
                    if files > 1 else ''),
                 f'graph ops: {ops[0]} before the first %saveckpt (plain Saver already built), '
                 f'{ops[1]} after it (tfmagic builds its Saver once: +{ops[1] - ops[0]}), '
                 f'{ops[-1]} after {repeats} more %saveckpt (and plain saves), counted after '
                 'every one -> ' + rounds.ops_verdict(),
                 rounds.outside_note]
        if (not said[-1].startswith(f'Saved {n} variables') or min(sizes) < fixture.nbytes
                or len(shards[0]) != files or shards[0] != shards[1]):
            notes.append(f'WARNING: unexpected save: {said[-1].strip()!r}, data bytes {sizes}, '
                         f'data files {shards}')

        def profile_setup():
            prune(tf_dir, last + 2)
            os.sync()
        profile_run(ctx, name, lambda: rounds.tfmagic_run(last + 1), profile_setup)
    extra = {'bytes': fixture.nbytes, 'ops': ops, 'ops_identical': rounds.ops_identical,
             'outside_saver_s': rounds.outside}
    if files > 1:
        extra['data_files'] = shards[0]
    return samples_of(*rounds.figures).result(name, n, target, notes=notes, extra=extra)


def time_restoreckpt(ctx: Context, fixture: SaverFixture, name: str, target: float,
                     repeats: int, size_label: str, warm: int) -> Result:
    """Benchmark ``name``: ``%restoreckpt PREFIX`` vs ``fixture.saver.restore(sess,
    PREFIX)`` of the same checkpoint, written (untimed) by ``%saveckpt`` just
    before; afterwards the last variable's value is checked against it."""
    ws, graph = ctx.workspace(), fixture.graph
    n = len(fixture.variables)
    with scratch(name) as root:
        prefix = f'{root}/model'
        with quiet():  # untimed: the checkpoint both sides restore
            ctx.shell.run_line_magic('saveckpt', prefix)
        sharded = len(data_files(prefix)) > 1

        def plain_run(i):
            with graph.as_default():
                fixture.saver.restore(ws.session, prefix)

        rounds = _ckpt_rounds(ctx, fixture, 'restoreckpt', lambda i: prefix, plain_run,
                              repeats, warm)
        ops, said = rounds.ops, rounds.said
        # The values came back: compare a variable's with the checkpoint's.
        reader = tf.train.load_checkpoint(prefix)
        variable = fixture.variables[-1]
        restored_ok = np.array_equal(ws.session.run(variable),
                                     reader.get_tensor(variable.op.name))
        del reader
        notes = [f'{size_label}; both restore the same {"sharded " if sharded else ""}'
                 'checkpoint (in the page cache: written just before); '
                 f'{repeats} timed per side after 1 warm-up, order alternating; '
                 f'os.sync() and {warm / 1e9:.1f} GB touched before each',
                 f'graph ops: {ops[0]} before the first %restoreckpt, {ops[1]} after it '
                 f'(tfmagic builds its restore Saver once: +{ops[1] - ops[0]}), {ops[-1]} after '
                 f'{repeats} more -> ' + rounds.ops_verdict(),
                 rounds.outside_note]
        if not said[-1].startswith(f'Restored {n} variables') or not restored_ok:
            notes.append(f'WARNING: unexpected restore: {said[-1].strip()!r}, '
                         f'{variable.op.name} equal to the checkpoint: {restored_ok}')
        profile_run(ctx, name, lambda: rounds.tfmagic_run(0), os.sync)
    return samples_of(*rounds.figures).result(
        name, n, target, notes=notes,
        extra={'bytes': fixture.nbytes, 'ops': ops, 'outside_saver_s': rounds.outside})


# -- ckpt_save_1g, ckpt_restore_1g -------------------------------------------------------

@benchmark('ckpt_save_1g', target=SAVE_TARGET)
def bench_save(ctx: Context) -> Result:
    """Repeated %saveckpt PREFIX --step i of ~1 GB vs cached Saver.save(global_step=i)."""
    big = big_fixture(ctx)
    return time_saveckpt(ctx, big, 'ckpt_save_1g', SAVE_TARGET, ctx.repeats(12, 5),
                         _size_label(big), warm_bytes(big))


@benchmark('ckpt_restore_1g', target=RESTORE_TARGET)
def bench_restore(ctx: Context) -> Result:
    """%restoreckpt PREFIX of ~1 GB vs cached saver.restore(sess, PREFIX), same checkpoint."""
    big = big_fixture(ctx)
    return time_restoreckpt(ctx, big, 'ckpt_restore_1g', RESTORE_TARGET, ctx.repeats(20, 3),
                            _size_label(big), warm_bytes(big))


# -- ckpt_numpy_1g (context) ------------------------------------------------------------------

@benchmark('ckpt_numpy_1g', target=float('inf'))
def bench_numpy(ctx: Context) -> Result:
    """Context, no target: plain Saver.save of ~1 GB vs numpy tofile of the same bytes."""
    global _big
    big = big_fixture(ctx)
    ws = ctx.workspace()
    repeats = ctx.repeats(5, 3)
    values = ws.session.run(big.variables)  # untimed: the bytes numpy writes
    with scratch('numpy') as root:
        saver_dir, numpy_dir = os.path.join(root, 'saver'), os.path.join(root, 'numpy')
        os.makedirs(saver_dir)
        os.makedirs(numpy_dir)

        def saver_run(i):
            with big.graph.as_default():
                big.saver.save(ws.session, f'{saver_dir}/model', global_step=i)

        def numpy_run(i):
            with open(f'{numpy_dir}/values-{i}.bin', 'wb') as f:
                for value in values:
                    value.tofile(f)

        with tf_warnings_off():
            figures = rotating(repeats, [(lambda i: prune(saver_dir, i), saver_run),
                                         (lambda i: prune(numpy_dir, i), numpy_run)],
                               warmup=1, sync=True,
                               warm_bytes=warm_bytes(big))
        written = os.path.getsize(f'{numpy_dir}/values-{repeats}.bin')
    values.clear()  # free the fetched arrays (the fixture's size) before the reset below
    result = samples_of(*figures).result(
        'ckpt_numpy_1g', N_BIG, float('inf'),
        notes=[f'CONTEXT, no target: here "tfmagic s" is the plain Saver.save and "plain s" '
               f'is numpy writing the same {written / 1e9:.2f} GB (arr.tofile of each value '
               'into one new file per round; values fetched untimed) -- how far the plain '
               'Saver itself is from the disk\'s limit'])
    # The last benchmark on the 1 GB graph: let the memory go.
    _big = None
    ctx.tfreset()
    return result


# -- inspect_10k ---------------------------------------------------------------------------------

_scoped_graph: tf.Graph | None = None


def scoped_10k(ctx: Context):
    """The workspace holding exactly the N_SCOPES x PER_SCOPE variables of
    SCOPED_CODE (float32 [10], zeros), tracked and initialized; built once
    (about 20 s) and reused while the workspace still holds exactly them.

    auto_init is off for the creating cell and a second cell runs
    ``global_variables_initializer()``; tfmagic is then told they hold values
    (``mark_initialized``, as after a restore), as in bench_vars."""
    global _scoped_graph
    ws = ctx.workspace()
    n = N_SCOPES * PER_SCOPE
    if ws.graph is _scoped_graph and len(ws.variables()) == n:
        return ws
    ctx.tfreset(auto_init=False)
    cell(ctx.shell, SCOPED_CODE)
    cell(ctx.shell, INIT_CELL)
    ctx.shell.run_line_magic('config', 'TFMagic.auto_init = True')
    ws.mark_initialized(ws.variables())
    if len(ws.variables()) != n:
        raise RuntimeError(f'expected {n} variables, got {len(ws.variables())}')
    _scoped_graph = ws.graph
    return ws


def write_checkpoint_eagerly(prefix: str, variables, rename=lambda name: name,
                            reshape=lambda name, shape: shape) -> None:
    """A V2 checkpoint with one zero tensor per variable, under ``rename(name)``
    and of shape ``reshape(name, shape)``, written by the SaveV2 op eagerly:
    no Saver of 10,000 variables."""
    names = [v.op.name for v in variables]
    tensors = [tf.zeros(reshape(name, v.shape), v.dtype.base_dtype)
               for name, v in zip(names, variables, strict=True)]
    tf.raw_ops.SaveV2(prefix=prefix, tensor_names=[rename(n) for n in names],
                      shape_and_slices=[''] * len(variables), tensors=tensors)


def renamed_half(name: str) -> str:
    """Scopes s50-s99 saved as old50-old99: missing in the graph, and their
    graph variables missing in the checkpoint."""
    scope, _, rest = name.partition('/')
    return f'old{scope[1:]}/{rest}' if int(scope[1:]) >= N_SCOPES // 2 else name


def reshaped_v7(name: str, shape):
    """v7 of every scope saved with one more element: a shape mismatch."""
    return [shape[0] + 1] if name.endswith('/v7') else shape


def time_inspect(ctx: Context, label: str, prefix: str, expected: dict,
                 target: float = INSPECT_TARGET, context: str | None = None) -> Result:
    """%inspectckpt PREFIX vs tf.train.list_variables(PREFIX), interleaved."""
    shell = ctx.shell
    out = {}

    def tfmagic_run(i):
        out['tfmagic'] = shell.run_line_magic('inspectckpt', prefix)

    def plain_run(i):
        out['plain'] = tf.train.list_variables(prefix)

    figures = rotating(ctx.repeats(25, 10), [(None, tfmagic_run), (None, plain_run)],
                       warmup=1, collect=False)
    statuses = out['tfmagic']['status'].value_counts().to_dict()
    n = N_SCOPES * PER_SCOPE
    notes = [f'{n:,} float32 [10] variables in {N_SCOPES} scopes in the graph and '
             f'{len(out["plain"]):,} keys in the checkpoint; rows: {statuses}; the index is '
             'in the page cache']
    if context:
        notes.insert(0, context)
    if statuses != expected or len(out['plain']) != n:
        notes.append(f'WARNING: expected rows {expected} and {n} plain rows')
    profile_run(ctx, label, lambda: tfmagic_run(0))
    return samples_of(*figures).result(label, n, target, notes=notes)


@benchmark('inspect_10k', target=INSPECT_TARGET)
def bench_inspect(ctx: Context) -> Result:
    """%inspectckpt on a checkpoint of the graph's 10,000 variables vs tf.train.list_variables."""
    ws = scoped_10k(ctx)
    with scratch('inspect') as root:
        write_checkpoint_eagerly(f'{root}/model', ws.variables())
        return time_inspect(ctx, 'inspect_10k', f'{root}/model',
                            {'match': N_SCOPES * PER_SCOPE})


@benchmark('inspect_10k_mixed', target=float('inf'))
def bench_inspect_mixed(ctx: Context) -> Result:
    """Context, no target: %inspectckpt on a 10,000-key checkpoint that half fits
    the graph vs tf.train.list_variables."""
    ws = scoped_10k(ctx)
    half, mismatched = N_SCOPES * PER_SCOPE // 2, N_SCOPES // 2
    with scratch('inspect') as root:
        write_checkpoint_eagerly(f'{root}/model', ws.variables(), renamed_half, reshaped_v7)
        return time_inspect(ctx, 'inspect_10k_mixed', f'{root}/model', {
            'match': half - mismatched, 'missing in graph': half,
            'missing in checkpoint': half, 'shape mismatch': mismatched},
            target=float('inf'),
            context='CONTEXT, no target: the key-by-key path, which inspect_10k\'s checkpoint '
                    '(exactly the graph\'s variables, recognised by two dict comparisons) '
                    'skips; 15,000 rows in name order against list_variables\' 10,000')
