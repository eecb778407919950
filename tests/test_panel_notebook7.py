"""``%tfpanel`` in Jupyter Notebook 7 (``python -m notebook``), in Chromium.

The user flow of ``test_panel_browser.py`` against Notebook 7's page (URL
``/notebooks/NB``; its cells are JupyterLab's ``.jp-Cell`` in a
``.jp-Notebook``, in one full-width notebook panel without a file browser),
on the issue's 1366×900 screen: the tree, opening a scope by a click
without moving its row, a variable's details, the keyboard in the tree
without moving Notebook 7's active cell, Save and Restore with feedback and
one count and unit, the filtered view, a later cell that neither scrolls
the notebook nor misaligns top-level variables, and no TensorFlow start-up
lines in the first cell.

Skipped when Playwright or ``/usr/bin/chromium`` is missing (``make chromium``).
"""

from __future__ import annotations

import re

import pytest

from tests.browser import (
    CELL_TIMEOUT,
    CELLS,
    CHECKPOINTS,
    CKPT_OPTIONS,
    DETAILS,
    MODEL_CELLS,
    PANEL,
    SUMMARY,
    TREE,
    UI_TIMEOUT,
    assert_feedback,
    assert_fits,
    check_tree_keys,
    chromium,
    chromium_or_skip,
    click_and_watch,
    click_row,
    details_table,
    execution_count,
    expect,
    expect_details_of,
    expect_selected,
    has_row,
    in_view,
    name_x,
    open_notebook,
    options,
    row,
    run_cell_at_top,
    run_cells,
    start_server,
    stop_server,
    tree_rows,
    wait_for_options,
    wait_for_rows,
    wait_for_server,
    write_notebook,
)

pytestmark = pytest.mark.browser

NOTEBOOK = 'panel.ipynb'
SCREEN = {'width': 1366, 'height': 900}
TEST_CELLS = [
    *MODEL_CELLS,
    '%tfpanel',
    # run later: an int64 variable at the top level, and a new scope
    'step = tf.compat.v1.train.get_or_create_global_step()\n'
    "with tf.compat.v1.variable_scope('layer3'):\n"
    "    v = tf.compat.v1.get_variable('v', initializer=tf.fill([5], 2.0))",
    '',  # where Shift+Enter goes from the cell above: no new cell, no scrolling to it
]
PANEL_CELL, LATER_CELL = 4, 5


@pytest.fixture(scope='module')
def notebook7(tmp_path_factory):
    """A Notebook 7 server on 127.0.0.1 whose root holds the test notebook."""
    chromium_or_skip()
    base = tmp_path_factory.mktemp('notebook7')
    root = base / 'root'
    root.mkdir()
    write_notebook(root / NOTEBOOK, TEST_CELLS)
    server = start_server('notebook', base, root)
    try:
        wait_for_server(server)
        yield server
    finally:
        stop_server(server)


@pytest.fixture(scope='module')
def page(notebook7):
    """The notebook open in Notebook 7, every cell up to the panel's run."""
    with chromium() as browser:
        context = browser.new_context(viewport=SCREEN)
        try:
            page = context.new_page()
            page.set_default_timeout(UI_TIMEOUT)
            open_notebook(page, notebook7, NOTEBOOK, len(TEST_CELLS))
            # Notebook 7's own page: no JupyterLab shell around the notebook
            expect(page.locator('#main-panel .jp-NotebookPanel')).to_have_count(1)
            expect(page.locator('.jp-FileBrowser')).to_have_count(0)
            run_cells(page, 0, PANEL_CELL + 1)
            wait_for_rows(page, has_row('▸ layer2/ 2 variables'), 'the panel and its tree',
                          timeout=CELL_TIMEOUT)
            yield page
        finally:
            context.close()


def test_no_tensorflow_start_up_lines_in_the_first_cell(page, notebook7):
    assert 'TF_CPP_MIN_LOG_LEVEL' not in notebook7.env
    assert execution_count(page, 0) == 1
    output = page.locator(CELLS).first.locator('.jp-OutputArea').inner_text()
    assert 'oneDNN' not in output and 'cpu_feature_guard' not in output, output


