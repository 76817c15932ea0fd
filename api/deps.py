"""Dependency aliases: one unit of work per request, the authenticated actor, permission declarations."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Header, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from api import ratelimit
from core.actor import Actor
from core.auth import service as auth
from core.db import unit_of_work
from core.errors import AuthenticationFailed

_bearer = HTTPBearer(auto_error=False, description="Access token from /auth/login, or an API key (cf_...)")


def get_session() -> Iterator[Session]:
    """The request's unit of work: committed after the route returns, before the response is sent."""
    with unit_of_work() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def limit_by_ip(request: Request, response: Response) -> None:
    window = ratelimit.hit_ip(client_ip(request))
    if window is not None:
        response.headers.update(window.headers())


def get_actor(
    response: Response,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    x_api_key: Annotated[str | None, Header(description="API key, as an alternative to the bearer header")] = None,
) -> Actor:
    credential = credentials.credentials if credentials else x_api_key
    if not credential:
        raise AuthenticationFailed("Authentication required: send 'Authorization: Bearer <access token or API key>'")
    actor = auth.authenticate(session, credential)
    window = ratelimit.hit_tenant(str(actor.tenant_id), actor.plan)
    if window is not None:
        response.headers.update(window.headers())
    return actor


CurrentActor = Annotated[Actor, Depends(get_actor)]


def requires(resource: str, action: str):  # noqa: ANN201
    """Route dependency declaring a permission (the service checks it again: one rule, two gates)."""

    def check(actor: CurrentActor) -> None:
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
