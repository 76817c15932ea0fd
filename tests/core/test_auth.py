"""Authentication: password policy and hashing, access tokens, refresh rotation, lockout, sessions,
password changes and API keys, against the real PostgreSQL and Redis."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import statistics
import time
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from argon2 import PasswordHasher
from sqlalchemy import event, text

from core.audit import service as audit
from core.auth import passwords, sessions, tokens
from core.auth import service as auth
from core.config import get_settings, reset_settings
from core.db import RequestContext, app_engine, owner_engine, reset_context, set_context, unit_of_work
from core.errors import AccountLocked, AuthenticationFailed, NotFound, PermissionDenied, ValidationFailed
from core.rbac import service as rbac
from core.rbac.schemas import RoleCreate, RoleUpdate
from tests.factories import PASSWORD

WRONG = "Not-The-Password-42"


def login(world, email: str | None = None, password: str = PASSWORD, slug: str | None = None) -> auth.TokenPair:
    return auth.login_committing_failures(
        email=email or world.admin_email, password=password, tenant_slug=slug or world.slug
    )


def actor_for(token: str):
    with unit_of_work() as session:
        return auth.authenticate(session, token)


def owner_scalar(sql: str, **params):
    with owner_engine().connect() as conn:
        return conn.execute(text(sql), params).scalar()


def owner_execute(sql: str, **params) -> None:
    with owner_engine().begin() as conn:
        conn.execute(text(sql), params)


# Passwords -----------------------------------------------------------------------------------------------


def test_password_policy_requires_length_character_classes_and_an_uncommon_password():
    assert len(passwords.common_passwords()) >= 10_000
    passwords.check_policy(PASSWORD)
    passwords.check_policy("Quiet-Lantern-Orbit-58")
    cases = {
        "Sh0rt!pass": "at least 12 characters",
        "all-lower-case-9": "uppercase letter",
        "ALL-UPPER-CASE-9": "lowercase letter",
        "No-Digits-Anywhere": "digit",
        "NoSymbols12345abc": "symbol",
    }
    for candidate, reason in cases.items():
        with pytest.raises(ValidationFailed) as raised:
            passwords.check_policy(candidate)
        assert reason in raised.value.message, candidate
        assert {"field": "password", "message": raised.value.details[0]["message"]} == raised.value.details[0]
    for common in ("Password123!", "P@ssw0rd2024!", "Qwerty123456!", "Welcome2024!!", "Letmein12345!"):
        with pytest.raises(ValidationFailed, match="too common"):
            passwords.check_policy(common)
    with pytest.raises(ValidationFailed) as raised:
        passwords.check_policy("abc")
    assert len(raised.value.details) >= 4  # every reason at once, not one per attempt
    generated = passwords.generate_password()
    assert passwords.policy_violations(generated) == []


def test_weak_password_is_refused_when_creating_a_user(tenant):
    from core.users import service as users
    from core.users.schemas import UserCreate

    admin = tenant.admin
    with pytest.raises(ValidationFailed, match="too common"), unit_of_work(admin) as session:
        users.create(
            session,
            admin,
            UserCreate(
                email=f"weak@{tenant.slug}.example.com",
                first_name="W",
                last_name="K",
                password="Password123!",
            ),
        )
    assert owner_scalar("SELECT count(*) FROM users WHERE email = :e", e=f"weak@{tenant.slug}.example.com") == 0


def test_passwords_are_stored_as_argon2id_and_rehashed_on_login_when_parameters_change(tenant):
    stored = owner_scalar("SELECT password_hash FROM users WHERE id = :u", u=tenant.admin_id)
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored
    assert passwords.verify_password(stored, PASSWORD)
    assert not passwords.verify_password(stored, WRONG)
    assert not passwords.needs_rehash(stored)

    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    assert passwords.needs_rehash(weak)
    owner_execute("UPDATE users SET password_hash = :h WHERE id = :u", h=weak, u=tenant.admin_id)
    login(tenant)
    upgraded = owner_scalar("SELECT password_hash FROM users WHERE id = :u", u=tenant.admin_id)
    assert upgraded != weak
    assert upgraded.startswith("$argon2id$")
    assert not passwords.needs_rehash(upgraded)
    assert passwords.verify_password(upgraded, PASSWORD)
    login(tenant)  # and the upgraded hash keeps working


# Access tokens -------------------------------------------------------------------------------------------


def _claims(pair: auth.TokenPair, **changes) -> dict:
    """The claims of a real token we issued (re-signable with changes)."""
    now = datetime.now(UTC)
    claims = jwt.decode(pair.access_token, options={"verify_signature": False})
    claims.update({"iat": now, "nbf": now, "exp": now + timedelta(minutes=5)})
    claims.update(changes)
    return claims


def _b64(data: dict) -> str:
    raw = json.dumps(data, default=lambda v: int(v.timestamp())).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_access_token_is_accepted_only_when_signed_by_us_for_us_and_unexpired(tenant):
    pair = login(tenant)
    secret = get_settings().secret("jwt_secret")
    actor = actor_for(pair.access_token)
    assert (actor.user_id, actor.tenant_id) == (tenant.admin_id, tenant.tenant_id)
    assert actor.session_id == pair.session_id
    assert actor.role == "admin" and "users:manage" in actor.permissions
    assert pair.expires_in == 15 * 60
    claims = tokens.decode_access_token(pair.access_token)
    assert claims["exp"] - claims["iat"] == 15 * 60

    header, payload, signature = pair.access_token.split(".")
    forged_payload = _b64(
        {
            **json.loads(base64.urlsafe_b64decode(payload + "==")),
            "role": "owner",
            "tid": "00000000-0000-0000-0000-000000000000",
        }
    )
    bad_tokens = {
        "alg none": _b64({"alg": "none", "typ": "JWT"}) + "." + _b64(_claims(pair)) + ".",
        "other key": jwt.encode(_claims(pair), "k" * 48, algorithm="HS256"),
        "tampered payload": f"{header}.{forged_payload}.{signature}",
        "wrong issuer": jwt.encode(_claims(pair, iss="someone-else"), secret, algorithm="HS256"),
        "wrong audience": jwt.encode(_claims(pair, aud="another-app"), secret, algorithm="HS256"),
        "refresh-typed": jwt.encode(_claims(pair, typ="refresh"), secret, algorithm="HS256"),
        "garbage": "not-a-token",
    }
    for name, token in bad_tokens.items():
        with pytest.raises(AuthenticationFailed) as raised:
            actor_for(token)
        assert raised.value.code == "INVALID_TOKEN", name
    past = datetime.now(UTC) - timedelta(hours=1)
    expired = jwt.encode(_claims(pair, iat=past, nbf=past, exp=past + timedelta(minutes=15)), secret, algorithm="HS256")
    with pytest.raises(AuthenticationFailed) as raised:
        actor_for(expired)
    assert raised.value.code == "TOKEN_EXPIRED"
    assert actor_for(pair.access_token).user_id == tenant.admin_id  # the genuine token still works


def test_refresh_rotates_and_reuse_of_an_old_refresh_token_revokes_the_whole_session(tenant):
    first = login(tenant)
    with unit_of_work() as session:
        second = auth.refresh(session, first.refresh_token)
    assert second.refresh_token != first.refresh_token
    assert second.session_id == first.session_id
    assert actor_for(second.access_token).user_id == tenant.admin_id
    other = login(tenant)  # another device of the same user, unaffected by the theft below

    with pytest.raises(AuthenticationFailed) as raised, unit_of_work() as session:
        auth.refresh(session, first.refresh_token)
    assert raised.value.code == "REFRESH_TOKEN_REUSED"
    assert raised.value.details is None  # no ids for whoever replayed the token
    with unit_of_work(tenant.admin) as session:
        reuse = audit.list_entries(session, tenant.admin, entity_type="auth", action="refresh_token_reuse")[0]
    assert [r.user_id for r in reuse] == [tenant.admin_id]  # on record although the refresh failed

    with pytest.raises(AuthenticationFailed) as raised, unit_of_work() as session:
        auth.refresh(session, second.refresh_token)
    assert raised.value.code == "INVALID_REFRESH_TOKEN"
    for token in (first.access_token, second.access_token):
        with pytest.raises(AuthenticationFailed) as raised:
            actor_for(token)
        assert raised.value.code == "SESSION_REVOKED"
    assert not sessions.is_active(first.session_id)
    assert actor_for(other.access_token).session_id == other.session_id
    with pytest.raises(AuthenticationFailed), unit_of_work() as session:
        auth.refresh(session, "never-issued")


# Login failures ------------------------------------------------------------------------------------------


def test_five_failures_lock_the_account_for_fifteen_minutes_then_it_unlocks(tenant):
    rep_id = tenant.add_user("rep", email=f"locked@{tenant.slug}.example.com")
    email = f"locked@{tenant.slug}.example.com"
    for attempt in range(1, 6):
        with pytest.raises(AuthenticationFailed) as raised:
            login(tenant, email=email, password=WRONG)
        assert raised.value.message == auth.INVALID_CREDENTIALS
        if attempt < 5:
            assert owner_scalar("SELECT failed_login_attempts FROM users WHERE id = :u", u=rep_id) == attempt
    locked_until = owner_scalar("SELECT locked_until FROM users WHERE id = :u", u=rep_id)
    expected = datetime.now(UTC) + timedelta(minutes=15)
    assert abs((locked_until - expected).total_seconds()) < 30

    with pytest.raises(AccountLocked) as raised:
        login(tenant, email=email)  # the right password does not help while locked
    assert raised.value.code == "ACCOUNT_LOCKED"
    assert "locked" in raised.value.message and "15 minute" in raised.value.message
    assert owner_scalar("SELECT locked_until FROM users WHERE id = :u", u=rep_id) == locked_until

    owner_execute("UPDATE users SET locked_until = now() - interval '1 second' WHERE id = :u", u=rep_id)
    pair = login(tenant, email=email)
    assert actor_for(pair.access_token).user_id == rep_id
    assert owner_scalar("SELECT locked_until IS NULL AND failed_login_attempts = 0 FROM users WHERE id = :u", u=rep_id)


def test_unknown_workspace_user_or_wrong_password_fail_alike_in_message_and_time(tenant):
    attempts = {
        "unknown workspace": {"slug": "no-such-workspace"},
        "unknown user": {"email": f"nobody@{tenant.slug}.example.com"},
        "wrong password": {"password": WRONG},
    }
    login(tenant)  # warm up connections and caches
    timings: dict[str, list[float]] = {}
    for name, kwargs in attempts.items():
        timings[name] = []
        for _ in range(3):
            started = time.perf_counter()
            with pytest.raises(AuthenticationFailed) as raised:
                login(tenant, **kwargs)
            timings[name].append(time.perf_counter() - started)
            assert type(raised.value) is AuthenticationFailed
            assert raised.value.code == "INVALID_CREDENTIALS"
            assert raised.value.message == auth.INVALID_CREDENTIALS
    means = {name: statistics.mean(values) for name, values in timings.items()}
    assert max(means.values()) / min(means.values()) < 3, means


# Sessions ------------------------------------------------------------------------------------------------


def test_logout_ends_one_session_and_logout_everywhere_ends_all(tenant):
    laptop, phone, tablet = login(tenant), login(tenant), login(tenant)
    laptop_actor = actor_for(laptop.access_token)
    with unit_of_work(laptop_actor) as session:
        auth.logout(session, laptop_actor)
    with pytest.raises(AuthenticationFailed, match="Session ended"):
        actor_for(laptop.access_token)
    with pytest.raises(AuthenticationFailed), unit_of_work() as session:
        auth.refresh(session, laptop.refresh_token)
    assert actor_for(phone.access_token).session_id == phone.session_id

    phone_actor = actor_for(phone.access_token)
    with unit_of_work(phone_actor) as session:
        assert auth.logout_everywhere(session, phone_actor) == 2
    for pair in (phone, tablet):
        with pytest.raises(AuthenticationFailed):
            actor_for(pair.access_token)
        with pytest.raises(AuthenticationFailed), unit_of_work() as session:
            auth.refresh(session, pair.refresh_token)
    assert auth.list_sessions(phone_actor) == []


def test_user_lists_sessions_with_device_details_and_revokes_one(tenant):
    pairs = []
    for agent in ("Firefox on laptop", "Safari on phone", "curl"):
        token = set_context(RequestContext(ip="198.51.100.4", user_agent=agent))
        try:
            pairs.append(login(tenant))
        finally:
            reset_context(token)
    actor = actor_for(pairs[0].access_token)
    listed = auth.list_sessions(actor)
    assert [s.id for s in listed] == [p.session_id for p in pairs]
    assert [s.user_agent for s in listed] == ["Firefox on laptop", "Safari on phone", "curl"]
    assert {s.ip for s in listed} == {"198.51.100.4"}

    with unit_of_work(actor) as session:
        auth.revoke_session(session, actor, pairs[1].session_id)
    assert [s.id for s in auth.list_sessions(actor)] == [pairs[0].session_id, pairs[2].session_id]
    with pytest.raises(AuthenticationFailed):
        actor_for(pairs[1].access_token)
    assert actor_for(pairs[2].access_token).session_id == pairs[2].session_id

    # Someone else's session is not yours to see or end.
    other_id = tenant.add_user("rep", email=f"other@{tenant.slug}.example.com")
    other = login(tenant, email=f"other@{tenant.slug}.example.com")
    assert all(s.user_id == str(tenant.admin_id) for s in auth.list_sessions(actor))
    with pytest.raises(NotFound), unit_of_work(actor) as session:
        auth.revoke_session(session, actor, other.session_id)
    assert actor_for(other.access_token).user_id == other_id


def test_password_change_ends_every_other_session_and_keeps_the_current_one(tenant):
    current, other1, other2 = login(tenant), login(tenant), login(tenant)
    actor = actor_for(current.access_token)
    new_password = "Fresh-Granite-Meadow-31"
    with pytest.raises(ValidationFailed, match="Current password is wrong"), unit_of_work(actor) as session:
        auth.change_password(session, actor, current_password=WRONG, new_password=new_password)
    with pytest.raises(ValidationFailed, match="too common"), unit_of_work(actor) as session:
        auth.change_password(session, actor, current_password=PASSWORD, new_password="Password123!")
    assert len(auth.list_sessions(actor)) == 3  # refused changes end nothing

    with unit_of_work(actor) as session:
        assert auth.change_password(session, actor, current_password=PASSWORD, new_password=new_password) == 2
    assert actor_for(current.access_token).session_id == current.session_id
    with unit_of_work() as session:
        auth.refresh(session, current.refresh_token)
    for pair in (other1, other2):
        with pytest.raises(AuthenticationFailed):
            actor_for(pair.access_token)
    assert [s.id for s in auth.list_sessions(actor)] == [current.session_id]
    with pytest.raises(AuthenticationFailed):
        login(tenant)
    login(tenant, password=new_password)


# API keys ------------------------------------------------------------------------------------------------


def _key_actor(full_key: str):
    with unit_of_work() as session:
        return auth.authenticate(session, full_key)


def test_api_key_is_shown_once_stored_as_hash_scoped_and_records_its_use(tenant):
    admin = tenant.admin
    with unit_of_work(admin) as session:
        key, full_key = auth.create_api_key(
            session, admin, name="  Warehouse sync ", permissions=["contacts:read", "deals:read"]
        )
    assert full_key.startswith(f"cf_{key.prefix}_") and len(full_key) > 40
    assert key.key_hash != full_key and full_key not in key.key_hash
    assert key.name == "Warehouse sync"
    secret_part = full_key.split("_", 2)[2]
    with owner_engine().connect() as conn:
        assert conn.execute(text("SELECT key_hash FROM api_keys WHERE id = :k"), {"k": key.id}).scalar() == key.key_hash
        tables = conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars()
        for table in tables:
            leaked = conn.execute(
                text(f'SELECT count(*) FROM "{table}" x WHERE x::text LIKE :s'), {"s": f"%{secret_part}%"}
            ).scalar_one()
            assert leaked == 0, f"the key's secret is stored in {table}"
    with unit_of_work(admin) as session:
        listed = auth.list_api_keys(session, admin)
    assert [k.id for k in listed] == [key.id] and listed[0].last_used_at is None

    actor = _key_actor(full_key)
    assert actor.kind == "api_key" and actor.api_key_id == key.id
    assert actor.user_id == tenant.admin_id and actor.tenant_id == tenant.tenant_id
    assert actor.permissions == {"contacts:read", "deals:read"}  # narrower than the admin who made it
    assert not actor.can("users", "manage")
    last_used = owner_scalar("SELECT last_used_at FROM api_keys WHERE id = :k", k=key.id)
    assert last_used is not None and abs((datetime.now(UTC) - last_used).total_seconds()) < 60

    wrong_keys = (
        full_key[:-2] + "xx",
        f"cf_{key.prefix}_",
        "cf_nope_nope",
        full_key.replace("cf_", "xx_", 1),
    )
    for wrong in wrong_keys:
        with pytest.raises(AuthenticationFailed):
            _key_actor(wrong)


def test_api_key_cannot_exceed_its_creator_and_follows_the_creators_role(tenant):
    admin = tenant.admin
    with unit_of_work(admin) as session:
        role = rbac.create(
            session,
            admin,
            RoleCreate(
                name="integrator",
                record_scope="all",
                permissions=["api_keys:manage", "api_keys:read", "contacts:read", "contacts:create"],
            ),
        )
    integrator_id = tenant.add_user("integrator")
    integrator = tenant.actor(integrator_id)

    with pytest.raises(ValidationFailed) as raised, unit_of_work(integrator) as session:
        auth.create_api_key(session, integrator, name="escalate", permissions=["contacts:read", "users:manage"])
    assert "users:manage" in raised.value.message and "do not have" in raised.value.message
    with (
        pytest.raises(ValidationFailed, match="Unknown permissions: contacts:teleport"),
        unit_of_work(integrator) as session,
    ):
        auth.create_api_key(session, integrator, name="odd", permissions=["contacts:teleport"])
    with pytest.raises(ValidationFailed), unit_of_work(integrator) as session:
        auth.create_api_key(session, integrator, name="nothing", permissions=[])
    assert owner_scalar("SELECT count(*) FROM api_keys WHERE user_id = :u", u=integrator_id) == 0

    with unit_of_work(integrator) as session:
        _, full_key = auth.create_api_key(
            session, integrator, name="crm-sync", permissions=["contacts:read", "contacts:create"]
        )
    assert _key_actor(full_key).permissions == {"contacts:read", "contacts:create"}
    with unit_of_work(admin) as session:
        rbac.update(session, admin, role.id, RoleUpdate(permissions=["api_keys:manage", "contacts:read"]))
    # The key holds the intersection of what it was given and what its creator holds now.
    assert _key_actor(full_key).permissions == {"contacts:read"}


def test_revoked_or_expired_api_keys_stop_working(tenant):
    admin = tenant.admin
    with unit_of_work(admin) as session:
        revoked, revoked_key = auth.create_api_key(session, admin, name="old", permissions=["contacts:read"])
        expiring, expiring_key = auth.create_api_key(
            session,
            admin,
            name="temp",
            permissions=["contacts:read"],
            expires_at=datetime.now(UTC) + timedelta(hours=1),
        )
    assert _key_actor(revoked_key).api_key_id == revoked.id
    assert _key_actor(expiring_key).api_key_id == expiring.id

    with unit_of_work(admin) as session:
        auth.revoke_api_key(session, admin, revoked.id)
    with pytest.raises(AuthenticationFailed):
        _key_actor(revoked_key)
    assert owner_scalar("SELECT revoked_at FROM api_keys WHERE id = :k", k=revoked.id) is not None

    owner_execute("UPDATE api_keys SET expires_at = now() - interval '1 minute' WHERE id = :k", k=expiring.id)
    with pytest.raises(AuthenticationFailed, match="revoked or expired"):
        _key_actor(expiring_key)
    with pytest.raises(ValidationFailed, match="future"), unit_of_work(admin) as session:
        auth.create_api_key(
            session,
            admin,
            name="past",
            permissions=["contacts:read"],
            expires_at=datetime.now(UTC) - timedelta(minutes=1),
        )


# Authorization versions ----------------------------------------------------------------------------------


@contextlib.contextmanager
def _grant_change_right_after_permissions_are_read(change):
    """Commit `change()` (a real concurrent transaction) the moment a login or refresh has read the actor's
    permissions from the database, before it goes on to sign them into a token."""
    armed = [True]

    def after_execute(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        if armed[0] and "cf_actor(" in statement:
            armed[0] = False
            change()

    event.listen(app_engine(), "after_cursor_execute", after_execute)
    try:
        yield
    finally:
        event.remove(app_engine(), "after_cursor_execute", after_execute)
    assert not armed[0], "the permissions were never read"


def _closer(world):
    """A user with a custom role, and a function that sets that role's grants (committed at once)."""
    admin = world.admin
    with unit_of_work(admin) as session:
        role = rbac.create(session, admin, RoleCreate(name="closer", permissions=["contacts:read", "contacts:create"]))
    email = f"closer@{world.slug}.example.com"
    world.add_user("closer", email=email)

    def set_grants(*permissions: str):
        def change() -> None:
            with unit_of_work(admin) as session:
                rbac.update(session, admin, role.id, RoleUpdate(permissions=list(permissions)))

        return change

    return email, set_grants


