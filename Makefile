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

# UV: uv on PATH, else one pip-installed once per user into UV_DIR (from PyPI, like pip's own
# cache); empty when USE_UV=0 or neither works. With uv the venv is made without pip (ensurepip
# alone took 22 s on the busy 2-core machine); pip is added only if the install falls back to it.
UV_DIR ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/cadence-uv
UV_BIN = $(shell [ "$(USE_UV)" = "1" ] && { command -v uv || { [ -x $(UV_DIR)/bin/uv ] || $(PYTHON) -m pip install --quiet --disable-pip-version-check --target $(UV_DIR) uv >/dev/null 2>&1; } && [ -x $(UV_DIR)/bin/uv ] && echo $(UV_DIR)/bin/uv; })

# pip install ARGS, through uv when there is one, else pip (same arguments).
define pip_install
	if [ -n "$(UV)" ] && PYTHONPATH=$(UV_DIR) $(UV) pip install --quiet --python $(BIN)/python $(1); then :; else \
		$(BIN)/python -m pip --version >/dev/null 2>&1 || $(BIN)/python -m ensurepip --upgrade >/dev/null; \
		$(BIN)/python -m pip install --quiet $(1); \
	fi
endef

$(BIN)/python:
	mkdir -p $(VENV)
	$(eval UV := $(UV_BIN))
	if [ -n "$(UV)" ]; then $(PYTHON) -m venv --without-pip $(VENV); else $(PYTHON) -m venv $(VENV); fi

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(eval UV := $(UV_BIN))
	$(call pip_install,-e .)
	touch $(RUN_STAMP)

$(STAMP): pyproject.toml | $(BIN)/python
	$(eval UV := $(UV_BIN))
	$(call pip_install,-e '.[dev]')
	touch $(STAMP) $(RUN_STAMP)

install: $(STAMP)
install-run: $(RUN_STAMP)

## make run: install (runtime only), build the demo database if no real one is configured, serve on localhost:8501
run: $(RUN_STAMP)
	$(BIN)/cadence dashboard --port $(PORT)

## make test: install, check the direction of imports (the layers contract in pyproject.toml), then
## run the whole suite (unit, collectors over HTTP, AppTest, browser)
test: $(STAMP)
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest -n 2 --dist loadfile $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

## make screenshots: the browser test, saving its page screenshots to docs/screenshots (README shows them)
screenshots: $(STAMP)
	CADENCE_SCREENSHOTS=$(CURDIR)/docs/screenshots $(BIN)/python -m pytest tests/dashboard/test_browser.py

clean:
	rm -rf $(VENV) .pytest_cache data/demo.duckdb
