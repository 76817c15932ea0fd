"""`/api/v1/contacts` over HTTP: CRUD, lists, bulk, conversion, permissions, scope and tenancy."""

from __future__ import annotations

import secrets

import pytest

from tests.api.conftest import API, assert_error, assert_paginated, assert_success, owner_count
from tests.api.records.conftest import (
    assert_anonymous_is_401,
    assert_forbidden_is_403,
    assert_other_tenant_is_404,
    snapshot,
)

PERSON = {"firstName": "Ada", "lastName": "Probe"}
ENDPOINTS = [
    ("GET", "/contacts", None, "contacts:read", "guest"),
    ("POST", "/contacts", PERSON, "contacts:create", "read_only"),
    ("POST", "/contacts/bulk", {"contacts": [PERSON]}, "contacts:create", "read_only"),
    ("PATCH", "/contacts/bulk", {"ids": [], "updates": {"leadScore": 1}}, "contacts:update", "read_only"),
    ("DELETE", "/contacts/bulk", {"ids": []}, "contacts:delete", "rep"),
    ("GET", "/contacts/{contact}", None, "contacts:read", "guest"),
    ("PUT", "/contacts/{contact}", PERSON, "contacts:update", "read_only"),
    ("PATCH", "/contacts/{contact}", {"leadScore": 1}, "contacts:update", "read_only"),
    ("DELETE", "/contacts/{contact}", None, "contacts:delete", "rep"),
    ("POST", "/contacts/{contact}/convert", {}, "contacts:update", "read_only"),
]
WITH_ID = [e for e in ENDPOINTS if "{" in e[1]]


def _ids(endpoints):
    return [f"{m} {p}" for m, p, *_ in endpoints]


@pytest.mark.parametrize("method, path, body, permission, role", ENDPOINTS, ids=_ids(ENDPOINTS))
def test_anonymous_is_401(client, method, path, body, permission, role):
    assert_anonymous_is_401(client, method, path, body)


@pytest.mark.parametrize("method, path, body, permission, role", ENDPOINTS, ids=_ids(ENDPOINTS))
def test_role_without_the_permission_is_403(client, rworlds, method, path, body, permission, role):
    before = (owner_count("contacts", rworlds.home.tenant_id), snapshot("contact", rworlds.ids["contact"]))
    assert_forbidden_is_403(client, rworlds, method, path, body, permission, role)
    assert (owner_count("contacts", rworlds.home.tenant_id), snapshot("contact", rworlds.ids["contact"])) == before


@pytest.mark.parametrize("method, path, body, permission, role", WITH_ID, ids=_ids(WITH_ID))
def test_other_tenants_contacts_are_404(client, rworlds, method, path, body, permission, role):
    assert_other_tenant_is_404(client, rworlds, method, path, body)


def _create(client, headers, **fields):
    resp = client.post(f"{API}/contacts", json={**PERSON, **fields}, headers=headers)
    return assert_success(resp, 201)


