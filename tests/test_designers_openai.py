"""The openai designer against a local OpenAI-compatible server (real sockets, real client).

Covers normal answers, prose with several code blocks, no code, 429 with Retry-After, 500,
a hung connection, malformed JSON, a refusal, image parts, ``n`` fallbacks, budgets, bad
setup, secrets kept out of the transcript, and replaying the recorded run.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("openai")

import rewards
import sims
from agentic_rl.designers import BudgetExceeded, DesignerError, make_designer
from agentic_rl.diagnostics.packet import DiagnosisPacket, EvalSummary, Finding
from agentic_rl.records import CandidateRecord, IterationRecord, Proposal, Rejection
from tests.openai_server import MODEL, OpenAIServer, Reply

KEY = "sk-test-SECRET-0123456789abcdef"
SPEC = sims.get_spec("DroneHover")

GOOD = """I reward closeness to the goal and penalize tilt.

```python
def compute_reward(state, action, prev_state, task):
    d = terms.norm(state["goal_rel"])
    return {"near": terms.closeness(d, 0.5), "tilt": -0.5 * terms.tilt_penalty(state["tilt"])}
```
"""

TWO_BLOCKS = """Here is a first draft:

```python
def compute_reward(state, action, prev_state, task):
    return {"draft": 0.0}
```

And an example of calling it (do not use):

```python
print(compute_reward(s, a, p, t))
```

The final version adds progress:

