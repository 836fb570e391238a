# CarboniX. `make setup` installs everything from the package registries (npm, PyPI) only:
# no curl | sh, no compiler downloads. The shared toolchain notes (../shared/TOOLCHAIN.md, beside the
# repository) say why each piece is here.
# Each step has a stamp or output file, so a second `make setup` does nothing and takes ~0.1 s.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
UV_VERSION := 0.9.30
SOLC_VERSION := 0.8.28
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv/bin
UV_STAMP := $(TOOLS)/.uv-$(UV_VERSION)
NPM_STAMP := node_modules/.package-lock.json
VENV_STAMP := .venv/.carbonix-synced
SOLC_SHIM := $(TOOLS)/solcx/solc-v$(SOLC_VERSION)
# Debian packages (file that shows it is installed = package), installed by setup when missing:
# a Thai TrueType font (certificates name Thai beneficiaries); PostgreSQL and Mosquitto servers, which
# the tests start on free ports when none runs (carbonix/local_servers.py).
DEBIAN_PACKAGES := /usr/share/fonts/truetype/tlwg/Garuda.ttf=fonts-tlwg-garuda-ttf \
	'/usr/lib/postgresql/*/bin/initdb=postgresql' /usr/sbin/mosquitto=mosquitto

# ape-solidity (py-solc-x) finds the npm solc through the shim; ape keeps its data in .state.
export SOLCX_BINARY_PATH := $(CURDIR)/$(TOOLS)/solcx
export APE_DATA_FOLDER ?= $(CURDIR)/.state/ape
# uv: the system Python only, never a downloaded one.
export UV_PYTHON_DOWNLOADS := never

.PHONY: help setup compile up down deploy demo test test-clocks bench lint demo-check clean

help:
	@echo "make setup       install npm packages (solc, anvil, forge, OpenZeppelin) and the Python env"
	@echo "make compile     ape compile (npm solc through toolchain/solc-shim.js)"
	@echo "make up | down   start / stop the local L1 and L2 (carbonix chain up|down); down also make demo's chains, indexer and API"
	@echo "make deploy      deploy to the local chains (carbonix deploy)"
	@echo "make test | lint | demo | bench | demo-check | test-clocks (the date-sensitive tests at other dates)"

setup: $(NPM_STAMP) $(VENV_STAMP) $(SOLC_SHIM)
	@toolchain/debian-packages.sh $(DEBIAN_PACKAGES)
	@echo "setup: ok"

# A missing lockfile is created once; afterwards `npm ci` installs exactly what it pins.
package-lock.json:
	npm install --package-lock-only --no-audit --no-fund

$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(UV_STAMP):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	@touch $@

$(VENV_STAMP): pyproject.toml uv.lock $(UV_STAMP)
	$(UV) sync --locked
	@touch $@

# Order-only: make sees the symlink with the mtime of the shim it points to.
$(SOLC_SHIM): | $(NPM_STAMP)
	@mkdir -p $(@D)
	ln -sfn ../../toolchain/solc-shim.js $@
	@$@ --version >/dev/null

compile: setup
	$(VENV)/ape compile

up: setup
	$(VENV)/carbonix chain up

# The chains of `make up`, and the demo's services (indexer, API) and chains.
down:
	$(VENV)/carbonix chain down
	CARBONIX_STATE_DIR=$(CURDIR)/.state/demo $(VENV)/carbonix chain down

deploy: setup
	$(VENV)/carbonix deploy

FORGE := node_modules/@foundry-rs/forge-linux-amd64/bin/forge

# The tests whose outcome hangs on the chain's clock (quarters, years, 24 h and 30-day windows), run
# again on chains started at other dates (anvil --timestamp through CARBONIX_GENESIS_TIME): mid-quarter
# with more than 30 days left in the next year, and two days before the end of a leap-year quarter
# (there the demo's self-check runs too).
# (faketime was tried: its libfaketime hangs Python's timed lock waits or breaks time.sleep.)
CLOCK_TESTS := tests/test_api.py tests/test_settlement.py tests/test_lifecycle.py tests/test_exchange.py \
	tests/test_certificates.py tests/test_chain.py
CLOCKS := 2027-05-20T12:00:00Z 2028-03-29T10:00:00Z

# Lint and types, contract suites (unit, fuzz, invariant), Python against real anvil, the clock
# tests at other dates, then the demo as a self-check.
test: setup lint
	$(FORGE) test
	$(VENV)/pytest -q
	$(MAKE) test-clocks
	$(MAKE) demo-check

test-clocks: setup
	@for clock in $(CLOCKS); do \
		echo "pytest on chains started at $$clock"; \
		CARBONIX_GENESIS_TIME=$$clock $(VENV)/pytest -q -p no:cacheprovider $(CLOCK_TESTS) || exit 1; \
	done
	@echo "demo-check on chains started at $(lastword $(CLOCKS))"
	CARBONIX_GENESIS_TIME=$(lastword $(CLOCKS)) $(MAKE) demo-check

lint: setup
	$(VENV)/ruff check carbonix oracle indexer cli scripts tests bench
	$(VENV)/ruff format --check carbonix oracle indexer cli scripts tests bench
	$(VENV)/mypy

# The narrated scenario on fresh chains in .state/demo; the chains keep running afterwards.
demo: setup
	CARBONIX_STATE_DIR=$(CURDIR)/.state/demo $(VENV)/carbonix demo

# The same scenario, every outcome asserted, on its own ports; stops its chains at the end.
demo-check: setup
	CARBONIX_STATE_DIR=$(CURDIR)/.state/demo-check CARBONIX_L1_PORT=18645 CARBONIX_L2_PORT=19645 \
		$(VENV)/carbonix demo --check --stop

# Figures: gasUsed of real transactions on anvil -> bench/results/gas.json, the oracle's rates
# and commit gas -> bench/results/oracle.json, then the contract
# fuzz and invariant suites with many more runs (FOUNDRY_PROFILE=bench).
bench: setup
	$(VENV)/python bench/gas.py
	$(VENV)/python bench/oracle_figures.py
	$(VENV)/python bench/indexer_figures.py
	$(VENV)/python bench/offchain_figures.py
	FOUNDRY_PROFILE=bench $(FORGE) test

clean:
	rm -rf .build .state/forge .state/ape .pytest_cache .ruff_cache .mypy_cache
