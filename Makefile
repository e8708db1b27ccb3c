# kepu — one command to run with demo data (SQLite), one to pass the tests. Each makes its own venv.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
KEPU := $(VENV)/bin/kepu
PG_TEST_URL ?= postgresql://postgres@127.0.0.1:5432/postgres
export DATABASE_URL ?= sqlite:///data/kepu.sqlite3
# The suite runs on this many pytest-xdist workers (0: in this process, one test after another).
TEST_WORKERS ?= 2
PYTEST := $(PY) -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist loadgroup --no-loadscope-reorder
# Bytecode caches on for the test runs even where the environment turns them off: pytest's rewritten test
# modules and the sources of every `kepu` process the tests start are then compiled once, not each time.
test-sqlite test-postgres test-browser: export PYTHONDONTWRITEBYTECODE :=

.PHONY: venv run serve test test-sqlite test-postgres test-browser lint messages bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	touch $@

venv: $(VENV)/.installed

## run: migrate an SQLite database under ./data, load the Xiamen demo (only into an empty database), serve on :8000
run: venv
	$(KEPU) migrate
	$(KEPU) demo --if-empty
	$(KEPU) serve --host 127.0.0.1 --port 8000

serve: venv
	$(KEPU) serve --host 127.0.0.1 --port 8000

## test: the whole suite on SQLite (with the browser tests), then the database tests on PostgreSQL
test: venv lint test-sqlite test-postgres

test-sqlite: venv
	$(PYTEST)

test-postgres: venv
	@if $(PY) -c "import asyncio, asyncpg; asyncio.run(asyncpg.connect('$(PG_TEST_URL)', timeout=3))" 2>/dev/null; then \
		KEPU_TEST_DATABASE=$(PG_TEST_URL) $(PYTEST) -m "not browser"; \
	elif [ -n "$$KEPU_REQUIRE_PG" ]; then \
		echo "PostgreSQL is not reachable at $(PG_TEST_URL), and KEPU_REQUIRE_PG is set: failing." >&2; exit 1; \
	else \
		echo "NOTE: PostgreSQL is not reachable at $(PG_TEST_URL); its run was skipped (CI runs it)."; \
	fi

test-browser: venv
	$(PYTEST) -m browser

lint: venv
	$(VENV)/bin/ruff check src tests scripts bench
	$(VENV)/bin/ruff format --check src tests scripts bench
	$(VENV)/bin/mypy

## bench: the benchmark scenarios on SQLite and PostgreSQL (city scale; takes a while), into bench/RESULTS.md
bench: venv
	$(PY) -m bench.run --scale $${SCALE:-full}

## messages: extract every string into the catalogue template and update zh_CN and en
messages: venv
	$(PY) scripts/update_messages.py

clean:
	rm -rf $(VENV) data test-artifacts
