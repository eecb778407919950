"""``%tfpanel`` in a real browser: JupyterLab, a real kernel, headless Chromium.

A JupyterLab server is started on 127.0.0.1 in a temporary root holding one
notebook; Playwright (driving Debian's ``/usr/bin/chromium``, never a
downloaded browser) opens it, runs the cells with Shift+Enter as a user
would, and checks the panel from the page's DOM: the scope tree, expanding a
scope, a variable's details with its statistics and SVG histogram, the panel
updating itself after a later cell, the filter, Save and Restore, and that a
checkpoint key written as HTML stays text everywhere, then saves a
screenshot of the panel to ``docs/panel.png``. A last cell trains a model
with a partitioned embedding and Adam: the embedding is one row with its
parts in its details, and the optimizer's state is marked as such, its slots
under their variable.

Skipped when Playwright or ``/usr/bin/chromium`` is missing (``make chromium``).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import nbformat
import pytest

sync_api = pytest.importorskip('playwright.sync_api')

pytestmark = pytest.mark.browser

CHROMIUM = '/usr/bin/chromium'
CHROMIUM_ARGS = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic',
                 '--no-first-run', '--disable-background-networking',
                 '--disable-component-update', '--disable-sync']
REPO = Path(__file__).resolve().parent.parent
SCREENSHOT = REPO / 'docs' / 'panel.png'
NOTEBOOK = 'panel.ipynb'

#: Milliseconds: TensorFlow's import in the first cell dominates.
CELL_TIMEOUT = 90_000
UI_TIMEOUT = 30_000

#: A checkpoint key that would run script if a page rendered it as HTML.
EVIL_KEY = '<img src=x onerror="window.__xss=1">'
EVIL_SAVE = f"""
import os
import tensorflow as tf
os.makedirs('checkpoints', exist_ok=True)
tf.raw_ops.SaveV2(prefix='checkpoints/evil', tensor_names=[{EVIL_KEY!r}],
                  shape_and_slices=[''], tensors=[tf.constant([1.0])])
