from __future__ import annotations

from datetime import datetime
from uuid import UUID

from fastapi import APIRouter, Response
from pydantic import Field

from api.deps import CurrentActor, SessionDep, requires
from api.envelope import Envelope, error_responses, ok
from core.auth import service as auth
from core.schemas import ReadSchema, Schema

router = APIRouter(prefix="/api-keys", tags=["api keys"])
ERRORS = error_responses(400, 401, 403, 404)


class ApiKeyCreate(Schema):
    name: str = Field(min_length=1, max_length=100, examples=["Warehouse sync"])
    permissions: list[str] = Field(min_length=1, max_length=200, examples=[["contacts:read"]])
    expires_at: datetime | None = None


class ApiKeyRead(ReadSchema):
    id: UUID
    name: str
    prefix: str
    user_id: UUID
    permissions: list[str]
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None
    created_at: datetime


class CreatedApiKey(ApiKeyRead):
    key: str = Field(description="The full key. Shown once: store it now.")


def _read(key) -> dict:  # noqa: ANN001
    return ApiKeyRead.model_validate(key).model_dump(mode="json", by_alias=True)


@router.get(
    "",
    response_model=Envelope[list[ApiKeyRead]],
    dependencies=[requires("api_keys", "read")],
    responses=ERRORS,
)
def list_keys(actor: CurrentActor, session: SessionDep) -> dict:
    return ok([_read(k) for k in auth.list_api_keys(session, actor)])


@router.post(
    "",
    status_code=201,
    response_model=Envelope[CreatedApiKey],
    dependencies=[requires("api_keys", "manage")],
    responses=ERRORS,
)
def create_key(body: ApiKeyCreate, actor: CurrentActor, session: SessionDep, response: Response) -> dict:
    """Create a key for a system, limited to permissions you hold. The secret is returned only here."""
    key, full = auth.create_api_key(
        session, actor, name=body.name, permissions=body.permissions, expires_at=body.expires_at
    )
    response.headers["Location"] = f"/api/v1/api-keys/{key.id}"
    return ok({**_read(key), "key": full})


@router.delete("/{key_id}", status_code=204, dependencies=[requires("api_keys", "manage")], responses=ERRORS)
def revoke_key(key_id: UUID, actor: CurrentActor, session: SessionDep) -> Response:
    auth.revoke_api_key(session, actor, key_id)
    return Response(status_code=204)
