"""`Idempotency-Key` on every POST under /api/v1: retries replay the first response and create nothing new."""

from __future__ import annotations

import json
import secrets
import threading

from sqlalchemy import text

from api import idempotency as idempotency_api
from api.deps import CurrentActor
from core.db import owner_engine, unit_of_work
from core.records import idempotency
from tests.api.conftest import API, assert_error, assert_success, bearer, login, make_client


def _key() -> str:
    return f"key-{secrets.token_hex(8)}"


def _contacts_named(tenant_id, last_name: str) -> int:
    with owner_engine().connect() as conn:
        return conn.execute(
            text("SELECT count(*) FROM contacts WHERE tenant_id = :t AND last_name = :n"),
            {"t": tenant_id, "n": last_name},
        ).scalar_one()


def _age_key(key: str, interval: str) -> None:
    with owner_engine().begin() as conn:
        conn.execute(
            text("UPDATE idempotency_keys SET created_at = created_at - CAST(:i AS interval) WHERE key = :k"),
            {"i": interval, "k": key},
        )


def test_a_retry_returns_the_first_response_and_creates_nothing(client, rworlds):
    last = f"Once-{secrets.token_hex(3)}"
    headers = {**rworlds.headers["rep"], "Idempotency-Key": _key()}
    first = client.post(f"{API}/contacts", json={"firstName": "Ada", "lastName": last}, headers=headers)
    created = assert_success(first, 201)
    # A retry, serialised differently by another client library: the same request.
    retry = client.post(
        f"{API}/contacts",
        content=json.dumps({"lastName": last, "firstName": "Ada"}, indent=2),
        headers={**headers, "Content-Type": "application/json"},
    )
    assert retry.status_code == 201
    assert retry.content == first.content
    assert retry.headers["location"] == first.headers["location"] == f"/api/v1/contacts/{created['id']}"
    assert retry.headers["idempotent-replayed"] == "true" and "idempotent-replayed" not in first.headers
    assert retry.headers["x-request-id"] != first.headers["x-request-id"]  # a new request, the first answer
    assert _contacts_named(rworlds.home.tenant_id, last) == 1


def test_the_same_key_on_a_different_request_is_409(client, rworlds):
    key = _key()
    headers = {**rworlds.headers["rep"], "Idempotency-Key": key}
    assert_success(client.post(f"{API}/contacts", json={"firstName": "A", "lastName": "First"}, headers=headers), 201)
    for path, body in [
        ("/contacts", {"firstName": "A", "lastName": "Second"}),
        ("/accounts", {"name": "Other path"}),
        ("/contacts?x=1", {"firstName": "A", "lastName": "First"}),
    ]:
        error = assert_error(client.post(f"{API}{path}", json=body, headers=headers), 409, "IDEMPOTENCY_KEY_REUSED")
        assert "different request" in error["message"]
    # Another user of the same workspace gets no replay of someone else's response.
    other = {**rworlds.headers["manager"], "Idempotency-Key": key}
    assert_error(
        client.post(f"{API}/contacts", json={"firstName": "A", "lastName": "First"}, headers=other),
        409,
        "IDEMPOTENCY_KEY_REUSED",
    )
    assert _contacts_named(rworlds.home.tenant_id, "Second") == 0


def test_another_tenant_may_use_the_same_key(client, rworlds):
    key = _key()
    body = {"firstName": "Same", "lastName": f"Key-{secrets.token_hex(3)}"}
    home = assert_success(
        client.post(f"{API}/contacts", json=body, headers={**rworlds.headers["admin"], "Idempotency-Key": key}), 201
    )
    away = assert_success(
        client.post(f"{API}/contacts", json=body, headers={**rworlds.away_headers, "Idempotency-Key": key}), 201
    )
    assert home["id"] != away["id"]
    assert _contacts_named(rworlds.away.tenant_id, body["lastName"]) == 1


def test_without_a_key_every_post_creates(client, rworlds):
    last = f"Twice-{secrets.token_hex(3)}"
    for _ in range(2):
        assert_success(
            client.post(f"{API}/contacts", json={"firstName": "A", "lastName": last}, headers=rworlds.headers["rep"]),
            201,
        )
    assert _contacts_named(rworlds.home.tenant_id, last) == 2


def test_a_failed_request_is_not_remembered_and_bad_keys_are_refused(client, rworlds):
    headers = {**rworlds.headers["rep"], "Idempotency-Key": _key()}
    last = f"Fixed-{secrets.token_hex(3)}"
    assert_error(client.post(f"{API}/contacts", json={"firstName": "", "lastName": last}, headers=headers), 400)
    assert_success(client.post(f"{API}/contacts", json={"firstName": "A", "lastName": last}, headers=headers), 201)
    for bad in ("x" * 256, "spaces are not allowed"):
        resp = client.post(
            f"{API}/contacts",
            json={"firstName": "A", "lastName": "B"},
            headers={**rworlds.headers["rep"], "Idempotency-Key": bad},
        )
        assert assert_error(resp, 400, "VALIDATION_ERROR")["details"][0]["field"] == "Idempotency-Key"
    resp = client.post(f"{API}/contacts", json={"firstName": "A", "lastName": "B"}, headers={"Idempotency-Key": _key()})
    assert_error(resp, 401, "UNAUTHENTICATED")


