"""Albedo's writes: a request becomes a proposal showing exactly what will change (record, field, old -> new);
nothing changes until its user confirms; the change then runs through the services, audited via "albedo" with the
conversation id, and can be undone. Other users' records and proposals stay out of reach, deletes need the
permission, expired, repeated and stale confirmations change nothing, and a refused action leaves no half-write."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest

from ai.albedo.tools import ToolContext, call
from core.activities.models import Activity
from core.actor import Actor
from core.albedo import proposals
from core.albedo import service as conversations
from core.contacts import service as contacts
from core.contacts.schemas import ContactCreate, ContactUpdate
from core.custom_fields import service as custom_fields
from core.custom_fields.schemas import CustomFieldCreate
from core.db import unit_of_work
from core.deals import service as deals
from core.deals.schemas import DealCreate, DealPatch
from core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from core.notes.models import Note
from core.pipelines import service as pipelines
from core.rbac import service as rbac
from core.rbac.schemas import RoleCreate, RoleUpdate
from core.tasks.models import Task
from tests.core.conftest import owner_execute, owner_rows
from tests.factories import TenantWorld


def _stage(actor: Actor, name: str) -> UUID:
    with unit_of_work(actor) as session:
        pipeline = pipelines.default_pipeline(session, actor)
        assert pipeline is not None
        return next(
            s.id for s in pipelines.stages_by_pipeline(session, actor, [pipeline.id])[pipeline.id] if s.name == name
        )


def _deal(actor: Actor, name: str, stage: str = "Proposal", **fields: Any) -> UUID:
    stage_id = _stage(actor, stage)
    with unit_of_work(actor) as session:
        return deals.create(session, actor, DealCreate(name=name, stage_id=stage_id, **fields)).id


def _contact(actor: Actor, first: str, last: str, **fields: Any) -> UUID:
    with unit_of_work(actor) as session:
        return contacts.create(session, actor, ContactCreate(first_name=first, last_name=last, **fields)).id


def _conversation(actor: Actor) -> UUID:
    with unit_of_work(actor) as session:
        return conversations.start(session, actor).id


def _propose(actor: Actor, conversation_id: UUID, action: str, arguments: dict[str, Any]) -> UUID:
    with unit_of_work(actor) as session:
        return proposals.propose(session, actor, conversation_id, action, arguments).id


def _view(actor: Actor, proposal_id: UUID) -> dict[str, Any]:
    with unit_of_work(actor) as session:
        return proposals.to_read(proposals.get(session, actor, proposal_id)).model_dump(mode="json")


def _confirm(actor: Actor, proposal_id: UUID) -> dict[str, Any]:
    with unit_of_work(actor) as session:
        return proposals.to_read(proposals.confirm(session, actor, proposal_id)).model_dump(mode="json")


def _undo(actor: Actor, proposal_id: UUID) -> dict[str, Any]:
    with unit_of_work(actor) as session:
        return proposals.to_read(proposals.undo(session, actor, proposal_id)).model_dump(mode="json")


def _deal_state(actor: Actor, deal_id: UUID) -> tuple[str, int, bool]:
    with unit_of_work(actor) as session:
        deal = deals.get(session, actor, deal_id)
        stage = session.get(pipelines.Stage, deal.stage_id)
        return stage.name, deal.probability, deal.is_closed


def _audit(entity_id: UUID) -> list[Any]:
    return owner_rows(
        "SELECT action, via, request_id, new_values FROM audit_logs WHERE entity_id = :id ORDER BY created_at, id",
        id=entity_id,
    )


def _fields(changes: list[dict[str, Any]]) -> list[tuple[str | None, str, Any, Any]]:
    return [(c["record"]["label"] if c["record"] else None, c["field"], c["old"], c["new"]) for c in changes]


def test_a_stage_move_is_shown_then_made_only_when_confirmed_audited_via_albedo_and_undone(tenant: TenantWorld) -> None:
    rep = tenant.actor(tenant.add_user("rep"))
    deal_id = _deal(rep, "Acme renewal", amount=Decimal("12000"))
    conversation_id = _conversation(rep)
    proposal_id = _propose(rep, conversation_id, "move_deal_stage", {"dealId": str(deal_id), "stage": "negotiation"})
    shown = _view(rep, proposal_id)
    assert shown["summary"] == "Move deal Acme renewal from Proposal to Negotiation"
    assert shown["status"] == "pending" and shown["undoable"] is False
    assert _fields(shown["changes"]) == [
        ("Acme renewal", "stage", "Proposal", "Negotiation"),
        ("Acme renewal", "probability", 50, 75),
    ]
    assert _deal_state(rep, deal_id) == ("Proposal", 50, False)  # nothing changed yet
    updates_before = [row for row in _audit(deal_id) if row.action == "update"]
    assert updates_before == []

    done = _confirm(rep, proposal_id)
    assert done["status"] == "confirmed" and done["undoable"] is True
    assert _deal_state(rep, deal_id) == ("Negotiation", 75, False)
    updates = [row for row in _audit(deal_id) if row.action == "update"]
    assert updates and all(row.via == "albedo" for row in updates)
    assert all(row.request_id == f"albedo:{conversation_id}:{proposal_id}" for row in updates)
    with unit_of_work(rep) as session:
        said = conversations.messages(session, rep, conversation_id)[-1]
        assert said.role == "assistant" and said.content == f"Done: {shown['summary']}"
        assert said.action_taken["proposalId"] == str(proposal_id) and said.action_taken["status"] == "confirmed"
        assert said.action_taken["records"][0]["id"] == str(deal_id)

    assert _undo(rep, proposal_id)["status"] == "undone"
    assert _deal_state(rep, deal_id) == ("Proposal", 50, False)
    undo_rows = [row for row in _audit(deal_id) if row.request_id == f"albedo:{conversation_id}:{proposal_id}:undo"]
    assert undo_rows and all(row.via == "albedo" for row in undo_rows)
    with unit_of_work(rep) as session, pytest.raises(Conflict):
        proposals.undo(session, rep, proposal_id)  # once only


def test_stage_names_are_checked_and_a_lost_move_needs_its_reason(tenant: TenantWorld) -> None:
    rep = tenant.actor(tenant.add_user("rep"))
    deal_id = _deal(rep, "Globex pilot")
    conversation_id = _conversation(rep)
    with unit_of_work(rep) as session, pytest.raises(ValidationFailed) as unknown:
        proposals.propose(
            session, rep, conversation_id, "move_deal_stage", {"dealId": str(deal_id), "stage": "Won-ish"}
        )
    assert "Negotiation" in unknown.value.message and "Closed Lost" in unknown.value.message
    with unit_of_work(rep) as session, pytest.raises(ValidationFailed) as no_reason:
        proposals.propose(
            session, rep, conversation_id, "move_deal_stage", {"dealId": str(deal_id), "stage": "closed lost"}
        )
    assert "lost reason" in no_reason.value.message
    lost = _propose(
        rep, conversation_id, "move_deal_stage", {"dealId": str(deal_id), "stage": "Closed Lost", "lostReason": "Price"}
    )
    assert ("Globex pilot", "lostReason", None, "Price") in _fields(_view(rep, lost)["changes"])
    _confirm(rep, lost)
    assert _deal_state(rep, deal_id) == ("Closed Lost", 0, True)
    _undo(rep, lost)  # reopened where it was
    assert _deal_state(rep, deal_id) == ("Proposal", 50, False)


def test_a_bulk_update_names_every_record_and_field_and_undo_restores_each(tenant: TenantWorld) -> None:
    admin = tenant.admin
    with unit_of_work(admin) as session:
        custom_fields.create(
            session,
            admin,
            CustomFieldCreate(entity_type="contacts", field_name="region", field_label="Region", field_type="text"),
        )
    ids = [
        _contact(admin, "Ada", "Lovelace", lead_status="new", custom_fields={"region": "EMEA"}),
        _contact(admin, "Alan", "Turing", lead_status="contacted"),
        _contact(admin, "Grace", "Hopper", lead_status="new"),
    ]
    conversation_id = _conversation(admin)
    proposal_id = _propose(
        admin,
        conversation_id,
        "update_fields",
        {
            "entity": "contact",
            "ids": [str(i) for i in ids],
            "changes": {"leadStatus": "qualified", "customFields": {"region": "APAC"}},
        },
    )
    shown = _view(admin, proposal_id)
    assert _fields(shown["changes"]) == [
        ("Ada Lovelace", "leadStatus", "new", "qualified"),
        ("Ada Lovelace", "customFields.region", "EMEA", "APAC"),
        ("Alan Turing", "leadStatus", "contacted", "qualified"),
        ("Alan Turing", "customFields.region", None, "APAC"),
        ("Grace Hopper", "leadStatus", "new", "qualified"),
        ("Grace Hopper", "customFields.region", None, "APAC"),
    ]
    assert "3 contacts: Ada Lovelace, Alan Turing, Grace Hopper" in shown["summary"]

    def state() -> list[tuple[str | None, Any]]:
        with unit_of_work(admin) as session:
            reads = [contacts.to_read(session, admin, contacts.get(session, admin, i)) for i in ids]
            return [(read.lead_status, read.custom_fields.get("region")) for read in reads]

    assert state() == [("new", "EMEA"), ("contacted", None), ("new", None)]
    _confirm(admin, proposal_id)
    assert state() == [("qualified", "APAC")] * 3
    assert all(row.via == "albedo" for i in ids for row in _audit(i) if row.action == "update")
    _undo(admin, proposal_id)
    assert state() == [("new", "EMEA"), ("contacted", None), ("new", None)]


def test_tasks_activities_notes_and_new_records_appear_only_after_confirmation_and_undo_removes_them(
    tenant: TenantWorld,
) -> None:
    rep_id = tenant.add_user("rep")
    rep = tenant.actor(rep_id)
    deal_id = _deal(rep, "Initech upgrade")
    contact_id = _contact(rep, "Peter", "Gibbons")
    conversation_id = _conversation(rep)
    due = datetime(2030, 1, 15, 10, 0, tzinfo=UTC)
    task = _propose(
        rep,
        conversation_id,
        "create_task",
        {"title": "Send the quote", "dueAt": due.isoformat(), "dealId": str(deal_id)},
    )
    shown = _view(rep, task)
    assert shown["summary"] == "Create task 'Send the quote' due 2030-01-15 10:00 UTC for Rep Tester"
    assert (None, "dealId", None, "Initech upgrade") in _fields(shown["changes"])
    call_ = _propose(
        rep,
        conversation_id,
        "log_activity",
        {"type": "call", "subject": "Pricing call", "contactId": str(contact_id), "durationSeconds": 900},
    )
    note = _propose(
        rep, conversation_id, "log_activity", {"type": "note", "subject": "Budget is approved", "dealId": str(deal_id)}
    )
    milton = {"entity": "contact", "fields": {"firstName": "Milton", "lastName": "Waddams"}}
    new_contact = _propose(rep, conversation_id, "create_record", milton)
    assert _view(rep, new_contact)["summary"] == "Create contact Milton Waddams"

    def counts() -> tuple[int, int, int, int]:
        tasks = owner_rows("SELECT count(*) FROM tasks WHERE tenant_id = :t AND deleted_at IS NULL", t=tenant.tenant_id)
        calls = owner_rows(
            "SELECT count(*) FROM activities WHERE tenant_id = :t AND deleted_at IS NULL", t=tenant.tenant_id
        )
        notes = owner_rows("SELECT count(*) FROM notes WHERE tenant_id = :t AND deleted_at IS NULL", t=tenant.tenant_id)
        people = owner_rows(
            "SELECT count(*) FROM contacts WHERE tenant_id = :t AND last_name = 'Waddams' AND deleted_at IS NULL",
            t=tenant.tenant_id,
        )
        return tasks[0][0], calls[0][0], notes[0][0], people[0][0]

    assert counts() == (0, 0, 0, 0)  # proposing (even its trial run) wrote nothing
    results = [_confirm(rep, p) for p in (task, call_, note, new_contact)]
    assert [r["status"] for r in results] == ["confirmed"] * 4
    assert counts() == (1, 1, 1, 1)
    with unit_of_work(rep) as session:
        created = session.get(Task, UUID(results[0]["result"]["created"][0]["id"]))
        assert created.title == "Send the quote" and created.due_at == due and created.assignee_id == rep_id
        activity = session.get(Activity, UUID(results[1]["result"]["created"][0]["id"]))
        assert (activity.type, activity.duration_seconds, activity.contact_id) == ("call", 900, contact_id)
        assert session.get(Note, UUID(results[2]["result"]["created"][0]["id"])).body == "Budget is approved"
    for row in _audit(UUID(results[0]["result"]["created"][0]["id"])):
        assert row.via == "albedo" and str(conversation_id) in row.request_id
    for p in (task, call_, note):
        _undo(rep, p)
    assert counts() == (0, 0, 0, 1)
    with unit_of_work(rep) as session, pytest.raises(PermissionDenied):
        proposals.undo(session, rep, new_contact)  # undoing a creation deletes it: reps may not delete contacts
    assert _view(rep, new_contact)["status"] == "confirmed"


def test_assigning_an_owner_shows_names_and_undo_gives_it_back(tenant: TenantWorld) -> None:
    admin = tenant.admin
    rep_id = tenant.add_user("rep")
    deal_id = _deal(admin, "Umbrella expansion")
    conversation_id = _conversation(admin)
    proposal_id = _propose(
        admin, conversation_id, "assign_owner", {"entity": "deal", "ids": [str(deal_id)], "ownerId": str(rep_id)}
    )
    shown = _view(admin, proposal_id)
    assert _fields(shown["changes"]) == [("Umbrella expansion", "ownerId", "Admin User", "Rep Tester")]
    assert shown["summary"].startswith("Give to Rep Tester on deal: Umbrella expansion")
    _confirm(admin, proposal_id)
    with unit_of_work(admin) as session:
        assert deals.get(session, admin, deal_id).owner_id == rep_id
    _undo(admin, proposal_id)
    with unit_of_work(admin) as session:
        assert deals.get(session, admin, deal_id).owner_id == tenant.admin_id


def test_other_reps_records_and_proposals_are_out_of_reach_and_deletes_need_the_permission(tenant: TenantWorld) -> None:
    alice = tenant.actor(tenant.add_user("rep"))
    bob = tenant.actor(tenant.add_user("rep"))
    bobs_deal = _deal(bob, "Bob's deal")
    alices_contact = _contact(alice, "Carol", "Client")
    conversation_id = _conversation(alice)
    with unit_of_work(alice) as session, pytest.raises(NotFound):
        proposals.propose(
            session, alice, conversation_id, "move_deal_stage", {"dealId": str(bobs_deal), "stage": "Negotiation"}
        )
    with unit_of_work(alice) as session, pytest.raises(NotFound):
        proposals.propose(
            session,
            alice,
            conversation_id,
            "update_fields",
            {"entity": "deal", "ids": [str(bobs_deal)], "changes": {"amount": 1}},
        )
    with unit_of_work(alice) as session, pytest.raises(PermissionDenied):
        proposals.propose(
            session, alice, conversation_id, "delete_records", {"entity": "contact", "ids": [str(alices_contact)]}
        )
    with unit_of_work(bob) as session, pytest.raises(NotFound):  # not bob's conversation
        proposals.propose(session, bob, conversation_id, "create_task", {"title": "Sneak in"})
    mine = _propose(
        alice,
        conversation_id,
        "update_fields",
        {"entity": "contact", "ids": [str(alices_contact)], "changes": {"title": "CFO"}},
    )
    for action in (proposals.get, proposals.confirm, proposals.cancel, proposals.undo):
        with unit_of_work(bob) as session, pytest.raises(NotFound):
            action(session, bob, mine)
    admin = tenant.admin
    with unit_of_work(admin) as session, pytest.raises(NotFound):
        proposals.confirm(session, admin, mine)  # an admin does not confirm others' proposals either
    with unit_of_work(alice) as session:
        assert contacts.get(session, alice, alices_contact).title is None

    admin_talk = _conversation(admin)
    doomed = [_contact(admin, "Old", f"Lead {n}") for n in range(3)]
    delete = _propose(admin, admin_talk, "delete_records", {"entity": "contact", "ids": [str(i) for i in doomed]})
    shown = _view(admin, delete)
    assert [c["record"]["id"] for c in shown["changes"]] == [str(i) for i in doomed]
    assert shown["summary"] == "Delete 3 contacts: Old Lead 0, Old Lead 1, Old Lead 2"
    _confirm(admin, delete)
    with unit_of_work(admin) as session:
        for i in doomed:
            with pytest.raises(NotFound):
                contacts.get(session, admin, i)
    with unit_of_work(admin) as session, pytest.raises(Conflict) as undo:
        proposals.undo(session, admin, delete)
    assert "cannot be undone" in undo.value.message


def test_expired_repeated_cancelled_and_stale_confirmations_change_nothing(tenant: TenantWorld) -> None:
    rep = tenant.actor(tenant.add_user("rep"))
    deal_id = _deal(rep, "Hooli deal")
    conversation_id = _conversation(rep)
    move = {"dealId": str(deal_id), "stage": "Negotiation"}

    twice = _propose(rep, conversation_id, "move_deal_stage", move)
    _confirm(rep, twice)
    with unit_of_work(rep) as session, pytest.raises(Conflict) as again:
        proposals.confirm(session, rep, twice)
    assert "already confirmed" in again.value.message
    history = owner_rows("SELECT count(*) FROM deal_stage_history WHERE deal_id = :d", d=deal_id)[0][0]
    assert history == 2  # created + one move, not two
    _undo(rep, twice)

    expired = _propose(rep, conversation_id, "move_deal_stage", move)
    owner_execute("UPDATE ai_proposals SET expires_at = now() - interval '1 minute' WHERE id = :id", id=expired)
    with unit_of_work(rep) as session, pytest.raises(Conflict) as late:
        proposals.confirm(session, rep, expired)
    assert late.value.message == "This proposal expired; ask again"

    cancelled = _propose(rep, conversation_id, "move_deal_stage", move)
    with unit_of_work(rep) as session:
        assert proposals.cancel(session, rep, cancelled).status == "cancelled"
    with unit_of_work(rep) as session, pytest.raises(Conflict):
        proposals.confirm(session, rep, cancelled)

    stale = _propose(rep, conversation_id, "move_deal_stage", move)
    with unit_of_work(rep) as session:  # someone edits the deal after the proposal was made
        deals.update(session, rep, deal_id, DealPatch(next_step="Call back"))
    failed = _confirm(rep, stale)
    assert failed["status"] == "failed" and failed["error"] == "The deal changed since; ask again"
    assert failed["result"]["error"]["status"] == 409
    assert _deal_state(rep, deal_id) == ("Proposal", 50, False)
    with unit_of_work(rep) as session:
        assert proposals.get(session, rep, stale).status == "failed"  # kept on record
        assert conversations.messages(session, rep, conversation_id)[-1].content.startswith("Could not do it:")


def test_a_refused_bulk_change_leaves_no_record_half_written(tenant: TenantWorld) -> None:
    rep = tenant.actor(tenant.add_user("rep"))
    first, second = _contact(rep, "Ann", "One"), _contact(rep, "Ben", "Two")
    conversation_id = _conversation(rep)
    both = {"entity": "contact", "ids": [str(first), str(second)], "changes": {"title": "VP"}}
    proposal_id = _propose(rep, conversation_id, "update_fields", both)
    with unit_of_work(rep) as session:
        contacts.update(session, rep, second, ContactUpdate(phone="555-0100"))
    failed = _confirm(rep, proposal_id)
    assert failed["status"] == "failed" and "Ben Two changed since" in failed["error"]
    with unit_of_work(rep) as session:
        assert contacts.get(session, rep, first).title is None  # the first was not changed either
        assert contacts.get(session, rep, second).title is None
    assert not [row for row in _audit(first) if row.via == "albedo"]


def test_bad_arguments_say_what_to_fix(tenant: TenantWorld) -> None:
    rep = tenant.actor(tenant.add_user("rep"))
    conversation_id = _conversation(rep)
    contact_id = _contact(rep, "Dana", "Doe")
    one = {"entity": "contact", "ids": [str(contact_id)]}
    cases = [
        ("create_task", {"title": ""}, "title"),
        ("update_fields", {**one, "changes": {"leadStatus": "hot"}}, "leadStatus"),
        ("update_fields", {**one, "changes": {"shoeSize": 44}}, "shoeSize"),
        ("update_fields", {**one, "entity": "deal", "changes": {"stageId": str(contact_id)}}, "move_deal_stage"),
        ("log_activity", {"type": "call", "subject": "Hi"}, "contact"),
        ("create_record", {"entity": "deal", "fields": {"amount": 5}}, "name"),
        ("launch_rockets", {}, "Unknown action"),
    ]
    for action, arguments, hint in cases:
        with unit_of_work(rep) as session, pytest.raises(ValidationFailed) as raised:
            proposals.propose(session, rep, conversation_id, action, arguments)
        assert hint in raised.value.message or hint in str(raised.value.details), (action, raised.value.message)
    with unit_of_work(rep) as session:
        assert proposals.list_for(session, rep, conversation_id) == []


def test_the_write_tools_only_propose_and_draft_email_writes_nothing(tenant: TenantWorld) -> None:
    rep = tenant.actor(tenant.add_user("rep"))
    contact_id = _contact(rep, "Erin", "Example", email="erin@example.com")
    deal_id = _deal(rep, "Example Corp deal", contact_id=contact_id, next_step="Review the contract")
    conversation_id = _conversation(rep)
    now = datetime.now(UTC)
    with unit_of_work(rep) as session:
        ctx = ToolContext(session=session, actor=rep, today=now.date(), now=now, conversation_id=conversation_id)
        made, result = call(ctx, "move_deal_stage", {"dealId": str(deal_id), "stage": "Negotiation"})
        assert made.ok and result.proposal is not None and result.proposal.status == "pending"
        assert result.proposal.summary == "Move deal Example Corp deal from Proposal to Negotiation"
        assert result.proposal.changes[0].old == "Proposal" and result.proposal.changes[0].new == "Negotiation"
        assert result.records[0].id == str(deal_id)
        refused, failed = call(ctx, "delete_records", {"entity": "deal", "ids": [str(deal_id)]})
        assert not refused.ok and "Permission denied" in (failed.error or "")
        drafted, draft = call(ctx, "draft_email", {"dealId": str(deal_id)})
        assert drafted.ok and draft.proposal is None
        assert draft.value["to"] == "erin@example.com" and draft.value["subject"] == "Following up: Example Corp deal"
        assert draft.value["body"].startswith("Hi Erin,") and "Review the contract" in draft.value["body"]
        listed = proposals.list_for(session, rep, conversation_id)
        assert [p.action for p in listed] == ["move_deal_stage"]
    assert _deal_state(rep, deal_id) == ("Proposal", 50, False)


def test_confirming_checks_the_permissions_the_user_has_now(tenant: TenantWorld) -> None:
    admin = tenant.admin
    granted = ["albedo:use", "tasks:read", "tasks:create", "users:read"]
    with unit_of_work(admin) as session:
        role = rbac.create(session, admin, RoleCreate(name="planner", permissions=granted, record_scope="own"))
    planner_id = tenant.add_user("planner")
    planner = tenant.actor(planner_id)
    conversation_id = _conversation(planner)
    proposal_id = _propose(planner, conversation_id, "create_task", {"title": "Plan the quarter"})
    with unit_of_work(admin) as session:  # the admin withdraws the permission before the planner confirms
        rbac.update(session, admin, role.id, RoleUpdate(permissions=["albedo:use", "tasks:read", "users:read"]))
    failed = _confirm(tenant.actor(planner_id), proposal_id)
    assert failed["status"] == "failed" and failed["result"]["error"]["status"] == 403
    assert "Permission denied" in failed["error"]
    assert owner_rows("SELECT count(*) FROM tasks WHERE tenant_id = :t", t=tenant.tenant_id)[0][0] == 0
