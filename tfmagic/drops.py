"""Whether a cell dropped an object that only a garbage collection frees.

In eager mode the variables are held weakly, so one the user drops leaves
``%vars`` once it is freed. Most objects are freed the moment their last
name goes; a Keras model is not: its layers, optimizer and traced functions
refer to each other, and only a collection of the whole heap frees such
cycles (about 0.2 s with TensorFlow loaded: too slow for every cell).

So before a cell, the objects held by the names it deletes or binds (``del``,
assignments, ``def``, ``class``, ``import``, in a cell magic's body too)
are watched, weakly; after it a collection is worth its cost only if one of
them lost its name and still lives.
"""

from __future__ import annotations

import ast
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

#: Objects that cannot be watched weakly but may hold others: watched by identity.
_CONTAINERS = (list, tuple, dict, set)


@dataclass
class DropWatch:
    """The objects a cell's names held before it ran."""

    weak: dict[str, weakref.ref] = field(default_factory=dict)
    containers: dict[str, int] = field(default_factory=dict)  # name -> id of the object

    def needs_collection(self, namespace: dict) -> bool:
        """True if an object watched lost its name and may live on in a cycle."""
        for name, ref in self.weak.items():
            held = ref()
            if held is not None and namespace.get(name) is not held:
                return True
        return any(id(namespace.get(name)) != key for name, key in self.containers.items())


def watch(shell: InteractiveShell, cell: str | None, namespace: dict) -> DropWatch:
    """Watch what ``cell`` may drop: the objects of the names it deletes or binds."""
    found = DropWatch()
    for name in _names_dropped(shell, cell or ''):
        if name not in namespace:
            continue
        held = namespace[name]
        if isinstance(held, _CONTAINERS):
            found.containers[name] = id(held)
            continue
        try:
            found.weak[name] = weakref.ref(held)
        except TypeError:  # a number, a string: holds nothing
            pass
    return found


def _names_dropped(shell: InteractiveShell, cell: str) -> set[str]:
    """The names ``cell`` deletes or binds (nothing if it is no Python)."""
    names = set()
    sources = [cell]
    if cell.startswith('%%'):  # a cell magic: its body may be Python run in the namespace
        sources.append(cell.partition('\n')[2])
    for source in sources:
        try:
            tree = ast.parse(shell.transform_cell(source))
        except (SyntaxError, ValueError):  # not Python (a null byte is a ValueError)
            continue
        names.update(_bound(tree))
    return names


def _bound(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).partition('.')[0] for alias in node.names)
    return names
