# One command each: `make run` (sample pipeline) and `make test` (lint, types, the whole suite).
# Both first make .venv and install the project with its dev extra, once per change of pyproject.toml.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
# PySpark is published as source, so every fresh install builds it into uv's cache: drop the builds no install refers
# to any more. Never a reason to wait or fail: a cache that another uv process holds is left for the next install.
PRUNE := UV_LOCK_TIMEOUT=5 $(BIN)/uv cache prune --quiet 2>/dev/null || echo "uv's cache was not pruned this time (another uv process holds it)"

.PHONY: install run test lint typecheck pytest bench wheel test-spark35 test-integration clean

install: $(INSTALLED)

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip uv
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -e ".[dev]"
	$(PRUNE)
	touch $@

run: $(INSTALLED)
	$(BIN)/stedi run

# The types are checked while the suite runs: mypy's few seconds of one core fit in beside the suite's start. It says
# nothing when all is well (its errors, if any, show between the suite's lines, and make names the failed step).
test: lint
	@$(MAKE) --no-print-directory --jobs=2 typecheck pytest MYPY_FLAGS=--no-error-summary

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(INSTALLED)
	$(BIN)/mypy $(MYPY_FLAGS)

# Two workers, one per core: the tests are grouped by engine session (Sail's, and classic Spark's in two groups:
# tests/conftest.py says which), each group in one worker; the tests of no engine go to whichever is free.
pytest: $(INSTALLED)
	$(BIN)/pytest -n 2 --dist loadgroup

bench: $(INSTALLED)
	$(BIN)/python -m benchmarks.bench_run

wheel: $(INSTALLED)
	$(BIN)/python -m build --wheel --outdir dist .

# The library on Spark 3.5 with delta-spark 3.3 (Glue 5.x): the classic-engine tests of the transforms, reader, lake
# and pipeline and the bounded reading, Delta included (its jars fetched and cached as for Spark 4.1); `-m ""` takes
# the classic runs that make test leaves to make test-integration as well.
test-spark35: $(INSTALLED)
	$(BIN)/uv venv --quiet --allow-existing --python $(PYTHON) .venv-spark35
	$(BIN)/uv pip install --quiet --python .venv-spark35/bin/python "pyspark==3.5.6" "delta-spark==3.3.2" "pandas<3" \
		pyarrow chispa "pytest>=8.3,<9" pytest-xdist deltalake hypothesis "lark>=1.2"
	$(PRUNE)
	$(BIN)/uv pip install --quiet --python .venv-spark35/bin/python --no-deps -e .
	.venv-spark35/bin/python -m pytest -p no:cacheprovider -m "" -k spark \
		tests/test_jars.py tests/test_transforms.py tests/test_reader.py tests/test_lake.py tests/test_pipeline.py \
		tests/test_bounded_reading.py

clean:
	rm -rf $(VENV) .venv-spark35 dist build lake .pytest_cache .mypy_cache .ruff_cache

# Tests of many processes (marker `integration`): the pipeline through --remote on Sail's server, Sail's local
# cluster and classic Spark's Connect server in front of a two-executor cluster; the wheel in a clean environment;
# Sail and classic Spark taking turns on one lake; the classic Ctrl-C test.
test-integration: $(INSTALLED)
	$(BIN)/pytest -n 2 --dist loadgroup -m integration
