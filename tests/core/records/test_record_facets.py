"""The values a record list offers as filters (tags in use, industries), within what the actor may see."""

from __future__ import annotations

import pytest

from core.accounts import service as accounts
from core.accounts.schemas import AccountCreate
from core.contacts import service as contacts
from core.contacts.schemas import ContactCreate
from core.db import unit_of_work
from core.errors import PermissionDenied
from tests.factories import TenantWorld


def test_contact_tags_in_use_are_distinct_sorted_and_scoped_to_the_actor(tenant: TenantWorld) -> None:
    rep_id = tenant.add_user("rep")
    rep = tenant.actor(rep_id)
    with unit_of_work(tenant.admin) as session:
        contacts.create(session, tenant.admin, ContactCreate(first_name="A", last_name="A", tags=["vip", "event"]))
        contacts.create(session, tenant.admin, ContactCreate(first_name="B", last_name="B", tags=["event"]))
    with unit_of_work(rep) as session:
        contacts.create(session, rep, ContactCreate(first_name="C", last_name="C", tags=["newsletter"]))
    with unit_of_work(tenant.admin) as session:
        assert contacts.tags_in_use(session, tenant.admin) == ["event", "newsletter", "vip"]
    with unit_of_work(rep) as session:
        assert contacts.tags_in_use(session, rep) == ["newsletter"]


def test_account_tags_and_industries_in_use(tenant: TenantWorld) -> None:
    rep_id = tenant.add_user("rep")
    rep = tenant.actor(rep_id)
    with unit_of_work(tenant.admin) as session:
        accounts.create(session, tenant.admin, AccountCreate(name="Acme", industry="Retail", tags=["target"]))
        accounts.create(session, tenant.admin, AccountCreate(name="Beta", industry="Energy"))
        accounts.create(session, tenant.admin, AccountCreate(name="Gamma", industry="Retail", tags=["partner"]))
        accounts.create(session, tenant.admin, AccountCreate(name="Delta"))
    with unit_of_work(rep) as session:
        accounts.create(session, rep, AccountCreate(name="Mine", industry="Media", tags=["reference"]))
    with unit_of_work(tenant.admin) as session:
        assert accounts.industries_in_use(session, tenant.admin) == ["Energy", "Media", "Retail"]
        assert accounts.tags_in_use(session, tenant.admin) == ["partner", "reference", "target"]
    with unit_of_work(rep) as session:
        assert accounts.industries_in_use(session, rep) == ["Media"]
        assert accounts.tags_in_use(session, rep) == ["reference"]


def test_facets_need_the_read_permission(tenant: TenantWorld) -> None:
    nobody = tenant.admin.__class__(tenant_id=tenant.tenant_id, user_id=tenant.admin_id, role="none")
    with unit_of_work(tenant.admin) as session, pytest.raises(PermissionDenied):
        contacts.tags_in_use(session, nobody)
    with unit_of_work(tenant.admin) as session, pytest.raises(PermissionDenied):
        accounts.industries_in_use(session, nobody)
