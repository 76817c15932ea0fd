"""Activities, tasks and notes through their services: scope, related records, derived fields and events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from sqlalchemy import select

from core.activities import service as activities
from core.activities.schemas import ActivityCreate, ActivityUpdate
from core.actor import Actor
from core.db import unit_of_work
from core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from core.ids import new_id
from core.models import Account, Contact, Deal, Pipeline, Stage
from core.notes import service as notes
from core.notes.schemas import NoteCreate, NoteUpdate
from core.tasks import service as tasks
from core.tasks.schemas import TaskCreate, TaskUpdate
from core.users import service as users
from core.users.schemas import TeamCreate
from tests.core.conftest import owner_rows
from tests.factories import TenantWorld

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@dataclass
class Crm:
    world: TenantWorld
    admin: Actor
    manager: Actor
    rep: Actor
    other_rep: Actor
    rep_contact: UUID
    other_contact: UUID
    account: UUID
    deal: UUID


def add_contact(session, world: TenantWorld, owner: UUID, name: str = "Ada") -> UUID:
    contact = Contact(id=new_id(), tenant_id=world.tenant_id, owner_id=owner, first_name=name, last_name="Tester")
    session.add(contact)
    session.flush()
    return contact.id


def add_account(session, world: TenantWorld, owner: UUID, name: str = "Acme") -> UUID:
    account = Account(id=new_id(), tenant_id=world.tenant_id, owner_id=owner, name=name)
    session.add(account)
    session.flush()
    return account.id


def add_deal(session, world: TenantWorld, owner: UUID, name: str = "Big deal") -> UUID:
    pipeline_id = session.scalar(select(Pipeline.id).where(Pipeline.tenant_id == world.tenant_id))
    stage_id = session.scalar(select(Stage.id).where(Stage.pipeline_id == pipeline_id).order_by(Stage.display_order))
    deal = Deal(
        id=new_id(), tenant_id=world.tenant_id, owner_id=owner, pipeline_id=pipeline_id, stage_id=stage_id, name=name
    )
    session.add(deal)
    session.flush()
    return deal.id


def build_crm(world: TenantWorld) -> Crm:
    admin = world.admin
    with unit_of_work(admin) as session:
        team_a = users.create_team(session, admin, TeamCreate(name="A")).id
        team_b = users.create_team(session, admin, TeamCreate(name="B")).id
    manager = world.actor(world.add_user("manager", team_id=team_a))
    rep = world.actor(world.add_user("rep", team_id=team_a))
    other_rep = world.actor(world.add_user("rep", team_id=team_b))
    with unit_of_work(admin) as session:
        return Crm(
            world=world,
            admin=admin,
            manager=manager,
            rep=rep,
            other_rep=other_rep,
            rep_contact=add_contact(session, world, rep.user_id),
            other_contact=add_contact(session, world, other_rep.user_id, "Grace"),
            account=add_account(session, world, admin.user_id),
            deal=add_deal(session, world, rep.user_id),
        )


@pytest.fixture
def crm(tenant) -> Crm:
    return build_crm(tenant)


def log(actor: Actor, **fields) -> UUID:
    fields.setdefault("type", "call")
    fields.setdefault("subject", "Catch-up")
    with unit_of_work(actor) as session:
        return activities.create(session, actor, ActivityCreate(**fields)).id


def last_contacted(crm: Crm, contact_id: UUID) -> datetime | None:
    with unit_of_work(crm.admin) as session:
        return session.scalar(select(Contact.last_contacted_at).where(Contact.id == contact_id))


def listed(fn, actor: Actor, **params) -> list[UUID]:
    """The ids of a list page, in order."""
    with unit_of_work(actor) as session:
        return [UUID(item["id"]) for item in fn(session, actor, {k: [v] for k, v in params.items()}).items]


def events(crm: Crm, kind: str, entity_id: UUID) -> int:
    rows = owner_rows(
        "SELECT count(*) FROM events WHERE tenant_id = :t AND type = :k AND entity_id = :e",
        t=crm.world.tenant_id,
        k=kind,
        e=entity_id,
    )
    return rows[0][0]


# Activities --------------------------------------------------------------------------------------------


def test_logging_activities_keeps_last_contacted_at_at_the_latest_call_meeting_or_email(crm):
    first = log(crm.rep, contact_id=crm.rep_contact, occurred_at=T0)
    assert last_contacted(crm, crm.rep_contact) == T0
    log(crm.rep, type="note", subject="Thought", contact_id=crm.rep_contact, occurred_at=T0 + timedelta(days=5))
    assert last_contacted(crm, crm.rep_contact) == T0
    latest = log(crm.rep, type="meeting", contact_id=crm.rep_contact, occurred_at=T0 + timedelta(days=2))
    assert last_contacted(crm, crm.rep_contact) == T0 + timedelta(days=2)
    with unit_of_work(crm.rep) as session:
        activities.delete(session, crm.rep, latest)
    assert last_contacted(crm, crm.rep_contact) == T0
    with unit_of_work(crm.admin) as session:  # moving the call to another contact moves both dates
        activities.update(session, crm.admin, first, ActivityUpdate(contact_id=crm.other_contact))
    assert last_contacted(crm, crm.rep_contact) is None
    assert last_contacted(crm, crm.other_contact) == T0


def test_an_activity_is_about_records_the_actor_can_read(crm, other_tenant):
    with unit_of_work(other_tenant.admin) as session:
        foreign = add_contact(session, other_tenant, other_tenant.admin_id)
    for actor, fields, named in [
        (crm.rep, {}, {"contactId", "accountId", "dealId"}),
        (crm.admin, {"contact_id": foreign}, {"contactId"}),
        (crm.rep, {"contact_id": crm.other_contact, "account_id": crm.account}, {"contactId", "accountId"}),
        (crm.other_rep, {"deal_id": crm.deal}, {"dealId"}),
    ]:
        with unit_of_work(actor) as session, pytest.raises(ValidationFailed) as raised:
            activities.create(session, actor, ActivityCreate(type="call", subject="x", **fields))
        assert {d["field"] for d in raised.value.details} == named
    with unit_of_work(crm.rep) as session, pytest.raises(ValidationFailed, match="owner"):
        activities.create(
            session,
            crm.rep,
            ActivityCreate(type="call", subject="x", deal_id=crm.deal, owner_id=crm.other_rep.user_id),
        )


def test_record_scope_own_team_all(crm):
    mine = log(crm.rep, contact_id=crm.rep_contact)
    managers = log(crm.manager, deal_id=crm.deal)
    theirs = log(crm.other_rep, contact_id=crm.other_contact)
    assert set(listed(activities.list_activities, crm.rep)) == {mine}
    assert set(listed(activities.list_activities, crm.manager)) == {mine, managers}
    assert set(listed(activities.list_activities, crm.admin)) == {mine, managers, theirs}
    with unit_of_work(crm.rep) as session:
        with pytest.raises(NotFound):
            activities.get(session, crm.rep, theirs)
        with pytest.raises(NotFound):  # the parent itself is outside the rep's scope
            activities.list_activities(session, crm.rep, {}, parent=("contacts", crm.other_contact))
        with pytest.raises(PermissionDenied):
            activities.delete(session, crm.world.actor(crm.world.add_user("read_only")), mine)


def test_filters_sorts_and_cursor_pages(crm):
    ids = [
        log(crm.admin, type=kind, contact_id=crm.rep_contact, occurred_at=T0 + timedelta(hours=i), direction=direction)
        for i, (kind, direction) in enumerate(
            [("call", "inbound"), ("email", "outbound"), ("meeting", None), ("call", "outbound")]
        )
    ]
    assert listed(activities.list_activities, crm.admin, type="call") == [ids[3], ids[0]]
    window = {"occurredAt[gte]": (T0 + timedelta(hours=1)).isoformat(), "occurredAt[lt]": "2026-03-01T11:30:00Z"}
    assert listed(activities.list_activities, crm.admin, sort="occurredAt", **window) == ids[1:3]
    assert listed(activities.list_activities, crm.admin, direction="outbound", sort="type") == [
        ids[3],
        ids[1],
    ]
    seen, cursor = [], ""
    while cursor is not None:
        with unit_of_work(crm.admin) as session:
            page = activities.list_activities(
                session, crm.admin, {"cursor": [cursor], "limit": ["3"], "sort": ["occurredAt"]}
            )
        assert page.cursor and page.total is None
        seen += [UUID(a["id"]) for a in page.items]
        cursor = page.next_cursor
    assert seen == ids
    with pytest.raises(ValidationFailed, match="mood"):
        listed(activities.list_activities, crm.admin, mood="happy")


def test_stale_version_is_a_conflict_and_changes_are_evented(crm):
    activity_id = log(crm.rep, deal_id=crm.deal)
    assert events(crm, "activity.created", activity_id) == 1
    with unit_of_work(crm.rep) as session:
        updated = activities.update(session, crm.rep, activity_id, ActivityUpdate(outcome="voicemail", version=1))
        assert updated.version == 2
    with unit_of_work(crm.rep) as session, pytest.raises(Conflict):
        activities.update(session, crm.rep, activity_id, ActivityUpdate(outcome="reached", version=1))
    with unit_of_work(crm.rep) as session, pytest.raises(ValidationFailed, match="subject"):
        activities.update(session, crm.rep, activity_id, ActivityUpdate(subject=None))
    with unit_of_work(crm.rep) as session, pytest.raises(ValidationFailed):
        activities.update(session, crm.rep, activity_id, ActivityUpdate(deal_id=None))
    assert events(crm, "activity.updated", activity_id) == 1


# Tasks -------------------------------------------------------------------------------------------------


def make_task(actor: Actor, **fields) -> UUID:
    fields.setdefault("title", "Follow up")
    with unit_of_work(actor) as session:
        return tasks.create(session, actor, TaskCreate(**fields)).id


def test_overdue_is_derived_and_filterable(crm):
    now = datetime.now(UTC)
    late = make_task(crm.rep, due_at=now - timedelta(days=1), contact_id=crm.rep_contact)
    soon = make_task(crm.rep, due_at=now + timedelta(days=1), status="in_progress")
    done = make_task(crm.rep, due_at=now - timedelta(days=2), status="done")
    undated = make_task(crm.rep)
    assert listed(tasks.list_tasks, crm.rep, overdue="true") == [late]
    assert set(listed(tasks.list_tasks, crm.rep, overdue="false")) == {soon, done, undated}
    assert listed(tasks.list_tasks, crm.rep, status="open,in_progress", sort="dueAt") == [
        late,
        soon,
        undated,  # no due date: last
    ]
    assert listed(tasks.list_tasks, crm.rep, contactId=str(crm.rep_contact)) == [late]
    with unit_of_work(crm.rep) as session:
        assert tasks.to_read(tasks.get(session, crm.rep, late)).is_overdue is True
        assert tasks.to_read(tasks.get(session, crm.rep, done)).is_overdue is False
        assert tasks.get(session, crm.rep, done).completed_at is not None


def test_completing_emits_task_completed_once_and_reopening_clears_it(crm):
    task_id = make_task(crm.rep, assignee_id=crm.manager.user_id)
    assert listed(tasks.list_tasks, crm.rep) == []  # assigned away: outside the rep's own scope
    with unit_of_work(crm.manager) as session:
        task = tasks.update(session, crm.manager, task_id, TaskUpdate(status="done"))
        assert task.completed_at is not None
    with unit_of_work(crm.manager) as session:
        tasks.update(session, crm.manager, task_id, TaskUpdate(status="done", priority="high"))
    assert events(crm, "task.completed", task_id) == 1
    with unit_of_work(crm.manager) as session:
        task = tasks.update(session, crm.manager, task_id, TaskUpdate(status="open", due_at=T0))
        assert task.completed_at is None and task.due_at == T0
    assert events(crm, "task.completed", task_id) == 1
    with unit_of_work(crm.manager) as session, pytest.raises(Conflict):
        tasks.update(session, crm.manager, task_id, TaskUpdate(title="Again", version=2))


def test_assignee_is_an_active_user_of_the_tenant(crm, other_tenant):
    for assignee in (other_tenant.admin_id, new_id()):
        with unit_of_work(crm.admin) as session, pytest.raises(ValidationFailed) as raised:
            tasks.create(session, crm.admin, TaskCreate(title="x", assignee_id=assignee))
        assert raised.value.details[0]["field"] == "assigneeId"
    task_id = make_task(crm.admin, assignee_id=crm.other_rep.user_id)
    with unit_of_work(crm.other_rep) as session:
        assert tasks.get(session, crm.other_rep, task_id).created_by == crm.admin.user_id


# Notes -------------------------------------------------------------------------------------------------


def add_note(actor: Actor, entity_type: str, entity_id: UUID, body: str, pinned: bool = False) -> UUID:
    with unit_of_work(actor) as session:
        return notes.create(session, actor, entity_type, entity_id, NoteCreate(body=body, is_pinned=pinned)).id


def test_notes_follow_their_parent_and_list_pinned_first(crm):
    body = "  Привет 👋 — '; DROP TABLE notes; --\n\tend  "
    first = add_note(crm.rep, "contacts", crm.rep_contact, body)
    pinned = add_note(crm.admin, "contacts", crm.rep_contact, "Pinned", pinned=True)
    last = add_note(crm.rep, "contacts", crm.rep_contact, "Latest")
    with unit_of_work(crm.rep) as session:
        page = notes.list_notes(session, crm.rep, "contacts", crm.rep_contact, {})
        assert [UUID(n["id"]) for n in page.items] == [pinned, last, first] and page.total == 3
        assert notes.get(session, crm.rep, first).body == body
        page = notes.list_notes(session, crm.rep, "contacts", crm.rep_contact, {"search": ["drop"], "fields": ["body"]})
        assert page.items == [{"id": str(first), "body": body}]
    with unit_of_work(crm.other_rep) as session:
        for call in (
            lambda: notes.get(session, crm.other_rep, first),
            lambda: notes.list_notes(session, crm.other_rep, "contacts", crm.rep_contact, {}),
            lambda: notes.update(session, crm.other_rep, first, NoteUpdate(body="mine now")),
            lambda: notes.create(session, crm.other_rep, "contacts", crm.rep_contact, NoteCreate(body="hi")),
        ):
            with pytest.raises(NotFound):
                call()
    with unit_of_work(crm.manager) as session:  # the rep is in the manager's team
        note = notes.update(session, crm.manager, first, NoteUpdate(is_pinned=True, version=1))
        assert note.version == 2
    with unit_of_work(crm.rep) as session:
        notes.delete(session, crm.rep, first)
        with pytest.raises(NotFound):
            notes.get(session, crm.rep, first)
    assert events(crm, "note.deleted", first) == 1


def test_notes_on_accounts_and_deals_and_long_bodies(crm):
    big = "x" * 50_000
    on_account = add_note(crm.admin, "accounts", crm.account, big)
    on_deal = add_note(crm.rep, "deals", crm.deal, "deal note")
    with unit_of_work(crm.admin) as session:
        assert len(notes.get(session, crm.admin, on_account).body) == 50_000
        page = notes.list_notes(session, crm.admin, "deals", crm.deal, {})
        assert [UUID(n["id"]) for n in page.items] == [on_deal]
    with pytest.raises(ValueError):
        NoteCreate(body=big + "x")
    with unit_of_work(crm.rep) as session, pytest.raises(NotFound):  # the admin's account is not the rep's
        notes.get(session, crm.rep, on_account)