def test_a_grant_change_racing_a_login_never_leaves_old_permissions_in_a_valid_token(tenant):
    email, set_grants = _closer(tenant)
    with _grant_change_right_after_permissions_are_read(set_grants("contacts:read")):
        pair = login(tenant, email=email)
    # The token holds the permissions read before the change: it must already be stale, not valid for 15 min.
    with pytest.raises(AuthenticationFailed) as raised:
        actor_for(pair.access_token)
    assert raised.value.code == "TOKEN_STALE"
    with unit_of_work() as session:
        refreshed = auth.refresh(session, pair.refresh_token)
    assert actor_for(refreshed.access_token).permissions == {"contacts:read"}


def test_a_grant_change_racing_a_refresh_never_leaves_old_permissions_in_a_valid_token(tenant):
    email, set_grants = _closer(tenant)
    pair = login(tenant, email=email)
    with _grant_change_right_after_permissions_are_read(set_grants("contacts:read", "deals:read")):
        with unit_of_work() as session:
            refreshed = auth.refresh(session, pair.refresh_token)
    try:
        assert actor_for(refreshed.access_token).permissions == {"contacts:read", "deals:read"}
    except AuthenticationFailed as exc:  # also safe: stale, so refreshed again from the database
        assert exc.code == "TOKEN_STALE"
    with unit_of_work() as session:
        again = auth.refresh(session, refreshed.refresh_token)
    assert actor_for(again.access_token).permissions == {"contacts:read", "deals:read"}


