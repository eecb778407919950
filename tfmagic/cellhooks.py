"""The IPython cell lifecycle around a workspace.

Before each cell the workspace's graph and session become the defaults and
the tracker starts attributing new variables to the cell; after it (also when
the cell raised or was interrupted) the defaults are restored and the new
variables the cell did not run are initialized. A failing cell's error output
starts with a hint when one applies (see :mod:`tracebacks`).

A cell that calls ``tf.compat.v1.reset_default_graph()`` would fail inside
the managed graph ("Do not use tf.reset_default_graph() to clear nested
graphs"); an AST transformer routes that call to :meth:`Workspace.reset`.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from typing import TYPE_CHECKING

import IPython
import tensorflow as tf

from . import drops, hints
from .tracebacks import ErrorHints
from .tracking import VariableTracker
from .wording import PREFIX
from .workspace import ClusterUnreachableError, Workspace

if TYPE_CHECKING:
    from IPython.core.interactiveshell import ExecutionInfo, ExecutionResult, InteractiveShell

#: Name under which the reset guard lives in the user namespace (hidden from %who).
RESET_GUARD = '_tfmagic_reset_guard'


class ResetDefaultGraphTransformer(ast.NodeTransformer):
    """Rewrites ``f.reset_default_graph(...)`` as
    ``_tfmagic_reset_guard(f.reset_default_graph)(...)``; the guard decides at
    run time whether the callee really is TensorFlow's function."""

    def visit_Call(self, node: ast.Call) -> ast.Call:
        self.generic_visit(node)
        func = node.func
        name = getattr(func, 'attr', None) or getattr(func, 'id', None)
        if name == 'reset_default_graph':
            guard = ast.Call(func=ast.Name(id=RESET_GUARD, ctx=ast.Load()),
                             args=[func], keywords=[])
            node.func = ast.copy_location(guard, func)
            ast.fix_missing_locations(node)
        return node


#: IPython 9.8 and later count a stored cell before ``pre_run_cell``, earlier
#: versions once the cell has run.
_COUNTED_BEFORE_PRE_RUN_CELL = IPython.version_info >= (9, 8)


def cell_number(shell: InteractiveShell) -> int:
    """The execution count (``In[n]``) of the stored cell that is running."""
    return shell.execution_count - 1 if _COUNTED_BEFORE_PRE_RUN_CELL else shell.execution_count


class CellHooks:
    """Connects a workspace and its tracker to one IPython shell."""

    def __init__(self, shell: InteractiveShell, workspace: Workspace, tracker: VariableTracker):
        self.shell = shell
        self.workspace = workspace
        self.tracker = tracker
        self._transformer = ResetDefaultGraphTransformer()
        self._after_cell: list[Callable[[], None]] = []
        self._error_hints = ErrorHints(shell, self.explain)
        self._drops: drops.DropWatch | None = None

    def register(self) -> None:
        """Hook into the shell; when called from a running cell (``%load_ext``
        in it), the rest of that cell already runs in the workspace."""
        events = self.shell.events
        events.register('pre_run_cell', self.pre_run_cell)
        events.register('post_run_cell', self.post_run_cell)
        self.shell.ast_transformers.append(self._transformer)
        self.shell.push({RESET_GUARD: self.reset_guard}, interactive=False)
        self._error_hints.install()
        running = getattr(self.shell.displayhook, 'exec_result', None)
        if running is not None:
            self.pre_run_cell(running.info)

    def explain(self, error: BaseException) -> str | None:
        """The hint for an error raised by the running cell, if any."""
        running = getattr(self.shell.displayhook, 'exec_result', None)
        cell = running.info.raw_cell if running is not None else None
        return hints.explain_error(error, self.tracker, cell)

    def unregister(self) -> None:
        events = self.shell.events
        for name, callback in (('pre_run_cell', self.pre_run_cell),
                               ('post_run_cell', self.post_run_cell)):
            if callback in events.callbacks[name]:
                events.unregister(name, callback)
        if self._transformer in self.shell.ast_transformers:
            self.shell.ast_transformers.remove(self._transformer)
        self.shell.user_ns.pop(RESET_GUARD, None)
        self.shell.user_ns_hidden.pop(RESET_GUARD, None)
        self._error_hints.uninstall()
        self._after_cell.clear()
        self.tracker.end_cell()
        self.workspace.leave()

    def after_cell(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` after every cell, once the workspace is left."""
        self._after_cell.append(callback)

    def remove_after_cell(self, callback: Callable[[], None]) -> None:
        if callback in self._after_cell:
            self._after_cell.remove(callback)

    def notify(self) -> None:
        """Run the after-cell callbacks now (something changed outside a cell)."""
        for callback in list(self._after_cell):
            callback()

    # -- events --------------------------------------------------------------

    def pre_run_cell(self, info: ExecutionInfo) -> None:
        number = cell_number(self.shell) if info.store_history else None
        self.workspace.enter()
        # Eager mode: what the cell's names held, in case it drops a Keras
        # model, which only a garbage collection frees (see drops.py).
        self._drops = (drops.watch(self.shell, info.raw_cell, self.shell.user_ns)
                       if self.workspace.eager and self.workspace.holds_variables() else None)
        self.tracker.begin_cell(number, info.raw_cell)

    def post_run_cell(self, result: ExecutionResult) -> None:
        if not self.workspace.active:  # an empty cell has no pre_run_cell
            return
        collect = self._drops is not None and self._drops.needs_collection(self.shell.user_ns)
        self._drops = None
        report = self.tracker.end_cell(collect=collect)
        self.workspace.leave()
        notes: list[str | None] = []
        if self.workspace.auto_init and self.workspace.lost is None:
            try:
                self.workspace.initialize_pending()
            except ClusterUnreachableError as err:  # the cluster stopped during the cell
                if result.error_in_exec is None:
                    notes.append(PREFIX + err.message)
            else:
                notes.extend(hints.not_initialized(var, error)
                             for var, error in self.workspace.take_init_failures())
        notes.append(hints.duplicates_note(report))
        notes.append(hints.same_names_note(report))
        for note in filter(None, notes):
            print(note)
        self.notify()

    # -- reset_default_graph() -------------------------------------------------

    def reset_guard(self, func: Callable[..., object]) -> Callable[..., object]:
        """Return what a rewritten ``reset_default_graph`` call should call."""
        if (func is tf.compat.v1.reset_default_graph and self.workspace.active
                and self.workspace.at_root()):
            return self._reset_from_cell
        return func

    def _reset_from_cell(self) -> None:
        self.workspace.reset()
        print(hints.RESET_NOTE)
