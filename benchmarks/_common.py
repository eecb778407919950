"""Shared machinery of the benchmarks: the registry, the IPython shell with
tfmagic loaded, and interleaved min-of-N timing.

Every benchmark compares tfmagic with the plain TensorFlow code a user would
otherwise write, both measured side by side in the same process and run, and
reports the ratio ``tfmagic seconds / plain seconds`` (lower is better). The
two sides are interleaved (A, B, A, B, ...) and each side's figure is the
minimum of its repeats, so load from other processes on the machine hits both
sides alike and is mostly filtered out. These are not tests: nothing here
asserts a timing.
"""

from __future__ import annotations

import contextlib
import cProfile
import gc
import io
import json
import os
import pstats
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import tensorflow as tf

# -- results and registry -------------------------------------------------------

@dataclass
class Result:
    """One benchmark's figures. ``samples_*`` are every timed repeat in
    wall-clock seconds, ``cpu_*`` the same repeats in process CPU seconds
    (all threads); the ratio is of the wall-clock minimums."""

    name: str
    n: int
    target: float
    samples_tfmagic: list[float]
    samples_plain: list[float]
    cpu_tfmagic: list[float] = field(default_factory=list)
    cpu_plain: list[float] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    extra: dict = field(default_factory=dict)

    @property
    def tfmagic_s(self) -> float:
        return min(self.samples_tfmagic)

    @property
    def plain_s(self) -> float:
        return min(self.samples_plain)

    @property
    def ratio(self) -> float:
        return self.tfmagic_s / self.plain_s

    @property
    def cpu_ratio(self) -> float | None:
        if not (self.cpu_tfmagic and self.cpu_plain) or min(self.cpu_plain) <= 0:
            return None
        return min(self.cpu_tfmagic) / min(self.cpu_plain)

    @property
    def paired_median(self) -> float:
        """Median over rounds of tfmagic / plain within the same round: a
        check on the min-based ratio (one lucky minimum moves the min ratio,
        not this)."""
        pairs = sorted(a / b for a, b in zip(self.samples_tfmagic, self.samples_plain,
                                             strict=True))
        mid = len(pairs) // 2
        return pairs[mid] if len(pairs) % 2 else (pairs[mid - 1] + pairs[mid]) / 2

    @property
    def within(self) -> bool:
        return self.ratio <= self.target

    def as_json(self) -> dict:
        return {
            'name': self.name, 'n': self.n, 'tfmagic_s': self.tfmagic_s,
            'plain_s': self.plain_s, 'ratio': self.ratio, 'target': self.target,
            'within_target': self.within, 'cpu_ratio': self.cpu_ratio,
            'paired_median_ratio': self.paired_median,
            'repeats': len(self.samples_tfmagic),
            'samples_tfmagic_s': self.samples_tfmagic,
            'samples_plain_s': self.samples_plain,
            'cpu_tfmagic_s': self.cpu_tfmagic, 'cpu_plain_s': self.cpu_plain,
            'notes': self.notes, 'extra': self.extra,
        }


@dataclass
class Samples:
    """What :func:`interleaved` measured; ``Result(name, n, target, **samples)``."""

    samples_tfmagic: list[float] = field(default_factory=list)
    samples_plain: list[float] = field(default_factory=list)
    cpu_tfmagic: list[float] = field(default_factory=list)
    cpu_plain: list[float] = field(default_factory=list)

    def result(self, name: str, n: int, target: float, **kwargs) -> Result:
        return Result(name, n, target, self.samples_tfmagic, self.samples_plain,
                      self.cpu_tfmagic, self.cpu_plain, **kwargs)


@dataclass
class Benchmark:
    name: str
    target: float
    func: Callable[[Context], Result]
    module: str
    doc: str


#: Every benchmark, in definition order (run.py imports the modules in order).
REGISTRY: list[Benchmark] = []


def benchmark(name: str, target: float):
    """Register ``func(ctx) -> Result`` as the benchmark ``name``."""
    def register(func):
        doc = (func.__doc__ or '').strip().splitlines()
        REGISTRY.append(Benchmark(name, target, func, func.__module__,
                                  doc[0] if doc else ''))
        func.benchmark_name = name
        func.target = target
        return func
    return register


# -- the shell -------------------------------------------------------------------

class Context:
    """What a benchmark gets: the shell, the run's settings, and helpers."""

    def __init__(self, quick: bool = False, repeats: int | None = None,
                 profile: bool = False):
        self.quick = quick
        self.repeats_override = repeats
        self.profile = profile
        self._shell = None

    def repeats(self, full: int, quick: int) -> int:
        if self.repeats_override:
            return self.repeats_override
        return quick if self.quick else full

    def size(self, full: int, quick: int) -> int:
        return quick if self.quick else full

    @property
    def shell(self):
        """A real IPython InteractiveShell with ``%load_ext tfmagic``;
        history kept in memory so no file under ~/.ipython is written."""
        if self._shell is None:
            from tests.shell import make_shell

            with quiet():
                shell = make_shell()
                if 'tfmagic' not in shell.extension_manager.loaded:
                    shell.run_line_magic('load_ext', 'tfmagic')
            self._shell = shell
        return self._shell

    def workspace(self):
        import tfmagic
        self.shell  # noqa: B018  (loads the extension)
        return tfmagic.workspace()

    def tfreset(self, auto_init: bool = True) -> None:
        """``%tfreset`` in a cell of its own (never timed), then set auto_init."""
        with quiet():
            cell(self.shell, '%tfreset')
        self.shell.run_line_magic('config', f'TFMagic.auto_init = {auto_init}')


class CellFailed(RuntimeError):
    pass


