# The two quickstart commands: `make demo` and `make test`. Each sets up what it needs first.
VENV ?= .venv
SHELL := /bin/bash

.PHONY: setup demo test test-fast lint synth bench

setup:
	@scripts/setup.sh

demo: setup
	@source .vend/env && $(VENV)/bin/vend demo

test: setup
	@VENV=$(VENV) scripts/test.sh

# The inner loop: no emulator, Terraform, checkov or slow module (SLOW_MODULES in tests/conftest.py); make test runs
# all. It sets up only on a fresh clone, so an edit-test cycle does not wait for pip. Bytecode caches on, as in
# scripts/test.sh.
test-fast: .vend/env
	@source .vend/env && unset PYTHONDONTWRITEBYTECODE && $(VENV)/bin/python -m pytest -n 2 --dist loadgroup -q -m "not emulator and not terraform and not checkov and not slow"

.vend/env:
	@scripts/setup.sh

lint: setup
	@$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check . && $(VENV)/bin/mypy && $(VENV)/bin/lint-imports

synth: setup
	@$(VENV)/bin/python app.py

bench: setup
	@source .vend/env && $(VENV)/bin/python benchmarks/audit_scale.py --accounts 5000
