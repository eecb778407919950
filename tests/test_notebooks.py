"""The lessons in notebooks/ run cleanly in a fresh kernel and teach what they say.

Each notebook is executed once per test session (see ``tests/lessons.py``)
with nbclient in a fresh ``python3`` kernel whose cwd is a temporary copy of
notebooks/; any error fails the test (a cell meant to fail carries the
``raises-exception`` tag). An exercise's solution, kept in
``lessons.SOLUTIONS``, is appended with a copy of the cell tagged
``exercise-check``, which must then print ``PASS``. The cells that teach
something carry a tag, and the tests below check what those cells showed.

To refresh the committed outputs after editing a lesson::

    .venv/bin/python tests/test_notebooks.py [notebooks/NAME.ipynb ...]
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

if __package__ in (None, ''):  # run as a script: make `tests` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import nbformat
import pytest

from tests.kernel import strip_ansi
from tests.lessons import (
    NOTEBOOKS,
    NOTEBOOKS_DIR,
    SOLUTIONS,
    TF_LOG_LINE,
    execute,
    executed,
    tagged,
    text_of,
)

pytestmark = pytest.mark.kernel

__all__ = ['executed']  # the shared session fixture, used below

# What must not show up in committed outputs: machine paths, memory addresses.
_UNSTABLE = re.compile(r'/work/|/tmp/|/home/|/root/|site-packages|\b0x[0-9a-f]{6,}')

WIDGET_VIEW = 'application/vnd.jupyter.widget-view+json'
WIDGET_STATE = 'application/vnd.jupyter.widget-state+json'

LESSONS = ['01_creating_variables.ipynb', '02_scopes.ipynb', '03_sharing.ipynb',
           '04_save_restore.ipynb']


def test_there_are_lessons():
    assert [p.name for p in NOTEBOOKS] == LESSONS
    assert sorted(SOLUTIONS) == LESSONS


@pytest.mark.parametrize('path', NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, executed):
    nb = executed(path.name)  # raises CellExecutionError on any unexpected error
    first = next(c for c in nb.cells if c.cell_type == 'code')
    assert first.source.splitlines()[:2] == ['%load_ext tfmagic', 'import tensorflow as tf']
    if path.name in SOLUTIONS:
        assert text_of(nb.cells[-1]).splitlines()[-1] == 'PASS', 'the solution does not pass'


@pytest.mark.parametrize('path', NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_committed_outputs_are_clean(path):
    """Committed with outputs, and those free of machine paths and addresses."""
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == 'code']
    assert all(c.execution_count is not None for c in code), 'run it and commit the outputs'
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1)), \
        'run it top to bottom in a fresh kernel'
    for cell in code:
        text = text_of(cell)
        assert not _UNSTABLE.search(text), text
        assert not TF_LOG_LINE.search(text), text
        for out in cell.outputs:
            if out.output_type == 'error':
                traceback = strip_ansi('\n'.join(out.traceback))
                assert not _UNSTABLE.search(traceback), traceback
        failing = 'raises-exception' in cell.metadata.get('tags', [])
        errors = [out for out in cell.outputs if out.output_type == 'error']
        assert len(errors) == failing, cell.source  # an error exactly where one is meant


@pytest.mark.parametrize('path', NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_committed_widgets_have_their_state(path):
    """A panel in a committed notebook is a widget view whose state is saved
    with the notebook, so a front end shows it without a kernel."""
    nb = nbformat.read(path, as_version=4)
    views = [out.data[WIDGET_VIEW]['model_id'] for cell in nb.cells if cell.cell_type == 'code'
             for out in cell.outputs if WIDGET_VIEW in out.get('data', {})]
    if views:
        state = nb.metadata['widgets'][WIDGET_STATE]['state']
        assert all(model_id in state for model_id in views)


# -- what the lessons teach --------------------------------------------------------


def error_of(cell):
    errors = [out for out in cell.outputs if out.output_type == 'error']
    assert len(errors) == 1, cell.source
    return errors[0]


def hint_of(cell) -> str:
    """tfmagic's hint: the first lines of the cell's error output, above
    TensorFlow's traceback."""
    return strip_ansi('\n'.join(error_of(cell).traceback))


