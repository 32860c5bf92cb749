# Two entry points for a fresh Debian machine with Python 3.11:
#   make demo   set up the environment and run Metis on its embedded defaults
#   make test   set up the environment and run every test
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
TORCH_WHEEL := $(firstword $(wildcard /opt/wheels/torch-2.13.0+cpu-cp311-*.whl))
# Without a local wheel, pip must take torch's CPU build, never the multi-GB CUDA one.
TORCH_INDEX := --extra-index-url https://download.pytorch.org/whl/cpu

.PHONY: demo test lint env system-deps clean

system-deps:
	@bash scripts/system-deps.sh

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	@if [ -n "$(TORCH_WHEEL)" ]; then $(PIP) install -q "$(TORCH_WHEEL)"; \
	 else $(PIP) install -q torch==2.13.0 $(TORCH_INDEX); fi
	$(PIP) install -q -e '.[dev]'
	@touch $@

env: system-deps $(VENV)/.installed

demo: env
	$(VENV)/bin/metis demo

test: env
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/python -m pytest -q

lint: env
	$(VENV)/bin/ruff check lti_tool meta_engine workers tests
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
