# Two entry points, each works alone on a fresh machine with Python 3.11:
#   make demo   creates .venv, installs, runs the built-in demo county end to end
#   make test   creates .venv, installs with test extras, runs the whole test suite
#   make lint   ruff, mypy and the import-layer contracts (CI runs it before the tests)
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint install install-test browser bench clean

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is required ($(PYTHON) not found)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test]"
	@touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

demo: install
	$(BIN)/schoolplan demo --out out/demo

# Headless Chromium for the browser tests: Debian's package, installed when missing.
browser:
	@bash tests/install_browser.sh

# ruff (rules in pyproject.toml), mypy with the pydantic plugin on geo/ and planning/, and the
# import-linter contracts that keep the layers (geo <- planning models <- planning.app; maps by entry point).
lint: install-test
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# --durations=15: the slowest tests, so the next change to the suite starts from them (budget: 10 minutes on CI's 2 cores).
test: install-test browser
	$(BIN)/python -m pytest -n 2 -q --durations=15

bench: install
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	$(BIN)/python benchmarks/run_all.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) out .pytest_cache
