# Every target creates .venv itself; a fresh machine needs only Python 3.10+ and make.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# torch first, pinned to the CPU build that pip finds locally; a bare `torch` would pull CUDA.
TORCH ?= torch==2.13.0

.PHONY: demo test test-fast bench lint format clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH)"
	$(BIN)/python -m pip install -q -e ".[test,dev]"
	touch $(STAMP)

# The main job: the closed refinement loop on DroneHover with the built-in offline designer
# (no network, no API key), sized for a 2-core laptop; prints where the report and policy are.
DEMO_ARGS ?= --iterations 3 --candidates 4 --steps 200000 --workers 2
demo: $(STAMP)
	$(BIN)/agentic-rl refine --task agentic_rl/DroneHover-v0 --designer offline $(DEMO_ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

bench: $(STAMP)
	$(BIN)/python benchmarks/env_throughput.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
