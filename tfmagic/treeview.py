"""The scope tree of ``%tfpanel``: a small anywidget (``static/tree.js``) that
draws the rows it is given and reports the selection and opened scopes.

A ``<select>`` cannot do what a tree must: keep the clicked row in place when
its children appear, open and close scopes with the arrow keys, keep the
notebook's shortcuts out while it has focus, and show the full text of a cut
row on hover. Its rows are plain data (:class:`TreeRow`), built by
:mod:`tfmagic.panel`; it holds no knowledge of variables.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from typing import Any, Literal, TypedDict

import anywidget
import traitlets

RowKind = Literal['scope', 'variable', 'slot', 'optimizer', 'more']


class TreeRow(TypedDict, total=False):
    """One visible row. ``cols`` are ``(css name, text, hover text)``."""

    key: str
    depth: int
    kind: RowKind
    open: bool
    mark: str
    mark_title: str
    name: str
    cols: list[tuple[str, str, str]]
    title: str


def row_text(row: TreeRow) -> str:
    """The row as the page shows it, as one line of text (the twisty of a
    scope, then the mark, name and columns, two spaces apart)."""
    twisty = ('▾ ' if row.get('open') else '▸ ') if row['kind'] == 'scope' else ''
    mark = f"{row.get('mark') or ' '} " if row['kind'] != 'scope' else ''
    return '  '.join([twisty + mark + row['name']] + [text for _, text, _ in row.get('cols', [])])


def _static(name: str) -> str:
    return resources.files('tfmagic').joinpath('static').joinpath(name).read_text(encoding='utf-8')


class TreeView(anywidget.AnyWidget):
    """Rows in, selection and open/close requests out."""

    _esm = _static('tree.js')
    _css = _static('tree.css')

    rows: traitlets.List[TreeRow] = traitlets.List(  # type: ignore[assignment]
        trait=traitlets.Dict(), default_value=[]).tag(sync=True)
    #: The key of the selected row, whichever its kind.
    selected = traitlets.Unicode(None, allow_none=True).tag(sync=True)
    #: How many rows tall the tree is.
    height_rows = traitlets.Int(18).tag(sync=True)

    def __init__(self, on_toggle: Callable[[str, bool], None], **kwargs: Any):
        super().__init__(**kwargs)
        self._on_toggle = on_toggle
        self.on_msg(self._handle_message)

    def _handle_message(self, _: Any, content: dict[str, Any], buffers: list[Any]) -> None:
        if (isinstance(content, dict) and content.get('event') == 'toggle'
                and isinstance(content.get('key'), str)):
            self._on_toggle(content['key'], bool(content.get('open')))

    def texts(self) -> list[str]:
        """Every row as one line of text, as :func:`row_text` writes it."""
        return [row_text(row) for row in self.rows]
