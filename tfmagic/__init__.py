"""tfmagic: explore and manage TensorFlow variables from IPython and Jupyter.

``%load_ext tfmagic`` runs every cell in a managed ``tf.compat.v1`` graph and
session and records where each variable came from; see ``%vars?``,
``%%tfscope?`` and ``%tfreset?``.
"""

from __future__ import annotations

from .cellhooks import CellHooks
from .tables import list_variables
from .tracking import VariableTracker
from .workspace import Workspace, WorkspaceError

__all__ = ['Workspace', 'WorkspaceError', 'VariableTracker', 'workspace', 'tracker',
           'variables', 'load_ipython_extension', 'unload_ipython_extension']

_hooks: CellHooks | None = None


def _loaded() -> CellHooks:
    if _hooks is None:
        raise RuntimeError('tfmagic is not loaded: run %load_ext tfmagic first')
    return _hooks


def workspace() -> Workspace:
    """The managed workspace of the IPython shell tfmagic is loaded in."""
    return _loaded().workspace


def tracker() -> VariableTracker:
    """The variable records of that workspace."""
    return _loaded().tracker


def variables(pattern: str | None = None, *, scope: str | None = None,
              trainable_only: bool = False, stats: bool = False):
    """The ``%vars`` DataFrame, from Python."""
    return list_variables(tracker(), pattern, scope, trainable_only, stats)


def load_ipython_extension(shell) -> None:
    from .magics import TFMagic

    global _hooks
    if _hooks is not None:  # loaded into another shell before: detach it first
        unload_ipython_extension(_hooks.shell)
    ws = Workspace()
    hooks = CellHooks(shell, ws, VariableTracker(ws))
    magics = TFMagic(shell, hooks)
    shell.register_magics(magics)
    hooks.register()
    hooks.magics = magics
    _hooks = hooks


def unload_ipython_extension(shell) -> None:
    global _hooks
    hooks, _hooks = _hooks, None
    if hooks is None:
        return
    hooks.unregister()
    magics = hooks.magics
    manager = shell.magics_manager
    for kind, table in magics.magics.items():
        for name in table:
            manager.magics[kind].pop(name, None)
    manager.registry.pop(type(magics).__name__, None)
    if magics in shell.configurables:
        shell.configurables.remove(magics)
    hooks.tracker.detach()
    hooks.workspace.close()
