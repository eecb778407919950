"""What the browser tests share: a Jupyter server (JupyterLab or Notebook 7)
on 127.0.0.1 with private state, Debian's Chromium driven by Playwright, and
helpers that read the notebook and the ``%tfpanel`` panel from the page.

The server runs in a temporary root with private ``JUPYTER_*`` directories
(no notebook is trusted there: the private data directory has no signature
database). The kernel is the venv's ``python3`` kernelspec, found in
``sys.prefix`` like the lab extensions (ipywidgets). ``TF_CPP_MIN_LOG_LEVEL``
is left unset, as on a user's machine: tfmagic must quiet TensorFlow itself.

Playwright drives ``/usr/bin/chromium``, never a downloaded browser; cells
are run with Shift+Enter as a user does.
"""

from __future__ import annotations

import contextlib
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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest

sync_api = pytest.importorskip('playwright.sync_api')
expect = sync_api.expect

CHROMIUM = '/usr/bin/chromium'
CHROMIUM_ARGS = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic',
                 '--no-first-run', '--disable-background-networking',
                 '--disable-component-update', '--disable-sync']

#: Milliseconds: TensorFlow's import in the first cell dominates.
CELL_TIMEOUT = 90_000
UI_TIMEOUT = 30_000

#: The two front ends: how to start each, and where it shows a notebook.
APPS = {
    'lab': {'module': 'jupyterlab', 'path': '/lab/tree/{}'},
    'notebook': {'module': 'notebook', 'path': '/notebooks/{}'},
}

#: layer1/w (known values, shared once by the fourth cell) and a
#: tf.Variable layer1/b; layer2's kernel and bias: the first cells of both
#: browser tests' notebooks.
W_VALUES = [[-1.5, 0.0, 2.0], [0.25, 1.0, 3.5], [-0.75, 0.5, 1.25]]
MODEL_CELLS = [
    '%load_ext tfmagic\nimport numpy as np\nimport tensorflow as tf',
    f"%%tfscope layer1\n"
    f"w = tf.compat.v1.get_variable('w', initializer=np.array({W_VALUES}, dtype=np.float32))\n"
    f"b = tf.compat.v1.Variable(tf.zeros([3]), name='b')",
    "%%tfscope layer2\n"
    "kernel = tf.compat.v1.get_variable('kernel', [4, 2])\n"
    "bias = tf.compat.v1.get_variable('bias', initializer=tf.ones([2]))",
    "%%tfscope layer1 --reuse\nw_again = tf.compat.v1.get_variable('w')",
]

CELLS = '.jp-Notebook .jp-Cell'
PANEL = '.tfmagic-panel'
TREE = PANEL + ' .tfmagic-tree .tfmagic-treeview[role="tree"]'
ROWS = TREE + ' .tfmagic-row[role="treeitem"]'
DETAILS = PANEL + ' .tfmagic-details'
SUMMARY = PANEL + ' .tfmagic-summary'
CHECKPOINTS = PANEL + ' .tfmagic-checkpoints'
CKPT_SELECT = CHECKPOINTS + ' select'
CKPT_OPTIONS = CKPT_SELECT + ' option'


# -- the server ---------------------------------------------------------------------------


def chromium_or_skip() -> None:
    if not os.path.exists(CHROMIUM):
        pytest.skip(f'{CHROMIUM} is missing: run `make chromium`')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def write_notebook(path: Path, cells: list[str]) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata['kernelspec'] = {'name': 'python3', 'display_name': 'Python 3 (ipykernel)',
                                 'language': 'python'}
    nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    nbformat.write(nb, str(path))


def _quiet_settings(settings_dir: Path) -> None:
    """No news or update toasts over the page (JupyterLab and Notebook 7 read
    the same setting)."""
    path = settings_dir / '@jupyterlab' / 'apputils-extension' / 'notification.jupyterlab-settings'
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({'fetchNews': 'false', 'checkForUpdates': False}))


