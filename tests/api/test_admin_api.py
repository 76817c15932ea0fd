"""Workspace administration over HTTP: users, teams, roles, API keys, tenant settings, audit logs and jobs.

For every endpoint: anonymous 401, a role without the permission 403 (naming it), another tenant's record 404
(and that record untouched), and the valid call as an admin.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field

import pytest
from sqlalchemy import text

from core.auth import service as auth
from core.db import owner_engine, unit_of_work
from core.ids import new_id
from core.jobs.models import Job
from core.users import service as users
from core.users.schemas import TeamCreate
from tests.api.conftest import (
    API,
    add_role,
    assert_error,
    assert_paginated,
    assert_success,
    bearer,
    login,
    login_headers,
    make_client,
    owner_count,
    row_counts,
    unique,
    user_email,
)
from tests.factories import PASSWORD, TenantWorld, create_tenant

NEW_PASSWORD = "Amber-Glacier-73-Rowboat"


def _add_job(world: TenantWorld, created_by=None, status: str = "queued") -> uuid.UUID:
    """A job row as the queue would leave it (no handler needed to look at it)."""
    with unit_of_work(world.admin) as session:
        job = Job(
            id=new_id(),
            tenant_id=world.tenant_id,
            kind="imports.contacts",
            status=status,
            created_by=created_by or world.admin_id,
        )
        session.add(job)
        session.flush()
        return job.id


@dataclass
class Worlds:
    """Two tenants shared by the matrix tests (which never change them): `home` with a user per role,
    `away` with one record of every kind."""

    home: TenantWorld
    away: TenantWorld
    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    away_ids: dict[str, uuid.UUID] = field(default_factory=dict)
    away_headers: dict[str, str] = field(default_factory=dict)


@pytest.fixture(scope="module")
def worlds(api_app) -> Worlds:
    client = make_client(api_app)
    home, away = create_tenant(), create_tenant()
    add_role(home, "guest", [])
    found = Worlds(home, away)
    found.headers["admin"] = login_headers(client, home.admin_email, home.slug)
    for role in ("rep", "read_only", "manager", "guest"):
        found.headers[role] = login_headers(client, user_email(home, role), home.slug)
    admin = away.admin
    with unit_of_work(admin) as session:
        team = users.create_team(session, admin, TeamCreate(name="Away team"))
        key, _ = auth.create_api_key(session, admin, name="away key", permissions=["contacts:read"])
        found.away_ids.update(team=team.id, key=key.id)
    found.away_ids["user"] = away.add_user("rep")
    found.away_ids["role"] = add_role(away, "away role", ["contacts:read"])
    found.away_ids["job"] = _add_job(away)
    found.away_headers = login_headers(client, away.admin_email, away.slug)
    return found


USER_BODY = {
    "email": "new-{n}@example.com",
    "firstName": "New",
    "lastName": "Person",
    "password": NEW_PASSWORD,
}

# (method, path, body, permission, a role of `home` without it)
ENDPOINTS = [
    ("GET", "/users", None, "users:read", "guest"),
    ("POST", "/users", USER_BODY, "users:manage", "rep"),
    ("GET", "/users/{user}", None, "users:read", "guest"),
    ("PATCH", "/users/{user}", {"firstName": "Hijacked"}, "users:manage", "read_only"),
    ("DELETE", "/users/{user}", None, "users:manage", "manager"),
    ("GET", "/teams", None, "teams:read", "guest"),
    ("POST", "/teams", {"name": "Team {n}"}, "teams:manage", "read_only"),
    ("GET", "/teams/{team}", None, "teams:read", "guest"),
    ("PATCH", "/teams/{team}", {"name": "Hijacked"}, "teams:manage", "rep"),
    ("DELETE", "/teams/{team}", None, "teams:manage", "manager"),
    ("GET", "/roles", None, "roles:read", "rep"),
    ("GET", "/roles/permissions", None, "roles:read", "read_only"),
    ("POST", "/roles", {"name": "role {n}", "permissions": ["contacts:read"]}, "roles:manage", "manager"),
    ("GET", "/roles/{role}", None, "roles:read", "rep"),
    ("PATCH", "/roles/{role}", {"description": "Hijacked"}, "roles:manage", "manager"),
    ("DELETE", "/roles/{role}", None, "roles:manage", "read_only"),
    ("GET", "/api-keys", None, "api_keys:read", "manager"),
    ("POST", "/api-keys", {"name": "key {n}", "permissions": ["contacts:read"]}, "api_keys:manage", "rep"),
    ("DELETE", "/api-keys/{key}", None, "api_keys:manage", "read_only"),
    ("GET", "/tenant", None, "settings:read", "rep"),
    ("PATCH", "/tenant", {"name": "Hijacked"}, "settings:manage", "manager"),
    ("GET", "/audit-logs", None, "audit_logs:read", "manager"),
    ("GET", "/jobs", None, "jobs:read", "read_only"),
    ("GET", "/jobs/{job}", None, "jobs:read", "read_only"),
    ("POST", "/jobs/{job}/cancel", None, "jobs:read", "guest"),
]
WITH_ID = [e for e in ENDPOINTS if "{" in e[1]]


def _ids(endpoints):
    return [f"{m} {p}" for m, p, *_ in endpoints]


def _fill(path: str, ids: dict[str, uuid.UUID] | None = None) -> str:
    ids = ids or {}
    kinds = ("user", "team", "role", "key", "job")
    return API + path.format(**{k: ids.get(k, uuid.uuid4()) for k in kinds})


def _body(body):
    if body is None:
        return None
    n = secrets.token_hex(3)
    return {k: v.format(n=n) if isinstance(v, str) else v for k, v in body.items()}


@pytest.mark.parametrize("method, path, body, permission, role", ENDPOINTS, ids=_ids(ENDPOINTS))
def test_anonymous_is_401(client, method, path, body, permission, role):
    resp = client.request(method, _fill(path), json=_body(body))
    error = assert_error(resp, 401, "UNAUTHENTICATED")
    assert "Authorization" in error["message"]
    assert resp.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("method, path, body, permission, role", ENDPOINTS, ids=_ids(ENDPOINTS))
def test_role_without_the_permission_is_403_naming_it(client, worlds, method, path, body, permission, role):
    before = {t: owner_count(t, worlds.home.tenant_id) for t in ("users", "teams", "roles", "api_keys")}
    resp = client.request(method, _fill(path), headers=worlds.headers[role], json=_body(body))
    error = assert_error(resp, 403, "FORBIDDEN")
    assert error["details"]["required"] == permission
    resource, action = permission.split(":")
    assert f"{action} on {resource}" in error["message"]
    assert {t: owner_count(t, worlds.home.tenant_id) for t in before} == before


def _away_snapshot(client, worlds, kind: str):
    """What the other tenant's admin sees of the record."""
    rid = worlds.away_ids[kind]
    if kind == "key":
        keys = assert_success(client.get(f"{API}/api-keys", headers=worlds.away_headers))
        return next(k for k in keys if k["id"] == str(rid))
    plural = {"user": "users", "team": "teams", "role": "roles", "job": "jobs"}[kind]
    return assert_success(client.get(f"{API}/{plural}/{rid}", headers=worlds.away_headers))


