"""/api/v1/webhooks: every route's 401/403/other-tenant 404, the secret shown only at creation and rotation,
and a contact created through the API delivered to a real receiver after draining the worker."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from uuid import UUID

import pytest

from core.db import unit_of_work
from core.ids import new_id
from core.jobs import queue
from core.webhooks import service as webhooks
from core.webhooks.schemas import WebhookCreate
from tests.api.conftest import (
    API,
    add_role,
    assert_error,
    assert_paginated,
    assert_success,
    login_headers,
    make_client,
    owner_count,
)
from tests.core.conftest import owner_rows
from tests.factories import PASSWORD, TenantWorld, create_tenant
from tests.support.webhook_receiver import Receiver, running_receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as found:
        yield found


@dataclass
class Hooks:
    home: TenantWorld
    away: TenantWorld
    headers: dict[str, dict[str, str]]
    away_webhook: UUID


@pytest.fixture(scope="module")
def hooks(api_app) -> Hooks:
    client = make_client(api_app)
    home, away = create_tenant(), create_tenant()
    add_role(home, "hook_reader", ["webhooks:read"])
    headers = {"admin": login_headers(client, home.admin_email, home.slug)}
    for name, role in (("manager", "manager"), ("rep", "rep"), ("reader", "hook_reader")):
        email = f"{name}-{secrets.token_hex(3)}@{home.slug}.example.com"
        home.add_user(role, email=email)
        headers[name] = login_headers(client, email, home.slug, PASSWORD)
    with unit_of_work(away.admin) as session:
        hook, _ = webhooks.create(
            session, away.admin, WebhookCreate(url="https://away.example.com/hook", event_types=["deal.won"])
        )
    return Hooks(home, away, headers, hook.id)


def _create(client, headers, url: str = "https://hooks.invalid/in", types=("contact.created",)) -> dict:
    resp = client.post(f"{API}/webhooks", headers=headers, json={"url": url, "eventTypes": list(types)})
    return assert_success(resp, 201) | {"location": resp.headers.get("location")}


ROUTES = [
    ("GET", "/webhooks", None, "webhooks:read"),
    ("GET", "/webhooks/event-types", None, "webhooks:read"),
    ("POST", "/webhooks", {"url": "https://x.example.com", "eventTypes": ["deal.won"]}, "webhooks:manage"),
    ("GET", "/webhooks/{id}", None, "webhooks:read"),
    ("PATCH", "/webhooks/{id}", {"description": "changed"}, "webhooks:manage"),
    ("DELETE", "/webhooks/{id}", None, "webhooks:manage"),
    ("POST", "/webhooks/{id}/rotate-secret", None, "webhooks:manage"),
    ("POST", "/webhooks/{id}/ping", None, "webhooks:manage"),
    ("GET", "/webhooks/{id}/deliveries", None, "webhooks:read"),
]


@pytest.mark.parametrize(("method", "path", "body", "permission"), ROUTES)
def test_every_route_refuses_anonymous_and_unpermitted_and_hides_other_tenants(
    client, hooks, method, path, body, permission
):
    mine = _create(client, hooks.headers["admin"], types=["deal.won"])["id"]
    resp = client.request(method, API + path.format(id=mine), json=body)
    assert_error(resp, 401, "UNAUTHENTICATED")
    denied = ["rep"] if permission == "webhooks:read" else ["rep", "manager", "reader"]
    for role in denied:
        resp = client.request(method, API + path.format(id=mine), headers=hooks.headers[role], json=body)
        assert assert_error(resp, 403, "FORBIDDEN")["details"]["required"] == permission
    if "{id}" in path:
        before = owner_rows("SELECT to_jsonb(w)::text AS j FROM webhooks w WHERE id = :id", id=hooks.away_webhook)
        resp = client.request(
            method, API + path.format(id=hooks.away_webhook), headers=hooks.headers["admin"], json=body
        )
        assert_error(resp, 404, "NOT_FOUND")
        assert "away.example.com" not in resp.text
        after = owner_rows("SELECT to_jsonb(w)::text AS j FROM webhooks w WHERE id = :id", id=hooks.away_webhook)
        assert before == after
        resp = client.request(method, API + path.format(id=new_id()), headers=hooks.headers["admin"], json=body)
        assert_error(resp, 404, "NOT_FOUND")
    assert owner_count("webhook_deliveries", hooks.away.tenant_id) == 0


def test_crud_and_the_secret_is_shown_only_at_creation_and_rotation(client, hooks):
    admin = hooks.headers["admin"]
    created = _create(client, admin, types=["deal.won", "contact.created"])
    secret = created["secret"]
    assert secret.startswith("whsec_") and created["location"] == f"/api/v1/webhooks/{created['id']}"
    assert created["eventTypes"] == ["contact.created", "deal.won"] and created["isActive"] is True
    path = f"{API}/webhooks/{created['id']}"

    got = assert_success(client.get(path, headers=hooks.headers["reader"]))
    assert "secret" not in got and secret not in str(got) and "secretEncrypted" not in got
    items, _ = assert_paginated(client.get(f"{API}/webhooks?limit=100", headers=admin), limit=100)
    assert created["id"] in {i["id"] for i in items} and secret not in str(items)

    patched = assert_success(
        client.patch(path, headers=admin, json={"eventTypes": ["deal.lost"], "isActive": False, "version": 1})
    )
    assert (patched["eventTypes"], patched["isActive"], patched["version"]) == (["deal.lost"], False, 2)
    assert "secret" not in patched
    assert_error(client.patch(path, headers=admin, json={"description": "x", "version": 1}), 409)

    rotated = assert_success(client.post(f"{path}/rotate-secret", headers=admin))
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != secret
    stored = owner_rows("SELECT to_jsonb(w)::text AS j FROM webhooks w WHERE id = :id", id=created["id"])[0].j
    audit = owner_rows("SELECT coalesce(string_agg(to_jsonb(a)::text, ''), '') AS j FROM audit_logs a")[0].j
    for plain in (secret, rotated["secret"]):
        assert plain not in stored and plain not in audit

    assert client.delete(path, headers=admin).status_code == 204
    assert_error(client.get(path, headers=admin), 404, "NOT_FOUND")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "http://hooks.example.com/x", "eventTypes": ["deal.won"]}, "url"),
        ({"url": "ftp://hooks.example.com/x", "eventTypes": ["deal.won"]}, "url"),
        ({"url": "https://hooks.example.com/x", "eventTypes": ["*"]}, "eventTypes"),
        ({"url": "https://hooks.example.com/x", "eventTypes": ["deal.exploded"]}, "eventTypes"),
        ({"url": "https://hooks.example.com/x", "eventTypes": []}, None),
        ({"url": "https://hooks.example.com/x", "eventTypes": ["deal.won"], "secret": "mine"}, None),
    ],
)
def test_bad_input_is_refused(client, hooks, body, field):
    before = owner_count("webhooks", hooks.home.tenant_id)
    error = assert_error(client.post(f"{API}/webhooks", headers=hooks.headers["admin"], json=body), 400)
    if field is not None:
        assert error["details"][0]["field"] == field
    assert owner_count("webhooks", hooks.home.tenant_id) == before


def test_the_catalogue(client, hooks):
    types = assert_success(client.get(f"{API}/webhooks/event-types", headers=hooks.headers["reader"]))
    names = [t["type"] for t in types]
    assert {"contact.created", "deal.stage_changed", "deal.won", "deal.lost", "task.completed"} <= set(names)
    assert "*" not in names and all(t["description"] for t in types)


def test_a_contact_created_through_the_api_is_delivered_and_pinged(client, hooks, receiver: Receiver):
    admin = hooks.headers["admin"]
    created = _create(client, admin, url=receiver.url)
    receiver.secret = created["secret"]
    resp = client.post(f"{API}/contacts", headers=admin, json={"firstName": "Łukasz", "lastName": "Webhook"})
    contact = assert_success(resp, 201)
    queue.drain(20)
    [got] = receiver.requests
    assert got.valid and got.json["type"] == "contact.created" and got.json["data"]["entityId"] == contact["id"]

    ping = assert_success(client.post(f"{API}/webhooks/{created['id']}/ping", headers=admin), 202)
    assert (ping["eventType"], ping["status"]) == ("webhook.ping", "pending")
    queue.drain(20)
    assert len(receiver.requests) == 2 and receiver.requests[1].valid
    assert receiver.requests[1].json["type"] == "webhook.ping"

    log, page = assert_paginated(client.get(f"{API}/webhooks/{created['id']}/deliveries", headers=admin))
    assert page["total"] == 2
    assert [d["eventType"] for d in log] == ["webhook.ping", "contact.created"]  # newest first
    assert all(d["status"] == "succeeded" and d["responseStatus"] == 200 and d["attempts"] == 1 for d in log)
    assert all(d["durationMs"] is not None and d["deliveredAt"] for d in log)
    client.delete(f"{API}/webhooks/{created['id']}", headers=admin)
