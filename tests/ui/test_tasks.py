"""Tasks: my tasks and my team's, with overdue ones flagged; completing, rescheduling, reassigning and creating
tasks write through core/tasks."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from uuid import UUID

from streamlit.testing.v1 import AppTest

from core.db import unit_of_work
from core.demo.service import SeedResult
from core.tasks import service as tasks
from core.tasks.schemas import TaskCreate
from core.users import service as users
from core.users.schemas import TeamCreate
from tests.factories import TenantWorld
from tests.ui.conftest import as_role, new_app, open_page, shown, sign_in


def tasks_page(at: AppTest) -> AppTest:
    open_page(at, "tasks.py")
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    return at


def table_rows(at: AppTest) -> list[dict]:
    return at.dataframe[0].value.to_dict("records") if at.dataframe else []


def titles(at: AppTest) -> list[str]:
    return [row["Title"] for row in table_rows(at)]


def select(at: AppTest, *wanted: str) -> AppTest:
    """Tick the table rows of these titles, as a click on their row would."""
    rows = [i for i, title in enumerate(titles(at)) if title in wanted]
    key = at.dataframe[0].key
    at.session_state[key] = {"selection": {"rows": rows, "columns": [], "cells": []}}
    return at.run()


def add_task(world: TenantWorld, title: str, assignee: UUID | None = None, due: datetime | None = None) -> UUID:
    with unit_of_work(world.admin) as session:
        return tasks.create(session, world.admin, TaskCreate(title=title, assignee_id=assignee, due_at=due)).id


def read_task(world: TenantWorld, task_id: UUID):  # noqa: ANN201
    with unit_of_work(world.admin) as session:
        return tasks.get(session, world.admin, task_id)


def email_of(world: TenantWorld, user_id: UUID) -> str:
    with unit_of_work(world.admin) as session:
        return users.get(session, world.admin, user_id).email


def test_the_tasks_page_renders_for_reps_and_managers_of_the_demo(demo_workspace: SeedResult) -> None:
    rep = tasks_page(as_role(demo_workspace, "rep"))
    assert not [c for c in rep.segmented_control if c.key == "tasks_view"]  # no switch with one choice
    rep.multiselect(key="tasks_status").set_value(["open", "in_progress", "done", "cancelled"]).run()
    assert not rep.exception and not rep.error
    assert table_rows(rep), "the demo rep has tasks"
    assert any(row["About"].startswith("Deal: ") for row in table_rows(rep))  # named, linked records

    manager = tasks_page(as_role(demo_workspace, "manager"))
    manager.segmented_control(key="tasks_view").set_value("My team's").run()
    manager.multiselect(key="tasks_status").set_value(["open", "in_progress", "done"]).run()
    assert not manager.exception and not manager.error
    assert len({row["Assignee"] for row in table_rows(manager)}) > 1  # the team's reps, not only the manager


def test_overdue_tasks_are_flagged_and_complete_and_reschedule_change_them(tenant: TenantWorld) -> None:
    late = add_task(tenant, "Call Acme back", due=datetime.now(UTC) - timedelta(days=2))
    later = add_task(tenant, "Send the proposal", due=datetime.now(UTC) + timedelta(days=3))
    at = tasks_page(sign_in(new_app(), tenant.slug, tenant.admin_email))
    rows = {row["Title"]: row for row in table_rows(at)}
    assert rows["Call Acme back"]["Due"].startswith("overdue")
    assert not rows["Send the proposal"]["Due"].startswith("overdue")
    assert "1 overdue" in shown(at)

    select(at, "Call Acme back")
    at.button(key="tasks_complete").click().run()
    assert read_task(tenant, late).status == "done"
    assert titles(at) == ["Send the proposal"]  # done tasks leave the open list

    select(at, "Send the proposal")
    at.date_input(key="tasks_new_day").set_value(date(2031, 5, 6))
    at.time_input(key="tasks_new_time").set_value(time(14, 30))
    next(b for b in at.button if b.label == "Reschedule").click().run()
    assert not at.error, [e.value for e in at.error]
    assert read_task(tenant, later).due_at == datetime(2031, 5, 6, 14, 30, tzinfo=UTC)  # the tenant works in UTC

    at.selectbox(key="tasks_due").set_value("later").run()
    assert titles(at) == ["Send the proposal"]
    at.selectbox(key="tasks_due").set_value("overdue").run()
    assert titles(at) == [] and "No task matches" in shown(at)


def test_a_task_without_a_title_is_refused_and_a_titled_one_is_created(tenant: TenantWorld) -> None:
    at = tasks_page(sign_in(new_app(), tenant.slug, tenant.admin_email))
    create = next(b for b in at.button if b.label == "Create task")
    create.click().run()
    assert any("title" in e.value.lower() for e in at.error)
    with unit_of_work(tenant.admin) as session:
        assert tasks.list_tasks(session, tenant.admin, {}).total == 0

    at.text_input(key="tasks_new_title").input("Book the demo")
    at.checkbox(key="tasks_new_no_date").check()
    next(b for b in at.button if b.label == "Create task").click().run()
    assert not at.error, [e.value for e in at.error]
    with unit_of_work(tenant.admin) as session:
        created = tasks.list_tasks(session, tenant.admin, {}).items
    assert [(t["title"], t["dueAt"], t["assigneeId"]) for t in created] == [
        ("Book the demo", None, str(tenant.admin_id))
    ]
    assert "Book the demo" in titles(at)


def test_a_manager_sees_and_reassigns_the_team_tasks_and_a_rep_sees_only_their_own(tenant: TenantWorld) -> None:
    with unit_of_work(tenant.admin) as session:
        team = users.create_team(session, tenant.admin, TeamCreate(name="East")).id
    manager = tenant.add_user("manager", team_id=team)
    member = tenant.add_user("rep", team_id=team)
    outsider = tenant.add_user("rep")
    member_task = add_task(tenant, "Member follow-up", assignee=member)
    add_task(tenant, "Outsider follow-up", assignee=outsider)

    rep = tasks_page(sign_in(new_app(), tenant.slug, email_of(tenant, member)))
    assert titles(rep) == ["Member follow-up"]
    assert not [c for c in rep.segmented_control if c.key == "tasks_view"]  # no switch with one choice
    assert not [b for b in rep.button if b.label == "Reassign"]  # a rep's scope holds nobody to hand over to

    at = tasks_page(sign_in(new_app(), tenant.slug, email_of(tenant, manager)))
    assert titles(at) == []  # nothing of the manager's own
    assert "Choose My team's above" in shown(at)  # the empty list says where the team's tasks are
    at.segmented_control(key="tasks_view").set_value("My team's").run()
    assert titles(at) == ["Member follow-up"]
    assert table_rows(at)[0]["Assignee"] == "Rep Tester"
    assert set(at.selectbox(key="tasks_assignee").options) == {"Everyone", "Manager Tester", "Rep Tester"}

    select(at, "Member follow-up")
    at.selectbox(key="tasks_assign_to").set_value(str(manager))
    next(b for b in at.button if b.label == "Reassign").click().run()
    assert not at.error, [e.value for e in at.error]
    assert read_task(tenant, member_task).assignee_id == manager
    at.segmented_control(key="tasks_view").set_value("My tasks").run()
    assert titles(at) == ["Member follow-up"]
