"""Albedo's conversations over HTTP: 201 with Location, the list, rename, messages, 204 on delete; another user's
conversation is a 404, a role without `albedo:use` a 403, bad input a 400 naming the field."""

from __future__ import annotations

from typing import Any

from core.albedo import service as albedo
from core.db import unit_of_work
from tests.api.conftest import API, assert_error, assert_success, login_headers, user_email
from tests.factories import TenantWorld

URL = f"{API}/albedo/conversations"


def test_a_conversations_life_over_http(client: Any, tenant: TenantWorld) -> None:
    email = f"rep-albedo@{tenant.slug}.example.com"
    rep_id = tenant.add_user("rep", email=email)
    headers = login_headers(client, email, tenant.slug)
    created = client.post(URL, json={"context": {"entityType": "deals", "entityId": str(rep_id)}}, headers=headers)
    conversation = assert_success(created, 201)
    assert created.headers["Location"] == f"/api/v1/albedo/conversations/{conversation['id']}"
    assert conversation["title"] is None and conversation["context"]["entity_type"] == "deals"
    rep = tenant.actor(rep_id)
    with unit_of_work(rep) as session:  # what the engine will do with each question
        albedo.add_message(session, rep, conversation["id"], "user", "What is this deal worth?")
        albedo.add_message(session, rep, conversation["id"], "assistant", "USD 12,000.", intent="record_summary")
    listed = assert_success(client.get(URL, headers=headers))
    assert [c["id"] for c in listed] == [conversation["id"]] and listed[0]["title"] == "What is this deal worth?"
    messages = assert_success(client.get(f"{URL}/{conversation['id']}/messages", headers=headers))
    assert [(m["role"], m["intent"]) for m in messages] == [("user", None), ("assistant", "record_summary")]
    renamed = assert_success(client.patch(f"{URL}/{conversation['id']}", json={"title": "Deal value"}, headers=headers))
    assert renamed["title"] == "Deal value"
    assert client.delete(f"{URL}/{conversation['id']}", headers=headers).status_code == 204
    assert_error(client.get(f"{URL}/{conversation['id']}", headers=headers), 404, "NOT_FOUND")


def test_others_conversations_roles_and_bad_input(client: Any, tenant: TenantWorld) -> None:
    rep = login_headers(client, user_email(tenant, "rep"), tenant.slug)
    admin = login_headers(client, tenant.admin_email, tenant.slug)
    reader = login_headers(client, user_email(tenant, "read_only"), tenant.slug)
    theirs = assert_success(client.post(URL, json={"title": "Mine"}, headers=rep), 201)
    assert_error(client.get(f"{URL}/{theirs['id']}/messages", headers=admin), 404, "NOT_FOUND")
    assert_error(client.delete(f"{URL}/{theirs['id']}", headers=admin), 404, "NOT_FOUND")
    assert assert_success(client.get(URL, headers=admin)) == []
    assert_error(client.get(URL, headers=reader), 403)
    assert_error(client.get(URL), 401)
    bad = assert_error(client.patch(f"{URL}/{theirs['id']}", json={"title": ""}, headers=rep), 400)
    assert "title" in str(bad)
    assert_error(client.post(URL, json={"title": "x", "extra": 1}, headers=rep), 400)
    assert assert_success(client.get(f"{URL}/{theirs['id']}", headers=rep))["title"] == "Mine"


def _deals(tenant: TenantWorld, owner_id: Any, *amounts: int) -> list[str]:
    from core.deals import service as deals
    from core.deals.schemas import DealCreate

    with unit_of_work(tenant.admin) as session:
        return [
            str(deals.create(session, tenant.admin, DealCreate(name=f"Deal {i} {a}", amount=a, owner_id=owner_id)).id)
            for i, a in enumerate(amounts)
        ]


def test_asking_answers_from_the_askers_records(client: Any, tenant: TenantWorld) -> None:
    email = f"rep-ask@{tenant.slug}.example.com"
    rep_id = tenant.add_user("rep", email=email)
    mine = _deals(tenant, rep_id, 30_000, 70_000)
    _deals(tenant, tenant.admin_id, 90_000)  # another's: never in the rep's answer
    headers = login_headers(client, email, tenant.slug)
    conversation = assert_success(client.post(URL, json={}, headers=headers), 201)
    answered = assert_success(
        client.post(f"{URL}/{conversation['id']}/messages", json={"content": "show my open deals"}, headers=headers)
    )
    reply = answered["reply"]
    assert reply["intent"] == "find_records" and reply["engine"] == "offline"
    assert reply["value"] == 2 and sorted(r["id"] for r in reply["table"]["records"]) == sorted(mine)
    assert [c["name"] for c in reply["tool_calls"] if c["name"] == "find_records"] == ["find_records"]
    assert answered["question"]["content"] == "show my open deals" and answered["answer"]["intent"] == "find_records"
    follow = assert_success(
        client.post(f"{URL}/{conversation['id']}/messages", json={"content": "only those over $50k"}, headers=headers)
    )["reply"]
    assert [r["id"] for r in follow["table"]["records"]] == [mine[1]]
    stored = assert_success(client.get(f"{URL}/{conversation['id']}/messages", headers=headers))
    assert [m["role"] for m in stored] == ["user", "assistant", "user", "assistant"]
    assert stored[3]["data"]["table"]["records"][0]["id"] == mine[1]


def test_a_streamed_answer_comes_as_server_sent_events(client: Any, tenant: TenantWorld) -> None:
    email = f"rep-stream@{tenant.slug}.example.com"
    rep_id = tenant.add_user("rep", email=email)
    _deals(tenant, rep_id, 10_000)
    headers = login_headers(client, email, tenant.slug)
    conversation = assert_success(client.post(URL, json={}, headers=headers), 201)
    response = client.post(
        f"{URL}/{conversation['id']}/messages", json={"content": "list my deals", "stream": True}, headers=headers
    )
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    events = [block.split("\n", 1) for block in response.text.strip().split("\n\n")]
    names = [head.removeprefix("event: ") for head, _ in events]
    assert names[0] == "delta" and names[-1] == "reply"
    import json

    final = json.loads(events[-1][1].removeprefix("data: "))
    text = "".join(json.loads(body.removeprefix("data: "))["text"] for head, body in events if head.endswith("delta"))
    assert text == final["reply"]["text"] and final["reply"]["value"] == 1
    assert len(assert_success(client.get(f"{URL}/{conversation['id']}/messages", headers=headers))) == 2


def test_asking_in_anothers_conversation_or_badly(client: Any, tenant: TenantWorld) -> None:
    rep = login_headers(client, user_email(tenant, "rep"), tenant.slug)
    admin = login_headers(client, tenant.admin_email, tenant.slug)
    theirs = assert_success(client.post(URL, json={}, headers=rep), 201)
    assert_error(client.post(f"{URL}/{theirs['id']}/messages", json={"content": "hi"}, headers=admin), 404)
    assert_error(
        client.post(f"{URL}/{theirs['id']}/messages", json={"content": "hi", "stream": True}, headers=admin), 404
    )
    bad = assert_error(client.post(f"{URL}/{theirs['id']}/messages", json={"content": ""}, headers=rep), 400)
    assert "content" in str(bad)
    assert_error(client.post(f"{URL}/{theirs['id']}/messages", json={"content": "x" * 4001}, headers=rep), 400)
    assert assert_success(client.get(f"{URL}/{theirs['id']}/messages", headers=rep)) == []
