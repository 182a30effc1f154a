# Two commands on a fresh machine:  `make demo` (the main job)  and  `make test` (everything CI runs).
# Both create the virtualenv in .venv when it is missing or older than pyproject.toml.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup system-deps demo test lint typecheck contracts unit bench demo-city clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)

## The main job on the embedded default (no Redis needed).
demo: setup
	$(VENV)/bin/outage demo

## The real peers the tests talk to (redis-server, kannel, chromium, a CJK font), from Debian.
## Best effort: without root or apt the tests that need a missing peer skip, and say why.
system-deps:
	@scripts/system-deps.sh || echo "make: could not install system packages (needs root and apt); tests needing them will skip" >&2

## Everything CI runs: lint, types, import contracts, then the whole test suite.
test: setup system-deps lint typecheck contracts unit

lint: setup
	$(VENV)/bin/ruff check grid outage notify playbooks scenarios tests benchmarks

typecheck: setup
	$(VENV)/bin/mypy grid outage notify playbooks scenarios

contracts: setup
	$(VENV)/bin/lint-imports

unit: setup
	$(VENV)/bin/pytest -n 2 -q

bench: setup
	$(PY) benchmarks/topology_bench.py

## Regenerate the committed demo city (deterministic: same seed, same city).
demo-city: setup
	$(VENV)/bin/outage topology generate --customers 24000 --seed 7 --out data/topology/demo.gpkg

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache out
