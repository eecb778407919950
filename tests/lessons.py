"""The lessons in notebooks/, executed once per test session.

``test_notebooks.py`` (the lessons run and teach what they say) and
``test_lesson_outputs.py`` (the committed outputs are current) both use the
``executed`` fixture defined here. Each notebook is executed at most once per
pytest session, whichever module asks first, in a fresh ``python3`` kernel
whose cwd is a temporary copy of notebooks/. A notebook with an exercise gets
its solution (from ``SOLUTIONS``) appended, with a copy of the cell tagged
``exercise-check`` after it; the committed cells come first and run exactly
as they do for a learner. ``test_notebooks.py``'s ``main`` executes the
committed lessons the same way (:func:`execute`): no ``TF_CPP_MIN_LOG_LEVEL``
in the kernel's environment (:func:`kernel_env`), no widget state stored.
"""

from __future__ import annotations

import os
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
    '05_cluster.ipynb': 'tasks = [0, 1, 2, 0, 1, 2, 2]',
    '06_tf2_keras.ipynb': (
        "answers = ['net/encoder/proj/kernel', 'sgd/net_head_bias_momentum', 'net/head/bias', "
        "'sgd/iteration']"),
}

#: What lessons leave in their folder (gitignored); not copied into the test's folder.
LESSON_OUTPUT_DIRS = ('checkpoints', 'logs', '.ipynb_checkpoints')

#: What TensorFlow logs when it starts (oneDNN, cpu_feature_guard, absl's
#: banner), which tfmagic keeps out of the notebook: no lesson output may show it.
TF_STARTUP_LOG = ('oneDNN', 'cpu_feature_guard', 'InitializeLog')

#: Left out of a lesson kernel's environment: conftest.py sets the first for
#: the tests; pytest sets the second while a test runs, and ipykernel then
#: forwards nothing written to file descriptors 1 and 2 (C++ logs) to the cells.
NOT_IN_KERNEL_ENV = ('TF_CPP_MIN_LOG_LEVEL', 'PYTEST_CURRENT_TEST')


def kernel_env() -> dict[str, str]:
    """The environment of a lesson's kernel: this process's, without
    :data:`NOT_IN_KERNEL_ENV`, so that a lesson runs as for a learner who
    never set a log level, under pytest as from ``main``, and its outputs
    show whatever TensorFlow writes that tfmagic does not keep out."""
    return {name: value for name, value in os.environ.items() if name not in NOT_IN_KERNEL_ENV}


def execute(nb, cwd: Path, timeout: int = 120):
    """Run every cell of ``nb`` in a fresh kernel started in ``cwd`` (with
    :func:`kernel_env`); raise on an error (except in cells tagged
    ``raises-exception``). Returns ``nb`` with its outputs, consecutive
    stream outputs joined (a kernel splits them anywhere, differently from
    run to run), without widget state: a saved lesson's panel is the static
    snapshot in its output (a stored state would make nbconvert show the
    widget view instead)."""
    NotebookClient(nb, timeout=timeout, kernel_name='python3', record_timing=False,
                   store_widget_state=False,
                   resources={'metadata': {'path': str(cwd)}}).execute(env=kernel_env())
    nb.metadata.pop('widgets', None)  # a state an earlier run stored
    for cell in nb.cells:
        if cell.cell_type == 'code':
            cell.outputs = _streams_joined(cell.outputs)
    return nb


def _streams_joined(outputs: list) -> list:
    joined: list = []
    for out in outputs:
        last = joined[-1] if joined else None
        if (out.output_type == 'stream' and last is not None
                and last.output_type == 'stream' and last.name == out.name):
            last.text += out.text
        else:
            joined.append(out)
    return joined


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


def lesson_02_panel_lines(nb) -> list[str]:
    """The tree lines of lesson 02's panel snapshot: every scope open, ``b``
    (made by get_variable in a name scope) at the top level, outside both
    of the article's scopes; marks for tf.Variable."""
    cell, enc, name = (tagged(nb, tag).execution_count
                       for tag in ('scoping', 'tfscope-variable', 'tfscope-name'))
    return [
        '▾ block/  1 variable',
        f'│   ⊘ m  []  float32  tf.Variable  cell {name}',
        '▾ encoder/  2 variables',
        f'│   ⊘ steps  []  int32  tf.Variable  cell {enc}',
        f'│     w  [2]  float32  get_variable  cell {enc}',
        '▾ scope_name/  1 variable',
        f'│   ⊘ a  []  int32  tf.Variable  cell {cell}',
        '▾ scope_vars/  2 variables',
        f'│   ⊘ a  []  int32  tf.Variable  cell {cell}',
        f'│     b  []  int32  get_variable  cell {cell}',
        f'  b  []  int32  get_variable  cell {cell}',
        f'  k  [1]  float32  get_variable  cell {name}']
