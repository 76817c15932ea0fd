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
