# The commands of the README: `make run`, `make test` and `make check`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
HOST ?= 127.0.0.1
# Frames past this close the socket in the server (1009); the app answers frames past
# WS_MAX_FRAME_BYTES (64 KiB) with an `error` frame before that.
WS_MAX_SIZE ?= 1048576

.PHONY: run test check install install-dev migrate seed lint bench bench-quick \
	bench-channel-list bench-layers bench-provisioning bench-messages bench-reports recount

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

migrate: install
	$(BIN)/python manage.py migrate_schemas -v 0

seed: migrate
	$(BIN)/python manage.py seed_demo

run: seed
	$(BIN)/uvicorn config.asgi:application --host $(HOST) --port $(PORT) --lifespan off \
		--ws-per-message-deflate false --ws-max-size $(WS_MAX_SIZE)

test: install-dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install-dev
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

# Lint and format, types, the import contract, migrations in step with the models.
check: lint
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/python manage.py makemigrations --check --dry-run -v 0

# The load benchmark (README: Benchmarks): BENCH_ARGS="--only ws_fanout,peers --quick".
bench: install-dev
	$(BIN)/python bench/run.py $(BENCH_ARGS)

bench-quick: install-dev
	$(BIN)/python bench/run.py --quick $(BENCH_ARGS)

# Earlier focused benchmarks (README: Channel layer; Tenants; Tests and benchmarks).
bench-channel-list: install-dev
	$(BIN)/python bench/channel_list.py

bench-reports: install-dev
	$(BIN)/python bench/reports.py

bench-layers: install-dev
	$(BIN)/python bench/layers.py

# TENANTS=10000 BENCH_DATABASE=... (README: Tenants at scale).
bench-provisioning: install-dev
	$(BIN)/python bench/provisioning.py --tenants $(or $(TENANTS),10000)

bench-messages: install-dev
	$(BIN)/python bench/message_send.py

recount: install
	$(BIN)/python manage.py recount
