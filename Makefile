# replimend — the two commands are `make demo` and `make test`; both build .venv themselves.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
PYTHON ?= python3
STAMP := $(VENV)/.installed-stamp
# `make demo` needs only the runtime set (no linters, stubs, SAM CLI); the full dev set includes it.
DEMO_STAMP := $(VENV)/.demo-installed-stamp
# checkov pins an old boto3, so it gets a virtualenv of its own, never .venv.
CHECKOV_VERSION := 3.3.30
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed-$(CHECKOV_VERSION)
CHECKOV := $(CHECKOV_VENV)/bin/checkov --framework cloudformation --skip-download --compact --quiet
export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= us-east-1

# `sam build` for the python3.13 runtime needs a python3.13 on PATH (pyenv keeps one aside).
PY313_DIR := $(shell d=$$(PYENV_VERSION=3.13.0 pyenv which python3.13 2>/dev/null || command -v python3.13 2>/dev/null); [ -n "$$d" ] && dirname "$$d")
SAM_PATH := $(if $(PY313_DIR),$(PY313_DIR):,)$(PATH)

# A virtualenv made by another Python than $(PYTHON) (pyenv switched, python3 upgraded) is rebuilt.
PYTHON_VERSION := $(shell $(PYTHON) -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])' 2>/dev/null)
venv_version = $(shell sed -n 's/^version\(_info\)\{0,1\} *= *\([0-9]*\.[0-9]*\.[0-9]*\).*/\2/p' $(1)/pyvenv.cfg 2>/dev/null)
venv_stale = $(and $(PYTHON_VERSION),$(call venv_version,$(1)),$(filter-out $(PYTHON_VERSION),$(call venv_version,$(1))))
venv_rebuild = $(if $(call venv_stale,$(1)),@echo "$(1) was made by Python $(call venv_version,$(1)) and $(PYTHON) is $(PYTHON_VERSION): rebuilding it"; rm -rf $(1))

.PHONY: setup test lint typecheck pytest validate checkov build demo bench clean distclean FORCE

setup: $(STAMP)

$(STAMP): pyproject.toml local/pyproject.toml layers/core/requirements.txt $(if $(call venv_stale,$(VENV)),FORCE)
	$(call venv_rebuild,$(VENV))
	test -x $(BIN)/python || $(PYTHON) -m venv --clear $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r layers/core/requirements.txt -e '.[dev]' -e ./local
	touch $(STAMP) $(DEMO_STAMP)

$(DEMO_STAMP): pyproject.toml local/pyproject.toml layers/core/requirements.txt $(if $(call venv_stale,$(VENV)),FORCE)
	$(call venv_rebuild,$(VENV))
	test -x $(BIN)/python || $(PYTHON) -m venv --clear $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r layers/core/requirements.txt -e . -e ./local
	touch $(DEMO_STAMP)

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

# checkov scans template.yaml (where each accepted finding is skipped with its reason) and the SAM
# transform of it (the roles, schedules, rule and permissions SAM generates). Zero failed checks.
checkov: setup $(CHECKOV_STAMP)
	$(CHECKOV) --file template.yaml
	$(BIN)/python .ci/sam_translate.py template.yaml .aws-sam/checkov/template.json
	$(CHECKOV) --file .aws-sam/checkov/template.json

$(CHECKOV_STAMP): $(if $(call venv_stale,$(CHECKOV_VENV)),FORCE)
	rm -rf $(CHECKOV_VENV)  # a fresh one for each pinned version
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet 'checkov==$(CHECKOV_VERSION)'
	touch $@

build: setup
	PATH="$(SAM_PATH)" $(BIN)/sam build --template template.yaml --build-dir .aws-sam/build

test: lint typecheck pytest validate checkov build

demo: $(DEMO_STAMP)
	$(BIN)/replimend demo $(if $(DEMO_REPORT),--report $(DEMO_REPORT),) $(if $(DEMO_HTML),--html $(DEMO_HTML),)

bench: setup
	$(BIN)/python -m benchmarks.run --out bench-results/results.json

# clean: build outputs and caches; the virtualenvs stay (distclean removes them too).
clean:
	rm -rf .aws-sam build dist .pytest_cache .mypy_cache .ruff_cache .hypothesis *.egg-info bench-results/*.tmp
	find . \( -name .git -o -name '.venv*' \) -prune -o -name __pycache__ -type d -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) $(CHECKOV_VENV)

FORCE:
