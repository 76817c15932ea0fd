"""Authentication over HTTP: login, refresh rotation and reuse, logout, sessions, password change, bad tokens,
and the login and plan rate limits."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from core.auth.service import INVALID_CREDENTIALS
from core.config import get_settings
from tests.api.conftest import (
    API,
    assert_error,
    assert_success,
    bearer,
    login,
    login_headers,
    row_counts,
    user_email,
)
from tests.factories import PASSWORD

NEW_PASSWORD = "Quiet-Lantern-41-Harbor"


def _login_body(world, **overrides):
    return {"email": world.admin_email, "password": PASSWORD, "tenant": world.slug, **overrides}


# Login ---------------------------------------------------------------------------------------------------


def test_login_returns_tokens_and_user(client, tenant):
    data = assert_success(client.post(f"{API}/auth/login", json=_login_body(tenant)))
    assert data["tokenType"] == "Bearer"
    assert data["expiresIn"] == get_settings().access_token_minutes * 60
    assert data["accessToken"].count(".") == 2
    assert len(data["refreshToken"]) > 40 and data["sessionId"]
    assert data["user"]["email"] == tenant.admin_email
    assert data["user"]["role"] == "admin"
    assert "passwordHash" not in data["user"] and "password_hash" not in json.dumps(data)


def test_login_is_case_insensitive_on_email(client, tenant):
    body = _login_body(tenant, email=f"  {tenant.admin_email.upper()} ")
    assert_success(client.post(f"{API}/auth/login", json=body))


def test_wrong_password_unknown_user_and_unknown_workspace_answer_the_same(client, tenant):
    attempts = [
        _login_body(tenant, password="Wrong-Password-123"),
        _login_body(tenant, email=f"ghost@{tenant.slug}.example.com"),
        _login_body(tenant, tenant="no-such-workspace"),
    ]
    errors = []
    for body in attempts:
        resp = client.post(f"{API}/auth/login", json=body)
        errors.append(assert_error(resp, 401))
        assert resp.headers["www-authenticate"] == "Bearer"
    assert all(e == errors[0] for e in errors), errors
    assert errors[0]["message"] == INVALID_CREDENTIALS


def test_login_missing_field_is_400(client, tenant):
    body = _login_body(tenant)
    del body["tenant"]
    error = assert_error(client.post(f"{API}/auth/login", json=body), 400, "VALIDATION_ERROR")
    assert [d["field"] for d in error["details"]] == ["tenant"]


# Refresh -------------------------------------------------------------------------------------------------


def test_refresh_rotates_the_pair(client, tenant):
    first = login(client, tenant.admin_email, tenant.slug)
    data = assert_success(client.post(f"{API}/auth/refresh", json={"refreshToken": first["refreshToken"]}))
    assert data["refreshToken"] != first["refreshToken"]
    assert data["sessionId"] == first["sessionId"]
    assert_success(client.get(f"{API}/auth/me", headers=bearer(data["accessToken"])))
    again = assert_success(client.post(f"{API}/auth/refresh", json={"refreshToken": data["refreshToken"]}))
    assert again["refreshToken"] not in (first["refreshToken"], data["refreshToken"])


def test_reused_refresh_token_is_401_and_revokes_the_session(client, tenant):
    first = login(client, tenant.admin_email, tenant.slug)
    rotated = assert_success(client.post(f"{API}/auth/refresh", json={"refreshToken": first["refreshToken"]}))
    resp = client.post(f"{API}/auth/refresh", json={"refreshToken": first["refreshToken"]})
    error = assert_error(resp, 401, "REFRESH_TOKEN_REUSED")
    assert error["details"] is None
    for token in (first["accessToken"], rotated["accessToken"]):
        assert_error(client.get(f"{API}/auth/me", headers=bearer(token)), 401, "SESSION_REVOKED")
    assert_error(client.post(f"{API}/auth/refresh", json={"refreshToken": rotated["refreshToken"]}), 401)


def test_unknown_refresh_token_is_401(client):
    resp = client.post(f"{API}/auth/refresh", json={"refreshToken": "x" * 64})
    assert_error(resp, 401, "INVALID_REFRESH_TOKEN")


# Logout and sessions -------------------------------------------------------------------------------------


def test_logout_is_204_and_the_token_stops_working(client, tenant):
    data = login(client, tenant.admin_email, tenant.slug)
    resp = client.post(f"{API}/auth/logout", headers=bearer(data["accessToken"]))
    assert resp.status_code == 204 and resp.content == b""
    assert_error(client.get(f"{API}/auth/me", headers=bearer(data["accessToken"])), 401, "SESSION_REVOKED")
    assert_error(client.post(f"{API}/auth/refresh", json={"refreshToken": data["refreshToken"]}), 401)


def test_logout_all_ends_every_session(client, tenant):
    one = login(client, tenant.admin_email, tenant.slug)
    two = login(client, tenant.admin_email, tenant.slug)
    data = assert_success(client.post(f"{API}/auth/logout-all", headers=bearer(one["accessToken"])))
    assert data["sessionsEnded"] == 2
    for token in (one["accessToken"], two["accessToken"]):
        assert_error(client.get(f"{API}/auth/me", headers=bearer(token)), 401)


def test_me_returns_user_role_and_permissions(client, tenant):
    data = assert_success(client.get(f"{API}/auth/me", headers=login_headers(client, tenant.admin_email, tenant.slug)))
    assert data["user"]["email"] == tenant.admin_email
    assert data["role"] == "admin" and data["scope"] == "all"
    assert data["tenantId"] == str(tenant.tenant_id)
    assert {"users:manage", "roles:manage", "api_keys:manage"} <= set(data["permissions"])
    assert data["apiKeyId"] is None


def test_me_for_a_rep_lists_only_rep_permissions(client, tenant):
    data = assert_success(
        client.get(f"{API}/auth/me", headers=login_headers(client, user_email(tenant, "rep"), tenant.slug))
    )
    assert data["role"] == "rep" and data["scope"] == "own"
    assert "contacts:read" in data["permissions"]
    assert "users:manage" not in data["permissions"]


def test_sessions_list_marks_the_current_one(client, tenant):
    other = login(client, tenant.admin_email, tenant.slug)
    mine = login(client, tenant.admin_email, tenant.slug)
    data = assert_success(client.get(f"{API}/auth/sessions", headers=bearer(mine["accessToken"])))
    assert {s["id"] for s in data} == {other["sessionId"], mine["sessionId"]}
    assert [s["id"] for s in data if s["current"]] == [mine["sessionId"]]
    assert all(s["ip"].startswith("10.") for s in data)


def test_revoking_another_session_ends_it_and_keeps_this_one(client, tenant):
    other = login(client, tenant.admin_email, tenant.slug)
    mine = login(client, tenant.admin_email, tenant.slug)
    resp = client.delete(f"{API}/auth/sessions/{other['sessionId']}", headers=bearer(mine["accessToken"]))
    assert resp.status_code == 204
    assert_error(client.get(f"{API}/auth/me", headers=bearer(other["accessToken"])), 401, "SESSION_REVOKED")
    assert_success(client.get(f"{API}/auth/me", headers=bearer(mine["accessToken"])))


def test_revoking_an_unknown_session_is_404(client, tenant):
    headers = login_headers(client, tenant.admin_email, tenant.slug)
    assert_error(client.delete(f"{API}/auth/sessions/nope", headers=headers), 404, "NOT_FOUND")


def test_revoking_someone_elses_session_is_404_and_leaves_it(client, tenant):
    rep = login(client, user_email(tenant, "rep"), tenant.slug)
    headers = login_headers(client, tenant.admin_email, tenant.slug)
    assert_error(client.delete(f"{API}/auth/sessions/{rep['sessionId']}", headers=headers), 404)
    assert_success(client.get(f"{API}/auth/me", headers=bearer(rep["accessToken"])))


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "/auth/me"),
        ("POST", "/auth/logout"),
        ("POST", "/auth/logout-all"),
        ("GET", "/auth/sessions"),
        ("DELETE", "/auth/sessions/abc"),
        ("POST", "/auth/password"),
    ],
)
def test_auth_endpoints_need_a_token(client, method, path):
    body = {"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD} if path == "/auth/password" else None
    resp = client.request(method, f"{API}{path}", json=body)
    assert_error(resp, 401, "UNAUTHENTICATED")
    assert resp.headers["www-authenticate"] == "Bearer"


# Password change -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "weak, reason",
    [
        ("short", "at least 12 characters"),
        ("alllowercaseletters", "uppercase"),
        ("Password1234!", "too common"),
    ],
)
def test_weak_or_common_new_password_is_400_with_reasons(client, tenant, weak, reason):
    headers = login_headers(client, tenant.admin_email, tenant.slug)
    resp = client.post(f"{API}/auth/password", headers=headers, json={"currentPassword": PASSWORD, "newPassword": weak})
    error = assert_error(resp, 400, "VALIDATION_ERROR")
    assert any(reason in d["message"] for d in error["details"]), error
    login(client, tenant.admin_email, tenant.slug)  # the old password still works


def test_wrong_current_password_is_400(client, tenant):
    headers = login_headers(client, tenant.admin_email, tenant.slug)
    resp = client.post(
        f"{API}/auth/password",
        headers=headers,
        json={"currentPassword": "Not-The-Password-1", "newPassword": NEW_PASSWORD},
    )
    error = assert_error(resp, 400, "VALIDATION_ERROR")
    assert error["details"][0]["field"] == "currentPassword"
    login(client, tenant.admin_email, tenant.slug)


def test_password_change_keeps_this_session_and_ends_the_others(client, tenant):
    other = login(client, tenant.admin_email, tenant.slug)
    mine = login(client, tenant.admin_email, tenant.slug)
    resp = client.post(
        f"{API}/auth/password",
        headers=bearer(mine["accessToken"]),
        json={"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD},
    )
    assert assert_success(resp) == {"sessionsEnded": 1}
    assert_success(client.get(f"{API}/auth/me", headers=bearer(mine["accessToken"])))
    assert_error(client.get(f"{API}/auth/me", headers=bearer(other["accessToken"])), 401)
    assert_error(client.post(f"{API}/auth/login", json=_login_body(tenant)), 401)
    login(client, tenant.admin_email, tenant.slug, NEW_PASSWORD)


# Bad tokens ----------------------------------------------------------------------------------------------


def _claims(world, **overrides):
    settings = get_settings()
    now = datetime.now(UTC)
    return {
        "sub": str(world.admin_id),
        "tid": str(world.tenant_id),
        "sid": "forged",
        "role": "admin",
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "nbf": now,
        "exp": now + timedelta(minutes=5),
        "typ": "access",
        **overrides,
    }


def _tampered(client, world):
    token = login(client, world.admin_email, world.slug)["accessToken"]
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["role"] = "owner"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


def _alg_none(client, world):
    session_id = login(client, world.admin_email, world.slug)["sessionId"]
    return jwt.encode(_claims(world, sid=session_id), key=None, algorithm="none")


def _expired(client, world):
    issued = login(client, world.admin_email, world.slug)["accessToken"]
    past = datetime.now(UTC) - timedelta(hours=1)
    claims = {
        **jwt.decode(issued, options={"verify_signature": False}),
        "iat": past,
        "nbf": past,
        "exp": past + timedelta(minutes=15),
    }
    return jwt.encode(claims, get_settings().secret("jwt_secret"), algorithm="HS256")


def _wrong_secret(client, world):
    session_id = login(client, world.admin_email, world.slug)["sessionId"]
    other_secret = "another-secret-32-bytes-long-or-more"
    return jwt.encode(_claims(world, sid=session_id), other_secret, algorithm="HS256")


@pytest.mark.parametrize(
    "make_token, code",
    [
        (_tampered, "INVALID_TOKEN"),
        (_alg_none, "INVALID_TOKEN"),
        (_expired, "TOKEN_EXPIRED"),
        (_wrong_secret, "INVALID_TOKEN"),
        (lambda c, w: "not-a-jwt", "INVALID_TOKEN"),
    ],
)
def test_bad_token_is_401_and_changes_nothing(client, tenant, make_token, code):
    headers = bearer(make_token(client, tenant))
    before = row_counts()
    for method, path, body in [
        ("GET", "/auth/me", None),
        ("POST", "/teams", {"name": "Forged team"}),
        (
            "POST",
            "/users",
            {"email": "forged@example.com", "firstName": "F", "lastName": "G", "password": NEW_PASSWORD},
        ),
    ]:
        resp = client.request(method, f"{API}{path}", headers=headers, json=body)
        assert_error(resp, 401, code)
        assert resp.headers["www-authenticate"] == "Bearer"
    assert row_counts() == before


# Rate limits ---------------------------------------------------------------------------------------------


def test_sixth_failed_login_from_one_address_is_429_while_another_address_logs_in(client, new_client, tenant):
    wrong = _login_body(tenant, email=f"nobody@{tenant.slug}.example.com")
    for _ in range(5):
        assert_error(client.post(f"{API}/auth/login", json=wrong), 401)
    resp = client.post(f"{API}/auth/login", json=_login_body(tenant))
    error = assert_error(resp, 429, "RATE_LIMIT_EXCEEDED")
    assert "failed logins" in error["message"]
    assert 0 < int(resp.headers["retry-after"]) <= 15 * 60
    assert resp.headers["x-ratelimit-limit"] == "5"
    assert resp.headers["x-ratelimit-remaining"] == "0"
    assert_success(new_client().post(f"{API}/auth/login", json=_login_body(tenant)))


def test_successful_logins_do_not_count_towards_the_login_limit(client, tenant):
    sessions = {login(client, tenant.admin_email, tenant.slug)["sessionId"] for _ in range(6)}
    assert len(sessions) == 6  # the sixth login from one address is still let in, as a session of its own


def test_starter_plan_is_limited_to_100_requests_a_minute(client, make_tenant):
    starter = make_tenant(plan="starter")
    headers = login_headers(client, starter.admin_email, starter.slug)
    remaining = []
    for _ in range(100):
        resp = client.get(f"{API}/auth/me", headers=headers)
        assert resp.status_code == 200, resp.text
        assert resp.headers["x-ratelimit-limit"] == "100"
        remaining.append(int(resp.headers["x-ratelimit-remaining"]))
    assert remaining == list(range(99, -1, -1))
    resp = client.get(f"{API}/auth/me", headers=headers)
    error = assert_error(resp, 429, "RATE_LIMIT_EXCEEDED")
    assert "starter" in error["message"]
    assert resp.headers["x-ratelimit-limit"] == "100"
    assert 0 < int(resp.headers["retry-after"]) <= 60


def test_per_address_limit_applies_before_authentication(client, tenant, settings_env):
    settings_env(CLIENTFORGE_RATE_LIMIT_PER_IP="3/minute")
    for expected in (2, 1, 0):
        resp = client.post(f"{API}/auth/login", json=_login_body(tenant))
        assert resp.status_code == 200, resp.text
        assert resp.headers["x-ratelimit-limit"] == "3"
        assert resp.headers["x-ratelimit-remaining"] == str(expected)
    resp = client.get(f"{API}/users")
    error = assert_error(resp, 429, "RATE_LIMIT_EXCEEDED")
    assert "this address" in error["message"]
    assert resp.headers["retry-after"]


def test_permission_changes_apply_at_once_and_only_to_whom_they_concern(client, tenant):
    admin = login_headers(client, tenant.admin_email, tenant.slug)
    first_email, second_email = user_email(tenant, "rep"), user_email(tenant, "rep")
    first, second = login(client, first_email, tenant.slug), login(client, second_email, tenant.slug)
    first_id = first["user"]["id"]

    assert_success(client.patch(f"{API}/users/{first_id}", headers=admin, json={"role": "read_only"}))
    assert_error(client.get(f"{API}/auth/me", headers=bearer(first["accessToken"])), 401, "TOKEN_STALE")
    assert_success(client.get(f"{API}/auth/me", headers=bearer(second["accessToken"])))  # untouched
    assert_success(client.get(f"{API}/auth/me", headers=admin))
    renewed = assert_success(client.post(f"{API}/auth/refresh", json={"refreshToken": first["refreshToken"]}))
    me = assert_success(client.get(f"{API}/auth/me", headers=bearer(renewed["accessToken"])))
    assert me["role"] == "read_only" and "contacts:create" not in me["permissions"]

    # Changing what a role grants makes its holders refresh, and the refreshed token carries the new grants.
    role = assert_success(
        client.post(f"{API}/roles", headers=admin, json={"name": "auditor", "permissions": ["audit_logs:read"]}), 201
    )
    second_id = second["user"]["id"]
    assert_success(client.patch(f"{API}/users/{second_id}", headers=admin, json={"role": "auditor"}))
    second = assert_success(client.post(f"{API}/auth/refresh", json={"refreshToken": second["refreshToken"]}))
    assert_success(client.get(f"{API}/audit-logs", headers=bearer(second["accessToken"])))
    assert_success(client.patch(f"{API}/roles/{role['id']}", headers=admin, json={"permissions": ["users:read"]}))
    assert_error(client.get(f"{API}/audit-logs", headers=bearer(second["accessToken"])), 401, "TOKEN_STALE")
    second = assert_success(client.post(f"{API}/auth/refresh", json={"refreshToken": second["refreshToken"]}))
    assert_error(client.get(f"{API}/audit-logs", headers=bearer(second["accessToken"])), 403, "FORBIDDEN")
    assert_success(client.get(f"{API}/auth/me", headers=bearer(renewed["accessToken"])))  # other role untouched


@pytest.mark.parametrize(
    "method, path, body",
    [
        ("GET", "/auth/sessions", None),
        ("DELETE", "/auth/sessions/{sid}", None),
        ("POST", "/auth/logout", None),
        ("POST", "/auth/logout-all", None),
        ("POST", "/auth/password", {"currentPassword": PASSWORD, "newPassword": "Fresh-Granite-Meadow-31"}),
    ],
)
def test_an_api_key_is_403_on_the_users_login_sessions_and_password(client, tenant, method, path, body):
    data = login(client, tenant.admin_email, tenant.slug)
    user = bearer(data["accessToken"])
    key = assert_success(
        client.post(f"{API}/api-keys", headers=user, json={"name": "ci", "permissions": ["users:read"]}), 201
    )["key"]
    resp = client.request(method, API + path.format(sid=data["sessionId"]), headers=bearer(key), json=body)
    error = assert_error(resp, 403, "LOGIN_SESSION_REQUIRED")
    assert "API keys cannot manage login sessions or passwords" in error["message"]
    sessions = assert_success(client.get(f"{API}/auth/sessions", headers=user))
    assert [s["id"] for s in sessions] == [data["sessionId"]]  # the user's session lives on
    login(client, tenant.admin_email, tenant.slug)  # and the password is unchanged
