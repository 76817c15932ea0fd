"""Task lists of a person or a team: whose tasks an actor's scope covers, and the due windows in the tenant's days."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.db import unit_of_work
from core.errors import ValidationFailed
from core.tasks import service as tasks
from core.tasks.schemas import TaskCreate
from core.users import service as users
from core.users.schemas import TeamCreate, UserUpdate
from tests.core.conftest import owner_execute
from tests.factories import TenantWorld


def test_assignees_follow_the_record_scope_and_leave_out_inactive_users(tenant: TenantWorld) -> None:
    with unit_of_work(tenant.admin) as session:
        team = users.create_team(session, tenant.admin, TeamCreate(name="East")).id
    manager = tenant.add_user("manager", team_id=team)
    member = tenant.add_user("rep", team_id=team)
    gone = tenant.add_user("rep", team_id=team)
    outsider = tenant.add_user("rep")
    with unit_of_work(tenant.admin) as session:
        users.update(session, tenant.admin, gone, UserUpdate(is_active=False))

    def ids(user_id, **kwargs) -> set:  # noqa: ANN001, ANN003
        actor = tenant.actor(user_id)
        with unit_of_work(actor) as session:
            return {u.id for u in tasks.assignees(session, actor, **kwargs)}

    assert ids(manager) == {manager, member}
    assert ids(manager, include_inactive=True) == {manager, member, gone}
    assert ids(member) == {member}
    assert ids(outsider) == {outsider}
    assert {manager, member, outsider, tenant.admin_id} <= ids(tenant.admin_id)
    assert gone not in ids(tenant.admin_id)


def test_due_windows_cut_days_at_the_tenants_midnight(tenant: TenantWorld) -> None:
    owner_execute("UPDATE tenants SET timezone = 'America/New_York' WHERE id = :t", t=tenant.tenant_id)
    admin = tenant.admin
    now = datetime.now(UTC)
    with unit_of_work(admin) as session:
        windows = {w: tasks.due_window(session, admin, w, now=now) for w in tasks.DUE_WINDOWS}
    today = datetime.fromisoformat(windows["today"]["dueAt[gte]"][0])
    assert today.utcoffset() in (timedelta(hours=-5), timedelta(hours=-4))
    assert (today.hour, today.minute) == (0, 0) and today <= now < datetime.fromisoformat(
        windows["today"]["dueAt[lt]"][0]
    )
    week_end = datetime.fromisoformat(windows["this_week"]["dueAt[lt]"][0])
    assert week_end.isoweekday() == 1 and timedelta(days=1) <= week_end - today <= timedelta(days=7)
    assert windows["later"] == {"dueAt[gte]": [week_end.isoformat()]}

    stamps = {
        "before today": today - timedelta(hours=1),
        "today at noon": today + timedelta(hours=12),
        "after this week": week_end + timedelta(days=1),
        "no date": None,
    }
    with unit_of_work(admin) as session:
        for title, due in stamps.items():
            tasks.create(session, admin, TaskCreate(title=title, due_at=due))
    with unit_of_work(admin) as session:
        found = {w: {t["title"] for t in tasks.list_tasks(session, admin, p).items} for w, p in windows.items()}
    assert found["today"] == {"today at noon"}
    assert found["this_week"] == {"today at noon"}
    assert found["later"] == {"after this week"}
    assert found["none"] == {"no date"}
    assert "before today" in found["overdue"] and "after this week" not in found["overdue"]


def test_an_unknown_due_window_is_refused(tenant: TenantWorld) -> None:
    with unit_of_work(tenant.admin) as session, pytest.raises(ValidationFailed):
        tasks.due_window(session, tenant.admin, "someday")