def panel_labels(nb, cell) -> list[str]:
    """The rows of the scope tree of the panel ``cell`` displays, from the
    widget state nbclient saved (the panel as it was when the notebook ended)."""
    [view] = [out.data[WIDGET_VIEW]['model_id'] for out in cell.outputs
              if WIDGET_VIEW in out.get('data', {})]
    state = nb.metadata['widgets'][WIDGET_STATE]['state']

    def descendants(model_id):
        yield state[model_id]
        for child in state[model_id]['state'].get('children', []):
            yield from descendants(child.removeprefix('IPY_MODEL_'))
    selects = [m['state']['_options_labels'] for m in descendants(view)
               if m['model_name'] == 'SelectModel']
    return selects[0]  # the tree comes before the checkpoint list


def not_yet(nb, answer_words) -> str:
    """The placeholder answer is reported wrong, without giving the answer away."""
    check = text_of(tagged(nb, 'exercise-check')).splitlines()[-1]
    assert check.startswith('Not yet: ')
    for word in answer_words:
        assert word not in check
    return check


def test_lesson_01_teaches_the_names(executed):
    nb = executed('01_creating_variables.ipynb')
    assert text_of(tagged(nb, 'names')) == "['Variable:0', 'Variable_1:0', 'foo:0', 'foo_1:0']"
    assert text_of(tagged(nb, 'values')) == (
        'Variable:0 1\nVariable_1:0 2\nfoo:0 3\nfoo_1:0 4\n')
    assert text_of(tagged(nb, 'get-variable')) == "<tf.Variable 'var:0' shape=(1,) dtype=float32>"

    table = tagged(nb, 'vars')
    assert '<table' in table.outputs[0].data['text/html']
    created = {}  # name -> (created_by, created_in), from the table's text
    for line in text_of(table).splitlines():
        words = line.split()
        for by in ('tf.Variable', 'get_variable'):
            if by in words:
                created[words[1]] = (by, int(words[words.index(by) + 1]))
    number = tagged(nb, 'names').execution_count
    assert created == {
        'Variable': ('tf.Variable', number), 'Variable_1': ('tf.Variable', number),
        'foo': ('tf.Variable', number), 'foo_1': ('tf.Variable', number),
        'var': ('get_variable', tagged(nb, 'get-variable').execution_count)}

    first, again = tagged(nb, 'rerun-first'), tagged(nb, 'rerun-again')
    assert first.source == again.source and text_of(first) == ''
    assert (f'this cell ran before (In [{first.execution_count}]) and created bias; '
            'running it again created bias_1 beside it') in text_of(again)

    assert text_of(tagged(nb, 'tfreset')).startswith('tfmagic: new graph and session;')
    assert text_of(tagged(nb, 'after-reset')) == "'Variable:0'"
    check = not_yet(nb, ["'w'"])
    assert check.startswith('Not yet: a is not named')