# API keys and login sessions -----------------------------------------------------------------------------


def _admin_key(world, permissions: list[str], **kwargs) -> tuple:
    admin = world.admin
    with unit_of_work(admin) as session:
        return auth.create_api_key(session, admin, name="probe", permissions=permissions, **kwargs)


def test_an_api_key_cannot_list_or_end_its_users_sessions_or_change_the_password(tenant):
    pair = login(tenant)
    _, full_key = _admin_key(tenant, ["contacts:read"])
    key = _key_actor(full_key)
    new_password = "Fresh-Granite-Meadow-31"
    attempts = {
        "list sessions": lambda session: auth.list_sessions(key),
        "revoke a session": lambda session: auth.revoke_session(session, key, pair.session_id),
        "log out": lambda session: auth.logout(session, key),
        "log out everywhere": lambda session: auth.logout_everywhere(session, key),
        "change the password": lambda session: auth.change_password(
            session, key, current_password=PASSWORD, new_password=new_password
        ),
    }
    for name, attempt in attempts.items():
        with pytest.raises(PermissionDenied) as raised, unit_of_work(key) as session:
            attempt(session)
        assert raised.value.code == "LOGIN_SESSION_REQUIRED", name
        assert "API keys cannot manage login sessions or passwords" in raised.value.message
    assert actor_for(pair.access_token).session_id == pair.session_id
    assert [s.id for s in auth.list_sessions(actor_for(pair.access_token))] == [pair.session_id]
    login(tenant)  # the password did not change
    with pytest.raises(AuthenticationFailed):
        login(tenant, password=new_password)