def test_keys_expire_after_24_hours_and_abandoned_reservations_after_a_while(client, rworlds):
    key = _key()
    headers = {**rworlds.headers["rep"], "Idempotency-Key": key}
    assert_success(client.post(f"{API}/contacts", json={"firstName": "A", "lastName": "Day1"}, headers=headers), 201)
    _age_key(key, "25 hours")
    assert_success(client.post(f"{API}/contacts", json={"firstName": "A", "lastName": "Day2"}, headers=headers), 201)

    actor = rworlds.actors["rep"]
    body = {"firstName": "A", "lastName": f"Stuck-{secrets.token_hex(3)}"}
    stuck = _key()
    request = {
        "key": stuck,
        "method": "POST",
        "path": f"{API}/contacts",
        "request_hash": idempotency.fingerprint("POST", f"{API}/contacts", "", json.dumps(body).encode()),
    }
    with unit_of_work(actor) as session:  # a request that holds the key and has not answered yet
        assert isinstance(idempotency.reserve(session, actor, **request), idempotency.Reserved)
    with unit_of_work(actor) as session:
        assert idempotency.reserve(session, actor, **request) == idempotency.IN_PROGRESS
    saved, idempotency_api.WAIT_SECONDS = idempotency_api.WAIT_SECONDS, 0.2
    try:
        resp = client.post(f"{API}/contacts", json=body, headers={**rworlds.headers["rep"], "Idempotency-Key": stuck})
    finally:
        idempotency_api.WAIT_SECONDS = saved
    assert_error(resp, 409, "IDEMPOTENCY_REQUEST_IN_PROGRESS")
    assert resp.headers["retry-after"] == "1"
    _age_key(stuck, "6 minutes")  # its process died: the key is free again
    resp = client.post(f"{API}/contacts", json=body, headers={**rworlds.headers["rep"], "Idempotency-Key": stuck})
    assert_success(resp, 201)
    assert _contacts_named(rworlds.home.tenant_id, body["lastName"]) == 1


def test_concurrent_duplicates_create_one_record(api_app, rworlds):
    key, last = _key(), f"Race-{secrets.token_hex(3)}"
    headers = {**rworlds.headers["rep"], "Idempotency-Key": key}
    start = threading.Barrier(6)
    answers: list = []

    def post() -> None:
        client = make_client(api_app)
        start.wait()
        answers.append(client.post(f"{API}/contacts", json={"firstName": "R", "lastName": last}, headers=headers))

    threads = [threading.Thread(target=post) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert _contacts_named(rworlds.home.tenant_id, last) == 1
    created = [a for a in answers if a.status_code == 201]
    assert created and len({a.content for a in created}) == 1
    assert all(a.status_code == 409 and "IN_PROGRESS" in a.text for a in answers if a.status_code != 201)


def test_bulk_and_convert_posts_are_covered_too(client, rworlds):
    rep = rworlds.headers["rep"]
    tag = secrets.token_hex(4)
    body = {
        "contacts": [
            {"firstName": "B", "lastName": "One", "tags": [tag]},
            {"firstName": "B", "lastName": "Two", "tags": [tag]},
        ]
    }
    headers = {**rep, "Idempotency-Key": _key()}
    first = client.post(f"{API}/contacts/bulk", json=body, headers=headers)
    again = client.post(f"{API}/contacts/bulk", json=body, headers=headers)
    assert assert_success(first)["created"] == 2 and again.content == first.content
    resp = client.get(f"{API}/contacts", params={"tags": tag}, headers=rep)
    assert resp.json()["pagination"]["total"] == 2

    contact = assert_success(
        client.post(f"{API}/contacts", json={"firstName": "C", "lastName": "Convert"}, headers=rep), 201
    )
    headers = {**rep, "Idempotency-Key": _key()}
    url = f"{API}/contacts/{contact['id']}/convert"
    first = client.post(url, json={"dealName": "Once only"}, headers=headers)
    again = client.post(url, json={"dealName": "Once only"}, headers=headers)
    assert first.status_code == again.status_code == 201 and first.content == again.content
    with owner_engine().connect() as conn:
        deals = conn.execute(
            text("SELECT count(*) FROM deals WHERE contact_id = :c"), {"c": contact["id"]}
        ).scalar_one()
    assert deals == 1


def test_a_post_route_written_later_is_covered_without_knowing_it(rworlds):
    from api.main import create_app

    app = create_app()
    calls: list[str] = []

    @app.post(f"{API}/later-feature", status_code=201)
    def later(actor: CurrentActor) -> dict:
        calls.append(str(actor.user_id))
        return {"call": len(calls)}

    client = make_client(app)
    token = login(client, rworlds.home.admin_email, rworlds.home.slug)["accessToken"]
    headers = {**bearer(token), "Idempotency-Key": _key()}
    first = client.post(f"{API}/later-feature", json={"x": 1}, headers=headers)
    again = client.post(f"{API}/later-feature", json={"x": 1}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json() == {"call": 1} and len(calls) == 1
