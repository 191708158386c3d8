# Two commands on a fresh machine:
#   make demo   runs the main job on the bundled sample data
#   make test   runs every check CI runs (ruff, mypy --strict, pytest)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test bench

$(BIN)/pith: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,pkcs11]'
	touch $(BIN)/pith

demo: $(BIN)/pith
	$(BIN)/pith derive --now 2026-01-01T00:00:00Z examples/arxivraw-listrecords.xml examples/snapshot-sample.jsonl

test: $(BIN)/pith
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest

bench: $(BIN)/pith
	cd bench && ../$(BIN)/python derive.py
	cd bench && ../$(BIN)/python xml_parsers.py
