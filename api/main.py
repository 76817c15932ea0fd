"""The FastAPI application: /health, /ready, /metrics and the versioned API under /api/v1."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import swagger_ui
from fastapi import APIRouter, Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from api import errors
from api.deps import limit_by_ip
from api.idempotency import IdempotencyMiddleware
from api.middleware import PlatformMiddleware
from api.routers import (
    accounts,
    activities,
    admin,
    api_keys,
    auth,
    contacts,
    custom_fields,
    deals,
    duplicates,
    health,
    jobs,
    notes,
    pipelines,
    roles,
    search,
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

    v1 = APIRouter(prefix=API_PREFIX, dependencies=[Depends(limit_by_ip)])
    records = (accounts, contacts, pipelines, deals, activities, tasks, notes, custom_fields, webhooks)
    # search and duplicates before contacts/accounts: `/contacts/{contact_id}` would claim /contacts/duplicates
    for module in (auth, users, roles, api_keys, jobs, admin, search, duplicates, *records):
        v1.include_router(module.router)
    v1.include_router(users.teams_router)
    app.include_router(health.router)
    app.include_router(v1)

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
    return app


app = create_app()
