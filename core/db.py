"""Engines, sessions and the unit of work.

Two connections exist: the *owner* (migrations and provisioning only) and the *app* role that every request,
page, job and assistant call uses. The app role owns no table and is not a superuser, so PostgreSQL row-level
security applies to it. Every transaction a unit of work begins sets `app.tenant_id` (and the audit context)
with `set_config(..., true)`, i.e. `SET LOCAL`, from the actor; with no tenant set, tenant tables return nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from uuid import UUID

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from core.config import APP_DB_ROLE, get_settings

if TYPE_CHECKING:
    from core.actor import Actor


class Base(DeclarativeBase):
    pass


@dataclass(frozen=True)
class RequestContext:
    """Who is asking and from where; flows into `SET LOCAL` settings read by audit triggers."""

    request_id: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    via: str | None = None  # "api", "ui", "worker", "albedo", "cli"


_EMPTY_CONTEXT = RequestContext()
_context: ContextVar[RequestContext | None] = ContextVar("clientforge_request_context", default=None)


def current_context() -> RequestContext:
    return _context.get() or _EMPTY_CONTEXT


def set_context(ctx: RequestContext) -> Any:
    return _context.set(ctx)


def reset_context(token: Any) -> None:
    _context.reset(token)


def with_context(**changes: Any) -> RequestContext:
    return replace(current_context(), **changes)


def to_psycopg_url(url: str) -> URL:
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def owner_url() -> URL:
    settings = get_settings()
    if settings.database_url is None:
        raise RuntimeError("DATABASE_URL is not set and no embedded PostgreSQL was started")
    return to_psycopg_url(settings.database_url)


def app_url() -> URL:
    """Runtime URL: APP_DATABASE_URL, else the owner URL with the app role and its generated password."""
    settings = get_settings()
    if settings.app_database_url:
        return to_psycopg_url(settings.app_database_url)
    return owner_url().set(username=APP_DB_ROLE, password=settings.secret("app_db_password"))


def libpq_dsn(url: URL) -> str:
    """A libpq connection string for drivers used without SQLAlchemy (procrastinate, COPY tools)."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


@lru_cache
def app_engine() -> Engine:
    settings = get_settings()
    return create_engine(
        app_url(),
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size * 2,
        # No pre-ping: it costs a round trip per checkout. Dead connections are recycled on error instead.
        pool_recycle=1800,
    )


@lru_cache
def owner_engine() -> Engine:
    return create_engine(owner_url(), pool_size=2, pool_pre_ping=True)


@lru_cache
def _session_factory() -> sessionmaker[Session]:
    return sessionmaker(bind=app_engine(), expire_on_commit=False, autoflush=True)


def dispose_engines() -> None:
    for factory in (app_engine, owner_engine):
        if factory.cache_info().currsize:
            factory().dispose()
        factory.cache_clear()
    _session_factory.cache_clear()


_SET_CONTEXT = text(
    "SELECT set_config('app.tenant_id', :tenant_id, true), set_config('app.user_id', :user_id, true),"
    " set_config('app.api_key_id', :api_key_id, true), set_config('app.request_id', :request_id, true),"
    " set_config('app.ip', :ip, true), set_config('app.user_agent', :user_agent, true),"
    " set_config('app.via', :via, true)"
)


def _str(value: UUID | str | None) -> str:
    return "" if value is None else str(value)


@event.listens_for(Session, "after_begin")
def _on_begin(session: Session, transaction: Any, connection: Any) -> None:
    scope = session.info.get("tenancy")
    if scope is not None and any(scope):  # a new transaction starts with no tenant: RLS already fails closed
        _apply_tenant_context(session, connection)


def _apply_tenant_context(session: Session, connection: Any) -> None:
    tenant_id, user_id, api_key_id = session.info["tenancy"]
    ctx = current_context()
    connection.execute(
        _SET_CONTEXT,
        {
            "tenant_id": _str(tenant_id),
            "user_id": _str(user_id),
            "api_key_id": _str(api_key_id),
            "request_id": ctx.request_id or "",
            "ip": ctx.ip or "",
            "user_agent": (ctx.user_agent or "")[:500],
            "via": ctx.via or "",
        },
    )


def bind_tenant(
    session: Session, tenant_id: UUID | None, user_id: UUID | None = None, api_key_id: UUID | None = None
) -> None:
    """Point this session (now and in every later transaction) at one tenant and actor."""
    session.info["tenancy"] = (tenant_id, user_id, api_key_id)
    if session.in_transaction():
        _apply_tenant_context(session, session.connection())


def bind_actor(session: Session, actor: Actor) -> None:
    bind_tenant(session, actor.tenant_id, actor.user_id, actor.api_key_id)


@contextmanager
def unit_of_work(actor: Actor | None = None, *, tenant_id: UUID | None = None) -> Iterator[Session]:
    """One transaction as the app role: commits on success, rolls back on any exception.

    With an actor (or a bare tenant id for pre-authentication steps such as login), row-level security sees
    that tenant; with neither, tenant tables are invisible.
    """
    session = _session_factory()()
    try:
        if actor is not None:
            bind_actor(session, actor)
        else:
            bind_tenant(session, tenant_id)
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
