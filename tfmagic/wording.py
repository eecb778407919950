"""The small pieces every user-facing sentence is made of, at the bottom of
the layers so that each layer words its messages the same way; the sentences
themselves (hints, notes) live in :mod:`tfmagic.hints`."""

from __future__ import annotations

import re

#: Starts every line tfmagic prints of its own accord.
PREFIX = 'tfmagic: '


def plural(count: int, noun: str, many: str | None = None) -> str:
    """``'1 variable'``, ``'3 variables'`` (``many`` for irregular plurals)."""
    return f"{count:,} {noun if count == 1 else many or noun + 's'}"


def human_bytes(nbytes: int) -> str:
    """``'812 bytes'``, ``'2.9 MB'``: decimal units, as file browsers show them."""
    if nbytes < 1000:
        return plural(nbytes, 'byte')
    size = float(nbytes)
    for unit in ('KB', 'MB', 'GB', 'TB'):
        size /= 1000
        if size < 1000 or unit == 'TB':
            break
    return f'{size:.1f} {unit}'


#: The line of a TensorFlow error message that says what went wrong
#: (``NOT_FOUND: /x; No such file or directory``), below the lines saying
#: where (``Graph execution error:``, ``Detected at node ...``, a stack).
_STATUS_LINE = re.compile(r'^[A-Z][A-Z_]+: \S')


def first_line(error: BaseException) -> str:
    """The line of an error's message that says what went wrong."""
    text = getattr(error, 'message', None) or str(error) or type(error).__name__
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    status = next((line for line in lines if _STATUS_LINE.match(line)), None)
    return status or lines[0]
