from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Body, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import Field

from api import ratelimit
from api.deps import CurrentActor, SessionDep, client_ip
from api.envelope import Envelope, error_responses, ok
from core.actor import Actor
from core.auth import service as auth
from core.db import unit_of_work
from core.errors import AccountLocked, AuthenticationFailed
from core.schemas import ReadSchema, Schema
from core.users import service as users
from core.users.models import User
from core.users.schemas import UserRead

router = APIRouter(prefix="/auth", tags=["auth"])


class LoginRequest(Schema):
    email: str = Field(min_length=3, max_length=255, examples=["admin@example.com"])
    password: str = Field(min_length=1, max_length=256)
    tenant: str = Field(min_length=1, max_length=63, description="Workspace slug", examples=["default"])


class RefreshRequest(Schema):
    refresh_token: str = Field(min_length=10, max_length=200)


class PasswordChange(Schema):
    current_password: str = Field(min_length=1, max_length=256)
    new_password: str = Field(min_length=1, max_length=256)


class Tokens(ReadSchema):
    access_token: str
    refresh_token: str
    token_type: str = "Bearer"
    expires_in: int
    session_id: str


class LoginResult(Tokens):
    user: UserRead


class SessionRead(ReadSchema):
    id: str
    created_at: datetime
    last_used_at: datetime
    ip: str | None
    user_agent: str | None
    current: bool


def _tokens(pair: auth.TokenPair) -> dict:
    return {
        "accessToken": pair.access_token,
        "refreshToken": pair.refresh_token,
        "tokenType": "Bearer",
        "expiresIn": pair.expires_in,
        "sessionId": pair.session_id,
    }


def _login(body: LoginRequest) -> dict:
    pair = auth.login_committing_failures(email=body.email, password=body.password, tenant_slug=body.tenant)
    with unit_of_work(tenant_id=pair.tenant_id) as session:
        # Everyone may read themselves, whether or not their role grants users:read.
        user = users.get(session, Actor.system(pair.tenant_id), pair.user_id)
        return {**_tokens(pair), "user": users.to_read(session, user).model_dump(mode="json", by_alias=True)}


@router.post("/login", response_model=Envelope[LoginResult], responses=error_responses(400, 401, 403, 429))
async def login(request: Request, body: LoginRequest) -> dict:
    """Log in with email, password and workspace; 5 failures lock the account for 15 minutes."""
    ip = client_ip(request)
    await ratelimit.check_login(ip)
    try:
        data = await run_in_threadpool(_login, body)
    except (AuthenticationFailed, AccountLocked):
        await ratelimit.record_failed_login(ip)
        raise
    return ok(data)


@router.post("/refresh", response_model=Envelope[Tokens], responses=error_responses(400, 401))
def refresh(body: RefreshRequest, session: SessionDep) -> dict:
    """Exchange a refresh token for a new pair. Each refresh token works once; reuse ends the session."""
    return ok(_tokens(auth.refresh(session, body.refresh_token)))


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(401, 403))
def logout(actor: CurrentActor, session: SessionDep) -> Response:
    """End this login session. Not for API keys (403)."""
    auth.logout(session, actor)
    return Response(status_code=204)


@router.post("/logout-all", response_model=Envelope[dict], responses=error_responses(401, 403))
def logout_all(actor: CurrentActor, session: SessionDep) -> dict:
    """End every session of the current user, this one included. Not for API keys (403)."""
    return ok({"sessionsEnded": auth.logout_everywhere(session, actor)})


@router.get("/me", response_model=Envelope[dict], responses=error_responses(401))
def me(actor: CurrentActor, session: SessionDep) -> dict:
    """The current user (or the API key's user), role, record scope, permissions and workspace."""
    data: dict = {
        "tenantId": str(actor.tenant_id),
        "role": actor.role,
        "scope": actor.scope,
        "permissions": sorted(actor.permissions),
        "apiKeyId": actor.api_key_id and str(actor.api_key_id),
    }
    if actor.user_id is not None:
        user = session.get(User, actor.user_id)
        if user is not None:
            data["user"] = users.to_read(session, user, actor.role).model_dump(mode="json", by_alias=True)
    return ok(data)


@router.get("/sessions", response_model=Envelope[list[SessionRead]], responses=error_responses(401, 403))
def list_sessions(actor: CurrentActor) -> dict:
    """Your login sessions (devices). Not for API keys (403)."""
    return ok(
        [
            {
                "id": s.id,
                "createdAt": datetime.fromtimestamp(s.created_at, UTC).isoformat(),
                "lastUsedAt": datetime.fromtimestamp(s.last_used_at, UTC).isoformat(),
                "ip": s.ip,
                "userAgent": s.user_agent,
                "current": s.id == actor.session_id,
            }
            for s in auth.list_sessions(actor)
        ]
    )


@router.delete("/sessions/{session_id}", status_code=204, responses=error_responses(401, 403, 404))
def revoke_session(session_id: str, actor: CurrentActor, session: SessionDep) -> Response:
    """End one of your sessions. Not for API keys (403)."""
    auth.revoke_session(session, actor, session_id)
    return Response(status_code=204)


@router.post("/password", response_model=Envelope[dict], responses=error_responses(400, 401, 403))
def change_password(body: Annotated[PasswordChange, Body()], actor: CurrentActor, session: SessionDep) -> dict:
    """Change your password; every other session ends (this one stays). Not for API keys (403)."""
    ended = auth.change_password(session, actor, current_password=body.current_password, new_password=body.new_password)
    return ok({"sessionsEnded": ended})
