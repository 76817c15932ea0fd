"""Access tokens: HS256 JWTs, 15 minutes, issuer and audience checked, algorithm whitelisted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import jwt

from core.config import get_settings
from core.errors import AuthenticationFailed

ALGORITHM = "HS256"


def issue_access_token(*, user_id: UUID, tenant_id: UUID, session_id: str, role: str) -> tuple[str, int]:
    settings = get_settings()
    now = datetime.now(UTC)
    ttl = settings.access_token_minutes * 60
    claims = {
        "sub": str(user_id),
        "tid": str(tenant_id),
        "sid": session_id,
        "role": role,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "nbf": now,
        "exp": now + timedelta(seconds=ttl),
        "typ": "access",
    }
    return jwt.encode(claims, settings.secret("jwt_secret"), algorithm=ALGORITHM), ttl


def decode_access_token(token: str) -> dict[str, Any]:
    settings = get_settings()
    try:
        claims = jwt.decode(
            token,
            settings.secret("jwt_secret"),
            algorithms=[ALGORITHM],
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            options={"require": ["exp", "iat", "sub", "tid", "sid", "iss", "aud"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise AuthenticationFailed("Access token expired; refresh it", code="TOKEN_EXPIRED") from exc
    except jwt.PyJWTError as exc:
        raise AuthenticationFailed("Invalid access token", code="INVALID_TOKEN") from exc
    if claims.get("typ") != "access":
        raise AuthenticationFailed("Invalid access token", code="INVALID_TOKEN")
    return claims
