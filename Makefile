# Two commands on a fresh machine:
#   make demo   runs the main job on the bundled sample data
#   make test   runs every check CI runs (ruff, mypy --strict, pytest)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test bench system-deps fuzz mutation check-pages

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
	@# A real Secret Service (gnome-keyring over D-Bus) backs the keyring signer test.
	@if ! command -v gnome-keyring-daemon >/dev/null || ! command -v dbus-run-session >/dev/null; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq gnome-keyring dbus libsecret-1-0 >/dev/null; \
	fi
	@# Debian's PostgreSQL server backs the registry tests: tests/_pg.py runs its own throwaway
	@# cluster, so Debian's main cluster is not created (create_main_cluster = false), nor started.
	@if ! [ -x "$$(pg_config --bindir 2>/dev/null)/initdb" ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-common >/dev/null && \
		$$SUDO sed -i 's/^#* *create_main_cluster *=.*/create_main_cluster = false/' /etc/postgresql-common/createcluster.conf && \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	fi

test: $(BIN)/pith system-deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest

# Screenshots of a published tree's pages at 420 and 1280 px (tools/check-pages.sh),
# with Debian's chromium; look at the PNGs in page-shots/.
check-pages: $(BIN)/pith
	@if ! command -v chromium >/dev/null; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; \
	fi
	tools/check-pages.sh "" page-shots

# Each benchmark prints its ratio to floors and to the JWS peer measured in the
# same run, and peak RSS (docs/benchmarks.md). `make bench BENCH=--quick` for a
# small run of each.
BENCH ?=
bench: $(BIN)/pith
	cd bench && ../$(BIN)/python derive.py $(BENCH)
	cd bench && ../$(BIN)/python xml_parsers.py
	cd bench && ../$(BIN)/python sign.py $(BENCH)
	cd bench && ../$(BIN)/python verify.py $(BENCH)
	cd bench && ../$(BIN)/python issue.py $(BENCH)
	cd bench && ../$(BIN)/python publish.py $(BENCH)
	cd bench && ../$(BIN)/python reissue.py $(BENCH)
	cd bench && ../$(BIN)/python tlog_append.py

# Coverage-guided fuzzing (atheris): each target of tests/fuzz/harnesses.py runs for
# FUZZ_SECONDS, niced. Crashes and the grown corpus land in .fuzz/TARGET/; a short,
# deterministic pass over the committed seeds runs with `make test`.
FUZZ_SECONDS ?= 600
FUZZ_TARGETS := cjson sources keys verify_bytes verify_mutated

fuzz: $(BIN)/pith
	$(BIN)/pip install --quiet -e '.[dev,pkcs11,fuzz]'
	@for target in $(FUZZ_TARGETS); do \
		echo "== fuzz $$target ($(FUZZ_SECONDS) s)"; \
		nice -n 10 $(BIN)/python -m tests.fuzz.run $$target -max_total_time=$(FUZZ_SECONDS) \
			-print_final_stats=1 || exit 1; \
	done

# Mutation testing (mutmut 3) of the security-critical modules listed under
# [tool.mutmut] in pyproject.toml; docs/mutation.md holds the figures and argues
# every survivor. Slow (about an hour on two cores), so not part of `make test`.
# Results are cached in mutants/: a re-run tests the mutants of changed functions,
# and the survivors again (mutmut itself would not, after a test was added).
# MUTANTS narrows the run, e.g. MUTANTS='"issuer.cjson*"'. The non-mutated modules
# are re-copied first, since mutmut copies them only once.
MUTANTS ?=
MUTATION_CHILDREN ?= 2
MUTATION_MIN ?= 95
mutation: $(BIN)/pith
	@if [ -d mutants/issuer ]; then find mutants/issuer -name '*.py' -delete; fi
	@if [ -d mutants/issuer ]; then $(BIN)/python bench/mutation_report.py --reset-survivors; fi
	nice -n 10 $(BIN)/mutmut run --max-children $(MUTATION_CHILDREN) $(MUTANTS)
	$(BIN)/python bench/mutation_report.py --min $(MUTATION_MIN)
