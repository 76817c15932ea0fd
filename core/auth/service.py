"""Authentication: login with lockout, token refresh, logout, sessions, password change, API keys, and the
one function that turns a credential into an Actor for every entry point."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from core.actor import Actor
from core.audit.service import record_auth_event
from core.auth import authz, passwords, sessions, tokens
from core.auth.models import ApiKey
from core.config import get_settings
from core.db import bind_actor, bind_tenant, current_context, execute_binding, unit_of_work
from core.errors import AccountLocked, AuthenticationFailed, NotFound, PermissionDenied, ValidationFailed
from core.ids import new_id
from core.rbac.catalog import ALL_PERMISSIONS
from core.rbac.models import Permission
from core.redis import get_redis
from core.schemas import Schema
from core.tenants import service as tenants
from core.tenants.models import Tenant
from core.users.models import User

INVALID_CREDENTIALS = "Invalid email, password or workspace"
API_KEY_PREFIX = "cf"


@dataclass
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    session_id: str
    user_id: UUID
    tenant_id: UUID


# Actors --------------------------------------------------------------------------------------------------


def load_actor(
    session: Session,
    *,
    tenant_id: UUID,
    user_id: UUID,
    session_id: str | None = None,
    api_key: ApiKey | None = None,
) -> Actor:
    """The user's actor (role, scope, permissions, plan), loaded in the same round trip that binds the
    transaction to the tenant; an API key narrows the permissions to the key's."""
    key_id = api_key.id if api_key else None
    row = execute_binding(
        session,
        "a.* FROM cf_actor(:tenant_id, :user_id) a",
        {"tenant_id": tenant_id, "user_id": user_id},
        tenant_id,
        user_id,
        key_id,
    ).first()
    if row is None or not row.active:
        raise AuthenticationFailed("This account is no longer active", code="ACCOUNT_INACTIVE")
    permissions = frozenset(row.perms)
    if api_key is not None:
        permissions = permissions & frozenset(api_key.permissions)
    return Actor(
        tenant_id=tenant_id,
        user_id=user_id,
        api_key_id=key_id,
        team_id=row.team_id,
        role_id=row.role_id,
        role=row.role,
        scope=row.record_scope,
        permissions=permissions,
        plan=row.plan,
        email=row.email,
        session_id=session_id,
    )


def _verified_actor(claims: dict, active: bool, version: str | None) -> Actor:
    if not active:
        raise AuthenticationFailed("Session ended; log in again", code="SESSION_REVOKED")
    if version != claims["av"]:
        raise AuthenticationFailed(
            "Your permissions changed since this token was issued; refresh it", code="TOKEN_STALE"
        )
    return tokens.actor_from_claims(claims)


def authenticate_access_token(session: Session, token: str) -> Actor:
    """Token -> Actor with no database round trip: signature, expiry, live session and current permissions
    version are checked; the session is bound to the actor's tenant."""
    claims = tokens.decode_access_token(token)
    active = sessions.is_active(claims["sid"])
    actor = _verified_actor(claims, active, authz.peek(claims["sub"], claims["rid"]))
    bind_actor(session, actor)
    return actor


async def authenticate_access_token_async(token: str) -> Actor:
    """The same checks as `authenticate_access_token`, on the event loop (one Redis round trip, no thread)."""
    claims = tokens.decode_access_token(token)
    active, version = await authz.token_state(claims["sid"], claims["sub"], claims["rid"])
    return _verified_actor(claims, active, version)


def issue_tokens(actor: Actor, *, session_id: str, authz_version: str) -> tuple[str, int]:
    """An access token for `actor`, carrying `authz_version`: the version read *before* the actor's
    permissions were (see `_actor_and_version`)."""
    if actor.user_id is None or actor.role_id is None:
        raise AuthenticationFailed("Only users get access tokens")
    return tokens.issue_access_token(actor, session_id=session_id, authz_version=authz_version)


def _actor_and_version(
    session: Session, *, tenant_id: UUID, user_id: UUID, session_id: str, role_id: UUID | None = None
) -> tuple[Actor, str]:
    """The actor to put in a new token and the authorization version to sign with it.

    The version is read before the permissions: a grant change that commits in between then leaves the new
    token stale (refreshed once more), never old permissions signed with the new version, which would stay
    valid for the token's whole life. `role_id` is the user's role as last seen (none: one more lookup).
    """
    if role_id is None:
        role_id = load_actor(session, tenant_id=tenant_id, user_id=user_id).role_id
    for _ in range(2):
        assert role_id is not None
        version = authz.current_version(user_id, role_id)
        actor = load_actor(session, tenant_id=tenant_id, user_id=user_id, session_id=session_id)
        if actor.role_id == role_id:
            break
        role_id = actor.role_id  # reassigned meanwhile: read that role's version, then the actor again
    return actor, version


