"""Tenants: creation (with system roles and a first admin) and the tenant's own settings."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from core.actor import Actor
from core.db import bind_tenant
from core.errors import Conflict, NotFound
from core.ids import new_id
from core.pipelines import service as pipelines
from core.rbac import service as rbac
from core.tenants.models import Tenant
from core.tenants.schemas import TenantCreate, TenantUpdate, WorkspaceSettings, WorkspaceSettingsUpdate
from core.users import service as users
from core.users.models import User
from core.users.schemas import UserCreate
from core.versioning import check_version

DEFAULT_MAX_USERS = {"starter": 5, "professional": 25, "business": 100, "enterprise": 1000}


@dataclass
class CreatedTenant:
    tenant: Tenant
    admin: User
    admin_password: str | None  # set only when generated: show it once


def lookup_slug(session: Session, slug: str) -> tuple[UUID, bool, str] | None:
    """Pre-authentication: (tenant id, active, plan) for a slug, through the narrow definer function."""
    row = session.execute(text("SELECT id, is_active, plan FROM cf_tenant_by_slug(:s)"), {"s": slug}).first()
    return (row.id, row.is_active, row.plan) if row else None


def count_tenants(session: Session) -> int:
    return int(session.execute(text("SELECT cf_tenant_count()")).scalar_one())


def create(session: Session, data: TenantCreate, *, hooks: list | None = None) -> CreatedTenant:
    """Create a tenant, its system roles and its first admin in the caller's transaction.

    An operator action (CLI, provisioning): the session is re-bound to the new tenant, so row-level
    security admits exactly the rows written here.
    """
    if lookup_slug(session, data.slug) is not None:
        raise Conflict(f"A tenant with slug '{data.slug}' already exists")
    tenant_id = new_id()
    bind_tenant(session, tenant_id)
    tenant = Tenant(
        id=tenant_id,
        name=data.name,
        slug=data.slug,
        plan=data.plan,
        max_users=data.max_users or DEFAULT_MAX_USERS[data.plan],
        max_storage_gb=data.max_storage_gb,
        timezone=data.timezone,
    )
    session.add(tenant)
    session.flush()
    rbac.create_system_roles(session, tenant_id)
    system = Actor.system(tenant_id)
    admin, generated = users.create(
        session,
        system,
        UserCreate(
            email=data.admin_email,
            first_name=data.admin_first_name,
            last_name=data.admin_last_name,
            password=data.admin_password,
            role="admin",
        ),
    )
    admin.is_verified = True
    pipelines.create_default_pipeline(session, system)
    for hook in hooks or []:
        hook(session, system)
    session.flush()
    return CreatedTenant(tenant=tenant, admin=admin, admin_password=generated)


def get_current(session: Session, actor: Actor) -> Tenant:
    tenant = session.scalar(select(Tenant).where(Tenant.id == actor.tenant_id))
    if tenant is None:
        raise NotFound("Tenant not found")
    return tenant


def update(session: Session, actor: Actor, data: TenantUpdate) -> Tenant:
    actor.require("settings", "manage")
    tenant = get_current(session, actor)
    check_version(tenant, data.version)
    for name, value in data.model_dump(exclude_unset=True, exclude={"version"}).items():
        setattr(tenant, name, value)
    session.flush()
    return tenant


SETTING_KEYS = ("currency", "fiscal_year_start_month")


def workspace_settings(session: Session, actor: Actor) -> WorkspaceSettings:
    """The settings an admin edits, with their defaults filled in (USD, a fiscal year starting in January)."""
    actor.require("settings", "read")
    return _settings_of(get_current(session, actor))


def _settings_of(tenant: Tenant) -> WorkspaceSettings:
    stored = {k: v for k, v in (tenant.settings or {}).items() if k in SETTING_KEYS and v is not None}
    return WorkspaceSettings(
        name=tenant.name,
        timezone=tenant.timezone,
        plan=tenant.plan,
        max_users=tenant.max_users,
        version=tenant.version,
        **stored,
    )


def update_settings(session: Session, actor: Actor, data: WorkspaceSettingsUpdate) -> WorkspaceSettings:
    """Change the workspace's name, time zone, currency or fiscal year start; other `settings` keys stay."""
    actor.require("settings", "manage")
    tenant = get_current(session, actor)
    check_version(tenant, data.version)
    fields = data.model_dump(exclude_unset=True, exclude={"version"})
    for name in ("name", "timezone"):
        if name in fields:
            setattr(tenant, name, fields.pop(name))
    if fields:
        tenant.settings = {**(tenant.settings or {}), **fields}
    session.flush()
    return _settings_of(tenant)