def test_create_get_put_patch_delete(client, rworlds):
    rep = rworlds.headers["rep"]
    body = {
        "firstName": "Ada",
        "lastName": "Lovelace",
        "email": "Ada@Example.COM",
        "phone": "+44 20 7946 0958",
        "mobile": "07700 900123",
        "title": "Countess",
        "department": "Analytics",
        "company": "Analytical Engines",
        "leadSource": "Referral",
        "leadStatus": "qualified",
        "lifecycleStage": "mql",
        "leadScore": 77,
        "tags": ["vip", "math"],
        "addressStreet": "12 St James's Square",
        "addressCity": "London",
        "addressState": "Greater London",
        "addressPostalCode": "SW1Y 4JH",
        "addressCountry": "UK",
        "socialLinkedin": "https://linkedin.com/in/ada",
        "socialTwitter": "@ada",
        "socialFacebook": "ada.l",
        "notes": "Wrote the first program.",
        "accountId": str(rworlds.ids["account"]),
    }
    resp = client.post(f"{API}/contacts", json=body, headers=rep)
    contact = assert_success(resp, 201)
    assert resp.headers["location"] == f"/api/v1/contacts/{contact['id']}"
    assert {k: contact[k] for k in body} == {**body, "email": "ada@example.com"}
    assert contact["ownerId"] == str(rworlds.users["rep"]) and contact["version"] == 1
    assert contact["lastContactedAt"] is None and contact["customFields"] == {}
    url = f"{API}/contacts/{contact['id']}"
    assert assert_success(client.get(url, headers=rep)) == contact

    patched = assert_success(client.patch(url, json={"leadScore": 80, "tags": [], "version": 1}, headers=rep))
    assert (patched["leadScore"], patched["tags"], patched["title"], patched["version"]) == (80, [], "Countess", 2)
    replaced = assert_success(client.put(url, json={"firstName": "Ada", "lastName": "King", "version": 2}, headers=rep))
    assert (replaced["lastName"], replaced["title"], replaced["leadScore"], replaced["accountId"]) == (
        "King",
        None,
        0,
        None,
    )
    assert replaced["ownerId"] == str(rworlds.users["rep"])

    assert client.delete(url, headers=rworlds.headers["manager"]).status_code == 204
    assert_error(client.get(url, headers=rep), 404, "NOT_FOUND")
    assert_error(client.delete(url, headers=rworlds.headers["manager"]), 404, "NOT_FOUND")


def test_a_stale_version_is_409_with_the_current_version(client, rworlds):
    rep = rworlds.headers["rep"]
    contact = _create(client, rep)
    url = f"{API}/contacts/{contact['id']}"
    assert_success(client.patch(url, json={"title": "First"}, headers=rep))
    error = assert_error(
        client.patch(url, json={"title": "Second", "version": 1}, headers=rep), 409, "VERSION_CONFLICT"
    )
    assert error["details"] == {"currentVersion": 2}
    error = assert_error(client.put(url, json={**PERSON, "version": 1}, headers=rep), 409, "VERSION_CONFLICT")
    assert assert_success(client.get(url, headers=rep))["title"] == "First"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"leadScore": 101}, "leadScore"),
        ({"leadScore": -1}, "leadScore"),
        ({"leadScore": "lots"}, "leadScore"),
        ({"firstName": "x" * 101}, "firstName"),
        ({"firstName": ""}, "firstName"),
        ({"firstName": "Nul\x00byte"}, "firstName"),
        ({"email": "not-an-email"}, "email"),
        ({"leadStatus": "hot"}, "leadStatus"),
        ({"lifecycleStage": "whale"}, "lifecycleStage"),
        ({"tags": [f"t{i}" for i in range(21)]}, "tags"),
        ({"tags": ["x" * 51]}, "tags.0"),
        ({"tags": "vip"}, "tags"),
        ({"ownerId": "not-a-uuid"}, "ownerId"),
        ({"shoeSize": 42}, "shoeSize"),
        ({"lastContactedAt": "2026-01-01T00:00:00Z"}, "lastContactedAt"),
        ({"phone": "1" * 51}, "phone"),
    ],
)
def test_bad_input_is_400_naming_the_field_and_changes_nothing(client, rworlds, body, field):
    before = owner_count("contacts", rworlds.home.tenant_id)
    resp = client.post(f"{API}/contacts", json={**PERSON, **body}, headers=rworlds.headers["admin"])
    error = assert_error(resp, 400, "VALIDATION_ERROR")
    assert field in {d["field"] for d in error["details"]}, error
    assert owner_count("contacts", rworlds.home.tenant_id) == before


def test_references_to_unseen_accounts_and_owners_are_400(client, rworlds):
    rep = rworlds.headers["rep"]
    for body, field in [
        ({"accountId": str(rworlds.away_ids["account"])}, "accountId"),
        ({"ownerId": str(rworlds.users["manager"])}, "ownerId"),
        ({"ownerId": str(rworlds.away.admin_id)}, "ownerId"),
    ]:
        error = assert_error(client.post(f"{API}/contacts", json={**PERSON, **body}, headers=rep), 400)
        assert error["details"][0]["field"] == field
        assert "Away" not in str(error)


