"""Search over HTTP: `GET /api/v1/search`, ranked, permission- and tenant-filtered; bad input is a 400."""

from __future__ import annotations

import secrets

import pytest

from tests.api.conftest import API, assert_error, assert_success
from tests.api.records.conftest import add_account, add_contact


def _name() -> str:
    return "Zq" + "".join(secrets.choice("bcdfghjklmnprstvwxz") + secrets.choice("aeiou") for _ in range(4))


def test_anonymous_is_401(client):
    assert_error(client.get(f"{API}/search", params={"q": "ada"}), 401, "UNAUTHENTICATED")


def test_a_role_without_read_permissions_is_403(client, rworlds):
    error = assert_error(client.get(f"{API}/search", params={"q": "ada"}, headers=rworlds.headers["guest"]), 403)
    assert error["details"]["required"] == "contacts:read"


def test_finds_by_prefix_and_typo_ranked_with_the_hit_shape(client, rworlds):
    last = _name()
    contact_id = add_contact(rworlds.home, rworlds.users["rep"], "Augusta", last)
    account_id = add_account(rworlds.home, rworlds.users["rep"], f"{last} Holdings")
    headers = rworlds.headers["admin"]
    hits = assert_success(client.get(f"{API}/search", params={"q": f"augusta {last[:4]}"}, headers=headers))
    assert hits[0]["id"] == str(contact_id)
    assert set(hits[0]) == {"type", "id", "title", "subtitle", "score", "matched"}
    assert hits[0]["type"] == "contacts" and hits[0]["title"] == f"Augusta {last}"
    typo = last[:5] + last[6] + last[5] + last[7:]  # two letters swapped after the first five
    hits = assert_success(
        client.get(f"{API}/search", params={"q": typo, "types": "contacts,accounts", "limit": 5}, headers=headers)
    )
    assert {str(contact_id), str(account_id)} <= {h["id"] for h in hits}
    only = assert_success(client.get(f"{API}/search", params={"q": last, "types": "accounts"}, headers=headers))
    assert [h["id"] for h in only] == [str(account_id)]


def test_a_rep_never_sees_another_reps_records_and_no_tenant_sees_another(client, rworlds):
    last = _name()
    theirs = add_contact(rworlds.home, rworlds.users["other_rep"], "Hidden", last)
    for who in ("rep",):
        hits = assert_success(client.get(f"{API}/search", params={"q": last}, headers=rworlds.headers[who]))
        assert str(theirs) not in {h["id"] for h in hits}
    hits = assert_success(client.get(f"{API}/search", params={"q": last}, headers=rworlds.headers["other_rep"]))
    assert [h["id"] for h in hits] == [str(theirs)]
    away = assert_success(client.get(f"{API}/search", params={"q": last}, headers=rworlds.away_headers))
    assert away == []
    home = assert_success(client.get(f"{API}/search", params={"q": "Away"}, headers=rworlds.headers["admin"]))
    assert "Away" not in str(home)


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"q": ""},
        {"q": "x" * 201},
        {"q": "ada", "types": "contacts,people"},
        {"q": "ada", "limit": 0},
        {"q": "ada", "limit": 51},
        {"q": "ada", "limit": "many"},
        {"q": "ada", "mode": "fuzzy"},
        {"q": "ada", "mode": "text", "types": "activities"},
    ],
)
def test_bad_input_is_400(client, rworlds, params):
    assert_error(client.get(f"{API}/search", params=params, headers=rworlds.headers["admin"]), 400, "VALIDATION_ERROR")


@pytest.mark.parametrize("q", ["'); DROP TABLE contacts;--", "a:* & !b | (c)", "中文 Ελληνικά 🎉", "\\"])
def test_odd_queries_are_answered_not_failed(client, rworlds, q):
    assert isinstance(
        assert_success(client.get(f"{API}/search", params={"q": q}, headers=rworlds.headers["admin"])), list
    )


def test_semantic_mode_finds_by_meaning_what_text_mode_misses(client, rworlds):
    from ai.nlp import store
    from core.actor import Actor
    from core.db import unit_of_work

    last = _name()
    account_id = add_account(rworlds.home, rworlds.users["rep"], f"{last} Bakery")
    headers = rworlds.headers["rep"]
    with unit_of_work(Actor.system(rworlds.home.tenant_id)) as session:
        store.refresh(session, rworlds.home.tenant_id, types=["accounts"])
    params = {"q": "bread shop", "types": "accounts"}
    words = assert_success(client.get(f"{API}/search", params={**params, "mode": "text"}, headers=headers))
    meaning = assert_success(client.get(f"{API}/search", params={**params, "mode": "semantic"}, headers=headers))
    fused = assert_success(client.get(f"{API}/search", params=params, headers=headers))
    assert str(account_id) not in {h["id"] for h in words}
    assert meaning[0]["id"] == str(account_id) and meaning[0]["matched"] == ["semantic"]
    assert str(account_id) in {h["id"] for h in fused}


def test_rebuilding_embeddings_is_a_job_for_admins(client, rworlds):
    import ai.nlp.tasks  # noqa: F401  (the job's handler, as the API process of `clientforge up` has it)

    response = client.post(f"{API}/search/embeddings/rebuild", headers=rworlds.headers["admin"])
    job = assert_success(response, 202)
    assert response.headers["Location"] == f"/api/v1/jobs/{job['id']}"
    assert job["kind"] == "nlp.embed_all" and job["status"] == "queued"
    assert_error(client.post(f"{API}/search/embeddings/rebuild", headers=rworlds.headers["rep"]), 403)
