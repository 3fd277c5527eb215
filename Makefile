# The two commands: `make run` and `make test`. Everything else is set-up they need.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-dev

.PHONY: run test install bench screenshots clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## make run: install, build the demo database if no real one is configured, serve on localhost:8501
run: $(STAMP)
	$(BIN)/cadence dashboard --port 8501

## make test: install and run the whole suite (unit, collectors over HTTP, AppTest, browser)
test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadfile $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

## make screenshots: the browser test, saving its page screenshots to docs/screenshots (README shows them)
screenshots: $(STAMP)
	CADENCE_SCREENSHOTS=$(CURDIR)/docs/screenshots $(BIN)/python -m pytest tests/test_browser.py

clean:
	rm -rf $(VENV) .pytest_cache data/demo.duckdb
