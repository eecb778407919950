"""A saved notebook shows the panel without a kernel: as the static snapshot
its output carries, which ``nbconvert --to html`` (and GitHub, nbviewer, an
untrusted notebook) shows in place of the widget, every name escaped.

The lessons are executed without storing widget state (``tests/lessons.py``):
with a state, nbconvert would pick the widget view and show no snapshot.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import nbformat
import pytest
import tensorflow as tf
from nbconvert import HTMLExporter

from tests.lessons import NOTEBOOKS_DIR, execute, lesson_02_panel_lines
from tfmagic import marks

pytestmark = pytest.mark.kernel

SNAPSHOT = re.compile(r'<div class="tfmagic-snapshot">.*?</div>', re.S)
LEGEND = f'</pre><p><small>{html.escape(marks.LEGEND)}</small></p></div>'
NOTE = '(a snapshot from when the panel was shown: run the cell to browse live)'


def to_html(notebook: Path) -> str:
    """The page ``jupyter nbconvert --to html`` makes of ``notebook`` (its
    exporter, here in this process: the command line would start a Python
    of its own, which costs seconds)."""
    page, _ = HTMLExporter().from_filename(str(notebook))
    return page


def no_widget_in(page: str) -> None:
    assert 'VariableBrowser(children' not in page
    assert 'application/vnd.jupyter.widget-view+json' not in page
    assert 'application/vnd.jupyter.widget-state+json' not in page


def test_the_saved_lesson_shows_the_snapshot_of_its_panel():
    """Lesson 2, as committed, converted to HTML: its panel is the tree with
    every scope open and the summary line, as text, and `b` (made by
    get_variable in a name_scope) at the top level, outside both scopes."""
    path = NOTEBOOKS_DIR / '02_scopes.ipynb'
    nb = nbformat.read(path, as_version=4)
    page = to_html(path)
    no_widget_in(page)
    [snapshot] = SNAPSHOT.findall(page)
    assert snapshot == (
        '<div class="tfmagic-snapshot"><p><b>8 variables in 4 scopes</b> '
        f'<i>{NOTE}</i></p><pre>'
        + html.escape('\n'.join(lesson_02_panel_lines(nb)))
        + LEGEND)
    # the lesson's text about it is on the page too
    assert 'is a snapshot of its tree, every scope open, as it was when the panel was shown' in page


def test_a_scope_name_in_the_snapshot_is_escaped(tmp_path):
    """A notebook whose scope and variable names look like HTML, executed
    and converted: the names are on the page as text (``&gt;``), never as
    markup. ``>`` is the one character HTML treats specially that TensorFlow
    lets into a name; it refuses ``<``, ``&`` and quotes (checked here, so
    that this test moves on to them if that changes)."""
    for refused in ('evil<img src=x onerror=alert(1)>', 'a&b', 'q"x', "q'x"):
        with tf.Graph().as_default(), pytest.raises(ValueError, match='not a valid'):
            with tf.compat.v1.variable_scope(refused):
                tf.compat.v1.get_variable('w', [1])
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell('%load_ext tfmagic\nimport tensorflow as tf'),
        nbformat.v4.new_code_cell(
            "with tf.compat.v1.variable_scope('evil>img'):\n"
            "    tf.compat.v1.get_variable('onerror>alert', [1])\n"
            '%tfpanel')])
    nb.metadata['kernelspec'] = {'name': 'python3', 'display_name': 'Python 3',
                                 'language': 'python'}
    execute(nb, tmp_path)
    path = tmp_path / 'evil.ipynb'
    nbformat.write(nb, path)
    page = to_html(path)
    no_widget_in(page)
    [snapshot] = SNAPSHOT.findall(page)
    assert snapshot == (
        '<div class="tfmagic-snapshot"><p><b>1 variable in 1 scope</b> '
        f'<i>{NOTE}</i></p><pre>'
        '▾ evil&gt;img/  1 variable\n'
        '│     onerror&gt;alert  [1]  float32  get_variable  cell 2' + LEGEND)
    assert 'evil>img' not in page and 'onerror>alert' not in page  # nowhere raw, code included