def test_emoji_non_latin_and_sql_looking_text_is_stored_and_returned_intact(client, rworlds):
    admin = rworlds.headers["admin"]
    tag = secrets.token_hex(4)
    body = {
        "firstName": "Zoë 🚀",
        "lastName": "李小龍",
        "company": "Ελληνική Εταιρεία",
        "title": "Инженер",
        "notes": "مرحبا بالعالم — ☃ \U0001f9d1\u200d\U0001f4bb",
        "addressCity": "Zürich",
        "tags": [tag, "🔥"],
    }
    created = _create(client, admin, **body)
    assert {k: created[k] for k in body} == body
    sly = "Robert'); DROP TABLE contacts;--"
    bobby = _create(client, admin, lastName=sly, email="o'brien@example.com", tags=[tag], notes="1' OR '1'='1")
    assert (bobby["lastName"], bobby["email"], bobby["notes"]) == (sly, "o'brien@example.com", "1' OR '1'='1")
    listed, _ = assert_paginated(client.get(f"{API}/contacts", params={"lastName": sly}, headers=admin))
    assert [c["id"] for c in listed] == [bobby["id"]]
    listed, _ = assert_paginated(
        client.get(f"{API}/contacts", params={"tags": tag, "search": "инженер"}, headers=admin)
    )
    assert [c["id"] for c in listed] == [created["id"]]
    listed, _ = assert_paginated(client.get(f"{API}/contacts", params={"email": "x' OR '1'='1"}, headers=admin))
    assert listed == []
    assert owner_count("contacts") > 0


def test_rep_sees_own_manager_team_admin_all(client, rworlds):
    tag = secrets.token_hex(4)
    made = {}
    for role in ("rep", "other_rep", "manager"):
        made[role] = _create(client, rworlds.headers[role], tags=[tag], lastName=role)["id"]

    def visible(role):
        data, _ = assert_paginated(client.get(f"{API}/contacts", params={"tags": tag}, headers=rworlds.headers[role]))
        return {c["lastName"] for c in data}

    assert visible("rep") == {"rep"}
    assert visible("manager") == {"rep", "manager"}
    assert visible("admin") == visible("read_only") == {"rep", "other_rep", "manager"}
    for role, other in [("rep", "other_rep"), ("rep", "manager"), ("manager", "other_rep")]:
        url = f"{API}/contacts/{made[other]}"
        assert_error(client.get(url, headers=rworlds.headers[role]), 404, "NOT_FOUND")
        assert_error(client.patch(url, json={"leadScore": 9}, headers=rworlds.headers[role]), 404, "NOT_FOUND")
    assert assert_success(client.get(f"{API}/contacts/{made['rep']}", headers=rworlds.headers["manager"]))


def test_filters_sort_fields_and_unknown_names(client, rworlds):
    admin = rworlds.headers["admin"]
    tag = secrets.token_hex(4)
    for last, status, stage, score in [
        ("Alpha", "new", "lead", 10),
        ("Bravo", "qualified", "mql", 60),
        ("Charlie", "contacted", "sql", 90),
        ("Delta", "qualified", "customer", 50),
    ]:
        _create(client, admin, lastName=last, leadStatus=status, lifecycleStage=stage, leadScore=score, tags=[tag])

    def names(**params):
        data, _ = assert_paginated(client.get(f"{API}/contacts", params={"tags": tag, **params}, headers=admin))
        return [c["lastName"] for c in data]

    assert names(**{"leadScore[gte]": "50", "sort": "-leadScore"}) == ["Charlie", "Bravo", "Delta"]
    assert names(leadStatus="qualified,contacted", sort="lastName") == ["Bravo", "Charlie", "Delta"]
    assert names(lifecycleStage="customer") == ["Delta"]
    assert names(ownerId=str(rworlds.users["admin"]), sort="-lastName") == ["Delta", "Charlie", "Bravo", "Alpha"]
    assert names(**{"createdAt[gte]": "2000-01-01T00:00:00Z", "lastContactedAt[isnull]": "true", "sort": "lastName"})[
        :1
    ] == ["Alpha"]
    data, pagination = assert_paginated(
        client.get(
            f"{API}/contacts",
            params={"tags": tag, "fields": "lastName,leadScore", "sort": "leadScore", "limit": 3},
            headers=admin,
        ),
        limit=3,
    )
    assert [set(c) for c in data] == [{"id", "lastName", "leadScore"}] * 3
    assert (pagination["total"], pagination["totalPages"], pagination["hasNext"]) == (4, 2, True)
    error = assert_error(
        client.get(
            f"{API}/contacts", params={"shoeSize": "9", "sort": "-colour", "fields": "id,password"}, headers=admin
        ),
        400,
        "VALIDATION_ERROR",
    )
    assert {d["field"] for d in error["details"]} == {"shoeSize", "colour", "password"}
    assert_error(client.get(f"{API}/contacts", params={"leadScore[gte]": "high"}, headers=admin), 400)
    assert_error(client.get(f"{API}/contacts", params={"limit": "500"}, headers=admin), 400)
    for odd in ({"leadScore": "99999999999"}, {"lastContactedAt[isnull]": "maybe"}, {"firstName": "a\x00"}):
        assert_error(client.get(f"{API}/contacts", params=odd, headers=admin), 400, "VALIDATION_ERROR")


