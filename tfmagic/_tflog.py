"""Keeps TensorFlow's C++ start-up lines out of the notebook.

Imported, TensorFlow writes INFO lines to the process's stderr (oneDNN
custom operations, cpu_feature_guard's instruction sets, and absl's "before
InitializeLog" banner), which ipykernel forwards into the first cell of every
notebook. ``TF_CPP_MIN_LOG_LEVEL`` no longer stops them all (TF 2.21 logs
oneDNN's through absl before the level is read), so in a kernel the import
is done here, first, with file descriptor 2 read through a pipe: INFO lines
are dropped and every other line (a warning, an error) is passed on as it
comes. The level is also set to 1 there (unless the user set one), which
drops TensorFlow's later INFO lines and keeps its warnings.

Only in a kernel: elsewhere stderr is the user's terminal or a log, and a
fatal message TensorFlow writes just before aborting must reach it whole
(the forwarding thread needs the interpreter, which the import holds).
Nor when the user asked for verbose logs (``TF_CPP_MAX_VLOG_LEVEL``,
``TF_CPP_VMODULE``).
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import threading
from collections.abc import Iterator

#: TensorFlow's start-up lines that say nothing a notebook user needs.
STARTUP_INFO = re.compile(
    rb'(WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR'
    rb'|I\d{4} [\d:.]+\s+\d+ \S+:\d+\] .*'
    rb'|To enable the following instructions: .* rebuild TensorFlow with the appropriate'
    rb' compiler flags\.)\s*')


@contextlib.contextmanager
def startup_info_dropped() -> Iterator[None]:
    """While inside, lines written to file descriptor 2 are passed on to it
    as they come, without the :data:`STARTUP_INFO` lines. Does nothing if
    there is no file descriptor 2 to read."""
    try:
        if sys.stderr is not None:
            sys.stderr.flush()
        stderr = os.dup(2)
    except OSError:  # fd 2 is closed
        yield
        return
    read_end, write_end = os.pipe()
    forwarder = threading.Thread(target=_forward, args=(read_end, stderr),
                                 name='tfmagic-startup-log', daemon=True)
    forwarder.start()
    os.dup2(write_end, 2)
    os.close(write_end)
    try:
        yield
    finally:
        os.dup2(stderr, 2)  # the pipe's last writer is gone: the forwarder sees its end
        forwarder.join(timeout=5)  # unless a child process kept a copy of it


def _forward(read_end: int, stderr: int) -> None:
    """Copy lines from the pipe to ``stderr`` (a copy of fd 2 this thread
    owns and closes), dropping the start-up INFO lines."""
    try:
        with os.fdopen(read_end, 'rb') as lines:
            for line in lines:
                if not STARTUP_INFO.fullmatch(line):
                    with contextlib.suppress(OSError):  # keep draining the pipe
                        os.write(stderr, line)
    finally:
        os.close(stderr)


def _in_a_kernel() -> bool:
    return 'ipykernel' in sys.modules


def _verbose_logs_asked() -> bool:
    return bool(os.environ.get('TF_CPP_MAX_VLOG_LEVEL') or os.environ.get('TF_CPP_VMODULE'))


if _in_a_kernel() and not _verbose_logs_asked() and 'tensorflow' not in sys.modules:
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '1')
    with startup_info_dropped():
        import tensorflow  # noqa: F401
