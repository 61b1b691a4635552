# zuofeng — `make up` runs the suite, `make test` runs the tests. Both work on a fresh clone.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: up down status test unit lint bench deps sysdeps lock schemas clean helm console

# System packages (PostgreSQL, a JRE, Maven, ...): installs only what is missing, a no-op when all is there.
# `up` and `test` depend on it so that the README's two commands are all a fresh machine needs.
sysdeps:
	@bash deploy/local/install-deps.sh

$(VENV)/.installed: pyproject.toml requirements.lock | sysdeps
	@test -x $(PY) || python3 -m venv $(VENV)
	@$(PY) -m pip install -q --upgrade pip uv
	@$(VENV)/bin/uv pip install -q --python $(PY) -r requirements.lock
	@$(VENV)/bin/uv pip install -q --python $(PY) --no-deps -e .
	@touch $@

deps: $(VENV)/.installed

# The staff console: npm ci from the lock file, then a Vite build into console/dist (served by the gateway
# under /console/). Make skips it while dist is newer than every source file.
CONSOLE_SRC := $(shell find console/src -type f 2>/dev/null) console/index.html console/vite.config.js \
	console/package.json console/package-lock.json
console/dist/index.html: $(CONSOLE_SRC) | sysdeps
	@cd console && npm ci --no-audit --no-fund --loglevel=error && npm run build --silent
	@touch $@

console: console/dist/index.html

up: sysdeps deps console  ## start Kafka, PostgreSQL, Redis, Keycloak, migrations, all services and the gateway; print the URLs and the console users
	@bash deploy/local/infra.sh up
	@bash deploy/local/suite.sh up

down:  ## stop what `make up` started
	@bash deploy/local/suite.sh down || true
	@bash deploy/local/infra.sh down

status:
	@bash deploy/local/infra.sh status || true
	@bash deploy/local/suite.sh status || true

test: sysdeps deps console  ## unit + integration tests against a real Kafka and PostgreSQL (started or reused)
	@bash deploy/local/infra.sh up
	@$(PY) -m pytest $(PYTEST_ARGS)

lint: deps  ## ruff (the rules in pyproject.toml) over the repository, mypy over services/ and gateway/
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/mypy

unit: deps  ## unit tests only: need nothing running
	@$(PY) -m pytest tests/unit $(PYTEST_ARGS)

bench: sysdeps deps
	@bash deploy/local/infra.sh up
	@$(PY) -m bench.run $(BENCH)

lock:  ## re-resolve requirements.lock from pyproject.toml
	@$(VENV)/bin/uv pip compile pyproject.toml --extra test -o requirements.lock --quiet

helm:  ## build helm from the Go module proxy (cached in ~/.cache/zuofeng) for the chart tests, ahead of them
	@bash deploy/local/helm.sh bin

schemas: deps  ## export the event contracts' JSON Schemas
	@$(VENV)/bin/zuofeng export-schemas >/dev/null

clean: down
	rm -rf .run