def _request(url: str, token: str, method: str = 'GET', timeout: float = 2):
    req = urllib.request.Request(url, method=method,
                                 headers={'Authorization': f'token {token}'})
    with urllib.request.urlopen(req, timeout=timeout) as response:
        return response.status, response.read()


@dataclass
class Server:
    app: str
    root: Path
    env: dict[str, str]
    port: int
    token: str
    process: subprocess.Popen
    log: Path
    #: Helper processes started with the server (waited for by the tests that need them).
    jobs: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f'http://127.0.0.1:{self.port}'

    def url(self, notebook: str, path: str | None = None) -> str:
        """The page showing ``notebook``; ``path`` (a format with ``{}`` for
        the notebook) instead of the app's usual one."""
        where = (path or APPS[self.app]['path']).format(notebook)
        return f'{self.base}{where}?token={self.token}'

    def log_tail(self, lines: int = 40) -> str:
        return '\n'.join(self.log.read_text(errors='replace').splitlines()[-lines:])


def server_env(base: Path) -> dict[str, str]:
    """The environment of the server and its kernels: private config and
    state; TensorFlow's log level unset (the test process sets it)."""
    for name in ('config', 'data', 'runtime', 'settings', 'workspaces'):
        (base / name).mkdir(exist_ok=True)
    env = {key: value for key, value in os.environ.items() if key != 'TF_CPP_MIN_LOG_LEVEL'}
    env.update({
        'PATH': os.path.dirname(sys.executable) + os.pathsep + os.environ.get('PATH', ''),
        'JUPYTER_CONFIG_DIR': str(base / 'config'),
        'JUPYTER_DATA_DIR': str(base / 'data'),
        'JUPYTER_RUNTIME_DIR': str(base / 'runtime'),
        'JUPYTERLAB_SETTINGS_DIR': str(base / 'settings'),
        'JUPYTERLAB_WORKSPACES_DIR': str(base / 'workspaces'),
    })
    return env


def start_server(app: str, base: Path, root: Path) -> Server:
    """``python -m jupyterlab`` or ``python -m notebook`` serving ``root``;
    call :func:`wait_for_server` before use and :func:`stop_server` after."""
    env = server_env(base)
    settings = base / 'settings'
    if not any(settings.iterdir()):
        _quiet_settings(settings)
    port, token = _free_port(), secrets.token_hex(16)
    log = base / f'{app}.log'
    with open(log, 'w') as out:
        process = subprocess.Popen(
            [sys.executable, '-m', APPS[app]['module'], '--no-browser', '--ip=127.0.0.1',
             f'--port={port}', '--ServerApp.port_retries=0',
             # IdentityProvider.token: ServerApp.token's name since jupyter_server 2
             f'--IdentityProvider.token={token}', f'--ServerApp.root_dir={root}',
             '--ServerApp.open_browser=False']
            + (['--allow-root'] if hasattr(os, 'geteuid') and os.geteuid() == 0 else []),
            cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT)
    return Server(app, root, env, port, token, process, log)


def wait_for_server(server: Server, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f'jupyter {server.app} exited with {server.process.returncode}:\n'
                        f'{server.log_tail()}')
        try:
            status, _ = _request(f'{server.base}/api/status', server.token)
            if status == 200:
                return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    pytest.fail(f'jupyter {server.app} did not answer /api/status in {timeout} s:\n'
                f'{server.log_tail()}')


def stop_server(server: Server) -> None:
    """Ask the server to shut down (kernels included), then insist."""
    if server.process.poll() is None:
        try:
            _request(f'{server.base}/api/shutdown', server.token, method='POST')
        except (urllib.error.URLError, OSError):
            pass
        try:
            server.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.process.terminate()
            try:
                server.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.process.kill()
                server.process.wait()


@contextlib.contextmanager
def chromium() -> Iterator:
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def open_notebook(page, server: Server, notebook: str, cells: int) -> None:
    """Open ``notebook`` and wait for its ``cells`` cells and an idle kernel."""
    page.goto(server.url(notebook))
    expect(page.locator(CELLS)).to_have_count(cells, timeout=UI_TIMEOUT * 2)
    wait_for_idle_kernel(page)