def test_cursor_pages_are_stable_under_inserts(client, rworlds):
    admin = rworlds.headers["admin"]
    tag = secrets.token_hex(4)
    for i, score in enumerate([50, 40, 40, 30, 20]):
        _create(client, admin, lastName=f"C{i}", leadScore=score, tags=[tag])
    params = {"tags": tag, "sort": "-leadScore", "limit": 2, "cursor": ""}
    resp = client.get(f"{API}/contacts", params=params, headers=admin)
    first = assert_success(resp)
    pagination = resp.json()["pagination"]
    assert set(pagination) == {"limit", "nextCursor", "hasNext"} and pagination["hasNext"]
    _create(client, admin, lastName="Newcomer", leadScore=99, tags=[tag])  # sorts before the cursor
    seen = [c["lastName"] for c in first]
    cursor = pagination["nextCursor"]
    while cursor:
        resp = client.get(f"{API}/contacts", params={**params, "cursor": cursor}, headers=admin)
        seen += [c["lastName"] for c in assert_success(resp)]
        cursor = resp.json()["pagination"]["nextCursor"]
    assert seen == ["C0", "C1", "C2", "C3", "C4"]
    assert_error(client.get(f"{API}/contacts", params={**params, "cursor": "garbage"}, headers=admin), 400)


def test_bulk_create_reports_each_item_and_keeps_the_good_ones(client, rworlds):
    tag = secrets.token_hex(4)
    items = [
        {"firstName": "Good", "lastName": "One", "tags": [tag]},
        {"firstName": "Bad", "lastName": "Score", "leadScore": 101, "tags": [tag]},
        {"firstName": "Bad", "lastName": "Account", "accountId": str(rworlds.away_ids["account"]), "tags": [tag]},
        "not an object",
        {"firstName": "Good", "lastName": "Two", "tags": [tag]},
    ]
    resp = client.post(f"{API}/contacts/bulk", json={"contacts": items}, headers=rworlds.headers["rep"])
    data = assert_success(resp)
    assert (data["created"], data["failed"]) == (2, 3)
    assert [r["success"] for r in data["results"]] == [True, False, False, False, True]
    assert [r["index"] for r in data["results"]] == [0, 1, 2, 3, 4]
    assert data["results"][1]["error"]["code"] == "VALIDATION_ERROR"
    assert data["results"][1]["error"]["details"][0]["field"] == "leadScore"
    assert data["results"][2]["error"]["details"][0]["field"] == "accountId"
    listed, _ = assert_paginated(
        client.get(f"{API}/contacts", params={"tags": tag, "sort": "lastName"}, headers=rworlds.headers["rep"])
    )
    assert [c["id"] for c in listed] == [data["results"][0]["id"], data["results"][4]["id"]]
    too_many = {"contacts": [PERSON] * 101}
    assert_error(client.post(f"{API}/contacts/bulk", json=too_many, headers=rworlds.headers["rep"]), 400)