```python
def compute_reward(state, action, prev_state, task):
    d = terms.norm(state["goal_rel"])
    return {"near": terms.closeness(d, 0.5),
            "progress": 5.0 * terms.progress(state["goal_rel"], prev_state["goal_rel"])}
```
"""


@pytest.fixture
def server():
    with OpenAIServer() as srv:
        yield srv


@pytest.fixture
def transcript(tmp_path: Path) -> Path:
    return tmp_path / "llm_transcript.jsonl"


def designer(server: OpenAIServer, transcript: Path, **options: Any):
    opts = {
        "base_url": server.url,
        "api_key": KEY,
        "model": MODEL,
        "transcript": transcript,
        "timeout": 5.0,
        "max_retries": 2,
        "backoff_base": 0.05,
        "prices": {MODEL: {"prompt": 1.0, "completion": 2.0}},
    }
    opts.update(options)
    return make_designer("openai", **opts)


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def user_text(seen) -> str:
    content = seen.body["messages"][-1]["content"]
    if isinstance(content, str):
        return content
    return "\n".join(p["text"] for p in content if p["type"] == "text")


# ---------------------------------------------------------------------- normal answers
def test_normal_answer_n_choices_usage_and_prompt(server, transcript):
    server.push(
        Reply.chat(
            [GOOD, GOOD.replace("0.5 *", "0.4 *")], prompt_tokens=1200, completion_tokens=300
        )
    )
    d = designer(server, transcript)
    props = d.propose(SPEC, [], 2)

    assert [p.response for p in props] == [GOOD, GOOD.replace("0.5 *", "0.4 *")]
    assert all(p.designer == "openai" for p in props)
    assert "penalize tilt" in props[0].rationale and "def compute_reward" not in props[0].rationale
    # one call for both candidates, its tokens and cost split between them
    (req,) = server.chat_requests
    assert req.body["n"] == 2 and req.body["model"] == MODEL
    assert req.headers["authorization"] == f"Bearer {KEY}"
    assert [m["role"] for m in req.body["messages"]] == ["system", "user"]
    prompt = user_text(req)
    for needle in (
        "agentic_rl/DroneHover-v0",
        "goal_rel",
        "pos_tolerance",
        "world",
        "m/s",
        "terms.closeness",
        "first reward program",
    ):
        assert needle in prompt
    assert d.usage.calls == 1
    assert (d.usage.prompt_tokens, d.usage.completion_tokens) == (1200, 300)
    assert d.usage.cost_usd == pytest.approx((1200 * 1.0 + 300 * 2.0) / 1e6)
    assert sum(p.usage.prompt_tokens for p in props) == 1200
    assert sum(p.usage.cost_usd for p in props) == pytest.approx(d.usage.cost_usd)
    # the code is extractable by the pipeline (the designer itself never runs it)
    assert "closeness" in rewards.extract_code(props[0].response)

    records = lines(transcript)
    assert [r["type"] for r in records] == ["request", "proposals"]
    assert records[0]["status"] == 200 and records[0]["usage"]["prompt_tokens"] == 1200
    assert records[0]["latency_s"] >= 0
    assert records[1]["proposals"][0]["response"] == GOOD


def test_prose_with_several_code_blocks_keeps_the_whole_answer(server, transcript):
    server.push(Reply.chat([TWO_BLOCKS]))
    (p,) = designer(server, transcript).propose(SPEC, [], 1)
    assert p.response == TWO_BLOCKS
    code = rewards.extract_code(p.response)
    assert '"progress"' in code and "draft" not in code and "print" not in code
    assert "final version adds progress" in p.rationale


def test_no_code_answer_is_returned_and_repaired(server, transcript):
    prose = "You should reward the drone for being close to the goal and keeping level."
    server.push(Reply.chat([prose]), Reply.chat([GOOD]))
    d = designer(server, transcript)
    (p,) = d.propose(SPEC, [], 1)
    assert p.response == prose
    verdict = rewards.check_source(p.response, SPEC)
    assert not verdict.accepted and verdict.stage == "extract"

    rejection = Rejection(stage=verdict.stage, line=verdict.line, message=verdict.message)
    fixed = d.repair(SPEC, p, rejection)
    assert fixed.response == GOOD
    assert fixed.meta["repair_of"]["stage"] == "extract"
    repair_req = server.chat_requests[1]
    roles = [m["role"] for m in repair_req.body["messages"]]
    assert roles == ["system", "user", "assistant", "user"]
    assert repair_req.body["messages"][2]["content"] == prose
    assert verdict.message in repair_req.body["messages"][3]["content"]
    assert "n" not in repair_req.body
    calls = [r["call"] for r in lines(transcript) if r["type"] == "proposals"]
    assert calls == ["propose", "repair"]


def test_refusal_becomes_a_flagged_proposal(server, transcript):
    server.push(Reply.chat([None], refusal="I can't help with that request."))
    (p,) = designer(server, transcript).propose(SPEC, [], 1)
    assert p.meta["refusal"] is True
    assert p.rationale.startswith("model refused")
    assert p.response == "I can't help with that request."
    assert not rewards.check_source(p.response, SPEC).accepted  # the repair round follows


# ---------------------------------------------------------------------- transient faults
def test_429_honours_retry_after(server, transcript):
    server.push(Reply.error(429, "rate limited", headers={"Retry-After": "1"}), Reply.chat([GOOD]))
    t0 = time.monotonic()
    (p,) = designer(server, transcript, backoff_base=0.01).propose(SPEC, [], 1)
    elapsed = time.monotonic() - t0
    assert p.response == GOOD
    assert elapsed >= 1.0, "Retry-After: 1 must delay the retry by a second"
    assert len(server.chat_requests) == 2
    first = lines(transcript)[0]
    assert first["status"] == 429 and first["retry_in_s"] == 1.0 and first["attempt"] == 0


def test_500_then_success_with_backoff(server, transcript):
    server.push(
        Reply.error(500, "upstream exploded"), Reply.error(502, "bad gateway"), Reply.chat([GOOD])
    )
    d = designer(server, transcript, backoff_base=0.05)
    (p,) = d.propose(SPEC, [], 1)
    assert p.response == GOOD
    reqs = [r for r in lines(transcript) if r["type"] == "request"]
    assert [r["status"] for r in reqs] == [500, 502, 200]
    # exponential backoff with jitter: the second wait is drawn from [0.05, 0.1]
    assert 0.025 <= reqs[0]["retry_in_s"] <= 0.05 and 0.05 <= reqs[1]["retry_in_s"] <= 0.1
    assert d.usage.calls == 1


def test_persistent_500_gives_a_one_line_error(server, transcript):
    server.push(*[Reply.error(503, "overloaded")] * 3)
    with pytest.raises(DesignerError) as err:
        designer(server, transcript, max_retries=2).propose(SPEC, [], 1)
    msg = str(err.value)
    assert "503" in msg and "3 attempts" in msg and "\n" not in msg


def test_hung_connection_times_out_and_retries(server, transcript):
    server.push(Reply.chat([GOOD], prompt_tokens=1), Reply.chat([GOOD]))
    server.script[0].hang = 5.0
    t0 = time.monotonic()
    (p,) = designer(server, transcript, timeout=0.5).propose(SPEC, [], 1)
    assert p.response == GOOD
    assert time.monotonic() - t0 < 4.0, "the client must give up on the hung request"
    first = lines(transcript)[0]
    assert first["status"] is None and "timeout" in first["error"]


def test_hung_connection_every_time_says_raise_timeout(server, transcript):
    server.push(Reply(hang=5.0), Reply(hang=5.0))
    with pytest.raises(DesignerError, match=r"designer_options\.timeout"):
        designer(server, transcript, timeout=0.3, max_retries=1).propose(SPEC, [], 1)


def test_malformed_json_is_retried(server, transcript):
    server.push(Reply(200, b'{"id": "x", "choices": [ {"mess'), Reply.chat([GOOD]))
    (p,) = designer(server, transcript).propose(SPEC, [], 1)
    assert p.response == GOOD
    first = lines(transcript)[0]
    assert "malformed" in first["error"]


def test_malformed_json_every_time_fails_clearly(server, transcript):
    server.push(*[Reply(200, "this is not json")] * 2)
    with pytest.raises(DesignerError, match="malformed"):
        designer(server, transcript, max_retries=1).propose(SPEC, [], 1)


# ---------------------------------------------------------------------- n fallbacks
def test_endpoint_ignoring_n_gets_separate_calls(server, transcript):
    server.push(*(Reply.chat([GOOD.replace("0.5 *", f"0.{i} *")]) for i in (1, 2, 3)))
    props = designer(server, transcript).propose(SPEC, [], 3)
    assert len(props) == 3 and len({p.response for p in props}) == 3
    reqs = server.chat_requests
    assert reqs[0].body["n"] == 3
    assert all("n" not in r.body for r in reqs[1:]), "after fewer choices, ask for one at a time"


def test_endpoint_refusing_n_falls_back(server, transcript):
    server.push(
        Reply.error(400, "Unsupported value: 'n' must be 1 for this model", code="invalid"),
        Reply.chat([GOOD]),
        Reply.chat([GOOD]),
    )
    props = designer(server, transcript, max_retries=0).propose(SPEC, [], 2)
    assert len(props) == 2 and len(server.chat_requests) == 3
    assert [("n" in r.body) for r in server.chat_requests] == [True, False, False]


# ---------------------------------------------------------------------- images
def _packet_dir(tmp_path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    d = tmp_path / "iter_0" / "cand_0"
    d.mkdir(parents=True)
    for name in ("scene", "success"):
        fig = plt.figure(figsize=(1, 1))
        plt.plot([0, 1], [0, 1])
        fig.savefig(d / f"{name}.png")
        plt.close(fig)
    packet = DiagnosisPacket(
        task_id=SPEC.id,
        candidate="i0/c0",
        reward_hash="abc",
        reward_terms=["near"],
        train_steps=1000,
        nominal=EvalSummary(
            randomized=False,
            episodes=4,
            seeds=[0, 1, 2, 3],
            success_rate=0.25,
            termination_reasons={"crash": 3, "success": 1},
        ),
        findings=[Finding(code="crash_dominated", message="most episodes crash")],
        plots={"success": "success.png"},
        scene_image=str(d / "scene.png"),
    )
    (d / "packet.json").write_text(packet.model_dump_json())
    (d / "packet.txt").write_text("PACKET TEXT: 3 of 4 episodes crashed at t=0.4 s")
    return d


def _history(packet_dir: Path) -> list[IterationRecord]:
    good = CandidateRecord(
        iteration=0,
        index=0,
        status="trained",
        code=rewards.extract_code(GOOD),
        proposal=Proposal(response=GOOD, designer="openai"),
        success_rate=0.25,
        score=0.25,
        task_metrics={"final_distance": 0.4},
        packet_path=str(packet_dir / "packet.json"),
    )
    bad = CandidateRecord(
        iteration=0,
        index=1,
        status="rejected",
        proposal=Proposal(response="import os", designer="openai"),
        rejection=Rejection(stage="validate", line=1, message="imports are not allowed: os"),
    )
    return [IterationRecord(iteration=0, candidates=[good, bad], best_index=0)]


def test_history_goes_into_the_prompt(server, transcript, tmp_path):
    server.push(Reply.chat([GOOD]))
    designer(server, transcript).propose(SPEC, _history(_packet_dir(tmp_path)), 1)
    prompt = user_text(server.chat_requests[0])
    assert "## All-time best: i0/c0" in prompt and "nominal success 25%" in prompt
    assert "most episodes crash" in prompt, "the best candidate's packet"
    assert rewards.extract_code(GOOD).strip() in prompt
    assert (
        "### i0/c1: rejected by the validator (validate, line 1): imports are not allowed" in prompt
    )
    assert "- i0/c1 REJECTED" in prompt, "the table of everything tried"
    assert "improved reward program" in prompt


def test_vision_sends_image_parts_and_the_transcript_abbreviates_them(server, transcript, tmp_path):
    server.push(Reply.chat([GOOD]))
    designer(server, transcript, vision=True).propose(SPEC, _history(_packet_dir(tmp_path)), 1)
    content = server.chat_requests[0].body["messages"][1]["content"]
    images = [p for p in content if p["type"] == "image_url"]
    assert len(images) == 3, "the overview render, the scene image and the success plot"
    captions = [p["text"] for p in content if p["type"] == "text"][1:]
    assert captions[0].startswith("Image: agentic_rl/DroneHover-v0 at the start of an episode")
    assert all(p["image_url"]["url"].startswith("data:image/png;base64,") for p in images)
    text = transcript.read_text()
    assert "base64," not in text and "<image/png" in text


def test_vision_without_a_packet_renders_the_scene(server, transcript):
    server.push(Reply.chat([GOOD]))
    designer(server, transcript, vision=True).propose(SPEC, [], 1)
    content = server.chat_requests[0].body["messages"][1]["content"]
    (image,) = [p for p in content if p["type"] == "image_url"]
    import base64
    import io

    from PIL import Image

    png = base64.b64decode(image["image_url"]["url"].split(",", 1)[1])
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5_000
    assert Image.open(io.BytesIO(png)).size[0] >= 800, "overview and close-up side by side"


# ---------------------------------------------------------------------- budgets
def test_token_budget_stops_before_the_call_that_would_exceed_it(server, transcript):
    server.push(Reply.chat([GOOD], prompt_tokens=5000, completion_tokens=100), Reply.chat([GOOD]))
    d = designer(server, transcript, budget_tokens=6500, max_tokens=100)
    d.propose(SPEC, [], 1)
    with pytest.raises(BudgetExceeded) as err:
        d.propose(SPEC, [], 1)
    assert err.value.kind == "tokens" and err.value.usage.total_tokens == 5100
    assert len(server.chat_requests) == 1, "the refused call never reached the server"


def test_usd_budget(server, transcript):
    server.push(Reply.chat([GOOD], prompt_tokens=4000, completion_tokens=1000))
    prices = {MODEL: {"prompt": 100.0, "completion": 100.0}}  # $0.50 for that call
    d = designer(server, transcript, budget_usd=0.7, prices=prices, max_tokens=500)
    d.propose(SPEC, [], 1)
    assert d.usage.cost_usd == pytest.approx(0.5)
    with pytest.raises(BudgetExceeded) as err:
        d.propose(SPEC, [], 1)
    assert err.value.kind == "usd" and len(server.chat_requests) == 1


# ---------------------------------------------------------------------- bad setup
def test_no_api_key(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(DesignerError, match="set OPENAI_API_KEY") as err:
        make_designer("openai", base_url="http://127.0.0.1:9/v1", model=MODEL)
    assert "\n" not in str(err.value)


def test_malformed_base_url():
    with pytest.raises(DesignerError, match="--base-url"):
        make_designer("openai", base_url="localhost:8000", api_key=KEY)


def test_unreachable_base_url(transcript):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    d = make_designer(
        "openai",
        base_url=f"http://127.0.0.1:{port}/v1",
        api_key=KEY,
        model=MODEL,
        max_retries=1,
        backoff_base=0.01,
        transcript=transcript,
    )
    with pytest.raises(DesignerError, match="--base-url") as err:
        d.propose(SPEC, [], 1)
    assert "cannot connect" in str(err.value) and "\n" not in str(err.value)


def test_unknown_model_lists_the_served_ones(server, transcript):
    server.push(Reply.error(404, "The model `gpt-nope` does not exist", code="model_not_found"))
    with pytest.raises(DesignerError) as err:
        designer(server, transcript, model="gpt-nope").propose(SPEC, [], 1)
    msg = str(err.value)
    assert "gpt-nope" in msg and "--model" in msg and MODEL in msg and "\n" not in msg


def test_wrong_path_in_base_url(server, transcript):
    d = designer(server, transcript, base_url=server.url.removesuffix("/v1") + "/api")
    with pytest.raises(DesignerError, match="usually ends in /v1"):
        d.propose(SPEC, [], 1)


@pytest.mark.parametrize("option", ["budget_tokens", "budget_usd"])
def test_zero_budget(option):
    with pytest.raises(DesignerError, match=f"--{option.replace('_', '-')}") as err:
        make_designer("openai", api_key=KEY, **{option: 0})
    assert "\n" not in str(err.value)


def test_usd_budget_needs_a_price():
    with pytest.raises(DesignerError, match="no price known for model 'local-llama'") as err:
        make_designer("openai", api_key=KEY, model="local-llama", budget_usd=1.0)
    assert "--set 'designer_options.prices=" in str(err.value)


def test_unknown_designer_and_option():
    with pytest.raises(DesignerError, match="Did you mean 'openai'"):
        make_designer("opnai")
    with pytest.raises(DesignerError, match="valid options"):
        make_designer("openai", api_key=KEY, temprature=0.1)


# ---------------------------------------------------------------------- secrets, replay
def test_secrets_never_reach_the_transcript_or_errors(server, transcript):
    server.push(
        Reply.error(500, f"internal error for key {KEY}"),
        Reply.chat([GOOD + f"\n(your key {KEY} and Bearer abcdefghijklmnop)"]),
        Reply.error(401, f"Incorrect API key provided: {KEY}"),
    )
    d = designer(server, transcript)
    d.propose(SPEC, [], 1)
    with pytest.raises(DesignerError, match="OPENAI_API_KEY") as err:
        d.propose(SPEC, [], 1)
    assert KEY not in str(err.value)
    assert server.chat_requests[0].headers["authorization"] == f"Bearer {KEY}"  # it was sent
    text = transcript.read_text()
    assert KEY not in text and "SECRET" not in text and "abcdefghijklmnop" not in text
    assert "***" in text


def test_replay_reproduces_the_recorded_run_byte_for_byte(server, transcript, tmp_path):
    server.push(Reply.chat([GOOD, TWO_BLOCKS]), Reply.chat(["no code here"]), Reply.chat([GOOD]))
    d = designer(server, transcript)
    first = d.propose(SPEC, [], 2)
    second = d.propose(SPEC, _history(_packet_dir(tmp_path)), 1)
    fixed = d.repair(SPEC, second[0], Rejection(stage="extract", message="no code"))

    replay = make_designer("replay", transcript=transcript)
    again = replay.propose(SPEC, [], 2)
    assert [p.model_dump_json() for p in again] == [p.model_dump_json() for p in first]
    again2 = replay.propose(SPEC, _history(_packet_dir(tmp_path / "x")), 1)
    assert again2[0].model_dump_json() == second[0].model_dump_json()
    again3 = replay.repair(SPEC, again2[0], Rejection(stage="extract", message="no code"))
    assert again3.model_dump_json() == fixed.model_dump_json()
    assert len(server.chat_requests) == 3, "the replay called no model"
    assert replay.usage.total_tokens == d.usage.total_tokens, "it reports the recorded usage"
    with pytest.raises(DesignerError, match="used up"):
        replay.propose(SPEC, [], 1)


def test_missing_openai_package_names_the_extra(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "openai", None)  # makes `import openai` fail
    with pytest.raises(DesignerError, match=r"pip install 'agentic-rl\[openai\]'"):
        make_designer("openai", api_key=KEY)


def test_a_modest_token_budget_admits_the_first_call(server, transcript):
    """Before any answer the completion estimate is 1024 tokens per answer, not max_tokens
    (4096): a 7,000-token budget must not refuse the first request."""
    server.push(Reply.chat([GOOD], prompt_tokens=3000, completion_tokens=300))
    d = designer(server, transcript, budget_tokens=7000)
    d.propose(SPEC, [], 1)
    assert len(server.chat_requests) == 1
