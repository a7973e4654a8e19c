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

# Until the refinement loop lands, the demo is the best end-to-end path that exists: PPO on
# DroneHover against the reference reward, then a seeded evaluation with a GIF of the policy.
DEMO_DIR ?= runs/demo/DroneHover
demo: $(STAMP)
	$(BIN)/agentic-rl train --task DroneHover --reward reference --seed 0 --out $(DEMO_DIR)
	$(BIN)/agentic-rl eval --checkpoint $(DEMO_DIR)/checkpoint.pt --episodes 50 --video $(DEMO_DIR)/policy.gif
	@echo "demo run folder: $(DEMO_DIR) (policy.gif shows the trained policy)"

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
