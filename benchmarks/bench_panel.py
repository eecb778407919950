"""``%tfpanel``: opening it on 10,000 variables, and its after-cell refresh,
which must cost the same whatever the size of the graph.

Both use the 10,000-variable graph of bench_checkpoints (``s0/v0`` ...
``s99/v99``: 100 scopes of 100 float32 [10] variables, created in a tracked
cell, initialized, built once untimed and shared with ``inspect_10k``).

``panel_open_10k``: what ``%tfpanel`` does in Jupyter (``TFMagic.open_panel``:
the terminal check aside) -- constructing the ``VariableBrowser`` and its
first refresh and render (every record put
into the scope tree, the 100 collapsed scope rows set as the tree's rows,
the checkpoint list), and the display's mime bundle with its snapshot of the
tree (200 rows, every scope open) -- vs the plain listing a user would write
(``pd.DataFrame`` over ``global_variables()``, as in bench_vars), with
``%vars`` on the same graph timed in the same rounds for reference. The
front end's drawing is not measured: there is no browser here, and the
widgets' comms are ipywidgets' no-op ``DummyComm``. Each opened panel is
closed (untimed) before the next run, so no panel refreshes behind the scenes.

``panel_refresh``: the refresh after a cell that added one variable, with
10,000 variables already in the graph vs with 100. Both graphs have the
same 100 scopes (100 x 100 variables vs 100 x 1, ``s{j}/v0``), so both panels
show the same 100 collapsed scope rows and differ only in the size of the
graph behind them. Each side is its own workspace: the shell's (holding the
10,000) and a separate ``Workspace`` + ``VariableTracker`` + ``Checkpointer``
(holding the 100); each panel is a ``VariableBrowser`` built exactly as
``%tfpanel`` builds it, except that its ``events`` is a ``CellHooks`` that
is never registered with the shell, so nothing but this benchmark refreshes
it, and its settings point at the same empty checkpoint directory. Untimed
setup of each run does what a cell does to the tracker: ``begin_cell``, one
``get_variable`` (``s0/new{k}``, into an existing scope) inside
``workspace.activate()`` -- the per-cell contexts, so the tracker's creator
hook records it -- and ``end_cell``. Timed: exactly ``panel.refresh()``,
which is what the after-cell hook calls (sub-millisecond runs: the heap is
collected once before the rounds, not before each run). The ratio is time(refresh, 10,000
variables) / time(refresh, 100 variables): the "tfmagic s" column is the
10,000 case and "plain s" the 100 case.
"""

from __future__ import annotations

import re
import types

import tensorflow as tf
from _common import Context, Result, Samples, benchmark, interleaved, profile_run
from bench_checkpoints import N_SCOPES, PER_SCOPE, rotating, samples_of, scoped_10k, scratch, spread
from bench_vars import plain_listing

OPEN_TARGET = 10.0
REFRESH_TARGET = 2.0


def _settings(directory: str):
    """What the panel reads from ``TFMagic``: the checkpoint directory and keep."""
    return types.SimpleNamespace(checkpoint_dir=directory, max_to_keep=5)


def _browser(shell, tracker, checkpointer, directory):
    from tfmagic.cellhooks import CellHooks
    from tfmagic.panel import VariableBrowser
    events = CellHooks(shell, tracker.workspace, tracker)  # never registered
    return VariableBrowser(tracker, checkpointer, _settings(directory), events)


# -- panel_open_10k -----------------------------------------------------------------------

