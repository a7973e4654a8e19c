"""A small OpenAI-compatible HTTP server for tests: real sockets, scripted answers.

The openai designer's tests point the real ``openai`` client at it. Each request to
``POST /v1/chat/completions`` takes the next scripted :class:`Reply` (or calls a scripted
function with the request body); ``GET /v1/models`` lists the served models. Every request is
recorded (method, path, headers, parsed JSON body) for assertions.

>>> with OpenAIServer() as server:
...     server.push(Reply.chat(["```python\\n...\\n```"]))
...     designer = make_designer("openai", base_url=server.url, api_key="k", model="test-model")
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODEL = "test-model"


@dataclass
class Reply:
    """One scripted HTTP answer.

    Attributes:
        status: HTTP status code.
        body: a dict (sent as JSON) or raw bytes/str (sent as is, e.g. malformed JSON).
        headers: extra response headers (e.g. ``Retry-After``).
        hang: seconds to hold the connection without answering (a hung server); the
            client's timeout should fire first.
    """

    status: int = 200
    body: dict[str, Any] | bytes | str = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    hang: float = 0.0

    @classmethod
    def chat(
        cls,
        contents: list[str | None],
        *,
        prompt_tokens: int = 1000,
        completion_tokens: int = 200,
        refusal: str | None = None,
        finish_reason: str = "stop",
        usage: bool = True,
        model: str = MODEL,
    ) -> Reply:
        """A chat completion with one choice per content string."""
        choices = [
            {
                "index": i,
                "message": {"role": "assistant", "content": text, "refusal": refusal},
                "finish_reason": finish_reason,
                "logprobs": None,
            }
            for i, text in enumerate(contents)
        ]
        body: dict[str, Any] = {
            "id": f"chatcmpl-test-{time.monotonic_ns()}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": choices,
        }
        if usage:
            body["usage"] = {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            }
        return cls(200, body)

    @classmethod
    def error(
        cls, status: int, message: str, *, headers: dict[str, str] | None = None, code: str = ""
    ) -> Reply:
        """An OpenAI-style error body."""
        body = {"error": {"message": message, "type": "test_error", "param": None, "code": code}}
        return cls(status, body, headers or {})


Script = Reply | Callable[[dict[str, Any]], Reply]


@dataclass
class Seen:
    """A request the server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any


class OpenAIServer:
    """Threaded HTTP server on 127.0.0.1 (a free port) answering from a script.

    Args:
        models: names listed by ``GET /v1/models``.
        n: how the server treats ``n`` > 1: ``"yes"`` (as asked), ``"ignore"`` (one choice,
            like llama.cpp) or ``"refuse"`` (HTTP 400, like some proxies).
        images: False: a request with image parts gets HTTP 400 "image input is not
            supported" (a text-only model behind llama.cpp or vLLM).
        usage: False: answers carry no ``usage`` (token counts), as some servers do.
    """

    def __init__(
        self,
        models: tuple[str, ...] = (MODEL,),
        *,
        n: str = "yes",
        images: bool = True,
        usage: bool = True,
    ) -> None:
        self.models = models
        self.n, self.images, self.usage = n, images, usage
        self.script: deque[Script] = deque()
        self.requests: list[Seen] = []
        self._release = threading.Event()
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def _read(self) -> Any:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    return json.loads(raw) if raw else None
                except json.JSONDecodeError:
                    return raw.decode("utf-8", "replace")

            def _record(self, body: Any) -> None:
                with server._lock:
                    server.requests.append(
                        Seen(
                            self.command,
                            self.path,
                            {k.lower(): v for k, v in self.headers.items()},
                            body,
                        )
                    )

            def _send(self, reply: Reply) -> None:
                if reply.hang:
                    server._release.wait(reply.hang)
                if isinstance(reply.body, dict):
                    payload = json.dumps(reply.body).encode()
                elif isinstance(reply.body, str):
                    payload = reply.body.encode()
                else:
                    payload = reply.body
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    for k, v in reply.headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout): nothing to answer

            def do_GET(self) -> None:
                self._record(None)
                if self.path.split("?")[0].rstrip("/") == "/v1/models":
                    data = [
                        {"id": m, "object": "model", "created": 0, "owned_by": "test"}
                        for m in server.models
                    ]
                    self._send(Reply(200, {"object": "list", "data": data}))
                else:
                    self._send(Reply.error(404, f"no route {self.path}"))

            def do_POST(self) -> None:
                body = self._read()
                self._record(body)
                if self.path.split("?")[0] != "/v1/chat/completions":
                    self._send(Reply.error(404, f"no route {self.path}"))
                    return
                request = body if isinstance(body, dict) else {}
                refused = server._refuse(request)
                if refused is not None:
                    self._send(refused)
                    return
                with server._lock:
                    item = server.script.popleft() if server.script else None
                if item is None:
                    reply = Reply.error(500, "test server: no scripted reply left")
                elif callable(item):
                    reply = item(request)
                else:
                    reply = item
                self._send(server._shape(reply))

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def _refuse(self, body: dict[str, Any]) -> Reply | None:
        """The 400 a server without n or image support sends, if the request needs it."""
        if self.n == "refuse" and int(body.get("n") or 1) > 1:
            return Reply.error(400, "Unsupported value: 'n' must be 1 for this model")
        if not self.images and any(
            isinstance(m.get("content"), list)
            and any(p.get("type") == "image_url" for p in m["content"])
            for m in body.get("messages") or []
        ):
            return Reply.error(
                400, "image input is not supported - hint: you may need to provide the mmproj"
            )
        return None

    def _shape(self, reply: Reply) -> Reply:
        """A reply as this server's capabilities allow (one choice, no usage)."""
        if not isinstance(reply.body, dict) or "choices" not in reply.body:
            return reply
        body = dict(reply.body)
        if self.n == "ignore":
            body["choices"] = body["choices"][:1]
        if not self.usage:
            body.pop("usage", None)
        return Reply(reply.status, body, reply.headers, reply.hang)

    @property
    def url(self) -> str:
        """The base URL to hand to the client (ends in /v1)."""
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def push(self, *items: Script) -> None:
        """Queue replies (or functions of the request body) for the next chat requests."""
        with self._lock:
            self.script.extend(items)

    @property
    def chat_requests(self) -> list[Seen]:
        """The chat-completion requests received so far."""
        return [r for r in self.requests if r.method == "POST"]

    def start(self) -> OpenAIServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()  # let hung handlers finish
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> OpenAIServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
