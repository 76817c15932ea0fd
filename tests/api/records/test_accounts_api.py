"""`/api/v1/accounts` over HTTP: CRUD, hierarchy, sub-resources, lists, permissions, scope and tenancy."""

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

COMPANY = {"name": "Probe Corp"}
ENDPOINTS = [
    ("GET", "/accounts", None, "accounts:read", "guest"),
    ("POST", "/accounts", COMPANY, "accounts:create", "read_only"),
    ("GET", "/accounts/{account}", None, "accounts:read", "guest"),
    ("PUT", "/accounts/{account}", COMPANY, "accounts:update", "read_only"),
    ("PATCH", "/accounts/{account}", {"industry": "Hijacked"}, "accounts:update", "read_only"),
    ("DELETE", "/accounts/{account}", None, "accounts:delete", "rep"),
    ("GET", "/accounts/{account}/contacts", None, "accounts:read", "guest"),
    ("GET", "/accounts/{account}/deals", None, "accounts:read", "guest"),
    ("GET", "/accounts/{account}/children", None, "accounts:read", "guest"),
    ("POST", "/accounts/bulk", {"accounts": [COMPANY]}, "accounts:create", "read_only"),
    ("PATCH", "/accounts/bulk", {"ids": [], "updates": {"industry": "X"}}, "accounts:update", "read_only"),
    ("DELETE", "/accounts/bulk", {"ids": []}, "accounts:delete", "rep"),
]
WITH_ID = [e for e in ENDPOINTS if "{" in e[1]]


def _ids(endpoints):
    return [f"{m} {p}" for m, p, *_ in endpoints]


@pytest.mark.parametrize("method, path, body, permission, role", ENDPOINTS, ids=_ids(ENDPOINTS))
def test_anonymous_is_401(client, method, path, body, permission, role):
    assert_anonymous_is_401(client, method, path, body)


@pytest.mark.parametrize("method, path, body, permission, role", ENDPOINTS, ids=_ids(ENDPOINTS))
def test_role_without_the_permission_is_403(client, rworlds, method, path, body, permission, role):
    before = (owner_count("accounts", rworlds.home.tenant_id), snapshot("account", rworlds.ids["account"]))
    assert_forbidden_is_403(client, rworlds, method, path, body, permission, role)
    assert (owner_count("accounts", rworlds.home.tenant_id), snapshot("account", rworlds.ids["account"])) == before


@pytest.mark.parametrize("method, path, body, permission, role", WITH_ID, ids=_ids(WITH_ID))
def test_other_tenants_accounts_are_404(client, rworlds, method, path, body, permission, role):
    assert_other_tenant_is_404(client, rworlds, method, path, body)


def _create(client, headers, **fields):
    return assert_success(client.post(f"{API}/accounts", json={**COMPANY, **fields}, headers=headers), 201)


def test_create_get_put_patch_delete(client, rworlds):
    rep = rworlds.headers["rep"]
    body = {
        "name": "Acme Ünited 🚀",
        "website": "https://www.ACME-united.com/en",
        "industry": "Robotics",
        "companySize": "51-200",
        "annualRevenue": "2500000.00",
        "phone": "+1 555 0100",
        "email": "Info@Acme-United.com",
        "addressStreet": "1 Main St",
        "addressCity": "Springfield",
        "addressState": "IL",
        "addressPostalCode": "62701",
        "addressCountry": "US",
        "description": "Makes robots; '); DROP TABLE accounts;--",
        "tags": ["vip", "robots"],
    }
    resp = client.post(f"{API}/accounts", json=body, headers=rep)
    account = assert_success(resp, 201)
    assert resp.headers["location"] == f"/api/v1/accounts/{account['id']}"
    assert {k: account[k] for k in body} == {**body, "email": "info@acme-united.com"}
    assert (account["domain"], account["ownerId"], account["parentId"], account["version"]) == (
        "acme-united.com",
        str(rworlds.users["rep"]),
        None,
        1,
    )
    url = f"{API}/accounts/{account['id']}"
    assert assert_success(client.get(url, headers=rep)) == account
    patched = assert_success(client.patch(url, json={"website": "acme.io", "version": 1}, headers=rep))
    assert (patched["domain"], patched["industry"], patched["version"]) == ("acme.io", "Robotics", 2)
    replaced = assert_success(client.put(url, json={"name": "Acme", "version": 2}, headers=rep))
    assert (replaced["domain"], replaced["industry"], replaced["tags"]) == (None, None, [])
    assert_error(client.patch(url, json={"name": "Late", "version": 2}, headers=rep), 409, "VERSION_CONFLICT")
    assert client.delete(url, headers=rworlds.headers["manager"]).status_code == 204
    assert_error(client.get(url, headers=rep), 404)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 256}, "name"),
        ({"annualRevenue": -1}, "annualRevenue"),
        ({"annualRevenue": "12.345"}, "annualRevenue"),
        ({"annualRevenue": "lots"}, "annualRevenue"),
        ({"website": "not a website"}, "website"),
        ({"email": "nope"}, "email"),
        ({"tags": ["x" * 51]}, "tags.0"),
        ({"domain": "forced.com"}, "domain"),
        ({"isActive": "perhaps"}, "isActive"),
        ({"parentId": "00000000-0000-0000-0000-000000000000"}, "parentId"),
    ],
)
def test_bad_input_is_400_naming_the_field_and_changes_nothing(client, rworlds, body, field):
    before = owner_count("accounts", rworlds.home.tenant_id)
    resp = client.post(f"{API}/accounts", json={**COMPANY, **body}, headers=rworlds.headers["admin"])
    error = assert_error(resp, 400, "VALIDATION_ERROR")
    assert field in {d["field"] for d in error["details"]}, error
    assert owner_count("accounts", rworlds.home.tenant_id) == before


