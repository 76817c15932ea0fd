"""Access tokens: HS256 JWTs, 15 minutes, issuer and audience checked, algorithm whitelisted."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from uuid import UUID

import jwt

from core.actor import Actor
from core.config import get_settings
from core.errors import AuthenticationFailed

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ["exp", "iat", "sub", "tid", "sid", "av", "rid", "role", "scope", "perms", "plan", "iss", "aud"]


def issue_access_token(actor: Actor, *, session_id: str, authz_version: str) -> tuple[str, int]:
    """A signed token that carries the actor, so authenticating a request needs no database round trip."""
    settings = get_settings()
    now = datetime.now(UTC)
    ttl = settings.access_token_minutes * 60
    claims = {
        "sub": str(actor.user_id),
        "tid": str(actor.tenant_id),
        "sid": session_id,
        "av": authz_version,
        "role": actor.role,
        "rid": str(actor.role_id),
        "scope": actor.scope,
        "team": str(actor.team_id) if actor.team_id else None,
        "plan": actor.plan,
        "email": actor.email,
        "perms": sorted(actor.permissions),
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "nbf": now,
        "exp": now + timedelta(seconds=ttl),
        "typ": "access",
    }
    return jwt.encode(claims, settings.secret("jwt_secret"), algorithm=ALGORITHM), ttl


def actor_from_claims(claims: dict[str, Any]) -> Actor:
    return Actor(
        tenant_id=UUID(claims["tid"]),
        user_id=UUID(claims["sub"]),
        team_id=UUID(claims["team"]) if claims.get("team") else None,
        role_id=UUID(claims["rid"]),
        role=claims["role"],
        scope=claims["scope"],
        permissions=frozenset(claims["perms"]),
        plan=claims["plan"],
        email=claims.get("email"),
        session_id=claims["sid"],
    )


def decode_access_token(token: str) -> dict[str, Any]:
    """Verified claims. A token is verified once per process and remembered (a client sends the same token for
    up to 15 minutes); expiry is checked on every call, and a changed byte makes a different, unverified key."""
    settings = get_settings()
    claims = _verified_claims(token, settings.secret("jwt_secret"), settings.jwt_issuer, settings.jwt_audience)
    if claims["exp"] <= time.time():
        raise AuthenticationFailed("Access token expired; refresh it", code="TOKEN_EXPIRED")
    return dict(claims)


@lru_cache(maxsize=8192)
def _verified_claims(token: str, secret: str, issuer: str, audience: str) -> dict[str, Any]:
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            issuer=issuer,
            audience=audience,
            options={"require": REQUIRED_CLAIMS},
        )
    except jwt.ExpiredSignatureError as exc:
        raise AuthenticationFailed("Access token expired; refresh it", code="TOKEN_EXPIRED") from exc
    except jwt.PyJWTError as exc:
        raise AuthenticationFailed("Invalid access token", code="INVALID_TOKEN") from exc
    if claims.get("typ") != "access":
        raise AuthenticationFailed("Invalid access token", code="INVALID_TOKEN")
    return claims
