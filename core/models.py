"""Every mapped table, imported in one place for Alembic and for the mapper registry."""

from core.audit.models import AuditLog
from core.auth.models import ApiKey
from core.db import Base
from core.events.models import Event
from core.jobs.models import Job
from core.rbac.models import Permission, Role, RolePermission
from core.tenants.models import Tenant
from core.users.models import Team, User

__all__ = [
    "ApiKey",
    "AuditLog",
    "Base",
    "Event",
    "Job",
    "Permission",
    "Role",
    "RolePermission",
    "Team",
    "Tenant",
    "User",
    "tenant_tables",
]


def tenant_tables() -> list[str]:
    """Tables under row-level security: every tenant-owned table plus `tenants` itself."""
    owned = [mp.class_.__tablename__ for mp in Base.registry.mappers if getattr(mp.class_, "__tenant_owned__", False)]
    return ["tenants", *sorted(owned)]
