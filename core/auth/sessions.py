"""Login sessions in Redis: refresh tokens stored hashed, rotated on every use, reuse detected.

A session is a *family* of refresh tokens. Each refresh retires the presented token and issues the next;
presenting a retired token again means it leaked, so the whole family is revoked. Access tokens carry the
session id and are refused as soon as their session is gone (logout, revocation, password change).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from typing import cast
from uuid import UUID

from core.config import get_settings
from core.errors import AuthenticationFailed
from core.redis import get_redis


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def session_key(session_id: str) -> str:
    return f"cf:session:{session_id}"


def _user_sessions_key(user_id: UUID | str) -> str:
    return f"cf:user_sessions:{user_id}"


def _refresh_key(token_hash: str) -> str:
    return f"cf:refresh:{token_hash}"


@dataclass
class SessionInfo:
    id: str
    user_id: str
    tenant_id: str
    created_at: float
    last_used_at: float
    ip: str | None
    user_agent: str | None


def _ttl() -> int:
    return get_settings().refresh_token_days * 86400


def create(*, user_id: UUID, tenant_id: UUID, ip: str | None, user_agent: str | None) -> tuple[str, str]:
    """Start a session; returns (session id, first refresh token)."""
    session_id = secrets.token_urlsafe(16)
    now = time.time()
    info = {
        "user_id": str(user_id),
        "tenant_id": str(tenant_id),
        "created_at": now,
        "last_used_at": now,
        "ip": ip or "",
        "user_agent": (user_agent or "")[:300],
    }
    token = secrets.token_urlsafe(48)
    r = get_redis()
    pipe = r.pipeline()
    pipe.hset(session_key(session_id), mapping={k: str(v) for k, v in info.items()})
    pipe.expire(session_key(session_id), _ttl())
    pipe.sadd(_user_sessions_key(user_id), session_id)
    pipe.expire(_user_sessions_key(user_id), _ttl())
    pipe.set(_refresh_key(_hash(token)), json.dumps({"sid": session_id, "used": False}), ex=_ttl())
    pipe.execute()
    return session_id, token


def is_active(session_id: str) -> bool:
    return bool(get_redis().exists(session_key(session_id)))


_ROTATE = """
local current = redis.call('GET', KEYS[1])
if not current then return {'missing'} end
local data = cjson.decode(current)
if data['used'] then return {'reused', data['sid']} end
if redis.call('EXISTS', KEYS[2] .. data['sid']) == 0 then return {'revoked', data['sid']} end
data['used'] = true
redis.call('SET', KEYS[1], cjson.encode(data), 'KEEPTTL')
redis.call('SET', KEYS[3], cjson.encode({sid = data['sid'], used = false}), 'EX', ARGV[1])
redis.call('HSET', KEYS[2] .. data['sid'], 'last_used_at', ARGV[2])
redis.call('EXPIRE', KEYS[2] .. data['sid'], ARGV[1])
return {'ok', data['sid']}
"""


def rotate(refresh_token: str) -> tuple[SessionInfo, str]:
    """Exchange a refresh token for the next one (atomically). Reuse of a retired token revokes the family."""
    new_token = secrets.token_urlsafe(48)
    r = get_redis()
    status, *rest = cast(
        list[str],
        r.eval(
            _ROTATE,
            3,
            _refresh_key(_hash(refresh_token)),
            "cf:session:",
            _refresh_key(_hash(new_token)),
            _ttl(),
            time.time(),
        ),
    )
    if status == "reused":
        info = get(rest[0])
        revoke(rest[0])
        raise AuthenticationFailed(
            "Refresh token already used; the session was revoked for safety. Log in again.",
            code="REFRESH_TOKEN_REUSED",
            details={"userId": info.user_id if info else None, "tenantId": info.tenant_id if info else None},
        )
    if status != "ok":
        raise AuthenticationFailed("Invalid or expired refresh token; log in again", code="INVALID_REFRESH_TOKEN")
    info = get(rest[0])
    if info is None:
        raise AuthenticationFailed("Invalid or expired refresh token; log in again", code="INVALID_REFRESH_TOKEN")
    return info, new_token


def get(session_id: str) -> SessionInfo | None:
    data = cast(dict[str, str], get_redis().hgetall(session_key(session_id)))
    if not data:
        return None
    return SessionInfo(
        id=session_id,
        user_id=data["user_id"],
        tenant_id=data["tenant_id"],
        created_at=float(data["created_at"]),
        last_used_at=float(data["last_used_at"]),
        ip=data.get("ip") or None,
        user_agent=data.get("user_agent") or None,
    )


def list_for_user(user_id: UUID) -> list[SessionInfo]:
    r = get_redis()
    found = []
    for session_id in sorted(cast(set[str], r.smembers(_user_sessions_key(user_id)))):
        info = get(session_id)
        if info is None:
            r.srem(_user_sessions_key(user_id), session_id)
        else:
            found.append(info)
    return sorted(found, key=lambda s: s.created_at)


def revoke(session_id: str) -> bool:
    """End one session; its refresh tokens die with it (rotation checks the session) and so do access tokens."""
    r = get_redis()
    info = get(session_id)
    removed = r.delete(session_key(session_id))
    if info is not None:
        r.srem(_user_sessions_key(info.user_id), session_id)
    return bool(removed)


def revoke_all(user_id: UUID, *, keep: str | None = None) -> int:
    count = 0
    for info in list_for_user(user_id):
        if info.id != keep and revoke(info.id):
            count += 1
    return count


# Browser handles: "stay signed in" for the workspace UI --------------------------------------------------


def _browser_key(handle_hash: str) -> str:
    return f"cf:browser:{handle_hash}"


def remember(session_id: str) -> str:
    """A new secret handle that resumes `session_id` from a browser cookie (new tab, reload); stored hashed,
    living as long as the session. Unlike a refresh token it is not rotated, so tabs opened together can all
    resume; it is worth nothing once the session ends (logout, revocation, password change)."""
    handle = secrets.token_urlsafe(32)
    get_redis().set(_browser_key(_hash(handle)), session_id, ex=_ttl())
    return handle


def resolve(handle: str) -> SessionInfo | None:
    """The live session `handle` resumes, kept alive by the use (sliding expiry, like a refresh), or None."""
    r = get_redis()
    key = _browser_key(_hash(handle))
    session_id = cast(str | None, r.get(key))
    info = get(session_id) if session_id else None
    if info is None:
        r.delete(key)
        return None
    pipe = r.pipeline()
    pipe.expire(key, _ttl())
    pipe.hset(session_key(info.id), "last_used_at", str(time.time()))
    pipe.expire(session_key(info.id), _ttl())
    pipe.execute()
    return info


def forget(handle: str) -> None:
    get_redis().delete(_browser_key(_hash(handle)))
