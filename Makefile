# The README's commands. `make run` and `make test` set everything up on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test lint format bench install prodcheck

$(BIN)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

install: $(BIN)/.installed

# Web, worker and beat in one terminal (Procfile); Ctrl-C stops them all.
run: install
	mkdir -p var
	DEBUG=true $(BIN)/python manage.py migrate --noinput
	DEBUG=true $(BIN)/python manage.py seed_demo
	DEBUG=true PATH="$(abspath $(BIN)):$$PATH" $(BIN)/honcho start --procfile Procfile

# TEST_WORKERS: parallel test processes (pytest-xdist); `auto` is one per core, at most 8 (each
# takes a Redis database of its own after REDIS_URL's, see helpdesk/settings.py).
TEST_WORKERS ?= auto

test: install
	$(BIN)/pytest -n $(TEST_WORKERS) --maxprocesses 8

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/python manage.py check
	$(BIN)/python manage.py makemigrations --check --dry-run

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install
	$(BIN)/python bench/bench_clock.py

# CI's check that requirements.txt alone makes a working production install (PostgreSQL and
# Redis on 127.0.0.1 needed; see .ci/prod_install_check.py for its settings).
prodcheck: install
	$(BIN)/python .ci/prod_install_check.py
