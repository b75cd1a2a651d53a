# replimend — the two commands are `make demo` and `make test`; both build .venv themselves.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
PYTHON ?= python3
STAMP := $(VENV)/.installed-stamp
# The locks (`make lock` writes both; see README "Supply chain"): the development set for this machine
# and CI, and the layer's set for python3.13 on linux/aarch64 (without boto3/botocore).
LOCK := requirements/dev.lock
LAYER_LOCK := layers/core/requirements.txt
PIP_TOOLS_VERSION := 7.6.2
LOCK_VENV := .venv-lock
LOCK_STAMP := $(LOCK_VENV)/.installed-$(PIP_TOOLS_VERSION)
PIP_COMPILE := CUSTOM_COMPILE_COMMAND='make lock' $(LOCK_VENV)/bin/pip-compile --quiet --generate-hashes \
	--no-strip-extras --no-emit-index-url --no-emit-find-links $(if $(UPGRADE),--upgrade,)
# The layer leaves out what the Lambda runtime provides: boto3, botocore and the packages only they need.
LAYER_EXCLUDES := boto3 botocore python-dateutil six urllib3 s3transfer
PIP_AUDIT_VERSION := 2.10.1
AUDIT_VENV := .venv-audit
AUDIT_STAMP := $(AUDIT_VENV)/.installed-$(PIP_AUDIT_VERSION)
# The cold-start benchmark runs where only Lambda's packages are: the layer's lock and the runtime's boto3.
BENCH_VENV := .venv-bench
BENCH_STAMP := $(BENCH_VENV)/.installed-stamp
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

.PHONY: setup lock audit test lint typecheck pytest validate checkov build demo bench bench-storm clean distclean FORCE

setup: $(STAMP)

# Everything from the lock, hashes checked; then the two local distributions without their dependencies
# (the lock already holds them) and without build isolation (their build backend is in the lock too).
$(STAMP): $(LOCK) pyproject.toml local/pyproject.toml $(if $(call venv_stale,$(VENV)),FORCE)
	$(call venv_rebuild,$(VENV))
	test -x $(BIN)/python || $(PYTHON) -m venv --clear $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e . -e ./local
	$(BIN)/python -m pip check
	touch $(STAMP) $(DEMO_STAMP)

# The demo's runtime set only, at the lock's versions (its name==version pins as constraints: pip
# takes no hashes or extras in a constraints file, so `make setup` is the hash-checked install).
$(DEMO_STAMP): pyproject.toml local/pyproject.toml layers/core/requirements.in $(LOCK) $(if $(call venv_stale,$(VENV)),FORCE)
	$(call venv_rebuild,$(VENV))
	test -x $(BIN)/python || $(PYTHON) -m venv --clear $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	sed -n 's/^\([A-Za-z0-9_.-]*\)\(\[[^]]*\]\)\{0,1\}==\([^ ]*\).*/\1==\3/p' $(LOCK) > $(VENV)/demo-constraints.txt
	$(BIN)/python -m pip install --quiet -c $(VENV)/demo-constraints.txt -r layers/core/requirements.in -e . -e ./local
	touch $(DEMO_STAMP)

# Recompile both locks from pyproject.toml [dev], local/pyproject.toml, requirements/dev.in and
# layers/core/requirements.in, keeping the pinned versions (UPGRADE=1 moves them to the newest).
# The dev lock comes first and constrains the layer's, so both ship the same pydantic, Powertools...;
# then the layer's wheels are fetched for python3.13 arm64 to show the lock resolves there.
lock: $(LOCK_STAMP)
	mkdir -p build
	$(LOCK_VENV)/bin/python -c 'import tomllib; deps = tomllib.load(open("local/pyproject.toml", "rb"))["project"]["dependencies"]; print("\n".join(d for d in deps if d != "replimend"))' > build/local-deps.in
	$(PIP_COMPILE) --allow-unsafe --extra dev --output-file $(LOCK) \
		pyproject.toml build/local-deps.in layers/core/requirements.in requirements/dev.in
	sed -n 's/^\([A-Za-z0-9_.-]*\)\(\[[^]]*\]\)\{0,1\}==\([^ ]*\).*/\1==\3/p' $(LOCK) > build/dev-pins.txt
	cd layers/core && $(subst $(LOCK_VENV)/,../../$(LOCK_VENV)/,$(PIP_COMPILE)) \
		$(addprefix --unsafe-package ,$(LAYER_EXCLUDES)) \
		--constraint ../../build/dev-pins.txt --output-file requirements.txt requirements.in
	rm -rf build/layer-wheels
	$(LOCK_VENV)/bin/python -m pip download --quiet --require-hashes --no-deps --only-binary=:all: \
		--platform manylinux2014_aarch64 --implementation cp --python-version 3.13 --abi cp313 \
		--dest build/layer-wheels -r $(LAYER_LOCK)

