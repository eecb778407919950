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

import html
import json
import re
import sys
import xml.etree.ElementTree as ET
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
    TF_STARTUP_LOG,
    execute,
    executed,
    lesson_02_panel_lines,
    tagged,
    text_of,
)
from tfmagic import marks

pytestmark = pytest.mark.kernel

__all__ = ['executed']  # the shared session fixture, used below

# What must not show up in committed outputs: machine paths, memory addresses.
_UNSTABLE = re.compile(r'/work/|/tmp/|/home/|/root/|site-packages|\b0x[0-9a-f]{6,}')

WIDGET_VIEW = 'application/vnd.jupyter.widget-view+json'

#: The static picture a panel's output carries (``VariableBrowser._repr_mimebundle_``).
SNAPSHOT_HTML = re.compile(r'<div class="tfmagic-snapshot"><p><b>(.*?)</b> <i>\((.*?)\)</i></p>'
                           r'<pre>(.*)</pre><p><small>(.*?)</small></p></div>', re.S)
SNAPSHOT_SUMMARY = re.compile(
    r'\d+ variables?(?: \(\d+ optimizer state\))? in \d+ scopes? '
    r'\(a snapshot from when the panel was shown: run the cell to browse live\)')

LESSONS = ['01_creating_variables.ipynb', '02_scopes.ipynb', '03_sharing.ipynb',
           '04_save_restore.ipynb', '05_cluster.ipynb', '06_tf2_keras.ipynb']


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
        for out in cell.outputs:
            if out.output_type == 'error':
                traceback = strip_ansi('\n'.join(out.traceback))
                assert not _UNSTABLE.search(traceback), traceback
        failing = 'raises-exception' in cell.metadata.get('tags', [])
        errors = [out for out in cell.outputs if out.output_type == 'error']
        assert len(errors) == failing, cell.source  # an error exactly where one is meant


def startup_log_in(nb) -> list[str]:
    """The outputs of ``nb`` that show TensorFlow's start-up log."""
    found = []
    for cell in nb.cells:
        for out in cell.get('outputs', []):
            text = json.dumps(out, ensure_ascii=False)
            found += [f'{cell.source!r}: {word}' for word in TF_STARTUP_LOG if word in text]
    return found


