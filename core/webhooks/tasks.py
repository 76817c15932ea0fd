"""Webhook delivery jobs.

`webhooks.fanout` runs once per outbox event of a catalogue type (subscribed below): it creates one
WebhookDelivery per active webhook of the tenant that listens to the type (unique per webhook and event, so
a repeated run adds nothing) and queues one `webhooks.deliver` job per delivery (deduplicated by delivery).

`webhooks.deliver` POSTs the signed JSON body, outside any database transaction, records the attempt and, on
anything but a 2xx, raises so the runner retries with exponential backoff. After the last attempt the
delivery is failed and the webhook's `consecutive_failures` grows; at `DISABLE_AFTER_FAILURES` the webhook is
disabled. A 2xx resets the count. Redirects are never followed.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
from sqlalchemy import any_, exists, literal, select
from sqlalchemy.orm import Session

from core.errors import DomainError
from core.events.models import Event
from core.events.service import subscribe
from core.jobs import registry
from core.jobs.registry import JobContext, handler
from core.webhooks import service as webhooks
from core.webhooks.models import Webhook, WebhookDelivery

DELIVER_MAX_ATTEMPTS = 6
DELIVER_BACKOFF_SECONDS = 30.0
DISABLE_AFTER_FAILURES = 10
TIMEOUT = httpx.Timeout(10.0, connect=10.0, read=10.0)
EXCERPT_CHARS = 1000
USER_AGENT = "ClientForge-Webhooks/1"


class DeliveryFailed(Exception):
    """An attempt that did not get a 2xx; the runner retries it."""


@handler(webhooks.FANOUT_JOB, max_attempts=5, backoff_seconds=2.0)
def fanout(ctx: JobContext) -> dict[str, Any]:
    event_id = UUID(str(ctx.params["event_id"]))
    event_type = str(ctx.params["type"])
    with ctx.unit_of_work() as session:
        targets = session.scalars(
            select(Webhook).where(
                Webhook.tenant_id == ctx.tenant_id,
                Webhook.is_active.is_(True),
                literal(event_type) == any_(Webhook.event_types),
            )
        ).all()
        deliveries = [
            webhooks.queue_delivery(session, ctx.actor, webhook, event_id=event_id, event_type=event_type)
            for webhook in targets
        ]
    return {"deliveries": len(deliveries)}


@handler(webhooks.DELIVER_JOB, max_attempts=DELIVER_MAX_ATTEMPTS, backoff_seconds=DELIVER_BACKOFF_SECONDS)
def deliver_job(ctx: JobContext) -> dict[str, Any]:
    spec = registry.get_handler(ctx.kind)
    max_attempts = spec.max_attempts if spec is not None else DELIVER_MAX_ATTEMPTS
    retry_in = spec.retry_in(ctx.attempt) if spec is not None else None
    return deliver(
        ctx,
        UUID(str(ctx.params["delivery_id"])),
        final=ctx.attempt >= max_attempts,
        retry_in=retry_in,
        disable_after=DISABLE_AFTER_FAILURES,
    )


def _body(session: Session, delivery: WebhookDelivery, webhook: Webhook) -> bytes:
    if delivery.event_type == webhooks.PING_EVENT:
        created = delivery.created_at
        data: dict[str, Any] = {"webhookId": str(webhook.id), "message": "ping"}
    else:
        event = session.scalar(
            select(Event).where(Event.tenant_id == delivery.tenant_id, Event.id == delivery.event_id)
        )
        if event is None:
            raise DomainError("The event of this delivery no longer exists")
        created = event.created_at
        data = {
            "entityType": event.entity_type,
            "entityId": str(event.entity_id) if event.entity_id else None,
            **(event.payload or {}),
        }
    body = {
        "id": str(delivery.event_id),
        "type": delivery.event_type,
        "createdAt": created.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "tenantId": str(delivery.tenant_id),
        "data": data,
    }
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def _post(url: str, headers: dict[str, str], body: bytes) -> tuple[int | None, str | None, str | None]:
    """(status, response excerpt, error). Never follows redirects; reads at most a few KB of the answer."""
    try:
        with (
            httpx.Client(timeout=TIMEOUT, follow_redirects=False, trust_env=False) as client,
            client.stream("POST", url, content=body, headers=headers) as response,
        ):
            raw = b""
            for chunk in response.iter_bytes():
                raw += chunk
                if len(raw) >= 4 * EXCERPT_CHARS:
                    break
            excerpt = raw.decode("utf-8", errors="replace")[:EXCERPT_CHARS]
            error = None if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"
            return response.status_code, excerpt, error
    except httpx.HTTPError as exc:
        return None, None, f"{type(exc).__name__}: {str(exc)[:500]}"


def deliver(
    ctx: JobContext,
    delivery_id: UUID,
    *,
    final: bool,
    retry_in: float | None,
    disable_after: int = DISABLE_AFTER_FAILURES,
) -> dict[str, Any]:
    """One attempt of one delivery (see the module docstring). Raises DeliveryFailed to be retried."""
    with ctx.unit_of_work() as session:
        delivery = session.scalar(
            select(WebhookDelivery).where(WebhookDelivery.tenant_id == ctx.tenant_id, WebhookDelivery.id == delivery_id)
        )
        if delivery is None:
            return {"skipped": "delivery no longer exists"}
        if delivery.status != "pending":
            return {"skipped": f"already {delivery.status}"}
        webhook = session.get(Webhook, delivery.webhook_id)
        assert webhook is not None  # deleting the webhook deletes its deliveries
        is_ping = delivery.event_type == webhooks.PING_EVENT
        if not webhook.is_active and not is_ping:
            delivery.status, delivery.error = "failed", "The webhook is disabled"
            return {"skipped": "webhook disabled"}
        try:
            url = webhooks.check_url(webhook.url)
            body = _body(session, delivery, webhook)
            secret = webhooks.signing_secret(webhook)
        except DomainError as exc:
            delivery.status, delivery.error = "failed", exc.message
            delivery.attempts += 1
            return {"failed": exc.message}
        delivery.attempts += 1
        attempts = delivery.attempts
        event_type = delivery.event_type
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-ClientForge-Event": event_type,
        "X-ClientForge-Delivery": str(delivery_id),
        "X-ClientForge-Timestamp": str(timestamp),
        "X-ClientForge-Signature": webhooks.sign(secret, timestamp, body),
    }
    started = time.monotonic()
    status, excerpt, error = _post(url, headers, body)
    duration_ms = int((time.monotonic() - started) * 1000)
    succeeded = error is None
    now = datetime.now(UTC)
    last = final or is_ping
    with ctx.unit_of_work() as session:
        delivery = session.scalar(
            select(WebhookDelivery)
            .where(WebhookDelivery.tenant_id == ctx.tenant_id, WebhookDelivery.id == delivery_id)
            .with_for_update()
        )
        if delivery is None:
            return {"skipped": "delivery no longer exists"}
        delivery.response_status, delivery.response_excerpt = status, excerpt
        delivery.error, delivery.duration_ms = error, duration_ms
        webhook = session.scalar(select(Webhook).where(Webhook.id == delivery.webhook_id).with_for_update())
        assert webhook is not None
        if succeeded:
            delivery.status, delivery.delivered_at, delivery.next_attempt_at = "succeeded", now, None
            if not is_ping:
                webhook.consecutive_failures = 0
        elif last:
            delivery.status, delivery.next_attempt_at = "failed", None
            if not is_ping:
                _count_failure(webhook, now, disable_after)
        else:
            delivery.next_attempt_at = now + timedelta(seconds=retry_in or 0)
    if succeeded or is_ping:
        return {"status": status, "attempts": attempts, "error": error}
    # The runner retries, or (after the last attempt) records the job as failed like the delivery.
    raise DeliveryFailed(error or "delivery failed")


def _count_failure(webhook: Webhook, now: datetime, disable_after: int) -> None:
    webhook.consecutive_failures += 1
    if webhook.is_active and webhook.consecutive_failures >= disable_after:
        webhook.is_active = False
        webhook.disabled_at = now
        webhook.disabled_reason = f"Disabled after {webhook.consecutive_failures} consecutive failed deliveries"


def _has_webhooks(session: Session, tenant_id: UUID, event_type: str) -> bool:
    """A fan-out job only for tenants with an active webhook for the event type."""
    return bool(
        session.scalar(
            select(
                exists().where(
                    Webhook.tenant_id == tenant_id,
                    Webhook.is_active.is_(True),
                    literal(event_type) == any_(Webhook.event_types),
                )
            )
        )
    )


for _event_type in webhooks.EVENT_TYPES:
    subscribe(_event_type, webhooks.FANOUT_JOB, when=_has_webhooks)
