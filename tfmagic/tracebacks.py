"""Hints at the top of a cell's error output, above TensorFlow's traceback.

A TensorFlow error's traceback runs to hundreds of lines; a hint printed after
the cell would sit below all of them. IPython's documented hook for showing
an exception differently is ``shell.set_custom_exc``: the handler here puts
the hint's lines first and IPython's own traceback after them, unchanged.

IPython calls that handler for more than the cell's own errors, so it also
does what IPython does without it: it hands the exceptions of a handler
installed before it to that one, shows errors of the parse step as syntax
errors, leaves ``UsageError`` and ``_render_traceback_`` alone, and
whatever goes wrong in it, shows the user's error.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from types import MethodType, TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

Explain = Callable[[BaseException], 'str | None']
#: ``shell.CustomTB``: IPython's wrapper around a handler, bound to the shell.
CustomTB = MethodType

log = logging.getLogger(__name__)

#: What ``run_cell_async`` shows with ``showsyntaxerror`` when parsing the
#: cell raised it (an ``IndentationError`` gets ``showindentationerror``).
_PARSE_ERRORS = (OverflowError, SyntaxError, ValueError, TypeError, MemoryError)

#: IPython and ipykernel show what an exception's method of this name
#: returns instead of its traceback.
_RENDER_TRACEBACK = '_render_traceback_'


class ErrorHints:
    """Shows ``explain(error)`` above the traceback of each failing cell."""

    def __init__(self, shell: InteractiveShell, explain: Explain):
        self.shell = shell
        self.explain = explain
        self.installed = False
        self._previous: tuple[tuple[type[BaseException], ...], CustomTB | None] = ((), None)
        self._custom_tb: CustomTB | None = None  # ours, as the shell holds it

    def install(self) -> None:
        if self.installed:
            return
        shell = self.shell
        self._previous = (shell.custom_exceptions, shell.CustomTB)
        shell.set_custom_exc((Exception,), self._handler)
        self._custom_tb = shell.CustomTB
        self.installed = True

    def uninstall(self) -> None:
        """Give the shell back the handler it had before; if another one was
        installed over ours since, leave it: ours then only passes errors on."""
        if not self.installed:
            return
        self.installed = False
        shell = self.shell
        if shell.CustomTB is self._custom_tb:
            exceptions, previous = self._previous
            assert previous is not None, 'install() kept the handler it replaced'
            shell.custom_exceptions, shell.CustomTB = exceptions, previous

    def _handler(self, shell: InteractiveShell, etype: type[BaseException], value: BaseException,
                 tb: TracebackType | None, tb_offset: int | None = None) -> None:
        # Never raise: IPython would drop this handler and the one before it,
        # and run_code does not show what the wrapper returns.
        try:
            exceptions, previous = self._previous
            if previous is not None and exceptions and isinstance(value, exceptions):
                self._pass_on(previous, etype, value, tb, tb_offset)
            elif _raised_parsing(tb):
                _show_parse_error(shell, etype, value, tb)
            else:
                self._show(etype, value, tb, tb_offset)
        except Exception:
            log.warning('tfmagic could not show this error with its hint', exc_info=True)
            shell.showtraceback((etype, value, tb), tb_offset=tb_offset,
                                running_compiled_code=True)

    def _pass_on(self, previous: CustomTB, etype: type[BaseException], value: BaseException,
                 tb: TracebackType | None, tb_offset: int | None) -> None:
        try:
            previous(etype, value, tb, tb_offset=tb_offset)
        finally:
            # If it failed, IPython's wrapper unregistered every handler (ours
            # too) and did not show the error (before IPython 9 the wrapper
            # itself then raises, and _handler shows it): take the shell back.
            taken = self.installed and self.shell.CustomTB is not self._custom_tb
            if taken:
                shell = self.shell
                assert self._custom_tb is not None, 'install() kept ours'
                self._previous = (shell.custom_exceptions, shell.CustomTB)
                shell.custom_exceptions, shell.CustomTB = (Exception,), self._custom_tb
        if taken:
            self._show(etype, value, tb, tb_offset)

    def _show(self, etype: type[BaseException], value: BaseException,
              tb: TracebackType | None, tb_offset: int | None) -> None:
        shell = self.shell
        hint = None
        if self.installed and not hasattr(value, _RENDER_TRACEBACK):
            hint = self.explain(value)
        if not hint:
            shell.showtraceback((etype, value, tb), tb_offset=tb_offset,
                                running_compiled_code=True)
            return
        # Through showtraceback, for all it does besides printing (sys.last_*
        # for %debug and %tb, %pdb, the kernel's error message), by the
        # protocol it keeps for exceptions that render their own traceback.
        itb = shell.InteractiveTB
        # A kernel sends the entries to the front end, which joins them with
        # newlines; a terminal prints them joined by the mode's own character.
        join_char = '\n' if getattr(shell, 'kernel', None) is not None else itb.tb_join_char
        stb = [*_hint_entries(hint, join_char),
               *itb.structured_traceback(etype, value, tb, tb_offset=tb_offset)]
        setattr(value, _RENDER_TRACEBACK, lambda: stb)
        try:
            shell.showtraceback((etype, value, tb), tb_offset=tb_offset,
                                running_compiled_code=True)
        finally:
            delattr(value, _RENDER_TRACEBACK)


def _hint_entries(hint: str, join_char: str) -> list[str]:
    """The hint as structured-traceback entries, each line on its own line
    and a blank one under it, for entries joined by ``join_char``: '' in the
    terminal's Plain and Minimal modes, a newline in Context and Verbose and
    in Jupyter front ends."""
    end = '' if join_char == '\n' else '\n'
    return [line + end for line in hint.splitlines()] + [end]


def _raised_parsing(tb: TracebackType | None) -> bool:
    """IPython calls the handler from ``run_code`` for errors of the running
    code, and from ``run_cell_async`` for errors of parsing the cell; the
    outermost frame of the traceback is the caller's."""
    return tb is not None and tb.tb_frame.f_code.co_name == 'run_cell_async'


def _show_parse_error(shell: InteractiveShell, etype: type[BaseException], value: BaseException,
                      tb: TracebackType | None) -> None:
    """What ``run_cell_async`` does without a custom handler (its
    ``show*error`` methods read ``sys.exc_info()``, which is this error)."""
    if isinstance(value, IndentationError):
        shell.showindentationerror()
    elif isinstance(value, _PARSE_ERRORS):
        shell.showsyntaxerror()
    else:  # IPython would let it propagate out of run_cell
        shell.showtraceback((etype, value, tb))
