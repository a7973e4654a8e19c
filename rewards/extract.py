"""Finding the reward program in a model response.

Models answer in many shapes: one fenced block, several blocks (a draft and a final
version, or an example call), a fence without a language tag, prose around bare code, or a
reply cut off before the closing fence. :func:`extract_code` returns the program text or
raises :class:`RewardRejected` at the ``extract`` stage with a message the model can act on.

Rules, in order:

1. A response that is itself valid Python defining ``compute_reward`` is used as is (a
   ``.py`` file).
2. Otherwise fenced blocks (``` or ~~~, any or no language tag; an unclosed last fence runs
   to the end): the last block that defines ``compute_reward`` wins, since models put the
   final version last. Without such a block, the largest Python-looking block is returned
   so that validation can say what is missing.
3. Otherwise bare code: the lines around ``def compute_reward`` that look like code
   (imports, constants, helper functions), stopping at prose.
"""

from __future__ import annotations

import ast
import re
import textwrap

from rewards.errors import RewardRejected

#: Responses longer than this are refused before any parsing (a reward is a few kB).
MAX_RESPONSE_CHARS = 200_000

_DEF_RE = re.compile(r"^[ \t]*def[ \t]+compute_reward[ \t]*\(", re.M)
_OPEN_RE = re.compile(r"^[ \t]*(`{3,}|~{3,})[ \t]*([^\s`]*)[^\n]*$", re.M)
_PY_TAGS = {"", "python", "py", "python3", "py3", "ipython", "python-repl"}
_CODE_START = re.compile(r"^(def |class |@|#|import |from \S+ import |if __name__)")
_SIMPLE_STMTS = (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.Import, ast.ImportFrom)

#: How many trailing lines bare-code extraction may drop to reach a parsable program.
_MAX_TRIMS = 40

_NO_CODE = (
    "the response contains no Python code. Reply with one ```python block that defines "
    "`def compute_reward(state, action, prev_state, task):` and returns a dict of named float "
    "terms, e.g. `return {'distance': -d, 'tilt': -0.1 * t}`."
)


def extract_code(text: str) -> str:
    """Return the reward program's source from a model response (or a plain ``.py`` text).

    Args:
        text: the full response.

    Raises:
        RewardRejected: (stage ``extract``) for an empty or oversized response, or one
            without any code.
    """
    if not isinstance(text, str):
        raise RewardRejected("extract", None, f"expected response text, got {type(text).__name__}")
    if len(text) > MAX_RESPONSE_CHARS:
        raise RewardRejected(
            "extract",
            None,
            f"the response is {len(text)} characters; the limit is {MAX_RESPONSE_CHARS}. "
            "Reply with only the reward program.",
        )
    text = text.replace("\r\n", "\n").replace("\r", "\n").expandtabs(4)
    if not text.strip():
        raise RewardRejected("extract", None, "the response is empty. " + _NO_CODE)

    if _DEF_RE.search(text) and _parses(textwrap.dedent(text)):
        return textwrap.dedent(text).strip("\n") + "\n"

    blocks = _fenced_blocks(text)
    if blocks:
        defining = [code for _, code in blocks if _DEF_RE.search(code)]
        if defining:
            return defining[-1]
        python = [code for tag, code in blocks if tag in _PY_TAGS and code.strip()]
        if python:
            return max(python, key=len)

    if _DEF_RE.search(text):
        return _bare_code(text)
    if not blocks and _parses(textwrap.dedent(text)) and "def " in text:
        return textwrap.dedent(text).strip("\n") + "\n"
    if blocks:
        tags = sorted({tag or "(none)" for tag, _ in blocks})
        raise RewardRejected(
            "extract",
            None,
            f"the response has code blocks tagged {tags} but none is a Python program. " + _NO_CODE,
        )
    raise RewardRejected("extract", None, _NO_CODE)


def _parses(code: str) -> bool:
    try:
        ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


def _fenced_blocks(text: str) -> list[tuple[str, str]]:
    """(language tag, dedented code) of every fenced block, in order."""
    blocks: list[tuple[str, str]] = []
    pos = 0
    while True:
        m = _OPEN_RE.search(text, pos)
        if m is None:
            return blocks
        fence, tag = m.group(1), m.group(2).lower()
        body_start = m.end() + 1
        # The closing fence uses the same character, at least as many, alone on its line.
        close = re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$", re.M)
        c = close.search(text, body_start)
        body_end = c.start() if c else len(text)  # an unclosed fence runs to the end
        code = textwrap.dedent(text[body_start:body_end]).strip("\n")
        blocks.append((tag, code + "\n" if code else ""))
        pos = c.end() if c else len(text)


def _looks_like_code(line: str) -> bool:
    """Whether an unindented line belongs to a program rather than to prose."""
    stripped = line.strip()
    if not stripped or stripped.startswith("#"):
        return True
    if _CODE_START.match(stripped):
        return True
    try:
        tree = ast.parse(stripped)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    # "Example" parses as a bare name; only assignments and imports count as code here.
    return len(tree.body) == 1 and isinstance(tree.body[0], _SIMPLE_STMTS)


def _bare_code(text: str) -> str:
    """The code around ``def compute_reward`` in a response without fences."""
    lines = text.split("\n")
    start = next(i for i, line in enumerate(lines) if _DEF_RE.match(line))
    indent = len(lines[start]) - len(lines[start].lstrip())
    lines = [line[indent:] if line[:indent].strip() == "" else line for line in lines]

    def is_code(line: str) -> bool:
        return not line.strip() or line[:1] in (" ", "\t") or _looks_like_code(line)

    first = start
    while first > 0 and is_code(lines[first - 1]):
        first -= 1
    last = start
    while last + 1 < len(lines) and is_code(lines[last + 1]):
        last += 1
    chunk = lines[first : last + 1]
    # Trailing prose that happened to look like code (or a cut-off reply) is dropped line by
    # line until the chunk parses; if it never does, the parse stage reports the error.
    lowest = max(start - first + 1, len(chunk) - _MAX_TRIMS)
    for end in range(len(chunk), lowest - 1, -1):
        code = "\n".join(chunk[:end]).strip("\n") + "\n"
        if _parses(code):
            return code
    return "\n".join(chunk).strip("\n") + "\n"
