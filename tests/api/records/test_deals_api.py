"""`/api/v1/deals` over HTTP: CRUD, stage moves, won/lost, stage history, lists and bulk work.

For every endpoint: anonymous 401, a role without the permission 403, another tenant's deal 404 (and that deal
untouched); then what a sales team relies on: record scope, stage rules, optimistic locking, clear 400s,
non-Latin text intact, per-item bulk results and one event per change.
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import text

from core.custom_fields import service as custom_fields
from core.custom_fields.schemas import CustomFieldCreate
from core.db import owner_engine, unit_of_work
from core.ids import new_id
from tests.api.conftest import API, assert_error, assert_paginated, assert_success, unique
from tests.api.records.conftest import (
    assert_anonymous_is_401,
    assert_forbidden_is_403,
    assert_other_tenant_is_404,
    snapshot,
)

ENDPOINTS = [
    ("GET", "/deals", None, "deals:read", "guest"),
    ("POST", "/deals", {"name": "Deal"}, "deals:create", "read_only"),
    ("POST", "/deals/bulk", {"deals": [{"name": "Deal"}]}, "deals:create", "read_only"),
    ("PATCH", "/deals/bulk", {"ids": [str(new_id())], "updates": {"name": "x"}}, "deals:update", "read_only"),
    ("DELETE", "/deals/bulk", {"ids": [str(new_id())]}, "deals:delete", "rep"),
    ("GET", "/deals/{deal}", None, "deals:read", "guest"),
    ("PUT", "/deals/{deal}", {"name": "Replaced"}, "deals:update", "read_only"),
    ("PATCH", "/deals/{deal}", {"name": "Renamed"}, "deals:update", "read_only"),
    ("DELETE", "/deals/{deal}", None, "deals:delete", "rep"),
    ("POST", "/deals/{deal}/stage", {"stageId": "{contact}"}, "deals:update", "read_only"),
    ("POST", "/deals/{deal}/won", None, "deals:update", "read_only"),
    ("POST", "/deals/{deal}/lost", {"reason": "Budget"}, "deals:update", "read_only"),
    ("GET", "/deals/{deal}/stage-history", None, "deals:read", "guest"),
]
WITH_ID = [e for e in ENDPOINTS if "{" in e[1]]


def _ids(endpoints):
    return [f"{m} {p}" for m, p, *_ in endpoints]


@pytest.mark.parametrize("method, path, body, permission, role", ENDPOINTS, ids=_ids(ENDPOINTS))
def test_anonymous_is_401(client, method, path, body, permission, role):
    assert_anonymous_is_401(client, method, path, body)


@pytest.mark.parametrize("method, path, body, permission, role", ENDPOINTS, ids=_ids(ENDPOINTS))
def test_role_without_the_permission_is_403(client, rworlds, method, path, body, permission, role):
    before = snapshot("deal", rworlds.ids["deal"])
    assert_forbidden_is_403(client, rworlds, method, path, body, permission, role)
    assert snapshot("deal", rworlds.ids["deal"]) == before


@pytest.mark.parametrize("method, path, body, permission, role", WITH_ID, ids=_ids(WITH_ID))
def test_other_tenants_deals_are_404(client, rworlds, method, path, body, permission, role):
    assert_other_tenant_is_404(client, rworlds, method, path, body)


# Helpers -----------------------------------------------------------------------------------------------


def _stages(client, headers) -> dict[str, str]:
    pipelines = assert_success(client.get(f"{API}/pipelines", headers=headers))
    default = next(p for p in pipelines if p["isDefault"])
    return {s["name"]: s["id"] for s in default["stages"]}


def _deal(client, headers, **fields) -> dict:
    resp = client.post(f"{API}/deals", json={"name": "Deal", **fields}, headers=headers)
    return assert_success(resp, 201)


def _events(deal_id: str) -> list[str]:
    with owner_engine().connect() as conn:
        rows = conn.execute(
            text("SELECT type FROM events WHERE entity_id = :id ORDER BY created_at, id"), {"id": deal_id}
        )
        return [r.type for r in rows]


def _listed(client, headers, **params) -> list[dict]:
    return assert_paginated(
        client.get(f"{API}/deals", params=params, headers=headers), limit=int(params.get("limit", 20))
    )[0]


# CRUD --------------------------------------------------------------------------------------------------


def test_create_read_update_and_delete(client, rworlds):
    admin = rworlds.headers["admin"]
    name = "Сделка 🚀 商談 — ünïcødé"
    resp = client.post(
        f"{API}/deals",
        json={
            "name": name,
            "amount": "12500.50",
            "currency": "EUR",
            "accountId": str(rworlds.ids["account"]),
            "contactId": str(rworlds.ids["contact"]),
            "expectedCloseDate": "2026-12-31",
            "leadSource": "Robert'); DROP TABLE deals;--",
            "tags": ["vip", "vip", "q4"],
        },
        headers=admin,
    )
    deal = assert_success(resp, 201)
    assert resp.headers["location"] == f"/api/v1/deals/{deal['id']}"
    assert (deal["name"], deal["amount"], deal["currency"], deal["tags"]) == (name, "12500.50", "EUR", ["vip", "q4"])
    assert (deal["pipelineName"], deal["stageName"], deal["probability"], deal["weightedAmount"]) == (
        "Sales",
        "Prospecting",
        10,
        "1250.05",
    )
    assert (deal["daysInStage"], deal["isRotting"], deal["isClosed"], deal["version"]) == (0, False, False, 1)
    assert deal["ownerId"] == str(rworlds.users["admin"]) and deal["customFields"] == {}
    assert deal["leadSource"] == "Robert'); DROP TABLE deals;--"
    url = f"{API}/deals/{deal['id']}"
    assert assert_success(client.get(url, headers=admin)) == deal
    found = _listed(client, admin, search="сделка")
    assert [d["id"] for d in found] == [deal["id"]]

    patched = assert_success(client.patch(url, json={"nextStep": "Send the 見積 📄", "version": 1}, headers=admin))
    assert (patched["nextStep"], patched["amount"], patched["version"]) == ("Send the 見積 📄", "12500.50", 2)
    replaced = assert_success(client.put(url, json={"name": "Replaced", "version": 2}, headers=admin))
    assert (replaced["name"], replaced["amount"], replaced["currency"], replaced["tags"]) == (
        "Replaced",
        None,
        "USD",
        [],
    )
    assert (replaced["accountId"], replaced["nextStep"], replaced["version"]) == (None, None, 3)
    assert_error(client.put(url, json={"amount": "5"}, headers=admin), 400, "VALIDATION_ERROR")

    assert client.delete(url, headers=admin).status_code == 204
    assert_error(client.get(url, headers=admin), 404, "NOT_FOUND")
    assert_error(client.delete(url, headers=admin), 404, "NOT_FOUND")
    assert _events(deal["id"]) == ["deal.created", "deal.updated", "deal.updated", "deal.deleted"]


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"amount": -1}, "amount"),
        ({"amount": "lots"}, "amount"),
        ({"amount": "1.234"}, "amount"),
        ({"currency": "usd"}, "currency"),
        ({"currency": "XYZ"}, "currency"),
        ({"name": ""}, "name"),
        ({"name": "n" * 256}, "name"),
        ({"name": "nul\x00byte"}, "name"),
        ({"probability": 101}, "probability"),
        ({"expectedCloseDate": "soon"}, "expectedCloseDate"),
        ({"tags": "vip"}, "tags"),
        ({"stageId": "not-a-uuid"}, "stageId"),
        ({"stageId": "00000000-0000-0000-0000-000000000000"}, "stageId"),
        ({"ownerId": "00000000-0000-0000-0000-000000000000"}, "ownerId"),
        ({"accountId": "00000000-0000-0000-0000-000000000000"}, "accountId"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_input_is_400_naming_the_field(client, rworlds, fields, named):
    resp = client.post(f"{API}/deals", json={"name": "Deal", **fields}, headers=rworlds.headers["rep"])
    assert named in {d["field"] for d in assert_error(resp, 400, "VALIDATION_ERROR")["details"]}


def test_other_tenants_ids_in_a_body_are_refused_without_their_data(client, rworlds):
    away_stage = _stages(client, rworlds.away_headers)["Proposal"]
    resp = client.post(
        f"{API}/deals",
        json={
            "name": "Probe",
            "accountId": str(rworlds.away_ids["account"]),
            "contactId": str(rworlds.away_ids["contact"]),
            "ownerId": str(rworlds.away.admin_id),
            "stageId": away_stage,
        },
        headers=rworlds.headers["admin"],
    )
    error = assert_error(resp, 400, "VALIDATION_ERROR")
    assert {d["field"] for d in error["details"]} == {"accountId", "contactId", "ownerId", "stageId"}
    assert "Away" not in resp.text
    mine = _deal(client, rworlds.headers["admin"])
    resp = client.post(
        f"{API}/deals/{mine['id']}/stage", json={"stageId": away_stage}, headers=rworlds.headers["admin"]
    )
    assert assert_error(resp, 400)["details"][0]["field"] == "stageId"


# Stages ------------------------------------------------------------------------------------------------


def test_stage_moves_won_lost_reopen_and_history(client, rworlds):
    admin = rworlds.headers["admin"]
    stages = _stages(client, admin)
    deal = _deal(client, admin, amount="1000")
    url = f"{API}/deals/{deal['id']}"

    moved = assert_success(client.post(f"{url}/stage", json={"stageId": stages["Proposal"]}, headers=admin))
    assert (moved["stageName"], moved["probability"], moved["weightedAmount"], moved["version"]) == (
        "Proposal",
        50,
        "500.00",
        2,
    )
    resp = client.post(f"{url}/stage", json={"stageId": stages["Closed Lost"]}, headers=admin)
    assert assert_error(resp, 400)["details"][0]["field"] == "lostReason"
    assert assert_error(client.post(f"{url}/lost", json={}, headers=admin), 400)["details"][0]["field"] == "reason"

    lost = assert_success(client.post(f"{url}/lost", json={"reason": "Budget 💸"}, headers=admin))
    assert (lost["isClosed"], lost["isWon"], lost["lostReason"], lost["probability"]) == (True, False, "Budget 💸", 0)
    assert date.fromisoformat(lost["actualCloseDate"]) >= date(2026, 1, 1)
    reopened = assert_success(client.post(f"{url}/stage", json={"stageId": stages["Negotiation"]}, headers=admin))
    assert (reopened["isClosed"], reopened["isWon"], reopened["lostReason"], reopened["actualCloseDate"]) == (
        False,
        None,
        None,
        None,
    )
    won = assert_success(client.post(f"{url}/won", json={"actualCloseDate": "2026-06-30"}, headers=admin))
    assert (won["stageName"], won["isWon"], won["actualCloseDate"], won["probability"]) == (
        "Closed Won",
        True,
        "2026-06-30",
        100,
    )
    assert assert_success(client.post(f"{url}/won", headers=admin))["version"] == won["version"]  # already won

    history = assert_success(client.get(f"{url}/stage-history", headers=admin))
    assert [(h["fromStageName"], h["toStageName"]) for h in history] == [
        (None, "Prospecting"),
        ("Prospecting", "Proposal"),
        ("Proposal", "Closed Lost"),
        ("Closed Lost", "Negotiation"),
        ("Negotiation", "Closed Won"),
    ]
    assert {h["changedBy"] for h in history} == {str(rworlds.users["admin"])}
    assert all(h["changedByName"] and h["secondsInStage"] >= 0 for h in history)
    assert [h["isCurrent"] for h in history] == [False, False, False, False, True]
    assert history[-1]["toStageId"] == won["stageId"] and history[-1]["probability"] == 100
    assert _events(deal["id"]) == [
        "deal.created",
        "deal.stage_changed",
        "deal.stage_changed",
        "deal.lost",
        "deal.stage_changed",
        "deal.stage_changed",
        "deal.won",
    ]


def test_stale_versions_are_409_with_the_current_version(client, rworlds):
    admin = rworlds.headers["admin"]
    deal = _deal(client, admin)
    url = f"{API}/deals/{deal['id']}"
    assert_success(client.patch(url, json={"amount": "10", "version": 1}, headers=admin))
    for method, path, body in [
        ("PATCH", url, {"amount": "20", "version": 1}),
        ("PUT", url, {"name": "Again", "version": 1}),
        ("POST", f"{url}/stage", {"stageId": _stages(client, admin)["Proposal"], "version": 1}),
        ("POST", f"{url}/won", {"version": 1}),
    ]:
        error = assert_error(client.request(method, path, json=body, headers=admin), 409, "VERSION_CONFLICT")
        assert error["details"]["currentVersion"] == 2
    assert client.delete(url, params={"version": 1}, headers=admin).status_code == 409
    assert assert_success(client.get(url, headers=admin))["amount"] == "10.00"


# Scope -------------------------------------------------------------------------------------------------


def test_reps_see_and_move_only_their_deals_and_managers_their_teams(client, rworlds):
    rep, other_rep, manager, admin = (rworlds.headers[r] for r in ("rep", "other_rep", "manager", "admin"))
    tag = unique("scope")
    stages = _stages(client, admin)
    mine = _deal(client, rep, name="Rep's", tags=[tag])
    theirs = _deal(client, other_rep, name="Other rep's", tags=[tag])
    assert mine["ownerId"] == str(rworlds.users["rep"])
    before = snapshot("deal", theirs["id"])
    for method, suffix, body in [
        ("GET", "", None),
        ("PATCH", "", {"name": "Mine now"}),
        ("PUT", "", {"name": "Mine now"}),
        ("POST", "/stage", {"stageId": stages["Proposal"]}),
        ("POST", "/won", None),
        ("POST", "/lost", {"reason": "No"}),
        ("GET", "/stage-history", None),
    ]:
        resp = client.request(method, f"{API}/deals/{theirs['id']}{suffix}", json=body, headers=rep)
        assert_error(resp, 404, "NOT_FOUND")
    assert snapshot("deal", theirs["id"]) == before
    assert [d["name"] for d in _listed(client, rep, tags=tag)] == ["Rep's"]
    assert [d["name"] for d in _listed(client, manager, tags=tag)] == ["Rep's"]
    assert {d["name"] for d in _listed(client, admin, tags=tag)} == {"Rep's", "Other rep's"}
    moved = client.post(f"{API}/deals/{mine['id']}/stage", json={"stageId": stages["Proposal"]}, headers=manager)
    assert assert_success(moved)["stageName"] == "Proposal"
    resp = client.post(
        f"{API}/deals", json={"name": "For someone else", "ownerId": str(rworlds.users["admin"])}, headers=rep
    )
    assert assert_error(resp, 400)["details"][0]["field"] == "ownerId"
    resp = client.patch(
        f"{API}/deals/{mine['id']}", json={"ownerId": str(rworlds.users["other_rep"])}, headers=manager
    )  # other_rep is in another team
    assert assert_error(resp, 400)["details"][0]["field"] == "ownerId"


# Lists -------------------------------------------------------------------------------------------------


def test_list_filters_sort_fields_and_cursor_pages(client, rworlds):
    admin = rworlds.headers["admin"]
    tag = unique("list")
    stages = _stages(client, admin)
    _deal(client, admin, name="Small", amount="100", tags=[tag], currency="EUR")
    _deal(client, admin, name="Medium", amount="5000", tags=[tag], stageId=stages["Negotiation"])
    large = _deal(client, admin, name="Large", amount="90000", tags=[tag], expectedCloseDate="2026-03-01")
    won = _deal(client, admin, name="Won", amount="700", tags=[tag], stageId=stages["Closed Won"])
    with owner_engine().begin() as conn:
        conn.execute(
            text("UPDATE deals SET stage_entered_at = now() - interval '30 days' WHERE id IN (:a, :b)"),
            {"a": large["id"], "b": won["id"]},
        )

    def names(**params):
        return [d["name"] for d in _listed(client, admin, tags=tag, **params)]

    assert names(sort="-amount") == ["Large", "Medium", "Won", "Small"]
    assert names(**{"amount[gte]": "700", "amount[lt]": "90000"}, sort="amount") == ["Won", "Medium"]
    assert names(currency="EUR") == ["Small"]
    assert names(stageId=stages["Negotiation"]) == ["Medium"]
    assert names(isClosed="true") == ["Won"] and names(isWon="true") == ["Won"]
    assert names(isRotting="true") == ["Large"]
    assert names(**{"expectedCloseDate[lte]": "2026-06-30"}) == ["Large"]
    assert names(**{"name[contains]": "al"}, sort="name") == ["Small"]
    assert names(sort="stageName,name") == ["Won", "Medium", "Large", "Small"]
    assert names(ownerId=str(rworlds.users["admin"]), sort="-weightedAmount") == ["Large", "Medium", "Won", "Small"]

    item = _listed(client, admin, tags=tag, fields="name,amount", sort="name")[0]
    assert item == {"id": large["id"], "name": "Large", "amount": "90000.00"}

    pages, cursor = [], ""
    while cursor is not None:
        resp = client.get(
            f"{API}/deals", params={"tags": tag, "sort": "-amount", "limit": 3, "cursor": cursor}, headers=admin
        )
        assert set(resp.json()["pagination"]) == {"limit", "nextCursor", "hasNext"}
        pages.append([d["name"] for d in assert_success(resp)])
        cursor = resp.json()["pagination"]["nextCursor"]
    assert pages == [["Large", "Medium", "Won"], ["Small"]]
    resp = client.get(
        f"{API}/deals", params={"tags": tag, "sort": "stageName", "limit": 2, "cursor": ""}, headers=admin
    )
    nxt = resp.json()["pagination"]["nextCursor"]
    resp = client.get(
        f"{API}/deals", params={"tags": tag, "sort": "stageName", "limit": 2, "cursor": nxt}, headers=admin
    )
    assert [d["stageName"] for d in assert_success(resp)] == ["Prospecting", "Prospecting"]

    for params, named in [
        ({"shoeSize": "42"}, "shoeSize"),
        ({"sort": "-favourite"}, "favourite"),
        ({"amount[gte]": "lots"}, "amount"),
        ({"isRotting": "maybe"}, "isRotting"),
        ({"sort": "isRotting"}, "isRotting"),
        ({"fields": "name,password"}, "password"),
        ({"limit": "500"}, "limit"),
        ({"tags[gte]": "a"}, "tags[gte]"),
        ({"probability": "9" * 30}, "probability"),
        ({"amount": "NaN"}, "amount"),
        ({"amount[lt]": "1e999999"}, "amount"),
        ({"name\x00": "x"}, "name"),
    ]:
        error = assert_error(client.get(f"{API}/deals", params=params, headers=admin), 400, "VALIDATION_ERROR")
        assert named in {d["field"] for d in error["details"]}, error


def test_custom_fields_on_deals(client, rworlds):
    admin = rworlds.headers["admin"]
    field = f"tier_{unique('x').split('-')[1]}"
    with unit_of_work(rworlds.actors["admin"]) as session:
        custom_fields.create(
            session,
            rworlds.actors["admin"],
            CustomFieldCreate(
                entity_type="deals",
                field_name=field,
                field_label="Tier",
                field_type="select",
                field_options=["gold", "silver"],
            ),
        )
    tag = unique("cf")
    gold = _deal(client, admin, name="Gold", tags=[tag], customFields={field: "gold"})
    _deal(client, admin, name="Plain", tags=[tag])
    assert gold["customFields"] == {field: "gold"}
    assert [d["name"] for d in _listed(client, admin, tags=tag, **{f"cf.{field}": "gold"})] == ["Gold"]
    assert [d["name"] for d in _listed(client, admin, tags=tag, sort=f"-cf.{field}")] == ["Gold", "Plain"]
    first = client.get(
        f"{API}/deals", params={"tags": tag, "sort": f"cf.{field}", "limit": 1, "cursor": ""}, headers=admin
    )
    cursor = first.json()["pagination"]["nextCursor"]
    params = {"tags": tag, "sort": f"cf.{field}", "limit": 1, "cursor": cursor}
    second = client.get(f"{API}/deals", params=params, headers=admin)
    # Records without the value come last in both directions.
    assert [d["name"] for d in assert_success(first) + assert_success(second)] == ["Gold", "Plain"]
    patched = client.patch(f"{API}/deals/{gold['id']}", json={"customFields": {field: "silver"}}, headers=admin)
    assert assert_success(patched)["customFields"] == {field: "silver"}
    resp = client.patch(f"{API}/deals/{gold['id']}", json={"customFields": {field: "bronze"}}, headers=admin)
    assert assert_error(resp, 400)["details"][0]["field"] == f"customFields.{field}"
    assert _events(gold["id"]) == ["deal.created", "deal.updated"]


# Bulk --------------------------------------------------------------------------------------------------


def test_bulk_create_update_and_delete_report_each_item(client, rworlds):
    admin = rworlds.headers["admin"]
    tag = unique("bulk")
    away_deal = str(rworlds.away_ids["deal"])
    resp = client.post(
        f"{API}/deals/bulk",
        json={
            "deals": [
                {"name": "Bulk 1 🧾", "tags": [tag]},
                {"name": "Bulk 2", "amount": -5, "tags": [tag]},
                {"name": "Bulk 3", "stageId": str(new_id()), "tags": [tag]},
                {"name": "Bulk 4", "tags": [tag], "colour": "red"},
                {"name": "Bulk 5", "tags": [tag]},
            ]
        },
        headers=admin,
    )
    result = assert_success(resp)
    assert (result["created"], result["failed"]) == (2, 3)
    assert [(r["index"], r["success"]) for r in result["results"]] == [
        (0, True),
        (1, False),
        (2, False),
        (3, False),
        (4, True),
    ]
    assert result["results"][1]["error"]["details"][0]["field"] == "amount"
    assert result["results"][2]["error"]["details"][0]["field"] == "stageId"
    assert result["results"][3]["error"]["details"][0]["field"] == "colour"
    created = [r["id"] for r in result["results"] if r["success"]]
    assert {d["name"] for d in _listed(client, admin, tags=tag)} == {"Bulk 1 🧾", "Bulk 5"}
    assert [_events(i) for i in created] == [["deal.created"], ["deal.created"]]

    before = snapshot("deal", rworlds.away_ids["deal"])
    resp = client.patch(
        f"{API}/deals/bulk",
        json={"ids": [created[0], away_deal, created[1]], "updates": {"amount": "42"}},
        headers=admin,
    )
    result = assert_success(resp)
    assert (result["updated"], result["failed"]) == (2, 1)
    assert result["results"][1]["error"]["code"] == "NOT_FOUND" and "Away" not in resp.text
    assert {d["amount"] for d in _listed(client, admin, tags=tag)} == {"42.00"}
    resp = client.patch(f"{API}/deals/bulk", json={"ids": created, "updates": {"amount": -1}}, headers=admin)
    assert assert_error(resp, 400)["details"][0]["field"] == "updates.amount"

    resp = client.request("DELETE", f"{API}/deals/bulk", json={"ids": [created[0], away_deal]}, headers=admin)
    result = assert_success(resp)
    assert (result["deleted"], result["failed"]) == (1, 1)
    assert snapshot("deal", rworlds.away_ids["deal"]) == before
    assert [d["name"] for d in _listed(client, admin, tags=tag)] == ["Bulk 5"]
    too_many = {"deals": [{"name": f"d{i}"} for i in range(101)]}
    assert_error(client.post(f"{API}/deals/bulk", json=too_many, headers=admin), 400, "VALIDATION_ERROR")