@pytest.mark.parametrize("method, path, body, permission, role", WITH_ID, ids=_ids(WITH_ID))
def test_other_tenants_record_is_404_and_untouched(client, worlds, method, path, body, permission, role):
    kind = path.split("{")[1].split("}")[0]
    before = _away_snapshot(client, worlds, kind)
    resp = client.request(method, _fill(path, worlds.away_ids), headers=worlds.headers["admin"], json=_body(body))
    assert_error(resp, 404, "NOT_FOUND")
    assert str(worlds.away_ids[kind]) not in resp.text
    assert worlds.away.slug not in resp.text and "Away" not in resp.text
    assert _away_snapshot(client, worlds, kind) == before


@pytest.mark.parametrize(
    "path, away_value",
    [
        ("/users", lambda w: str(w.away_ids["user"])),
        ("/teams", lambda w: str(w.away_ids["team"])),
        ("/roles", lambda w: str(w.away_ids["role"])),
        ("/api-keys", lambda w: str(w.away_ids["key"])),
        ("/jobs", lambda w: str(w.away_ids["job"])),
        ("/audit-logs", lambda w: str(w.away.tenant_id)),
        ("/tenant", lambda w: str(w.away.tenant_id)),
    ],
)
def test_reads_never_show_another_tenants_data(client, worlds, path, away_value):
    paged = path in ("/users", "/jobs", "/audit-logs")
    params = {"limit": 100} if paged else None
    resp = client.get(f"{API}{path}", params=params, headers=worlds.headers["admin"])
    assert_success(resp)
    assert away_value(worlds) not in resp.text
    assert worlds.away.slug not in resp.text


def test_audit_log_filtered_by_another_tenants_record_is_empty(client, worlds):
    resp = client.get(f"{API}/audit-logs?entityId={worlds.away_ids['user']}", headers=worlds.headers["admin"])
    data, pagination = assert_paginated(resp)
    assert data == [] and pagination["total"] == 0


# Users ---------------------------------------------------------------------------------------------------


def test_list_users_is_paginated(client, tenant, admin_headers):
    for _ in range(2):
        tenant.add_user("rep")
    data, pagination = assert_paginated(client.get(f"{API}/users?page=1&limit=2", headers=admin_headers), limit=2)
    assert len(data) == 2
    assert pagination == {
        "page": 1,
        "limit": 2,
        "total": 3,
        "totalPages": 2,
        "hasNext": True,
        "hasPrev": False,
    }
    data, pagination = assert_paginated(
        client.get(f"{API}/users?page=2&limit=2", headers=admin_headers), page=2, limit=2
    )
    assert len(data) == 1 and pagination["hasPrev"] and not pagination["hasNext"]
    data, pagination = assert_paginated(
        client.get(f"{API}/users?page=3&limit=2", headers=admin_headers), page=3, limit=2
    )
    assert data == [] and pagination["total"] == 3


