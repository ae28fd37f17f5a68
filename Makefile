# The two quick-start commands: `make demo` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
ADMIN_USER ?= admin
ADMIN_PASSWORD ?= admin-pass-1
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: setup demo test lint browser-deps clean

$(BIN)/portal: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(BIN)/portal

setup: $(BIN)/portal

# Sets everything up and runs the portal on SQLite with demo data.
demo: setup
	@mkdir -p instance
	@test -s instance/secret_key || $(BIN)/python -c "import secrets; print(secrets.token_hex(32))" > instance/secret_key
	@export PORTAL_SECRET_KEY="$$(cat instance/secret_key)"; \
	  $(BIN)/portal init --admin-user "$(ADMIN_USER)" --admin-password "$(ADMIN_PASSWORD)" && \
	  $(BIN)/portal demo && \
	  echo "" && \
	  echo "  Portal:  http://$(HOST):$(PORT)/" && \
	  echo "  Admin:   $(ADMIN_USER) / $(ADMIN_PASSWORD)" && \
	  echo "  Demo:    director, wang.fang, anna, finance, steward (password demo-pass-1)" && \
	  echo "" && \
	  $(BIN)/portal serve --host "$(HOST)" --port "$(PORT)"

# Debian's chromium for the browser tests (Playwright cannot download browsers here), and a
# CJK font so screenshots of Chinese pages are readable.
browser-deps:
	@command -v chromium >/dev/null 2>&1 || test -x /usr/bin/chromium || \
	  { if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null; \
	    else echo "chromium missing: run 'sudo apt-get install -y chromium' (browser tests will skip)"; fi; }

lint: setup
	$(BIN)/ruff check .
	$(BIN)/lint-imports

# Sets everything up and runs every test (PostgreSQL too when PORTAL_TEST_DATABASE_URL is set).
test: setup browser-deps lint
	$(BIN)/pytest -q tests

clean:
	rm -rf $(VENV) instance test-artifacts .pytest_cache .ruff_cache
