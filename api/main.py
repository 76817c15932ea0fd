"""The FastAPI application: /health, /ready, /metrics and the versioned API under /api/v1."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import swagger_ui
from fastapi import APIRouter, Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles

from api import errors
from api.deps import committing, limit_by_ip
from api.idempotency import IdempotencyMiddleware
from api.middleware import PlatformMiddleware
from api.routers import (
    accounts,
    actions,
    activities,
    admin,
    albedo,
    albedo_proposals,
    api_keys,
    auth,
    churn,
    contacts,
    custom_fields,
    dashboards,
    deals,
    duplicates,
    forecasts,
    health,
    imports,
    insights,
    jobs,
    notes,
    pipelines,
    record_insights,
    reports,
    roles,
    scoring,
    search,
    sentiment,
    suggestions,
    tasks,
    users,
    webhooks,
)
from core.config import get_settings
from core.logging import configure_logging

API_PREFIX = "/api/v1"
SWAGGER_STATIC = Path(swagger_ui.__file__).parent / "static"

DESCRIPTION = """
The ClientForge REST API. Every response uses one envelope: `{success, data, meta{timestamp, requestId}}`;
errors are `{success: false, error{code, message, details}}`. Authenticate with `Authorization: Bearer <token>`
(an access token from `POST /api/v1/auth/login`, or an API key `cf_...`). Rate limits are reported in
`X-RateLimit-Limit/Remaining/Reset`; a 429 carries `Retry-After`.
"""


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # Database work runs in worker threads. More threads than the connection pool holds only queue on the
    # pool and fight over the GIL: size the thread pool to the connection pool.
    anyio.to_thread.current_default_thread_limiter().total_tokens = get_settings().api_threads
    yield


def _include_flat(app: FastAPI, router: APIRouter, *, prefix: str, dependencies: list[Any]) -> None:
    """Each of the router's routes added to the app itself, as `include_router` did before FastAPI 0.16x.

    `include_router` now keeps the router as a nested branch that every request is matched against twice
    (route by route, router by router, until one matches): measured, that was a sixth of a list request's
    CPU. Added flat, a request is matched once against one list; the OpenAPI document is the same. Sync
    routes that take the session also commit in their own thread (`committing`).
    """
    for route in router.routes:
        if not isinstance(route, APIRoute):
            raise TypeError(f"{route!r}: only API routes can be included flat")
        app.add_api_route(
            prefix + route.path,
            committing(route.endpoint),
            response_model=route.response_model,
            status_code=route.status_code,
            tags=route.tags,
            dependencies=[*dependencies, *route.dependencies],
            summary=route.summary,
            description=route.description,
            response_description=route.response_description,
            responses=route.responses,
            deprecated=route.deprecated,
            methods=route.methods,
            operation_id=route.operation_id,
            response_model_include=route.response_model_include,
            response_model_exclude=route.response_model_exclude,
            response_model_by_alias=route.response_model_by_alias,
            response_model_exclude_unset=route.response_model_exclude_unset,
            response_model_exclude_defaults=route.response_model_exclude_defaults,
            response_model_exclude_none=route.response_model_exclude_none,
            include_in_schema=route.include_in_schema,
            response_class=route.response_class,
            name=route.name,
            openapi_extra=route.openapi_extra,
            generate_unique_id_function=route.generate_unique_id_function,
        )


def create_app() -> FastAPI:
    settings = get_settings()
    configure_logging(settings.log_level)
    app = FastAPI(
        lifespan=lifespan,
        title="ClientForge CRM API",
        version="1.0.0",
        description=DESCRIPTION,
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    errors.install(app)

    app.include_router(health.router)
    records = (accounts, contacts, pipelines, deals, activities, tasks, notes, custom_fields, webhooks)
    # search and duplicates before contacts/accounts: `/contacts/{contact_id}` would claim /contacts/duplicates.
    for router in (
        *(module.router for module in (auth, users, roles, api_keys, jobs, imports, admin, search, duplicates)),
        *(module.router for module in records),
        users.teams_router,
        *(reports.router, dashboards.router, reports.warehouse_router),
        *(forecasts.router, forecasts.quotas_router),
        *(scoring.router, scoring.contacts_router),
        actions.router,
        albedo.router,
        albedo_proposals.router,
        churn.router,
        insights.router,
        record_insights.router,
        *(sentiment.router, sentiment.accounts_router),
        suggestions.router,
    ):
        _include_flat(app, router, prefix=API_PREFIX, dependencies=[Depends(limit_by_ip)])

    app.mount(f"{API_PREFIX}/docs-static", StaticFiles(directory=SWAGGER_STATIC), name="docs-static")

    @app.get(f"{API_PREFIX}/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=f"{API_PREFIX}/openapi.json",
            title="ClientForge API",
            swagger_js_url=f"{API_PREFIX}/docs-static/swagger-ui-bundle.js",
            swagger_css_url=f"{API_PREFIX}/docs-static/swagger-ui.css",
            swagger_favicon_url=f"{API_PREFIX}/docs-static/favicon-32x32.png",
        )

    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_credentials=True,
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        allow_headers=["Authorization", "Content-Type", "X-API-Key", "X-Request-ID", "Idempotency-Key"],
        expose_headers=[
            "X-Request-ID",
            "X-RateLimit-Limit",
            "X-RateLimit-Remaining",
            "X-RateLimit-Reset",
            "Retry-After",
            "Location",
            "Idempotent-Replayed",
        ],
    )
    app.add_middleware(IdempotencyMiddleware)  # inside PlatformMiddleware: request ids, body limit, metrics
    app.add_middleware(PlatformMiddleware)
    app.openapi = _openapi_with_common_responses(app)  # type: ignore[method-assign]
    return app


def _error(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}},
    }
    if headers:
        response["headers"] = headers
    return response


def _header(description: str, *, required: bool = False) -> dict[str, Any]:
    return {"description": description, "required": required, "schema": {"type": "integer"}}


RATE_LIMITED = _error(
    "Rate limited: per address, per tenant plan, or failed logins",
    {
        "Retry-After": _header("Seconds until a retry can succeed", required=True),
        "X-RateLimit-Limit": _header("Requests allowed in the window", required=True),
        "X-RateLimit-Remaining": _header("Requests left in the window (0)", required=True),
        "X-RateLimit-Reset": _header("When the window ends (Unix time)"),
    },
)

IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Makes a retried POST safe: the same key returns the first (successful) response and does "
    "nothing again; the same key on a different request is a 409.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x21-\\x7e]+$"},
}


def _declare_common_responses(schema: dict[str, Any]) -> dict[str, Any]:
    """What every route shares, declared once for all of them instead of per route: the error envelope on 400
    (FastAPI declares its own 422 shape, which this API never sends: the handler in api/errors.py answers 400),
    401 where authentication applies, 413 where a body is read (the platform middleware's limit), 429 with its
    headers under /api/v1 (every route counts against the per-address limit), and `Idempotency-Key` on every
    POST under /api/v1 (api/idempotency.py: 400 for a malformed key, 409 for a reused one)."""
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            responses = operation.setdefault("responses", {})
            validated = responses.pop("422", None) is not None
            if method == "post" and path.startswith(API_PREFIX):
                operation.setdefault("parameters", []).append(IDEMPOTENCY_KEY)
                responses.setdefault("409", _error("Conflict (also: an Idempotency-Key reused or still in use)"))
                validated = True
            if validated:
                responses.setdefault("400", _error("Invalid input: `error.details` names each field"))
            if operation.get("security"):
                responses.setdefault("401", _error("Not authenticated"))
            if "requestBody" in operation:
                responses.setdefault("413", _error("Body too large"))
            if path.startswith(API_PREFIX):
                responses["429"] = RATE_LIMITED
    schemas = schema.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return schema


def _openapi_with_common_responses(app: FastAPI) -> Callable[[], dict[str, Any]]:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _declare_common_responses(generate())
        return app.openapi_schema

    return openapi


app = create_app()