def test_create_user_is_201_with_location(client, shop, shop_admin):
    email = unique("sam") + "@example.com"
    resp = client.post(
        f"{API}/users",
        headers=shop_admin,
        json={
            "email": email.upper(),
            "firstName": "Sam",
            "lastName": "Stone",
            "password": NEW_PASSWORD,
            "role": "manager",
        },
    )
    data = assert_success(resp, 201)
    assert resp.headers["location"] == f"/api/v1/users/{data['id']}"
    assert data["email"] == email and data["role"] == "manager"
    assert data["generatedPassword"] is None and data["lastLoginAt"] is None and data["version"] == 1
    assert "passwordHash" not in data and "password" not in data
    fetched = assert_success(client.get(resp.headers["location"], headers=shop_admin))
    assert fetched["id"] == data["id"]
    login(client, email, shop.slug, NEW_PASSWORD)


def test_create_user_without_password_returns_a_generated_one_once(client, shop, shop_admin):
    email = unique("gen") + "@example.com"
    data = assert_success(
        client.post(
            f"{API}/users",
            headers=shop_admin,
            json={"email": email, "firstName": "Gen", "lastName": "Erated"},
        ),
        201,
    )
    assert len(data["generatedPassword"]) >= 12
    login(client, email, shop.slug, data["generatedPassword"])
    fetched = assert_success(client.get(f"{API}/users/{data['id']}", headers=shop_admin))
    assert "generatedPassword" not in fetched


def test_create_user_with_weak_password_is_400(client, shop_admin):
    before = owner_count("users")
    resp = client.post(
        f"{API}/users",
        headers=shop_admin,
        json={"email": "weak@example.com", "firstName": "W", "lastName": "K", "password": "password"},
    )
    error = assert_error(resp, 400, "VALIDATION_ERROR")
    assert any("at least 12" in d["message"] for d in error["details"])
    assert owner_count("users") == before


def test_create_user_beyond_the_plans_max_users_is_403(client, make_tenant):
    small = make_tenant(plan="starter", max_users=2)
    headers = login_headers(client, small.admin_email, small.slug)
    assert_success(
        client.post(
            f"{API}/users",
            headers=headers,
            json={"email": "second@example.com", "firstName": "Two", "lastName": "Users"},
        ),
        201,
    )
    resp = client.post(
        f"{API}/users",
        headers=headers,
        json={"email": "third@example.com", "firstName": "Three", "lastName": "Users"},
    )
    error = assert_error(resp, 403, "PLAN_LIMIT_REACHED")
    assert error["details"] == {"maxUsers": 2, "activeUsers": 2}
    assert owner_count("users", small.tenant_id) == 2


def test_create_user_with_duplicate_email_is_409(client, shop, shop_admin):
    before = owner_count("users", shop.tenant_id)
    resp = client.post(
        f"{API}/users",
        headers=shop_admin,
        json={"email": shop.admin_email.upper(), "firstName": "Dup", "lastName": "Licate"},
    )
    error = assert_error(resp, 409, "CONFLICT")
    assert error["details"][0]["field"] == "email"
    assert owner_count("users", shop.tenant_id) == before


def test_create_user_with_unknown_role_or_team_is_400(client, shop_admin):
    body = {"email": "r@example.com", "firstName": "R", "lastName": "S"}
    error = assert_error(
        client.post(f"{API}/users", headers=shop_admin, json={**body, "role": "overlord"}),
        400,
        "VALIDATION_ERROR",
    )
    assert error["details"][0]["field"] == "role"
    error = assert_error(
        client.post(f"{API}/users", headers=shop_admin, json={**body, "teamId": str(uuid.uuid4())}),
        400,
        "VALIDATION_ERROR",
    )
    assert error["details"][0]["field"] == "teamId"


def test_non_latin_and_emoji_names_are_stored_intact(client, shop_admin):
    first, last = "Zoë 李小龍", "Đặng-Ørsted 🚀👩🏽‍💻"
    data = assert_success(
        client.post(
            f"{API}/users",
            headers=shop_admin,
            json={"email": unique("unicode") + "@example.com", "firstName": first, "lastName": last},
        ),
        201,
    )
    assert (data["firstName"], data["lastName"]) == (first, last)
    fetched = assert_success(client.get(f"{API}/users/{data['id']}", headers=shop_admin))
    assert (fetched["firstName"], fetched["lastName"]) == (first, last)
    name = unique("Équipe 東京 🗼")
    team = assert_success(client.post(f"{API}/teams", headers=shop_admin, json={"name": name}), 201)
    assert assert_success(client.get(f"{API}/teams/{team['id']}", headers=shop_admin))["name"] == name


