from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Response, status

from api.deps import CurrentActor, Paging, SessionDep, requires
from api.envelope import Envelope, PagedEnvelope, error_responses, ok, paged
from core.users import service as users
from core.users.schemas import TeamCreate, TeamRead, TeamUpdate, UserCreate, UserRead, UserUpdate

router = APIRouter(prefix="/users", tags=["users"])
teams_router = APIRouter(prefix="/teams", tags=["teams"])

ERRORS = error_responses(400, 401, 403, 404, 409)


class CreatedUser(UserRead):
    generated_password: str | None = None


def _user(session, user) -> dict:  # noqa: ANN001
    return users.to_read(session, user).model_dump(mode="json", by_alias=True)


@router.get("", response_model=PagedEnvelope[UserRead], dependencies=[requires("users", "read")], responses=ERRORS)
def list_users(actor: CurrentActor, session: SessionDep, paging: Paging) -> dict:
    rows, total = users.list_users(session, actor, limit=paging.limit, offset=paging.offset)
    items = [u.model_dump(mode="json", by_alias=True) for u in users.to_reads(session, rows)]
    return paged(items, page=paging.page, limit=paging.limit, total=total)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=Envelope[CreatedUser],
    dependencies=[requires("users", "manage")],
    responses=ERRORS,
)
def create_user(body: UserCreate, actor: CurrentActor, session: SessionDep, response: Response) -> dict:
    """Invite a user. Without a password one is generated and returned once in `generatedPassword`."""
    user, generated = users.create(session, actor, body)
    response.headers["Location"] = f"/api/v1/users/{user.id}"
    return ok({**_user(session, user), "generatedPassword": generated})


@router.get(
    "/{user_id}",
    response_model=Envelope[UserRead],
    dependencies=[requires("users", "read")],
    responses=ERRORS,
)
def get_user(user_id: UUID, actor: CurrentActor, session: SessionDep) -> dict:
    return ok(_user(session, users.get(session, actor, user_id)))


@router.patch(
    "/{user_id}",
    response_model=Envelope[UserRead],
    dependencies=[requires("users", "manage")],
    responses=ERRORS,
)
def update_user(user_id: UUID, body: UserUpdate, actor: CurrentActor, session: SessionDep) -> dict:
    """Change name, role, team, timezone or active flag; send `version` to guard against lost updates."""
    return ok(_user(session, users.update(session, actor, user_id, body)))


@router.delete("/{user_id}", status_code=204, dependencies=[requires("users", "manage")], responses=ERRORS)
def delete_user(user_id: UUID, actor: CurrentActor, session: SessionDep) -> Response:
    """Deactivate (soft delete) a user; their records keep them as owner."""
    users.deactivate(session, actor, user_id)
    return Response(status_code=204)


def _team(team) -> dict:  # noqa: ANN001
    return TeamRead.model_validate(team).model_dump(mode="json", by_alias=True)


@teams_router.get(
    "", response_model=Envelope[list[TeamRead]], dependencies=[requires("teams", "read")], responses=ERRORS
)
def list_teams(actor: CurrentActor, session: SessionDep) -> dict:
    return ok([_team(t) for t in users.list_teams(session, actor)])


@teams_router.post(
    "",
    status_code=201,
    response_model=Envelope[TeamRead],
    dependencies=[requires("teams", "manage")],
    responses=ERRORS,
)
def create_team(body: TeamCreate, actor: CurrentActor, session: SessionDep, response: Response) -> dict:
    team = users.create_team(session, actor, body)
    response.headers["Location"] = f"/api/v1/teams/{team.id}"
    return ok(_team(team))


@teams_router.get(
    "/{team_id}",
    response_model=Envelope[TeamRead],
    dependencies=[requires("teams", "read")],
    responses=ERRORS,
)
def get_team(team_id: UUID, actor: CurrentActor, session: SessionDep) -> dict:
    return ok(_team(users.get_team(session, actor, team_id)))


@teams_router.patch(
    "/{team_id}",
    response_model=Envelope[TeamRead],
    dependencies=[requires("teams", "manage")],
    responses=ERRORS,
)
def update_team(team_id: UUID, body: TeamUpdate, actor: CurrentActor, session: SessionDep) -> dict:
    return ok(_team(users.update_team(session, actor, team_id, body)))


@teams_router.delete("/{team_id}", status_code=204, dependencies=[requires("teams", "manage")], responses=ERRORS)
def delete_team(team_id: UUID, actor: CurrentActor, session: SessionDep) -> Response:
    users.delete_team(session, actor, team_id)
    return Response(status_code=204)