def wait_for_idle_kernel(page) -> None:
    # JupyterLab's and Notebook 7's notebook toolbar both have the indicator
    page.locator('.jp-Notebook-ExecutionIndicator[data-status="idle"]').first.wait_for(
        timeout=CELL_TIMEOUT)


# -- the notebook ---------------------------------------------------------------------------


def cell_outputs(page) -> str:
    """Every cell's prompt and output text, to explain a failed wait."""
    texts = page.evaluate("""sel => [...document.querySelectorAll(sel)]
        .map((c, i) => `cell ${i} ${c.querySelector('.jp-InputPrompt')?.innerText || ''} `
                       + (c.querySelector('.jp-OutputArea')?.innerText || ''))""", CELLS)
    return 'cells:\n' + '\n'.join(t[:2000] for t in texts)


def active_cell(page) -> int:
    """The index of the notebook's active cell."""
    return page.evaluate("""sel => [...document.querySelectorAll(sel)]
        .findIndex(c => c.classList.contains('jp-mod-active'))""", CELLS)


def cell_count(page) -> int:
    return page.locator(CELLS).count()


def execution_count(page, index: int) -> int:
    """The number in cell ``index``'s prompt, once the cell has finished."""
    prompt = page.locator(CELLS).nth(index).locator('.jp-InputPrompt')
    expect(prompt).to_have_text(re.compile(r'\[\d+\]'), timeout=CELL_TIMEOUT)
    return int(re.search(r'\[(\d+)\]', prompt.inner_text()).group(1))


def run_cells(page, first: int, count: int = 1) -> None:
    """Run ``count`` cells from cell ``first`` with Shift+Enter, as a user
    would: click into the first one, then press Shift+Enter once per cell,
    each time after the front end has made that cell the active one (a click
    during layout or a key pressed too early would run another cell)."""
    cells = page.locator(CELLS)
    target = cells.nth(first)
    target.scroll_into_view_if_needed()
    target.locator('.jp-InputArea-editor').click()
    expect(target).to_have_class(re.compile(r'\bjp-mod-active\b'), timeout=UI_TIMEOUT)
    for index in range(first, first + count):
        expect(cells.nth(index)).to_have_class(re.compile(r'\bjp-mod-active\b'),
                                               timeout=UI_TIMEOUT)
        page.keyboard.press('Shift+Enter')
        # queued or started: the prompt turns from "[ ]:" to "[*]:" or "[n]:"
        expect(cells.nth(index).locator('.jp-InputPrompt')).not_to_have_text(
            re.compile(r'^\s*\[ \]:\s*$'), timeout=UI_TIMEOUT)


def run_cell_at_top(page, index: int) -> float:
    """Scroll cell ``index`` to the top of the notebook's view (the cells
    above it, the panel's among them, out of view), run it with Shift+Enter
    and wait for it to finish; return where it was on the screen (its y)
    when it started, to compare with where it is now."""
    cell = page.locator(CELLS).nth(index)
    cell.evaluate('e => e.scrollIntoView({block: "start"})')
    cell.locator('.jp-InputArea-editor').click()
    expect(cell).to_have_class(re.compile(r'\bjp-mod-active\b'), timeout=UI_TIMEOUT)
    y = cell.bounding_box()['y']
    page.keyboard.press('Shift+Enter')
    execution_count(page, index)
    return y


# -- the panel's tree -----------------------------------------------------------------------

#: Each row of the tree: key, text (spaces normalized), level, open?, selected?
_ROWS_JS = """sel => [...document.querySelectorAll(sel)].map(r => ({
    key: r.dataset.key,
    text: r.textContent.replace(/\\s+/g, ' ').trim(),
    level: Number(r.getAttribute('aria-level')),
    expanded: r.getAttribute('aria-expanded'),
    selected: r.getAttribute('aria-selected') === 'true',
}))"""


def tree_rows(page) -> list[dict]:
    return page.evaluate(_ROWS_JS, ROWS)


def row_texts(page) -> list[str]:
    return [row['text'] for row in tree_rows(page)]


