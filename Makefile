# Every step a human or CI takes is a target here. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Use the machine's Python (>= 3.11); never download a toolchain.
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo python3 -m uv)
RUN := $(UV) run --locked
PORT ?= 8000
DEV_API_KEY ?= dev-local-key

.PHONY: help
help: ## Show the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: uv
uv: ## Install uv (with pip) when it is missing
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 \
		|| python3 -m pip install --quiet --disable-pip-version-check uv

.PHONY: sync
sync: uv ## Install the locked dependencies into .venv
	@$(UV) sync --locked --quiet

.PHONY: run
run: sync ## Migrate the embedded SQLite database and serve the API on 127.0.0.1:$PORT
	@$(RUN) python -m app.migrate
	@echo ""
	@echo "  API      http://127.0.0.1:$(PORT)"
	@echo "  Docs     http://127.0.0.1:$(PORT)/docs"
	@echo "  API key  $${API_KEYS:-$(DEV_API_KEY)}   (writes: -H 'Authorization: Bearer <key>')"
	@echo ""
	@ENV=$${ENV:-development} PORT=$(PORT) API_KEYS="$${API_KEYS:-$(DEV_API_KEY)}" \
		$(RUN) python -m app

.PHONY: dev
dev: sync ## Like run, with auto-reload on code changes
	@$(RUN) python -m app.migrate
	@ENV=development API_KEYS="$${API_KEYS:-$(DEV_API_KEY)}" $(RUN) uvicorn app.main:create_app \
		--factory --reload --host 127.0.0.1 --port $(PORT) --no-access-log --log-config /dev/null

.PHONY: migrate
migrate: sync ## Apply database migrations (DATABASE_URL, default the embedded SQLite file)
	@$(RUN) python -m app.migrate

.PHONY: test
test: sync ## Run the whole test suite with coverage (PostgreSQL tests start their own server)
	@$(RUN) pytest --cov --cov-report=term --cov-report=xml:coverage.xml $(PYTEST_ARGS)

.PHONY: lint
lint: sync ## ruff (lint + format check) and mypy --strict
	@$(RUN) ruff check .
	@$(RUN) ruff format --check .
	@$(RUN) mypy

.PHONY: fmt
fmt: sync ## Apply ruff's fixes and formatting
	@$(RUN) ruff check --fix .
	@$(RUN) ruff format .

.PHONY: bench
bench: sync ## Read-path benchmark against PostgreSQL (needs wrk and taskset)
	@$(RUN) python -m bench.read_path $(BENCH_ARGS)

.PHONY: clean
clean: ## Remove the virtualenv, caches and the local database
	rm -rf .venv .pytest_cache .mypy_cache .ruff_cache coverage.xml .coverage data
