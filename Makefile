# topic-tagger task vocabulary: `make` lists the targets.
.DEFAULT_GOAL := help
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found; set PYTHON=/path/to/python3.11" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(TEST_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test,spark]"
	touch $(STAMP) $@

# Spark runs on the JVM: take Java 17 from Debian when the machine has none.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
.PHONY: java
java:
	@command -v java >/dev/null 2>&1 || { echo "installing Java 17 for Spark (Debian openjdk-17-jre-headless)"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless; }

# The UI test looks at `train ui`'s pages as a person would: headless Chromium from Debian.
.PHONY: chromium
chromium:
	@command -v chromium >/dev/null 2>&1 || { echo "installing Chromium for the browser test (Debian chromium)"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq --no-install-recommends chromium; }

.PHONY: help
help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

.PHONY: install
install: $(STAMP) ## Create .venv and install the project

.PHONY: run
run: $(STAMP) ## Train on data/ (CV + MLflow run), then tag the example article
	$(BIN)/train fit
	$(BIN)/train predict --file data/examples/article.txt --format table

.PHONY: test
test: $(TEST_STAMP) java chromium ## Install test and Spark extras (and Java, Chromium if missing), run the test suite
	$(BIN)/python -m pytest

.PHONY: lint
lint: $(TEST_STAMP) ## ruff and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

.PHONY: bench
bench: $(TEST_STAMP) java ## Benchmarks: tokenizer, predict, cold start, fit scaling, memory, REST, Spark
	$(BIN)/python bench/run.py

.PHONY: serve
serve: $(STAMP) ## Serve the trained model over REST on http://127.0.0.1:5001
	$(BIN)/train serve

.PHONY: ui
ui: $(STAMP) ## Open the MLflow UI on http://127.0.0.1:5000
	$(BIN)/train ui

.PHONY: clean
clean: ## Remove the venv, the MLflow store and trained models
	rm -rf $(VENV) mlflow.db mlruns/[0-9]* mlruns/models models/topic_classifier.*
