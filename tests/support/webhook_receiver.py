"""A real HTTP endpoint for webhook tests: a threaded http.server on 127.0.0.1 (random port) that checks each
request's signature and timestamp with the secret the test gives it, and answers from a script of statuses."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOLERANCE_SECONDS = 300


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    valid: bool
    answered: int

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    secret: str | None = None
    statuses: list[int] = field(default_factory=list)  # answered in order; then `default_status`
    default_status: int = 200
    requests: list[Received] = field(default_factory=list)
    url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def verify(self, headers: dict[str, str], body: bytes) -> bool:
        """What a customer's endpoint does: recompute the HMAC over "<timestamp>.<body>", check the clock."""
        if self.secret is None:
            return False
        timestamp = headers.get("x-clientforge-timestamp", "")
        signature = headers.get("x-clientforge-signature", "")
        if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > TOLERANCE_SECONDS:
            return False
        expected = hmac.new(self.secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(signature, f"v1={expected}")

    def handle(self, headers: dict[str, str], body: bytes) -> int:
        with self._lock:
            valid = self.verify(headers, body)
            status = self.statuses.pop(0) if self.statuses else self.default_status
            if not valid:
                status = 401
            self.requests.append(Received(headers, body, valid, status))
            return status


def start_receiver() -> tuple[Receiver, ThreadingHTTPServer]:
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            status = receiver.handle({k.lower(): v for k, v in self.headers.items()}, body)
            answer = json.dumps({"received": status < 300}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return receiver, server


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    """A receiver serving until the block ends (use it in a fixture)."""
    found, server = start_receiver()
    try:
        yield found
    finally:
        server.shutdown()
        server.server_close()
