"""One pure-ASGI middleware for what every request needs: request id and context, security headers,
the body size limit, metrics and the access log. (Pure ASGI: BaseHTTPMiddleware costs latency.)"""

from __future__ import annotations

import ipaddress
import json
import re
import secrets
import time
from typing import Any

import structlog
from starlette.exceptions import HTTPException

from api import metrics
from api.envelope import error_body
from api.errors import INTERNAL_ERROR_MESSAGE
from core.config import get_settings
from core.db import RequestContext, reset_context, set_context

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")
log = structlog.get_logger("clientforge.api")

API_CSP = "default-src 'none'; frame-ancestors 'none'"
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; frame-ancestors 'none'"
)


# Uploads to these routes may be as large as `import_max_bytes` (plus the multipart envelope around the file).
UPLOAD_PATHS = ("/api/v1/imports",)
MULTIPART_ALLOWANCE = 64 * 1024


class BodyTooLarge(HTTPException):
    """A body read past the limit. An HTTPException so that FastAPI's body parsing re-raises it (it turns any
    other error into a 400) and the app's handler answers 413 in the envelope."""

    def __init__(self, limit: int, *, upload: bool = False) -> None:
        if upload:
            file_limit = limit - MULTIPART_ALLOWANCE
            megabytes = f" ({file_limit / 1048576:.0f} MB)" if file_limit >= 1048576 else ""
            message = f"The file exceeds the import limit of {file_limit:,} bytes{megabytes}; split it into parts"
        else:
            message = f"Request body exceeds the limit of {limit} bytes; send less per request"
        super().__init__(413, message)


def _ip(client: Any) -> str | None:
    """The client address when it is one (audit columns are inet; test clients and odd servers send names)."""
    try:
        return str(ipaddress.ip_address(client[0])) if client else None
    except ValueError:
        return None


class PlatformMiddleware:
    def __init__(self, app: Any) -> None:
        self.app = app
        self.max_body = get_settings().max_body_bytes

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        incoming = headers.get("x-request-id", "")
        request_id = incoming if _REQUEST_ID.match(incoming) else f"req_{secrets.token_hex(8)}"
        token = set_context(
            RequestContext(
                request_id=request_id,
                ip=_ip(scope.get("client")),
                user_agent=headers.get("user-agent"),
                via="api",
            )
        )
        structlog.contextvars.bind_contextvars(request_id=request_id)
        https = scope.get("scheme") == "https" or headers.get("x-forwarded-proto") == "https"
        path = scope.get("path", "")
        started = time.perf_counter()
        status_holder = {"status": 500, "started": False}

        async def send_wrapper(message: dict) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                status_holder["started"] = True
                extra = [
                    (b"x-request-id", request_id.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"content-security-policy", (DOCS_CSP if path.endswith("/docs") else API_CSP).encode()),
                ]
                if https:
                    extra.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        upload = scope["method"] == "POST" and path.startswith(UPLOAD_PATHS)
        max_body = get_settings().import_max_bytes + MULTIPART_ALLOWANCE if upload else self.max_body
        try:
            declared = headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > max_body:
                await self._too_large(send_wrapper, max_body, upload)
                return
            received = 0

            async def receive_limited() -> dict:
                nonlocal received
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > max_body:
                        raise BodyTooLarge(max_body, upload=upload)
                return message

            try:
                await self.app(scope, receive_limited, send_wrapper)
            except BodyTooLarge:
                await self._too_large(send_wrapper, max_body, upload)
            except Exception:
                # Answer here, while the request id is known and the headers apply; the app's handler in
                # Starlette's outermost middleware still logs it and sees the response already started.
                if not status_holder["started"]:
                    await self._send_error(send_wrapper, 500, "INTERNAL_ERROR", INTERNAL_ERROR_MESSAGE)
                raise
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            route_path = getattr(route, "path", None) or "unmatched"
            status = status_holder["status"]
            metrics.REQUESTS.labels(scope["method"], route_path, str(status)).inc()
            metrics.LATENCY.labels(scope["method"], route_path).observe(elapsed)
            if status >= 500:
                metrics.ERRORS.labels(route_path).inc()
            if not path.startswith(("/health", "/metrics")):
                log.info(
                    "request",
                    method=scope["method"],
                    path=path,
                    route=route_path,
                    status=status,
                    ms=round(elapsed * 1000, 2),
                )
            structlog.contextvars.unbind_contextvars("request_id")
            reset_context(token)

    async def _too_large(self, send: Any, limit: int, upload: bool) -> None:
        await self._send_error(send, 413, "PAYLOAD_TOO_LARGE", BodyTooLarge(limit, upload=upload).detail)

    async def _send_error(self, send: Any, status: int, code: str, message: str) -> None:
        body = json.dumps(error_body(code, message)).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
