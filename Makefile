# Short entry points. `make demo` runs the system on SQLite; `make test` runs the test suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

# What bandit scans: the code that ships and runs against production data. tests/ (asserts are how
# pytest checks) and benchmarks/ (seeded random for reproducible synthetic data, subprocesses of their
# own scripts) are developer tools; a finding there is not one a deployment can have.
BANDIT_PATHS := rfl privacy matching migrations

.PHONY: setup demo serve test lint check

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

setup: $(BIN)/.installed

demo: setup  ## bootstrap demo societies and users, print their credentials, serve on 127.0.0.1:$PORT (5000)
	$(BIN)/rfl demo

serve: setup
	$(BIN)/rfl serve

test: setup  ## the whole suite; PostgreSQL too when RFL_TEST_DATABASE_URL is set
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/bandit --quiet --recursive $(BANDIT_PATHS)

check: lint test
