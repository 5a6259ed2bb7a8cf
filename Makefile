# The front door: `make demo`, `make test`, `make bench`, `make lint`.
# Each target creates or refreshes the local virtualenv (.venv) first, so each works alone
# on a fresh clone.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test schemathesis bench lint format venv clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/dingsync demo $(DEMO_ARGS)

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

# Property-based run of the web API against its OpenAPI spec (no 5xx); also part of `make test`.
schemathesis: $(STAMP)
	$(PY) -m pytest tests/web/test_schemathesis.py $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) benchmarks/run.py $(BENCH_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(VENV)/bin/mypy

format: $(STAMP)
	$(VENV)/bin/ruff format src tests benchmarks
	$(VENV)/bin/ruff check --fix src tests benchmarks

clean:
	rm -rf $(VENV) .dingsync .pytest_cache .mypy_cache .ruff_cache
