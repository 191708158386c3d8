# Two commands on a fresh machine:
#   make demo   runs the main job on the bundled sample data
#   make test   runs every check CI runs (ruff, mypy --strict, pytest)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test bench system-deps

$(BIN)/pith: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,pkcs11]'
	touch $(BIN)/pith

demo: $(BIN)/pith
	$(BIN)/pith derive --now 2026-01-01T00:00:00Z examples/arxivraw-listrecords.xml examples/snapshot-sample.jsonl

# SoftHSM2 (Debian's package) backs the PKCS#11 tests: they run, never skip.
system-deps:
	@if [ ! -e /usr/lib/softhsm/libsofthsm2.so ]; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq softhsm2 >/dev/null; \
	fi

test: $(BIN)/pith system-deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest

bench: $(BIN)/pith
	cd bench && ../$(BIN)/python derive.py
	cd bench && ../$(BIN)/python xml_parsers.py
	cd bench && ../$(BIN)/python sign.py
