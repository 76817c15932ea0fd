"""Albedo's proposals over HTTP: read, confirm (the deal moves, audited via "albedo" with the conversation id even
though the request came through the API), confirm again 409, undo, cancel; a stale record answers 409 with the
failed proposal kept; another user's proposal is a 404, no token a 401, a role without Albedo a 403."""

from __future__ import annotations

import secrets
from typing import Any
from uuid import UUID

from core.albedo import proposals
from core.contacts import service as contacts
from core.contacts.schemas import ContactCreate
from core.db import unit_of_work
from core.deals import service as deals
from core.deals.schemas import DealCreate, DealPatch
from core.pipelines import service as pipelines
from tests.api.conftest import API, assert_error, assert_success, login_headers, user_email
from tests.core.conftest import owner_rows
from tests.factories import TenantWorld

URL = f"{API}/albedo/proposals"


def _rep(client: Any, tenant: TenantWorld) -> tuple[UUID, dict[str, str]]:
    email = f"rep-{secrets.token_hex(4)}@{tenant.slug}.example.com"
    rep_id = tenant.add_user("rep", email=email)
    return rep_id, login_headers(client, email, tenant.slug)


def _deal(actor: Any, name: str) -> UUID:
    with unit_of_work(actor) as session:
        pipeline = pipelines.default_pipeline(session, actor)
        stage = next(
            s for s in pipelines.stages_by_pipeline(session, actor, [pipeline.id])[pipeline.id] if s.name == "Proposal"
        )
        return deals.create(session, actor, DealCreate(name=name, stage_id=stage.id)).id


def _propose(actor: Any, conversation_id: str, action: str, arguments: dict[str, Any]) -> str:
    with unit_of_work(actor) as session:  # what the engine does when a user asks for a change
        return str(proposals.propose(session, actor, UUID(conversation_id), action, arguments).id)


def _stage_of(actor: Any, deal_id: UUID) -> str:
    with unit_of_work(actor) as session:
        deal = deals.get(session, actor, deal_id)
        return session.get(pipelines.Stage, deal.stage_id).name


def test_a_proposal_is_read_confirmed_once_undone_and_audited_via_albedo(client: Any, tenant: TenantWorld) -> None:
    rep_id, headers = _rep(client, tenant)
    rep = tenant.actor(rep_id)
    conversation = assert_success(client.post(f"{API}/albedo/conversations", json={}, headers=headers), 201)
    deal_id = _deal(rep, "Acme renewal")
    proposal_id = _propose(rep, conversation["id"], "move_deal_stage", {"dealId": str(deal_id), "stage": "Negotiation"})

    shown = assert_success(client.get(f"{URL}/{proposal_id}", headers=headers))
    assert shown["status"] == "pending" and shown["summary"] == "Move deal Acme renewal from Proposal to Negotiation"
    assert shown["changes"][0] == {
        "record": {"type": "deal", "id": str(deal_id), "label": "Acme renewal"},
        "field": "stage",
        "old": "Proposal",
        "new": "Negotiation",
    }
    assert shown["conversationId"] == conversation["id"] and shown["expiresAt"]
    assert _stage_of(rep, deal_id) == "Proposal"

    done = assert_success(client.post(f"{URL}/{proposal_id}/confirm", headers=headers))
    assert done["status"] == "confirmed" and done["undoable"] is True and done["decidedAt"]
    assert _stage_of(rep, deal_id) == "Negotiation"
    audit = owner_rows("SELECT via, request_id FROM audit_logs WHERE entity_id = :id AND action = 'update'", id=deal_id)
    assert audit and {row.via for row in audit} == {"albedo"}
    assert {row.request_id for row in audit} == {f"albedo:{conversation['id']}:{proposal_id}"}
    messages = assert_success(client.get(f"{API}/albedo/conversations/{conversation['id']}/messages", headers=headers))
    assert messages[-1]["content"] == f"Done: {shown['summary']}"
    assert messages[-1]["actionTaken"]["proposalId"] == proposal_id

    again = assert_error(client.post(f"{URL}/{proposal_id}/confirm", headers=headers), 409, "NOT_PENDING")
    assert "already confirmed" in again["message"]
    assert assert_error(client.post(f"{URL}/{proposal_id}/cancel", headers=headers), 409)["message"]

    undone = assert_success(client.post(f"{URL}/{proposal_id}/undo", headers=headers))
    assert undone["status"] == "undone" and undone["undoneAt"] and undone["undoable"] is False
    assert _stage_of(rep, deal_id) == "Proposal"
    assert_error(client.post(f"{URL}/{proposal_id}/undo", headers=headers), 409, "NOT_CONFIRMED")

    dropped = _propose(rep, conversation["id"], "move_deal_stage", {"dealId": str(deal_id), "stage": "Qualification"})
    assert assert_success(client.post(f"{URL}/{dropped}/cancel", headers=headers))["status"] == "cancelled"
    assert_error(client.post(f"{URL}/{dropped}/confirm", headers=headers), 409, "NOT_PENDING")
    assert _stage_of(rep, deal_id) == "Proposal"


