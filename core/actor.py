"""The actor: who is acting (user or API key), in which tenant, with which permissions and record scope.

Every service takes one. `require()` checks a permission; `readable()` turns a model into the statement
that only reaches rows the actor may see (tenant first, then own/team/all scope). Row-level security in
PostgreSQL is the second lock behind this one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal
from uuid import UUID

from sqlalchemy import Select, select

from core.errors import PermissionDenied

Scope = Literal["own", "team", "all"]


@dataclass(frozen=True)
class Actor:
    tenant_id: UUID
    user_id: UUID | None = None
    api_key_id: UUID | None = None
    team_id: UUID | None = None
    role_id: UUID | None = None
    role: str = "system"
    scope: Scope = "all"
    permissions: frozenset[str] = field(default_factory=frozenset)
    plan: str = "starter"
    email: str | None = None
    session_id: str | None = None
    is_system: bool = False

    @classmethod
    def system(cls, tenant_id: UUID, *, plan: str = "enterprise") -> Actor:
        """The platform itself acting in one tenant (jobs, provisioning): every permission, all records."""
        from core.rbac.catalog import ALL_PERMISSIONS

        return cls(
            tenant_id=tenant_id,
            role="system",
            scope="all",
            permissions=frozenset(ALL_PERMISSIONS),
            plan=plan,
            is_system=True,
        )

    @property
    def kind(self) -> str:
        if self.api_key_id is not None:
            return "api_key"
        return "system" if self.is_system else "user"

    def can(self, resource: str, action: str) -> bool:
        return f"{resource}:{action}" in self.permissions

    def require(self, resource: str, action: str) -> None:
        if not self.can(resource, action):
            raise PermissionDenied(
                f"Permission denied: {action} on {resource}",
                details={"required": f"{resource}:{action}", "role": self.role},
            )

    def readable(self, model: Any, resource: str | None = None) -> Select[Any]:
        """`select(model)` limited to this tenant and, for owned records, to the actor's record scope.

        Soft-deleted rows are excluded where the model has `deleted_at`. With `resource`, the read
        permission is checked first.
        """
        if resource is not None:
            self.require(resource, "read")
        statement = select(model).where(model.tenant_id == self.tenant_id)
        if hasattr(model, "deleted_at"):
            statement = statement.where(model.deleted_at.is_(None))
        return self.apply_scope(statement, model)

    def apply_scope(self, statement: Select[Any], model: Any) -> Select[Any]:
        owner_column_name = getattr(model, "__owner_column__", None)
        if owner_column_name is None or self.scope == "all":
            return statement
        owner_column = getattr(model, owner_column_name)
        if self.scope == "team" and self.team_id is not None:
            from core.users.models import User

            team_members = select(User.id).where(User.tenant_id == self.tenant_id, User.team_id == self.team_id)
            return statement.where(owner_column.in_(team_members))
        # "own", or "team" without a team: only what the actor owns.
        return statement.where(owner_column == self.user_id)
