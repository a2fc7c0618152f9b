# The two commands of the README: `make demo` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PLUGINS := api_core api_feature_webhooks api_feature_search api_feature_events \
           api_feature_availability api_feature_bookings api_feature_handover webhooks_core \
           authmethod_none authmethod_basic authmethod_oauth
STAMP := $(VENV)/.installed
# What every pyproject.toml here builds with ([build-system] requires), installed once so that
# each package builds in .venv rather than in a fresh environment of its own.
BUILD_REQUIRES := setuptools>=69

# Root installs system packages itself; anyone else through sudo.
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

.PHONY: setup test test-sqlite lint demo serve clean chromium

setup: $(STAMP)

$(STAMP): pyproject.toml requirements-dev.txt $(foreach p,$(PLUGINS),plugins/$(p)/pyproject.toml)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip '$(BUILD_REQUIRES)'
	$(BIN)/python -m pip install --quiet --no-build-isolation -e '.[postgres]' \
		$(foreach p,$(PLUGINS),-e plugins/$(p)) -r requirements-dev.txt
	touch $(STAMP)

# Debian's chromium, which the web console's browser tests drive (pytest -m browser).
chromium:
	test -x /usr/bin/chromium || { $(SUDO) apt-get update && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; }

# Every test; the PostgreSQL half runs when JOMRESKIT_TEST_POSTGRES_URL is set (.ci/run sets it).
# Tests spend most of their time waiting (servers, timeouts, the database), so they run in
# TEST_WORKERS processes; then the tests marked serial, which must not share the machine.
TEST_WORKERS ?= 4
test: setup chromium lint
	$(BIN)/pytest -n $(TEST_WORKERS) --dist worksteal -m "not serial" $(PYTEST_ARGS)
	$(BIN)/pytest -m serial $(PYTEST_ARGS) || test $$? -eq 5  # 5: none among those asked for

# ruff, then the import rules of .importlinter (layers, the public surface, plugins apart).
lint: setup
	$(BIN)/ruff check src plugins tests bench scripts examples
	$(BIN)/lint-imports --no-logo

# The case study in a fresh site under instance/demo: API, worker and responder on loopback.
demo: setup
	JOMRESKIT_INSTANCE_PATH=$(CURDIR)/instance $(BIN)/jomreskit demo

clean:
	rm -rf $(VENV) instance .pytest_cache