def test_lesson_02_teaches_which_names_get_the_prefix(executed):
    nb = executed('02_scopes.ipynb')
    assert text_of(tagged(nb, 'scoping')) == (
        'scope_vars\n  scope_vars/a:0\n  scope_vars/b:0\n  scope_vars/c:0\n  scope_vars/res/res:0\n'
        'scope_name\n  scope_name/a:0\n  b:0\n  scope_name/c:0\n  scope_name/res/res:0\n')
    assert text_of(tagged(nb, 'run')) == 'd1 = 5  d2 = 5\n'
    assert text_of(tagged(nb, 'tfscope-variable')) == (
        "['encoder/w:0', 'encoder/steps:0', 'encoder/y:0']")
    assert text_of(tagged(nb, 'tfscope-name')) == "['k:0', 'block/m:0', 'block/z:0']"

    scopes = {}  # name -> (scope, created_by), from the table's text
    for line in text_of(tagged(nb, 'vars')).splitlines()[1:]:
        words = line.split()
        scopes[words[1]] = ('', words[2]) if len(words) == 4 else (words[2], words[3])
    assert scopes == {
        'b': ('', 'get_variable'), 'k': ('', 'get_variable'),
        'block/m': ('block', 'tf.Variable'),
        'encoder/steps': ('encoder', 'tf.Variable'), 'encoder/w': ('encoder', 'get_variable'),
        'scope_name/a': ('scope_name', 'tf.Variable'),
        'scope_vars/a': ('scope_vars', 'tf.Variable'),
        'scope_vars/b': ('scope_vars', 'get_variable')}

    # the panel: scopes opened from code, b outside scope_name, marks for tf.Variable
    cell = tagged(nb, 'scoping').execution_count
    labels = panel_labels(nb, tagged(nb, 'panel'))
    assert labels == [
        '▸ block/  (1)', '▸ encoder/  (2)',
        '▾ scope_name/  (1)', f'  ⊘ a  [] int32  tf.Variable [{cell}]',
        '▾ scope_vars/  (2)', f'  ⊘ a  [] int32  tf.Variable [{cell}]',
        f'    b  [] int32  get_variable [{cell}]',
        f'  b  [] int32  get_variable [{cell}]',
        f"  k  [1] float32  get_variable [{tagged(nb, 'tfscope-name').execution_count}]"]

    # TensorBoard's files, and the graph read back from them
    assert text_of(tagged(nb, 'filewriter')) == (
        '1 file in logs/: events.out.tfevents.<time>.<computer>...\n')
    events = list((executed.workdir / 'logs').iterdir())
    assert len(events) == 1 and events[0].name.startswith('events.out.tfevents.')
    boxes = {line.split()[0]: line.split()[1:]
             for line in text_of(tagged(nb, 'tensorboard-boxes')).splitlines()}
    assert boxes['scope_vars/'] == ['a', 'b', 'c', 'res']
    assert boxes['scope_name/'] == ['a', 'c', 'res']
    assert boxes['block/'] == ['m', 'z'] and boxes['encoder/'] == ['steps', 'w', 'y']
    assert 'Read' in boxes['b/'] and 'Read' in boxes['k/']

    not_yet(nb, ['net/inner/w', 'net/block'])


