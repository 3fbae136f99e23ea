# attain — make run (serve on SQLite) · make test (SQLite, and PostgreSQL whenever one answers at 127.0.0.1:5432)
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-slow system-packages lint messages simulate bench-ingest bench-attainment bench-load bench-slow-clients bench-export clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/attain serve

# Installs what the tests drive (prometheus, chromium, fonts-noto-cjk, poppler-utils) when missing, then runs
# pytest on SQLite and, when PostgreSQL answers, on PostgreSQL too; it says which.
test: $(STAMP)
	@scripts/test

test-slow: $(STAMP)
	@ATTAIN_TEST_MARKERS=slow scripts/test

system-packages:
	@scripts/system-packages

# Demo data against a running `make run`: ATTAIN_ADMIN_KEY=... make simulate
simulate: $(STAMP)
	$(BIN)/attain simulate

lint: $(STAMP)
	$(BIN)/ruff check app tests bench
	$(BIN)/mypy app

bench-ingest: $(STAMP)
	$(BIN)/python bench/ingest.py

bench-attainment: $(STAMP)
	$(BIN)/python bench/attainment.py

bench-load: $(STAMP)
	$(BIN)/python bench/load.py

bench-slow-clients: $(STAMP)
	$(BIN)/python bench/slow_clients.py

bench-export: $(STAMP)
	$(BIN)/python bench/archive.py

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache

# Refresh the zh_Hans catalog from the _("…") calls in app/ (README: "Messages and languages").
messages: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k _ --no-default-keywords --no-location --sort-output -o $(VENV)/messages.pot .
	$(BIN)/pybabel update -i $(VENV)/messages.pot -d app/locale -l zh_Hans --no-fuzzy-matching --ignore-obsolete
