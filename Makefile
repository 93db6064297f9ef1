# promise-map: the Makefile is the pipeline. `make` alone lists the targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CORPUS ?= corpora/sample
RUN ?= $(notdir $(patsubst %/,%,$(CORPUS)))
OUT ?= outputs/$(RUN)

MODEL ?= outputs/model/promise-classifier.pkl
DEV_SET ?= corpora/labelled/dev.jsonl

.PHONY: help setup map train eval test test-fast lint clean

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-10s %s\n", $$1, $$2}'

$(BIN)/promise-map: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

setup: $(BIN)/promise-map ## create .venv and install the project (SEMANTIC=1 adds the embedding extra)
ifdef SEMANTIC
	$(BIN)/python -m pip install --quiet -e '.[dev,semantic]'
endif

map: $(BIN)/promise-map ## map CORPUS (default corpora/sample) into outputs/<corpus name>/
	$(BIN)/promise-map map $(CORPUS) --out $(OUT)

train: $(BIN)/promise-map ## train the learned classifier on corpora/labelled/ into $(MODEL)
	$(BIN)/promise-map train --out $(MODEL)

eval: $(BIN)/promise-map ## cross-validated accuracy on the development set (outputs/eval/dev-cv.json)
	$(BIN)/promise-map eval --gold $(DEV_SET) --cross-validate --json outputs/eval/dev-cv.json

test: $(BIN)/promise-map ## the whole test suite, corpus-wide tests included (what CI runs)
	$(BIN)/python -m pytest -q

test-fast: $(BIN)/promise-map ## the quick subset for the edit-run loop (no slow tests)
	$(BIN)/python -m pytest -q -m "not slow"

lint: $(BIN)/promise-map ## ruff over the package and tests
	$(BIN)/ruff check pipeline tests

clean: ## remove generated outputs (keeps outputs/README.md)
	find outputs -mindepth 1 -not -name README.md -exec rm -rf {} +
