# zuofeng — `make up` runs the suite, `make test` runs the tests. Both work on a fresh clone.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: up down status test unit lint bench deps sysdeps lock schemas clean

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

up: sysdeps deps  ## start Kafka, PostgreSQL, migrations, all services and the gateway; print the URLs
	@bash deploy/local/infra.sh up
	@bash deploy/local/suite.sh up

down:  ## stop what `make up` started
	@bash deploy/local/suite.sh down || true
	@bash deploy/local/infra.sh down

status:
	@bash deploy/local/infra.sh status || true
	@bash deploy/local/suite.sh status || true

test: sysdeps deps  ## unit + integration tests against a real Kafka and PostgreSQL (started or reused)
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

schemas: deps  ## export the event contracts' JSON Schemas
	@$(VENV)/bin/zuofeng export-schemas >/dev/null

clean: down
	rm -rf .run
