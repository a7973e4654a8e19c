"""`RefineConfig`: everything `agentic-rl refine` does, as one validated, saved model.

Sources, later ones winning: defaults < a YAML/TOML config file (``--config``) < command-line
options < ``--set key=value`` overrides (dotted keys reach into ``ppo`` and ``designer``, e.g.
``--set ppo.learning_rate=1e-3``). The resolved config is saved as ``config.json`` in the run
folder, so every run can be reproduced or resumed.
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from agentic_rl.llm.pricing import Price

ExecutorName = Literal["serial", "process", "ray"]


class DesignerOptions(BaseModel):
    """How the reward designer is reached and prompted (options a designer does not use are
    ignored). Set any of them with ``--set designer_options.NAME=VALUE``."""

    model_config = ConfigDict(extra="forbid")

    base_url: str | None = Field(None, description="OpenAI-compatible endpoint (openai designer).")
    model: str | None = Field(None, description="Model name (openai designer).")
    vision: bool = Field(False, description="Attach images (trajectory plot, overview render).")
    transcript: str | None = Field(
        None, description="llm_transcript.jsonl to replay (replay designer)."
    )
    timeout: float = Field(60.0, gt=0, description="Seconds per model request.")
    retry_budget_s: float = Field(
        300.0,
        gt=0,
        description="Seconds one request may spend retrying 429/5xx/timeouts (exponential "
        "backoff, at least the server's Retry-After) before the run stops, resumable.",
    )
    max_retries: int | None = Field(
        None, ge=0, description="Optional cap on retries per request on top of retry_budget_s."
    )
    temperature: float = Field(0.8, ge=0, le=2, description="Sampling temperature.")
    max_tokens: int = Field(4096, ge=64, description="Completion token limit per answer.")
    max_images: int = Field(3, ge=0, description="Image parts per request (with vision).")
    prompt_tokens: int = Field(
        6000,
        ge=500,
        description="Token budget of the prompt's memory (what was tried); older detail is "
        "dropped first and the prompt says what was dropped.",
    )
    repair_rounds: int = Field(
        2, ge=0, le=5, description="Repair rounds for a rejected candidate before it is dropped."
    )
    prices: dict[str, Price] | str | None = Field(
        None,
        description='USD per 1M tokens per model, e.g. {"my-model": {"prompt": 0.5, '
        '"completion": 1.5}}, or the path of a JSON file of them (for --budget-usd).',
    )


class RefineConfig(BaseModel):
    """Configuration of one refinement run (see ``agentic-rl refine --help``)."""

    model_config = ConfigDict(extra="forbid")

    task: str = Field(description="Task id, e.g. agentic_rl/DroneHover-v0.")
    task_path: str | None = Field(
        None,
        description="module:Class of a task named by its class path (set from task; recorded "
        "so a resumed run loads the class again).",
    )
    designer: Literal["offline", "openai", "replay"] = "offline"
    designer_options: DesignerOptions = Field(default_factory=DesignerOptions)
    iterations: int = Field(4, ge=1, description="Refinement iterations.")
    candidates: int = Field(4, ge=1, description="Reward candidates proposed per iteration.")
    steps: int = Field(150_000, ge=1_000, description="PPO env steps per candidate.")
    seeds: int = Field(20, ge=1, description="Held-out evaluation episodes per candidate.")
    randomized_seeds: int = Field(
        10, ge=0, description="Extra evaluation episodes under randomized physics."
    )
    reeval_seeds: int = Field(
        30, ge=0, description="Extra episodes re-evaluating the top two of each iteration."
    )
    workers: int = Field(
        default_factory=lambda: max(1, os.cpu_count() or 1),
        ge=1,
        description="Candidates trained at once.",
    )
    executor: ExecutorName = "process"
    candidate_timeout: float = Field(
        1800.0, gt=0, description="Wall-clock seconds before a candidate is stopped."
    )
    warm_start: Literal["auto", "on", "off"] = Field(
        "auto",
        description="From iteration 1, candidates continue their parent's policy (actor, "
        "critic, observation normalizer; reward scaling reset) under their new reward: on, "
        "off, or auto (on when the parent succeeded in at least one selection episode). With "
        "warm starts one candidate is the control (the parent's reward, unchanged, for the "
        "same steps) and, with 4 or more candidates, one starts cold.",
    )
    test_episodes: int = Field(
        50,
        ge=0,
        description="Test-seed episodes (never used for selection) of the final "
        "and iteration 0's best, nominal physics.",
    )
    test_randomized_episodes: int = Field(
        20, ge=0, description="Test-seed episodes of the same two policies, randomized physics."
    )
    halving: bool = Field(
        True, description="Stop the weaker half of each iteration early and reuse its budget."
    )
    rung_fraction: float = Field(
        1 / 3, gt=0, lt=1, description="Share of a survivor's steps at which halving decides."
    )
    budget_usd: float | None = Field(None, ge=0, description="Stop before spending more USD.")
    budget_tokens: int | None = Field(None, ge=0, description="Stop before more tokens.")
    max_wall: float | None = Field(None, gt=0, description="Stop after this many seconds.")
    target_success: float | None = Field(
        None, ge=0, le=1, description="Stop once the best candidate reaches this success rate."
    )
    randomize: bool | Literal["auto"] = Field(
        False,
        description="Domain randomization while training candidates: false (nominal physics), "
        "true (the task's default ranges) or 'auto' (ranges proposed each iteration within "
        "what a robustness sweep of the best policy survives).",
    )
    seed: int = Field(0, description="Seed of designers, training and evaluation.")
    ppo: dict[str, Any] = Field(
        default_factory=dict, description="PPO config overrides (see `agentic-rl train`)."
    )
    out: str = Field("runs", description="Parent folder of run folders.")
    export: bool = Field(True, description="Export the best policy as a PolicyBundle.")
    video: bool = Field(True, description="Render a GIF of the best policy for the report.")

    @field_validator("randomize", mode="before")
    @classmethod
    def _randomize_words(cls, value: Any) -> Any:
        words = {"off": False, "false": False, "no": False, "on": True, "true": True, "yes": True}
        return words.get(value.lower(), value) if isinstance(value, str) else value

    @field_validator("warm_start", mode="before")
    @classmethod
    def _warm_start_words(cls, value: Any) -> Any:
        # YAML reads a bare on/off as a boolean
        return {True: "on", False: "off"}.get(value, value) if isinstance(value, bool) else value

    @model_validator(mode="before")
    @classmethod
    def _known_task(cls, data: Any) -> Any:
        # The id of a task named by its class path is recorded with that path (task_path), so
        # a resumed run loads the class again from config.json alone.
        if not isinstance(data, dict) or not isinstance(data.get("task"), str):
            return data
        import sims

        try:
            task = sims.recall(data["task"], data.get("task_path"))
        except (sims.UnknownTaskError, sims.PluginError) as exc:
            raise ValueError(str(exc)) from None
        return {**data, "task": task, "task_path": sims.recorded_path(task)}


def load_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML (.yaml/.yml) or TOML (.toml) config file into a dict.

    Raises:
        ValueError: for another extension, unreadable syntax or a non-mapping document.
    """
    p = Path(path)
    if not p.exists():
        raise ValueError(f"config file {p} does not exist")
    text = p.read_text()
    try:
        if p.suffix in (".yaml", ".yml"):
            data = yaml.safe_load(text) or {}
        elif p.suffix == ".toml":
            data = tomllib.loads(text)
        else:
            raise ValueError(f"config file {p} must end in .yaml, .yml or .toml")
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"config file {p} is not valid {p.suffix[1:].upper()}: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError(f"config file {p} must hold a mapping of options, got {type(data)}")
    return data


def apply_overrides(data: dict[str, Any], pairs: list[str]) -> dict[str, Any]:
    """Apply ``key=value`` overrides (values parsed as JSON when possible, dotted keys nest)."""
    out = json.loads(json.dumps(data))
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--set expects key=value, got {pair!r}")
        try:
            value: Any = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ValueError(f"--set {key}: {part!r} is not a group of options")
        node[parts[-1]] = value
    return out


def resolve(file: str | Path | None, options: dict[str, Any], overrides: list[str]) -> RefineConfig:
    """Merge config file, explicit options (None means 'not given') and overrides."""
    data = load_file(file) if file else {}
    data.update({k: v for k, v in options.items() if v is not None})
    data = apply_overrides(data, overrides)
    return RefineConfig(**data)
