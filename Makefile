# promise-map: the Makefile is the pipeline. `make` alone lists the targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Paths are quoted in every recipe, so a folder may have spaces in its name (CORPUS="my corpus");
# the run's name is the corpus folder's own name, taken by the shell for the same reason.
CORPUS ?= corpora/sample
RUN ?= $(shell basename -- "$(CORPUS)")
OUT ?= outputs/$(RUN)

MODEL ?= outputs/model/promise-classifier.npz
#: The project's shared folder beside the repository (evaluation corpora; not needed to run).
SHARED ?= ../shared

.PHONY: help setup browser map train eval codebook compare bench test test-fast lint clean

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-10s %s\n", $$1, $$2}'

# pip at -qq prints errors only: its warnings here are about this machine's pip configuration (index folders
# that are not there), not about the project, and the build's own notices are for its maintainers.
PIP := "$(BIN)/python" -m pip
PIP_QUIET := --quiet --quiet --progress-bar off

$(BIN)/promise-map: pyproject.toml
	@echo "setting up $(VENV): installing promise-map and its dependencies (a minute or two) ..."
	@$(PYTHON) -m venv "$(VENV)"
	@$(PIP) install $(PIP_QUIET) --upgrade pip
	@$(PIP) install $(PIP_QUIET) -e '.[dev]'
	@touch "$@"
	@echo "ready: $(BIN)/promise-map ('make map' maps the sample corpus, 'make test' runs the tests)"

setup: $(BIN)/promise-map ## create .venv and install the project and everything it needs

browser: ## install Debian's chromium for the HTML report's browser test (needs root; skipped if present)
	@if command -v chromium >/dev/null 2>&1; then echo "chromium: $$(command -v chromium)"; \
	elif [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null \
	  || echo "chromium could not be installed: the browser test will skip"; \
	else echo "run as root (or: sudo apt-get install chromium chromium-driver); the browser test skips without it"; fi

map: $(BIN)/promise-map ## map CORPUS (default corpora/sample) into outputs/<corpus name>/
	"$(BIN)/promise-map" map "$(CORPUS)" --out "$(OUT)"

train: $(BIN)/promise-map ## train the classifier on corpora/labelled/ and the off-topic documents into $(MODEL)
	"$(BIN)/promise-map" train --out "$(MODEL)"

codebook: $(BIN)/promise-map ## the shipped frameworks as a REFI-QDA codebook and a CSV table in outputs/codebook/
	"$(BIN)/promise-map" codebook export --format qdc --framework calls_to_action,inspection_principles,plan_21_24 --out outputs/codebook/promise-map.qdc
	"$(BIN)/promise-map" codebook export --format csv --framework calls_to_action,inspection_principles,plan_21_24 --out outputs/codebook/promise-map.csv

compare: $(BIN)/promise-map ## items covered in document A and missing in B (A=... B=... [OUT=outputs/run])
	@if [ -z "$(A)" ] || [ -z "$(B)" ]; then echo "name two documents of the run: make compare A=... B=..." >&2; exit 2; fi
	"$(BIN)/promise-map" compare "$(A)" "$(B)" --run "$(OUT)"

eval: $(BIN)/promise-map ## accuracy: cross-validated, written-examples-only, held-back documents, stance, off-topic folders (outputs/eval/)
	"$(BIN)/promise-map" eval --cross-validate --json outputs/eval/cv.json
	"$(BIN)/promise-map" eval --transfer --json outputs/eval/transfer.json
	"$(BIN)/promise-map" eval --documents corpora/heldback --json outputs/eval/heldback.json
	"$(BIN)/promise-map" eval --stance --json outputs/eval/stance.json | tail -3
	@for folder in "$(SHARED)/offtopic-web" "$(SHARED)/pdf-corpus"; do \
	  if [ -d "$$folder" ]; then "$(BIN)/promise-map" eval --documents "$$folder" --off-topic \
	    --json "outputs/eval/offtopic-$$(basename "$$folder").json" | tail -1; \
	  else echo "$$folder is not here: its off-topic figure is not measured"; fi; done

bench: $(BIN)/promise-map ## extraction vs raw pypdfium2 (pdf-corpus), classification, 1,000 documents cold/warm -> outputs/bench/
	"$(BIN)/python" -m pipeline.bench

test: $(BIN)/promise-map ## the whole test suite, corpus-wide tests included (what CI runs)
	"$(BIN)/python" -m pytest -q

test-fast: $(BIN)/promise-map ## the quick subset for the edit-run loop (no slow tests)
	"$(BIN)/python" -m pytest -q -m "not slow"

lint: $(BIN)/promise-map ## ruff over the package and tests
	"$(BIN)/ruff" check pipeline tests

clean: ## remove generated outputs (keeps outputs/README.md)
	find outputs -mindepth 1 -not -name README.md -exec rm -rf {} +