def wait_for_rows(page, js_predicate: str, what: str, timeout: float = UI_TIMEOUT) -> list[str]:
    """Wait until ``js_predicate(texts)`` holds, ``texts`` being the rows'
    texts (spaces normalized); return them."""
    return _wait_for_texts(page, ROWS, "e.textContent.replace(/\\s+/g, ' ').trim()",
                           js_predicate, what, lambda: row_texts(page), timeout)


def _wait_for_texts(page, selector: str, text_js: str, js_predicate: str, what: str,
                    read: Callable[[], list[str]], timeout: float) -> list[str]:
    """Wait until ``js_predicate(texts)`` holds, ``texts`` being ``text_js``
    (an expression of ``e``) of each element ``selector`` finds; return
    ``read()``, or fail saying what was there instead."""
    script = f"""sel => {{
        const rows = [...document.querySelectorAll(sel)].map(e => {text_js});
        return ({js_predicate})(rows);
    }}"""
    try:
        page.wait_for_function(script, arg=selector, timeout=timeout)
    except sync_api.TimeoutError:
        pytest.fail(f'{what}: not seen in {timeout / 1000:.0f} s; rows are '
                    f'{read()!r}\n{cell_outputs(page)}')
    return read()


def has_row(text: str) -> str:
    """A predicate: some row reads ``text``."""
    return f'rows => rows.includes({json.dumps(text)})'


def row(page, key: str):
    """The locator of the row with ``data-key`` ``key``."""
    return page.locator(f'{ROWS}[data-key={json.dumps(key)}]')


def click_row(page, key: str) -> None:
    target = row(page, key)
    expect(target).to_have_count(1)
    target.click()


def set_open(page, scope: str, opened: bool = True) -> None:
    """Open (or close) a scope by clicking its row, unless it already is."""
    target = row(page, 'scope:' + scope)
    expect(target).to_have_count(1)
    state = 'true' if opened else 'false'
    if target.get_attribute('aria-expanded') != state:
        target.scroll_into_view_if_needed()
        target.click()
    expect(target).to_have_attribute('aria-expanded', state)


def expect_selected(page, key: str) -> None:
    expect(row(page, key)).to_have_attribute('aria-selected', 'true')
    expect(page.locator(f'{ROWS}[aria-selected="true"]')).to_have_count(1)


def expect_details_of(page, name: str) -> None:
    expect(page.locator(DETAILS).locator('b').first).to_have_text(name, timeout=UI_TIMEOUT)


def details_table(page) -> dict[str, str]:
    """The selected variable's columns in the details: name -> value."""
    return page.evaluate("""sel => Object.fromEntries(
        [...document.querySelectorAll(sel + ' table.tfmagic-columns tr')]
            .map(tr => [tr.querySelector('th').textContent,
                        tr.querySelector('td').textContent]))""", DETAILS)


def parts_table(page) -> list[list[str]]:
    """The rows of a partitioned variable's parts in the details, header first."""
    return page.evaluate("""sel => [...document.querySelectorAll(sel + ' table.tfmagic-parts tr')]
        .map(tr => [...tr.cells].map(c => c.textContent))""", DETAILS)


def focus_inside_tree(page) -> bool:
    return page.evaluate("sel => !!document.activeElement?.closest(sel)", TREE)


def options(page, selector: str) -> list[str]:
    """The texts of a ``select``'s options (ipywidgets shows spaces as U+00A0)."""
    return page.evaluate("""sel => [...document.querySelectorAll(sel)]
        .map(o => o.textContent.replace(/\\u00a0/g, ' '))""", selector)


def wait_for_options(page, selector: str, js_predicate: str, what: str,
                     timeout: float = UI_TIMEOUT) -> list[str]:
    """Wait until ``js_predicate(rows)`` (rows: the option texts, plain
    spaces) holds in the page; return the rows."""
    return _wait_for_texts(page, selector, "e.textContent.replace(/\\u00a0/g, ' ')",
                           js_predicate, what, lambda: options(page, selector), timeout)


