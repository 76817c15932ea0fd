# ClientForge: `make up` runs it, `make test` tests it, `make lint` checks it.
# Tests run in two processes (pytest-xdist, a module per process at a time), each with its own embedded PostgreSQL
# and Redis: on 2 cores the database's work overlaps the other process's Python.
# Installs go into .venv; a stamp per install kind makes a second run instant until pyproject.toml changes.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUNTIME_STAMP := $(VENV)/.installed-runtime
DEV_STAMP := $(VENV)/.installed-dev
PIP := $(BIN)/python -m pip --disable-pip-version-check
# torch must be the CPU build pinned in pyproject.toml (pip takes it from this machine's disk); a CUDA build
# (several GB, pulled in by an unpinned requirement) is a mistake to fix.
CPU_TORCH := $(BIN)/python -c "import importlib.metadata as m, sys; v = m.version('torch'); sys.exit( \
	None if v.endswith('+cpu') and not any(d.metadata['Name'].startswith('nvidia-') for d in m.distributions()) \
	else f'torch {v} in $(VENV) is not the pinned CPU build: see pip show torch (Required-by)')"

.PHONY: up test lint install install-dev clean-venv

up: $(RUNTIME_STAMP)
	$(BIN)/clientforge up

test: $(DEV_STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadfile --cov=core --cov=api --cov-report=term --cov-fail-under=85

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy core

install: $(RUNTIME_STAMP)

install-dev: $(DEV_STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(RUNTIME_STAMP): pyproject.toml | $(BIN)/python
	$(PIP) install -q -e .
	@$(CPU_TORCH)
	@touch $@

# The dev install is a superset of the runtime one, so it satisfies both stamps.
$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(PIP) install -q -e '.[dev]'
	@$(CPU_TORCH)
	@touch $@ $(RUNTIME_STAMP)

clean-venv:
	rm -rf $(VENV)