@benchmark('panel_open_10k', target=OPEN_TARGET)
def bench_open(ctx: Context) -> Result:
    """Opening %tfpanel on 10,000 variables in 100 scopes (absolute s) vs the plain listing."""
    ws = scoped_10k(ctx)
    shell = ctx.shell
    n = N_SCOPES * PER_SCOPE
    repeats = ctx.repeats(15, 8)
    graph = ws.graph
    magics = shell.magics_manager.registry['TFMagic']
    old_dir = magics.checkpoint_dir
    opened = []
    out = {}

    def close_panels(i=None):
        while opened:
            opened.pop().close()

    def tfmagic_run(i):
        panel = magics.open_panel()
        panel._repr_mimebundle_()  # what displaying it adds: the saved-notebook snapshot
        opened.append(panel)

    def plain_run(i):
        with graph.as_default():
            out['plain'] = plain_listing()

    def vars_run(i):
        out['vars'] = shell.run_line_magic('vars', '')

    with scratch('panel_open') as directory:
        magics.checkpoint_dir = directory  # an empty checkpoint directory
        try:
            figures = rotating(repeats, [(close_panels, tfmagic_run), (None, plain_run),
                                         (None, vars_run)], warmup=1)
            panel = opened[-1]
            rows, summary = len(panel.tree.rows), panel.summary.value
            close_panels()
            profile_run(ctx, 'panel_open_10k', lambda: tfmagic_run(0), close_panels)
            close_panels()
        finally:
            magics.checkpoint_dir = old_dir
    samples = samples_of(figures[0], figures[1])
    open_s, vars_s = min(figures[0][0]), min(figures[2][0])
    notes = [f'OPENING %tfpanel ON {n:,} VARIABLES IN {N_SCOPES} SCOPES TAKES {open_s:.3f} s '
             f'(requirement: under a few seconds; {spread(figures[0][0])}; construct + first '
             'refresh/render, no front end)',
             f'ratio = that / the plain pd.DataFrame listing of global_variables() '
             f'({min(figures[1][0]):.3f} s); %vars on the same graph: {vars_s:.3f} s '
             f'(%tfpanel / %vars = {open_s / vars_s:.2f}); the target 10 is only a '
             'generous bound that would flag a panel doing far more than a listing']
    if rows != N_SCOPES or f'{n:,} variables in {N_SCOPES} scopes' not in summary:
        notes.append(f'WARNING: the panel shows {rows} rows, summary {summary!r}')
    return samples.result('panel_open_10k', n, OPEN_TARGET, notes=notes,
                          extra={'open_s': open_s, 'vars_s': vars_s,
                                 'samples_vars_s': figures[2][0]})


# -- panel_refresh ---------------------------------------------------------------------------

class _Side:
    """A workspace with a panel on it, and a way to add one variable as a cell would."""

    def __init__(self, shell, tracker, checkpointer, directory):
        self.workspace = tracker.workspace
        self.tracker = tracker
        self.panel = _browser(shell, tracker, checkpointer, directory)
        self.added = 0

    def add_one(self) -> None:
        self.tracker.begin_cell(None, None)
        try:
            with self.workspace.activate(), tf.compat.v1.variable_scope('s0'):
                tf.compat.v1.get_variable(f'new{self.added}', [10],
                                          initializer=tf.compat.v1.zeros_initializer())
        finally:
            self.tracker.end_cell()
        self.added += 1

    def shows(self) -> int | None:
        """The variable count the panel's summary shows."""
        shown = re.match(r'([\d,]+) variables?\b', self.panel.summary.value)
        return int(shown.group(1).replace(',', '')) if shown else None


def _small_workspace():
    """A separate workspace with one variable in each of the N_SCOPES scopes."""
    from tfmagic import Checkpointer, VariableTracker, Workspace
    ws = Workspace()
    tracker = VariableTracker(ws)
    tracker.begin_cell(None, None)
    with ws.activate():
        for j in range(N_SCOPES):
            with tf.compat.v1.variable_scope(f's{j}'):
                tf.compat.v1.get_variable('v0', [10], initializer=tf.compat.v1.zeros_initializer())
    tracker.end_cell()
    return tracker, Checkpointer(tracker)


@benchmark('panel_refresh', target=REFRESH_TARGET)
def bench_refresh(ctx: Context) -> Result:
    """Panel refresh after a cell adding one variable: 10,000 vs 100 variables in the graph."""
    import tfmagic
    scoped_10k(ctx)
    shell = ctx.shell
    n = N_SCOPES * PER_SCOPE
    repeats = ctx.repeats(30, 15)
    small_tracker, small_checkpointer = _small_workspace()
    with scratch('panel_refresh') as directory:
        big = _Side(shell, tfmagic.tracker(), tfmagic.checkpointer(), directory)
        small = _Side(shell, small_tracker, small_checkpointer, directory)
        try:
            samples: Samples = interleaved(
                repeats, big.panel.refresh, small.panel.refresh,
                tfmagic_setup=big.add_one, plain_setup=small.add_one, warmup=2,
                collect=False)
            shown = (big.shows(), small.shows())
            expected = (n + big.added, N_SCOPES + small.added)
            profile_run(ctx, 'panel_refresh', big.panel.refresh, big.add_one)
        finally:
            big.panel.close()
            small.panel.close()
            small_tracker.detach()
            small_tracker.workspace.close()
    notes = [f'"tfmagic s" = refresh with {n:,} variables in the graph, "plain s" = with '
             f'{N_SCOPES}; both in {N_SCOPES} scopes, the new variable added to s0 (an '
             'existing, collapsed scope) by the tracker\'s hooks in untimed setup; timed: '
             'panel.refresh() alone',
             f'refresh with {n:,}: {spread(samples.samples_tfmagic)}; with {N_SCOPES}: '
             f'{spread(samples.samples_plain)}']
    if shown != expected:
        notes.append(f'WARNING: the panels show {shown} variables, expected {expected}')
    ctx.tfreset()
    return samples.result('panel_refresh', n, REFRESH_TARGET, notes=notes)