def test_sql_looking_strings_are_stored_literally(client, shop, shop_admin):
    nasty, tautology = "Robert'); DROP TABLE users;--", "' OR '1'='1"
    before = owner_count("users", shop.tenant_id)
    data = assert_success(
        client.post(
            f"{API}/users",
            headers=shop_admin,
            json={"email": unique("bobby") + "@example.com", "firstName": nasty, "lastName": tautology},
        ),
        201,
    )
    fetched = assert_success(client.get(f"{API}/users/{data['id']}", headers=shop_admin))
    assert (fetched["firstName"], fetched["lastName"]) == (nasty, tautology)
    assert owner_count("users", shop.tenant_id) == before + 1
    resp = client.get(f"{API}/audit-logs", params={"action": "' OR 1=1 --"}, headers=shop_admin)
    assert assert_paginated(resp)[1]["total"] == 0


def test_patch_user_updates_and_bumps_the_version(client, shop, shop_admin):
    user_id = shop.add_user("rep")
    current = assert_success(client.get(f"{API}/users/{user_id}", headers=shop_admin))
    data = assert_success(
        client.patch(
            f"{API}/users/{user_id}",
            headers=shop_admin,
            json={"firstName": "Renamed", "role": "manager", "version": current["version"]},
        )
    )
    assert data["firstName"] == "Renamed" and data["role"] == "manager"
    assert data["version"] == current["version"] + 1
    assert data["updatedAt"] >= current["updatedAt"]


def test_patch_user_with_stale_version_is_409_with_current_version(client, shop, shop_admin):
    user_id = shop.add_user("rep")
    first = assert_success(
        client.patch(f"{API}/users/{user_id}", headers=shop_admin, json={"firstName": "First", "version": 1})
    )
    resp = client.patch(f"{API}/users/{user_id}", headers=shop_admin, json={"firstName": "Lost", "version": 1})
    error = assert_error(resp, 409, "VERSION_CONFLICT")
    assert error["details"] == {"currentVersion": first["version"]}
    assert assert_success(client.get(f"{API}/users/{user_id}", headers=shop_admin))["firstName"] == "First"


@pytest.mark.parametrize("field", ["firstName", "lastName", "role", "timezone", "isActive"])
def test_patch_user_with_null_for_a_required_field_is_400_naming_it(client, shop, shop_admin, field):
    user_id = shop.add_user("rep")
    before = assert_success(client.get(f"{API}/users/{user_id}", headers=shop_admin))
    resp = client.patch(f"{API}/users/{user_id}", headers=shop_admin, json={field: None})
    error = assert_error(resp, 400, "VALIDATION_ERROR")
    assert [d["field"] for d in error["details"]] == [field]
    assert "cannot be null" in error["details"][0]["message"]
    assert assert_success(client.get(f"{API}/users/{user_id}", headers=shop_admin)) == before
    # null stays meaningful where the field is optional: leaving the team
    assert assert_success(client.patch(f"{API}/users/{user_id}", headers=shop_admin, json={"teamId": None}))


def test_admin_cannot_deactivate_or_delete_themselves(client, shop, shop_admin):
    resp = client.patch(f"{API}/users/{shop.admin_id}", headers=shop_admin, json={"isActive": False})
    assert_error(resp, 409, "CONFLICT")
    assert_error(client.delete(f"{API}/users/{shop.admin_id}", headers=shop_admin), 409, "CONFLICT")


def test_delete_user_is_204_and_they_can_no_longer_log_in(client, shop, shop_admin):
    email = user_email(shop, "rep")
    rep = login(client, email, shop.slug)
    user_id = rep["user"]["id"]
    resp = client.delete(f"{API}/users/{user_id}", headers=shop_admin)
    assert resp.status_code == 204 and resp.content == b""
    assert_error(client.get(f"{API}/users/{user_id}", headers=shop_admin), 404)
    assert_error(
        client.post(f"{API}/auth/login", json={"email": email, "password": PASSWORD, "tenant": shop.slug}),
        401,
    )
    # Their sessions end with the account: the access token they still hold stops working at once.
    assert_error(client.get(f"{API}/auth/me", headers=bearer(rep["accessToken"])), 401, "SESSION_REVOKED")


def test_unknown_or_malformed_user_id(client, shop_admin):
    assert_error(client.get(f"{API}/users/{uuid.uuid4()}", headers=shop_admin), 404, "NOT_FOUND")
    error = assert_error(client.get(f"{API}/users/not-a-uuid", headers=shop_admin), 400, "VALIDATION_ERROR")
    assert error["details"][0]["field"] == "user_id"


# Teams ---------------------------------------------------------------------------------------------------


