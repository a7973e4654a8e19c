"""``agentic-rl refine --designer openai`` end to end against a server that answers like a model
with faults, and offers what many local endpoints offer: no ``n``, no images, no usage.

The model (:class:`tests.careful_model.FaultyModel`) answers with prose, several code blocks,
a helper in another block, a typo'd state key, torch, a refusal, JSON and a math.exp
overflow; the server injects a 429 with Retry-After, a 500, a hang and a garbage body. The run
must complete with every candidate repaired, print no traceback, leave the API key nowhere in
the run folder, and show every refinement prompt the code of the last iteration's other
candidates, and the human feedback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("openai")

from tests.careful_model import FaultyModel, corpus
from tests.openai_server import MODEL, OpenAIServer, Reply

KEY = "sk-test-SECRET-e2e-0123456789abcdef"
ITERATION_0 = ["06_torch_style", "03_helper_in_other_block", "09_refusal"]
ITERATION_1 = ["07_json_answer", "08_math_exp_overflow", "04_typo_state_key"]
FAULTS = {
    2: Reply.error(429, "rate limited", headers={"Retry-After": "0.2"}),
    4: Reply.error(500, "upstream exploded"),
    6: Reply(200, "<html>502 bad gateway</html>"),
    9: Reply(hang=30.0),
}


def _refine(out: Path, url: str, *extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OPENAI_API_KEY": KEY, "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "agentic_rl.cli",
            "refine",
            "--task",
            "DroneHover",
            "--designer",
            "openai",
            "--base-url",
            url,
            "--model",
            MODEL,
            "--vision",
            "--iterations",
            "2",
            "--candidates",
            "3",
            "--steps",
            "4096",
            "--seeds",
            "3",
            "--executor",
            "serial",
            "--out",
            str(out),
            "--set",
            "randomized_seeds=0",
            "--set",
            "reeval_seeds=0",
            "--set",
            "video=false",
            "--set",
            'ppo={"num_envs": 8, "num_steps": 128, "update_epochs": 2, "tensorboard": false}',
            "--set",
            "designer_options.timeout=2",
            "--set",
            "designer_options.retry_budget_s=30",
            *extra,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )


@pytest.mark.slow
def test_refine_against_a_faulty_model_on_a_limited_endpoint(tmp_path):
    answers = [corpus()[k] for k in ITERATION_0 + ITERATION_1]
    model = FaultyModel(answers, FAULTS)
    out = tmp_path / "runs"
    with OpenAIServer(n="ignore", images=False, usage=False) as server:
        server.push(*([model] * 60))
        proc = _refine(out, server.url, "--feedback", "it wobbles near the goal")
    console = proc.stdout + proc.stderr
    assert proc.returncode == 0, console[-3000:]
    assert "Traceback" not in console

    (root,) = [p.parent for p in out.glob("*/*/manifest.json")]
    # the key is nowhere in the run folder (transcript, proposals, config, report, ...)
    for path in root.rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path

    manifest = json.loads((root / "manifest.json").read_text())
    statuses = [c["status"] for it in manifest["iterations"] for c in it["candidates"]]
    assert "rejected" not in statuses, "every faulty answer was repaired"
    assert "stopped_early" in statuses, "successive halving stopped one of three"
    assert model.repairs >= 5

    # every refinement prompt shows the code of the last iteration's other candidates
    refinements = [
        p for p in model.proposal_prompts if "# What was tried so far (iteration 1)" in p
    ]
    assert len(refinements) == 3, "one request per candidate: the endpoint ignores n"
    first = manifest["iterations"][0]
    best = first["candidates"][first["best_index"]]
    for refinement in refinements:
        assert f"## All-time best: i0/c{best['index']}" in refinement
        for c in first["candidates"]:
            if c is best:
                continue
            cid = f"i0/c{c['index']}"
            assert f"### {cid}: " in refinement
            shown_whole = c["code"].strip() in refinement
            shown_as_diff = f"+++ {cid}/reward.py" in refinement
            assert shown_whole or shown_as_diff, cid
            if c["status"] == "stopped_early":
                assert "stopped early by successive halving" in refinement
                assert (
                    "reward terms, mean sum per episode" in refinement
                    or "No training episode had finished" in refinement
                )
        assert "Everything tried so far" in refinement
    # human feedback: in every prompt, the transcript and the report
    assert all("it wobbles near the goal" in p for p in model.proposal_prompts)
    transcript = [json.loads(x) for x in (root / "llm_transcript.jsonl").read_text().splitlines()]
    assert any(r["type"] == "feedback" and "wobbles" in r["text"] for r in transcript)
    assert "it wobbles near the goal" in (root / "report.html").read_text()
    # the endpoint's limits: no n after the first request, images dropped, usage estimated
    requests = [r for r in transcript if r["type"] == "request"]
    assert any(r["status"] == 400 and "image" in (r["error"] or "") for r in requests)
    assert all(r["usage"]["estimated"] for r in requests if r["usage"])
    assert "images above are described by their captions" in model.proposal_prompts[-1]
    assert manifest["usage"]["prompt_tokens"] > 0
    # the injected transport faults were retried
    statuses = [r["status"] for r in requests]
    assert 429 in statuses and 500 in statuses
    assert any("timeout" in (r["error"] or "") for r in requests)
    assert any("malformed" in (r["error"] or "") for r in requests)


def test_retries_exhausted_end_as_one_line_and_the_run_resumes(tmp_path):
    out = tmp_path / "runs"
    with OpenAIServer() as server:
        server.push(*[Reply.error(429, "rate limited", headers={"Retry-After": "0.3"})] * 20)
        proc = _refine(out, server.url, "--set", "designer_options.retry_budget_s=1")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stdout + proc.stderr
    err = " ".join(proc.stderr.split())
    assert "gave up after" in err and "retry_budget_s" in err
    (root,) = [p.parent for p in out.glob("*/*/manifest.json")]
    assert f"agentic-rl refine --resume {root}" in err.replace("\n", "")
    assert json.loads((root / "manifest.json").read_text())["status"] == "running"

    # resuming may change how the designer is reached (not what the run is), validated
    env = {**os.environ, "OPENAI_API_KEY": KEY}
    cli = [sys.executable, "-m", "agentic_rl.cli", "refine", "--resume", str(root)]
    bad = subprocess.run([*cli, "--set", "steps=5000"], capture_output=True, text=True, env=env)
    assert bad.returncode == 2 and "only designer_options" in bad.stderr
    with OpenAIServer() as server:
        server.push(*[Reply.error(503, "overloaded")] * 20)
        more = subprocess.run(
            [
                *cli,
                "--set",
                "designer_options.retry_budget_s=0.5",
                "--set",
                f"designer_options.base_url={json.dumps(server.url)}",
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
    assert more.returncode == 2 and "Traceback" not in more.stdout + more.stderr
    assert "HTTP 503" in more.stderr
    config = json.loads((root / "config.json").read_text())
    assert config["designer_options"]["retry_budget_s"] == 0.5


def test_budget_usd_with_an_unpriced_model_is_one_line(tmp_path):
    proc = _refine(tmp_path / "runs", "http://127.0.0.1:9/v1", "--budget-usd", "1")
    assert proc.returncode == 2 and "Traceback" not in proc.stdout + proc.stderr
    err = " ".join(proc.stderr.split())
    assert "no price known for model 'test-model'" in err and "designer_options.prices" in err


def test_readme_designer_options_exist_and_are_validated(tmp_path):
    from agentic_rl import config as cfgmod

    cfg = cfgmod.resolve(
        None,
        {"task": "DroneHover", "designer": "openai"},
        [
            "designer_options.temperature=0.2",
            "designer_options.max_tokens=2000",
            "designer_options.max_images=2",
            "designer_options.prompt_tokens=4000",
            "designer_options.repair_rounds=3",
            "designer_options.retry_budget_s=600",
            'designer_options.prices={"my-model": {"prompt": 0.5, "completion": 1.5}}',
        ],
    )
    opts = cfg.designer_options
    assert (opts.temperature, opts.max_tokens, opts.max_images) == (0.2, 2000, 2)
    assert opts.prices["my-model"].completion == 1.5
    with pytest.raises(ValueError, match="temperature"):
        cfgmod.resolve(None, {"task": "DroneHover"}, ["designer_options.temperature=7"])
    with pytest.raises(ValueError, match="prices"):
        cfgmod.resolve(None, {"task": "DroneHover"}, ['designer_options.prices={"m": 3}'])
