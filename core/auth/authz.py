"""Freshness of the permissions carried in access tokens.

An access token carries the actor (role, scope, team, plan, permissions) so that authenticating a request
needs no database round trip. Each user and each role has an *authorization version* in Redis, written into
every token. A change to what a role grants replaces the role's version, a change to a user's role, team or
active flag replaces the user's; both after the change commits. Tokens carrying an old version are refused as
stale until refreshed (the refresh reads the database), so a permission change takes effect at once and only
for the people it concerns. A lost Redis key only forces refreshes: versions are random, never reused.

Order matters when minting: read the version first, the permissions second. A change committing in between
then yields a token that is already stale (one more refresh), never old permissions under the new version.
"""

from __future__ import annotations

import secrets
from uuid import UUID

from sqlalchemy.orm import Session

from core.auth.sessions import session_key
from core.db import on_commit
from core.redis import get_async_redis, get_redis


def _user_key(user_id: UUID | str) -> str:
    return f"cf:authz:user:{user_id}"


def _role_key(role_id: UUID | str) -> str:
    return f"cf:authz:role:{role_id}"


def current_version(user_id: UUID, role_id: UUID) -> str:
    """The version to write into a new token (creating the keys when missing); read it before the permissions
    it vouches for."""
    r = get_redis()
    pipe = r.pipeline(transaction=False)
    for key in (_user_key(user_id), _role_key(role_id)):
        pipe.set(key, secrets.token_hex(6), nx=True)
    pipe.get(_user_key(user_id))
    pipe.get(_role_key(role_id))
    *_, user_version, role_version = pipe.execute()
    return f"{user_version}:{role_version}"


def _compose(user_version: str | None, role_version: str | None) -> str | None:
    return f"{user_version}:{role_version}" if user_version and role_version else None


def peek(user_id: UUID | str, role_id: UUID | str) -> str | None:
    user_version, role_version = get_redis().mget([_user_key(user_id), _role_key(role_id)])  # type: ignore[misc]
    return _compose(user_version, role_version)


def user_changed(session: Session, user_id: UUID) -> None:
    """Call when a user's role, team or active flag changes."""
    on_commit(session, lambda: get_redis().set(_user_key(user_id), secrets.token_hex(6)))


def role_changed(session: Session, role_id: UUID) -> None:
    """Call when a role's permissions or record scope change."""
    on_commit(session, lambda: get_redis().set(_role_key(role_id), secrets.token_hex(6)))


def reset_all() -> None:
    """Every token becomes stale (after the permission catalogue or system roles changed)."""
    r = get_redis()
    for key in r.scan_iter("cf:authz:*"):
        r.delete(key)


async def token_state(session_id: str, user_id: str, role_id: str) -> tuple[bool, str | None]:
    """(session still active, current authorization version) in one round trip."""
    pipe = get_async_redis().pipeline(transaction=False)
    pipe.exists(session_key(session_id))
    pipe.mget([_user_key(user_id), _role_key(role_id)])
    active, (user_version, role_version) = await pipe.execute()
    return bool(active), _compose(user_version, role_version)
