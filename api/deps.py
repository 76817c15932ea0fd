"""Dependency aliases: one unit of work per request, the authenticated actor, permission declarations."""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

from fastapi import Depends, Header, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from api import ratelimit
from core.actor import Actor
from core.auth import service as auth
from core.db import bind_actor, new_session
from core.errors import AuthenticationFailed

_bearer = HTTPBearer(auto_error=False, description="Access token from /auth/login, or an API key (cf_...)")


async def get_session() -> AsyncIterator[Session]:
    """The request's unit of work: committed after the route returns, before the response is sent.

    Opening it costs nothing (the session connects on first use), so it runs on the event loop; only the
    end of a transaction that actually began goes to a worker thread.
    """
    session = new_session()
    try:
        yield session
    except BaseException:
        if session.in_transaction():
            await run_in_threadpool(session.rollback)
        raise
    else:
        if session.in_transaction():
            await run_in_threadpool(session.commit)
    finally:
        session.close()


SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def committing(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """A sync route that takes the request's session, made to commit it in its own worker thread.

    Without this, `get_session` commits in a second trip to the thread pool after the route returns, and the
    request holds its database connection while it waits for a free thread: one hop more per request, and
    under load threads blocked on an empty connection pool while requests holding connections wait for them.
    The route's result is unchanged (the commit ran before the response was written either way); a failed
    commit raises from the route, so `get_session` rolls back as for any error.
    """
    if inspect.iscoroutinefunction(endpoint):
        return endpoint
    names = [n for n, p in inspect.signature(endpoint).parameters.items() if p.annotation in ("SessionDep", SessionDep)]
    if not names:
        return endpoint
    name = names[0]

    @functools.wraps(endpoint)
    def run(*args: Any, **kwargs: Any) -> Any:
        result = endpoint(*args, **kwargs)
        session: Session = kwargs[name]
        if session.in_transaction():
            session.commit()
        return result

    return run


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def limit_by_ip(request: Request, response: Response) -> None:
    window = await ratelimit.hit_ip(client_ip(request))
    if window is not None:
        response.headers.update(window.headers())


async def get_actor(
    response: Response,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    x_api_key: Annotated[str | None, Header(description="API key, as an alternative to the bearer header")] = None,
) -> Actor:
    """The authenticated actor (the session bound to its tenant), counted against the tenant's per-minute
    budget for its plan. (One dependency for both: a route names the actor twice, by `requires` and by its
    signature, and FastAPI walks a dependency's whole tree for each.)"""
    credential = credentials.credentials if credentials else x_api_key
    if not credential:
        raise AuthenticationFailed("Authentication required: send 'Authorization: Bearer <access token or API key>'")
    if credential.startswith(auth.API_KEY_PREFIX + "_"):
        actor = await run_in_threadpool(auth.authenticate_api_key, session, credential)
    else:
        actor = await auth.authenticate_access_token_async(credential)
        bind_actor(session, actor)
    window = await ratelimit.hit_tenant(str(actor.tenant_id), actor.plan)
    if window is not None:
        response.headers.update(window.headers())
    return actor


CurrentActor = Annotated[Actor, Depends(get_actor)]


def requires(resource: str, action: str):  # noqa: ANN201
    """Route dependency declaring a permission (the service checks it again: one rule, two gates)."""

    async def check(actor: CurrentActor) -> None:
        actor.require(resource, action)

    check.__name__ = f"requires_{resource}_{action}"
    return Depends(check)


class PageParams:
    def __init__(self, page: int = Query(1, ge=1, le=100000), limit: int = Query(20, ge=1, le=100)) -> None:
        self.page = page
        self.limit = limit

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.limit


Paging = Annotated[PageParams, Depends()]
