"""Webhooks: tenants register endpoints for event types; the worker delivers signed JSON (core.webhooks.tasks).

Permissions `webhooks:read` (list, get, deliveries, catalogue) and `webhooks:manage` (everything else). The
signing secret is generated here, stored encrypted (AES-GCM, the tenant id as context) and returned only by
`create` and `rotate_secret`. Services never commit.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from urllib.parse import urlsplit
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.actor import Actor
from core.config import get_settings
from core.crypto import decrypt, encrypt
from core.errors import NotFound, ValidationFailed
from core.ids import new_id
from core.jobs import service as jobs
from core.versioning import check_version
from core.webhooks.models import Webhook, WebhookDelivery
from core.webhooks.schemas import WebhookCreate, WebhookUpdate

RESOURCE = "webhooks"
DELIVER_JOB = "webhooks.deliver"
FANOUT_JOB = "webhooks.fanout"
PING_EVENT = "webhook.ping"
SECRET_PREFIX = "whsec_"
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
LOCAL_ENVS = frozenset({"development", "test"})

# The event types the services emit, which endpoints may subscribe to (no wildcard: a new event type is an
# explicit opt-in, so a receiver never gets a payload shape it was not written for).
EVENT_TYPES: dict[str, str] = {
    "account.created": "An account was created",
    "account.updated": "An account was changed",
    "account.deleted": "An account was deleted",
    "contact.created": "A contact (lead) was created",
    "contact.updated": "A contact was changed",
    "contact.deleted": "A contact was deleted",
    "contact.converted": "A lead was converted into a deal",
    "deal.created": "A deal was created",
    "deal.updated": "A deal was changed",
    "deal.stage_changed": "A deal moved to another stage",
    "deal.won": "A deal was won",
    "deal.lost": "A deal was lost",
    "deal.deleted": "A deal was deleted",
    "activity.created": "A call, meeting or email was logged",
    "activity.updated": "An activity was changed",
    "activity.deleted": "An activity was deleted",
    "task.created": "A task was created",
    "task.updated": "A task was changed",
    "task.completed": "A task was completed",
    "task.deleted": "A task was deleted",
    "note.created": "A note was added",
    "note.updated": "A note was changed",
    "note.deleted": "A note was deleted",
}


def event_types(actor: Actor) -> list[dict[str, str]]:
    """The catalogue of subscribable event types, in a stable order."""
    actor.require(RESOURCE, "read")
    return [{"type": name, "description": text} for name, text in EVENT_TYPES.items()]


def check_url(url: str) -> str:
    """The URL if deliveries may go there: https://, or http:// to this machine in development and tests.

    Raises ValidationFailed otherwise. Also checked again before every delivery.
    """
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()

    def refuse(message: str) -> ValidationFailed:
        return ValidationFailed(f"Invalid webhook URL: {message}", details=[{"field": "url", "message": message}])

    if parts.scheme not in ("http", "https") or not host:
        raise refuse("must be an absolute https:// URL")
    if parts.username is not None or parts.password is not None:
        raise refuse("must not contain credentials")
    try:
        parts.port  # noqa: B018 - raises on an invalid port
    except ValueError as exc:
        raise refuse("invalid port") from exc
    if parts.scheme == "http":
        local = host in LOCAL_HOSTS or _is_loopback(host)
        if not (local and get_settings().env in LOCAL_ENVS):
            raise refuse("must use https://")
    return url.strip()


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_event_types(types: list[str]) -> list[str]:
    unknown = sorted({t for t in types if t not in EVENT_TYPES})
    if unknown:
        raise ValidationFailed(
            f"Unknown event types: {', '.join(unknown)}",
            details=[{"field": "eventTypes", "message": f"unknown: {', '.join(unknown)}"}],
        )
    return sorted(set(types))


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def _seal(actor: Actor, secret: str) -> str:
    return encrypt(secret, context=str(actor.tenant_id))


def signing_secret(webhook: Webhook) -> str:
    """The plaintext secret (for the deliverer only)."""
    return decrypt(webhook.secret_encrypted, context=str(webhook.tenant_id))


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """`v1=<hex HMAC-SHA256 of "<timestamp>.<body>">`, the X-ClientForge-Signature header value."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"v1={digest}"


def get(session: Session, actor: Actor, webhook_id: UUID) -> Webhook:
    """A webhook of the actor's tenant; NotFound otherwise."""
    actor.require(RESOURCE, "read")
    webhook = session.scalar(actor.readable(Webhook).where(Webhook.id == webhook_id))
    if webhook is None:
        raise NotFound("Webhook not found")
    return webhook


def list_webhooks(session: Session, actor: Actor, *, limit: int = 50, offset: int = 0) -> tuple[list[Webhook], int]:
    """Newest first, with the total for pagination."""
    actor.require(RESOURCE, "read")
    statement = actor.readable(Webhook)
    total = session.scalar(select(func.count()).select_from(statement.subquery())) or 0
    rows = session.scalars(statement.order_by(Webhook.created_at.desc(), Webhook.id.desc()).limit(limit).offset(offset))
    return list(rows), total