$(LOCK_STAMP):
	rm -rf $(LOCK_VENV)
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install --quiet 'pip-tools==$(PIP_TOOLS_VERSION)'
	touch $@

# pip-audit on both locks (exact versions, no resolution). Its advisory source is PyPI's per-release
# JSON API (/pypi/<name>/<version>/json): when that cannot be reached (offline CI, a proxy that only
# serves the package index), one line says so and the audit is skipped, not failed.
AUDIT_PROBE := https://pypi.org/pypi/pip-audit/$(PIP_AUDIT_VERSION)/json
audit: $(AUDIT_STAMP)
	@if $(AUDIT_VENV)/bin/python -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=10)' $(AUDIT_PROBE) 2>/dev/null; then \
		$(AUDIT_VENV)/bin/pip-audit --progress-spinner off --disable-pip --require-hashes -r $(LOCK) && \
		$(AUDIT_VENV)/bin/pip-audit --progress-spinner off --disable-pip --no-deps -r $(LAYER_LOCK); \
	else echo "pip-audit skipped: its advisory source ($(AUDIT_PROBE)) is unreachable"; fi

$(AUDIT_STAMP): $(if $(call venv_stale,$(AUDIT_VENV)),FORCE)
	rm -rf $(AUDIT_VENV)
	$(PYTHON) -m venv $(AUDIT_VENV)
	$(AUDIT_VENV)/bin/python -m pip install --quiet 'pip-audit==$(PIP_AUDIT_VERSION)'
	touch $@

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

test: lint typecheck pytest validate checkov build audit

demo: $(DEMO_STAMP)
	$(BIN)/replimend demo $(if $(DEMO_REPORT),--report $(DEMO_REPORT),) $(if $(DEMO_HTML),--html $(DEMO_HTML),)

bench: setup $(BENCH_STAMP)
	$(BIN)/python -m benchmarks.run --out bench-results/results.json

# The storm alone (BENCH_STORM_EVENTS, default 2000; about 0.06 s per failure here), into the last
# full run's results: e.g. make bench-storm BENCH_STORM_EVENTS=100000
bench-storm: setup
	$(BIN)/python -m benchmarks.run --storm-only --out bench-results/results.json

$(BENCH_STAMP): $(LAYER_LOCK) $(LOCK) $(if $(call venv_stale,$(BENCH_VENV)),FORCE)
	rm -rf $(BENCH_VENV)
	$(PYTHON) -m venv $(BENCH_VENV)
	mkdir -p build
	awk '/^[a-z]/ { keep = ($$1 ~ /^(boto3|botocore|s3transfer|urllib3|python-dateutil|six)(\[|==)/) } \
		keep && !/^ *#/' $(LOCK) > build/lambda-runtime.txt
	$(BENCH_VENV)/bin/python -m pip install --quiet --require-hashes --no-deps \
		-r $(LAYER_LOCK) -r build/lambda-runtime.txt
	touch $@

# clean: build outputs and caches; the virtualenvs stay (distclean removes them too).
clean:
	rm -rf .aws-sam build dist .pytest_cache .mypy_cache .ruff_cache .hypothesis *.egg-info bench-results/*.tmp
	find . \( -name .git -o -name '.venv*' \) -prune -o -name __pycache__ -type d -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) $(CHECKOV_VENV) $(LOCK_VENV) $(AUDIT_VENV) $(BENCH_VENV)

FORCE:
