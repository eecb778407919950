"""The committed outputs of the lessons are current.

Each notebook, executed once per session in a fresh kernel (the shared
``executed`` fixture of ``tests/lessons.py``), must show what its committed
copy shows: the same stream text, the same plain text of every result and
display, the same errors (``ename`` and ``evalue``), in the same cells with the
same execution counts. What legitimately changes from run to run is
normalized first: memory addresses, absolute paths, timestamps and timings;
a panel by the snapshot of its tree its output carries (its plain text),
not by its widget's id.
The lessons use constant initializers, so no value is random.

When this fails after a change to a lesson or to tfmagic, re-execute the
notebook and commit it::

    .venv/bin/python tests/test_notebooks.py notebooks/NAME.ipynb
"""

from __future__ import annotations

import difflib
import re

import nbformat
import pytest

from tests.lessons import NOTEBOOKS, executed

pytestmark = pytest.mark.kernel

__all__ = ['executed']  # the shared session fixture, used below

_NORMALIZE = [
    (re.compile(r'\b0x[0-9a-fA-F]+\b'), '0x…'),
    # an absolute path: a '/' that starts a word, then at least two parts (a
    # sentence's full stop after it is not part of it)
    (re.compile(r'(?<![\w.~/-])(?:/[\w.@+~-]*[\w@+~-]){2,}'), '<path>'),
    (re.compile(r'\b[A-Z]:\\(?:[\w.@+~ -]+\\)*[\w.@+~-]*'), '<path>'),
    (re.compile(r'\b\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?'),
     '<time>'),
    (re.compile(r'tfevents\.\d+(?:\.[\w.-]+)?'), 'tfevents.<time>'),
    # when each checkpoint was saved, in the state file (seconds since 1970)
    (re.compile(r'(?m)^(all_model_checkpoint_timestamps|last_preserved_timestamp): [\d.e+]+$'),
     r'\1: <time>'),
    (re.compile(r'(?m)^(CPU times|Wall time):.*$'), r'\1: <timing>'),
    (re.compile(r'\b\d+(?:\.\d+)? ?(?:ns|µs|us|ms)\b'), '<timing>'),
    # a local cluster's free ports and its tasks' process ids (lesson 05)
    (re.compile(r'\b127\.0\.0\.1:\d+'), '127.0.0.1:<port>'),
    (re.compile(r'\bpids \d+(?:, \d+)*'), 'pids <pids>'),
]


def normalize(text: str) -> str:
    for pattern, replacement in _NORMALIZE:
        text = pattern.sub(replacement, text)
    return text


def shown(cell) -> list[tuple]:
    """What a code cell showed, comparable across runs: consecutive stream
    outputs joined (a kernel may split them anywhere), results by their plain
    text (a panel's: the snapshot of its tree) and the kinds of data they
    carry, errors by ename and evalue."""
    items: list[tuple] = []
    for out in cell.outputs:
        kind = out.output_type
        if kind == 'stream':
            if items and items[-1][:2] == ('stream', out.name):
                items[-1] = ('stream', out.name, items[-1][2] + out.text)
            else:
                items.append(('stream', out.name, out.text))
        elif kind in ('execute_result', 'display_data'):
            items.append((kind, ' '.join(sorted(out.data)), out.data.get('text/plain', '')))
        elif kind == 'error':
            items.append(('error', out.ename, out.evalue))
    return [tuple(normalize(part) for part in item) for item in items]


def describe(items: list[tuple]) -> list[str]:
    lines = []
    for item in items:
        lines.append(f'--- {item[0]} {item[1]}')
        lines.extend(item[2].splitlines())
    return lines


@pytest.mark.parametrize('path', NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_committed_outputs_are_current(path, executed):
    committed = nbformat.read(path, as_version=4)
    fresh = executed(path.name)
    # the executed copy may have the exercise's solution appended after these
    assert [c.source for c in fresh.cells[:len(committed.cells)]] == \
        [c.source for c in committed.cells]
    stale = []
    # not strict: the executed copy may have more cells (the solution appended, above)
    for old, new in zip(committed.cells, fresh.cells, strict=False):
        if old.cell_type != 'code':
            continue
        if old.execution_count != new.execution_count or shown(old) != shown(new):
            diff = difflib.unified_diff(
                describe(shown(old)), describe(shown(new)),
                f'committed In [{old.execution_count}]', f'now In [{new.execution_count}]',
                lineterm='')
            stale.append(f'{old.source}\n' + '\n'.join(diff))
    if stale:
        pytest.fail(f'{path.name}: outputs differ from a fresh run; re-run '
                    f'`.venv/bin/python tests/test_notebooks.py notebooks/{path.name}`:\n\n'
                    + '\n\n'.join(stale), pytrace=False)


@pytest.mark.parametrize('text, expected', [
    ('<tensorflow.python.client.session.Session object at 0x7f3a2b1c9d00>',
     '<tensorflow.python.client.session.Session object at 0x…>'),
    ('File /work/main/.venv/lib/python3.11/site-packages/tensorflow/x.py:27: deprecated',
     'File <path>:27: deprecated'),
    ("saved to /tmp/pytest-of-root/pytest-3/lessons0/notebooks/checkpoints/model-1.",
     'saved to <path>.'),
    ('C:\\Users\\me\\notebooks\\checkpoints', '<path>'),
    ('saved_at 2025-11-27 03:41:07', 'saved_at <time>'),
    ('events.out.tfevents.1764214867.myhost.12345.0', 'events.out.tfevents.<time>'),
    ('CPU times: user 3 ms, sys: 1 ms\nWall time: 2.5 s',
     'CPU times: <timing>\nWall time: <timing>'),
    ('took 12.5 ms', 'took <timing>'),
    # what lessons print stays as it is: names, relative paths, values, sizes
    ("checkpoints/model-2 --map model=net: scope_vars/res/res:0 [[1.5 2. ]] (5.6 KB) 1/2",
     "checkpoints/model-2 --map model=net: scope_vars/res/res:0 [[1.5 2. ]] (5.6 KB) 1/2"),
])
def test_normalize(text, expected):
    assert normalize(text) == expected
