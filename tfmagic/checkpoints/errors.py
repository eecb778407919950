"""What a checkpoint operation says when it cannot be done: one line, no
traceback through tfmagic's internals, and none of TensorFlow's log noise."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import tensorflow as tf


class CheckpointError(Exception):
    """A checkpoint cannot be saved, found, read or restored; nothing changed."""

    def _render_traceback_(self) -> list[str]:
        # IPython and ipykernel show this instead of a traceback: the message
        # is the whole story, and the stack of tfmagic internals is noise.
        return [f'{type(self).__name__}: {self}']


class SaveInterrupted(KeyboardInterrupt):
    """Ctrl-C (a kernel interrupt) stopped a save; the message says what is on disk."""

    def _render_traceback_(self) -> list[str]:
        # One line instead of a traceback through TensorFlow's Saver.
        return [str(self)]


@contextlib.contextmanager
def quiet_tf_logging() -> Iterator[None]:
    """Hold back TensorFlow's INFO and deprecation lines: the result says it all."""
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel('ERROR')
    try:
        yield
    finally:
        logger.setLevel(level)
