"""Engines, sessions and the unit of work.

Two connections exist: the *owner* (migrations and provisioning only) and the *app* role that every request,
page, job and assistant call uses. The app role owns no table and is not a superuser, so PostgreSQL row-level
security applies to it. Every transaction a unit of work begins sets `app.tenant_id` (and the audit context)
with `set_config(..., true)`, i.e. `SET LOCAL`, from the actor; with no tenant set, tenant tables return nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from uuid import UUID

from sqlalchemy import Connection, Engine, Executable, Result, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from core.config import APP_DB_ROLE, get_settings

if TYPE_CHECKING:
    from core.actor import Actor

logger = logging.getLogger(__name__)


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


CONTEXT_COLUMNS = (
    "set_config('app.tenant_id', :cf_tenant_id, true), set_config('app.user_id', :cf_user_id, true),"
    " set_config('app.api_key_id', :cf_api_key_id, true), set_config('app.request_id', :cf_request_id, true),"
    " set_config('app.ip', :cf_ip, true), set_config('app.user_agent', :cf_user_agent, true),"
    " set_config('app.via', :cf_via, true)"
)


class DriverStatement:
    """A constant statement, compiled once for the connection's dialect and run on the DBAPI connection itself.

    For the few statements that run on nearly every request (the tenancy binding, a list page's custom field
    values): SQLAlchemy's work per execution (cache key, parameter processing, result metadata) costs more
    than the database does for them. Same SQL and parameters; rows come back as plain tuples.
    """

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._sql: dict[str, str] = {}

    def sql(self, connection: Connection) -> str:
        dialect = connection.dialect
        found = self._sql.get(dialect.name)
        if found is None:
            found = self._sql[dialect.name] = str(self.statement.compile(dialect=dialect))  # type: ignore[attr-defined]
        return found

    def run(self, connection: Connection, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Execute on the connection's current transaction (SQLAlchemy's, begun by the caller)."""
        return driver_execute(connection, self.sql(connection), params)[0]

    def rows(self, session: Session, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """On the session's connection, in its transaction (tenancy bound as for any statement); pending
        changes are flushed first, as the ORM's autoflush would before a query."""
        if session.autoflush:
            session.flush()
        return self.run(session.connection(), params)


def driver_execute(
    connection: Connection, sql: str, params: Mapping[str, Any], *, describe: bool = False
) -> tuple[list[tuple[Any, ...]], Sequence[Any] | None]:
    """(rows, with `describe` the cursor description) of a SELECT compiled for the connection's dialect, run on
    its DBAPI connection in SQLAlchemy's current transaction (begun by the caller). Statement watchers
    (`before_cursor_execute`) still see it, and a driver error is raised as SQLAlchemy raises it
    (`sqlalchemy.exc.DataError`, ...). (psycopg builds the description anew at each access: hence `describe`.)"""
    driver = connection.connection.driver_connection
    dbapi_error = connection.dialect.loaded_dbapi.Error
    try:
        with driver.cursor() as cursor:  # type: ignore[union-attr]
            for listen in connection.dispatch.before_cursor_execute:
                listen(connection, cursor, sql, params, None, False)
            cursor.execute(sql, params)
            return cursor.fetchall(), cursor.description if describe else None
    except dbapi_error as exc:
        raise DBAPIError.instance(sql, params, exc, dbapi_error, dialect=connection.dialect) from exc


_SET_CONTEXT = DriverStatement(text(f"SELECT {CONTEXT_COLUMNS}"))


def _str(value: UUID | str | None) -> str:
    return "" if value is None else str(value)


def context_params(tenant_id: UUID | None, user_id: UUID | None, api_key_id: UUID | None) -> dict[str, str]:
    """Bind parameters for CONTEXT_COLUMNS: the tenancy plus the request context read by audit triggers."""
    ctx = current_context()
    return {
        "cf_tenant_id": _str(tenant_id),
        "cf_user_id": _str(user_id),
        "cf_api_key_id": _str(api_key_id),
        "cf_request_id": ctx.request_id or "",
        "cf_ip": ctx.ip or "",
        "cf_user_agent": (ctx.user_agent or "")[:500],
        "cf_via": ctx.via or "",
    }


@event.listens_for(Session, "after_begin")
def _on_begin(session: Session, transaction: Any, connection: Any) -> None:
    scope = session.info.get("tenancy")
    if scope is not None and any(scope):  # a new transaction starts with no tenant: RLS already fails closed
        _SET_CONTEXT.run(connection, context_params(*scope))


def refresh_context(session: Session) -> None:
    """Re-apply the current `RequestContext` to the session's open transaction (`SET LOCAL` again), for work
    that changes hands mid-transaction: an Albedo action confirmed in an API request is audited via "albedo"
    with its own request id. Pending changes are flushed first, under the context they were made in."""
    scope = session.info.get("tenancy")
    if scope is not None and any(scope):
        _SET_CONTEXT.rows(session, context_params(*scope))


def bind_tenant(
    session: Session, tenant_id: UUID | None, user_id: UUID | None = None, api_key_id: UUID | None = None
) -> None:
    """Point this session (now and in every later transaction) at one tenant and actor."""
    session.info["tenancy"] = (tenant_id, user_id, api_key_id)
    if session.in_transaction():
        _SET_CONTEXT.run(session.connection(), context_params(tenant_id, user_id, api_key_id))


def execute_binding(
    session: Session,
    statement: str,
    params: dict[str, Any],
    tenant_id: UUID,
    user_id: UUID | None = None,
    api_key_id: UUID | None = None,
) -> Any:
    """Bind the session to a tenant *and* run `SELECT {CONTEXT_COLUMNS}, <statement>` in one round trip.

    `statement` is the rest of a SELECT after its context columns (e.g. `a.* FROM f(:x) a`); it must not
    depend on row-level security, which is only in force for the statements after it.
    """
    session.info["tenancy"] = (None, None, None)  # the statement itself sets the tenancy of this transaction
    try:
        result = session.execute(
            text(f"SELECT {CONTEXT_COLUMNS}, {statement}"), {**params, **context_params(tenant_id, user_id, api_key_id)}
        )
    finally:
        session.info["tenancy"] = (tenant_id, user_id, api_key_id)
    return result


def execute_core(session: Session, statement: Executable, params: Mapping[str, Any] | None = None) -> Result[Any]:
    """Run a Core statement (columns, not entities) on the session's connection, in its transaction (tenancy
    bound as for any statement): rows as the driver returns them, without the ORM's per-statement and per-row
    work. Pending changes are flushed first, as the ORM's autoflush would before a query."""
    if session.autoflush:
        session.flush()
    return session.connection().execute(statement, params)


def bind_actor(session: Session, actor: Actor) -> None:
    bind_tenant(session, actor.tenant_id, actor.user_id, actor.api_key_id)


def on_commit(session: Session, callback: Callable[[], object]) -> None:
    """Run `callback` once the session's outermost transaction has committed (never if it rolls back).

    For side effects outside PostgreSQL that must not run ahead of the data they describe (Redis state).
    Registered inside a savepoint (`begin_nested`), the callback is dropped if that savepoint rolls back and
    otherwise waits for the outermost commit. A failing callback is logged, never raised: the change it
    follows is committed already.
    """
    owner = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault("on_commit", []).append((owner, callback))


def _within(transaction: Any, ancestor: Any) -> bool:
    while transaction is not None:
        if transaction is ancestor:
            return True
        transaction = transaction.parent
    return False


@event.listens_for(Session, "after_commit")
def _run_on_commit(session: Session) -> None:
    if session.get_nested_transaction() is not None:
        return  # a savepoint was released: the outermost transaction may still roll back
    for _, callback in session.info.pop("on_commit", []):
        try:
            callback()
        except Exception:
            logger.exception("after-commit callback %r failed; the committed change stands", callback)


@event.listens_for(Session, "after_rollback")
def _drop_rolled_back(session: Session) -> None:
    """A real rollback: of a savepoint (drop what was registered inside it) or of the whole transaction."""
    savepoint = session.get_nested_transaction()
    pending = session.info.get("on_commit")
    if savepoint is None or not pending:
        session.info.pop("on_commit", None)
        return
    session.info["on_commit"] = [(owner, cb) for owner, cb in pending if not _within(owner, savepoint)]


@event.listens_for(Session, "after_transaction_end")
def _forget_on_close(session: Session, transaction: Any) -> None:
    if transaction.parent is None:  # the outermost transaction ended (closed without commit or rollback too)
        session.info.pop("on_commit", None)


def new_session(actor: Actor | None = None, *, tenant_id: UUID | None = None) -> Session:
    """A session as the app role; it connects on first use. Prefer `unit_of_work` unless the caller manages
    the transaction's end itself (the API's async request scope)."""
    session = _session_factory()()
    if actor is not None:
        bind_actor(session, actor)
    else:
        bind_tenant(session, tenant_id)
    return session


def transaction_has_written(session: Session) -> bool:
    """Whether the session's transaction has written anything yet (pending ORM changes are flushed first): only
    a transaction that has written can make another one wait for it."""
    session.flush()
    return session.execute(text("SELECT pg_current_xact_id_if_assigned() IS NOT NULL")).scalar_one()


@contextmanager
def unit_of_work(actor: Actor | None = None, *, tenant_id: UUID | None = None) -> Iterator[Session]:
    """One transaction as the app role: commits on success, rolls back on any exception.

    With an actor (or a bare tenant id for pre-authentication steps such as login), row-level security sees
    that tenant; with neither, tenant tables are invisible.
    """
    session = new_session(actor, tenant_id=tenant_id)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