def create(session: Session, actor: Actor, data: WebhookCreate) -> tuple[Webhook, str]:
    """Register an endpoint; returns it with its new signing secret (the only time it is shown)."""
    actor.require(RESOURCE, "manage")
    secret = new_secret()
    webhook = Webhook(
        id=new_id(),
        tenant_id=actor.tenant_id,
        url=check_url(data.url),
        description=data.description,
        event_types=_check_event_types(data.event_types),
        secret_encrypted=_seal(actor, secret),
        is_active=data.is_active,
        consecutive_failures=0,
        created_by=actor.user_id,
    )
    session.add(webhook)
    session.flush()
    return webhook, secret


def update(session: Session, actor: Actor, webhook_id: UUID, data: WebhookUpdate) -> Webhook:
    """Change URL, description, event types or active flag. Re-activating clears the failure count."""
    actor.require(RESOURCE, "manage")
    webhook = get(session, actor, webhook_id)
    check_version(webhook, data.version)
    changes = data.model_dump(exclude_unset=True, exclude={"version"})
    for key in ("url", "event_types", "is_active"):
        if key in changes and changes[key] is None:
            raise ValidationFailed(f"{key} cannot be null", details=[{"field": key, "message": "must not be null"}])
    if "url" in changes:
        changes["url"] = check_url(changes["url"])
    if "event_types" in changes:
        changes["event_types"] = _check_event_types(changes["event_types"])
    if changes.get("is_active") is True and not webhook.is_active:
        webhook.consecutive_failures = 0
        webhook.disabled_at = None
        webhook.disabled_reason = None
    for key, value in changes.items():
        setattr(webhook, key, value)
    session.flush()
    return webhook


def rotate_secret(session: Session, actor: Actor, webhook_id: UUID) -> tuple[Webhook, str]:
    """Replace the signing secret; the old one stops working for deliveries signed from now on."""
    actor.require(RESOURCE, "manage")
    webhook = get(session, actor, webhook_id)
    secret = new_secret()
    webhook.secret_encrypted = _seal(actor, secret)
    session.flush()
    return webhook, secret


def delete(session: Session, actor: Actor, webhook_id: UUID) -> None:
    """Remove the endpoint and its delivery log; queued deliveries find nothing and stop."""
    actor.require(RESOURCE, "manage")
    webhook = get(session, actor, webhook_id)
    session.delete(webhook)
    session.flush()


def list_deliveries(
    session: Session, actor: Actor, webhook_id: UUID, *, limit: int = 50, offset: int = 0
) -> tuple[list[WebhookDelivery], int]:
    """The delivery log of one webhook, newest first."""
    webhook = get(session, actor, webhook_id)
    statement = select(WebhookDelivery).where(
        WebhookDelivery.tenant_id == actor.tenant_id, WebhookDelivery.webhook_id == webhook.id
    )
    total = session.scalar(select(func.count()).select_from(statement.subquery())) or 0
    rows = session.scalars(
        statement.order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc()).limit(limit).offset(offset)
    )
    return list(rows), total


def queue_delivery(session: Session, actor: Actor, webhook: Webhook, *, event_id: UUID, event_type: str) -> UUID:
    """The delivery of one event to one webhook, created at most once, and its job (deduplicated)."""
    from sqlalchemy.dialects.postgresql import insert

    session.execute(
        insert(WebhookDelivery)
        .values(
            id=new_id(),
            tenant_id=webhook.tenant_id,
            webhook_id=webhook.id,
            event_id=event_id,
            event_type=event_type,
            status="pending",
            attempts=0,
        )
        .on_conflict_do_nothing(index_elements=[WebhookDelivery.webhook_id, WebhookDelivery.event_id])
    )
    delivery_id = session.scalar(
        select(WebhookDelivery.id).where(
            WebhookDelivery.tenant_id == webhook.tenant_id,
            WebhookDelivery.webhook_id == webhook.id,
            WebhookDelivery.event_id == event_id,
        )
    )
    assert delivery_id is not None
    jobs.enqueue(
        session,
        actor,
        DELIVER_JOB,
        {"delivery_id": str(delivery_id)},
        dedupe_key=f"webhook-delivery:{delivery_id}",
    )
    return delivery_id


def ping(session: Session, actor: Actor, webhook_id: UUID) -> WebhookDelivery:
    """Queue a `webhook.ping` delivery now (also to an inactive endpoint, to test it before re-activating).

    A ping is tried once and never counts toward automatic disabling."""
    actor.require(RESOURCE, "manage")
    webhook = get(session, actor, webhook_id)
    delivery_id = queue_delivery(session, actor, webhook, event_id=new_id(), event_type=PING_EVENT)
    delivery = session.get(WebhookDelivery, delivery_id)
    assert delivery is not None
    return delivery


__all__ = [
    "EVENT_TYPES",
    "check_url",
    "create",
    "delete",
    "event_types",
    "get",
    "list_deliveries",
    "list_webhooks",
    "ping",
    "rotate_secret",
    "sign",
    "update",
]
