"""Webhooks: `/api/v1/webhooks`. Endpoints receive signed JSON for the event types they subscribe to."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Response, status

from api.deps import CurrentActor, Paging, SessionDep, requires
from api.envelope import Envelope, PagedEnvelope, error_responses, ok, paged
from core.webhooks import service as webhooks
from core.webhooks.models import Webhook, WebhookDelivery
from core.webhooks.schemas import (
    EventTypeRead,
    WebhookCreate,
    WebhookDeliveryRead,
    WebhookRead,
    WebhookUpdate,
    WebhookWithSecret,
)

router = APIRouter(prefix="/webhooks", tags=["webhooks"])

ERRORS = error_responses(400, 401, 403, 404, 409)


def _webhook(webhook: Webhook, secret: str | None = None) -> dict:
    data = WebhookRead.model_validate(webhook).model_dump(mode="json", by_alias=True)
    if secret is not None:
        data["secret"] = secret
    return data


def _delivery(delivery: WebhookDelivery) -> dict:
    return WebhookDeliveryRead.model_validate(delivery).model_dump(mode="json", by_alias=True)


@router.get(
    "/event-types",
    response_model=Envelope[list[EventTypeRead]],
    dependencies=[requires("webhooks", "read")],
    responses=ERRORS,
)
def list_event_types(actor: CurrentActor) -> dict:
    """The event types an endpoint may subscribe to."""
    return ok(webhooks.event_types(actor))


@router.get(
    "", response_model=PagedEnvelope[WebhookRead], dependencies=[requires("webhooks", "read")], responses=ERRORS
)
def list_webhooks(actor: CurrentActor, session: SessionDep, paging: Paging) -> dict:
    rows, total = webhooks.list_webhooks(session, actor, limit=paging.limit, offset=paging.offset)
    return paged([_webhook(w) for w in rows], page=paging.page, limit=paging.limit, total=total)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=Envelope[WebhookWithSecret],
    dependencies=[requires("webhooks", "manage")],
    responses=ERRORS,
)
def create_webhook(body: WebhookCreate, actor: CurrentActor, session: SessionDep, response: Response) -> dict:
    """Register an endpoint. The signing secret is in the response, once: store it."""
    webhook, secret = webhooks.create(session, actor, body)
    response.headers["Location"] = f"/api/v1/webhooks/{webhook.id}"
    return ok(_webhook(webhook, secret))


@router.get(
    "/{webhook_id}",
    response_model=Envelope[WebhookRead],
    dependencies=[requires("webhooks", "read")],
    responses=ERRORS,
)
def get_webhook(webhook_id: UUID, actor: CurrentActor, session: SessionDep) -> dict:
    return ok(_webhook(webhooks.get(session, actor, webhook_id)))


@router.patch(
    "/{webhook_id}",
    response_model=Envelope[WebhookRead],
    dependencies=[requires("webhooks", "manage")],
    responses=ERRORS,
)
def update_webhook(webhook_id: UUID, body: WebhookUpdate, actor: CurrentActor, session: SessionDep) -> dict:
    """Change URL, description, event types or `isActive` (re-activating clears the failure count)."""
    return ok(_webhook(webhooks.update(session, actor, webhook_id, body)))


@router.delete("/{webhook_id}", status_code=204, dependencies=[requires("webhooks", "manage")], responses=ERRORS)
def delete_webhook(webhook_id: UUID, actor: CurrentActor, session: SessionDep) -> Response:
    webhooks.delete(session, actor, webhook_id)
    return Response(status_code=204)


@router.post(
    "/{webhook_id}/rotate-secret",
    response_model=Envelope[WebhookWithSecret],
    dependencies=[requires("webhooks", "manage")],
    responses=ERRORS,
)
def rotate_webhook_secret(webhook_id: UUID, actor: CurrentActor, session: SessionDep) -> dict:
    """A new signing secret, returned once; deliveries are signed with it from now on."""
    webhook, secret = webhooks.rotate_secret(session, actor, webhook_id)
    return ok(_webhook(webhook, secret))


@router.post(
    "/{webhook_id}/ping",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Envelope[WebhookDeliveryRead],
    dependencies=[requires("webhooks", "manage")],
    responses=ERRORS,
)
def ping_webhook(webhook_id: UUID, actor: CurrentActor, session: SessionDep) -> dict:
    """Queue a `webhook.ping` delivery now; its outcome appears in the delivery log."""
    return ok(_delivery(webhooks.ping(session, actor, webhook_id)))


@router.get(
    "/{webhook_id}/deliveries",
    response_model=PagedEnvelope[WebhookDeliveryRead],
    dependencies=[requires("webhooks", "read")],
    responses=ERRORS,
)
def list_webhook_deliveries(webhook_id: UUID, actor: CurrentActor, session: SessionDep, paging: Paging) -> dict:
    """The delivery log, newest first: status, attempts, response status and excerpt, duration."""
    rows, total = webhooks.list_deliveries(session, actor, webhook_id, limit=paging.limit, offset=paging.offset)
    return paged([_delivery(d) for d in rows], page=paging.page, limit=paging.limit, total=total)
