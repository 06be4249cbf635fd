# dassdp: `make demo` runs the main job, `make test` the default test suite.
# Both create .venv (Python >= 3.12) and install the project into it when needed, with every
# optional extra (the demo's report needs `figures`) and the test tools.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=
# pytest-xdist workers: most tests run on one core, so two cores halve `make test`
PYTEST_WORKERS ?= auto

.PHONY: demo test test-slow test-all lint format venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else "dassdp needs Python >= 3.12 (brian2 2.10.1); set PYTHON=python3.12")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[all,test]'
	@touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/dassdp demo

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: $(STAMP)
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

test: $(STAMP)
	$(PY) -m pytest -n $(PYTEST_WORKERS) -m "not slow" $(PYTEST_ARGS)

test-slow: $(STAMP)
	$(PY) -m pytest -n $(PYTEST_WORKERS) -m slow $(PYTEST_ARGS)

test-all: $(STAMP)
	$(PY) -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