def test_team_lifecycle(client, shop, shop_admin):
    resp = client.post(
        f"{API}/teams",
        headers=shop_admin,
        json={"name": unique("Field sales"), "description": "North", "managerId": str(shop.admin_id)},
    )
    team = assert_success(resp, 201)
    assert resp.headers["location"] == f"/api/v1/teams/{team['id']}"
    assert team["managerId"] == str(shop.admin_id) and team["description"] == "North"
    listed = assert_success(client.get(f"{API}/teams", headers=shop_admin))
    assert team["id"] in [t["id"] for t in listed]
    renamed = unique("Inside sales")
    updated = assert_success(
        client.patch(
            f"{API}/teams/{team['id']}",
            headers=shop_admin,
            json={"name": renamed, "version": team["version"]},
        )
    )
    assert updated["name"] == renamed and updated["version"] == team["version"] + 1
    member = shop.add_user("rep", team_id=uuid.UUID(team["id"]))
    resp = client.delete(f"{API}/teams/{team['id']}", headers=shop_admin)
    assert resp.status_code == 204 and resp.content == b""
    assert_error(client.get(f"{API}/teams/{team['id']}", headers=shop_admin), 404)
    assert team["id"] not in [t["id"] for t in assert_success(client.get(f"{API}/teams", headers=shop_admin))]
    assert assert_success(client.get(f"{API}/users/{member}", headers=shop_admin))["teamId"] is None


def test_duplicate_team_name_is_409(client, shop_admin):
    name = unique("Twins")
    assert_success(client.post(f"{API}/teams", headers=shop_admin, json={"name": name}), 201)
    before = owner_count("teams")
    assert_error(client.post(f"{API}/teams", headers=shop_admin, json={"name": name}), 409, "CONFLICT")
    assert owner_count("teams") == before


def test_patch_team_with_stale_version_is_409(client, shop_admin):
    resp = client.post(f"{API}/teams", headers=shop_admin, json={"name": unique("Stale")})
    team = assert_success(resp, 201)
    assert_success(client.patch(f"{API}/teams/{team['id']}", headers=shop_admin, json={"description": "x"}))
    error = assert_error(
        client.patch(
            f"{API}/teams/{team['id']}",
            headers=shop_admin,
            json={"description": "y", "version": team["version"]},
        ),
        409,
        "VERSION_CONFLICT",
    )
    assert error["details"] == {"currentVersion": team["version"] + 1}


def test_team_manager_from_another_tenant_is_refused(client, shop_admin, worlds):
    resp = client.post(
        f"{API}/teams",
        headers=shop_admin,
        json={"name": unique("Poached"), "managerId": str(worlds.away.admin_id)},
    )
    error = assert_error(resp, 400, "VALIDATION_ERROR")
    assert error["details"][0]["field"] == "managerId"


# Roles ---------------------------------------------------------------------------------------------------


def test_list_roles_includes_the_system_roles(client, shop_admin):
    roles = {r["name"]: r for r in assert_success(client.get(f"{API}/roles", headers=shop_admin))}
    assert {"admin", "manager", "rep", "analyst", "read_only"} <= set(roles)
    assert roles["admin"]["isSystemRole"] and "users:manage" in roles["admin"]["permissions"]
    assert "users:manage" not in roles["rep"]["permissions"]


def test_permission_catalogue(client, shop_admin):
    catalogue = assert_success(client.get(f"{API}/roles/permissions", headers=shop_admin))
    assert {"contacts:read", "users:manage", "audit_logs:read"} <= set(catalogue)


def test_custom_role_lifecycle(client, shop_admin):
    resp = client.post(
        f"{API}/roles",
        headers=shop_admin,
        json={
            "name": unique("support"),
            "description": "Helps",
            "recordScope": "all",
            "permissions": ["users:read", "contacts:read"],
        },
    )
    role = assert_success(resp, 201)
    assert resp.headers["location"] == f"/api/v1/roles/{role['id']}"
    assert role["permissions"] == ["contacts:read", "users:read"] and not role["isSystemRole"]
    assert assert_success(client.get(resp.headers["location"], headers=shop_admin)) == role
    updated = assert_success(
        client.patch(
            f"{API}/roles/{role['id']}",
            headers=shop_admin,
            json={"permissions": ["contacts:read"], "version": role["version"]},
        )
    )
    assert updated["permissions"] == ["contacts:read"] and updated["version"] > role["version"]
    resp = client.delete(f"{API}/roles/{role['id']}", headers=shop_admin)
    assert resp.status_code == 204 and resp.content == b""
    assert_error(client.get(f"{API}/roles/{role['id']}", headers=shop_admin), 404)


