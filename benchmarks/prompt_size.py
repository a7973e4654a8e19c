"""How big the LLM designer's requests are: iteration 0 and a refinement, per task.

For each task it builds the openai designer's request exactly as it would be sent (no model
is called) for iteration 0 and for iteration 1 after a real iteration 0: three candidates
proposed by the offline designer, trained for ``--steps`` PPO steps with successive halving
(so one is stopped early), evaluated and diagnosed, with their packets on disk. The figures
are token estimates (:func:`agentic_rl.diagnostics.render.estimate_tokens`, which errs high
for numbers; no tokenizer is needed) of the text, plus 800 tokens per image part with
``--vision``. The baseline, measured in the same run, is the iteration-0 request: the
difference is what the memory of what was tried costs.

    python benchmarks/prompt_size.py [--tasks DroneHover DroneGates] [--steps 4096] [--vision]
        [--dump DIR] [--no-write]

Writes its table into ``benchmarks/RESULTS.md`` (section ``prompt-size``).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _bench import write_section

#: This benchmark's section of RESULTS.md.
SECTION = "prompt-size"


def request_tokens(messages: list[dict[str, Any]]) -> tuple[int, int]:
    """(text tokens, image parts) of a request."""
    from agentic_rl.diagnostics.render import estimate_tokens

    tokens, images = 0, 0
    for m in messages:
        content = m["content"]
        parts = [{"type": "text", "text": content}] if isinstance(content, str) else content
        for p in parts:
            if p["type"] == "text":
                tokens += estimate_tokens(p["text"])
            else:
                images += 1
    return tokens, images


def iteration_zero_history(task: str, steps: int, out: Path) -> list[Any]:
    """A real finished iteration 0 (offline designer, three candidates, halving)."""
    from rich.console import Console

    from agentic_rl.config import RefineConfig
    from agentic_rl.loop import RefineLoop

    cfg = RefineConfig(
        task=task,
        iterations=1,
        candidates=3,
        steps=steps,
        seeds=5,
        randomized_seeds=2,
        reeval_seeds=0,
        workers=1,
        executor="serial",
        video=False,
        export=False,
        out=str(out),
        ppo={"num_envs": 8, "num_steps": 128, "update_epochs": 2, "tensorboard": False},
    )
    loop = RefineLoop.start(cfg, Console(quiet=True))
    loop.run()
    return list(loop.manifest.iterations)


def measure(task: str, steps: int, vision: bool, dump: Path | None = None) -> dict[str, Any]:
    import sims
    from agentic_rl.designers import make_designer

    spec = sims.get_spec(task)
    with tempfile.TemporaryDirectory() as tmp:
        history = iteration_zero_history(task, steps, Path(tmp))
        designer = make_designer(
            "openai",
            api_key="benchmark-no-call",
            model="gpt-4o-mini",
            vision=vision,
            transcript=Path(tmp) / "llm_transcript.jsonl",
        )
        first_messages = designer.messages(spec, [])
        refine_messages = designer.messages(spec, history)
        first = request_tokens(first_messages)
        refine = request_tokens(refine_messages)
        if dump is not None:  # the prompts as text, to read what a model gets
            dump.mkdir(parents=True, exist_ok=True)
            short = spec.id.split("/")[-1]
            for name, msgs in (("iteration0", first_messages), ("refinement", refine_messages)):
                (dump / f"{short}_{name}.md").write_text(_as_text(msgs))
        memory = designer.last_memory
    statuses = [c.status for c in history[-1].candidates]
    return {
        "task": spec.id.split("/")[-1],
        "first": first,
        "refine": refine,
        "memory_tokens": memory.tokens if memory else 0,
        "dropped": memory.dropped if memory else [],
        "candidates": ", ".join(statuses),
    }


def _as_text(messages: list[dict[str, Any]]) -> str:
    out = []
    for m in messages:
        content = m["content"]
        parts = [{"type": "text", "text": content}] if isinstance(content, str) else content
        body = "\n".join(p["text"] if p["type"] == "text" else "[image part]" for p in parts)
        out.append(f"===== {m['role']} =====\n{body}")
    return "\n\n".join(out) + "\n"


def write_results(rows: list[dict[str, Any]], command: str, load: str, vision: bool) -> None:
    lines = [
        "## LLM designer request size",
        "",
        f"`{command}`; load average {load}; {time.strftime('%Y-%m-%d')}. Token estimates "
        "(estimate_tokens, errs high on numbers) of the system and task prompt text; "
        + ("images counted as 800 tokens each. " if vision else "text only (no --vision). ")
        + "Refinement: iteration 1 after a real iteration 0 of three offline-designer "
        "candidates (packets on disk, one stopped by successive halving). Baseline: the "
        "iteration-0 request of the same run.",
        "",
        "| task | iteration 0 (tokens) | refinement (tokens) | of which memory | images | "
        "iteration 0 candidates | dropped to fit |",
        "|---|---:|---:|---:|---:|---|---|",
    ]
    for r in rows:
        img = r["refine"][1]
        lines.append(
            f"| {r['task']} | {r['first'][0] + 800 * r['first'][1]:,} | "
            f"{r['refine'][0] + 800 * img:,} | {r['memory_tokens']:,} | {img} | "
            f"{r['candidates']} | {'; '.join(r['dropped']) or 'nothing'} |"
        )
    write_section(SECTION, "\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=["DroneHover", "DroneGates"])
    parser.add_argument("--steps", type=int, default=4096)
    parser.add_argument("--vision", action="store_true")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--dump", type=Path, help="write the prompts as text into this folder")
    args = parser.parse_args()
    rows = [measure(t, args.steps, args.vision, args.dump) for t in args.tasks]
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    for r in rows:
        print(
            f"{r['task']}: iteration 0 {r['first'][0]:,} tokens (+{r['first'][1]} images); "
            f"refinement {r['refine'][0]:,} tokens (+{r['refine'][1]} images), memory "
            f"{r['memory_tokens']:,}, +{r['refine'][0] - r['first'][0]:,} over iteration 0 "
            f"(baseline); dropped: {'; '.join(r['dropped']) or 'nothing'}"
        )
    command = "python benchmarks/prompt_size.py " + " ".join(
        a for a in sys.argv[1:] if a != "--no-write" and not a.startswith("--dump")
    )
    if not args.no_write:
        write_results(rows, command.strip(), load, args.vision)


if __name__ == "__main__":
    main()
