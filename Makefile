# Thin aliases; the work is done by the mojule package and its tests.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: install run test bench lint clean

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

bench: install
	$(BIN)/python -m bench
	$(BIN)/python -m bench.usage_queries

lint: install
	$(BIN)/ruff check mojule tests bench

clean:
	rm -rf $(VENV) var build *.egg-info
