"""Every error leaves as the seed's envelope with the right status; no stack trace reaches a client."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.envelope import error_body
from core.errors import DomainError, RateLimited

log = structlog.get_logger("clientforge.api")

INTERNAL_ERROR_MESSAGE = "Something went wrong on our side; the request id identifies it in our logs"

_HTTP_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "RATE_LIMIT_EXCEEDED",
}


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def _validation_details(exc: RequestValidationError) -> tuple[str, list[dict[str, Any]]]:
    details = []
    for err in exc.errors():
        kind = err.get("type", "")
        if kind == "json_invalid":
            return "Malformed JSON body: fix the syntax and resend", [{"field": "body", "message": err.get("msg")}]
        message = "unknown field: remove it" if kind == "extra_forbidden" else err.get("msg", "invalid")
        details.append({"field": _field(tuple(err.get("loc", ()))), "message": message, "type": kind})
    fields = ", ".join(sorted({d["field"] for d in details}))
    return f"Invalid request data: check {fields}", details


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def domain_error(request: Request, exc: DomainError) -> JSONResponse:
        headers = {}
        if isinstance(exc, RateLimited):
            headers = {
                "Retry-After": str(exc.retry_after),
                "X-RateLimit-Limit": str(exc.limit),
                "X-RateLimit-Remaining": "0",
            }
            if exc.reset is not None:
                headers["X-RateLimit-Reset"] = str(exc.reset)
        if exc.status == 401:
            headers["WWW-Authenticate"] = "Bearer"
        return JSONResponse(error_body(exc.code, exc.message, exc.details), status_code=exc.status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        message, details = _validation_details(exc)
        return JSONResponse(error_body("VALIDATION_ERROR", message, details), status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "ERROR")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ").capitalize()
        if exc.status_code == 404 and message == "Not Found":
            message = f"No such endpoint: {request.method} {request.url.path}"
        return JSONResponse(error_body(code, message), status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(StaleDataError)
    async def stale(request: Request, exc: StaleDataError) -> JSONResponse:
        return JSONResponse(
            error_body(
                "VERSION_CONFLICT",
                "This record was changed by someone else; reload it and apply your change again",
            ),
            status_code=409,
        )

    @app.exception_handler(IntegrityError)
    async def integrity(request: Request, exc: IntegrityError) -> JSONResponse:
        log.warning("integrity_error", error=str(exc.orig).splitlines()[0] if exc.orig else "")
        return JSONResponse(
            error_body(
                "CONFLICT",
                "The change conflicts with existing data (a duplicate or a missing related record)",
            ),
            status_code=409,
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled_error", path=request.url.path)
        return JSONResponse(error_body("INTERNAL_ERROR", INTERNAL_ERROR_MESSAGE), status_code=500)
