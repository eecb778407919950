"""A real InteractiveShell, and running notebook-style cells in it; shared
by the tests and the benchmarks."""

import contextlib

import tensorflow as tf
from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config

#: A small model for the checkpoint tests: a get_variable and a tf.Variable
#: (net/w, float32 [2, 2]; net/b, int32 [3]), with values that show a restore.
MODEL = ("%%tfscope net\n"
         "w = tf.compat.v1.get_variable('w', initializer=[[1.0, 2.0], [3.0, 4.0]])\n"
         "b = tf.compat.v1.Variable([5, 6, 7], name='b')")


#: A notebook's training cell: a model, its optimizer, and three steps, all
#: in the cell that builds them.
TRAIN = '''\
x = tf.compat.v1.placeholder(tf.float32, [None, 2])
y = tf.compat.v1.placeholder(tf.float32, [None, 1])
with tf.compat.v1.variable_scope('enc'):
    W = tf.compat.v1.get_variable('W', [2, 1])
loss = tf.reduce_mean((tf.matmul(x, W) - y) ** 2)
step = tf.compat.v1.train.get_or_create_global_step()
train = tf.compat.v1.train.AdamOptimizer(0.1).minimize(loss, global_step=step)
sess = tf.compat.v1.get_default_session()
[sess.run(train, {x: [[1.0, 2.0]], y: [[3.0]]}) for _ in range(3)]
'''


def make_shell() -> InteractiveShell:
    """The process's InteractiveShell, set up as the tests and benchmarks use
    it: plain tracebacks without colours, history in memory (nothing written
    under ~/.ipython), TensorFlow and tfmagic imported (not loaded)."""
    config = Config()
    config.HistoryManager.hist_file = ':memory:'
    shell = InteractiveShell.instance(config=config)
    shell.run_line_magic('colors', 'nocolor')
    shell.run_line_magic('xmode', 'Plain')
    ok(shell, 'import tensorflow as tf\nimport tfmagic')
    return shell


@contextlib.contextmanager
def namespace_kept(shell, mode: str | None = None, code: str = ''):
    """The shell in ``mode`` (``%tfmode``) with ``code`` run in its namespace
    (definitions only: a plain ``exec``, not a cell); afterwards the names
    defined meanwhile are gone, the earlier ones are back, and so is graph
    mode."""
    before = {k: v for k, v in shell.user_ns.items() if not k.startswith('_')}
    if mode:
        ok(shell, f'%tfmode {mode}')
    try:
        if code:
            exec(code, shell.user_ns)
        yield shell
    finally:
        for name in [k for k in shell.user_ns if not k.startswith('_')]:
            if name not in before:
                del shell.user_ns[name]
        shell.user_ns.update(before)
        if mode and mode != 'graph':
            ok(shell, '%tfmode graph')


def run(shell, code: str):
    """Run ``code`` as a notebook cell (numbered, with the cell events)."""
    return shell.run_cell(code, store_history=True)


def ok(shell, code: str):
    """Run a cell that must succeed; return its displayed value."""
    result = run(shell, code)
    assert result.success, repr(result.error_in_exec or result.error_before_exec)
    return result.result


def ops_count(graph: tf.Graph) -> int:
    return len(graph.get_operations())
