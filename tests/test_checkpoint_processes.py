"""Checkpoints across processes: plain-Saver interop both ways, and a kernel
killed in the middle of a large save, all with real kernels."""

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.kernel import Kernel

SETUP = "%load_ext tfmagic\nimport numpy as np\nimport tensorflow as tf"

# The article's "Loading a Model", in Python 3 with tf.compat.v1.
PLAIN_LOAD = """
import tensorflow as tf
tf.compat.v1.disable_eager_execution()
a = tf.compat.v1.get_variable('a', [])
b = tf.compat.v1.get_variable('b', [])
saver = tf.compat.v1.train.Saver()
sess = tf.compat.v1.Session()
saver.restore(sess, tf.train.latest_checkpoint({directory!r}))
print([float(x) for x in sess.run([a, b])])
"""

# The article's "Saving a Model".
PLAIN_SAVE = """
import tensorflow as tf
tf.compat.v1.disable_eager_execution()
a = tf.compat.v1.get_variable('a', [], initializer=tf.compat.v1.constant_initializer(1.25))
b = tf.compat.v1.get_variable('b', [], initializer=tf.compat.v1.constant_initializer(-2.5))
init = tf.compat.v1.global_variables_initializer()
saver = tf.compat.v1.train.Saver()
sess = tf.compat.v1.Session()
sess.run(init)
saver.save(sess, {prefix!r})
"""


def plain_python(code: str, cwd) -> str:
    proc = subprocess.run([sys.executable, '-c', code], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env={**os.environ, 'TF_CPP_MIN_LOG_LEVEL': '3'})
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture(scope='module')
def kernel(tmp_path_factory):
    cwd = tmp_path_factory.mktemp('kernel')
    with Kernel(cwd) as k:
        k.run(SETUP).check()
        yield k


@pytest.mark.kernel
def test_saveckpt_restores_with_a_plain_saver_in_another_process(kernel):
    kernel.run('%tfreset').check()
    kernel.run("a = tf.compat.v1.get_variable('a', initializer=3.5)\n"
               "b = tf.compat.v1.get_variable('b', initializer=-1.0)").check()
    saved = kernel.run('%saveckpt interop/tftcp.model').check()
    assert saved.stdout.startswith('Saved 2 variables')
    files = sorted(os.listdir(kernel.cwd / 'interop'))
    assert files == ['checkpoint', 'tftcp.model.data-00000-of-00001', 'tftcp.model.index',
                     'tftcp.model.meta']
    out = plain_python(PLAIN_LOAD.format(directory='interop'), kernel.cwd)
    assert out.strip() == '[3.5, -1.0]'


@pytest.mark.kernel
def test_a_plain_saver_checkpoint_from_another_process_restores_with_restoreckpt(kernel):
    plain_python(PLAIN_SAVE.format(prefix='plain/tftcp.model'), kernel.cwd)
    kernel.run('%tfreset').check()
    kernel.run("a = tf.compat.v1.get_variable('a', [])\n"
               "b = tf.compat.v1.get_variable('b', [])").check()
    out = kernel.run('%restoreckpt plain').check()
    assert out.stdout.strip() == 'Restored 2 variables from plain/tftcp.model.'
    values = kernel.run('print([float(x) for x in tf.compat.v1.get_default_session().run([a, b])])'
                        ).check()
    assert values.stdout.strip() == '[1.25, -2.5]'


BIG = ("vs = [tf.compat.v1.get_variable(f'v{i}', initializer=tf.fill([40_000_000], float(i)))\n"
       "      for i in range(3)]")
CHECK = ("sess = tf.compat.v1.get_default_session()\n"
         "print(all(bool(np.all(sess.run(v) == i)) for i, v in enumerate(vs)))")


@pytest.mark.kernel
def test_a_kernel_killed_mid_save_leaves_the_previous_checkpoint_valid(tmp_path):
    with Kernel(tmp_path, timeout=180) as k:
        k.run(SETUP).check()
        k.run(BIG).check()
        k.run('%saveckpt ck/big --step 1').check()
        k.run("sess = tf.compat.v1.get_default_session()\n"
              "sess.run([v.assign(v + 100.0) for v in vs])").check()
        k.kc.execute('%saveckpt ck/big --step 2')
        deadline = time.monotonic() + 120
        while not any('tempstate' in name for name in os.listdir(tmp_path / 'ck')):
            assert time.monotonic() < deadline, 'the second save never started writing'
            time.sleep(0.002)
        k.km.signal_kernel(signal.SIGKILL)  # what the OOM killer or a crash does
    names = os.listdir(tmp_path / 'ck')
    assert 'big-2.index' not in names
    state = (tmp_path / 'ck' / 'checkpoint').read_text()
    assert state.splitlines()[0] == 'model_checkpoint_path: "big-1"'
    with Kernel(tmp_path, timeout=180) as k:
        k.run(SETUP).check()
        k.run('%config TFMagic.auto_init = False').check()
        k.run(BIG).check()
        listing = k.run('frame = %ckpts ck\n'
                        "print(frame[['prefix', 'latest']].to_dict('list'))").check()
        assert listing.stdout.strip() == "{'prefix': ['ck/big-1'], 'latest': [True]}"
        k.run("%restoreckpt ck").check()
        assert k.run(CHECK).check().stdout.strip() == 'True'
