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
	@ENV=development RELOAD=true PORT=$(PORT) API_KEYS="$${API_KEYS:-$(DEV_API_KEY)}" \
		$(RUN) python -m app

.PHONY: migrate
migrate: sync ## Apply database migrations (DATABASE_URL, default the embedded SQLite file)
	@$(RUN) python -m app.migrate

.PHONY: test
test: sync ## Run the whole test suite with coverage (PostgreSQL tests start their own server)
	@$(RUN) pytest --cov --cov-report=term --cov-report=xml:coverage.xml $(PYTEST_ARGS)

.PHONY: lint
lint: sync ## ruff (lint + format check), mypy --strict, hadolint
	@$(RUN) ruff check .
	@$(RUN) ruff format --check .
	@$(RUN) mypy
	@$(RUN) hadolint Dockerfile docker/postgres-local/Dockerfile

.PHONY: fmt
fmt: sync ## Apply ruff's fixes and formatting
	@$(RUN) ruff check --fix .
	@$(RUN) ruff format .

# --- containers ------------------------------------------------------------------------------
# PYTHON_IMAGE: the official base by default (see Dockerfile); `make base-image` builds a local
# stand-in for machines with no registry access and the targets below then use it.
BASE_IMAGE ?= autopipe/python:3.11-slim-local
IMAGE ?= auto-pipe-api:local
GIT_SHA ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
PYTHON_IMAGE ?= $(shell docker image inspect $(BASE_IMAGE) >/dev/null 2>&1 && echo $(BASE_IMAGE))
BUILD_ARGS = --build-arg GIT_SHA=$(GIT_SHA) --build-arg IMAGE_TAG=$(IMAGE) \
	$(if $(PYTHON_IMAGE),--build-arg PYTHON_IMAGE=$(PYTHON_IMAGE))
COMPOSE := docker-compose -p auto-pipe

.PHONY: docker-engine
docker-engine: ## Install and start a Docker engine when none is running (Debian, root)
	@bash scripts/docker/engine.sh

.PHONY: base-image
base-image: docker-engine ## Build the offline stand-in for python:3.11-slim (reused when present)
	@bash scripts/docker/base-image.sh $(BASE_IMAGE)

.PHONY: image
image: ## Build the service image ($(IMAGE))
	DOCKER_BUILDKIT=0 docker build --network host --pull=false $(BUILD_ARGS) -t $(IMAGE) .

.PHONY: postgres-image
postgres-image: ## Build the local PostgreSQL image the compose CI override uses
	DOCKER_BUILDKIT=0 docker build --network host --pull=false \
		--build-arg BASE_IMAGE=$(BASE_IMAGE) -t auto-pipe-postgres:local docker/postgres-local

.PHONY: up
up: ## Start the compose stack (db, migrate, web on http://127.0.0.1:8000) with auto-reload
	PYTHON_IMAGE=$(PYTHON_IMAGE) GIT_SHA=$(GIT_SHA) $(COMPOSE) up -d --build
	@echo "  API  http://127.0.0.1:8000   key: $${API_KEYS:-$(DEV_API_KEY)}"

.PHONY: down
down: ## Stop the compose stack (keeps the database volume)
	$(COMPOSE) down

.PHONY: down-volumes
down-volumes: ## Stop the compose stack and drop the database volume
	$(COMPOSE) down -v

.PHONY: container-test
container-test: sync ## Only the container tests (build the image, run it at Fargate size, compose)
	@$(RUN) pytest tests/container $(PYTEST_ARGS)

.PHONY: hadolint
hadolint: ## Lint the Dockerfiles with hadolint
	@$(RUN) hadolint Dockerfile docker/postgres-local/Dockerfile

.PHONY: bench
bench: sync ## Read-path benchmark against PostgreSQL (needs wrk and taskset)
	@$(RUN) python -m bench.read_path $(BENCH_ARGS)

.PHONY: clean
clean: ## Remove the virtualenv, caches and the local database
	rm -rf .venv .pytest_cache .mypy_cache .ruff_cache coverage.xml .coverage data
