"""Hints at the top of a cell's error output, above TensorFlow's traceback.

A TensorFlow error's traceback runs to hundreds of lines; a hint printed after
the cell would sit below all of them. IPython's documented hook for showing
an exception differently is ``shell.set_custom_exc``: the handler here puts
the hint's lines first and IPython's own traceback after them, unchanged.
"""

from __future__ import annotations

from typing import Callable

Explain = Callable[[BaseException], 'str | None']


class ErrorHints:
    """Shows ``explain(error)`` above the traceback of each failing cell."""

    def __init__(self, shell, explain: Explain):
        self.shell = shell
        self.explain = explain
        self._previous = None

    def install(self) -> None:
        shell = self.shell
        self._previous = (shell.custom_exceptions, shell.CustomTB)
        shell.set_custom_exc((Exception,), self._handler)

    def uninstall(self) -> None:
        if self._previous is None:
            return
        exceptions, custom_tb = self._previous
        self._previous = None
        self.shell.custom_exceptions = exceptions
        self.shell.CustomTB = custom_tb

    def _handler(self, shell, etype, value, tb, tb_offset=None):
        hint = self.explain(value)
        if hint and not hasattr(value, '_render_traceback_'):
            # Plain and Context modes join the traceback's entries with '',
            # Verbose with '\n': each hint line must end its own line.
            end = '' if shell.InteractiveTB.tb_join_char == '\n' else '\n'
            lines = [line + end for line in hint.splitlines()]

            def render():
                return [*lines, end, *shell.InteractiveTB.structured_traceback(
                    etype, value, tb, tb_offset=tb_offset)]
            value._render_traceback_ = render
            try:
                shell.showtraceback((etype, value, tb), running_compiled_code=True)
            finally:
                del value._render_traceback_
        else:
            shell.showtraceback((etype, value, tb), running_compiled_code=True)
        return None