"""

W_VALUES = [[-1.5, 0.0, 2.0], [0.25, 1.0, 3.5], [-0.75, 0.5, 1.25]]

CELLS = [
    '%load_ext tfmagic\nimport numpy as np\nimport tensorflow as tf',
    # In[2]: layer1/w (known values) and a tf.Variable layer1/b
    f"%%tfscope layer1\n"
    f"w = tf.compat.v1.get_variable('w', initializer=np.array({W_VALUES}, dtype=np.float32))\n"
    f"b = tf.compat.v1.Variable(tf.zeros([3]), name='b')",
    # In[3]
    "%%tfscope layer2\n"
    "kernel = tf.compat.v1.get_variable('kernel', [4, 2])\n"
    "bias = tf.compat.v1.get_variable('bias', initializer=tf.ones([2]))",
    # In[4]: shares layer1/w once
    "%%tfscope layer1 --reuse\nw_again = tf.compat.v1.get_variable('w')",
    '%inspectckpt checkpoints/evil',
    '%tfpanel',
    # run later, once the panel is shown: the panel must pick up by itself a
    # new scope and the new values of the variable it shows
    "%%tfscope layer3\nv = tf.compat.v1.get_variable('v', initializer=tf.fill([5], 2.0))\n"
    "w.assign(w * 2).eval();",
    # a partitioned embedding and a matrix, trained one step with Adam
    "with tf.compat.v1.variable_scope('enc'):\n"
    "    emb = tf.compat.v1.get_variable('emb', [10, 4],\n"
    "                                    partitioner=tf.compat.v1.fixed_size_partitioner(3))\n"
    "    W = tf.compat.v1.get_variable('W', [4, 2])\n"
    "loss = tf.reduce_sum(tf.matmul(tf.nn.embedding_lookup(emb, [1, 5, 9]), W) ** 2)\n"
    "tf.compat.v1.train.AdamOptimizer(0.1).minimize(loss).run()",
]
INSPECT_CELL, PANEL_CELL, LATER_CELL, MODEL_CELL = 4, 5, 6, 7


# -- the server -------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _write_notebook(path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata['kernelspec'] = {'name': 'python3', 'display_name': 'Python 3 (ipykernel)',
                                 'language': 'python'}
    nb.cells = [nbformat.v4.new_code_cell(source) for source in CELLS]
    nbformat.write(nb, str(path))


def _quiet_lab_settings(settings_dir: Path) -> None:
    """No news or update toasts over the page."""
    path = settings_dir / '@jupyterlab' / 'apputils-extension' / 'notification.jupyterlab-settings'
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({'fetchNews': 'false', 'checkForUpdates': False}))


def _request(url: str, token: str, method: str = 'GET', timeout: float = 2):
    req = urllib.request.Request(url, method=method,
                                 headers={'Authorization': f'token {token}'})
    with urllib.request.urlopen(req, timeout=timeout) as response:
        return response.status, response.read()


class Lab:
    def __init__(self, root: Path, port: int, token: str, process: subprocess.Popen, log: Path):
        self.root, self.port, self.token, self.process, self.log = root, port, token, process, log

    @property
    def base(self) -> str:
        return f'http://127.0.0.1:{self.port}'

    def url(self, notebook: str) -> str:
        return f'{self.base}/lab/tree/{notebook}?token={self.token}'

    def log_tail(self, lines: int = 40) -> str:
        return '\n'.join(self.log.read_text(errors='replace').splitlines()[-lines:])


def _wait_for_server(lab: Lab, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if lab.process.poll() is not None:
            pytest.fail(f'jupyter lab exited with {lab.process.returncode}:\n{lab.log_tail()}')
        try:
            status, _ = _request(f'{lab.base}/api/status', lab.token)
            if status == 200:
                return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    pytest.fail(f'jupyter lab did not answer /api/status in {timeout} s:\n{lab.log_tail()}')


def _stop_server(lab: Lab) -> None:
    """Ask the server to shut down (kernels included), then insist."""
    if lab.process.poll() is None:
        try:
            _request(f'{lab.base}/api/shutdown', lab.token, method='POST')
        except (urllib.error.URLError, OSError):
            pass
        try:
            lab.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            lab.process.terminate()
            try:
                lab.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                lab.process.kill()
                lab.process.wait()


@pytest.fixture(scope='module')
def lab(tmp_path_factory):
    """A JupyterLab server on 127.0.0.1 whose root holds the test notebook
    and a checkpoint ``checkpoints/evil`` with an HTML-looking key."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f'{CHROMIUM} is missing: run `make chromium`')
    base = tmp_path_factory.mktemp('lab')
    root = base / 'root'
    root.mkdir()
    for name in ('config', 'data', 'runtime', 'settings', 'workspaces'):
        (base / name).mkdir()
    _quiet_lab_settings(base / 'settings')
    _write_notebook(root / NOTEBOOK)
    env = {
        **os.environ,
        'TF_CPP_MIN_LOG_LEVEL': '2',
        'PATH': os.path.dirname(sys.executable) + os.pathsep + os.environ.get('PATH', ''),
        # Private config and state; the venv's kernelspec (python3: this
        # interpreter) and lab extensions (widgets) are still found in sys.prefix.
        'JUPYTER_CONFIG_DIR': str(base / 'config'),
        'JUPYTER_DATA_DIR': str(base / 'data'),
        'JUPYTER_RUNTIME_DIR': str(base / 'runtime'),
        'JUPYTERLAB_SETTINGS_DIR': str(base / 'settings'),
        'JUPYTERLAB_WORKSPACES_DIR': str(base / 'workspaces'),
    }
    # The evil checkpoint, written eagerly by a plain TensorFlow process while
    # the server starts.
    evil = subprocess.Popen([sys.executable, '-c', EVIL_SAVE], cwd=root, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    port, token = _free_port(), secrets.token_hex(16)
    log = base / 'lab.log'
    with open(log, 'w') as out:
        process = subprocess.Popen(
            [sys.executable, '-m', 'jupyterlab', '--no-browser', '--ip=127.0.0.1',
             f'--port={port}', '--ServerApp.port_retries=0',
             # IdentityProvider.token: ServerApp.token's name since jupyter_server 2
             f'--IdentityProvider.token={token}', f'--ServerApp.root_dir={root}',
             '--ServerApp.open_browser=False']
            + (['--allow-root'] if hasattr(os, 'geteuid') and os.geteuid() == 0 else []),
            cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT)
    server = Lab(root, port, token, process, log)
    try:
        output, _ = evil.communicate(timeout=120)
        assert evil.returncode == 0, f'writing the evil checkpoint failed:\n{output}'
        assert (root / 'checkpoints' / 'evil.index').exists()
        _wait_for_server(server)
        yield server
    finally:
        if evil.poll() is None:
            evil.kill()
            evil.wait()
        _stop_server(server)


@pytest.fixture(scope='module')
def browser():
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


# -- reading the page -------------------------------------------------------------------

# ipywidgets' Select shows each label with its spaces as U+00A0; the page
# helpers below read rows back with plain spaces.
_OPTIONS_JS = """sel => [...document.querySelectorAll(sel)]
    .map(o => o.textContent.replace(/\\u00a0/g, ' '))"""

TREE_SELECT = '.tfmagic-panel .tfmagic-tree select'
TREE_OPTIONS = TREE_SELECT + ' option'
CKPT_SELECT = '.tfmagic-panel .tfmagic-checkpoints select'
CKPT_OPTIONS = CKPT_SELECT + ' option'
DETAILS = '.tfmagic-panel .tfmagic-details'


def options(page, selector: str) -> list[str]:
    return page.evaluate(_OPTIONS_JS, selector)


def wait_for_options(page, selector: str, js_predicate: str, what: str,
                     timeout: float = UI_TIMEOUT) -> list[str]:
    """Wait until ``js_predicate(rows)`` (rows: the option texts, plain
    spaces) holds in the page; return the rows."""
    script = f"""sel => {{
        const rows = [...document.querySelectorAll(sel)]
            .map(o => o.textContent.replace(/\\u00a0/g, ' '));
        return ({js_predicate})(rows);
    }}"""
    try:
        page.wait_for_function(script, arg=selector, timeout=timeout)
    except sync_api.TimeoutError:
        pytest.fail(f'{what}: not seen in {timeout / 1000:.0f} s; rows are '
                    f'{options(page, selector)!r}\n{cell_outputs(page)}')
    return options(page, selector)


def has_row(text: str) -> str:
    """A predicate: some row, stripped, equals ``text``."""
    return f'rows => rows.some(r => r.trim() === {json.dumps(text)})'


def select_row(page, selector: str, text: str) -> None:
    """Choose the option whose stripped text is ``text``, as a click does."""
    rows = [r.strip() for r in options(page, selector + ' option')]
    assert text in rows, f'no row {text!r} in {rows!r}'
    page.locator(selector).select_option(index=rows.index(text))


def details_table(page) -> dict[str, str]:
    """The selected variable's columns in the details: name -> value."""
    return page.evaluate(f"""() => Object.fromEntries(
        [...document.querySelectorAll('{DETAILS} table.tfmagic-columns tr')]
            .map(tr => [tr.querySelector('th').textContent,
                        tr.querySelector('td').textContent]))""")


def parts_table(page) -> list[list[str]]:
    """The rows of a partitioned variable's parts in the details, header first."""
    return page.evaluate(f"""() => [
        ...document.querySelectorAll('{DETAILS} table.tfmagic-parts tr')]
            .map(tr => [...tr.cells].map(c => c.textContent))""")


def execution_count(page, index: int) -> int:
    """The number in cell ``index``'s prompt, once the cell has finished."""
    prompt = page.locator('.jp-Notebook .jp-Cell').nth(index).locator('.jp-InputPrompt')
    sync_api.expect(prompt).to_have_text(re.compile(r'\[\d+\]'), timeout=CELL_TIMEOUT)
    return int(re.search(r'\[(\d+)\]', prompt.inner_text()).group(1))


def cell_outputs(page) -> str:
    """Every cell's prompt and output text, to explain a failed wait."""
    texts = page.evaluate("""() => [...document.querySelectorAll('.jp-Notebook .jp-Cell')]
        .map((c, i) => `cell ${i} ${c.querySelector('.jp-InputPrompt')?.innerText || ''} `
                       + (c.querySelector('.jp-OutputArea')?.innerText || ''))""")
    return 'cells:\n' + '\n'.join(t[:2000] for t in texts)


def run_cells(page, first: int, count: int = 1) -> None:
    """Run ``count`` cells from cell ``first`` with Shift+Enter, as a user
    would: click into the first one, then press Shift+Enter once per cell,
    each time after JupyterLab has made that cell the active one (a click
    during layout or a key pressed too early would run another cell)."""
    cells = page.locator('.jp-Notebook .jp-Cell')
    target = cells.nth(first)
    target.scroll_into_view_if_needed()
    target.locator('.jp-InputArea-editor').click()
    sync_api.expect(target).to_have_class(re.compile(r'\bjp-mod-active\b'), timeout=UI_TIMEOUT)
    for index in range(first, first + count):
        sync_api.expect(cells.nth(index)).to_have_class(re.compile(r'\bjp-mod-active\b'),
                                                        timeout=UI_TIMEOUT)
        page.keyboard.press('Shift+Enter')
        # queued or started: the prompt turns from "[ ]:" to "[*]:" or "[n]:"
        sync_api.expect(cells.nth(index).locator('.jp-InputPrompt')).not_to_have_text(
            re.compile(r'^\s*\[ \]:\s*$'), timeout=UI_TIMEOUT)


# -- the tests ---------------------------------------------------------------------------------


@pytest.fixture(scope='module')
def page(lab, browser):
    """The notebook open in JupyterLab, every cell up to the panel's run."""
    context = browser.new_context(viewport={'width': 1400, 'height': 1600})
    page = context.new_page()
    page.set_default_timeout(UI_TIMEOUT)
    try:
        page.goto(lab.url(NOTEBOOK))
        sync_api.expect(page.locator('.jp-Notebook .jp-Cell')).to_have_count(
            len(CELLS), timeout=UI_TIMEOUT * 2)
        # the notebook's kernel is started and ready
        page.locator('.jp-Notebook-ExecutionIndicator[data-status="idle"]').first.wait_for(
            timeout=CELL_TIMEOUT)
        run_cells(page, 0, PANEL_CELL + 1)
        wait_for_options(page, TREE_OPTIONS, has_row('▸ layer2/  (2)'), 'the panel and its tree',
                         timeout=CELL_TIMEOUT)
        yield page
    finally:
        context.close()


def test_tfpanel_in_jupyterlab(page, lab):
    cells = page.locator('.jp-Notebook .jp-Cell')
    sync_api.expect(cells.nth(PANEL_CELL).locator('.tfmagic-panel')).to_have_count(1)
    sync_api.expect(page.locator('.tfmagic-panel')).to_have_count(1)

    # -- the tree: both scopes, collapsed, with their counts ------------------------------
    rows = options(page, TREE_OPTIONS)
    assert [r.strip() for r in rows] == ['▸ layer1/  (2)', '▸ layer2/  (2)'], rows
    summary = page.locator('.tfmagic-panel').get_by_text(re.compile(r'variables in'))
    sync_api.expect(summary).to_contain_text('4 variables in 2 scopes')

    # -- %inspectckpt shows the HTML-looking key as text ----------------------------------
    inspect = cells.nth(INSPECT_CELL).locator('.jp-OutputArea-output table')
    sync_api.expect(inspect).to_contain_text(EVIL_KEY, timeout=UI_TIMEOUT)
    sync_api.expect(inspect).to_contain_text('missing in graph')

    # -- expanding layer1 shows its variables ------------------------------------------------
    select_row(page, TREE_SELECT, '▸ layer1/  (2)')
    rows = wait_for_options(page, TREE_OPTIONS, has_row('▾ layer1/  (2)'), 'layer1 expanded')
    assert [r.rstrip() for r in rows] == [
        '▾ layer1/  (2)',
        '  ⊘ b  [3] float32  tf.Variable [2]',
        '  ↻ w  [3, 3] float32  get_variable [2] ×1',
        '▸ layer2/  (2)',
    ], rows

    # -- selecting w shows its details -------------------------------------------------------
    select_row(page, TREE_SELECT, '↻ w  [3, 3] float32  get_variable [2] ×1')
    details = page.locator(DETAILS)
    sync_api.expect(details.locator('b').first).to_have_text('layer1/w', timeout=UI_TIMEOUT)
    table = details_table(page)
    expected = {'name': 'layer1/w', 'scope': 'layer1', 'shape': '(3, 3)', 'dtype': 'float32',
                'trainable': 'True', 'created_by': 'get_variable', 'created_in': '2',
                'reuses': '1', 'reused_in': '[4]', 'reuse_status': 'reused',
                'initialized': 'True', 'size': '9', 'nbytes': '36',
                'min': '-1.5', 'max': '3.5'}
    assert {k: table.get(k) for k in expected} == expected, table
    assert float(table['mean']) == pytest.approx(6.25 / 9)
    histogram = details.locator('svg.tfmagic-histogram')
    sync_api.expect(histogram).to_have_count(1)
    sync_api.expect(histogram.locator('rect')).to_have_count(24)
    box = histogram.bounding_box()
    assert box and box['width'] >= 200 and box['height'] >= 50, box
    sync_api.expect(details).to_contain_text(
        'first values: -1.5, 0.0, 2.0, 0.25, 1.0, 3.5, -0.75, 0.5, 1.25')

    # -- checkpoints: the evil one is listed; restoring it reports its key as text ---------------
    ckpt_rows = wait_for_options(page, CKPT_OPTIONS,
                                 "rows => rows.some(r => r.startsWith('checkpoints/evil '))",
                                 'checkpoints/evil in the checkpoint list')
    assert len(ckpt_rows) == 1 and re.search(r'\b1 variables?\b', ckpt_rows[0]), ckpt_rows
    page.locator(CKPT_SELECT).select_option(index=0)
    checkpoints_box = page.locator('.tfmagic-panel .tfmagic-checkpoints')
    checkpoints_box.locator('button', has_text='Restore').click()
    error = checkpoints_box.locator('.tfmagic-error')
    sync_api.expect(error).to_contain_text('nothing was restored', timeout=UI_TIMEOUT)
    sync_api.expect(error).to_contain_text(f'{EVIL_KEY}: missing in graph')
    assert page.locator('img[src="x"]').count() == 0
    assert page.evaluate('typeof window.__xss') == 'undefined'

    # -- the filter narrows the tree; clearing it brings back the expanded tree ------------------
    filter_box = page.locator('.tfmagic-panel input[placeholder^="filter:"]')
    filter_box.fill('kern')
    rows = wait_for_options(page, TREE_OPTIONS, 'rows => rows.length === 2', 'the filtered tree')
    assert [r.strip() for r in rows] == [
        '▾ layer2/', 'kernel  [4, 2] float32  get_variable [3]'], rows
    filter_box.fill('layer1/*')
    rows = wait_for_options(page, TREE_OPTIONS,
                            "rows => rows.length === 3 && rows[1].includes('b')",
                            'the glob-filtered tree')
    assert [r.strip().split()[:2] for r in rows] == [['▾', 'layer1/'], ['⊘', 'b'], ['↻', 'w']], rows
    filter_box.fill('')
    wait_for_options(page, TREE_OPTIONS, 'rows => rows.length === 4', 'the unfiltered tree')
    # w is still the selected row, and its details still shown
    assert page.locator(TREE_SELECT).evaluate(
        's => s.selectedIndex >= 0 && s.options[s.selectedIndex].textContent.includes("w")'), \
        options(page, TREE_OPTIONS)
    sync_api.expect(details.locator('b').first).to_have_text('layer1/w')

    # -- Save: a success message and one more checkpoint -----------------------------------------
    sync_api.expect(checkpoints_box.locator('input[type="text"]')).to_have_value('checkpoints/model')
    checkpoints_box.locator('button', has_text='Save').click()
    sync_api.expect(checkpoints_box.locator('.tfmagic-ok')).to_contain_text(
        'Saved 4 variables', timeout=UI_TIMEOUT)
    sync_api.expect(checkpoints_box.locator('.tfmagic-error')).to_have_count(0)
    ckpt_rows = wait_for_options(page, CKPT_OPTIONS, 'rows => rows.length === 2',
                                 'the saved checkpoint in the list')
    assert any(r.startswith('checkpoints/model ') and '4 variables' in r and '(latest)' in r
               for r in ckpt_rows), ckpt_rows
    assert (lab.root / 'checkpoints' / 'model.index').exists()

    # -- Restore of the selected checkpoint ------------------------------------------------------
    select_row(page, CKPT_SELECT, next(r.strip() for r in ckpt_rows
                                       if r.startswith('checkpoints/model ')))
    checkpoints_box.locator('button', has_text='Restore').click()
    sync_api.expect(checkpoints_box.locator('.tfmagic-ok')).to_have_text(
        'Restored 4 variables from checkpoints/model.', timeout=UI_TIMEOUT)

    # -- a later cell: the panel updates by itself (tree, summary, checkpoint list) ---------------
    # Also delete the evil checkpoint behind the panel's back: the list must
    # follow the directory after the cell (and the docs picture shows no "evil").
    for path in (lab.root / 'checkpoints').glob('evil.*'):
        path.unlink()
    run_cells(page, LATER_CELL)
    rows = wait_for_options(page, TREE_OPTIONS, has_row('▸ layer3/  (1)'),
                            'layer3 after the later cell', timeout=CELL_TIMEOUT)
    assert [r.rstrip() for r in rows] == [
        '▾ layer1/  (2)',
        '  ⊘ b  [3] float32  tf.Variable [2]',
        '  ↻ w  [3, 3] float32  get_variable [2] ×1',
        '▸ layer2/  (2)',
        '▸ layer3/  (1)',
    ], rows
    sync_api.expect(summary).to_contain_text('5 variables in 3 scopes')
    ckpt_rows = wait_for_options(page, CKPT_OPTIONS, 'rows => rows.length === 1',
                                 'the checkpoint list without the deleted evil checkpoint')
    assert ckpt_rows[0].startswith('checkpoints/model '), ckpt_rows
    # the selected variable's details show its new values
    sync_api.expect(details.locator('b').first).to_have_text('layer1/w')
    sync_api.expect(details).to_contain_text(
        'first values: -3.0, 0.0, 4.0, 0.5, 2.0, 7.0, -1.5, 1.0, 2.5', timeout=UI_TIMEOUT)
    table = details_table(page)
    assert (table['min'], table['max']) == ('-3.0', '7.0'), table

    # -- nothing anywhere ran the key as HTML ------------------------------------------------------
    assert page.locator('img[src="x"]').count() == 0
    assert page.evaluate('typeof window.__xss') == 'undefined'

    # -- the picture for the docs: layer1 open, w selected, its histogram ------------------------
    panel = page.locator('.tfmagic-panel')
    # whole and clear of the notebook's sticky toolbar
    panel.evaluate('e => e.scrollIntoView({block: "center"})')
    box = panel.bounding_box()
    toolbar = page.locator('.jp-NotebookPanel-toolbar').bounding_box()
    assert box and toolbar and box['y'] >= toolbar['y'] + toolbar['height'], (box, toolbar)
    assert box['y'] + box['height'] <= page.viewport_size['height'], box
    SCREENSHOT.parent.mkdir(exist_ok=True)
    panel.screenshot(path=str(SCREENSHOT), animations='disabled')
    assert SCREENSHOT.stat().st_size > 10_000


def test_tfpanel_fits_its_output_area(page):
    """No part of the panel sticks out of the box it lies in: a box that
    overflows gets a horizontal scroll bar (ipywidgets' boxes have
    ``overflow: auto``; Playwright's headless Chromium hides scroll bars, a
    user's browser shows them) and clips the right border of what sticks out."""
    overflows = page.evaluate("""() => {
        const panel = document.querySelector('.tfmagic-panel');
        const boxes = [panel, ...panel.querySelectorAll('.widget-box')];
        const edge = e => Math.round(e.getBoundingClientRect().right);
        const out = [];
        for (const box of boxes) {
            const classes = box.className.split(' ');
            const name = '.' + (classes.find(c => c.startsWith('tfmagic-'))
                                || classes.find(c => /^widget-[hv]box$/.test(c)));
            if (box.scrollWidth > box.clientWidth)
                out.push(`${name}: scrollWidth ${box.scrollWidth}`
                         + ` > clientWidth ${box.clientWidth}`);
            for (const child of box.children) {
                if (edge(child) > edge(box)) {
                    const what = child.querySelector('input, select')?.tagName.toLowerCase()
                        || child.className;
                    out.push(`${name}: child ${what} (${child.style.width || 'auto'} wide) ends at `
                             + `x=${edge(child)}, past the box's right edge x=${edge(box)}`);
                }
            }
        }
        return out;
    }""")
    assert not overflows, 'the panel overflows its boxes:\n' + '\n'.join(overflows)


def test_tfpanel_shows_a_partitioned_variable_and_optimizer_state(page):
    run_cells(page, MODEL_CELL)
    wait_for_options(page, TREE_OPTIONS, has_row('▸ enc/  (6)'), 'enc after the model cell',
                     timeout=CELL_TIMEOUT)
    cell = execution_count(page, MODEL_CELL)
    select_row(page, TREE_SELECT, '▸ enc/  (6)')
    rows = wait_for_options(page, TREE_OPTIONS, has_row('▾ enc/  (6)'), 'enc expanded')
    rows = [r.rstrip() for r in rows]
    # slots right under their variable; a partitioned variable in one row
    assert rows[:7] == [
        '▾ enc/  (6)',
        f'    W  [4, 2] float32  get_variable [{cell}]',
        f'    ◇ Adam  [4, 2] float32  optimizer slot [{cell}]',
        f'    ◇ Adam_1  [4, 2] float32  optimizer slot [{cell}]',
        f'    emb  [10, 4] float32 ×3 parts  get_variable [{cell}]',
        f'    ◇ Adam  [10, 4] float32 ×3 parts  optimizer slot [{cell}]',
        f'    ◇ Adam_1  [10, 4] float32 ×3 parts  optimizer slot [{cell}]',
    ], rows
    # the optimizer's other state: marked as such, not as a tf.Variable that cannot be shared
    assert rows[-2:] == [f'◇ beta1_power  [] float32  optimizer state [{cell}]',
                         f'◇ beta2_power  [] float32  optimizer state [{cell}]'], rows
    assert not any('⊘ beta' in r or 'part_' in r or 'enc/W/' in r for r in rows), rows
    summary = page.locator('.tfmagic-panel').get_by_text(re.compile(r'^\d+ variables'))
    sync_api.expect(summary).to_contain_text('(6 optimizer state)')
    sync_api.expect(summary).to_contain_text('◇ optimizer state (slots under their variable)')

    # -- the embedding's details: the whole variable, and its parts --------------------------------
    select_row(page, TREE_SELECT, f'emb  [10, 4] float32 ×3 parts  get_variable [{cell}]')
    details = page.locator(DETAILS)
    sync_api.expect(details.locator('b').first).to_have_text('enc/emb', timeout=UI_TIMEOUT)
    table = details_table(page)
    assert (table['shape'], table['partitions'], table['size']) == ('(10, 4)', '3', '40'), table
    assert parts_table(page) == [['part', 'shape', 'offset'],
                                 ['enc/emb/part_0', '[4, 4]', '[0, 0]'],
                                 ['enc/emb/part_1', '[3, 4]', '[4, 0]'],
                                 ['enc/emb/part_2', '[3, 4]', '[7, 0]']]
    sync_api.expect(details.locator('svg.tfmagic-histogram')).to_have_count(1)
