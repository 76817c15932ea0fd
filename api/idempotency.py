"""`Idempotency-Key` for every POST under /api/v1, as one pure-ASGI layer: no router has to remember it.

A POST that carries the header is authenticated here (the same checks the route's dependency makes; when they
fail, the request goes on untouched and the route answers 401), its key reserved in its own committed
transaction before the route runs (core/records/idempotency.py holds the rules), and its response stored when
it succeeds. A retry with the same key then gets the first response (status, body, Location, with the header
`Idempotent-Replayed: true`) and runs nothing; the same key on a different request is a 409
IDEMPOTENCY_KEY_REUSED; a retry that arrives while the first is still running waits for it up to
`WAIT_SECONDS`, then gets a 409 IDEMPOTENCY_REQUEST_IN_PROGRESS with Retry-After. Only successful (2xx)
responses are kept: a failed request changed nothing, so it may be retried with the same key.
"""

from __future__ import annotations

import json
import time
from typing import Any

import anyio
import structlog
from starlette.concurrency import run_in_threadpool

from api.envelope import error_body
from core.actor import Actor
from core.auth import service as auth
from core.db import unit_of_work
from core.errors import DomainError
from core.records import idempotency

HEADER = "idempotency-key"
WAIT_SECONDS = 10.0
log = structlog.get_logger("clientforge.api")


async def _read_body(receive: Any) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _authenticate(headers: dict[str, str]) -> Actor | None:
    authorization = headers.get("authorization", "")
    scheme, _, credential = authorization.partition(" ")
    if scheme.lower() != "bearer" or not credential.strip():
        credential = headers.get("x-api-key", "")
    credential = credential.strip()
    if not credential:
        return None
    try:
        if credential.startswith(auth.API_KEY_PREFIX + "_"):

            def by_key() -> Actor:
                with unit_of_work() as session:
                    return auth.authenticate_api_key(session, credential)

            return await run_in_threadpool(by_key)
        return await auth.authenticate_access_token_async(credential)
    except DomainError:
        return None


def _reserve(actor: Actor, **request: str) -> idempotency.Reservation:
    with unit_of_work(actor) as session:
        return idempotency.reserve(session, actor, **request)  # type: ignore[arg-type]


def _complete(actor: Actor, reservation_id: Any, response: idempotency.StoredResponse | None) -> None:
    with unit_of_work(actor) as session:
        if response is None:
            idempotency.release(session, actor, reservation_id)
        else:
            idempotency.complete(session, actor, reservation_id, response)


class IdempotencyMiddleware:
    def __init__(self, app: Any, prefix: str = "/api/v1") -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        key = headers.get(HEADER)
        if key is None:
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        replayed = False

        async def receive_again() -> dict:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        actor = await _authenticate(headers)
        if actor is None:  # not authenticated: the route answers (401), nothing to remember
            await self.app(scope, receive_again, send)
            return
        try:
            idempotency.check_key(key)
        except DomainError as exc:
            await _send_error(send, exc.status, exc.code, exc.message, exc.details)
            return
        request = {
            "key": key,
            "method": scope["method"],
            "path": scope["path"],
            "request_hash": idempotency.fingerprint(
                scope["method"],
                scope["path"],
                scope.get("query_string", b"").decode("latin-1"),
                body,
                headers.get("content-type"),
            ),
        }
        try:
            outcome = await self._wait_for_turn(actor, request)
        except DomainError as exc:
            await _send_error(send, exc.status, exc.code, exc.message, exc.details)
            return
        if isinstance(outcome, idempotency.StoredResponse):
            await _send_stored(send, outcome)
            return
        if not isinstance(outcome, idempotency.Reserved):
            await _send_error(
                send,
                409,
                "IDEMPOTENCY_REQUEST_IN_PROGRESS",
                "A request with this Idempotency-Key is still being processed; retry in a moment",
                None,
                extra=[(b"retry-after", b"1")],
            )
            return
        await self._run(scope, receive_again, send, actor, outcome)

    async def _wait_for_turn(self, actor: Actor, request: dict[str, str]) -> idempotency.Reservation:
        deadline = time.monotonic() + WAIT_SECONDS
        delay = 0.02
        while True:
            outcome = await run_in_threadpool(_reserve, actor, **request)
            if outcome != idempotency.IN_PROGRESS or time.monotonic() + delay > deadline:
                return outcome
            await anyio.sleep(delay)
            delay = min(delay * 2, 0.5)

    async def _run(self, scope: dict, receive: Any, send: Any, actor: Actor, reserved: idempotency.Reserved) -> None:
        captured: dict[str, Any] = {"status": 500, "headers": [], "body": []}

        async def capture(message: dict) -> None:
            if message["type"] == "http.response.start":
                captured["status"] = message["status"]
                captured["headers"] = [
                    (k.decode("latin-1"), v.decode("latin-1")) for k, v in message.get("headers", [])
                ]
            elif message["type"] == "http.response.body":
                captured["body"].append(message.get("body", b""))
            await send(message)

        stored: idempotency.StoredResponse | None = None
        try:
            await self.app(scope, receive, capture)
            if 200 <= captured["status"] < 300:
                stored = idempotency.StoredResponse(captured["status"], captured["headers"], b"".join(captured["body"]))
        finally:
            try:
                await run_in_threadpool(_complete, actor, reserved.id, stored)
            except Exception:  # the response has gone out; a key left in progress is abandoned after a while
                log.exception("idempotency_store_failed", reservation=str(reserved.id))


async def _send_stored(send: Any, response: idempotency.StoredResponse) -> None:
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers]
    headers += [
        (b"content-length", str(len(response.body)).encode()),
        (b"idempotent-replayed", b"true"),
    ]
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})


async def _send_error(
    send: Any, status: int, code: str, message: str, details: Any, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = json.dumps(error_body(code, message, details)).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": [*headers, *(extra or [])]})
    await send({"type": "http.response.body", "body": body})
