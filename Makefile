# Thin aliases; the work is done by the mojule package and its tests.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: install run test fuzz bench lint clean

install: $(VENV)/.installed

$(VENV)/.installed: setup.cfg setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

run: install
	$(BIN)/python -m mojule.dev run

test: install
	$(BIN)/python -m pytest tests

# The security bar's fuzzing: over 100,000 generated bodies reach the ingest handler
# (34,000 per body shape; the random-token shape stops at 401), freshly drawn.
fuzz: install
	$(BIN)/python -m pytest tests/test_ingest_fuzz.py --hypothesis-profile=fuzz

bench: install
	$(BIN)/python -m bench
	$(BIN)/python -m bench.usage_queries

lint: install
	$(BIN)/ruff check mojule tests bench

clean:
	rm -rf $(VENV) var build *.egg-info
