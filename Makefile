# One command each: `make run` (sample pipeline) and `make test` (lint, types, the whole suite).
# Both first make .venv and install the project with its dev extra, once per change of pyproject.toml.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: install run test lint typecheck pytest bench wheel clean

install: $(INSTALLED)

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip uv
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -e ".[dev]"
	touch $@

run: $(INSTALLED)
	$(BIN)/stedi run

test: lint typecheck pytest

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(INSTALLED)
	$(BIN)/mypy

# Two workers: the Sail tests and the classic Spark tests each keep one engine in one process.
pytest: $(INSTALLED)
	$(BIN)/pytest -n 2 --dist loadgroup

bench: $(INSTALLED)
	$(BIN)/python benchmarks/bench_run.py

wheel: $(INSTALLED)
	$(BIN)/python -m build --wheel --outdir dist .

clean:
	rm -rf $(VENV) dist build lake .pytest_cache .mypy_cache .ruff_cache
