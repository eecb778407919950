"""Drive a real Jupyter kernel from tests, the way a notebook front end does.

    with Kernel(tmp_path) as k:
        r = k.run('print(1 + 1)')
        assert r.stdout == '2\\n' and r.error is None

One ``Kernel`` is one ``python3`` kernel process (the interpreter running the
tests, so the project's venv), started in ``cwd``. :meth:`Kernel.run` executes
a cell and collects everything the cell published until the kernel is idle
again.
"""

from __future__ import annotations

import os
import queue
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from jupyter_client import KernelManager

#: Seconds a cell may take unless ``run`` is told otherwise.
DEFAULT_TIMEOUT = 60

#: Quiets TensorFlow's C++ logging in a kernel that imports TensorFlow before
#: tfmagic (tfmagic keeps the start-up lines out itself: tfmagic/_tflog.py).
QUIET_ENV = {'TF_CPP_MIN_LOG_LEVEL': '2'}


class KernelTimeout(AssertionError):
    """The kernel did not finish a cell (or start) in time."""


@dataclass
class Result:
    """What one executed cell published."""

    code: str
    execution_count: int | None = None
    stdout: str = ''
    stderr: str = ''
    outputs: list[dict] = field(default_factory=list)  # execute_result / display_data bundles
    execute_result: dict | None = None                  # its mime bundle: {'text/plain': ...}
    error: dict | None = None                           # ename, evalue, traceback

    @property
    def text(self) -> str:
        """stdout and stderr together (prints, hints, warnings)."""
        return self.stdout + self.stderr

    @property
    def plain(self) -> str | None:
        return (self.execute_result or {}).get('text/plain')

    @property
    def html(self) -> str | None:
        return (self.execute_result or {}).get('text/html')

    @property
    def traceback(self) -> str:
        return '\n'.join((self.error or {}).get('traceback', []))

    def check(self) -> Result:
        """Raise with the cell's traceback if it failed; return self."""
        if self.error is not None:
            raise AssertionError(f'cell failed:\n{self.code}\n{strip_ansi(self.traceback)}')
        return self


def strip_ansi(text: str) -> str:
    return re.sub(r'\x1b\[[0-9;]*[A-Za-z]', '', text)


class Kernel:
    """A started ``python3`` kernel with a blocking client."""

    def __init__(self, cwd, timeout: float = DEFAULT_TIMEOUT, env: dict | None = None,
                 kernel_name: str = 'python3', unset: tuple[str, ...] = ()):
        """``env`` is added to this process's environment and QUIET_ENV;
        the names in ``unset`` are taken out of the result."""
        self.cwd = Path(cwd)
        self.timeout = timeout
        self.km = KernelManager(kernel_name=kernel_name)
        kernel_env = {**os.environ, **QUIET_ENV, **(env or {})}
        for name in unset:
            kernel_env.pop(name, None)
        self.km.start_kernel(cwd=str(cwd), env=kernel_env)
        self.kc = self.km.blocking_client()
        self.kc.start_channels()
        try:
            self.kc.wait_for_ready(timeout=timeout)
        except RuntimeError as err:
            self.shutdown()
            raise KernelTimeout(f'kernel did not start: {err}') from None

    def __enter__(self) -> Kernel:
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()

    def shutdown(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)

    def interrupt(self) -> None:
        """What the front end's stop button does (SIGINT to the kernel)."""
        self.km.interrupt_kernel()

    def run(self, code: str, timeout: float | None = None,
            interrupt_on: str | None = None) -> Result:
        """Execute ``code`` as a cell (stored in history, so it gets an
        execution count) and return what it published.

        With ``interrupt_on``, the kernel is interrupted as soon as that text
        appears on the cell's stdout (to stop a cell that is surely running).
        """
        deadline = time.monotonic() + (timeout or self.timeout)
        msg_id = self.kc.execute(code, store_history=True, allow_stdin=False)
        result = Result(code)
        interrupted = False
        while True:
            msg = self._next(self.kc.get_iopub_msg, deadline, code)
            if msg['parent_header'].get('msg_id') != msg_id:
                continue
            kind, content = msg['msg_type'], msg['content']
            if kind == 'status' and content['execution_state'] == 'idle':
                break
            if kind == 'execute_input':
                result.execution_count = content['execution_count']
            elif kind == 'stream':
                setattr(result, content['name'],
                        getattr(result, content['name']) + content['text'])
                if interrupt_on and not interrupted and interrupt_on in result.stdout:
                    self.interrupt()
                    interrupted = True
            elif kind in ('execute_result', 'display_data'):
                result.outputs.append(content['data'])
                if kind == 'execute_result':
                    result.execute_result = content['data']
            elif kind == 'error':
                result.error = {k: content[k] for k in ('ename', 'evalue', 'traceback')}
        while True:  # the matching execute_reply, so the next run starts clean
            reply = self._next(self.kc.get_shell_msg, deadline, code)
            if reply['parent_header'].get('msg_id') == msg_id:
                return result

    def _next(self, get, deadline: float, code: str) -> dict:
        remaining = deadline - time.monotonic()
        try:
            if remaining <= 0:
                raise queue.Empty
            return get(timeout=remaining)
        except queue.Empty:
            raise KernelTimeout(f'cell did not finish in time:\n{code}') from None
