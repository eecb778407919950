"""The small pieces every user-facing sentence is made of, at the bottom of
the layers so that each layer words its messages the same way; the sentences
themselves (hints, notes) live in :mod:`tfmagic.hints`."""

from __future__ import annotations

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
