# promptsync: prompts move with the code, local -> staging -> production.
# Every target is documented with `## ...`; `make help` lists them.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV ?= .venv
export PROMPTSYNC_VENV := $(abspath $(VENV))
PYTHON := $(VENV)/bin/python
# The interpreter that builds the wheel (`make dist`); pip builds it in an isolated environment.
DIST_PYTHON ?= python3
PROMPTSYNC := bin/promptsync
PYTEST_ARGS ?=
# Compose v2 (`docker compose`) where the plugin is installed, else docker-compose (Debian's
# 1.29); the project name is given here because 1.29 cannot read it from the file.
COMPOSE_CMD ?= $(shell docker compose version >/dev/null 2>&1 && echo 'docker compose' \
  || echo docker-compose)
COMPOSE_FILES ?= -f docker/docker-compose.yml -f docker/docker-compose.local.yml
COMPOSE = $(COMPOSE_CMD) -p dev-coach-local $(COMPOSE_FILES)
LOCAL_UP_TIMEOUT ?= 120
# ALLOW_MASS_DELETE=1 lets sync-staging / sync-prod leave a target with fewer than half of its
# rows (as --allow-mass-delete); the recipes stay what the Render build runs.
ifeq ($(ALLOW_MASS_DELETE),1)
export PROMPTSYNC_ALLOW_MASS_DELETE := 1
endif
# DISCARD_TARGET_EDITS=1 lets them overwrite rows changed on the target outside promptsync since
# its last promotion (as --discard-target-edits).
ifeq ($(DISCARD_TARGET_EDITS),1)
export PROMPTSYNC_DISCARD_TARGET_EDITS := 1
endif
# EXPECT_PLAN=ID applies only the plan a reviewer approved (the id a dry run or diff prints).
ifneq ($(EXPECT_PLAN),)
export PROMPTSYNC_EXPECT_PLAN := $(EXPECT_PLAN)
endif

.PHONY: bench dist help local-up local-down sync-staging sync-prod rollback-staging rollback-prod diff-staging export verify check demo demo-stop test lint unit clean

help: ## show the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) \
	  | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

local-up: ## start the local development database in Docker (container dev-coach-local-db-1)
	$(COMPOSE) up -d
	@for _ in $$(seq $(LOCAL_UP_TIMEOUT)); do \
	  health=$$(docker inspect -f '{{.State.Health.Status}}' dev-coach-local-db-1 2>/dev/null || true); \
	  if [[ $$health == healthy ]]; then echo "dev-coach-local-db-1 is healthy"; exit 0; fi; \
	  sleep 1; \
	done; \
	echo "local-up: dev-coach-local-db-1 not healthy after $(LOCAL_UP_TIMEOUT) s" >&2; exit 1

local-down: ## stop it (its named volume keeps the data)
	$(COMPOSE) down

sync-staging: ## local -> staging; needs FORCE=1 (DRY_RUN=1 shows the plan, changes nothing)
	$(PROMPTSYNC) sync local staging $(if $(FORCE),--force) $(if $(DRY_RUN),--dry-run)

sync-prod: ## staging -> production, non-interactive (the Render production build runs this)
	$(PROMPTSYNC) sync staging production --force --yes

rollback-staging: ## restore staging's prompts from before its last promotion (FORCE=1)
	$(PROMPTSYNC) rollback staging $(if $(FORCE),--force)

rollback-prod: ## restore production's prompts from before its last promotion (FORCE=1)
	$(PROMPTSYNC) rollback production $(if $(FORCE),--force) --yes

diff-staging: ## the rows that differ between local and staging
	$(PROMPTSYNC) diff local staging

export: ## write local's prompts to prompts/prompts.sql, to commit with the code (ENV=, FILE=)
	$(PROMPTSYNC) export $(or $(ENV),local) $(or $(FILE),prompts/prompts.sql)

verify: ## row count + checksum of every configured environment; exit 1 on drift
	$(PROMPTSYNC) verify

check: ## preflight only: Docker, connections, tables, server and tool versions
	$(PROMPTSYNC) check

demo: $(VENV)/.installed-server ## the whole flow on three throwaway PostgreSQL servers on this machine
	$(PYTHON) -m promptsync.demo

demo-stop: $(VENV)/.installed-server ## stop the demo's servers and delete their data
	$(PYTHON) -m promptsync.demo --stop

test: $(VENV)/.installed-test lint ## install what the tests need, lint, run every test
	$(PYTHON) -m pytest $(PYTEST_ARGS)

unit: $(VENV)/.installed-test ## only the fast tests that need no database
	$(PYTHON) -m pytest tests/unit $(PYTEST_ARGS)

bench: $(VENV)/.installed-bench ## benchmark vs pg_dump|psql and the old ORM copy; writes docs/benchmarks.md (BENCH_ROWS=1000000 adds 1M)
	$(PYTHON) bench/run.py

dist: ## the wheel an application's requirements.txt can name: dist/promptsync-VERSION-py3-none-any.whl
	rm -rf build dist
	$(DIST_PYTHON) -m pip wheel --quiet --disable-pip-version-check --no-deps --wheel-dir dist .
	@ls dist/*.whl

lint: $(VENV)/.installed-test ## ruff on Python, shellcheck on bin/ and .ci/
	$(VENV)/bin/ruff check lib tests
	$(VENV)/bin/shellcheck bin/bootstrap bin/promptsync bin/render-build-staging \
	  bin/render-build-production bin/render-lib.sh .ci/run

clean: ## stop the demo, remove the virtualenv and caches
	if [[ -x $(PYTHON) ]]; then $(PYTHON) -m promptsync.demo --stop; fi
	rm -rf $(VENV) .pytest_cache .ruff_cache lib/*.egg-info build dist

$(VENV)/.installed-server: pyproject.toml
	bin/bootstrap server

$(VENV)/.installed-test: pyproject.toml
	bin/bootstrap test

$(VENV)/.installed-bench: pyproject.toml
	bin/bootstrap bench