def test_a_key_used_only_for_refused_requests_still_leaves_its_use_on_record(tenant):
    key, full_key = _admin_key(tenant, ["contacts:read"])
    for _ in range(3):
        with pytest.raises(PermissionDenied), unit_of_work() as session:
            actor = auth.authenticate(session, full_key)
            actor.require("users", "manage")  # refused: the request's transaction rolls back
    with owner_engine().connect() as conn:
        used = conn.execute(
            text(
                "SELECT user_id, api_key_id, new_values FROM audit_logs"
                " WHERE action = 'api_key_used' AND api_key_id = :k"
            ),
            {"k": key.id},
        ).all()
    assert [(u.user_id, u.api_key_id, u.new_values) for u in used] == [
        (tenant.admin_id, key.id, {"prefix": key.prefix})
    ]  # once a minute, however many requests
    assert owner_scalar("SELECT last_used_at FROM api_keys WHERE id = :k", k=key.id) is not None


def test_api_keys_are_hashed_with_their_own_pepper_and_survive_a_jwt_secret_rotation(tenant):
    key, full_key = _admin_key(tenant, ["contacts:read"])
    settings = get_settings()
    assert settings.secret("api_key_pepper") != settings.secret("jwt_secret")
    expected = hmac.new(settings.secret("api_key_pepper").encode(), full_key.encode(), hashlib.sha256).hexdigest()
    assert key.key_hash == expected
    old_jwt = os.environ.get("JWT_SECRET")
    os.environ["JWT_SECRET"] = "rotated-" + "r" * 40
    reset_settings()
    try:
        assert get_settings().secret("jwt_secret") != settings.secret("jwt_secret")
        assert _key_actor(full_key).api_key_id == key.id
    finally:
        if old_jwt is None:
            os.environ.pop("JWT_SECRET", None)
        else:
            os.environ["JWT_SECRET"] = old_jwt
        reset_settings()