def cell(shell, code: str):
    """Run ``code`` as a numbered notebook cell; raise if it failed."""
    result = shell.run_cell(code, store_history=True)
    if not result.success:
        error = result.error_in_exec or result.error_before_exec
        raise CellFailed(f'cell failed: {error!r}\n--- cell ---\n{code}')
    return result.result


@contextlib.contextmanager
def quiet():
    """Swallow what the block prints (tfmagic's reset messages and such)."""
    with contextlib.redirect_stdout(io.StringIO()):
        yield


# -- timing ------------------------------------------------------------------------

def timed(func: Callable[[], object], collect: bool = True) -> tuple[float, float]:
    """Wall-clock and process CPU seconds ``func()`` takes. With ``collect``,
    garbage from earlier steps is collected first so neither side pays for the
    other's (e.g. a discarded graph); the collector stays on while timing, as
    in use."""
    if collect:
        gc.collect()
    cpu = time.process_time()
    start = time.perf_counter()
    func()
    wall = time.perf_counter() - start
    return wall, time.process_time() - cpu


def interleaved(repeats: int, tfmagic_run: Callable[[], object],
                plain_run: Callable[[], object],
                tfmagic_setup: Callable[[], object] | None = None,
                plain_setup: Callable[[], object] | None = None,
                warmup: int = 0, collect: bool = True) -> Samples:
    """Time both sides alternately (A, B, A, B, ...), each run after its own
    untimed setup; ``warmup`` untimed rounds first. ``collect=False`` for
    millisecond runs that leave no garbage cycles: the heap is collected once
    before the rounds instead of before every run (a full collection of a heap
    holding a large graph takes longer than such a run)."""
    samples = Samples()
    if not collect:
        gc.collect()
    for i in range(warmup + repeats):
        if tfmagic_setup:
            tfmagic_setup()
        a, a_cpu = timed(tfmagic_run, collect)
        if plain_setup:
            plain_setup()
        b, b_cpu = timed(plain_run, collect)
        if i >= warmup:
            samples.samples_tfmagic.append(a)
            samples.samples_plain.append(b)
            samples.cpu_tfmagic.append(a_cpu)
            samples.cpu_plain.append(b_cpu)
        progress(f'    round {i + 1 - warmup if i >= warmup else "warmup"}: '
                 f'tfmagic {a:.4f}s (cpu {a_cpu:.4f})  plain {b:.4f}s (cpu {b_cpu:.4f})')
    return samples


def profile_run(ctx: Context, label: str, run: Callable[[], object],
                setup: Callable[[], object] | None = None, top: int = 25) -> None:
    """With ``--profile``: one more (untimed) tfmagic run under cProfile,
    printing the functions with the most cumulative time."""
    if not ctx.profile:
        return
    if setup:
        setup()
    gc.collect()
    profiler = cProfile.Profile()
    profiler.enable()
    run()
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats('cumulative').print_stats(top)
    print(f'\n--- cProfile of the tfmagic side of {label} ---', file=sys.stderr)
    print(out.getvalue(), file=sys.stderr)


VERBOSE = False


def progress(message: str) -> None:
    if VERBOSE:
        print(message, file=sys.stderr, flush=True)


# -- memory in a child process -------------------------------------------------------

#: The head of a memory benchmark's child script (``python -c MEMORY_PROBE +
#: BODY``; TensorFlow imported in BODY, after the log level is set):
#: ``measured(step)`` runs ``step()`` and returns its result and, for the
#: report, the resident bytes before the step, at its peak and after it.
MEMORY_PROBE = r"""
import gc, os, resource
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')


def status(key):
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(key + ':'):
                return int(line.split()[1]) * 1024


def reset_peak():
    # Linux >= 4.0: VmHWM restarts from the current RSS. Without it the
    # peak is ru_maxrss over the whole process: an earlier peak may count.
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        return 'VmHWM'
    except OSError:
        return 'ru_maxrss'


def measured(step):
    gc.collect()
    before = status('VmRSS')
    method = reset_peak()
    out = step()
    peak = (status('VmHWM') if method == 'VmHWM'
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    return out, {'before': before, 'peak': peak, 'after': status('VmRSS'), 'method': method}
"""


def child_report(argv: list[str], *, label: str, timeout: float) -> dict:
    """Run this python with ``argv`` in the repository (for ``tests.shell``),
    in a process of its own; return the JSON report it prints on its last line."""
    done = subprocess.run([sys.executable, *argv], capture_output=True, text=True,
                          timeout=timeout, cwd=Path(__file__).resolve().parent.parent)
    if done.returncode != 0:
        raise RuntimeError(f'{label} child failed ({done.returncode}):\n{done.stderr[-3000:]}')
    report = json.loads(done.stdout.strip().splitlines()[-1])
    progress(f'    {label}: {report}')
    return report


def memory_child(script: str, *args: str, label: str, timeout: float) -> dict:
    """Run ``python -c script args...`` in a process of its own, so that its
    peak resident memory is its own; return its JSON report."""
    return child_report(['-c', script, *args], label=label, timeout=timeout)


def extra_peak(step: dict) -> int:
    """Bytes a ``measured`` step's peak lay above the resident size before it."""
    return step['peak'] - step['before']


def get_variable_code(n: int, shape=(10,), initializer: str | None = None) -> str:
    """A cell creating ``n`` variables ``v0 ... v{n-1}`` with ``get_variable``."""
    init = '' if initializer is None else f', initializer={initializer}'
    return (f'for i in range({n}):\n'
            f"    tf.compat.v1.get_variable(f'v{{i}}', {list(shape)}{init})\n")


def plain_graph(code: str) -> tf.Graph:
    """A fresh graph with ``code`` run in it, the plain TF way."""
    graph = tf.Graph()
    with graph.as_default():
        exec(compile(code, '<plain>', 'exec'), {'tf': tf})
    return graph