def authenticate(session: Session, credential: str) -> Actor:
    """Bearer credential (access token or API key) -> Actor. Used by the API; the UI keeps its own session."""
    if credential.startswith(API_KEY_PREFIX + "_"):
        return authenticate_api_key(session, credential)
    return authenticate_access_token(session, credential)


# Login ---------------------------------------------------------------------------------------------------


def login(session: Session, *, email: str, password: str, tenant_slug: str) -> TokenPair:
    """Email + password in a workspace. Unknown workspace, unknown user and wrong password answer the same
    error after the same Argon2 work; 5 failures lock the account for 15 minutes (kept in PostgreSQL)."""
    settings = get_settings()
    email = email.strip().lower()
    found = tenants.lookup_slug(session, tenant_slug.strip())
    if found is None or not found[1]:
        passwords.verify_password(None, password)
        raise AuthenticationFailed(INVALID_CREDENTIALS, code="INVALID_CREDENTIALS")
    tenant_id = found[0]
    bind_tenant(session, tenant_id)
    user = session.scalar(
        select(User)
        .where(User.tenant_id == tenant_id, User.email == email, User.deleted_at.is_(None))
        .with_for_update()
    )

    def refused(reason: str, **details: object) -> AuthenticationFailed:
        record_auth_event(
            session,
            tenant_id=tenant_id,
            user_id=user.id if user else None,
            action="login_failed",
            email=email,
            details={"reason": reason, **details},
        )
        return AuthenticationFailed(INVALID_CREDENTIALS, code="INVALID_CREDENTIALS")

    now = datetime.now(UTC)
    if user is None:
        passwords.verify_password(None, password)
        raise refused("unknown_user")
    bind_tenant(session, tenant_id, user.id)
    if user.locked_until is not None and user.locked_until > now:
        passwords.verify_password(None, password)
        refused("locked")
        minutes = max(1, int((user.locked_until - now).total_seconds() // 60) + 1)
        raise AccountLocked(
            f"Too many failed attempts: this account is locked. Try again in {minutes} minute(s).",
            details={"lockedUntil": user.locked_until.isoformat()},
        )
    if not passwords.verify_password(user.password_hash, password):
        user.failed_login_attempts += 1
        failure = refused("bad_password", attempts=user.failed_login_attempts)
        if user.failed_login_attempts >= settings.lockout_attempts:
            user.locked_until = now + timedelta(minutes=settings.lockout_minutes)
            user.failed_login_attempts = 0
            record_auth_event(
                session,
                tenant_id=tenant_id,
                user_id=user.id,
                action="lockout",
                email=email,
                details={"minutes": settings.lockout_minutes},
            )
        raise failure
    if not user.is_active:
        raise refused("inactive")
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    user.failed_login_attempts = 0
    user.locked_until = None
    user.last_login_at = now
    record_auth_event(session, tenant_id=tenant_id, user_id=user.id, action="login", email=email)
    ctx = current_context()
    session_id, refresh = sessions.create(user_id=user.id, tenant_id=tenant_id, ip=ctx.ip, user_agent=ctx.user_agent)
    actor, version = _actor_and_version(
        session, tenant_id=tenant_id, user_id=user.id, session_id=session_id, role_id=user.role_id
    )
    access, ttl = issue_tokens(actor, session_id=session_id, authz_version=version)
    return TokenPair(access, refresh, ttl, session_id, user.id, tenant_id)


def remember_browser(actor: Actor) -> str:
    """A handle for the workspace UI's "stay signed in" cookie, bound to the actor's login session."""
    _require_login_session(actor)
    if not actor.session_id:
        raise AuthenticationFailed("Only a login session can be remembered", code="LOGIN_SESSION_REQUIRED")
    return sessions.remember(actor.session_id)


def resume_browser(session: Session, handle: str) -> tuple[str, Actor]:
    """A fresh access token (and its actor) for the login session a browser handle resumes: the user's role
    and permissions as of now. Raises `AuthenticationFailed` once the session has ended or the user is gone."""
    info = sessions.resolve(handle)
    if info is None:
        raise AuthenticationFailed("Session ended; sign in again", code="SESSION_REVOKED")
    tenant_id, user_id = UUID(info.tenant_id), UUID(info.user_id)
    bind_tenant(session, tenant_id, user_id)
    actor, version = _actor_and_version(session, tenant_id=tenant_id, user_id=user_id, session_id=info.id)
    access, _ = issue_tokens(actor, session_id=info.id, authz_version=version)
    bind_actor(session, actor)
    return access, actor


def login_committing_failures(*, email: str, password: str, tenant_slug: str) -> TokenPair:
    """`login` in its own unit of work that keeps failure bookkeeping (attempt counter, lockout, audit)
    even though the login itself raises."""
    failure: Exception | None = None
    with unit_of_work() as session:
        try:
            return login(session, email=email, password=password, tenant_slug=tenant_slug)
        except (AuthenticationFailed, AccountLocked) as exc:
            failure = exc
    assert failure is not None
    raise failure


def refresh(session: Session, refresh_token: str) -> TokenPair:
    try:
        info, new_refresh = sessions.rotate(refresh_token)
    except AuthenticationFailed as exc:
        if exc.code == "REFRESH_TOKEN_REUSED" and exc.details and exc.details.get("tenantId"):
            tenant_id = UUID(exc.details["tenantId"])
            user_id = UUID(exc.details["userId"])
            # Its own transaction: the caller's rolls back on the error we raise, the evidence must not.
            with unit_of_work(tenant_id=tenant_id) as audit_session:
                bind_tenant(audit_session, tenant_id, user_id)
                record_auth_event(audit_session, tenant_id=tenant_id, user_id=user_id, action="refresh_token_reuse")
            exc.details = None  # never echo ids to whoever holds the stolen token
        raise
    actor, version = _actor_and_version(
        session, tenant_id=UUID(info.tenant_id), user_id=UUID(info.user_id), session_id=info.id
    )
    access, ttl = issue_tokens(actor, session_id=info.id, authz_version=version)
    return TokenPair(access, new_refresh, ttl, info.id, UUID(info.user_id), UUID(info.tenant_id))


def _require_login_session(actor: Actor) -> UUID:
    """Sessions and passwords belong to a person who logged in: an API key (or the system) may not list or end
    its user's sessions, log them out, or change their password. Returns the user id."""
    if actor.api_key_id is not None or actor.user_id is None:
        raise PermissionDenied(
            "API keys cannot manage login sessions or passwords; use the user's own access token",
            code="LOGIN_SESSION_REQUIRED",
        )
    return actor.user_id


def logout(session: Session, actor: Actor) -> None:
    _require_login_session(actor)
    if actor.session_id:
        sessions.revoke(actor.session_id)
    record_auth_event(session, tenant_id=actor.tenant_id, user_id=actor.user_id, action="logout", email=actor.email)


def logout_everywhere(session: Session, actor: Actor) -> int:
    count = sessions.revoke_all(_require_login_session(actor))
    record_auth_event(
        session,
        tenant_id=actor.tenant_id,
        user_id=actor.user_id,
        action="logout_all",
        email=actor.email,
        details={"sessions": count},
    )
    return count


def list_sessions(actor: Actor) -> list[sessions.SessionInfo]:
    return sessions.list_for_user(_require_login_session(actor))


def revoke_session(session: Session, actor: Actor, session_id: str) -> None:
    user_id = _require_login_session(actor)
    info = sessions.get(session_id)
    if info is None or info.user_id != str(user_id):
        raise NotFound("Session not found")
    sessions.revoke(session_id)
    record_auth_event(
        session,
        tenant_id=actor.tenant_id,
        user_id=actor.user_id,
        action="session_revoked",
        details={"sessionId": session_id},
    )


def change_password(session: Session, actor: Actor, *, current_password: str, new_password: str) -> int:
    """Change the actor's own password; every other session of the user ends. Returns how many ended."""
    user_id = _require_login_session(actor)
    user = session.scalar(select(User).where(User.tenant_id == actor.tenant_id, User.id == user_id))
    if user is None or not passwords.verify_password(user.password_hash, current_password):
        raise ValidationFailed(
            "Current password is wrong", details=[{"field": "currentPassword", "message": "does not match"}]
        )
    if current_password == new_password:
        raise ValidationFailed(
            "The new password must differ from the current one",
            details=[{"field": "newPassword", "message": "same as current"}],
        )
    passwords.check_policy(new_password)
    user.password_hash = passwords.hash_password(new_password)
    user.password_changed_at = datetime.now(UTC)
    ended = sessions.revoke_all(user_id, keep=actor.session_id)
    record_auth_event(
        session,
        tenant_id=actor.tenant_id,
        user_id=actor.user_id,
        action="password_changed",
        email=actor.email,
        details={"sessionsEnded": ended},
    )
    return ended


# API keys ------------------------------------------------------------------------------------------------


class ApiKeyCreate(Schema):
    name: str
    permissions: list[str]
    expires_at: datetime | None = None


def _key_hash(secret_key: str) -> str:
    pepper = get_settings().secret("api_key_pepper").encode()
    return hmac.new(pepper, secret_key.encode(), hashlib.sha256).hexdigest()


def create_api_key(
    session: Session, actor: Actor, *, name: str, permissions: list[str], expires_at: datetime | None = None
) -> tuple[ApiKey, str]:
    """A key for a system, scoped to permissions its creator holds. The full key is returned once."""
    actor.require("api_keys", "manage")
    if not name.strip() or len(name) > 100:
        raise ValidationFailed("Name the key (1-100 characters)", details=[{"field": "name", "message": "required"}])
    unknown = sorted(set(permissions) - set(ALL_PERMISSIONS))
    if unknown:
        raise ValidationFailed(f"Unknown permissions: {', '.join(unknown)}")
    beyond = sorted(set(permissions) - actor.permissions)
    if beyond:
        raise ValidationFailed(f"A key cannot hold permissions you do not have: {', '.join(beyond)}")
    if not permissions:
        raise ValidationFailed(
            "Give the key at least one permission", details=[{"field": "permissions", "message": "empty"}]
        )
    if expires_at is not None and expires_at.tzinfo is None:
        raise ValidationFailed(
            "expiresAt must include a timezone (e.g. 2030-01-01T00:00:00Z)",
            details=[{"field": "expiresAt", "message": "timezone required"}],
        )
    if expires_at is not None and expires_at <= datetime.now(UTC):
        raise ValidationFailed("Expiry must be in the future", details=[{"field": "expiresAt", "message": "past"}])
    prefix = secrets.token_hex(6)
    full = f"{API_KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey(
        id=new_id(),
        tenant_id=actor.tenant_id,
        name=name.strip(),
        prefix=prefix,
        key_hash=_key_hash(full),
        user_id=actor.user_id,
        permissions=sorted(set(permissions)),
        expires_at=expires_at,
    )
    session.add(key)
    session.flush()
    return key, full


def list_api_keys(session: Session, actor: Actor) -> list[ApiKey]:
    actor.require("api_keys", "read")
    return list(session.scalars(actor.readable(ApiKey).order_by(ApiKey.created_at.desc())))


def revoke_api_key(session: Session, actor: Actor, key_id: UUID) -> None:
    actor.require("api_keys", "manage")
    key = session.scalar(actor.readable(ApiKey).where(ApiKey.id == key_id))
    if key is None:
        raise NotFound("API key not found")
    if key.revoked_at is None:
        key.revoked_at = datetime.now(UTC)
    session.flush()


def api_key_actor(session: Session, key: ApiKey) -> Actor:
    """The actor of a stored key: refused when revoked or expired, or when its user is inactive; permissions
    are those of the key that its user still holds. Requests and the jobs a key queued both come here."""
    now = datetime.now(UTC)
    if key.revoked_at is not None or (key.expires_at is not None and key.expires_at <= now):
        raise AuthenticationFailed("API key revoked or expired", code="INVALID_API_KEY")
    return load_actor(session, tenant_id=key.tenant_id, user_id=key.user_id, api_key=key)


def authenticate_api_key(session: Session, full_key: str) -> Actor:
    parts = full_key.split("_", 2)
    if len(parts) != 3 or parts[0] != API_KEY_PREFIX:
        raise AuthenticationFailed("Invalid API key", code="INVALID_API_KEY")
    row = session.execute(text("SELECT id, tenant_id FROM cf_api_key_by_prefix(:p)"), {"p": parts[1]}).first()
    if row is None:
        raise AuthenticationFailed("Invalid API key", code="INVALID_API_KEY")
    bind_tenant(session, row.tenant_id, None, row.id)
    key = session.scalar(select(ApiKey).where(ApiKey.id == row.id))
    if key is None or not hmac.compare_digest(key.key_hash, _key_hash(full_key)):
        raise AuthenticationFailed("Invalid API key", code="INVALID_API_KEY")
    actor = api_key_actor(session, key)
    _record_key_use(actor, key)
    return actor


def _record_key_use(actor: Actor, key: ApiKey) -> None:
    """`last_used_at` and an `api_key_used` audit entry, at most once a minute per key, committed in a short
    transaction of their own: the request's may still roll back (a 403, a failed write), the trail must not."""
    marker = f"cf:key_used:{key.id}"
    redis = get_redis()
    if not redis.set(marker, "1", nx=True, ex=60):
        return
    try:
        with unit_of_work(actor) as session:
            session.execute(update(ApiKey).where(ApiKey.id == key.id).values(last_used_at=func.now()))
            record_auth_event(
                session,
                tenant_id=key.tenant_id,
                user_id=key.user_id,
                api_key_id=key.id,
                action="api_key_used",
                details={"prefix": key.prefix},
            )
    except BaseException:
        redis.delete(marker)  # not recorded: the next request tries again
        raise


def tenant_of(session: Session, actor: Actor) -> Tenant:
    return tenants.get_current(session, actor)


def permission_catalogue(session: Session) -> list[str]:
    rows = session.execute(select(Permission.resource, Permission.action).order_by(Permission.resource))
    return [f"{r}:{a}" for r, a in rows]
