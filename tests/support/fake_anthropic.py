"""A local HTTP server that speaks the Anthropic Messages API, for testing the Claude engine without a network.

It answers `POST /v1/messages` the way the API does: a JSON message, or, when the request says `"stream": true`,
server-sent events (message_start, content_block_start / content_block_delta with text_delta or input_json_delta /
content_block_stop, message_delta with the stop reason and usage, message_stop). A test scripts what it answers,
one queued response per request (text, tool_use blocks, an HTTP error, a delay), and reads back every request it
received (headers and JSON body), so it can assert what the engine sent: the tools, the system prompt, the history
and the tool results.

The `fake_anthropic` fixture (import `fake_anthropic_fixture` into a test module) starts one, points the settings
at it (ANTHROPIC_BASE_URL, a test key) and stops it.
"""

from __future__ import annotations

import json
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

TEST_API_KEY = "sk-ant-test-" + "k3y" * 12  # recognisable, so tests can assert it never leaks

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


@dataclass
class Scripted:
    """One response: content blocks (text / tool_use), or an HTTP error, optionally after a delay."""

    blocks: list[dict[str, Any]] = field(default_factory=list)
    status: int = 200
    delay: float = 0.0
    input_tokens: int = 25
    output_tokens: int = 10
    cut_after: int | None = None  # streaming: drop the connection after this many events
    stall_after: int | None = None  # streaming: after this many events, wait `delay` seconds before the rest
    error_after: int | None = None  # streaming: after this many events, an `error` event (overloaded) ends it

    @property
    def stop_reason(self) -> str:
        if any("raw_input" in b for b in self.blocks):
            return "max_tokens"
        return "tool_use" if any(b["type"] == "tool_use" for b in self.blocks) else "end_turn"


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def raw(self) -> str:
        return json.dumps(self.body)


class FakeAnthropic:
    """The server and its script. Responses are consumed in order; an empty script answers 500 (so a test that
    forgot to script a call fails visibly instead of hanging)."""

    def __init__(self, api_key: str | None = None) -> None:
        self.api_key = api_key  # when set, other keys get a 401 as from the API
        self.requests: list[Recorded] = []
        self._script: list[Scripted] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-anthropic", daemon=True)

    # -- lifecycle -----------------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeAnthropic:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- scripting -----------------------------------------------------------------------------------------

    def reply_text(self, text: str, *, input_tokens: int = 25, output_tokens: int = 10, delay: float = 0.0) -> None:
        self._queue(Scripted([{"type": "text", "text": text}], 200, delay, input_tokens, output_tokens))

    def reply_tool(
        self,
        name: str,
        arguments: dict[str, Any],
        *,
        text: str | None = None,
        input_tokens: int = 25,
        output_tokens: int = 10,
    ) -> str:
        """A tool_use block (after an optional text block); returns the tool_use id."""
        tool_id = "toolu_" + secrets.token_hex(12)
        blocks: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
        blocks.append({"type": "tool_use", "id": tool_id, "name": name, "input": arguments})
        self._queue(Scripted(blocks, 200, 0.0, input_tokens, output_tokens))
        return tool_id

    def reply_tools(self, calls: list[tuple[str, dict[str, Any]]]) -> list[str]:
        """Several tool_use blocks in one response (the model may ask for parallel calls)."""
        blocks: list[dict[str, Any]] = [
            {"type": "tool_use", "id": "toolu_" + secrets.token_hex(12), "name": n, "input": a} for n, a in calls
        ]
        self._queue(Scripted(blocks))
        return [b["id"] for b in blocks]

    def reply_truncated_tool(self, name: str, raw_input: str) -> None:
        """A streamed tool_use whose input JSON stops part-way (the answer hit max_tokens)."""
        block = {"type": "tool_use", "id": "toolu_" + secrets.token_hex(12), "name": name, "input": {}}
        self._queue(Scripted([{**block, "raw_input": raw_input}]))

    def reply_stalled(self, text: str, *, after_events: int = 4, seconds: float = 2.0) -> None:
        """A streamed answer that starts, then goes quiet for `seconds` (a read timeout mid-stream)."""
        self._queue(Scripted([{"type": "text", "text": text}], delay=seconds, stall_after=after_events))

    def reply_stream_error(self, text: str, *, after_events: int = 4) -> None:
        """A streamed answer interrupted by an `error` event (the API sends overloaded_error this way)."""
        self._queue(Scripted([{"type": "text", "text": text}], error_after=after_events))

    def reply_error(self, status: int, message: str = "scripted failure", *, delay: float = 0.0) -> None:
        self._queue(Scripted([{"type": "error", "message": message}], status, delay))

    def reply_slowly(self, seconds: float, text: str = "too late") -> None:
        self.reply_text(text, delay=seconds)

    def reply_cut(self, text: str, *, after_events: int = 4) -> None:
        """A streamed answer whose connection drops part-way (a JSON request gets a truncated body)."""
        self._queue(Scripted([{"type": "text", "text": text}], cut_after=after_events))

    def _queue(self, item: Scripted) -> None:
        with self._lock:
            self._script.append(item)

    def _next(self) -> Scripted:
        with self._lock:
            if self._script:
                return self._script.pop(0)
        return Scripted([{"type": "error", "message": "the fake Anthropic server has no scripted response"}], 500)

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._script)

    # -- reading back --------------------------------------------------------------------------------------

    def record(self, path: str, headers: dict[str, str], body: dict[str, Any]) -> None:
        with self._lock:
            self.requests.append(Recorded(path, headers, body))

    def tool_results(self, index: int) -> list[dict[str, Any]]:
        """The tool_result blocks of request `index` (in its last user message)."""
        found: list[dict[str, Any]] = []
        for message in self.requests[index].body["messages"]:
            if message["role"] == "user" and isinstance(message["content"], list):
                found.extend(b for b in message["content"] if b.get("type") == "tool_result")
        return found


