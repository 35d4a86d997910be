# The commands of the README: `make run`, `make test` and `make check`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
HOST ?= 127.0.0.1
# Frames past this close the socket in the server (1009); the app answers frames past
# WS_MAX_FRAME_BYTES (64 KiB) with an `error` frame before that.
WS_MAX_SIZE ?= 1048576

.PHONY: run stop cluster cluster-restart cluster-stop test check install install-dev migrate seed \
	lint bench bench-quick bench-channel-list bench-cluster bench-layers bench-provisioning \
	bench-messages bench-reports recount worker beat

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

# The server's pid goes to var/run.pid (exec keeps the shell's), for `make stop`.
run: seed
	mkdir -p var && echo $$$$ > var/run.pid && exec $(BIN)/uvicorn config.asgi:application --host $(HOST) --port $(PORT) --lifespan off \
		--no-access-log --ws-per-message-deflate false --ws-max-size $(WS_MAX_SIZE)

# Stops what `make run` started: its server, and the embedded PostgreSQL (var/pgdata).
stop:
	$(BIN)/python deploy/local.py stop

# nginx :8080 -> uvicorn :8001, :8002 -> PgBouncer :6432 -> PostgreSQL; Redis :6380
# (deploy/local.py; files under var/cluster/).
cluster: install
	$(BIN)/python deploy/local.py cluster-start

# A rolling restart: each worker out of nginx, stopped (SIGTERM), started, back in.
cluster-restart:
	$(BIN)/python deploy/local.py cluster-restart

cluster-stop:
	$(BIN)/python deploy/local.py cluster-stop

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

# REST sends and socket deliveries through the running `make cluster` (bench/cluster.py).
bench-cluster: install-dev
	$(BIN)/python bench/cluster.py $(BENCH_ARGS)

recount: install
	$(BIN)/python manage.py recount

# The job runner in production (README: Job runner): needs CELERY_BROKER_URL.
worker: install
	$(BIN)/celery -A config worker --loglevel INFO

beat: install
	$(BIN)/celery -A config beat --loglevel INFO --schedule var/celerybeat-schedule
