"""My day: the rep's due tasks, deals closing this month and rotting deals; quick adds write through core/."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from core.contacts import service as contacts
from core.db import unit_of_work
from core.deals import service as deals
from core.deals.schemas import DealCreate
from core.demo.service import SeedResult
from core.tasks import service as tasks
from core.tasks.schemas import TaskCreate
from tests.factories import TenantWorld
from tests.ui.conftest import as_role, new_app, shown, sign_in


def test_every_role_of_the_demo_sees_their_day_without_an_error(demo_workspace: SeedResult) -> None:
    for role in ("admin", "manager", "rep"):
        at = as_role(demo_workspace, role)
        assert not at.exception, role
        assert not at.error, [e.value for e in at.error]
        labels = {m.label for m in at.metric}
        assert {"Tasks due today", "Overdue tasks", "Closing this month", "Rotting deals"} <= labels


def test_an_overdue_task_is_flagged_and_done_completes_it(tenant: TenantWorld) -> None:
    admin = tenant.admin
    with unit_of_work(admin) as session:
        task = tasks.create(
            session, admin, TaskCreate(title="Call Acme back", due_at=datetime.now(UTC) - timedelta(days=2))
        )
        task_id = task.id
    at = sign_in(new_app(), tenant.slug, tenant.admin_email)
    assert "Call Acme back" in shown(at) and "overdue" in shown(at)
    assert next(m.value for m in at.metric if m.label == "Overdue tasks") == "1"
    at.button(key=f"done_{task_id}").click().run()
    with unit_of_work(admin) as session:
        assert tasks.get(session, admin, task_id).status == "done"
    assert "Call Acme back" not in "\n".join(m.value for m in at.markdown)
    assert next(m.value for m in at.metric if m.label == "Overdue tasks") == "0"


def test_quick_add_contact_creates_it_and_a_bad_email_is_explained(tenant: TenantWorld) -> None:
    at = sign_in(new_app(), tenant.slug, tenant.admin_email)
    inputs = {t.label: t for t in at.text_input}
    inputs["First name"].input("Ada")
    inputs["Last name"].input("Lovelace")
    inputs["Email"].input("not-an-email")
    next(b for b in at.button if b.label == "Add contact").click().run()
    assert any("email" in e.value.lower() for e in at.error)
    with unit_of_work(tenant.admin) as session:
        assert contacts.list_contacts(session, tenant.admin, {}).total == 0
    inputs = {t.label: t for t in at.text_input}
    inputs["Email"].input("ada@example.com")
    next(b for b in at.button if b.label == "Add contact").click().run()
    with unit_of_work(tenant.admin) as session:
        page = contacts.list_contacts(session, tenant.admin, {})
    assert page.total == 1 and page.items[0]["email"] == "ada@example.com"


def test_a_deal_whose_close_date_passed_is_still_to_close_and_flagged(tenant: TenantWorld) -> None:
    today = date.today()
    with unit_of_work(tenant.admin) as session:
        for name, closes in (("Late one", today - timedelta(days=40)), ("Next year", today + timedelta(days=400))):
            deals.create(session, tenant.admin, DealCreate(name=name, amount=Decimal(5000), expected_close_date=closes))
    at = sign_in(new_app(), tenant.slug, tenant.admin_email)
    assert next(m.value for m in at.metric if m.label == "Closing this month") == "1"
    links = [link.label for link in at.get("page_link")]
    assert any("Late one" in label and "close date passed" in label for label in links), links
    assert not any("Next year" in label for label in links)


def test_a_quick_task_is_due_at_the_hour_entered_in_the_workspaces_time_zone(tenant: TenantWorld) -> None:
    from datetime import time

    from core.tenants import service as tenants
    from core.tenants.schemas import WorkspaceSettingsUpdate

    with unit_of_work(tenant.admin) as session:
        tenants.update_settings(session, tenant.admin, WorkspaceSettingsUpdate(timezone="Asia/Tokyo"))
    at = sign_in(new_app(), tenant.slug, tenant.admin_email)
    at.segmented_control(key="quick_kind").set_value("Task").run()
    next(t for t in at.text_input if t.label == "Title").input("Call Kenji")
    next(t for t in at.time_input if t.label == "At").set_value(time(9, 0))
    next(b for b in at.button if b.label == "Add task").click().run()
    with unit_of_work(tenant.admin) as session:
        found = tasks.list_tasks(session, tenant.admin, {"search": ["Kenji"]})
    assert found.total == 1
    assert found.items[0]["dueAt"].endswith("T00:00:00Z")  # 09:00 in Tokyo (UTC+9) is midnight UTC


def test_due_times_are_shown_in_the_workspaces_time_zone(tenant: TenantWorld) -> None:
    from core.tenants import service as tenants
    from core.tenants.schemas import WorkspaceSettingsUpdate

    with unit_of_work(tenant.admin) as session:
        tenants.update_settings(session, tenant.admin, WorkspaceSettingsUpdate(timezone="Asia/Tokyo"))
        due = datetime.now(UTC).replace(hour=0, minute=30, second=0, microsecond=0) - timedelta(days=1)
        tasks.create(session, tenant.admin, TaskCreate(title="Send the quote", due_at=due))
    at = sign_in(new_app(), tenant.slug, tenant.admin_email)
    assert f"due {due.date().isoformat()} 09:30" in shown(at)  # 00:30 UTC is 09:30 in Tokyo
