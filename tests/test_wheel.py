"""The package as users get it: the wheel and sdist that `python -m build`
makes pass `twine check`, and the wheel installed (not editable) in a clean
venv loads in a real kernel there."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

import tfmagic

pytestmark = pytest.mark.wheel

ROOT = Path(__file__).resolve().parents[1]

#: Run by the clean venv's Python: a notebook executed by nbclient in a kernel
#: of that Python, with tfmagic loaded from site-packages.
NOTEBOOK_CHECK = textwrap.dedent('''\
    import json, sys
    import nbformat
    from nbclient import NotebookClient
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in (
        "%load_ext tfmagic\\nimport tensorflow as tf\\nimport tfmagic\\n"
        "w = tf.compat.v1.get_variable('w', initializer=[1.0, 2.0])",
        "frame = %vars\\npanel = %tfpanel\\nshown = panel._repr_mimebundle_()\\n"
        "print(json.dumps([tfmagic.__version__, tfmagic.__file__, "
        "frame['name'].tolist(), w.eval().tolist(), 'export default' in panel.tree._esm, "
        "'tfmagic-snapshot' in shown['text/html']]))",
    )])
    nb.cells[1].source = 'import json\\n' + nb.cells[1].source
    NotebookClient(nb, timeout=120, kernel_name='python3').execute()
    print(nb.cells[1].outputs[-1]['text'])
''')


def run(*args: str, cwd: Path | None = None) -> str:
    proc = subprocess.run(args, capture_output=True, text=True, cwd=cwd, timeout=600)
    assert proc.returncode == 0, f'{args}\n{proc.stdout}\n{proc.stderr}'
    return proc.stdout


@pytest.fixture(scope='module')
def dist(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp('dist')
    run(sys.executable, '-m', 'build', '--sdist', '--wheel', '--outdir', str(out), str(ROOT))
    return out


def test_wheel_and_sdist_pass_twine_check(dist):
    files = sorted(p.name for p in dist.iterdir())
    assert files == [f'tfmagic-{tfmagic.__version__}-py3-none-any.whl',
                     f'tfmagic-{tfmagic.__version__}.tar.gz']
    run(sys.executable, '-m', 'twine', 'check', '--strict', *map(str, dist.iterdir()))
    wheel = zipfile.ZipFile(next(dist.glob('*.whl')))
    names = wheel.namelist()
    assert 'tfmagic/py.typed' in names
    assert {'tfmagic/static/tree.js', 'tfmagic/static/tree.css'} <= set(names)  # the panel's tree
    assert 'tfmagic/checkpoints/checkpointer.py' in names  # subpackages too
    assert not [n for n in names if n.startswith(('tests/', 'benchmarks/', 'notebooks/'))]
    metadata = wheel.read(f'tfmagic-{tfmagic.__version__}.dist-info/METADATA').decode()
    assert 'License-Expression: MIT' in metadata
    assert 'Classifier: Framework :: IPython' in metadata
    assert 'Classifier: Framework :: Jupyter' in metadata


def test_the_installed_wheel_loads_in_a_real_kernel(dist, tmp_path):
    venv = tmp_path / 'venv'
    run(sys.executable, '-m', 'venv', str(venv))
    python = str(venv / 'bin' / 'python')
    wheel = str(next(dist.glob('*.whl')))
    run(python, '-m', 'pip', 'install', '--quiet', wheel, 'ipykernel', 'nbclient', 'nbformat')
    # The kernel's cwd is tmp_path, so the checkout's tfmagic/ cannot shadow it.
    out = run(python, '-c', NOTEBOOK_CHECK, cwd=tmp_path)
    version, location, names, value, tree_js, snapshot = json.loads(
        out.strip().splitlines()[-1])
    assert version == tfmagic.__version__
    assert location.startswith(str(venv)) and 'site-packages' in location
    assert (names, value) == (['w'], [1.0, 2.0])
    assert tree_js and snapshot  # %tfpanel, with its front end read from the installed package
