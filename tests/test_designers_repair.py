"""Repair that works: every answer of the repair corpus that a careful model could fix from
one repair message is accepted within the configured repair rounds (default 2).

The model is :func:`tests.careful_model.careful_fix` behind the real ``openai`` client and a
local server: it changes an answer only as the repair message says. The validator reports
every problem at once and the message says what happened to the answer (JSON, several
blocks, a helper in another block, a decorator, a refusal), so each case needs one round.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("openai")

import rewards
import sims
from agentic_rl.designers import make_designer
from agentic_rl.records import Rejection
from tests.careful_model import FaultyModel, corpus
from tests.openai_server import MODEL, OpenAIServer

SPEC = sims.get_spec("DroneHover")
ROUNDS = 2


def rounds_needed(answer: str, tmp_path: Path) -> tuple[int | None, list[str]]:
    """Repair rounds until the pipeline accepts the answer (None: not within ROUNDS), and
    the repair messages sent."""
    model = FaultyModel([answer])
    with OpenAIServer() as server:
        server.push(*([model] * (1 + ROUNDS)))
        designer = make_designer(
            "openai",
            base_url=server.url,
            api_key="sk-test-0123456789",
            model=MODEL,
            transcript=tmp_path / "t.jsonl",
            retry_budget_s=5,
        )
        (proposal,) = designer.propose(SPEC, [], 1)
        verdict = rewards.check_source(proposal.response, SPEC)
        messages = []
        for r in range(1, ROUNDS + 1):
            if verdict.accepted:
                return r - 1, messages
            rejection = Rejection(stage=verdict.stage, line=verdict.line, message=verdict.message)
            proposal = designer.repair(SPEC, proposal, rejection, [], round=r, rounds=ROUNDS)
            messages.append(server.chat_requests[-1].body["messages"][-1]["content"])
            verdict = rewards.check_source(proposal.response, SPEC)
        return (ROUNDS if verdict.accepted else None), messages


@pytest.mark.parametrize("case", sorted(corpus()))
def test_corpus_answer_is_accepted_within_the_repair_rounds(case, tmp_path):
    needed, messages = rounds_needed(corpus()[case], tmp_path)
    assert needed is not None, f"{case} still rejected after {ROUNDS} rounds:\n" + "\n---\n".join(
        messages
    )
    # every problem is named in one message, so one round suffices for each case
    assert needed <= 1, f"{case} needed {needed} rounds:\n" + "\n---\n".join(messages)


def test_repair_messages_say_what_happened(tmp_path):
    _, (json_msg,) = rounds_needed(corpus()["07_json_answer"], tmp_path)
    assert "Your answer was JSON" in json_msg and "one ```python block" in json_msg
    _, (helper_msg,) = rounds_needed(corpus()["03_helper_in_other_block"], tmp_path)
    assert "only the last one that defines `compute_reward` was used" in helper_msg
    assert "`shaped` is defined in another block" in helper_msg
    _, (torch_msg,) = rounds_needed(corpus()["06_torch_style"], tmp_path)
    assert "has a decorator" in torch_msg and "`import torch`" in torch_msg
    assert "name `torch` is not defined" in torch_msg and "Did you mean 'tilt'" in torch_msg
    assert "Repair round 1 of 2" in torch_msg
