# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CONFIG ?= config.example.toml

.PHONY: run test bench reliability lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(VENV)/.installed $@

run: $(VENV)/.installed
	$(BIN)/driftwarden run --config $(CONFIG)

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest

bench: $(VENV)/.installed-test
	$(BIN)/python tests/benchmarks/run.py

# Real daemons under kill -9, hangs and a PostgreSQL restart (tests/reliability/suite.py).
reliability: $(VENV)/.installed-test
	$(BIN)/python -m tests.reliability.suite --json reliability.json

lint: $(VENV)/.installed-test
	$(BIN)/ruff check monitor detectors tests
	$(BIN)/ruff format --check monitor detectors tests
	$(BIN)/mypy --strict --ignore-missing-imports monitor detectors tests

clean:
	rm -rf $(VENV) driftwarden.db driftwarden.db-wal driftwarden.db-shm reliability.json