def test_a_stale_record_answers_409_and_the_failure_is_kept(client: Any, tenant: TenantWorld) -> None:
    rep_id, headers = _rep(client, tenant)
    rep = tenant.actor(rep_id)
    conversation = assert_success(client.post(f"{API}/albedo/conversations", json={}, headers=headers), 201)
    deal_id = _deal(rep, "Globex pilot")
    proposal_id = _propose(rep, conversation["id"], "move_deal_stage", {"dealId": str(deal_id), "stage": "Negotiation"})
    with unit_of_work(rep) as session:
        deals.update(session, rep, deal_id, DealPatch(next_step="Someone else's edit"))
    error = assert_error(client.post(f"{URL}/{proposal_id}/confirm", headers=headers), 409, "VERSION_CONFLICT")
    assert error["message"] == "The deal changed since; ask again"
    assert error["details"]["proposal"]["status"] == "failed"
    assert _stage_of(rep, deal_id) == "Proposal"
    kept = assert_success(client.get(f"{URL}/{proposal_id}", headers=headers))
    assert kept["status"] == "failed" and kept["error"] == "The deal changed since; ask again"


def test_others_proposals_are_404_no_token_401_no_albedo_403_and_deletes_cannot_be_undone(
    client: Any, tenant: TenantWorld
) -> None:
    rep_id, headers = _rep(client, tenant)
    rep = tenant.actor(rep_id)
    conversation = assert_success(client.post(f"{API}/albedo/conversations", json={}, headers=headers), 201)
    proposal_id = _propose(rep, conversation["id"], "create_task", {"title": "Call Jane back"})
    other = login_headers(client, user_email(tenant, "rep"), tenant.slug)
    admin = login_headers(client, tenant.admin_email, tenant.slug)
    for who in (other, admin):
        assert_error(client.get(f"{URL}/{proposal_id}", headers=who), 404, "NOT_FOUND")
        assert_error(client.post(f"{URL}/{proposal_id}/confirm", headers=who), 404, "NOT_FOUND")
        assert_error(client.post(f"{URL}/{proposal_id}/cancel", headers=who), 404, "NOT_FOUND")
    assert_error(client.post(f"{URL}/{proposal_id}/confirm"), 401)
    assert_error(client.get(f"{URL}/{proposal_id}"), 401)
    reader = login_headers(client, user_email(tenant, "read_only"), tenant.slug)
    assert_error(client.post(f"{URL}/{proposal_id}/confirm", headers=reader), 403)
    assert_error(client.get(f"{URL}/not-a-uuid", headers=headers), 400)
    assert_error(client.get(f"{URL}/{conversation['id']}", headers=headers), 404)
    assert assert_success(client.get(f"{URL}/{proposal_id}", headers=headers))["status"] == "pending"

    boss = tenant.admin
    with unit_of_work(boss) as session:
        contact_id = contacts.create(session, boss, ContactCreate(first_name="Old", last_name="Lead")).id
    boss_talk = assert_success(client.post(f"{API}/albedo/conversations", json={}, headers=admin), 201)
    delete = _propose(boss, boss_talk["id"], "delete_records", {"entity": "contact", "ids": [str(contact_id)]})
    assert assert_success(client.post(f"{URL}/{delete}/confirm", headers=admin))["undoable"] is False
    refused = assert_error(client.post(f"{URL}/{delete}/undo", headers=admin), 409, "NOT_UNDOABLE")
    assert "cannot be undone" in refused["message"]


def test_the_routes_are_documented_with_examples(client: Any) -> None:
    spec = client.get(f"{API}/openapi.json").json()
    for path, method in (
        ("/api/v1/albedo/proposals/{proposal_id}", "get"),
        ("/api/v1/albedo/proposals/{proposal_id}/confirm", "post"),
        ("/api/v1/albedo/proposals/{proposal_id}/cancel", "post"),
        ("/api/v1/albedo/proposals/{proposal_id}/undo", "post"),
    ):
        operation = spec["paths"][path][method]
        assert operation["responses"]["200"]["content"]["application/json"]["example"]["data"]["summary"]
        assert {"401", "403", "404"} <= set(operation["responses"])
