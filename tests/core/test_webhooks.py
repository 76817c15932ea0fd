"""Webhooks end to end: service rules, and delivery by the real worker code (drained in-process) to a real
local HTTP receiver that verifies every signature."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from uuid import UUID

import pytest

from core.actor import Actor
from core.contacts import service as contacts
from core.contacts.schemas import ContactCreate
from core.db import unit_of_work
from core.errors import NotFound, PermissionDenied, ValidationFailed
from core.jobs import queue, registry
from core.jobs.registry import handler
from core.webhooks import service as webhooks
from core.webhooks import tasks
from core.webhooks.models import Webhook, WebhookDelivery
from core.webhooks.schemas import WebhookCreate, WebhookRead, WebhookUpdate
from tests.core.conftest import owner_rows
from tests.factories import TenantWorld
from tests.support.webhook_receiver import Receiver, running_receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as found:
        yield found


@pytest.fixture
def fast_retries() -> Iterator[None]:
    """Register the deliverer with a short backoff (3 attempts) for the test, then restore it."""
    original = registry.get_handler(webhooks.DELIVER_JOB)
    assert original is not None
    handler(webhooks.DELIVER_JOB, max_attempts=3, backoff_seconds=0.05)(tasks.deliver_job)
    yield
    handler(webhooks.DELIVER_JOB, max_attempts=original.max_attempts, backoff_seconds=original.backoff_seconds)(
        tasks.deliver_job
    )


def _register(world: TenantWorld, receiver: Receiver, types: list[str] | None = None, **extra) -> Webhook:
    admin = world.admin
    with unit_of_work(admin) as session:
        webhook, secret = webhooks.create(
            session, admin, WebhookCreate(url=receiver.url, event_types=types or ["contact.created"], **extra)
        )
    receiver.secret = secret
    return webhook


def _new_contact(actor: Actor, first: str = "Ada") -> UUID:
    with unit_of_work(actor) as session:
        return contacts.create(session, actor, ContactCreate(first_name=first, last_name=secrets.token_hex(3))).id


def _deliveries(world: TenantWorld, webhook_id: UUID) -> list[WebhookDelivery]:
    admin = world.admin
    with unit_of_work(admin) as session:
        rows, _ = webhooks.list_deliveries(session, admin, webhook_id)
        return rows


def _webhook(world: TenantWorld, webhook_id: UUID) -> Webhook:
    admin = world.admin
    with unit_of_work(admin) as session:
        return webhooks.get(session, admin, webhook_id)


def test_a_created_contact_reaches_the_receiver_once_signed(tenant, other_tenant, receiver, fast_retries):
    webhook = _register(tenant, receiver)
    with unit_of_work(tenant.admin) as session:
        webhooks.create(session, tenant.admin, WebhookCreate(url=receiver.url, event_types=["deal.won"]))
        webhooks.create(
            session, tenant.admin, WebhookCreate(url=receiver.url, event_types=["contact.created"], is_active=False)
        )
    contact_id = _new_contact(tenant.admin, "Zoë")
    _new_contact(other_tenant.admin)  # another tenant's event never reaches this tenant's endpoint
    queue.drain(20)
    queue.drain(5)  # a second run delivers nothing again
    assert len(receiver.requests) == 1  # not the deal.won or the inactive subscriber, nor the other tenant's
    got = receiver.requests[0]
    assert got.valid and got.answered == 200
    body = got.json
    assert set(body) == {"id", "type", "createdAt", "tenantId", "data"}
    assert body["type"] == "contact.created" and body["tenantId"] == str(tenant.tenant_id)
    assert body["data"]["entityId"] == str(contact_id) and body["data"]["record"]["firstName"] == "Zoë"
    assert got.headers["x-clientforge-event"] == "contact.created"
    [delivery] = _deliveries(tenant, webhook.id)
    assert got.headers["x-clientforge-delivery"] == str(delivery.id)
    assert str(delivery.event_id) == body["id"]
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("succeeded", 1, 200)
    assert delivery.delivered_at is not None and delivery.duration_ms is not None
    assert '"received":true' in (delivery.response_excerpt or "").replace(" ", "")


def test_events_start_a_fanout_job_only_where_a_webhook_wants_them(tenant, other_tenant, receiver, fast_retries):
    """A tenant without an active webhook for the type costs no job per event (imports emit thousands)."""
    _register(tenant, receiver, ["contact.created"])
    with unit_of_work(other_tenant.admin) as session:
        webhooks.create(session, other_tenant.admin, WebhookCreate(url=receiver.url, event_types=["deal.won"]))
    _new_contact(tenant.admin)
    _new_contact(other_tenant.admin)
    queue.dispatch_events()
    fanouts = owner_rows(
        "SELECT tenant_id FROM jobs WHERE kind = :kind AND tenant_id IN (:a, :b)",
        kind=webhooks.FANOUT_JOB,
        a=tenant.tenant_id,
        b=other_tenant.tenant_id,
    )
    assert [r.tenant_id for r in fanouts] == [tenant.tenant_id]


def test_the_fanout_is_idempotent(tenant, receiver, fast_retries):
    webhook = _register(tenant, receiver)
    _new_contact(tenant.admin)
    queue.drain(20)
    [delivery] = _deliveries(tenant, webhook.id)
    system = Actor.system(tenant.tenant_id)
    with unit_of_work(system) as session:  # the event delivered again (at-least-once outbox)
        again = webhooks.queue_delivery(
            session, system, _webhook(tenant, webhook.id), event_id=delivery.event_id, event_type="contact.created"
        )
    assert again == delivery.id
    queue.drain(5)
    assert len(receiver.requests) == 1 and len(_deliveries(tenant, webhook.id)) == 1


def test_failures_are_retried_with_backoff_until_a_2xx(tenant, receiver, fast_retries):
    webhook = _register(tenant, receiver)
    receiver.statuses = [500, 500]
    _new_contact(tenant.admin)
    queue.drain(20)
    assert [r.answered for r in receiver.requests] == [500, 500, 200]
    assert all(r.valid for r in receiver.requests)
    assert len({r.headers["x-clientforge-delivery"] for r in receiver.requests}) == 1
    [delivery] = _deliveries(tenant, webhook.id)
    assert (delivery.status, delivery.attempts, delivery.response_status, delivery.error) == ("succeeded", 3, 200, None)
    job = owner_rows(
        "SELECT status, attempts FROM jobs WHERE tenant_id = :t AND kind = :k", t=tenant.tenant_id, k="webhooks.deliver"
    )
    assert [(j.status, j.attempts) for j in job] == [("succeeded", 3)]
    assert _webhook(tenant, webhook.id).consecutive_failures == 0


def test_a_failing_endpoint_fails_deliveries_and_is_disabled_after_n(tenant, receiver, fast_retries, monkeypatch):
    monkeypatch.setattr(tasks, "DISABLE_AFTER_FAILURES", 2)
    webhook = _register(tenant, receiver)
    receiver.default_status = 503
    _new_contact(tenant.admin)
    queue.drain(20)
    [first] = _deliveries(tenant, webhook.id)
    assert (first.status, first.attempts, first.response_status, first.error) == ("failed", 3, 503, "HTTP 503")
    hook = _webhook(tenant, webhook.id)
    assert (hook.is_active, hook.consecutive_failures) == (True, 1)

    _new_contact(tenant.admin)
    queue.drain(20)
    hook = _webhook(tenant, webhook.id)
    assert (hook.is_active, hook.consecutive_failures) == (False, 2)
    assert hook.disabled_at is not None and "2 consecutive" in (hook.disabled_reason or "")
    assert len(receiver.requests) == 6

    _new_contact(tenant.admin)  # disabled: nothing more is sent
    queue.drain(10)
    assert len(receiver.requests) == 6 and len(_deliveries(tenant, webhook.id)) == 2

    with unit_of_work(tenant.admin) as session:  # re-activating starts the count again
        again = webhooks.update(session, tenant.admin, webhook.id, WebhookUpdate(is_active=True))
        assert (again.consecutive_failures, again.disabled_at, again.disabled_reason) == (0, None, None)


def test_ping_and_secret_rotation(tenant, receiver, fast_retries):
    webhook = _register(tenant, receiver)
    old_secret = receiver.secret
    with unit_of_work(tenant.admin) as session:
        delivery = webhooks.ping(session, tenant.admin, webhook.id)
        assert (delivery.event_type, delivery.status) == ("webhook.ping", "pending")
    queue.drain(20)
    [got] = receiver.requests
    assert got.valid and got.json["type"] == "webhook.ping" and got.json["data"]["webhookId"] == str(webhook.id)
    [logged] = _deliveries(tenant, webhook.id)
    assert (logged.status, logged.attempts) == ("succeeded", 1)

    with unit_of_work(tenant.admin) as session:
        _, new_secret = webhooks.rotate_secret(session, tenant.admin, webhook.id)
    assert new_secret != old_secret and new_secret.startswith("whsec_")
    receiver.secret = new_secret
    with unit_of_work(tenant.admin) as session:
        webhooks.ping(session, tenant.admin, webhook.id)
    queue.drain(20)
    assert receiver.requests[-1].valid and receiver.requests[-1].answered == 200

    receiver.secret = old_secret  # a receiver still holding the old secret rejects; a ping is tried once
    with unit_of_work(tenant.admin) as session:
        webhooks.ping(session, tenant.admin, webhook.id)
    queue.drain(20)
    assert not receiver.requests[-1].valid and len(receiver.requests) == 3
    newest = _deliveries(tenant, webhook.id)[0]
    assert (newest.status, newest.attempts, newest.response_status) == ("failed", 1, 401)
    assert _webhook(tenant, webhook.id).consecutive_failures == 0


def test_the_secret_is_stored_encrypted_and_never_read_back(tenant, receiver):
    webhook = _register(tenant, receiver)
    secret = receiver.secret
    assert secret is not None
    [row] = owner_rows("SELECT to_jsonb(w)::text AS j, secret_encrypted FROM webhooks w WHERE id = :id", id=webhook.id)
    assert secret not in row.j and row.secret_encrypted.startswith("v1:")
    audit = owner_rows("SELECT coalesce(string_agg(to_jsonb(a)::text, ''), '') AS j FROM audit_logs a")
    assert secret not in audit[0].j
    read = WebhookRead.model_validate(_webhook(tenant, webhook.id)).model_dump(by_alias=True)
    assert "secret" not in read and "secretEncrypted" not in read and secret not in str(read)
    assert webhooks.signing_secret(_webhook(tenant, webhook.id)) == secret


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://hooks.example.com/x", True),
        ("http://127.0.0.1:9/x", True),
        ("http://localhost:9/x", True),
        ("http://hooks.example.com/x", False),
        ("ftp://hooks.example.com/x", False),
        ("file:///etc/passwd", False),
        ("https://user:pw@hooks.example.com/", False),
        ("hooks.example.com", False),
    ],
)
def test_urls(url: str, ok: bool):
    if ok:
        assert webhooks.check_url(url) == url
    else:
        with pytest.raises(ValidationFailed):
            webhooks.check_url(url)


def test_http_to_localhost_is_refused_outside_development_and_tests(monkeypatch):
    class Prod:
        env = "production"

    monkeypatch.setattr(webhooks, "get_settings", lambda: Prod())
    with pytest.raises(ValidationFailed, match="https"):
        webhooks.check_url("http://127.0.0.1:9/x")
    assert webhooks.check_url("https://hooks.example.com") == "https://hooks.example.com"


def test_event_types_come_from_the_catalogue(tenant):
    admin = tenant.admin
    catalogue = {e["type"] for e in webhooks.event_types(admin)}
    assert {"contact.created", "deal.stage_changed", "deal.won", "deal.lost", "task.completed"} <= catalogue
    for bad in (["*"], ["contact.exploded"], []):
        with pytest.raises((ValidationFailed, ValueError)), unit_of_work(admin) as session:
            webhooks.create(session, admin, WebhookCreate(url="https://h.example.com", event_types=bad))
    with unit_of_work(admin) as session:
        hook, _ = webhooks.create(
            session,
            admin,
            WebhookCreate(url="https://h.example.com", event_types=["deal.won", "deal.won", "deal.lost"]),
        )
        assert hook.event_types == ["deal.lost", "deal.won"]


def test_permissions_and_tenancy(tenant, other_tenant):
    admin = tenant.admin
    with unit_of_work(admin) as session:
        hook, _ = webhooks.create(session, admin, WebhookCreate(url="https://h.example.com", event_types=["deal.won"]))
    manager = tenant.actor(tenant.add_user("manager"))
    rep = tenant.actor(tenant.add_user("rep"))
    with unit_of_work(manager) as session:
        assert webhooks.get(session, manager, hook.id).id == hook.id
        with pytest.raises(PermissionDenied):
            webhooks.update(session, manager, hook.id, WebhookUpdate(description="x"))
        with pytest.raises(PermissionDenied):
            webhooks.ping(session, manager, hook.id)
    with unit_of_work(rep) as session, pytest.raises(PermissionDenied):
        webhooks.list_webhooks(session, rep)
    stranger = other_tenant.admin
    with unit_of_work(stranger) as session:
        for call in (webhooks.get, webhooks.delete, webhooks.ping, webhooks.rotate_secret, webhooks.list_deliveries):
            with pytest.raises(NotFound):
                call(session, stranger, hook.id)
        assert webhooks.list_webhooks(session, stranger) == ([], 0)
