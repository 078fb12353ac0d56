# paperboy: the two commands of the Quick start are `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DATA_DIR ?= var
PORT ?= 8000
export PAPERBOY_DATA_DIR ?= $(abspath $(DATA_DIR))

.PHONY: run test system-deps test-sqlite test-postgres lint bench sample docs clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

# Create the environment, load the bundled real sample (once) and serve the site on http://127.0.0.1:$(PORT)/
run: $(VENV)/.installed
	$(VENV)/bin/paperboy init
	$(VENV)/bin/paperboy ingest sample
	$(VENV)/bin/paperboy serve --port $(PORT)

# Debian packages the browser tests need (headless Chromium); installed when missing and we may use apt.
system-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium is missing: install Debian's chromium package for the browser tests"; fi; }

# The whole suite on SQLite, then again on PostgreSQL (127.0.0.1:5432, a throwaway database per run).
test: $(VENV)/.installed system-deps
	$(VENV)/bin/ruff check paperboy tests bench scripts
	$(MAKE) test-sqlite
	$(MAKE) test-postgres

test-sqlite: $(VENV)/.installed
	PAPERBOY_TEST_DATABASE=sqlite $(PY) -m pytest -n 2 -q

test-postgres: $(VENV)/.installed
	PAPERBOY_TEST_DATABASE=postgres $(PY) -m pytest -n 2 -q

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check paperboy tests bench scripts
	$(VENV)/bin/ruff format --check paperboy tests bench scripts

bench: $(VENV)/.installed
	$(PY) bench/ingest.py

# Rebuild the bundled sample from ../shared/data/hf_daily_papers (committed; rarely needed).
sample: $(VENV)/.installed
	$(PY) scripts/build_sample.py

docs: $(VENV)/.installed
	$(VENV)/bin/paperboy settings --markdown > docs/settings.md

clean:
	rm -rf $(VENV) $(DATA_DIR) .pytest_cache .ruff_cache
