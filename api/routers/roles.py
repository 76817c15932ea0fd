from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Response

from api.deps import CurrentActor, SessionDep, requires
from api.envelope import Envelope, error_responses, ok
from core.auth import service as auth
from core.rbac import service as rbac
from core.rbac.schemas import RoleCreate, RoleRead, RoleUpdate

router = APIRouter(prefix="/roles", tags=["roles"])
ERRORS = error_responses(400, 401, 403, 404, 409)


def _role(session, role) -> dict:  # noqa: ANN001
    return rbac.to_read(session, role).model_dump(mode="json", by_alias=True)


@router.get("", response_model=Envelope[list[RoleRead]], dependencies=[requires("roles", "read")], responses=ERRORS)
def list_roles(actor: CurrentActor, session: SessionDep) -> dict:
    return ok([_role(session, r) for r in rbac.list_roles(session, actor)])


@router.get(
    "/permissions",
    response_model=Envelope[list[str]],
    dependencies=[requires("roles", "read")],
    responses=ERRORS,
)
def permission_catalogue(actor: CurrentActor, session: SessionDep) -> dict:
    """Every permission (resource:action) a role can grant."""
    return ok(auth.permission_catalogue(session))


@router.post(
    "",
    status_code=201,
    response_model=Envelope[RoleRead],
    dependencies=[requires("roles", "manage")],
    responses=ERRORS,
)
def create_role(body: RoleCreate, actor: CurrentActor, session: SessionDep, response: Response) -> dict:
    """A custom role: a name, a record scope (own, team, all) and its permissions."""
    role = rbac.create(session, actor, body)
    response.headers["Location"] = f"/api/v1/roles/{role.id}"
    return ok(_role(session, role))


@router.get(
    "/{role_id}",
    response_model=Envelope[RoleRead],
    dependencies=[requires("roles", "read")],
    responses=ERRORS,
)
def get_role(role_id: UUID, actor: CurrentActor, session: SessionDep) -> dict:
    return ok(_role(session, rbac.get(session, actor, role_id)))


@router.patch(
    "/{role_id}",
    response_model=Envelope[RoleRead],
    dependencies=[requires("roles", "manage")],
    responses=ERRORS,
)
def update_role(role_id: UUID, body: RoleUpdate, actor: CurrentActor, session: SessionDep) -> dict:
    return ok(_role(session, rbac.update(session, actor, role_id, body)))


@router.delete("/{role_id}", status_code=204, dependencies=[requires("roles", "manage")], responses=ERRORS)
def delete_role(role_id: UUID, actor: CurrentActor, session: SessionDep) -> Response:
    rbac.delete_role(session, actor, role_id)
    return Response(status_code=204)