def test_tree_and_details_in_notebook7(page):
    expect(page.locator(CELLS).nth(PANEL_CELL).locator(PANEL)).to_have_count(1)
    rows = tree_rows(page)
    assert [(r['text'], r['level'], r['expanded']) for r in rows] == [
        ('▸ layer1/ 2 variables', 1, 'false'), ('▸ layer2/ 2 variables', 1, 'false')], rows
    expect(page.locator(SUMMARY)).to_have_text('4 variables in 2 scopes')

    # a click opens layer1, whose row stays where it was
    layer1 = row(page, 'scope:layer1')
    layer1.scroll_into_view_if_needed()
    before = layer1.bounding_box()
    layer1.click()
    rows = wait_for_rows(page, has_row('▾ layer1/ 2 variables'), 'layer1 open')
    assert rows == ['▾ layer1/ 2 variables', '⊘ b [3] float32 tf.Variable cell 2',
                    '↻ w [3, 3] float32 get_variable cell 2 shared ×1',
                    '▸ layer2/ 2 variables'], rows
    assert layer1.bounding_box()['y'] == pytest.approx(before['y'], abs=2)
    assert [r['level'] for r in tree_rows(page)] == [1, 2, 2, 1]

    # w's details: its statistics and histogram
    click_row(page, 'var:layer1/w')
    expect_selected(page, 'var:layer1/w')
    expect_details_of(page, 'layer1/w')
    table = details_table(page)
    assert (table['shape'], table['min'], table['max'], table['reused_in']) == \
        ('(3, 3)', '-1.5', '3.5', '[4]'), table
    histogram = page.locator(DETAILS + ' svg.tfmagic-histogram')
    expect(histogram.locator('rect')).to_have_count(24)
    w = row(page, 'var:layer1/w')
    expect(w.locator('.tfmagic-mark')).to_have_attribute('title', re.compile('shared'))
    expect(w.locator('.tfmagic-shared')).to_have_attribute('title', re.compile('reused 1 time'))
    assert_fits(page)


def test_the_arrow_keys_move_in_the_tree_not_in_the_notebook(page):
    check_tree_keys(page)


def test_save_and_restore_show_that_they_work(page, notebook7):
    states = click_and_watch(page, 'Save', re.compile(r'^Saved '))
    assert_feedback(states, 'Saving checkpoints/model…')
    message = page.locator(CHECKPOINTS + ' .tfmagic-ok').inner_text()
    size = r'(\d+(?:\.\d)? [KMGT]B)'
    saved = re.fullmatch(rf'Saved (\d+) variables \({size}\) to checkpoints/model\.', message)
    assert saved, message
    wait_for_options(page, CKPT_OPTIONS, 'rows => rows.length === 1', 'the saved checkpoint')
    listed = re.fullmatch(rf'checkpoints/model  (\d+) variables  {size}  \(latest\)',
                          options(page, CKPT_OPTIONS)[0])
    assert listed, options(page, CKPT_OPTIONS)
    assert (saved[1], saved[2]) == (listed[1], listed[2]) and saved[1] == '4', (message, listed)
    assert (notebook7.root / 'checkpoints' / 'model.index').exists()

    page.locator(CHECKPOINTS + ' select').select_option(index=0)
    states = click_and_watch(page, 'Restore',
                             re.compile(r'^Restored 4 variables from checkpoints/model\.$'))
    assert_feedback(states, 'Restoring checkpoints/model…')


def test_the_filtered_view_counts_and_opens(page):
    filter_box = page.locator(PANEL + ' input[placeholder^="filter:"]')
    summary = page.locator(SUMMARY)
    filter_box.fill('layer*/b*')
    expect(summary).to_have_text('2 of 4 variables match layer*/b*')
    rows = wait_for_rows(page, 'rows => rows.length === 4', 'the filtered tree')
    assert rows[0::2] == ['▾ layer1/ 1 of 2 variables', '▾ layer2/ 1 of 2 variables'], rows
    layer1 = row(page, 'scope:layer1')
    layer1.click()
    expect(layer1).to_have_attribute('aria-expanded', 'false')
    wait_for_rows(page, 'rows => rows.length === 3', 'layer1 closed in the filtered view')
    expect(row(page, 'var:layer1/b')).to_have_count(0)
    layer1.click()
    expect(layer1).to_have_attribute('aria-expanded', 'true')
    wait_for_rows(page, 'rows => rows.length === 4', 'layer1 open again')
    filter_box.fill('')
    expect(summary).to_have_text('4 variables in 2 scopes')


def test_a_later_cell_updates_the_panel_in_place(page):
    """The panel follows a later cell without scrolling the notebook to its
    selection; the new top-level variable's name lines up with the scopes'."""
    click_row(page, 'var:layer1/w')
    expect_selected(page, 'var:layer1/w')
    y = run_cell_at_top(page, LATER_CELL)
    cell = execution_count(page, LATER_CELL)
    wait_for_rows(page, has_row(f'global_step [] int64 get_variable cell {cell}'),
                  'global_step after the later cell', timeout=CELL_TIMEOUT)
    assert not in_view(page, row(page, 'var:layer1/w')), \
        'the panel scrolled the notebook to its selection'
    assert page.locator(CELLS).nth(LATER_CELL).bounding_box()['y'] == pytest.approx(y, abs=2)
    expect(page.locator(SUMMARY)).to_have_text('6 variables in 3 scopes')

    page.locator(TREE).scroll_into_view_if_needed()
    assert abs(name_x(page, 'var:global_step') - name_x(page, 'scope:layer1')) <= 1
    assert name_x(page, 'var:layer1/b') >= name_x(page, 'scope:layer1') + 10
    click_row(page, 'var:global_step')
    expect_details_of(page, 'global_step')
    table = details_table(page)
    assert (table['min'], table['max']) == ('0', '0'), table
    expect(page.locator(DETAILS + ' svg.tfmagic-histogram text')).to_have_text('one value: 0')
