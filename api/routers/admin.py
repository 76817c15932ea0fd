"""The tenant's own settings and its audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query

from api.deps import CurrentActor, Paging, SessionDep, requires
from api.envelope import Envelope, PagedEnvelope, error_responses, ok, paged
from core.audit import service as audit
from core.schemas import PlainText, ReadSchema
from core.tenants import service as tenants
from core.tenants.schemas import TenantRead, TenantUpdate

router = APIRouter(tags=["workspace"])
ERRORS = error_responses(400, 401, 403, 404, 409)


class AuditEntry(ReadSchema):
    id: UUID
    user_id: UUID | None
    api_key_id: UUID | None
    entity_type: str
    entity_id: UUID | None
    action: str
    old_values: dict[str, Any] | None
    new_values: dict[str, Any] | None
    ip_address: Any | None
    user_agent: str | None
    request_id: str | None
    via: str | None
    created_at: datetime


@router.get(
    "/tenant",
    response_model=Envelope[TenantRead],
    dependencies=[requires("settings", "read")],
    responses=ERRORS,
)
def get_tenant(actor: CurrentActor, session: SessionDep) -> dict:
    return ok(TenantRead.model_validate(tenants.get_current(session, actor)).model_dump(mode="json", by_alias=True))


@router.patch(
    "/tenant",
    response_model=Envelope[TenantRead],
    dependencies=[requires("settings", "manage")],
    responses=ERRORS,
)
def update_tenant(body: TenantUpdate, actor: CurrentActor, session: SessionDep) -> dict:
    tenant = tenants.update(session, actor, body)
    return ok(TenantRead.model_validate(tenant).model_dump(mode="json", by_alias=True))


@router.get(
    "/audit-logs",
    response_model=PagedEnvelope[AuditEntry],
    dependencies=[requires("audit_logs", "read")],
    responses=ERRORS,
)
def audit_logs(
    actor: CurrentActor,
    session: SessionDep,
    paging: Paging,
    entity_type: Annotated[PlainText | None, Query(alias="entityType", max_length=50)] = None,
    entity_id: Annotated[UUID | None, Query(alias="entityId")] = None,
    action: Annotated[PlainText | None, Query(max_length=50)] = None,
) -> dict:
    rows, total = audit.list_entries(
        session,
        actor,
        entity_type=entity_type,
        entity_id=entity_id,
        action=action,
        limit=paging.limit,
        offset=paging.offset,
    )
    items = [AuditEntry.model_validate(r).model_dump(mode="json", by_alias=True) for r in rows]
    return paged(items, page=paging.page, limit=paging.limit, total=total)
