"""Shared fixtures: one real IPython shell with tfmagic loaded for the session.

Tests are in tiers (pytest markers, see pyproject.toml): ``kernel``,
``browser`` and ``wheel`` tests say so; every other test is a ``shell`` test,
run against the real InteractiveShell here (``pytest -m shell`` is the fast
inner loop).
"""

from __future__ import annotations

import os

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import pytest
import tensorflow as tf  # noqa: F401  (imported once, after the log level above)

import tfmagic
from tests.shell import MODEL, make_shell, ok

TIERS = ('shell', 'kernel', 'browser', 'wheel')


def pytest_collection_modifyitems(items):
    for item in items:
        if not any(item.get_closest_marker(tier) for tier in TIERS):
            item.add_marker(pytest.mark.shell)


@pytest.fixture(scope='session')
def shell():
    return make_shell()


@pytest.fixture
def ip(shell):
    """The shell with tfmagic loaded, a fresh graph and default settings."""
    if 'tfmagic' not in shell.extension_manager.loaded:
        shell.run_line_magic('load_ext', 'tfmagic')
    ok(shell, '%tfreset')
    shell.run_line_magic('config', 'TFMagic.auto_init = True')
    return shell


@pytest.fixture
def model(ip, tmp_path, monkeypatch):
    """The shell in a temporary working directory, with :data:`MODEL` built."""
    monkeypatch.chdir(tmp_path)
    ok(ip, MODEL)
    return ip


@pytest.fixture
def ws(ip):
    return tfmagic.workspace()