def test_an_expiry_without_a_timezone_is_refused_naming_the_field(tenant):
    with pytest.raises(ValidationFailed) as raised:
        _admin_key(tenant, ["contacts:read"], expires_at=datetime.now() + timedelta(days=1))  # noqa: DTZ005
    assert raised.value.details == [{"field": "expiresAt", "message": "timezone required"}]
    assert "timezone" in raised.value.message


def test_a_browser_handle_resumes_its_login_session_with_current_permissions_until_logout(tenant):
    pair = login(tenant)
    actor = actor_for(pair.access_token)
    handle = auth.remember_browser(actor)
    stored = list(sessions.get_redis().scan_iter("cf:browser:*"))
    assert stored and not any(handle in key for key in stored)  # kept hashed

    with unit_of_work() as session:
        access, resumed = auth.resume_browser(session, handle)
    assert resumed.user_id == actor.user_id and resumed.session_id == pair.session_id
    assert actor_for(access).user_id == actor.user_id  # a token the API accepts too
    with unit_of_work() as session:  # tabs opened together: the handle is not used up
        auth.resume_browser(session, handle)

    with unit_of_work(tenant.admin) as session:
        auth.logout(session, actor)
    with unit_of_work() as session, pytest.raises(AuthenticationFailed) as refused:
        auth.resume_browser(session, handle)
    assert refused.value.code == "SESSION_REVOKED"


def test_an_api_key_cannot_be_remembered_as_a_browser_session(tenant):
    with unit_of_work(tenant.admin) as session:
        _, secret = auth.create_api_key(session, tenant.admin, name="ci", permissions=["contacts:read"])
    with unit_of_work() as session:
        key_actor = auth.authenticate_api_key(session, secret)
    with pytest.raises(PermissionDenied):
        auth.remember_browser(key_actor)