@pytest.mark.parametrize('path', NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_no_tensorflow_startup_log_in_lessons(path, executed):
    """tfmagic keeps TensorFlow's start-up log (oneDNN, cpu_feature_guard,
    absl's InitializeLog banner) out of the notebook: neither the committed
    copy nor a fresh run shows it, their kernels started without
    ``TF_CPP_MIN_LOG_LEVEL`` (``lessons.kernel_env``)."""
    assert startup_log_in(nbformat.read(path, as_version=4)) == []
    assert startup_log_in(executed(path.name)) == []


@pytest.mark.parametrize('path', NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_committed_panels_carry_their_snapshot(path):
    """A panel in a committed lesson carries a static snapshot of its tree,
    in HTML and in plain text, which whatever shows the notebook without a
    kernel shows; no widget state is stored (nbconvert would show the widget
    view instead of the snapshot)."""
    nb = nbformat.read(path, as_version=4)
    assert 'widgets' not in nb.metadata
    panels = [cell for cell in nb.cells if 'panel' in cell.metadata.get('tags', [])]
    outputs = [out.data for cell in nb.cells if cell.cell_type == 'code'
               for out in cell.outputs if WIDGET_VIEW in out.get('data', {})]
    assert len(outputs) == len(panels)
    for data in outputs:
        plain = data['text/plain']
        assert 'VariableBrowser(children' not in plain
        summary, *rows, legend = plain.splitlines()
        assert SNAPSHOT_SUMMARY.fullmatch(summary), summary
        assert rows, 'an empty tree'
        assert legend == marks.LEGEND
        snapshot = SNAPSHOT_HTML.fullmatch(data['text/html'])
        assert snapshot, data['text/html']
        bold, note, pre, small = map(html.unescape, snapshot.groups())
        assert f'{bold} ({note})' == summary and small == legend
        assert pre.splitlines() == rows


# -- what the lessons teach --------------------------------------------------------


def error_of(cell):
    errors = [out for out in cell.outputs if out.output_type == 'error']
    assert len(errors) == 1, cell.source
    return errors[0]


def hint_of(cell) -> str:
    """tfmagic's hint: the first lines of the cell's error output, above
    TensorFlow's traceback."""
    return strip_ansi('\n'.join(error_of(cell).traceback))


def panel_labels(cell) -> list[str]:
    """The rows of the scope tree of the panel ``cell`` displays, from the
    snapshot in its output (the tree as it was when the panel was shown,
    every scope open, a guide per level), without the legend that ends it."""
    [data] = [out.data for out in cell.outputs if WIDGET_VIEW in out.get('data', {})]
    *tree, legend = data['text/plain'].splitlines()[1:]  # under the summary line
    assert legend == marks.LEGEND
    return tree


_SVG = '{http://www.w3.org/2000/svg}'


def picture_boxes(svg: str) -> dict[str, list[str]]:
    """What each box of a ``%tfgraph`` picture holds, by where it is drawn:
    box label (``''`` for the top level) -> the first line of each node
    whose label lies inside the box's outline (the innermost box)."""
    def texts(group):
        return [t.text for t in group.iter(_SVG + 'text')]

    boxes = []
    found: dict[str, list[str]] = {'': []}
    for group in ET.fromstring(svg).iter(_SVG + 'g'):
        kinds = group.get('class', '').split()
        if 'cluster' in kinds:
            outline = next(group.iter(_SVG + 'path'), None)  # a rounded box; else a polygon
            numbers = [float(n) for n in re.findall(r'-?\d+(?:\.\d+)?', (
                outline.get('d') if outline is not None
                else next(group.iter(_SVG + 'polygon')).get('points')))]
            xs, ys = numbers[0::2], numbers[1::2]
            boxes.append((texts(group)[0], min(xs), max(xs), min(ys), max(ys)))
            found[texts(group)[0]] = []
    for group in ET.fromstring(svg).iter(_SVG + 'g'):
        if 'node' in group.get('class', '').split():
            first = next(group.iter(_SVG + 'text'))
            x, y = float(first.get('x')), float(first.get('y'))
            inside = [b for b in boxes if b[1] <= x <= b[2] and b[3] <= y <= b[4]]
            label = min(inside, key=lambda b: (b[2] - b[1]) * (b[4] - b[3]))[0] if inside else ''
            found[label].append(first.text)
    return {label: sorted(nodes) for label, nodes in found.items()}


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

    # the panel's snapshot: b at the top level, outside scope_name/ and scope_vars/
    assert panel_labels(tagged(nb, 'panel')) == lesson_02_panel_lines(nb)

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

    # %tfgraph's picture of the article's example: what each box holds
    graph_cell = tagged(nb, 'tfgraph')
    [picture] = [out for out in graph_cell.outputs if 'image/svg+xml' in out.get('data', {})]
    assert picture_boxes(picture.data['image/svg+xml']) == {
        'scope_vars/': ['b', 'c', 'res/', '⊘ a'],
        'scope_name/': ['c', 'res/', '⊘ a'],
        '': ['b']}
    assert picture.data['text/plain'] == (
        '<%tfgraph: 2 open scopes, 2 closed scopes, 4 variables, 2 op nodes, 6 edges>')

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

    # the panel's snapshot: ↻ and shared ×N for shared variables, ⊘ for tf.Variables
    assert panel_labels(tagged(nb, 'panel')) == [
        '▾ head/  2 variables',
        f"│   ↻ bias  [2]  float32  get_variable  cell {cells['auto-first']}  shared ×1",
        f"│   ↻ kernel  [3, 2]  float32  get_variable  cell {cells['auto-first']}  shared ×1",
        '▾ stats/  1 variable',
        f'│   ⊘ count  []  int32  tf.Variable  cell {counter}',
        '▾ stats_2/  1 variable',
        f"│   ⊘ count  []  int32  tf.Variable  cell {cells['variable-in-reuse']}",
        '▾ tower/  3 variables',
        f'│   ↻ bias  [3]  float32  get_variable  cell {dense}  shared ×2',
        f'│   ↻ kernel  [2, 3]  float32  get_variable  cell {dense}  shared ×5',
        f"│     scale  [3]  float32  get_variable  cell {cells['auto-reuse']}"]

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


def test_lesson_05_teaches_variables_on_a_cluster(executed):
    nb = executed('05_cluster.ipynb')
    # ports and pids are new on every run
    assert re.fullmatch(
        r'tfmagic: now on grpc://127\.0\.0\.1:\d+ with a cluster of 2 ps tasks, 1 worker task, '
        r'variables on the ps tasks \(a local cluster tfmagic started on 127\.0\.0\.1, '
        r'pids \d+, \d+, \d+\); new graph and session, 0 variables dropped\.\n',
        text_of(tagged(nb, 'connect')))
    assert [re.sub(r':\d+$', ':PORT', line) for line in
            text_of(tagged(nb, 'show')).splitlines()[1:]] == [
        '  /job:ps/task:0  127.0.0.1:PORT', '  /job:ps/task:1  127.0.0.1:PORT',
        '  /job:worker/task:0  127.0.0.1:PORT']

    # replica_device_setter: variables round-robin on the ps tasks, ops on the worker
    assert text_of(tagged(nb, 'dense')) == '/job:ps/task:0\n/job:ps/task:1\n/job:worker/task:0\n'
    assert text_of(tagged(nb, 'embedding')) == (
        'words/embedding/part_0 (500, 16) /job:ps/task:0\n'
        'words/embedding/part_1 (500, 16) /job:ps/task:1\n')

    def rows(tag):  # name -> the rest of its row, from the table's text
        return {line.split()[1]: ' '.join(line.split()[2:])
                for line in text_of(tagged(nb, tag)).splitlines()[1:]}

    assert rows('vars') == {
        'model/b': '(1,) 1 /job:ps/task:1', 'model/w': '(16, 1) 1 /job:ps/task:0',
        'words/embedding': '(1000, 16) 2 /job:ps/task:0, /job:ps/task:1'}
    assert rows('shards') == {
        'model/b': '(1,) /job:ps/task:1', 'model/w': '(16, 1) /job:ps/task:0',
        'words/embedding/part_0': '(500, 16) /job:ps/task:0',
        'words/embedding/part_1': '(500, 16) /job:ps/task:1'}

    # a training step; Adam's slots live with their variable
    before, after = (float(line.split(':')[1]) for line in
                     text_of(tagged(nb, 'train')).splitlines())
    assert after < before
    both = '/job:ps/task:0, /job:ps/task:1'
    assert rows('slots') == {
        'beta1_power': '/job:ps/task:1', 'beta2_power': '/job:ps/task:1',
        'model/b': '/job:ps/task:1', 'model/b/Adam': 'model/b /job:ps/task:1',
        'model/b/Adam_1': 'model/b /job:ps/task:1',
        'model/w': '/job:ps/task:0', 'model/w/Adam': 'model/w /job:ps/task:0',
        'model/w/Adam_1': 'model/w /job:ps/task:0',
        'words/embedding': both, 'words/embedding/Adam': f'words/embedding {both}',
        'words/embedding/Adam_1': f'words/embedding {both}'}

    # statistics computed on the ps tasks; the panel grouped by device
    assert rows('stats')['words/embedding'] == '16000 0.090000 0.110000 0.100010'
    panel = text_of(tagged(nb, 'panel')).splitlines()
    assert panel[0].startswith('11 variables (8 optimizer state) in 2 scopes')
    assert [line for line in panel if line.startswith('▾')] == [
        '▾ /job:ps/task:0  6 variables', '▾ /job:ps/task:1  8 variables']
    assert sum('embedding  [1000, 16]  float32  1 of 2 parts' in line for line in panel) == 2

    # a sharded checkpoint: one data file per ps task, each with that task's variables
    assert re.fullmatch(r'Saved 11 variables \([\d.]+ KB\) to checkpoints/cluster/model\.\n',
                        text_of(tagged(nb, 'save')))
    files = dict(line.split()[:2] for line in text_of(tagged(nb, 'files')).splitlines())
    assert sorted(files) == ['checkpoint', 'model.data-00000-of-00002',
                             'model.data-00001-of-00002', 'model.index', 'model.meta']
    # part_0 and its two slots + w and its two slots; part_1, b, theirs + Adam's counters
    assert files['model.data-00000-of-00002'] == str(3 * 500 * 16 * 4 + 3 * 16 * 4)
    assert files['model.data-00001-of-00002'] == str(3 * 500 * 16 * 4 + 3 * 4 + 2 * 4)
    inspected = rows('inspect')
    assert len(inspected) == 11 and all(row.endswith('match') for row in inspected.values())
    assert inspected['words/embedding'] == '(1000, 16) float32 match'

    # back in one process: the sharded checkpoint restores, every value equal
    assert text_of(tagged(nb, 'local')) == (
        'tfmagic: now on the in-process session (local); new graph and session, '
        "11 variables dropped; stopped the local cluster (3 tasks).\n['', '', '', '']")
    assert text_of(tagged(nb, 'restore')) == (
        'Restored 11 variables from checkpoints/cluster/model.\nTrue')
    # the lesson removes its checkpoint (lesson 04's folder keeps only lesson 04's files)
    assert not (executed.workdir / 'checkpoints' / 'cluster').exists()

    check = not_yet(nb, ['task 0', 'task 1', 'task 2', '/job:'])
    assert check == ('Not yet: a, b, emb/part_0, emb/part_1, emb/part_2, c, c/Adam '
                     'are on another task.')


def test_lesson_06_teaches_variables_in_tf2_and_keras(executed):
    nb = executed('06_tf2_keras.ipynb')
    assert text_of(tagged(nb, 'mode')) == (
        'tfmagic: eager mode: cells run as plain TF2 (eager), variables still tracked; '
        '0 variables dropped.\n')

    def rows(tag):  # a table's rows, split into words, without the index
        return [line.split()[1:] for line in text_of(tagged(nb, tag)).splitlines()[1:]]

    # eager tf.Variables: values at once, names not made unique, said after the cell
    same = tagged(nb, 'same-name').execution_count
    printed, note = text_of(tagged(nb, 'same-name')).split('tfmagic: ', 1)
    assert printed == 'v:0 1.5\nv:0 2.0\n'
    assert note.startswith(
        'two or more live variables are named v: eager TensorFlow does not make names unique')
    assert rows('same-vars') == [['v', '()', 'tf.Variable', str(same), 'not', 'reusable']] * 2
    error = error_of(tagged(nb, 'save-refused'))
    assert error.ename == 'CheckpointError'
    assert error.evalue.startswith('cannot save two variables under one name: v ')

    # Keras's paths, from the model and its layers; the v's dropped with del are gone
    model = str(tagged(nb, 'model').execution_count)
    paths = ['sequential/d1/kernel', 'sequential/d1/bias',
             'sequential/d2/kernel', 'sequential/d2/bias']
    assert text_of(tagged(nb, 'model')) == '[' + ',\n '.join(map(repr, paths)) + ']'
    assert {row[0]: (row[1], ' '.join(row[2:-2]), *row[-2:]) for row in rows('vars-model')} == {
        'sequential/d1/kernel': ('sequential/d1', '(3, 4)', 'keras', model),
        'sequential/d1/bias': ('sequential/d1', '(4,)', 'keras', model),
        'sequential/d2/kernel': ('sequential/d2', '(4, 1)', 'keras', model),
        'sequential/d2/bias': ('sequential/d2', '(1,)', 'keras', model)}

    # training lowers the loss, and adds Adam's slots and counters and the loss metric
    losses = [float(n) for n in re.findall(r'\d+\.\d+', text_of(tagged(nb, 'fit')))]
    assert len(losses) == 3 and losses == sorted(losses, reverse=True)
    slots = {f"adam/{path.replace('/', '_')}_{kind}": path
             for path in paths for kind in ('momentum', 'velocity')}
    others = ['adam/iteration', 'adam/learning_rate', 'loss/count', 'loss/total']
    assert {row[0]: (row[1], row[2:]) for row in rows('vars-fit')} == {
        **{name: ('False', [path]) for name, path in slots.items()},
        **{name: ('False', []) for name in others}, **{path: ('True', []) for path in paths}}

    # the panel: the model's scopes, each slot under its variable, made by fit
    fit = tagged(nb, 'fit').execution_count
    panel = text_of(tagged(nb, 'panel')).splitlines()
    assert panel[0].startswith('16 variables (10 optimizer state) in 5 scopes')
    assert [line for line in panel if '▾' in line] == [
        '▾ adam/  2 variables', '▾ loss/  2 variables', '▾ sequential/  12 variables',
        '│   ▾ d1/  6 variables', '│   ▾ d2/  6 variables']
    assert sum(line.endswith(f'optimizer slot  cell {fit}') for line in panel) == 8
    assert sum(line.endswith(f'keras  cell {model}') for line in panel) == 4

    # saved; a fresh model built; restored: the same predictions, Adam at step 6 again
    assert re.fullmatch(r'Saved 16 variables \([\d.]+ (bytes|KB)\) to checkpoints/keras/model\.\n',
                        text_of(tagged(nb, 'save')))
    assert text_of(tagged(nb, 'rebuild')) == 'False'
    assert {row[0]: row[-1] for row in rows('inspect')} == dict.fromkeys(
        [*slots, *others, *paths], 'match')
    assert text_of(tagged(nb, 'restore')) == (
        'Restored 16 variables from checkpoints/keras/model.\n(True, 6)')
    # the lesson removes its checkpoint (lesson 04's folder keeps only lesson 04's files)
    assert not (executed.workdir / 'checkpoints' / 'keras').exists()

    check = not_yet(nb, ['net/', 'sgd/', 'momentum', 'iteration'])
    assert check.startswith("Not yet: 1 (proj's kernel) is not '?'")


def main(paths: list[str]) -> None:
    """Execute the given notebooks (default: all) in notebooks/ and save them:
    as the tests do (``lessons.execute``), without widget state, in a kernel
    without ``TF_CPP_MIN_LOG_LEVEL``."""
    for path in map(Path, paths) if paths else NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        execute(nb, NOTEBOOKS_DIR)
        nbformat.write(nb, path)
        print(f'executed {path}')


if __name__ == '__main__':
    main(sys.argv[1:])