def test_patch_refuses_null_for_required_fields(client, rworlds):
    account = _create(client, rworlds.headers["admin"])
    resp = client.patch(
        f"{API}/accounts/{account['id']}", json={"name": None, "tags": None}, headers=rworlds.headers["admin"]
    )
    error = assert_error(resp, 400, "VALIDATION_ERROR")
    assert {d["field"] for d in error["details"]} == {"name", "tags"}


def test_hierarchy_children_and_cycles(client, rworlds):
    admin = rworlds.headers["admin"]
    top = _create(client, admin, name="Top")
    middle = _create(client, admin, name="Middle", parentId=top["id"])
    leaf = _create(client, admin, name="Leaf", parentId=middle["id"])
    children, _ = assert_paginated(client.get(f"{API}/accounts/{top['id']}/children", headers=admin))
    assert [c["name"] for c in children] == ["Middle"]
    for account, parent in [(top, leaf), (middle, middle)]:
        resp = client.patch(f"{API}/accounts/{account['id']}", json={"parentId": parent["id"]}, headers=admin)
        assert assert_error(resp, 400, "VALIDATION_ERROR")["details"][0]["field"] == "parentId"
    resp = client.patch(
        f"{API}/accounts/{leaf['id']}", json={"parentId": str(rworlds.away_ids["account"])}, headers=admin
    )
    assert_error(resp, 400, "VALIDATION_ERROR")
    listed, _ = assert_paginated(client.get(f"{API}/accounts", params={"parentId": middle["id"]}, headers=admin))
    assert [a["name"] for a in listed] == ["Leaf"]


def test_account_contacts_and_deals(client, rworlds):
    admin = rworlds.headers["admin"]
    account = _create(client, admin, name="With People")
    for last, score in [("One", 10), ("Two", 70)]:
        body = {"firstName": "P", "lastName": last, "leadScore": score, "accountId": account["id"]}
        assert_success(client.post(f"{API}/contacts", json=body, headers=admin), 201)
    url = f"{API}/accounts/{account['id']}/contacts"
    people, _ = assert_paginated(client.get(url, params={"sort": "lastName"}, headers=admin))
    assert [p["lastName"] for p in people] == ["One", "Two"]
    people, _ = assert_paginated(client.get(url, params={"leadScore[gte]": "50"}, headers=admin))
    assert [p["lastName"] for p in people] == ["Two"]
    assert_error(client.get(url, params={"bogus": "1"}, headers=admin), 400)
    deals, pagination = assert_paginated(client.get(f"{API}/accounts/{account['id']}/deals", headers=admin))
    assert deals == [] and pagination["total"] == 0
    assert_error(client.get(url, headers=rworlds.headers["other_rep"]), 404)  # not their account


def test_rep_sees_own_manager_team_admin_all(client, rworlds):
    tag = secrets.token_hex(4)
    made = {
        role: _create(client, rworlds.headers[role], name=role, tags=[tag])["id"]
        for role in ("rep", "other_rep", "manager")
    }

    def visible(role):
        data, _ = assert_paginated(client.get(f"{API}/accounts", params={"tags": tag}, headers=rworlds.headers[role]))
        return {a["name"] for a in data}

    assert visible("rep") == {"rep"}
    assert visible("manager") == {"rep", "manager"}
    assert visible("admin") == {"rep", "other_rep", "manager"}
    assert_error(client.get(f"{API}/accounts/{made['other_rep']}", headers=rworlds.headers["manager"]), 404)
    assert_error(client.get(f"{API}/accounts/{made['manager']}/children", headers=rworlds.headers["rep"]), 404)