def test_bulk_update_and_delete_treat_unseen_ids_as_404_items(client, rworlds):
    rep, manager = rworlds.headers["rep"], rworlds.headers["manager"]
    mine = [_create(client, rep)["id"] for _ in range(2)]
    others = _create(client, rworlds.headers["other_rep"])["id"]
    away = str(rworlds.away_ids["contact"])
    before = snapshot("contact", rworlds.away_ids["contact"])
    body = {"ids": [mine[0], others, away, mine[1]], "updates": {"leadStatus": "qualified", "tags": ["hot"]}}
    data = assert_success(client.patch(f"{API}/contacts/bulk", json=body, headers=rep))
    assert (data["updated"], data["failed"]) == (2, 2)
    for result in data["results"][1:3]:
        assert result["error"] == {"code": "NOT_FOUND", "message": "Contact not found", "details": None}
    assert assert_success(client.get(f"{API}/contacts/{mine[1]}", headers=rep))["tags"] == ["hot"]
    assert assert_success(client.get(f"{API}/contacts/{others}", headers=rworlds.headers["admin"]))["tags"] == []
    error = assert_error(
        client.patch(f"{API}/contacts/bulk", json={"ids": mine, "updates": {"leadScore": 101}}, headers=rep), 400
    )
    assert error["details"][0]["field"] == "updates.leadScore"

    data = assert_success(
        client.request("DELETE", f"{API}/contacts/bulk", json={"ids": [mine[0], away, others]}, headers=manager)
    )
    assert (data["deleted"], data["failed"]) == (1, 2)  # other_rep is in another team
    assert snapshot("contact", rworlds.away_ids["contact"]) == before
    assert_error(client.get(f"{API}/contacts/{mine[0]}", headers=rep), 404)


def test_convert_creates_account_and_deal_in_one_transaction(client, rworlds):
    rep = rworlds.headers["rep"]
    domain = f"{secrets.token_hex(4)}.example.com"
    contact = _create(client, rep, email=f"lead@{domain}", company="Lead Co", leadSource="Webinar")
    url = f"{API}/contacts/{contact['id']}/convert"
    resp = client.post(url, json={"dealName": "Lead Co - pilot", "amount": "1200.50", "currency": "EUR"}, headers=rep)
    data = assert_success(resp, 201)
    deal = data["deal"]
    assert resp.headers["location"] == f"/api/v1/deals/{deal['id']}"
    assert data["accountCreated"] is True and data["account"]["domain"] == domain
    assert data["contact"]["accountId"] == data["account"]["id"] and data["contact"]["lifecycleStage"] == "opportunity"
    assert (deal["name"], deal["amount"], deal["currency"], deal["contactId"], deal["accountId"]) == (
        "Lead Co - pilot",
        "1200.50",
        "EUR",
        contact["id"],
        data["account"]["id"],
    )
    assert deal["ownerId"] == str(rworlds.users["rep"]) and deal["leadSource"] == "Webinar"
    deals, _ = assert_paginated(client.get(f"{API}/accounts/{data['account']['id']}/deals", headers=rep))
    assert [d["id"] for d in deals] == [deal["id"]]


def test_a_failed_conversion_changes_nothing(client, rworlds):
    rep = rworlds.headers["rep"]
    contact = _create(client, rep, email=f"lead@{secrets.token_hex(4)}.example.org", company="Failing Co")
    accounts_before = owner_count("accounts", rworlds.home.tenant_id)
    deals_before = owner_count("deals", rworlds.home.tenant_id)
    row = snapshot("contact", contact["id"])
    url = f"{API}/contacts/{contact['id']}/convert"
    error = assert_error(client.post(url, json={"stageId": str(rworlds.away_ids["deal"])}, headers=rep), 400)
    assert "stageId" in str(error["details"])
    assert_error(client.post(url, json={"amount": -5}, headers=rep), 400)
    error = assert_error(client.post(url, json={"currency": "AAA"}, headers=rep), 400)  # not an ISO 4217 code
    assert "currency" in str(error["details"])
    assert_error(client.post(url, json={"version": 7}, headers=rep), 409, "VERSION_CONFLICT")
    assert owner_count("accounts", rworlds.home.tenant_id) == accounts_before
    assert owner_count("deals", rworlds.home.tenant_id) == deals_before
    assert snapshot("contact", contact["id"]) == row