def _message(script: Scripted, model: str) -> dict[str, Any]:
    return {
        "id": "msg_" + secrets.token_hex(12),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{k: v for k, v in b.items() if k != "raw_input"} for b in script.blocks],
        "stop_reason": script.stop_reason,
        "stop_sequence": None,
        "usage": {"input_tokens": script.input_tokens, "output_tokens": script.output_tokens},
    }


def _events(script: Scripted, model: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """The stream of one message, as the API sends it: text in a few deltas, tool input as partial JSON."""
    start = _message(script, model)
    start.update(content=[], stop_reason=None, usage={"input_tokens": script.input_tokens, "output_tokens": 1})
    yield "message_start", {"type": "message_start", "message": start}
    yield "ping", {"type": "ping"}
    for index, block in enumerate(script.blocks):
        if block["type"] == "text":
            yield (
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": index,
                    "content_block": {"type": "text", "text": ""},
                },
            )
            text = block["text"]
            for piece in _pieces(text, 7):
                yield (
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": index,
                        "delta": {"type": "text_delta", "text": piece},
                    },
                )
        else:
            yield (
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": index,
                    "content_block": {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}},
                },
            )
            for piece in _pieces(block.get("raw_input") or json.dumps(block["input"]), 11):
                yield (
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": index,
                        "delta": {"type": "input_json_delta", "partial_json": piece},
                    },
                )
        yield "content_block_stop", {"type": "content_block_stop", "index": index}
    yield (
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": script.stop_reason, "stop_sequence": None},
            # The whole message's usage (input included), as current API versions send it.
            "usage": {
                "input_tokens": script.input_tokens,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
                "output_tokens": script.output_tokens,
            },
        },
    )
    yield "message_stop", {"type": "message_stop"}


def _pieces(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def _handler(fake: FakeAnthropic) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
            pass  # quiet: pytest output is for the tests

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw or b"{}")
            except json.JSONDecodeError:
                body = {"_raw": raw.decode("utf-8", "replace")}
            fake.record(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            if self.path.split("?")[0] != "/v1/messages":
                self._json(404, {"type": "error", "error": {"type": "not_found_error", "message": self.path}})
                return
            given = self.headers.get("x-api-key") or (self.headers.get("authorization") or "").removeprefix("Bearer ")
            if fake.api_key is not None and given != fake.api_key:
                error = {"type": "authentication_error", "message": "invalid x-api-key"}
                self._json(401, {"type": "error", "error": error})
                return
            script = fake._next()
            if script.delay and script.stall_after is None:
                time.sleep(script.delay)
            try:
                if script.status != 200:
                    message = script.blocks[0]["message"] if script.blocks else "error"
                    error_type = ERROR_TYPES.get(script.status, "api_error")
                    self._json(script.status, {"type": "error", "error": {"type": error_type, "message": message}})
                elif body.get("stream"):
                    self._stream(script, body.get("model", "claude-test"))
                elif script.cut_after is not None:
                    self._cut_json(_message(script, body.get("model", "claude-test")))
                else:
                    self._json(200, _message(script, body.get("model", "claude-test")))
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test): nothing to answer

        def _json(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.send_header("request-id", "req_" + secrets.token_hex(8))
            self.end_headers()
            self.wfile.write(data)

        def _cut_json(self, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True

        def _stream(self, script: Scripted, model: str) -> None:
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("cache-control", "no-cache")
            self.send_header("connection", "close")
            self.end_headers()
            for sent, (event, data) in enumerate(_events(script, model)):
                if sent == script.stall_after:
                    time.sleep(script.delay)
                if sent == script.error_after:
                    error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
                    self.wfile.write(f"event: error\ndata: {json.dumps(error)}\n\n".encode())
                    self.wfile.flush()
                    break
                if script.cut_after is not None and sent >= script.cut_after:
                    self.wfile.write(b'event: content_block_delta\ndata: {"type": "content_blo')
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    break
                self.wfile.write(f"event: {event}\ndata: {json.dumps(data)}\n\n".encode())
                self.wfile.flush()
            self.close_connection = True

    return Handler


@pytest.fixture(name="fake_anthropic")
def fake_anthropic_fixture() -> Iterator[FakeAnthropic]:
    """A running fake with the settings pointing at it (and a test key), restored afterwards."""
    from core.config import reset_settings

    fake = FakeAnthropic(api_key=TEST_API_KEY).start()
    with pytest.MonkeyPatch.context() as env:
        env.setenv("ANTHROPIC_API_KEY", TEST_API_KEY)
        env.setenv("ANTHROPIC_BASE_URL", fake.base_url)
        env.setenv("ALBEDO_TIMEOUT_SECONDS", "5")
        reset_settings()
        try:
            yield fake
        finally:
            fake.stop()
    reset_settings()
