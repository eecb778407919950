"""Run tfmagic's benchmarks and print each ratio against its target.

    .venv/bin/python benchmarks/run.py                 # everything (~11 min)
    .venv/bin/python benchmarks/run.py --quick         # smaller sizes and repeats (~2 min)
    .venv/bin/python benchmarks/run.py cells stats_1k  # by name, module or glob ('vars_*')
    .venv/bin/python benchmarks/run.py --list

Each ratio is tfmagic seconds / plain TensorFlow seconds, both measured side by
side in this run (interleaved, min of N). Results also go to
benchmarks/results/latest.json. Timings are reported, never asserted: the exit
status is 0 even when a ratio misses its target (2 on a usage error, 1 when a
benchmark itself failed).
"""

from __future__ import annotations

import argparse
import datetime
import fnmatch
import json
import os
import platform
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
# The benchmark modules, and the repository for tests.shell.make_shell.
sys.path[:0] = [str(HERE), str(HERE.parent)]

import _common  # noqa: E402  (needs the sys.path entry above; sets TF's log level)
from _common import REGISTRY, Context, Result  # noqa: E402  (needs the sys.path entry above)

MODULES = ('bench_cells', 'bench_vars', 'bench_stats', 'bench_checkpoints', 'bench_panel',
           'bench_graph', 'bench_cluster', 'bench_eager', 'bench_migration')
RESULTS = HERE / 'results' / 'latest.json'


def load() -> list[_common.Benchmark]:
    import importlib
    for module in MODULES:
        importlib.import_module(module)
    return list(REGISTRY)


def select(benchmarks, names: list[str]):
    """Benchmarks named by ``names``: an exact name, else a prefix (``cells``
    -> ``cells_*``), module (``bench_vars``) or glob (``'vars_*'``); all when
    ``names`` is empty."""
    if not names:
        return benchmarks, []
    chosen, unknown = [], []
    for pattern in names:
        short = pattern.removeprefix('bench_')
        hits = [b for b in benchmarks if b.name == short]  # an exact name wins
        if not hits:
            hits = [b for b in benchmarks
                    if b.name.startswith(short + '_') or b.module == pattern
                    or fnmatch.fnmatchcase(b.name, pattern)]
        if not hits:
            unknown.append(pattern)
        chosen.extend(h for h in hits if h not in chosen)
    return [b for b in benchmarks if b in chosen], unknown


def table(results: list[Result]) -> str:
    header = ('benchmark', 'n', 'tfmagic s', 'plain s', 'ratio', 'target', 'within',
              '(pair median)', '(cpu ratio)')
    rows = [header]
    for r in results:
        cpu = '-' if r.cpu_ratio is None else f'{r.cpu_ratio:.3f}'
        rows.append((r.name, f'{r.n:,}', f'{r.tfmagic_s:.4f}', f'{r.plain_s:.4f}',
                     f'{r.ratio:.3f}', f'<= {r.target:g}', 'yes' if r.within else 'NO',
                     f'{r.paired_median:.3f}', cpu))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = []
    for k, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])]
        cells += [c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)]
        lines.append('  '.join(cells))
        if k == 0:
            lines.append('  '.join('-' * w for w in widths))
    lines += ['', 'ratio = min wall-clock seconds of the tfmagic side / min of the plain side '
              '(interleaved repeats, A B A B ...).',
              'For reference: (pair median) = median over rounds of tfmagic/plain within a '
              'round; (cpu ratio) = the min ratio',
              'in process CPU seconds. When they disagree with the ratio, load on the '
              'machine moved a minimum: rerun (--repeats N).']
    notes = [f'  {r.name}: {note}' for r in results for note in r.notes]
    if notes:
        lines += ['', 'notes:', *notes]
    return '\n'.join(lines)


def environment() -> dict:
    import IPython
    import numpy
    import pandas
    import tensorflow as tf
    return {
        'python': platform.python_version(), 'tensorflow': tf.__version__,
        'ipython': IPython.__version__, 'pandas': pandas.__version__,
        'numpy': numpy.__version__, 'machine': platform.machine(),
        'cpus': os.cpu_count(),
        'loadavg': os.getloadavg() if hasattr(os, 'getloadavg') else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="tfmagic benchmarks: tfmagic time / plain TensorFlow time, with targets.")
    parser.add_argument('names', nargs='*',
                        help="benchmarks to run: a name, a prefix such as 'cells', "
                             "a module such as 'bench_vars', or a glob; default all")
    parser.add_argument('--quick', action='store_true',
                        help='smaller sizes and fewer repeats (about two minutes)')
    parser.add_argument('--repeats', type=int, metavar='N',
                        help='timed repeats per side for every benchmark (overrides defaults)')
    parser.add_argument('--profile', action='store_true',
                        help='after timing, run the tfmagic side once more under '
                             'cProfile and print the top functions (to stderr)')
    parser.add_argument('--list', action='store_true', help='list the benchmarks and exit')
    parser.add_argument('-v', '--verbose', action='store_true',
                        help='print every timed round (to stderr)')
    parser.add_argument('--json', type=Path, default=RESULTS,
                        help='where to write the results '
                             f'(default {RESULTS.relative_to(HERE.parent)})')
    args = parser.parse_args(argv)

    benchmarks = load()
    if args.list:
        width = max(len(b.name) for b in benchmarks)
        for b in benchmarks:
            print(f'{b.name:<{width}}  target <= {b.target:g}   {b.doc}')
        return 0
    chosen, unknown = select(benchmarks, args.names)
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; "
                     f"choose from {', '.join(b.name for b in benchmarks)}")
    if args.repeats is not None and args.repeats < 1:
        parser.error('--repeats must be at least 1')

    _common.VERBOSE = args.verbose
    ctx = Context(quick=args.quick, repeats=args.repeats, profile=args.profile)
    started = time.perf_counter()
    results: list[Result] = []
    failed: list[str] = []
    print(f"tfmagic benchmarks{' (quick)' if args.quick else ''}: "
          f"{', '.join(b.name for b in chosen)}", flush=True)
    for b in chosen:
        t0 = time.perf_counter()
        print(f'  {b.name} ...', end='', flush=True)
        try:
            result = b.func(ctx)
        except Exception:
            print(' FAILED', flush=True)
            traceback.print_exc()
            failed.append(b.name)
            continue
        results.append(result)
        print(f' ratio {result.ratio:.3f} (target <= {result.target:g}) '
              f'[{time.perf_counter() - t0:.0f}s]', flush=True)
    elapsed = time.perf_counter() - started

    print()
    print(table(results))
    print(f'\n{len(results)} benchmark(s) in {elapsed:.0f}s; '
          f'{sum(not r.within for r in results)} outside target'
          + (f'; FAILED: {", ".join(failed)}' if failed else ''))

    payload = {
        'generated_at': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
        'quick': args.quick, 'elapsed_s': elapsed, 'environment': environment(),
        'results': [r.as_json() for r in results], 'failed': failed,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(payload, indent=2) + '\n')
    print(f'results written to {args.json}')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
