"""TensorFlow's C++ start-up log stays out of the notebook once tfmagic is
loaded, and nothing else it writes does.

Imported, TensorFlow writes INFO lines to file descriptor 2 (oneDNN's custom
operations, cpu_feature_guard's instruction sets, absl's "before
InitializeLog" banner), which ipykernel forwards into the cell;
``TF_CPP_MIN_LOG_LEVEL`` does not stop the oneDNN one in TF 2.21. tfmagic
imports TensorFlow with fd 2 caught and writes back every other line
(``tfmagic/_tflog.py``).

The kernel tests start their kernels as a learner's: without
``TF_CPP_MIN_LOG_LEVEL``, which conftest.py sets for the test process and
``tests.kernel`` for its kernels, and without ``PYTEST_CURRENT_TEST``, with
which ipykernel would not forward fd 2 at all. Two kernels: one loads tfmagic first, the
other imports TensorFlow alone (the control: the log is there to be seen).
"""

from __future__ import annotations

import os
import time

import pytest

from tests.kernel import Kernel, Result
from tests.lessons import NOT_IN_KERNEL_ENV
from tfmagic import _tflog

#: What the start-up log says, in the words a test can look for.
STARTUP_WORDS = ('oneDNN', 'cpu_feature_guard', 'InitializeLog')


def kernel_without_log_level(cwd) -> Kernel:
    """A :class:`Kernel` with the environment of a lesson's kernel
    (:func:`tests.lessons.kernel_env`): no ``TF_CPP_MIN_LOG_LEVEL`` (neither
    this process's nor ``tests.kernel.QUIET_ENV``'s), and no
    ``PYTEST_CURRENT_TEST``, without which ipykernel forwards what is written
    to file descriptor 2 to the cell, as it does for a learner."""
    return Kernel(cwd, unset=NOT_IN_KERNEL_ENV)


def startup_words(*results: Result) -> list[str]:
    text = ''.join(result.text for result in results)
    return [word for word in STARTUP_WORDS if word in text]


@pytest.fixture(scope='module')
def loaded(tmp_path_factory):
    """A kernel whose first cell is ``%load_ext tfmagic``, then a cell that
    makes a variable and runs the session; their results."""
    k = kernel_without_log_level(tmp_path_factory.mktemp('quiet'))
    try:
        first = k.run('%load_ext tfmagic').check()
        second = k.run('import tensorflow as tf\n'
                       "v = tf.compat.v1.get_variable('v', [1])\n"
                       'tf.compat.v1.get_default_session().run(v)').check()
        yield k, first, second
    finally:
        k.shutdown()


@pytest.fixture(scope='module')
def control(tmp_path_factory):
    """A kernel whose first cell imports TensorFlow, without tfmagic; its
    result (with the next cell's, should the log come late)."""
    k = kernel_without_log_level(tmp_path_factory.mktemp('control'))
    try:
        imported = k.run('import tensorflow').check()
        after = k.run('pass').check()
        yield k, imported, after
    finally:
        k.shutdown()


@pytest.mark.kernel
def test_without_tfmagic_the_startup_log_reaches_the_cell(control):
    """The control: the words the next test looks for are there to be seen."""
    _, imported, after = control
    assert 'oneDNN' in imported.stderr + after.stderr
    assert imported.error is None


@pytest.mark.kernel
def test_loading_tfmagic_keeps_the_startup_log_out(loaded):
    _, first, second = loaded
    assert startup_words(first, second) == []
    assert first.stderr == '' and second.stderr == ''


@pytest.mark.kernel
def test_tfmagic_sets_a_log_level_that_keeps_warnings(loaded):
    """Unset, the level becomes 1: TensorFlow's later INFO lines are dropped,
    its warnings and errors still shown."""
    k, _, _ = loaded
    result = k.run("import os; print(os.environ['TF_CPP_MIN_LOG_LEVEL'])").check()
    assert result.stdout == '1\n'


@pytest.mark.kernel
def test_a_log_level_the_user_set_is_kept(control):
    k, _, _ = control
    result = k.run('%env TF_CPP_MIN_LOG_LEVEL=3\n'
                   '%load_ext tfmagic\n'
                   "import os; print(os.environ['TF_CPP_MIN_LOG_LEVEL'])").check()
    assert result.stdout.splitlines()[-1] == '3'


# -- the filter itself (shell tier) ---------------------------------------------------

ONEDNN = ('I0000 00:00:1795785664.887128   18921 port.cc:153] oneDNN custom operations are '
          'on. You may see slightly different numerical results due to floating-point '
          'round-off errors from different computation orders. To turn them off, set the '
          'environment variable `TF_ENABLE_ONEDNN_OPTS=0`.\n')
BANNER = ('WARNING: All log messages before absl::InitializeLog() is called are written to '
          'STDERR\n')
CPU_GUARD = ('I0000 00:00:1795785664.950000   18921 cpu_feature_guard.cc:227] This TensorFlow '
             'binary is optimized to use available CPU instructions in performance-critical '
             'operations.\n'
             'To enable the following instructions: AVX2 FMA, in other operations, rebuild '
             'TensorFlow with the appropriate compiler flags.\n')
WARNING = ('W0000 00:00:1795785665.001234   18921 gpu_device.cc:2342] Cannot dlopen some GPU '
           'libraries.\n')
ERROR = 'E0000 00:00:1795785665.002345   18921 cuda_executor.cc:1309] failed call to cuInit\n'
ORDINARY = 'an ordinary line, from C or from Python\n'


def test_startup_info_lines_are_dropped_and_the_rest_written_back(capfd):
    with _tflog.startup_info_dropped():
        for text in (BANNER, ONEDNN, WARNING, CPU_GUARD, ORDINARY, ERROR):
            os.write(2, text.encode())
    out, err = capfd.readouterr()
    assert out == ''
    assert err == WARNING + ORDINARY + ERROR


def test_stderr_is_itself_again_after_the_filter(capfd):
    with _tflog.startup_info_dropped():
        pass
    os.write(2, ONEDNN.encode())
    assert capfd.readouterr().err == ONEDNN


def test_the_filter_writes_back_even_if_the_import_fails(capfd):
    with pytest.raises(ImportError), _tflog.startup_info_dropped():
        os.write(2, (ONEDNN + WARNING).encode())
        raise ImportError('no tensorflow')
    assert capfd.readouterr().err == WARNING


def test_a_warning_is_passed_on_at_once_not_when_the_import_ends(capfd):
    """What TensorFlow says just before aborting the process (a fatal
    message) must not wait in a buffer that the abort would lose."""
    with _tflog.startup_info_dropped():
        os.write(2, (ONEDNN + ERROR).encode())
        deadline = time.monotonic() + 10
        seen = ''
        while ERROR not in seen and time.monotonic() < deadline:
            time.sleep(0.01)
            seen += capfd.readouterr().err
        assert seen == ERROR  # already on stderr, inside the import
    assert capfd.readouterr().err == ''