def test_lesson_03_teaches_sharing_and_its_errors(executed):
    nb = executed('03_sharing.ipynb')
    dense = tagged(nb, 'dense').execution_count
    assert text_of(tagged(nb, 'dense')) == "['tower/kernel:0', 'tower/bias:0']"

    # error 1, with tfmagic's hint on top of it
    cell = tagged(nb, 'already-exists')
    error = error_of(cell)
    assert error.ename == 'ValueError'
    assert error.evalue.startswith('Variable tower/kernel already exists, disallowed.')
    assert hint_of(cell).startswith(
        f'tfmagic: tower/kernel already exists: get_variable created it in cell [{dense}].\n'
        '  To share it, run the cell with %%tfscope tower --reuse')

    assert text_of(tagged(nb, 'reuse-true')) == (
        "[<tf.Variable 'tower/kernel:0' shape=(2, 3) dtype=float32>,\n"
        " <tf.Variable 'tower/bias:0' shape=(3,) dtype=float32>]")
    assert text_of(tagged(nb, 'shared-values')) == (
        'before: [[1.5 1.5 1.5]] [[3.5 3.5 3.5]]\nafter:  [[3. 3. 3.]] [[7. 7. 7.]]\n')
    assert text_of(tagged(nb, 'tfscope-reuse')) == 'True'

    # error 2: a name that does not exist
    cell = tagged(nb, 'does-not-exist')
    error = error_of(cell)
    assert (error.ename, error.evalue.split('. ')[0]) == (
        'ValueError',
        'Variable tower/scale does not exist, or was not created with tf.get_variable()')
    assert hint_of(cell).startswith(
        'tfmagic: No variable named tower/scale exists; with reuse=True, '
        'get_variable only returns existing ones.')
    assert '  Similar names in the graph: tower/bias, tower/kernel.\n' in hint_of(cell)

    assert text_of(tagged(nb, 'auto-reuse')) == "['tower/scale:0', True]"
    first, again = tagged(nb, 'auto-first'), tagged(nb, 'auto-again')
    assert first.source == again.source and text_of(first) == text_of(again) == ''

    # error 2 for a tf.Variable: it exists, but get_variable cannot return it
    counter = tagged(nb, 'counter').execution_count
    cell = tagged(nb, 'not-reusable')
    assert error_of(cell).evalue.startswith(
        'Variable stats/count does not exist, or was not created')
    assert hint_of(cell).startswith(
        f'tfmagic: stats/count exists, but tf.Variable created it in cell [{counter}], '
        'so get_variable can never return it.')
    assert text_of(tagged(nb, 'variable-in-reuse')) == "['stats_2/count:0', False]"

    # %vars: reuses, reused_in, reuse_status
    row = re.compile(r'^\d+\s+(\S+)\s+(get_variable|tf\.Variable)\s+(\d+)\s+(\d+)\s+'
                     r'\[([\d, ]*)\]\s+(.+?)\s*$')
    rows = {}
    for line in text_of(tagged(nb, 'vars')).splitlines()[1:]:
        name, by, created_in, reuses, reused_in, status = row.match(line).groups()
        rows[name] = (by, int(created_in), int(reuses),
                      [int(n) for n in reused_in.split(',') if n.strip()], status)
    cells = {tag: tagged(nb, tag).execution_count
             for tag in ('reuse-true', 'tfscope-reuse', 'auto-reuse', 'auto-first', 'auto-again',
                         'variable-in-reuse')}
    assert rows == {
        'tower/kernel': ('get_variable', dense, 5,
                         [cells['reuse-true'], cells['tfscope-reuse'], cells['auto-reuse']],
                         'reused'),
        'tower/bias': ('get_variable', dense, 2,
                       [cells['reuse-true'], cells['tfscope-reuse']], 'reused'),
        'tower/scale': ('get_variable', cells['auto-reuse'], 0, [], 'not reused'),
        'head/kernel': ('get_variable', cells['auto-first'], 1, [cells['auto-again']], 'reused'),
        'head/bias': ('get_variable', cells['auto-first'], 1, [cells['auto-again']], 'reused'),
        'stats/count': ('tf.Variable', counter, 0, [], 'not reusable'),
        'stats_2/count': ('tf.Variable', cells['variable-in-reuse'], 0, [], 'not reusable')}

    # the panel: ↻ and ×N for shared variables, ⊘ for tf.Variables
    labels = panel_labels(nb, tagged(nb, 'panel'))
    assert f'  ↻ kernel  [2, 3] float32  get_variable [{dense}] ×5' in labels
    assert f'  ↻ bias  [3] float32  get_variable [{dense}] ×2' in labels
    assert '▸ stats/  (1)' in labels and '▸ stats_2/  (1)' in labels

    not_yet(nb, ['created', 'shared', 'error'])


