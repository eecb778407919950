"""In Jupyter, a hint is at the top of the cell's error output, where the user
looks, and TensorFlow's traceback is still all there under it.

One kernel serves the module; every test starts from ``%tfreset``.
"""

from __future__ import annotations

import re

import pytest

from tests.kernel import Kernel, Result, strip_ansi

pytestmark = pytest.mark.kernel

#: The lines of an error output a notebook shows without scrolling.
VISIBLE = 15


@pytest.fixture(scope='module')
def kernel(tmp_path_factory):
    with Kernel(tmp_path_factory.mktemp('hints')) as k:
        k.run('%load_ext tfmagic\nimport tensorflow as tf').check()
        yield k


@pytest.fixture
def k(kernel):
    kernel.run('%tfreset\n%config TFMagic.auto_init = True').check()
    return kernel


def error_lines(result: Result, ename: str) -> list[str]:
    """The cell's error output as a notebook shows it: the ``traceback``
    entries joined by newlines, without colours."""
    assert result.error is not None, f'cell did not fail:\n{result.code}\n{result.text}'
    assert result.error['ename'] == ename, strip_ansi(result.traceback)
    return strip_ansi(result.traceback).splitlines()


def hint_on_top(lines: list[str]) -> str:
    """The hint, checked to start within the visible lines and to be
    followed by the traceback; as one line."""
    start = next(i for i, line in enumerate(lines) if line.startswith('tfmagic: '))
    assert start < VISIBLE, '\n'.join(lines[:VISIBLE])
    end = lines.index('', start)
    assert end - start >= 2, 'the hint lines follow each other, no blank line between'
    assert any('Traceback' in line for line in lines[end:])
    return ' '.join(line.strip() for line in lines[start:end])


def test_already_exists_hint_is_visible_above_tensorflows_traceback(k):
    first = k.run("v = tf.compat.v1.get_variable('v', [1])").check()
    again = k.run("v = tf.compat.v1.get_variable('v', [1])")
    lines = error_lines(again, 'ValueError')
    hint = hint_on_top(lines)
    assert hint.startswith(f'tfmagic: v already exists: get_variable created it in cell '
                           f'[{first.execution_count}].')
    assert 'reuse=tf.compat.v1.AUTO_REUSE' in hint and '%tfreset' in hint
    below = '\n'.join(lines[lines.index(''):])
    assert f'Cell In[{again.execution_count}], line 1' in below
    assert 'variable_scope.py' in below  # TensorFlow's own frames
    assert 'ValueError: Variable v already exists, disallowed.' in below
    assert 'tfmagic: ' not in again.text  # shown once, in the error output


def test_uninitialized_hint_with_auto_init_off_is_visible(k):
    k.run('%config TFMagic.auto_init = False').check()
    k.run("v = tf.compat.v1.get_variable('v', [1])").check()
    result = k.run('tf.compat.v1.get_default_session().run(v)')
    lines = error_lines(result, 'FailedPreconditionError')
    assert len(lines) > 3 * VISIBLE  # a long one: the hint must not be under it
    hint = hint_on_top(lines)
    assert 'with %config TFMagic.auto_init = False, tfmagic does not initialize' in hint
    assert 'sess.run(tf.compat.v1.global_variables_initializer())' in hint
    assert 'next cell' not in hint
    below = '\n'.join(lines[lines.index(''):])
    assert 'session.py' in below and 'Could not find variable v' in below


@pytest.mark.parametrize('code', ['1 +', 'if True:\nx = 1'])
def test_a_syntax_error_looks_as_without_tfmagic(k, code):
    with_hints = k.run(code)
    k.run('%unload_ext tfmagic').check()
    try:
        vanilla = k.run(code)
    finally:
        k.run('%load_ext tfmagic').check()

    def shown(result: Result) -> str:
        return re.sub(r'In\[\d+\]', 'In[N]', strip_ansi(result.traceback))
    assert with_hints.error['ename'] == vanilla.error['ename']
    assert shown(with_hints) == shown(vanilla)
    assert 'interactiveshell.py' not in shown(with_hints)
