# burnwatch: two commands on a fresh Debian machine with Python 3.11 —
#   make demo   set everything up, then scan the embedded demo scene into maps/demo
#   make test   set everything up (incl. Chromium and PostGIS), then lint, type-check and run all tests
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
VENDOR := burnwatch/publish/static/vendor
export YOLO_OFFLINE := 1
export YOLO_AUTOINSTALL := 0

.PHONY: setup system demo test lint typecheck pytest clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip wheel setuptools
	$(BIN)/pip install -c constraints.txt -e '.[dev]'
	touch $@

$(VENDOR)/.stamp: package.json package-lock.json scripts/vendor_assets.py $(STAMP)
	npm ci --no-audit --no-fund --loglevel=error
	$(BIN)/python scripts/vendor_assets.py
	touch $@

setup: $(STAMP) $(VENDOR)/.stamp

system:
	bash scripts/install_system.sh

demo: setup
	$(BIN)/burnwatch demo --out maps/demo

lint: setup
	$(BIN)/ruff check burnwatch tests scripts

typecheck: setup
	$(BIN)/mypy

pytest: setup
	$(BIN)/pytest

test: system setup lint typecheck pytest

clean:
	rm -rf $(VENV) node_modules $(VENDOR) .pytest_cache .mypy_cache .ruff_cache
