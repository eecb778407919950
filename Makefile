# The whole setup: `make lab` to explore the lessons, `make test` to run the suite.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Jupyter refuses to run as root unless told to (containers, CI machines).
ROOT_FLAG := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)

# The minimum-versions tier: the oldest Python we claim (requires-python) where
# the machine has it (pyenv's builds, or python3.10 on PATH), else $(PYTHON),
# and every runtime dependency pinned to its declared floor.
PYTHON_MIN ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.10*/bin/python3.10 \
                /usr/bin/python3.10 /usr/local/bin/python3.10) $(PYTHON))
VENV_MIN   ?= .venv-min
PY_MIN     := $(VENV_MIN)/bin/python
STAMP_MIN  := $(VENV_MIN)/.installed

.PHONY: lab test test-min test-wheel lint bench chromium graphviz clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -e '.[lab,test]'
	touch $@

# Debian's Chromium for the browser tests (Playwright drives /usr/bin/chromium;
# it never downloads a browser of its own).
chromium:
	@command -v chromium >/dev/null 2>&1 || \
	  { $(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends chromium; }

# Graphviz's dot lays out %tfgraph's pictures: Debian's package, as for chromium.
graphviz:
	@command -v dot >/dev/null 2>&1 || \
	  { $(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends graphviz; }

lab: $(STAMP) graphviz
	$(VENV)/bin/jupyter lab --ServerApp.root_dir=notebooks $(ROOT_FLAG)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

test: lint chromium graphviz
	$(PY) -m pytest

$(STAMP_MIN): pyproject.toml constraints-min.txt
	$(PYTHON_MIN) -m venv $(VENV_MIN)
	$(PY_MIN) -m pip install --upgrade pip
	$(PY_MIN) -m pip install -c constraints-min.txt -e . \
	  pytest ipykernel jupyter_client nbclient nbformat nbconvert
	touch $@

# The InteractiveShell and real-kernel tiers with every runtime dependency at
# its declared minimum (constraints-min.txt), on the oldest Python available.
# Not here: the browser tier (no Playwright in this venv), and the check that
# the lessons' committed outputs are current, which are .venv's outputs (older
# pandas lays out a wide table differently); the lessons still run and teach.
test-min: $(STAMP_MIN) graphviz
	@$(PY_MIN) -c 'import sys; print("test-min on Python", sys.version.split()[0])'
	$(PY_MIN) -m pytest -m 'shell or kernel' --ignore=tests/test_panel_browser.py \
	  --ignore=tests/test_panel_notebook7.py \
	  --deselect tests/test_lesson_outputs.py::test_committed_outputs_are_current

# The built wheel (not the editable install) in a clean venv, loaded in a real kernel.
test-wheel: $(STAMP)
	$(PY) -m pytest -m wheel

bench: $(STAMP) graphviz
	$(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) $(VENV_MIN) .pytest_cache build dist *.egg-info
