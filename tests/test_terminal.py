"""tfmagic in terminal IPython: a real `ipython` process shows text tables."""

import subprocess
import sys
from pathlib import Path

SESSION = """\
%load_ext tfmagic
import tensorflow as tf
w = tf.compat.v1.get_variable('w', [2])
%vars
%tfpanel
"""


def test_terminal_ipython_prints_a_text_table(tmp_path):
    ipython = Path(sys.executable).with_name('ipython')
    proc = subprocess.run(
        [str(ipython), '--no-banner', '--simple-prompt', '--colors=nocolor', '--no-confirm-exit'],
        input=SESSION, capture_output=True, text=True, timeout=120, cwd=tmp_path,
        env={'TF_CPP_MIN_LOG_LEVEL': '2', 'PATH': '/usr/bin:/bin', 'HOME': str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert 'Out[4]:' in out
    header = next(line for line in out.splitlines() if 'name' in line and 'scope' in line)
    assert '<table' not in out
    assert header.split()[:3] == ['name', 'scope', 'shape']
    row = next(line for line in out.splitlines() if line.lstrip().startswith('0 '))
    assert row.split()[:4] == ['0', 'w', '(2,)', 'float32']
    # %tfpanel says in one line that it needs Jupyter, then shows %vars.
    panel = out[out.index('Out[4]:') + 1:]
    assert panel.count('tfmagic: %tfpanel needs Jupyter') == 1
    assert 'Out[5]:' in panel and 'VariableBrowser' not in panel