def test_custom_role_grants_exactly_its_permissions(client, shop, shop_admin):
    name = unique("auditor")
    assert_success(
        client.post(f"{API}/roles", headers=shop_admin, json={"name": name, "permissions": ["audit_logs:read"]}),
        201,
    )
    headers = login_headers(client, user_email(shop, name), shop.slug)
    assert_paginated(client.get(f"{API}/audit-logs", headers=headers))
    assert_error(client.get(f"{API}/users", headers=headers), 403)


def test_system_roles_cannot_be_changed_or_deleted(client, shop_admin):
    roles = assert_success(client.get(f"{API}/roles", headers=shop_admin))
    admin_role = next(r for r in roles if r["name"] == "admin")
    assert_error(
        client.patch(f"{API}/roles/{admin_role['id']}", headers=shop_admin, json={"permissions": []}),
        409,
        "CONFLICT",
    )
    assert_error(client.delete(f"{API}/roles/{admin_role['id']}", headers=shop_admin), 409, "CONFLICT")
    roles_after = assert_success(client.get(f"{API}/roles", headers=shop_admin))
    assert next(r for r in roles_after if r["name"] == "admin") == admin_role


def test_role_in_use_cannot_be_deleted(client, shop, shop_admin):
    name = unique("busy")
    role_id = add_role(shop, name, ["contacts:read"])
    shop.add_user(name)
    error = assert_error(client.delete(f"{API}/roles/{role_id}", headers=shop_admin), 409, "CONFLICT")
    assert "assigned" in error["message"]


def test_role_with_unknown_permission_is_400(client, shop_admin):
    before = owner_count("roles")
    error = assert_error(
        client.post(
            f"{API}/roles",
            headers=shop_admin,
            json={"name": "wizard", "permissions": ["contacts:read", "magic:cast"]},
        ),
        400,
        "VALIDATION_ERROR",
    )
    assert error["details"][0]["value"] == "magic:cast"
    assert owner_count("roles") == before


def test_duplicate_role_name_is_409(client, shop_admin):
    assert_error(client.post(f"{API}/roles", headers=shop_admin, json={"name": "rep"}), 409, "CONFLICT")


# API keys ------------------------------------------------------------------------------------------------


def _create_key(client, headers, permissions, name="sync"):
    resp = client.post(f"{API}/api-keys", headers=headers, json={"name": name, "permissions": permissions})
    return resp, assert_success(resp, 201)


def test_create_api_key_returns_the_full_key_once(client, shop_admin):
    resp, key = _create_key(client, shop_admin, ["users:read"])
    assert resp.headers["location"] == f"/api/v1/api-keys/{key['id']}"
    assert key["key"].startswith(f"cf_{key['prefix']}_")
    assert key["permissions"] == ["users:read"]
    listed = client.get(f"{API}/api-keys", headers=shop_admin)
    entry = next(k for k in assert_success(listed) if k["id"] == key["id"])
    assert "key" not in entry and "keyHash" not in entry
    assert key["key"].split("_", 2)[2] not in listed.text


@pytest.mark.parametrize("how", ["bearer", "x-api-key"])
def test_api_key_authenticates(client, shop_admin, how):
    _, key = _create_key(client, shop_admin, ["users:read"])
    headers = bearer(key["key"]) if how == "bearer" else {"X-API-Key": key["key"]}
    data, _ = assert_paginated(client.get(f"{API}/users", headers=headers))
    assert data
    me = assert_success(client.get(f"{API}/auth/me", headers=headers))
    assert me["apiKeyId"] == key["id"] and me["permissions"] == ["users:read"]
    listed = assert_success(client.get(f"{API}/api-keys", headers=shop_admin))
    assert next(k for k in listed if k["id"] == key["id"])["lastUsedAt"] is not None


def test_api_key_permissions_limit_what_it_can_do(client, shop_admin):
    _, key = _create_key(client, shop_admin, ["users:read"])
    before = row_counts()
    resp = client.post(
        f"{API}/users",
        headers=bearer(key["key"]),
        json={"email": "bykey@example.com", "firstName": "By", "lastName": "Key"},
    )
    error = assert_error(resp, 403, "FORBIDDEN")
    assert error["details"]["required"] == "users:manage"
    assert_error(
        client.post(
            f"{API}/api-keys",
            headers=bearer(key["key"]),
            json={"name": "child", "permissions": ["users:read"]},
        ),
        403,
    )
    assert_error(client.get(f"{API}/teams", headers=bearer(key["key"])), 403)
    assert row_counts() == before


def test_revoked_api_key_is_401(client, shop_admin):
    _, key = _create_key(client, shop_admin, ["users:read"])
    assert_success(client.get(f"{API}/users", headers=bearer(key["key"])))
    resp = client.delete(f"{API}/api-keys/{key['id']}", headers=shop_admin)
    assert resp.status_code == 204 and resp.content == b""
    for headers in (bearer(key["key"]), {"X-API-Key": key["key"]}):
        resp = client.get(f"{API}/users", headers=headers)
        assert_error(resp, 401, "INVALID_API_KEY")
        assert resp.headers["www-authenticate"] == "Bearer"
    listed = assert_success(client.get(f"{API}/api-keys", headers=shop_admin))
    assert next(k for k in listed if k["id"] == key["id"])["revokedAt"] is not None


def test_forged_api_key_is_401(client, shop_admin):
    _, key = _create_key(client, shop_admin, ["users:read"])
    forged = key["key"][:-4] + ("AAAA" if not key["key"].endswith("AAAA") else "BBBB")
    for value in (forged, "cf_nope_nope", "cf_"):
        assert_error(client.get(f"{API}/users", headers=bearer(value)), 401, "INVALID_API_KEY")


def test_api_key_cannot_exceed_its_creators_permissions(client, shop, shop_admin):
    name = unique("keymaker")
    add_role(shop, name, ["api_keys:manage", "api_keys:read", "contacts:read"])
    headers = login_headers(client, user_email(shop, name), shop.slug)
    before = owner_count("api_keys")
    resp = client.post(f"{API}/api-keys", headers=headers, json={"name": "x", "permissions": ["users:manage"]})
    error = assert_error(resp, 400, "VALIDATION_ERROR")
    assert "users:manage" in error["message"]
    resp = client.post(f"{API}/api-keys", headers=shop_admin, json={"name": "x", "permissions": ["nope:x"]})
    assert_error(resp, 400, "VALIDATION_ERROR")
    assert owner_count("api_keys") == before
    _, key = _create_key(client, headers, ["contacts:read"])
    assert key["permissions"] == ["contacts:read"]


def test_api_key_expiry_in_the_past_is_400(client, shop_admin):
    resp = client.post(
        f"{API}/api-keys",
        headers=shop_admin,
        json={"name": "old", "permissions": ["users:read"], "expiresAt": "2001-01-01T00:00:00Z"},
    )
    error = assert_error(resp, 400, "VALIDATION_ERROR")
    assert error["details"][0]["field"] == "expiresAt"


def test_api_key_expiry_without_a_timezone_is_400_naming_it(client, shop_admin):
    before = owner_count("api_keys")
    resp = client.post(
        f"{API}/api-keys",
        headers=shop_admin,
        json={"name": "naive", "permissions": ["users:read"], "expiresAt": "2031-01-01T00:00:00"},
    )
    error = assert_error(resp, 400, "VALIDATION_ERROR")
    assert error["details"] == [{"field": "expiresAt", "message": "timezone required"}]
    assert owner_count("api_keys") == before


def test_a_request_refused_with_403_still_records_the_keys_use(client, shop_admin):
    _, key = _create_key(client, shop_admin, ["users:read"])
    assert_error(client.get(f"{API}/teams", headers=bearer(key["key"])), 403, "FORBIDDEN")
    listed = assert_success(client.get(f"{API}/api-keys", headers=shop_admin))
    assert next(k for k in listed if k["id"] == key["id"])["lastUsedAt"] is not None
    with owner_engine().connect() as conn:
        used = conn.execute(
            text("SELECT count(*) FROM audit_logs WHERE action = 'api_key_used' AND api_key_id = :k"), {"k": key["id"]}
        ).scalar_one()
    assert used == 1


# Tenant settings -----------------------------------------------------------------------------------------


def test_get_tenant_returns_this_workspace(client, shop, shop_admin):
    data = assert_success(client.get(f"{API}/tenant", headers=shop_admin))
    assert data["id"] == str(shop.tenant_id) and data["slug"] == shop.slug
    assert data["plan"] == "enterprise" and data["isActive"] is True


def test_patch_tenant_updates_name_and_settings(client, shop_admin):
    current = assert_success(client.get(f"{API}/tenant", headers=shop_admin))
    data = assert_success(
        client.patch(
            f"{API}/tenant",
            headers=shop_admin,
            json={"name": "Acme Ünited 🏭", "settings": {"currency": "EUR"}, "version": current["version"]},
        )
    )
    assert data["name"] == "Acme Ünited 🏭" and data["settings"] == {"currency": "EUR"}
    assert data["version"] == current["version"] + 1
    error = assert_error(
        client.patch(f"{API}/tenant", headers=shop_admin, json={"name": "Lost update", "version": current["version"]}),
        409,
        "VERSION_CONFLICT",
    )
    assert error["details"] == {"currentVersion": data["version"]}
    assert assert_success(client.get(f"{API}/tenant", headers=shop_admin))["name"] == "Acme Ünited 🏭"


@pytest.mark.parametrize("field", ["name", "timezone", "settings"])
def test_patch_tenant_with_null_for_a_required_field_is_400_naming_it(client, shop_admin, field):
    before = assert_success(client.get(f"{API}/tenant", headers=shop_admin))
    error = assert_error(client.patch(f"{API}/tenant", headers=shop_admin, json={field: None}), 400, "VALIDATION_ERROR")
    assert [d["field"] for d in error["details"]] == [field]
    assert "cannot be null" in error["details"][0]["message"]
    assert assert_success(client.get(f"{API}/tenant", headers=shop_admin))["version"] == before["version"]


@pytest.mark.parametrize("field, value", [("plan", "enterprise"), ("maxUsers", 100000), ("slug", "taken")])
def test_tenant_plan_and_limits_cannot_be_changed_by_the_tenant(client, shop_admin, field, value):
    error = assert_error(
        client.patch(f"{API}/tenant", headers=shop_admin, json={field: value}), 400, "VALIDATION_ERROR"
    )
    assert error["details"][0]["field"] == field


# Audit logs ----------------------------------------------------------------------------------------------


def test_audit_log_records_api_changes_with_request_context(client, shop_admin):
    resp = client.post(
        f"{API}/teams",
        headers={**shop_admin, "X-Request-ID": "audit-trace-1"},
        json={"name": unique("Audited")},
    )
    team = assert_success(resp, 201)
    data, pagination = assert_paginated(
        client.get(f"{API}/audit-logs", params={"entityType": "teams", "entityId": team["id"]}, headers=shop_admin)
    )
    assert pagination["total"] == 1
    entry = data[0]
    assert entry["action"] == "create" and entry["requestId"] == "audit-trace-1"
    assert entry["via"] == "api" and entry["ipAddress"].startswith("10.")
    assert entry["newValues"]["name"] == team["name"]


def test_audit_log_lists_logins_newest_first_with_masked_emails(client, tenant, admin_headers):
    login(client, tenant.admin_email, tenant.slug)
    data, pagination = assert_paginated(
        client.get(f"{API}/audit-logs?entityType=auth&action=login&limit=5", headers=admin_headers), limit=5
    )
    assert pagination["total"] == 2 and len(data) == 2
    assert data[0]["createdAt"] >= data[1]["createdAt"]
    assert all("***" in e["newValues"]["email"] and tenant.slug not in e["newValues"]["email"] for e in data)


def test_login_from_a_client_without_an_ip_address_is_audited_without_one(api_app, shop):
    from fastapi.testclient import TestClient

    named = TestClient(api_app, client=("testclient", 50000))
    headers = login_headers(named, shop.admin_email, shop.slug)
    data, _ = assert_paginated(named.get(f"{API}/audit-logs?entityType=auth&action=login", headers=headers))
    assert data[0]["ipAddress"] is None


# Jobs ----------------------------------------------------------------------------------------------------


def test_list_jobs_is_paginated_newest_first(client, shop, shop_admin):
    first, second = _add_job(shop), _add_job(shop)
    data, pagination = assert_paginated(client.get(f"{API}/jobs?limit=2", headers=shop_admin), limit=2)
    assert [j["id"] for j in data] == [str(second), str(first)]
    assert pagination["total"] >= 2 and pagination["hasNext"] == (pagination["total"] > 2)
    assert data[0]["statusUrl"] == f"/api/v1/jobs/{second}"
    assert "params" not in data[0]


def test_get_job_shows_status_and_progress(client, shop, shop_admin):
    job_id = _add_job(shop)
    data = assert_success(client.get(f"{API}/jobs/{job_id}", headers=shop_admin))
    assert data["id"] == str(job_id)
    assert (data["status"], data["progress"], data["result"]) == ("queued", 0, None)
    assert data["statusUrl"] == f"/api/v1/jobs/{job_id}"


def test_unknown_job_is_404(client, shop_admin):
    assert_error(client.get(f"{API}/jobs/{uuid.uuid4()}", headers=shop_admin), 404, "NOT_FOUND")


def test_cancel_a_queued_job(client, shop, shop_admin):
    job_id = _add_job(shop)
    data = assert_success(client.post(f"{API}/jobs/{job_id}/cancel", headers=shop_admin))
    assert data["status"] == "cancelled" and data["finishedAt"]
    error = assert_error(client.post(f"{API}/jobs/{job_id}/cancel", headers=shop_admin), 409, "CONFLICT")
    assert "cancelled" in error["message"]


def test_rep_sees_and_cancels_only_own_jobs(client, shop):
    rep = login(client, user_email(shop, "rep"), shop.slug)
    mine = _add_job(shop, created_by=uuid.UUID(rep["user"]["id"]))
    theirs = _add_job(shop)
    headers = bearer(rep["accessToken"])
    data, _ = assert_paginated(client.get(f"{API}/jobs", headers=headers))
    assert [j["id"] for j in data] == [str(mine)]
    assert_error(client.get(f"{API}/jobs/{theirs}", headers=headers), 404)
    assert_error(client.post(f"{API}/jobs/{theirs}/cancel", headers=headers), 404)
    assert assert_success(client.post(f"{API}/jobs/{mine}/cancel", headers=headers))["status"] == "cancelled"
