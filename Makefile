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

# The demo registry lives in .demo/ (SQLite) with a local development key in an
# encrypted file; its passphrase is public, so never sign anything real with it.
DEMO := PITH_HOME=$(CURDIR)/.demo PITH_KEY_PASSPHRASE=demo-only-not-secret $(BIN)/pith
DEMO_INPUT := examples/arxivraw-listrecords.xml examples/snapshot-sample.jsonl

demo: $(BIN)/pith
	@test -e .demo/keys/dev-demo.json || $(DEMO) keys generate dev-demo --signer file:$(CURDIR)/.demo/dev-demo.p8
	$(DEMO) issue $(DEMO_INPUT)
	$(DEMO) resolve 0704.0001 > .demo/resolved.json
	$(DEMO) bundle $$($(BIN)/python -c "import json; print(json.load(open('.demo/resolved.json'))['unique'])") -o .demo/bundle.json
	$(DEMO) verify .demo/bundle.json --keys .demo/keys

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
	cd bench && ../$(BIN)/python verify.py
	cd bench && ../$(BIN)/python issue.py
	cd bench && ../$(BIN)/python publish.py
	cd bench && ../$(BIN)/python reissue.py