# -- Save and Restore, watched ----------------------------------------------------------------

#: Records, on every change in the checkpoints box, whether the Save button
#: is disabled and the box's message (class and text), in window.__ckptStates.
_WATCH_JS = """sel => {
    const box = document.querySelector(sel);
    const state = () => {
        const message = box.querySelector('.tfmagic-busy, .tfmagic-ok, .tfmagic-error');
        return {
            disabled: [...box.querySelectorAll('button, select')].map(b => b.disabled),
            prefixDisabled: box.querySelector('input[type="text"]').disabled,
            message: message ? message.className + ': ' + message.textContent : '',
        };
    };
    window.__ckptObserver?.disconnect();
    window.__ckptStates = [state()];
    window.__ckptObserver = new MutationObserver(() => window.__ckptStates.push(state()));
    window.__ckptObserver.observe(box, {subtree: true, childList: true, attributes: true,
                                        characterData: true});
}"""


def watch_checkpoints(page) -> None:
    page.evaluate(_WATCH_JS, CHECKPOINTS)


def watched_states(page) -> list[dict]:
    return page.evaluate('() => window.__ckptStates')


def click_and_watch(page, button: str, done: re.Pattern) -> list[dict]:
    """Click Save or Restore with the checkpoints box watched; wait for a
    result message matching ``done``; the states the box went through."""
    box = page.locator(CHECKPOINTS)
    watch_checkpoints(page)
    box.locator('button', has_text=button).click()
    expect(box.locator('.tfmagic-ok, .tfmagic-error')).to_have_text(done, timeout=UI_TIMEOUT)
    for control in ('button >> nth=0', 'button >> nth=1', 'select', 'input[type="text"]'):
        expect(box.locator(control)).to_be_enabled()
    return watched_states(page)


def assert_feedback(states: list[dict], doing: str) -> None:
    """A state had every control (buttons, checkpoint list, prefix box)
    disabled and a busy message starting with ``doing``; the last has them
    enabled again and a result instead."""
    busy = [s for s in states if s['message'].startswith('tfmagic-busy: ' + doing)]
    assert busy, f'no "{doing}" message was shown: {states}'
    assert any(all(s['disabled']) and s['prefixDisabled'] for s in busy), \
        f'the buttons were not disabled while "{doing}": {states}'
    last = states[-1]
    assert not any(last['disabled']) and not last['prefixDisabled'], states
    assert not last['message'].startswith('tfmagic-busy'), states


# -- layout ----------------------------------------------------------------------------------

#: What sticks out of the panel's boxes: a box wider inside than outside
#: (it would get a scroll bar; headless Chromium hides them, a user's browser
#: shows them), or a child whose right edge is past its box's.
_OVERFLOWS_JS = """sel => {
    const panel = document.querySelector(sel);
    const boxes = [panel, ...panel.querySelectorAll('.widget-box, .tfmagic-treeview')];
    const edge = e => Math.round(e.getBoundingClientRect().right);
    const out = [];
    for (const box of boxes) {
        const classes = box.className.split(' ');
        const name = '.' + (classes.find(c => c.startsWith('tfmagic-'))
                            || classes.find(c => /^widget-[hv]box$/.test(c)));
        if (box.scrollWidth > box.clientWidth)
            out.push(`${name}: scrollWidth ${box.scrollWidth} > clientWidth ${box.clientWidth}`);
        for (const child of box.children) {
            if (edge(child) > edge(box)) {
                const what = child.querySelector('input, select')?.tagName.toLowerCase()
                    || child.dataset.key || child.className;
                out.push(`${name}: child ${what} (${child.style.width || 'auto'} wide) ends at `
                         + `x=${edge(child)}, past the box's right edge x=${edge(box)}`);
            }
        }
    }
    return out;
}"""


def assert_fits(page) -> None:
    """No part of the panel sticks out of the box it lies in."""
    overflows = page.evaluate(_OVERFLOWS_JS, PANEL)
    assert not overflows, 'the panel overflows its boxes:\n' + '\n'.join(overflows)


