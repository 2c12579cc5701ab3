# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export DBS_HOME ?= $(CURDIR)/var

.PHONY: run test lint bench bench-tools install dev clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Reinstall when the dependency list changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed

dev: $(VENV)/.dev-installed

## make run: set up and start the service on its embedded defaults (home ./var).
run: $(VENV)/.installed
	$(BIN)/dbs server

## make test: dev dependencies, the services the tests need, then pytest.
test: $(VENV)/.dev-installed
	bash scripts/ensure-services.sh
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check src tests testbed benchmarks
	$(BIN)/mypy

## make bench: every benchmark (not a test; never gates CI). Installs the peer tools first.
bench: $(VENV)/.dev-installed bench-tools
	bash scripts/ensure-services.sh
	$(BIN)/python -m benchmarks.run_all

# The tools dbs is compared with (Debian packages): sysbench, mydumper/myloader, zstd, pgbench.
bench-tools:
	bash scripts/install-bench-tools.sh

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
