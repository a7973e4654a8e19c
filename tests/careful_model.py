"""A scripted stand-in for a careful model, for the openai designer's end-to-end tests.

:class:`FaultyModel` is a request handler for :class:`tests.openai_server.OpenAIServer`.
Proposals come from a corpus of faulty answers (``tests/data/repair_corpus``: prose, several
code blocks, a helper in another block, a typo'd state key, torch, a refusal, JSON, math.exp
overflow, ...); transport faults (429 with Retry-After, 500, a hang, a garbage body) are
injected on a schedule. A repair request is answered by :func:`careful_fix`: it changes the
rejected answer exactly as the repair message says, problem by problem, and nothing else.
So a case needs as many repair rounds as it takes the messages to name every problem: with
every problem reported at once, one.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests.openai_server import Reply

CORPUS = Path(__file__).parent / "data" / "repair_corpus"

#: What a careful model writes when the answer had no code to fix (a refusal, prose, JSON
#: without a program).
FRESH = """Reward closeness to the goal, keep level and calm.

```python
def compute_reward(state, action, prev_state, task):
    d = terms.norm(state["goal_rel"])
    return {
        "near": terms.closeness(d, 0.5),
        "tilt": -0.5 * terms.tilt_penalty(state["tilt"]),
        "calm": -0.02 * terms.angular_velocity_penalty(state["ang_vel"]),
    }
```
"""

_BLOCK = re.compile(r"```(?:python|py)?[ \t]*\n(.*?)```", re.S)
_TORCH = (
    (r"torch\.tensor\(", "np.asarray("),
    (r"torch\.norm\(", "np.linalg.norm("),
    (r"torch\.clamp\(", "np.clip("),
    (r"torch\.", "np."),
)


def corpus() -> dict[str, str]:
    """Case name -> answer text."""
    return {p.stem: p.read_text() for p in sorted(CORPUS.glob("*.md"))}


def _code_of(answer: str) -> str | None:
    blocks = [b for b in _BLOCK.findall(answer) if b.strip()]
    defining = [b for b in blocks if "def compute_reward" in b]
    return defining[-1] if defining else None


def _answer(code: str) -> str:
    return "Fixed every problem listed.\n\n```python\n" + code.strip("\n") + "\n```\n"


def careful_fix(answer: str, message: str) -> str:
    """The answer rewritten as ``message`` (a repair request) asks, and only that."""
    if (
        "declined the task" in message
        or "contains no Python code" in message
        or "is empty" in message
    ):
        return FRESH
    if "Your answer was JSON" in message:
        try:
            data = json.loads(answer)
        except ValueError:
            return FRESH
        code = next(
            (v for v in data.values() if isinstance(v, str) and "def compute_reward" in v), None
        )
        return _answer(code) if code else FRESH
    code = _code_of(answer)
    if code is None:
        return FRESH
    if "was not seen: put the helper in the same block" in message:
        helpers = [
            b for b in _BLOCK.findall(answer) if "def compute_reward" not in b and "def " in b
        ]
        code = "\n".join(h.strip("\n") + "\n" for h in helpers) + "\n" + code
    lines = code.split("\n")
    drop: set[int] = set()
    for m in re.finditer(r"line (\d+(?:, \d+)*): `(?:import|from) [^`]*` is not allowed", message):
        drop |= {int(n) for n in m.group(1).split(", ")}
    for m in re.finditer(r"line (\d+): `\w+` has a decorator", message):
        drop.add(int(m.group(1)))
    if "has a decorator" in message and not drop:
        drop |= {i + 1 for i, line in enumerate(lines) if line.lstrip().startswith("@")}
    lines = [line for i, line in enumerate(lines, 1) if i not in drop]
    code = "\n".join(lines)
    if "name `torch` is not defined" in message:
        for pattern, repl in _TORCH:
            code = re.sub(pattern, repl, code)
    for bad, good in re.findall(r"has no state field '(\w+)'\. Did you mean '(\w+)'\?", message):
        code = code.replace(f'"{bad}"', f'"{good}"').replace(f"'{bad}'", f"'{good}'")
    for ns, bad, good in re.findall(
        r"`([\w.]+)\.(\w+)` is not available to reward programs\. Did you mean '(\w+)'\?", message
    ):
        code = code.replace(f"{ns}.{bad}(", f"{ns}.{good}(")
    for name, key in re.findall(
        r"`(\w+)` is a mapping of state fields; write `\w+\['(\w+)'\]`", message
    ):
        code = re.sub(rf"\b{name}\.{key}\b", f'{name}["{key}"]', code)
    if "return only the dict of terms" in message:
        code = re.sub(r"return [^,\n]+, (\w+)", r"return \1", code)
    if "has the wrong signature" in message:
        code = re.sub(
            r"def compute_reward\([^)]*\):",
            "def compute_reward(state, action, prev_state, task):",
            code,
        )
    m = re.search(r"OverflowError", message)
    if m is not None:
        code = re.sub(
            r"math\.exp\(([^()]*(?:\([^()]*\))?[^()]*)\)", r"math.exp(min(\1, 50.0))", code
        )
    return _answer(code)


class FaultyModel:
    """Answers chat requests like a model with faults (see the module docstring).

    Args:
        answers: proposals to hand out, in turn (cycled).
        faults: request number (1-based, every request counts) -> a transport fault Reply.
    """

    def __init__(self, answers: list[str], faults: dict[int, Reply] | None = None) -> None:
        self.answers = answers
        self.faults = dict(faults or {})
        self.count = 0
        self.served = 0
        self.proposal_prompts: list[str] = []
        self.repairs = 0

    def __call__(self, body: dict[str, Any]) -> Reply:
        self.count += 1
        if self.count in self.faults:
            return self.faults[self.count]
        messages = body.get("messages") or []
        last = _text(messages[-1]) if messages else ""
        if last.startswith("Repair round"):
            self.repairs += 1
            previous = _text(messages[-2])
            return Reply.chat([careful_fix(previous, last)])
        self.proposal_prompts.append(last)
        n = int(body.get("n") or 1)
        texts = []
        for _ in range(n):
            texts.append(self.answers[self.served % len(self.answers)])
            self.served += 1
        reply = Reply.chat([None if is_refusal(t) else t for t in texts])
        for choice, text in zip(reply.body["choices"], texts, strict=True):
            if is_refusal(text):
                choice["message"]["refusal"] = text  # the refusal field, no content
        return reply


def is_refusal(text: str) -> bool:
    """Corpus answers that a model sends as a refusal (the refusal field, no content)."""
    return text.startswith("I'm sorry")


def _text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    return "\n".join(p.get("text", "") for p in content or [] if p.get("type") == "text")
