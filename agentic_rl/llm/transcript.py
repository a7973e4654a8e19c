"""``llm_transcript.jsonl``: every designer request, response and proposal list, one JSON line
each, appended as it happens (a crash loses at most the line being written).

Line types (the ``type`` key):

* ``request``: one HTTP call to a model: the request body (messages with images replaced by a
  short ``<image ...>`` note), the raw response or the error, status, latency, attempt
  number, token usage and cost. Failed attempts are recorded too.
* ``proposals``: what one ``propose``/``repair`` call returned, as full
  :class:`~agentic_rl.records.Proposal` objects. The replay designer reads these lines, so a
  run can be reproduced byte for byte without a model.

Secrets never reach the file: every string the transcript was told about (the API key) is
replaced by ``***`` wherever it occurs, keys such as ``api_key`` or ``authorization`` are
blanked, and anything shaped like a bearer token or an ``sk-`` key is masked.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

#: Keys whose values are always blanked, whatever they hold.
SECRET_KEYS = frozenset(
    {"api_key", "apikey", "authorization", "openai_api_key", "x-api-key", "api-key", "password"}
)
_TOKEN_PATTERNS = (
    re.compile(r"\bsk-[A-Za-z0-9_\-]{8,}"),
    re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._\-]{8,}"),
)
_DATA_URL = re.compile(r"^data:(image/[a-z0-9.+-]+);base64,(.*)$", re.S | re.I)
MASK = "***"


class Transcript:
    """Append-only JSONL log of designer traffic, with secrets removed.

    Args:
        path: the ``llm_transcript.jsonl`` file (its folder is created).
        secrets: strings to mask wherever they appear (e.g. the API key); more can be added
            with :meth:`add_secret`.
    """

    def __init__(self, path: str | Path, secrets: Iterable[str] = ()) -> None:
        self.path = Path(path)
        self._secrets: set[str] = set()
        for s in secrets:
            self.add_secret(s)
        self._lock = threading.Lock()
        self._seq = _count_lines(self.path)

    def add_secret(self, secret: str | None) -> None:
        """Mask this string in everything written from now on (short strings are ignored:
        masking 'none' or '' everywhere would garble the log without protecting anything)."""
        if secret and len(secret) >= 6:
            self._secrets.add(secret)

    def append(self, entry: dict[str, Any]) -> dict[str, Any]:
        """Write one line (adds ``seq`` and ``time``); returns what was written."""
        with self._lock:
            record = {"seq": self._seq, "time": round(time.time(), 3), **entry}
            clean = self.redact(record)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            line = json.dumps(clean, ensure_ascii=False, default=str)
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(line + "\n")
            self._seq += 1
            return clean

    def redact(self, obj: Any) -> Any:
        """A copy of ``obj`` with secrets masked and image data URLs abbreviated."""
        if isinstance(obj, dict):
            return {
                k: (MASK if str(k).lower() in SECRET_KEYS and v else self.redact(v))
                for k, v in obj.items()
            }
        if isinstance(obj, (list, tuple)):
            return [self.redact(v) for v in obj]
        if isinstance(obj, str):
            return self._redact_text(abbreviate_data_url(obj))
        return obj

    def _redact_text(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        for pattern in _TOKEN_PATTERNS:
            text = pattern.sub(MASK, text)
        return text


def abbreviate_data_url(text: str) -> str:
    """Replace a base64 image data URL by ``<image/png 12345 bytes sha256:...>``.

    Images are large and the transcript is for reading and replay, which never needs them;
    the hash still tells which image was sent.
    """
    m = _DATA_URL.match(text)
    if m is None:
        return text
    try:
        raw = base64.b64decode(m.group(2), validate=False)
    except ValueError:
        raw = m.group(2).encode()
    return f"<{m.group(1)} {len(raw)} bytes sha256:{hashlib.sha256(raw).hexdigest()[:16]}>"


def read_transcript(path: str | Path) -> list[dict[str, Any]]:
    """All lines of a transcript, in order.

    Raises:
        FileNotFoundError: if the file does not exist.
        ValueError: for a line that is not a JSON object (names the line number).
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(
            f"transcript {p} does not exist; pass the llm_transcript.jsonl of a recorded run"
        )
    out = []
    with p.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"transcript {p} line {lineno} is not JSON: {exc}") from None
            if not isinstance(rec, dict):
                raise ValueError(f"transcript {p} line {lineno} is not a JSON object")
            out.append(rec)
    return out


def _count_lines(path: Path) -> int:
    """Lines already in the file, so a resumed run continues the sequence numbers."""
    if not path.is_file():
        return 0
    with path.open("rb") as fh:
        return sum(1 for line in fh if line.strip())
