"""Custom field definitions: `/api/v1/custom-fields`. Values travel with their records (`customFields`)."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Response, status

from api.deps import CurrentActor, SessionDep, requires
from api.envelope import Envelope, error_responses, ok
from core.custom_fields import service as custom_fields
from core.custom_fields.models import CustomField
from core.custom_fields.schemas import CustomFieldCreate, CustomFieldRead, CustomFieldUpdate

router = APIRouter(prefix="/custom-fields", tags=["custom_fields"])

ERRORS = error_responses(400, 401, 403, 404, 409)


def _field(field: CustomField) -> dict:
    return custom_fields.to_read(field).model_dump(mode="json", by_alias=True)


@router.get(
    "",
    response_model=Envelope[list[CustomFieldRead]],
    dependencies=[requires("custom_fields", "read")],
    responses=ERRORS,
)
def list_custom_fields(
    actor: CurrentActor,
    session: SessionDep,
    entity_type: Annotated[
        Literal["contacts", "accounts", "deals"] | None, Query(alias="entityType", description="Only this record type")
    ] = None,
) -> dict:
    """The tenant's custom fields, by record type and display order."""
    return ok([_field(f) for f in custom_fields.list_fields(session, actor, entity_type=entity_type)])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=Envelope[CustomFieldRead],
    dependencies=[requires("custom_fields", "create")],
    responses=ERRORS,
)
def create_custom_field(body: CustomFieldCreate, actor: CurrentActor, session: SessionDep, response: Response) -> dict:
    """Define a field; select and multi_select fields need `fieldOptions`. The name is fixed once created."""
    field = custom_fields.create(session, actor, body)
    response.headers["Location"] = f"/api/v1/custom-fields/{field.id}"
    return ok(_field(field))


@router.get(
    "/{field_id}",
    response_model=Envelope[CustomFieldRead],
    dependencies=[requires("custom_fields", "read")],
    responses=ERRORS,
)
def get_custom_field(field_id: UUID, actor: CurrentActor, session: SessionDep) -> dict:
    return ok(_field(custom_fields.get(session, actor, field_id)))


@router.patch(
    "/{field_id}",
    response_model=Envelope[CustomFieldRead],
    dependencies=[requires("custom_fields", "update")],
    responses=ERRORS,
)
def update_custom_field(field_id: UUID, body: CustomFieldUpdate, actor: CurrentActor, session: SessionDep) -> dict:
    """Change label, options, required flag, order or description; the type only while no record has a value.
    Send `version` to guard against lost updates."""
    return ok(_field(custom_fields.update(session, actor, field_id, body)))


@router.delete("/{field_id}", status_code=204, dependencies=[requires("custom_fields", "delete")], responses=ERRORS)
def delete_custom_field(field_id: UUID, actor: CurrentActor, session: SessionDep) -> Response:
    """Delete the field and every value records had for it."""
    custom_fields.delete_field(session, actor, field_id)
    return Response(status_code=204)
