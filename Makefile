# The two commands: `make run` and `make test`. Everything else is set-up they need.
# `make run` installs the runtime dependencies only; `make test` adds the development ones.
# Installs go through uv (from PyPI, into the venv) when it can be had, else plain pip; force
# plain pip with `make run USE_UV=0`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-dev
RUN_STAMP := $(VENV)/.installed-run
PORT   ?= 8501
USE_UV ?= 1

.PHONY: run test install install-run bench screenshots clean

# pip install ARGS, through uv when USE_UV=1 and uv installs, else pip (same arguments).
define pip_install
	if [ "$(USE_UV)" = "1" ] && { [ -x $(BIN)/uv ] || $(BIN)/python -m pip install --quiet uv >/dev/null 2>&1; }; then \
		$(BIN)/uv pip install --quiet --python $(BIN)/python $(1) || $(BIN)/python -m pip install --quiet $(1); \
	else \
		$(BIN)/python -m pip install --quiet $(1); \
	fi
endef

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(call pip_install,-e .)
	touch $(RUN_STAMP)

$(STAMP): pyproject.toml | $(BIN)/python
	$(call pip_install,-e '.[dev]')
	touch $(STAMP) $(RUN_STAMP)

install: $(STAMP)
install-run: $(RUN_STAMP)

## make run: install (runtime only), build the demo database if no real one is configured, serve on localhost:8501
run: $(RUN_STAMP)
	$(BIN)/cadence dashboard --port $(PORT)

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