def test_filters_sort_fields_search_and_cursor(client, rworlds):
    admin = rworlds.headers["admin"]
    tag = secrets.token_hex(4)
    for name, industry, revenue, size in [
        ("Zeta Analytics", "Software", "900000", "11-50"),
        ("Eta Foods", "Food", "150000", "1-10"),
        ("Theta Analytics", "Software", "4000000", "201-500"),
    ]:
        _create(client, admin, name=name, industry=industry, annualRevenue=revenue, companySize=size, tags=[tag])

    def names(**params):
        data, _ = assert_paginated(client.get(f"{API}/accounts", params={"tags": tag, **params}, headers=admin))
        return [a["name"] for a in data]

    assert names(industry="Software", sort="name") == ["Theta Analytics", "Zeta Analytics"]
    assert names(**{"annualRevenue[gte]": "500000", "annualRevenue[lt]": "1000000"}) == ["Zeta Analytics"]
    assert names(**{"name[contains]": "FOOD"}) == ["Eta Foods"]
    assert names(companySize="1-10,201-500", sort="-annualRevenue") == ["Theta Analytics", "Eta Foods"]
    assert names(search="analyt", sort="name") == ["Theta Analytics", "Zeta Analytics"]
    assert names(isActive="true", ownerId=str(rworlds.users["admin"]), sort="name")[0] == "Eta Foods"
    data, _ = assert_paginated(client.get(f"{API}/accounts", params={"tags": tag, "fields": "name"}, headers=admin))
    assert all(set(a) == {"id", "name"} for a in data)
    seen, cursor = [], ""
    while cursor is not None:
        resp = client.get(
            f"{API}/accounts", params={"tags": tag, "sort": "name", "limit": 2, "cursor": cursor}, headers=admin
        )
        seen += [a["name"] for a in assert_success(resp)]
        cursor = resp.json()["pagination"]["nextCursor"]
    assert seen == ["Eta Foods", "Theta Analytics", "Zeta Analytics"]
    error = assert_error(
        client.get(f"{API}/accounts", params={"revenue[gte]": "1", "sort": "vibe"}, headers=admin), 400
    )
    assert {d["field"] for d in error["details"]} == {"revenue[gte]", "vibe"}


def test_bulk_create_update_delete_report_each_item(client, rworlds):
    rep, manager = rworlds.headers["rep"], rworlds.headers["manager"]
    tag = secrets.token_hex(4)
    items = [{"name": f"Good {tag}", "tags": [tag]}, {"name": ""}, "not an object", {"name": f"Fine {tag}"}]
    data = assert_success(client.post(f"{API}/accounts/bulk", json={"accounts": items}, headers=rep))
    assert (data["created"], data["failed"]) == (2, 2)
    assert [r["success"] for r in data["results"]] == [True, False, False, True]
    assert data["results"][1]["error"]["details"][0]["field"] == "name"
    good = [data["results"][0]["id"], data["results"][3]["id"]]
    away = str(rworlds.away_ids["account"])
    before = snapshot("account", rworlds.away_ids["account"])

    body = {"ids": [good[0], away, good[1]], "updates": {"industry": "Robotics"}}
    data = assert_success(client.patch(f"{API}/accounts/bulk", json=body, headers=rep))
    assert (data["updated"], data["failed"]) == (2, 1)
    assert data["results"][1]["error"]["code"] == "NOT_FOUND"
    assert assert_success(client.get(f"{API}/accounts/{good[1]}", headers=rep))["industry"] == "Robotics"
    versioned = {"ids": good, "updates": {"version": 1}}
    assert_error(client.patch(f"{API}/accounts/bulk", json=versioned, headers=rep), 400)

    data = assert_success(
        client.request("DELETE", f"{API}/accounts/bulk", json={"ids": [good[0], away]}, headers=manager)
    )
    assert (data["deleted"], data["failed"]) == (1, 1)
    assert_error(client.get(f"{API}/accounts/{good[0]}", headers=rep), 404)
    assert snapshot("account", rworlds.away_ids["account"]) == before
    assert_error(client.post(f"{API}/accounts/bulk", json={"accounts": [COMPANY] * 101}, headers=rep), 400)
