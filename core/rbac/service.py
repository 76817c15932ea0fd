"""Roles and their grants. System roles come from the catalogue; tenants may add custom roles."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from core.actor import Actor
from core.auth import authz
from core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from core.ids import new_id
from core.rbac.catalog import ALL_PERMISSIONS, SYSTEM_ROLES
from core.rbac.models import Permission, Role, RolePermission
from core.rbac.schemas import RoleCreate, RoleRead, RoleUpdate
from core.users.models import User
from core.versioning import check_version


def _permission_ids(session: Session, names: set[str]) -> dict[str, UUID]:
    rows = session.execute(
        select(Permission.resource, Permission.action, Permission.id).where(
            (Permission.resource + ":" + Permission.action).in_(sorted(names))
        )
    )
    return {f"{r}:{a}": pid for r, a, pid in rows}


def _validate_permissions(names: list[str]) -> set[str]:
    unknown = sorted(set(names) - set(ALL_PERMISSIONS))
    if unknown:
        raise ValidationFailed(
            f"Unknown permissions: {', '.join(unknown)}",
            details=[{"field": "permissions", "message": "unknown permission", "value": u} for u in unknown],
        )
    return set(names)


SCOPE_RANK: dict[str, int] = {"own": 0, "team": 1, "all": 2}


def widest_scope(*scopes: str) -> str:
    return max(scopes, key=SCOPE_RANK.__getitem__)


def ensure_grantable(
    actor: Actor, names: set[str] | list[str], *, scope: str | None = None, what: str = "grant"
) -> None:
    """Nobody hands out more than they hold: no permission the actor lacks and no record scope wider than the
    actor's own (own < team < all). The one rule behind creating and changing roles, assigning them, and
    managing users (no self-promotion, no reach above oneself)."""
    beyond = sorted(set(names) - actor.permissions)
    if beyond:
        raise PermissionDenied(
            f"You cannot {what} permissions you do not hold: {', '.join(beyond)}", details={"notHeld": beyond}
        )
    if scope is not None and SCOPE_RANK[scope] > SCOPE_RANK[actor.scope]:
        raise PermissionDenied(
            f"You cannot {what} record scope '{scope}': it is wider than your own ('{actor.scope}')",
            details={"scope": scope, "yourScope": actor.scope},
        )


def ensure_role_within(session: Session, actor: Actor, role: Role, *, what: str) -> None:
    """`ensure_grantable` for everything `role` carries (its permissions and its record scope)."""
    ensure_grantable(actor, role_permissions(session, role.id), scope=role.record_scope, what=what)


def _grant(session: Session, tenant_id: UUID, role_id: UUID, names: set[str]) -> None:
    ids = _permission_ids(session, names)
    missing = names - ids.keys()
    if missing:
        raise ValidationFailed(f"Permissions not in the catalogue (run `clientforge migrate`): {sorted(missing)}")
    session.add_all(RolePermission(tenant_id=tenant_id, role_id=role_id, permission_id=pid) for pid in ids.values())


def create_system_roles(session: Session, tenant_id: UUID) -> dict[str, Role]:
    roles = {}
    for name, (description, scope, _) in SYSTEM_ROLES.items():
        role = Role(
            id=new_id(),
            tenant_id=tenant_id,
            name=name,
            description=description,
            is_system_role=True,
            record_scope=scope,
        )
        session.add(role)
        roles[name] = role
    session.flush()
    for name, (_, _, perms) in SYSTEM_ROLES.items():
        _grant(session, tenant_id, roles[name].id, set(perms))
    return roles


def role_permissions(session: Session, role_id: UUID) -> list[str]:
    rows = session.execute(
        select(Permission.resource, Permission.action)
        .join(RolePermission, RolePermission.permission_id == Permission.id)
        .where(RolePermission.role_id == role_id)
        .order_by(Permission.resource, Permission.action)
    )
    return [f"{r}:{a}" for r, a in rows]


def to_read(session: Session, role: Role) -> RoleRead:
    return RoleRead.model_validate({**role.__dict__, "permissions": role_permissions(session, role.id)})


def get_by_name(session: Session, actor: Actor, name: str) -> Role:
    role = session.scalar(select(Role).where(Role.tenant_id == actor.tenant_id, Role.name == name))
    if role is None:
        raise ValidationFailed(f"Unknown role '{name}'", details=[{"field": "role", "message": "unknown role"}])
    return role


def get(session: Session, actor: Actor, role_id: UUID) -> Role:
    actor.require("roles", "read")
    role = session.scalar(select(Role).where(Role.tenant_id == actor.tenant_id, Role.id == role_id))
    if role is None:
        raise NotFound("Role not found")
    return role


def list_roles(session: Session, actor: Actor) -> list[Role]:
    actor.require("roles", "read")
    return list(session.scalars(select(Role).where(Role.tenant_id == actor.tenant_id).order_by(Role.name)))


def create(session: Session, actor: Actor, data: RoleCreate) -> Role:
    actor.require("roles", "manage")
    names = _validate_permissions(data.permissions)
    ensure_grantable(actor, names, scope=data.record_scope)
    if session.scalar(select(Role.id).where(Role.tenant_id == actor.tenant_id, Role.name == data.name)):
        raise Conflict(f"A role named '{data.name}' already exists")
    role = Role(
        id=new_id(),
        tenant_id=actor.tenant_id,
        name=data.name,
        description=data.description,
        record_scope=data.record_scope,
        is_system_role=False,
    )
    session.add(role)
    session.flush()
    _grant(session, actor.tenant_id, role.id, names)
    session.flush()
    return role


def update(session: Session, actor: Actor, role_id: UUID, data: RoleUpdate) -> Role:
    actor.require("roles", "manage")
    role = get(session, actor, role_id)
    if role.is_system_role:
        raise Conflict("System roles cannot be changed; create a custom role instead")
    check_version(role, data.version)
    current = set(role_permissions(session, role.id))
    names = current if data.permissions is None else _validate_permissions(data.permissions)
    scope = data.record_scope or role.record_scope
    # The role as it is and as it will be must both lie within the actor's own powers.
    ensure_grantable(actor, current | names, scope=widest_scope(role.record_scope, scope), what="change")
    if data.description is not None:
        role.description = data.description
    role.record_scope = scope
    if data.permissions is not None:
        session.execute(delete(RolePermission).where(RolePermission.role_id == role.id))
        _grant(session, actor.tenant_id, role.id, names)
        role.updated_at = func.now()  # a grant change is a change of the role (bumps version)
    authz.role_changed(session, role.id)
    session.flush()
    return role


def delete_role(session: Session, actor: Actor, role_id: UUID) -> None:
    actor.require("roles", "manage")
    role = get(session, actor, role_id)
    if role.is_system_role:
        raise Conflict("System roles cannot be deleted")
    in_use = session.scalar(
        select(func.count()).select_from(User).where(User.role_id == role.id, User.deleted_at.is_(None))
    )
    if in_use:
        raise Conflict(f"Role '{role.name}' is assigned to {in_use} user(s); reassign them first")
    session.delete(role)
    session.flush()
