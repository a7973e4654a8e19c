# Every target creates .venv itself; a fresh machine needs only Python 3.11+ and make.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOG := $(VENV)/install.log
# torch first, pinned to the CPU build that pip finds locally; a bare `torch` would pull CUDA.
TORCH ?= torch==2.13.0
EXTRAS := test,dev
# pip's own chatter (and any site-wide pip configuration's notices) goes to $(LOG); a failed
# step prints the end of that log and stops.
PIP = $(BIN)/python -m pip install --disable-pip-version-check
define step
	@printf '  %-44s' "$(1)"; \
	if $(2) >>$(LOG) 2>&1; then echo ok; \
	else echo FAILED; echo "--- last lines of $(LOG) ---"; tail -n 30 $(LOG); exit 1; fi
endef

.PHONY: install demo test test-fast bench lint format clean

$(STAMP): pyproject.toml
	@$(PY) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "agentic-rl needs Python 3.11 or newer; set PY=python3.11 (or newer) and run make again")'
	@echo "Setting up $(VENV) (log: $(LOG))"
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	@: > $(LOG)
	$(call step,upgrading pip,$(PIP) --upgrade pip)
	$(call step,installing PyTorch ($(TORCH)),$(PIP) "$(TORCH)")
	$(call step,installing agentic-rl and test tools,$(PIP) -e ".[$(EXTRAS)]")
	@touch $(STAMP)

# Install only: a working .venv and the `agentic-rl` command, then what to run next.
install: $(STAMP)
	@echo
	@echo "agentic-rl is installed in $(VENV)."
	@echo "  source $(BIN)/activate  # puts 'agentic-rl' on your PATH"
	@echo "  agentic-rl --help          # every command"
	@echo "  agentic-rl tasks           # the built-in tasks"
	@echo "  make demo                  # the refinement loop, offline (about 10 minutes)"

# The main job: the closed refinement loop on DroneHover with the built-in offline designer
# (no network, no API key), sized for a 2-core laptop; prints where the report and policy are.
# 100k steps per candidate (a fifth of DroneHover's default budget) leaves iteration 0 short of
# the goal, so warm starts have something to add; see README "make demo" for why and what it shows.
DEMO_ARGS ?= --iterations 3 --candidates 4 --steps 100000 --workers 2 --warm-start auto
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