def test_lesson_04_teaches_checkpoints(executed):
    nb = executed('04_save_restore.ipynb')
    assert re.fullmatch(r'Saved 2 variables \([\d.]+ KB\) to checkpoints/model-1\.\n',
                        text_of(tagged(nb, 'save')))
    files = dict(line.split()[:2] for line in text_of(tagged(nb, 'files')).splitlines())
    assert sorted(files) == [
        'checkpoint', 'model-1.data-00000-of-00001', 'model-1.index', 'model-1.meta']
    assert files['model-1.data-00000-of-00001'] == '24'  # six float32 values
    assert re.fullmatch(
        r'model_checkpoint_path: "model-1"\nall_model_checkpoint_paths: "model-1"\n'
        r'all_model_checkpoint_timestamps: \d+(\.0)?\n', text_of(tagged(nb, 'state-file')))
    assert text_of(tagged(nb, 'latest')) == "'checkpoints/model-1'"
    assert [line.split() for line in text_of(tagged(nb, 'ckpts')).splitlines()] == [
        ['prefix', 'step', 'variables', 'latest'],
        ['0', 'checkpoints/model-1', '1', '2', 'False'],
        ['1', 'checkpoints/model-2', '2', '2', 'True']]
    assert 'saved_at' not in text_of(tagged(nb, 'ckpts'))  # a time: left out of the lesson
    assert [line.split()[-1] for line in text_of(tagged(nb, 'inspect')).splitlines()[1:]] == [
        'match', 'match']
    assert [line.split() for line in text_of(tagged(nb, 'inspect-stats')).splitlines()] == [
        ['name', 'shape', 'dtype', 'status', 'size', 'nbytes', 'min', 'max', 'mean', 'std'],
        ['0', 'model/b', '(2,)', 'float32', 'match', '2', '8', '-0.25', '0.25', '0.00', '0.250000'],
        ['1', 'model/w', '(2,', '2)', 'float32', 'match', '4', '16', '0.50', '2.00', '1.25',
         '0.559017']]
    assert text_of(tagged(nb, 'reader')) == 'array([ 0.25, -0.25], dtype=float32)'

    # restored into a fresh graph: the values of step 2, exactly
    assert text_of(tagged(nb, 'reset')) == 'tfmagic: new graph and session; 2 variables dropped.\n'
    assert text_of(tagged(nb, 'fresh-values')) == '[[1. 2.]\n [3. 4.]]\n[0. 0.]\n'
    assert text_of(tagged(nb, 'restore')) == 'Restored 2 variables from checkpoints/model-2.\n'
    assert text_of(tagged(nb, 'restored-values')) == '[[1.5 2. ]\n [2.5 3. ]]\n[ 0.25 -0.25]\nTrue'

    # renamed scopes: refused with every problem listed, then --map
    assert [' '.join(line.split()[1:]) for line in
            text_of(tagged(nb, 'inspect-renamed')).splitlines()[1:]] == [
        'model/b (2,) float32 missing in graph', 'model/w (2, 2) float32 missing in graph',
        'net/b (2,) float32 missing in checkpoint', 'net/w (2, 2) float32 missing in checkpoint']
    error = error_of(tagged(nb, 'mismatch'))
    assert error.ename == 'CheckpointError'
    assert error.evalue.splitlines() == [
        'checkpoints/model-2 does not fit the graph; nothing was restored:',
        '  model/b: missing in graph', '  model/w: missing in graph',
        '  net/b: missing in checkpoint', '  net/w: missing in checkpoint',
        'Rename with --map OLD=NEW (checkpoint scope = graph scope), or restore the '
        'matching variables only with --allow-missing.']
    assert text_of(tagged(nb, 'map')) == 'Restored 2 variables from checkpoints/model-2.\n'
    assert text_of(tagged(nb, 'map-values')) == 'True'
    assert text_of(tagged(nb, 'allow-missing')) == (
        'Restored 2 variables from checkpoints/model-2. '
        'Skipped 1: head/w: missing in checkpoint.\n')
    assert text_of(tagged(nb, 'head-values')) == '[[0.1]\n [0.2]]\n'

    # the files on disk: the four of each checkpoint, the state file, the exercise's
    folder = executed.workdir / 'checkpoints'
    assert sorted(p.name for p in folder.iterdir()) == [
        'checkpoint', 'exercise',
        'model-1.data-00000-of-00001', 'model-1.index', 'model-1.meta',
        'model-2.data-00000-of-00001', 'model-2.index', 'model-2.meta']
    assert sorted(p.name for p in (folder / 'exercise').iterdir()) == [
        'checkpoint', 'enc.data-00000-of-00001', 'enc.index', 'enc.meta']

    check = not_yet(nb, ['--map', 'encoder=', '--allow-missing'])
    assert check == "Not yet: %restoreckpt ? failed: no checkpoint at '?': ?.index does not exist"


def main(paths: list[str]) -> None:
    """Execute the given notebooks (default: all) in notebooks/ and save them."""
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')  # as in the tests (conftest.py)
    for path in map(Path, paths) if paths else NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        execute(nb, NOTEBOOKS_DIR)
        nbformat.write(nb, path)
        print(f'executed {path}')


if __name__ == '__main__':
    main(sys.argv[1:])
