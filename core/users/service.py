"""Users and teams of a tenant: creation within plan limits, role and team assignment, deactivation."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.actor import Actor
from core.auth import authz, passwords, sessions
from core.db import on_commit
from core.errors import Conflict, NotFound, PlanLimitReached, ValidationFailed
from core.ids import new_id
from core.rbac import service as rbac
from core.rbac.models import Role
from core.tenants.models import Tenant
from core.users.models import Team, User
from core.users.schemas import TeamCreate, TeamUpdate, UserCreate, UserRead, UserUpdate
from core.versioning import check_version


def _values(user: User) -> dict:
    """Read fields by attribute access (not `__dict__`), so columns a flush left unloaded or expired
    (unset nullable columns, server defaults, `onupdate`) are loaded instead of missing."""
    return {name: getattr(user, name) for name in UserRead.model_fields if name != "role"}


def to_read(session: Session, user: User, role_name: str | None = None) -> UserRead:
    if role_name is None:
        role_name = session.scalar(select(Role.name).where(Role.id == user.role_id))
    return UserRead.model_validate({**_values(user), "role": role_name})


def to_reads(session: Session, users: list[User]) -> list[UserRead]:
    names = dict(session.execute(select(Role.id, Role.name).where(Role.id.in_({u.role_id for u in users}))).all())
    return [UserRead.model_validate({**_values(u), "role": names.get(u.role_id)}) for u in users]


def get(session: Session, actor: Actor, user_id: UUID) -> User:
    actor.require("users", "read")
    user = session.scalar(actor.readable(User).where(User.id == user_id))
    if user is None:
        raise NotFound("User not found")
    return user


def me(session: Session, actor: Actor) -> User:
    """The actor's own user. Everyone signed in may read themselves (no `users:read` needed), e.g. for the name
    the UI shows."""
    user = None
    if actor.user_id is not None:
        user = session.scalar(
            select(User).where(User.tenant_id == actor.tenant_id, User.id == actor.user_id, User.deleted_at.is_(None))
        )
    if user is None:
        raise NotFound("User not found")
    return user


def list_users(
    session: Session, actor: Actor, *, limit: int = 100, offset: int = 0, include_inactive: bool = True
) -> tuple[list[User], int]:
    actor.require("users", "read")
    statement = actor.readable(User)
    if not include_inactive:
        statement = statement.where(User.is_active.is_(True))
    total = session.scalar(select(func.count()).select_from(statement.subquery())) or 0
    rows = session.scalars(statement.order_by(User.last_name, User.first_name, User.id).limit(limit).offset(offset))
    return list(rows), total


def _check_team(session: Session, actor: Actor, team_id: UUID | None) -> None:
    if (
        team_id is not None
        and session.scalar(
            select(Team.id).where(Team.tenant_id == actor.tenant_id, Team.id == team_id, Team.deleted_at.is_(None))
        )
        is None
    ):
        raise ValidationFailed("Unknown team", details=[{"field": "teamId", "message": "no such team"}])


def create(session: Session, actor: Actor, data: UserCreate) -> tuple[User, str | None]:
    """Create a user; returns the user and, when no password was given, the generated one (shown once)."""
    actor.require("users", "manage")
    generated = None
    password = data.password
    if password is None:
        password = generated = passwords.generate_password()
    passwords.check_policy(password)
    role = rbac.get_by_name(session, actor, data.role)
    rbac.ensure_role_within(session, actor, role, what="assign a role with")
    _check_team(session, actor, data.team_id)
    _ensure_seat(session, actor)
    if session.scalar(
        select(User.id).where(User.tenant_id == actor.tenant_id, User.email == data.email, User.deleted_at.is_(None))
    ):
        raise Conflict(
            f"A user with email {data.email} already exists",
            details=[{"field": "email", "message": "already in use"}],
        )
    user = User(
        id=new_id(),
        tenant_id=actor.tenant_id,
        email=data.email,
        password_hash=passwords.hash_password(password),
        first_name=data.first_name,
        last_name=data.last_name,
        role_id=role.id,
        team_id=data.team_id,
        timezone=data.timezone,
        password_changed_at=datetime.now(UTC),
    )
    session.add(user)
    session.flush()
    return user, generated


def _lock_tenant(session: Session, actor: Actor) -> Tenant:
    """The tenant row, locked until the transaction ends: serialises the changes that must see every other
    one of the tenant (seats against the plan limit, the last admin)."""
    tenant = session.scalar(select(Tenant).where(Tenant.id == actor.tenant_id).with_for_update())
    if tenant is None:
        raise NotFound("Tenant not found")
    return tenant


def _ensure_seat(session: Session, actor: Actor) -> None:
    """One more active user must fit the plan (creating a user, reactivating one)."""
    tenant = _lock_tenant(session, actor)
    active = session.scalar(
        select(func.count())
        .select_from(User)
        .where(User.tenant_id == actor.tenant_id, User.deleted_at.is_(None), User.is_active.is_(True))
    )
    if (active or 0) >= tenant.max_users:
        raise PlanLimitReached(
            f"Your {tenant.plan} plan allows {tenant.max_users} active users; deactivate a user or upgrade the plan",
            details={"maxUsers": tenant.max_users, "activeUsers": active},
        )


def _ensure_another_admin(session: Session, actor: Actor, user: User) -> None:
    """Refuse to demote or deactivate the tenant's last active admin (whoever asks)."""
    admin_role = rbac.get_by_name(session, actor, "admin")
    if user.role_id != admin_role.id or not user.is_active:
        return
    _lock_tenant(session, actor)  # two admins demoting each other at once must not leave none
    others = session.scalar(
        select(func.count())
        .select_from(User)
        .where(
            User.tenant_id == actor.tenant_id,
            User.role_id == admin_role.id,
            User.id != user.id,
            User.deleted_at.is_(None),
            User.is_active.is_(True),
        )
    )
    if not others:
        who = "You are" if user.id == actor.user_id else f"{user.first_name} {user.last_name} is"
        raise Conflict(f"{who} the last admin; make someone else admin first")


