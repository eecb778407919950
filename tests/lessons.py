"""The lessons in notebooks/, executed once per test session.

``test_notebooks.py`` (the lessons run and teach what they say) and
``test_lesson_outputs.py`` (the committed outputs are current) both use the
``executed`` fixture defined here. Each notebook is executed at most once per
pytest session, whichever module asks first, in a fresh ``python3`` kernel
whose cwd is a temporary copy of notebooks/. A notebook with an exercise gets
its solution (from ``SOLUTIONS``) appended, with a copy of the cell tagged
``exercise-check`` after it; the committed cells come first and run exactly
as they do for a learner.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS_DIR = Path(__file__).resolve().parent.parent / 'notebooks'
NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob('*.ipynb'))

#: The answer to each lesson's exercise, appended before a second run of its check.
SOLUTIONS = {
    '01_creating_variables.ipynb': (
        "names = ['w', 'w_1', 'Variable', 'g']\n"
        "created_by = ['tf.Variable', 'tf.Variable', 'tf.Variable', 'get_variable']"),
    '02_scopes.ipynb': "names = ['net/inner/w', 'net/block/inner/v', 'net/block/inner/y']",
    '03_sharing.ipynb': "outcomes = ['created', 'shared', 'error', 'created', 'shared', 'created']",
    '04_save_restore.ipynb': (
        "answer = 'checkpoints/exercise/enc --map encoder=model/encoder --allow-missing'"),
}

#: What lessons leave in their folder (gitignored); not copied into the test's folder.
LESSON_OUTPUT_DIRS = ('checkpoints', 'logs', '.ipynb_checkpoints')

# TensorFlow's C++ start-up log, which ipykernel forwards to the first cell's
# stderr: timestamps and process ids, nothing a lesson teaches.
TF_LOG_LINE = re.compile(
    r'^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR'
    r'|[IWEF]\d{4} [\d:.]+\s+\d+ \S+:\d+\] .*'
    r'|To enable the following instructions: .* rebuild TensorFlow with the appropriate'
    r' compiler flags\.)$')


def execute(nb, cwd: Path, timeout: int = 120):
    """Run every cell of ``nb`` in a fresh kernel started in ``cwd``; raise on
    an error (except in cells tagged ``raises-exception``). Returns ``nb``
    with its outputs, TensorFlow's start-up log removed."""
    NotebookClient(nb, timeout=timeout, kernel_name='python3', record_timing=False,
                   resources={'metadata': {'path': str(cwd)}}).execute()
    for cell in nb.cells:
        if cell.cell_type == 'code':
            cell.outputs = [out for out in map(_without_tf_log, cell.outputs) if out]
    return nb


def _without_tf_log(output):
    if output.output_type == 'stream' and output.name == 'stderr':
        lines = [line for line in output.text.splitlines(keepends=True)
                 if not TF_LOG_LINE.match(line.rstrip('\n'))]
        if not lines:
            return None
        output.text = ''.join(lines)
    return output


def with_solution(nb, solution: str):
    """``nb`` plus the solution and a second run of its exercise check."""
    check = next(c for c in nb.cells if 'exercise-check' in c.metadata.get('tags', []))
    nb.cells += [nbformat.v4.new_code_cell(solution),
                 nbformat.v4.new_code_cell(check.source)]
    return nb


def text_of(cell) -> str:
    """What a code cell showed: its streams and the plain text of its results
    and errors, in order."""
    parts = []
    for out in cell.outputs:
        if out.output_type == 'stream':
            parts.append(out.text)
        elif out.output_type in ('execute_result', 'display_data'):
            parts.append(out.data.get('text/plain', ''))
        elif out.output_type == 'error':
            parts.append(f'{out.ename}: {out.evalue}')
    return ''.join(parts)


def tagged(nb, tag: str):
    """The one cell of ``nb`` carrying ``tag``."""
    cells = [c for c in nb.cells if tag in c.metadata.get('tags', [])]
    assert len(cells) == 1, f'{len(cells)} cells tagged {tag!r}'
    return cells[0]


class Lessons:
    """``executed(name)``: the notebook ``name`` executed (once per session)."""

    _cache: dict[str, object] = {}   # name -> executed notebook, or the error it raised
    workdir: Path | None = None      # the temporary copy of notebooks/ they ran in

    def __init__(self, tmp_path_factory):
        cls = type(self)
        if cls.workdir is None:
            workdir = tmp_path_factory.mktemp('lessons') / 'notebooks'
            shutil.copytree(NOTEBOOKS_DIR, workdir,
                            ignore=shutil.ignore_patterns(*LESSON_OUTPUT_DIRS))
            cls.workdir = workdir

    def __call__(self, name: str):
        cache = type(self)._cache
        if name not in cache:
            nb = nbformat.read(self.workdir / name, as_version=4)
            if name in SOLUTIONS:
                nb = with_solution(nb, SOLUTIONS[name])
            try:
                cache[name] = execute(nb, self.workdir)
            except Exception as err:  # fail every test of this notebook, run it once
                cache[name] = err
        result = cache[name]
        if isinstance(result, Exception):
            raise result
        return result


@pytest.fixture(scope='session')
def executed(tmp_path_factory) -> Lessons:
    """name -> the notebook executed in a temp copy of notebooks/, shared by
    every test module that imports this fixture (the cache is per process)."""
    return Lessons(tmp_path_factory)
