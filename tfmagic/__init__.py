"""tfmagic: explore and manage TensorFlow variables from IPython and Jupyter.

``%load_ext tfmagic`` runs every cell in a managed ``tf.compat.v1`` graph and
session and records where each variable came from; see ``%vars?``,
``%%tfscope?``, ``%tfreset?``, ``%tfpanel?``, ``%tfgraph?``, ``%saveckpt?``,
``%restoreckpt?``, ``%ckpts?``, ``%inspectckpt?``, ``%tfmode?`` and ``%tfconnect?``.
"""

from __future__ import annotations

__version__ = '0.2.0'

from typing import TYPE_CHECKING

from . import (
    _tflog,  # noqa: F401  (first: before TensorFlow is imported)
    hints,
)
from .cellhooks import CellHooks
from .checkpoints import Checkpointer, CheckpointError
from .tables import list_variables
from .tracking import VariableTracker
from .workspace import Workspace, WorkspaceError

if TYPE_CHECKING:
    import pandas as pd
    from IPython.core.interactiveshell import InteractiveShell

    from .magics import TFMagic

__all__ = ['__version__', 'Workspace', 'WorkspaceError', 'VariableTracker', 'Checkpointer',
           'CheckpointError', 'workspace', 'tracker', 'checkpointer', 'variables',
           'load_ipython_extension', 'unload_ipython_extension']

_magics: TFMagic | None = None  # the TFMagic instance of the shell tfmagic is loaded in


def _loaded() -> TFMagic:
    if _magics is None:
        raise RuntimeError('tfmagic is not loaded: run %load_ext tfmagic first')
    return _magics


def workspace() -> Workspace:
    """The managed workspace of the IPython shell tfmagic is loaded in."""
    return _loaded().workspace


def tracker() -> VariableTracker:
    """The variable records of that workspace."""
    return _loaded().tracker


def checkpointer() -> Checkpointer:
    """What ``%saveckpt`` and ``%restoreckpt`` save and restore with."""
    return _loaded().checkpointer


def variables(pattern: str | None = None, *, scope: str | None = None,
              trainable_only: bool = False, stats: bool = False) -> pd.DataFrame:
    """The ``%vars`` DataFrame, from Python."""
    return list_variables(tracker(), pattern, scope, trainable_only, stats)


def load_ipython_extension(shell: InteractiveShell) -> None:
    from .magics import TFMagic

    global _magics
    if _magics is not None:  # loaded into another shell before: detach it first
        unload_ipython_extension(_magics.shell)
    ws = Workspace()
    hooks = CellHooks(shell, ws, VariableTracker(ws))
    magics = TFMagic(shell, hooks, Checkpointer(hooks.tracker, lambda: shell.user_ns))
    shell.register_magics(magics)
    hooks.register()
    _magics = magics


def unload_ipython_extension(shell: InteractiveShell) -> None:
    """Remove every hook and magic and close the managed session; the graph
    and its variables are gone (``%reload_ext tfmagic`` starts a new one)."""
    global _magics
    magics, _magics = _magics, None
    if magics is None:
        return
    count = len(magics.tracker.records())
    magics.hooks.unregister()
    manager = shell.magics_manager
    for kind, table in magics.magics.items():
        for name in table:
            manager.magics[kind].pop(name, None)
    manager.registry.pop(type(magics).__name__, None)
    if magics in shell.configurables:
        shell.configurables.remove(magics)  # type: ignore[arg-type]  # IPython types it as a list of shells
    try:
        magics.tracker.detach()
        magics.workspace.close()
    finally:
        magics.stop_local_cluster()
    print(hints.unloaded(count))