def name_x(page, key: str) -> float:
    """Where the name of row ``key`` starts, in pixels from the page's left."""
    box = row(page, key).locator('.tfmagic-name').bounding_box()
    assert box, f'row {key} is not shown'
    return box['x']


def in_view(page, locator) -> bool:
    """Whether ``locator`` is at least partly inside the notebook's visible area."""
    return locator.evaluate("""(e, sel) => {
        const r = e.getBoundingClientRect();
        const scroller = e.closest(sel).getBoundingClientRect();
        return r.bottom > scroller.top && r.top < scroller.bottom;
    }""", '.jp-WindowedPanel-outer')


# -- the keyboard ------------------------------------------------------------------------------


def press(page, key: str) -> None:
    """Press ``key`` in the focused tree; the focus must stay in the tree."""
    page.keyboard.press(key)
    assert focus_inside_tree(page), f'{key} moved the focus out of the tree'


def check_tree_keys(page) -> None:
    """The arrow keys, Enter, Home and End move in the tree as in a file tree
    (the tree's state: ``layer1/`` open with ``b`` and ``w``, then
    ``layer2/`` closed, with ``bias`` and ``kernel``) and never reach the
    notebook: its active cell stays, no cell is added, the focus stays."""
    set_open(page, 'layer1')
    set_open(page, 'layer2', False)
    click_row(page, 'var:layer1/b')
    expect_selected(page, 'var:layer1/b')
    expect_details_of(page, 'layer1/b')
    assert focus_inside_tree(page), page.evaluate('document.activeElement.outerHTML')
    # the notebook is in command mode, where a and the arrows are its shortcuts
    expect(page.locator('.jp-Notebook')).to_have_class(re.compile(r'\bjp-mod-commandMode\b'))
    cell, cells = active_cell(page), cell_count(page)
    assert cell >= 0

    press(page, 'ArrowDown')
    expect_selected(page, 'var:layer1/w')
    expect_details_of(page, 'layer1/w')
    press(page, 'ArrowUp')
    expect_selected(page, 'var:layer1/b')
    expect_details_of(page, 'layer1/b')
    press(page, 'ArrowDown')
    press(page, 'ArrowDown')
    expect_selected(page, 'scope:layer2')
    expect(page.locator(DETAILS)).to_contain_text('2 variables in it and below')
    layer2 = row(page, 'scope:layer2')
    expect(layer2).to_have_attribute('aria-expanded', 'false')
    # Right opens a closed scope, and on an open one goes to its first child
    press(page, 'ArrowRight')
    expect(layer2).to_have_attribute('aria-expanded', 'true')
    expect(row(page, 'var:layer2/bias')).to_have_attribute('aria-level', '2')
    expect_selected(page, 'scope:layer2')
    press(page, 'ArrowRight')
    expect_selected(page, 'var:layer2/bias')
    expect_details_of(page, 'layer2/bias')
    # Left on a variable goes to its scope, on an open scope closes it
    press(page, 'ArrowLeft')
    expect_selected(page, 'scope:layer2')
    press(page, 'ArrowLeft')
    expect(layer2).to_have_attribute('aria-expanded', 'false')
    expect(row(page, 'var:layer2/bias')).to_have_count(0)
    # Enter opens and closes too
    press(page, 'Enter')
    expect(layer2).to_have_attribute('aria-expanded', 'true')
    press(page, 'Enter')
    expect(layer2).to_have_attribute('aria-expanded', 'false')
    # Home and End: the first and the last row
    keys = [r['key'] for r in tree_rows(page)]
    press(page, 'End')
    expect_selected(page, keys[-1])
    press(page, 'Home')
    expect_selected(page, keys[0])
    # a letter that is a notebook shortcut (a: insert a cell above) does nothing
    press(page, 'a')
    press(page, 'ArrowDown')
    expect_selected(page, keys[1])
    assert cell_count(page) == cells, 'a key pressed in the tree inserted a cell'
    assert active_cell(page) == cell, \
        f'keys pressed in the tree moved the active cell from {cell} to {active_cell(page)}'
