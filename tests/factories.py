"""Factories that build data through the services, as a user would."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from uuid import UUID

import pytest

from core.actor import Actor
from core.auth import service as auth
from core.db import unit_of_work
from core.tenants import service as tenants
from core.tenants.schemas import TenantCreate
from core.users import service as users
from core.users.schemas import UserCreate

PASSWORD = "Correct-Horse-9-Battery"


@dataclass
class TenantWorld:
    tenant_id: UUID
    slug: str
    admin_email: str
    admin_id: UUID

    def actor(self, user_id: UUID | None = None) -> Actor:
        with unit_of_work(tenant_id=self.tenant_id) as session:
            return auth.load_actor(session, tenant_id=self.tenant_id, user_id=user_id or self.admin_id)

    @property
    def admin(self) -> Actor:
        return self.actor()

    def add_user(self, role: str = "rep", *, team_id: UUID | None = None, email: str | None = None) -> UUID:
        email = email or f"{role}-{secrets.token_hex(4)}@{self.slug}.example.com"
        with unit_of_work(self.admin) as session:
            user, _ = users.create(
                session,
                self.admin,
                UserCreate(
                    email=email,
                    first_name=role.title(),
                    last_name="Tester",
                    password=PASSWORD,
                    role=role,
                    team_id=team_id,
                ),
            )
            return user.id


def create_tenant(plan: str = "enterprise", max_users: int | None = None, slug: str | None = None) -> TenantWorld:
    slug = slug or f"t-{secrets.token_hex(5)}"
    with unit_of_work() as session:
        created = tenants.create(
            session,
            TenantCreate(
                name=f"Tenant {slug}",
                slug=slug,
                plan=plan,
                max_users=max_users,
                admin_email=f"admin@{slug}.example.com",
                admin_password=PASSWORD,
            ),
        )
        return TenantWorld(created.tenant.id, slug, created.admin.email, created.admin.id)


def quiesce(tenant_id: UUID) -> None:
    """Switch off a tenant's webhooks and drop its queued jobs (as the owner), so that what a test left behind
    (deliveries to addresses that never answer, retrying for minutes) is not run by a later test's `drain()`."""
    from sqlalchemy import text

    from core.db import owner_engine

    with owner_engine().begin() as conn:
        conn.execute(text("UPDATE webhooks SET is_active = false WHERE tenant_id = :t"), {"t": tenant_id})
        conn.execute(
            text("DELETE FROM procrastinate_jobs WHERE status = 'todo' AND args->>'tenant_id' = :t"),
            {"t": str(tenant_id)},
        )
        conn.execute(
            text("UPDATE jobs SET status = 'cancelled' WHERE tenant_id = :t AND status IN ('queued', 'retrying')"),
            {"t": tenant_id},
        )


@pytest.fixture
def make_tenant() -> Callable[..., TenantWorld]:
    return create_tenant


@pytest.fixture
def tenant() -> Iterator[TenantWorld]:
    world = create_tenant()
    yield world
    quiesce(world.tenant_id)


@pytest.fixture
def other_tenant() -> Iterator[TenantWorld]:
    world = create_tenant()
    yield world
    quiesce(world.tenant_id)
