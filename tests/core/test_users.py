"""A user may always read themselves (their name in the UI), whatever their role grants about other users."""

from __future__ import annotations

import pytest

from core.db import unit_of_work
from core.errors import NotFound, PermissionDenied
from core.rbac import service as rbac
from core.rbac.schemas import RoleCreate
from core.users import service as users


def test_me_needs_no_users_read_and_finds_only_the_actor(tenant):
    admin = tenant.admin
    with unit_of_work(admin) as session:
        rbac.create(session, admin, RoleCreate(name="field_keeper", permissions=["custom_fields:read"]))
    keeper = tenant.actor(tenant.add_user("field_keeper"))
    with unit_of_work(keeper) as session:
        assert users.me(session, keeper).id == keeper.user_id
        with pytest.raises(PermissionDenied):
            users.get(session, keeper, keeper.user_id)
    with pytest.raises(NotFound), unit_of_work(tenant.admin) as session:
        users.me(session, type(admin).system(tenant.tenant_id))
