# Two commands for a machine with only Python 3.11+: `make demo` and `make test`.
# uv is bootstrapped into .y3d/bootstrap (no system-wide install); it then builds .venv from uv.lock.
PYTHON ?= python3
UV_VERSION := 0.13.9
UV := .y3d/bootstrap/bin/uv

.PHONY: demo test check lint dev clean-state

$(UV):
	$(PYTHON) -m venv .y3d/bootstrap
	.y3d/bootstrap/bin/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

demo: $(UV)
	$(UV) run --frozen y3d demo

# Tests run in TEST_WORKERS pytest-xdist processes (`make test TEST_WORKERS=0` for one process), slowest tests
# first (y3d_pipeline_tests/conftest.py). Bytecode is compiled once (incremental afterwards): the suite starts
# ~40 Python processes (workers, dagster-webserver/daemon/code servers, CLI subprocesses) and, with
# PYTHONDONTWRITEBYTECODE set or a fresh .venv, each would otherwise compile Dagster from source (~7 s of CPU).
TEST_WORKERS ?= 3

test: $(UV)
	$(UV) sync --frozen --inexact --compile-bytecode --quiet
	$(UV) run --frozen python -m compileall -q y3d_pipeline y3d_pipeline_tests >/dev/null
	$(UV) run --frozen pytest -n $(TEST_WORKERS) --dist load --maxschedchunk 1

dev: $(UV)
	$(UV) run --frozen y3d dev

lint: $(UV)
	$(UV) run --frozen ruff check .

check: lint
	$(UV) run --frozen dg check defs

clean-state: $(UV)
	-$(UV) run --frozen y3d db stop
	rm -rf .y3d/pgdata .y3d/test-pgdata
