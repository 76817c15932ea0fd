"""The workspace settings an admin edits: defaults, a merge that keeps the platform's own keys, validation,
the settings:manage permission and optimistic locking."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from core.db import unit_of_work
from core.errors import Conflict, PermissionDenied
from core.tenants import service as tenants
from core.tenants.models import Tenant
from core.tenants.schemas import TenantUpdate, WorkspaceSettingsUpdate


def test_a_new_workspace_has_default_settings(tenant):
    with unit_of_work(tenant.admin) as session:
        current = tenants.workspace_settings(session, tenant.admin)
    assert (current.name, current.timezone, current.currency, current.fiscal_year_start_month) == (
        f"Tenant {tenant.slug}",
        "UTC",
        "USD",
        1,
    )
    assert current.plan == "enterprise" and current.max_users > 0


def test_settings_merge_into_the_stored_ones_and_keep_the_platforms_keys(tenant):
    admin = tenant.admin
    with unit_of_work(admin) as session:
        tenants.update(session, admin, TenantUpdate(settings={"demo": {"seed": 7}, "currency": "GBP"}))
    with unit_of_work(admin) as session:
        version = tenants.workspace_settings(session, admin).version
        saved = tenants.update_settings(
            session,
            admin,
            WorkspaceSettingsUpdate(timezone="Europe/Paris", fiscal_year_start_month=4, version=version),
        )
    assert (saved.name, saved.timezone, saved.currency, saved.fiscal_year_start_month) == (
        f"Tenant {tenant.slug}",
        "Europe/Paris",
        "GBP",
        4,
    )
    assert saved.version == version + 1
    with unit_of_work(admin) as session:
        stored = session.get(Tenant, tenant.tenant_id)
        assert stored is not None
        assert stored.settings == {"demo": {"seed": 7}, "currency": "GBP", "fiscal_year_start_month": 4}


@pytest.mark.parametrize(
    ("field", "value"),
    [("timezone", "Mars/Olympus_Mons"), ("currency", "EUD"), ("fiscal_year_start_month", 13), ("name", "")],
)
def test_bad_settings_are_refused_by_the_schema(field, value):
    with pytest.raises(ValidationError) as raised:
        WorkspaceSettingsUpdate(**{field: value})
    assert raised.value.errors()[0]["loc"] == (field,)


def test_only_settings_managers_change_settings_and_a_stale_version_is_refused(tenant):
    rep = tenant.actor(tenant.add_user("rep"))
    with pytest.raises(PermissionDenied), unit_of_work(rep) as session:
        tenants.update_settings(session, rep, WorkspaceSettingsUpdate(currency="EUR"))
    admin = tenant.admin
    with pytest.raises(Conflict), unit_of_work(admin) as session:
        stale = tenants.workspace_settings(session, admin).version - 1
        tenants.update_settings(session, admin, WorkspaceSettingsUpdate(currency="EUR", version=stale))
    with unit_of_work(admin) as session:
        assert tenants.workspace_settings(session, admin).currency == "USD"
