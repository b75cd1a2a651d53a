# replimend — the two commands are `make demo` and `make test`; both build .venv themselves.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
PYTHON ?= python3
STAMP := $(VENV)/.installed-stamp
export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= us-east-1

# `sam build` for the python3.13 runtime needs a python3.13 on PATH (pyenv keeps one aside).
PY313_DIR := $(shell d=$$(PYENV_VERSION=3.13.0 pyenv which python3.13 2>/dev/null || command -v python3.13 2>/dev/null); [ -n "$$d" ] && dirname "$$d")
SAM_PATH := $(if $(PY313_DIR),$(PY313_DIR):,)$(PATH)

.PHONY: setup test lint typecheck pytest validate build demo bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml local/pyproject.toml layers/core/requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r layers/core/requirements.txt -e '.[dev]' -e ./local
	touch $(STAMP)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy layers/core/replimend cli/replimend_cli local/replimend_local functions benchmarks

pytest: setup
	$(BIN)/pytest -n 2 -q

validate: setup
	$(BIN)/sam validate --lint --template template.yaml --region $(AWS_DEFAULT_REGION)
	$(BIN)/cfn-lint template.yaml

build: setup
	PATH="$(SAM_PATH)" $(BIN)/sam build --template template.yaml --build-dir .aws-sam/build

test: lint typecheck pytest validate build

demo: setup
	$(BIN)/replimend demo $(if $(DEMO_REPORT),--report $(DEMO_REPORT),)

bench: setup
	$(BIN)/python -m benchmarks.run --out bench-results/results.json

clean:
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache
