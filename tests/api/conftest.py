"""API tests: the real app in-process (TestClient) against the run's PostgreSQL and Redis.

Every client gets its own address, so per-IP limits and failed-login counters never couple two tests.
"""

from __future__ import annotations

import itertools
import os
import secrets
import warnings
from collections.abc import Callable, Iterator
from typing import Any
from uuid import UUID

import pytest
from fastapi import FastAPI
from sqlalchemy import text

with warnings.catch_warnings():  # starlette nags about httpx vs httpx2; the client works the same
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from core.config import reset_settings
from core.db import owner_engine, unit_of_work
from core.rbac import service as rbac
from core.rbac.schemas import RoleCreate
from tests.factories import PASSWORD, TenantWorld, create_tenant

API = "/api/v1"
_addresses = itertools.count(1)


def next_ip() -> str:
    """A fresh client address (10.x.y.z) for every client built in this run."""
    n = next(_addresses)
    return f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


@pytest.fixture(scope="session")
def api_app() -> FastAPI:
    from api.main import create_app

    return create_app()


def make_client(app: FastAPI, ip: str | None = None) -> TestClient:
    return TestClient(app, client=(ip or next_ip(), 50000), raise_server_exceptions=False)


@pytest.fixture
def client(api_app: FastAPI) -> TestClient:
    return make_client(api_app)


@pytest.fixture
def new_client(api_app: FastAPI) -> Callable[..., TestClient]:
    """Another client, from another address (or the one given)."""
    return lambda ip=None: make_client(api_app, ip)


def login(client: TestClient, email: str, tenant: str, password: str = PASSWORD) -> dict[str, Any]:
    """POST /auth/login; returns the envelope's data (tokens, user) and fails loudly otherwise."""
    resp = client.post(f"{API}/auth/login", json={"email": email, "password": password, "tenant": tenant})
    assert resp.status_code == 200, resp.text
    return resp.json()["data"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def login_headers(client: TestClient, email: str, tenant: str, password: str = PASSWORD) -> dict[str, str]:
    return bearer(login(client, email, tenant, password)["accessToken"])


def user_email(world: TenantWorld, role: str) -> str:
    """A new user with this role in the world; returns the email to log in with."""
    email = f"{role}-{secrets.token_hex(4)}@{world.slug}.example.com"
    world.add_user(role, email=email)
    return email


def add_role(world: TenantWorld, name: str, permissions: list[str], scope: str = "all") -> UUID:
    admin = world.admin
    with unit_of_work(admin) as session:
        role = rbac.create(session, admin, RoleCreate(name=name, permissions=permissions, record_scope=scope))
        return role.id


@pytest.fixture
def admin_headers(client: TestClient, tenant: TenantWorld) -> dict[str, str]:
    return login_headers(client, tenant.admin_email, tenant.slug)


@pytest.fixture(scope="session")
def shop() -> TenantWorld:
    """A tenant shared by tests that need no isolation (Argon2 makes every tenant and login cost time).
    Tests using it pick unique names and never log its admin out or change the admin's password."""
    return create_tenant()


@pytest.fixture(scope="session")
def shop_admin(api_app: FastAPI, shop: TenantWorld) -> dict[str, str]:
    return login_headers(make_client(api_app), shop.admin_email, shop.slug)


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


@pytest.fixture
def as_role(client: TestClient, tenant: TenantWorld) -> Callable[[str], dict[str, str]]:
    """Auth headers for a new user of the given role in `tenant`."""
    return lambda role: login_headers(client, user_email(tenant, role), tenant.slug)


def owner_count(table: str, tenant_id: UUID | None = None) -> int:
    """Rows in a table (of one tenant), counted as the owner so row-level security cannot hide any."""
    where = "" if tenant_id is None else " WHERE tenant_id = :t"
    with owner_engine().connect() as conn:
        return conn.execute(text(f"SELECT count(*) FROM {table}{where}"), {"t": tenant_id}).scalar_one()


def row_counts() -> dict[str, int]:
    return {t: owner_count(t) for t in ("tenants", "users", "teams", "roles", "api_keys")}


@pytest.fixture
def settings_env() -> Iterator[Callable[..., None]]:
    """Set environment variables for settings, restoring them (and the cached settings) afterwards."""
    saved: dict[str, str | None] = {}

    def apply(**values: str) -> None:
        for key, value in values.items():
            saved.setdefault(key, os.environ.get(key))
            os.environ[key] = value
        reset_settings()

    yield apply
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    reset_settings()


def assert_success(resp: Any, status: int = 200) -> Any:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["success"] is True
    assert "data" in body
    assert body["meta"]["timestamp"]
    assert body["meta"]["requestId"] == resp.headers["x-request-id"]
    return body["data"]


def assert_error(resp: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["success"] is False
    assert "data" not in body
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["message"]
    assert body["meta"]["requestId"] == resp.headers["x-request-id"]
    if code is not None:
        assert body["error"]["code"] == code, body
    assert "Traceback" not in resp.text and 'File "' not in resp.text
    return body["error"]


def assert_paginated(resp: Any, *, page: int = 1, limit: int = 20) -> tuple[list[Any], dict[str, Any]]:
    data = assert_success(resp)
    pagination = resp.json()["pagination"]
    assert set(pagination) == {"page", "limit", "total", "totalPages", "hasNext", "hasPrev"}
    assert (pagination["page"], pagination["limit"]) == (page, limit)
    assert isinstance(data, list)
    return data, pagination
