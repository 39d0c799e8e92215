# The README's two commands: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEVSTAMP := $(VENV)/.installed-dev

.PHONY: demo test lint typecheck pytest bench clean docs

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -q -e .
	touch $@

$(DEVSTAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@ $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m changeguard.demo

test: $(DEVSTAMP)
	$(BIN)/ruff check changeguard tests bench
	$(BIN)/mypy --strict changeguard
	$(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

docs: $(STAMP)
	$(BIN)/python -m changeguard.docsgen

bench: $(DEVSTAMP)
	$(BIN)/python bench/validate.py
	$(BIN)/python bench/hook.py
	$(BIN)/python bench/check_bulk.py
	$(BIN)/python bench/log_scale.py

clean:
	rm -rf $(VENV) build dist
