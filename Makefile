# Two entry points (README): `make dev` and `make test`. Both set up .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CDK_DISABLE_CLI_TELEMETRY := 1
export CDK_DISABLE_VERSION_CHECK := 1

.PHONY: dev test lint bench synth clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

$(VENV)/.test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev,test,infra]'
	touch $@ $(VENV)/.dev

# `make dev PORT=9090 ARGS="--db duetime.db"` passes flags through to `duetime dev`.
PORT ?= 8080
ARGS ?=
dev: $(VENV)/.dev
	$(BIN)/duetime dev --port $(PORT) $(ARGS)

# The console's browser tests drive Debian's chromium (Playwright never downloads a browser);
# a fresh machine gets it from apt (as root, or through sudo).
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
$(CHROMIUM):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium

test: $(VENV)/.test $(CHROMIUM)
	$(BIN)/pytest

lint: $(VENV)/.test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(VENV)/.test
	$(BIN)/python -m bench.lateness
	$(BIN)/python -m bench.cold_start

synth: $(VENV)/.test
	npx --yes aws-cdk@2 synth -q --no-notices

clean:
	rm -rf $(VENV) cdk.out .pytest_cache .mypy_cache .ruff_cache
