# ClientForge: `make up` runs it, `make test` tests it, `make lint` checks it.
# Installs go into .venv; a stamp per install kind makes a second run instant until pyproject.toml changes.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUNTIME_STAMP := $(VENV)/.installed-runtime
DEV_STAMP := $(VENV)/.installed-dev
PIP := $(BIN)/python -m pip --disable-pip-version-check
# torch is no dependency of ClientForge; an install that pulls it in (several GB) is a mistake to fix.
NO_TORCH := $(BIN)/python -c "import importlib.util, sys; sys.exit( \
	'torch got installed into $(VENV): ClientForge must not depend on it; see pip show torch (Required-by)' \
	if importlib.util.find_spec('torch') else 0)"

.PHONY: up test lint install install-dev clean-venv

up: $(RUNTIME_STAMP)
	$(BIN)/clientforge up

test: $(DEV_STAMP)
	$(BIN)/python -m pytest --cov=core --cov=api --cov-report=term --cov-fail-under=85

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy core

install: $(RUNTIME_STAMP)

install-dev: $(DEV_STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(RUNTIME_STAMP): pyproject.toml | $(BIN)/python
	$(PIP) install -q -e .
	@$(NO_TORCH)
	@touch $@

# The dev install is a superset of the runtime one, so it satisfies both stamps.
$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(PIP) install -q -e '.[dev]'
	@$(NO_TORCH)
	@touch $@ $(RUNTIME_STAMP)

clean-venv:
	rm -rf $(VENV)
