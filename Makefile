# promise-map: the Makefile is the pipeline. `make` alone lists the targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CORPUS ?= corpora/sample
RUN ?= $(notdir $(patsubst %/,%,$(CORPUS)))
OUT ?= outputs/$(RUN)

.PHONY: help setup map test test-fast lint clean

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-10s %s\n", $$1, $$2}'

$(BIN)/promise-map: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

setup: $(BIN)/promise-map ## create .venv and install the project with everything it needs

map: $(BIN)/promise-map ## map CORPUS (default corpora/sample) into outputs/<corpus name>/
	$(BIN)/promise-map map $(CORPUS) --out $(OUT)

test: $(BIN)/promise-map ## the whole test suite, corpus-wide tests included (what CI runs)
	$(BIN)/python -m pytest -q

test-fast: $(BIN)/promise-map ## the quick subset for the edit-run loop (no slow tests)
	$(BIN)/python -m pytest -q -m "not slow"

lint: $(BIN)/promise-map ## ruff over the package and tests
	$(BIN)/ruff check pipeline tests

clean: ## remove generated outputs (keeps outputs/README.md)
	find outputs -mindepth 1 -not -name README.md -exec rm -rf {} +
