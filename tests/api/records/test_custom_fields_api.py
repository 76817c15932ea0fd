"""`/api/v1/custom-fields`: definitions CRUD, permissions, tenancy and validation over HTTP."""

from __future__ import annotations

import secrets

import pytest

from core.custom_fields import service as custom_fields
from core.db import unit_of_work
from tests.api.conftest import API, assert_error, assert_success
from tests.api.records.conftest import assert_anonymous_is_401, assert_forbidden_is_403, assert_other_tenant_is_404

FIELD = {"entityType": "contacts", "fieldName": "f_{n}", "fieldLabel": "Field", "fieldType": "text"}
ENDPOINTS = [
    ("GET", "/custom-fields", None, "custom_fields:read", "guest"),
    ("POST", "/custom-fields", FIELD, "custom_fields:create", "manager"),
    ("GET", "/custom-fields/{field}", None, "custom_fields:read", "guest"),
    ("PATCH", "/custom-fields/{field}", {"fieldLabel": "Hijacked"}, "custom_fields:update", "rep"),
    ("DELETE", "/custom-fields/{field}", None, "custom_fields:delete", "read_only"),
]
WITH_ID = [e for e in ENDPOINTS if "{" in e[1]]


def _ids(endpoints):
    return [f"{m} {p}" for m, p, *_ in endpoints]


@pytest.mark.parametrize("method, path, body, permission, role", ENDPOINTS, ids=_ids(ENDPOINTS))
def test_anonymous_is_401(client, method, path, body, permission, role):
    assert_anonymous_is_401(client, method, path, body)


@pytest.mark.parametrize("method, path, body, permission, role", ENDPOINTS, ids=_ids(ENDPOINTS))
def test_role_without_the_permission_is_403(client, rworlds, method, path, body, permission, role):
    assert_forbidden_is_403(client, rworlds, method, path, body, permission, role)


@pytest.mark.parametrize("method, path, body, permission, role", WITH_ID, ids=_ids(WITH_ID))
def test_other_tenants_field_is_404(client, rworlds, method, path, body, permission, role):
    assert_other_tenant_is_404(client, rworlds, method, path, body)


def _create(client, headers, **fields):
    body = {
        "entityType": "deals",
        "fieldName": f"f_{secrets.token_hex(3)}",
        "fieldLabel": "Field",
        "fieldType": "text",
        **fields,
    }
    return client.post(f"{API}/custom-fields", json=body, headers=headers)


def test_field_lifecycle(client, rworlds):
    admin = rworlds.headers["admin"]
    resp = _create(client, admin, fieldType="select", fieldOptions=["a", "b"], fieldLabel="Größe 🚀", isRequired=True)
    field = assert_success(resp, 201)
    assert resp.headers["location"] == f"/api/v1/custom-fields/{field['id']}"
    assert field["fieldOptions"] == ["a", "b"] and field["fieldLabel"] == "Größe 🚀" and field["version"] == 1
    listed = assert_success(client.get(f"{API}/custom-fields", params={"entityType": "deals"}, headers=admin))
    assert field["id"] in [f["id"] for f in listed] and {f["entityType"] for f in listed} == {"deals"}
    assert assert_success(client.get(f"{API}/custom-fields/{field['id']}", headers=rworlds.headers["rep"])) == field

    resp = client.patch(
        f"{API}/custom-fields/{field['id']}", json={"fieldOptions": ["a", "b", "c"], "version": 1}, headers=admin
    )
    assert assert_success(resp)["version"] == 2
    resp = client.patch(f"{API}/custom-fields/{field['id']}", json={"fieldLabel": "Late", "version": 1}, headers=admin)
    assert assert_error(resp, 409, "VERSION_CONFLICT")["details"] == {"currentVersion": 2}
    resp = client.patch(f"{API}/custom-fields/{field['id']}", json={"fieldName": "renamed"}, headers=admin)
    assert assert_error(resp, 400)["details"][0]["field"] == "fieldName"

    assert client.delete(f"{API}/custom-fields/{field['id']}", headers=admin).status_code == 204
    assert_error(client.get(f"{API}/custom-fields/{field['id']}", headers=admin), 404, "NOT_FOUND")


def test_duplicate_name_is_409(client, rworlds):
    admin = rworlds.headers["admin"]
    name = f"dup_{secrets.token_hex(3)}"
    assert_success(_create(client, admin, fieldName=name), 201)
    assert_error(_create(client, admin, fieldName=name), 409, "CONFLICT")
    assert_success(_create(client, admin, fieldName=name, entityType="accounts"), 201)


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"fieldName": "Has Spaces"}, "fieldName"),
        ({"fieldName": "9lives"}, "fieldName"),
        ({"fieldType": "colour"}, "fieldType"),
        ({"entityType": "tasks"}, "entityType"),
        ({"fieldLabel": ""}, "fieldLabel"),
        ({"fieldLabel": "x" * 101}, "fieldLabel"),
        ({"shoeSize": 42}, "shoeSize"),
        ({"fieldType": "select"}, "fieldOptions"),
        ({"fieldType": "select", "fieldOptions": ["a", "a"]}, "fieldOptions"),
        ({"fieldType": "number", "fieldOptions": ["a"]}, "fieldOptions"),
        ({"fieldLabel": "nul\x00byte"}, "fieldLabel"),
    ],
)
def test_bad_definitions_are_400_naming_the_field(client, rworlds, fields, named):
    error = assert_error(_create(client, rworlds.headers["admin"], **fields), 400, "VALIDATION_ERROR")
    assert named in {d["field"] for d in error["details"]}


def test_type_change_is_refused_once_values_exist(client, rworlds):
    admin = rworlds.headers["admin"]
    field = assert_success(_create(client, admin, entityType="contacts", fieldType="number"), 201)
    assert_success(client.patch(f"{API}/custom-fields/{field['id']}", json={"fieldType": "text"}, headers=admin))
    actor = rworlds.actors["admin"]
    with unit_of_work(actor) as session:
        custom_fields.write_values(
            session, actor, "contacts", rworlds.ids["contact"], {field["fieldName"]: "hello"}, partial=True
        )
    resp = client.patch(f"{API}/custom-fields/{field['id']}", json={"fieldType": "number"}, headers=admin)
    assert assert_error(resp, 409)["details"][0]["field"] == "fieldType"