def update(session: Session, actor: Actor, user_id: UUID, data: UserUpdate) -> User:
    """Change a user's details, role, team or active flag. Only users whose role lies within the actor's own
    powers can be changed, and only to such a role; the last admin stays an active admin; reactivating takes
    a seat of the plan."""
    actor.require("users", "manage")
    user = get(session, actor, user_id)
    check_version(user, data.version)
    rbac.ensure_role_within(session, actor, _role_of(session, user), what="change a user whose role has")
    fields = data.model_dump(exclude_unset=True, exclude={"version", "role"})
    if "team_id" in fields:
        _check_team(session, actor, fields["team_id"])
    if fields.get("is_active") is False and user.id == actor.user_id:
        raise Conflict("You cannot deactivate yourself")
    role = None
    if data.role is not None:
        role = rbac.get_by_name(session, actor, data.role)
        rbac.ensure_role_within(session, actor, role, what="assign a role with")
    demoted = role is not None and role.id != user.role_id
    if demoted or fields.get("is_active") is False:
        _ensure_another_admin(session, actor, user)
    if fields.get("is_active") is True and not user.is_active:
        _ensure_seat(session, actor)
    if role is not None:
        user.role_id = role.id
    for name, value in fields.items():
        setattr(user, name, value)
    if data.role is not None or {"team_id", "is_active"} & fields.keys():
        authz.user_changed(session, user.id)
    if fields.get("is_active") is False:
        on_commit(session, lambda: sessions.revoke_all(user_id))
    session.flush()
    return user


def _role_of(session: Session, user: User) -> Role:
    role = session.scalar(select(Role).where(Role.tenant_id == user.tenant_id, Role.id == user.role_id))
    if role is None:  # pragma: no cover - users.role_id is a foreign key
        raise NotFound("Role not found")
    return role


def deactivate(session: Session, actor: Actor, user_id: UUID) -> None:
    """Soft delete: the user can no longer log in; their records keep their owner."""
    actor.require("users", "manage")
    user = get(session, actor, user_id)
    if user.id == actor.user_id:
        raise Conflict("You cannot delete yourself")
    rbac.ensure_role_within(session, actor, _role_of(session, user), what="deactivate a user whose role has")
    _ensure_another_admin(session, actor, user)
    user.is_active = False
    user.deleted_at = datetime.now(UTC)
    authz.user_changed(session, user.id)
    on_commit(session, lambda: sessions.revoke_all(user_id))
    session.flush()


# Teams -------------------------------------------------------------------------------------------------


def get_team(session: Session, actor: Actor, team_id: UUID) -> Team:
    actor.require("teams", "read")
    team = session.scalar(actor.readable(Team).where(Team.id == team_id))
    if team is None:
        raise NotFound("Team not found")
    return team


def list_teams(session: Session, actor: Actor) -> list[Team]:
    actor.require("teams", "read")
    return list(session.scalars(actor.readable(Team).order_by(Team.name)))


def _check_manager(session: Session, actor: Actor, manager_id: UUID | None) -> None:
    if (
        manager_id is not None
        and session.scalar(
            select(User.id).where(User.tenant_id == actor.tenant_id, User.id == manager_id, User.deleted_at.is_(None))
        )
        is None
    ):
        raise ValidationFailed("Unknown manager", details=[{"field": "managerId", "message": "no such user"}])


def _check_team_name(session: Session, actor: Actor, name: str, exclude: UUID | None = None) -> None:
    statement = select(Team.id).where(Team.tenant_id == actor.tenant_id, Team.name == name, Team.deleted_at.is_(None))
    if exclude is not None:
        statement = statement.where(Team.id != exclude)
    if session.scalar(statement):
        raise Conflict(f"A team named '{name}' already exists")


def create_team(session: Session, actor: Actor, data: TeamCreate) -> Team:
    actor.require("teams", "manage")
    _check_manager(session, actor, data.manager_id)
    _check_team_name(session, actor, data.name)
    team = Team(id=new_id(), tenant_id=actor.tenant_id, **data.model_dump())
    session.add(team)
    session.flush()
    return team


def update_team(session: Session, actor: Actor, team_id: UUID, data: TeamUpdate) -> Team:
    actor.require("teams", "manage")
    team = get_team(session, actor, team_id)
    check_version(team, data.version)
    fields = data.model_dump(exclude_unset=True, exclude={"version"})
    if "manager_id" in fields:
        _check_manager(session, actor, fields["manager_id"])
    if fields.get("name"):
        _check_team_name(session, actor, fields["name"], exclude=team.id)
    for name, value in fields.items():
        setattr(team, name, value)
    session.flush()
    return team


def delete_team(session: Session, actor: Actor, team_id: UUID) -> None:
    actor.require("teams", "manage")
    team = get_team(session, actor, team_id)
    team.deleted_at = datetime.now(UTC)
    for member in session.scalars(select(User).where(User.tenant_id == actor.tenant_id, User.team_id == team.id)):
        member.team_id = None
    session.flush()
