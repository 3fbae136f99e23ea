# attain — make run (serve on SQLite) · make test (SQLite, and PostgreSQL when ATTAIN_TEST_POSTGRES_URL is set)
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-slow lint messages bench-ingest bench-attainment bench-load clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/attain serve

test: $(STAMP)
	$(BIN)/pytest -q -m "not slow"

test-slow: $(STAMP)
	$(BIN)/pytest -q -m slow

lint: $(STAMP)
	$(BIN)/ruff check app tests bench
	$(BIN)/mypy app

bench-ingest: $(STAMP)
	$(BIN)/python bench/ingest.py

bench-attainment: $(STAMP)
	$(BIN)/python bench/attainment.py

bench-load: $(STAMP)
	$(BIN)/python bench/load.py

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache

# Refresh the zh_Hans catalog from the _("…") calls in app/ (README: "Messages and languages").
messages: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k _ --no-default-keywords --no-location --sort-output -o $(VENV)/messages.pot .
	$(BIN)/pybabel update -i $(VENV)/messages.pot -d app/locale -l zh_Hans --no-fuzzy-matching --ignore-obsolete
