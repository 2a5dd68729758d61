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

test: $(UV)
	$(UV) run --frozen pytest

dev: $(UV)
	$(UV) run --frozen y3d dev

lint: $(UV)
	$(UV) run --frozen ruff check .

check: lint
	$(UV) run --frozen dg check defs

clean-state: $(UV)
	-$(UV) run --frozen y3d db stop
	rm -rf .y3d/pgdata .y3d/test-pgdata
