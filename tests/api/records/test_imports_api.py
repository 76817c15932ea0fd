"""`/api/v1/imports`: upload, preview, progress, row results; permissions, tenancy, scope and refused files."""

from __future__ import annotations

import csv
import io
import secrets
from typing import Any
from uuid import UUID

import pytest

from core.db import unit_of_work
from core.imports import service as imports
from core.imports.schemas import ImportOptions
from core.jobs import queue, registry
from tests.api.conftest import API, assert_error, assert_paginated, assert_success, owner_count

ROUTES = [
    ("POST", "/imports"),
    ("POST", "/imports/preview"),
    ("GET", "/imports"),
    ("GET", "/imports/{id}"),
    ("GET", "/imports/{id}/errors"),
    ("GET", "/imports/{id}/skipped"),
]


def to_csv(rows: list[list[str]], delimiter: str = ",") -> bytes:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode()


def people(tag: str, n: int = 2) -> list[list[str]]:
    return [["First Name", "Last Name", "Email"]] + [[f"P{i}", tag, f"{tag}-{i}@example.com"] for i in range(n)]


def upload(
    client,
    headers: dict[str, str],
    data: bytes,
    *,
    path: str = "/imports",
    name: str = "people.csv",
    **form: str,
):
    fields = {"entityType": "contacts", **form}
    return client.post(f"{API}{path}", headers=headers, files={"file": (name, data, "text/csv")}, data=fields)


def run(import_body: dict[str, Any], tenant_id: UUID) -> None:
    """Run the import's job now, in this process (the queue may hold other tests' jobs)."""
    registry.load_handler_modules()
    queue.run_job(import_body["jobId"], str(tenant_id))


def imports_of(tenant_id: UUID) -> tuple[int, int]:
    return owner_count("imports", tenant_id), owner_count("import_files", tenant_id)


# Authentication, permissions, tenancy ----------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_anonymous_is_401(client, method, path):
    url = API + path.format(id=UUID(int=1))
    kwargs = (
        {"files": {"file": ("a.csv", b"a,b\n1,2\n")}, "data": {"entityType": "contacts"}} if method == "POST" else {}
    )
    assert_error(client.request(method, url, **kwargs), 401, "UNAUTHENTICATED")


@pytest.mark.parametrize(
    ("role", "path", "form", "required"),
    [
        ("read_only", "/imports", {}, "imports:create"),
        ("read_only", "/imports/preview", {}, "imports:create"),
        ("guest", "/imports", {}, "imports:create"),
        ("rep", "/imports", {"entityType": "accounts"}, "accounts:import"),
        ("rep", "/imports", {"duplicatePolicy": "update", "entityType": "contacts"}, None),
    ],
)
def test_uploading_needs_the_import_permissions_and_changes_nothing_when_refused(
    client, rworlds, role, path, form, required
):
    before = imports_of(rworlds.home.tenant_id)
    data = to_csv([["Name", "Website", "First Name", "Last Name"], ["Acme", "acme.example", "A", "B"]])
    resp = upload(client, rworlds.headers[role], data, path=path, **form)
    if required is None:  # a rep may update their own contacts: allowed
        assert_success(resp, 202)
        return
    error = assert_error(resp, 403, "FORBIDDEN")
    assert error["details"]["required"] == required
    assert imports_of(rworlds.home.tenant_id) == before


def test_reading_imports_needs_imports_read(client, rworlds):
    for path in ("/imports", f"/imports/{UUID(int=1)}", f"/imports/{UUID(int=1)}/errors"):
        error = assert_error(client.get(API + path, headers=rworlds.headers["guest"]), 403, "FORBIDDEN")
        assert error["details"]["required"] == "imports:read"


def test_another_tenants_import_is_404_and_never_listed(client, rworlds):
    away = rworlds.away.admin
    with unit_of_work(away) as session:
        theirs = imports.create(
            session, away, to_csv(people("away-secret")), ImportOptions(entity_type="contacts"), file_name="away.csv"
        )
    admin = rworlds.headers["admin"]
    for suffix in ("", "/errors", "/skipped"):
        resp = client.get(f"{API}/imports/{theirs.id}{suffix}", headers=admin)
        assert_error(resp, 404, "NOT_FOUND")
        assert "away" not in resp.text
    listed, _ = assert_paginated(client.get(f"{API}/imports", params={"limit": 100}, headers=admin), limit=100)
    assert str(theirs.id) not in {i["id"] for i in listed}


def test_imports_follow_the_record_scope_of_who_started_them(client, rworlds):
    tag = f"scope-{secrets.token_hex(3)}"
    mine = assert_success(upload(client, rworlds.headers["rep"], to_csv(people(tag))), 202)
    for role, visible in (("rep", True), ("manager", True), ("admin", True), ("other_rep", False)):
        resp = client.get(f"{API}/imports/{mine['id']}", headers=rworlds.headers[role])
        if visible:
            assert assert_success(resp)["id"] == mine["id"]
        else:
            assert_error(resp, 404, "NOT_FOUND")
    listed, _ = assert_paginated(client.get(f"{API}/imports", headers=rworlds.headers["other_rep"]))
    assert mine["id"] not in {i["id"] for i in listed}


# The flow --------------------------------------------------------------------------------------------------


def test_upload_poll_and_read_the_row_errors(client, rworlds):
    tag = f"flow-{secrets.token_hex(3)}"
    rows = [
        ["First Name", "Last Name", "Email", "Lead Score", "Lifecycle Stage", "Favourite"],
        ["Ada", tag, f"ada-{tag}@example.com", "42", "Marketing Qualified Lead", "tea"],
        ["Bob", tag, "not-an-email", "7", "", ""],
        ["Cy", tag, f"cy-{tag}@example.com", "lots", "", ""],
        ["李", "小龙 🐉", f"li-{tag}@example.com", "", "", ""],
    ]
    admin = rworlds.headers["admin"]
    resp = upload(client, admin, to_csv(rows, ";"), name="people.csv")
    body = assert_success(resp, 202)
    assert resp.headers["location"] == f"/api/v1/imports/{body['id']}"
    assert (body["status"], body["entityType"], body["duplicatePolicy"], body["fileName"]) == (
        "queued",
        "contacts",
        "skip",
        "people.csv",
    )
    assert body["file"] == {"format": "csv", "encoding": "utf-8", "hasBom": False, "delimiter": ";"}
    assert body["mapping"] == {
        "First Name": "firstName",
        "Last Name": "lastName",
        "Email": "email",
        "Lead Score": "leadScore",
        "Lifecycle Stage": "lifecycleStage",
    }
    assert body["unmapped"] == ["Favourite"]
    assert body["progress"] == {"done": 0, "total": 4, "percent": 0} and body["jobId"]
    job = assert_success(client.get(f"{API}/jobs/{body['jobId']}", headers=admin))
    assert (job["kind"], job["status"]) == ("imports.run", "queued")

    run(body, rworlds.home.tenant_id)
    done = assert_success(client.get(f"{API}/imports/{body['id']}", headers=admin))
    assert done["status"] == "completed"
    assert done["counts"] == {"created": 2, "updated": 0, "skipped": 0, "failed": 2}
    assert done["progress"] == {"done": 4, "total": 4, "percent": 100}
    assert done["startedAt"] and done["finishedAt"] and done["finishedAt"] >= done["startedAt"]

    errors, pagination = assert_paginated(
        client.get(f"{API}/imports/{body['id']}/errors", params={"limit": 1}, headers=admin), limit=1
    )
    assert pagination["total"] == 2 and pagination["hasNext"]
    assert errors[0]["row"] == 3 and errors[0]["field"] == "email" and errors[0]["column"] == "Email"
    assert errors[0]["values"]["Email"] == "not-an-email" and errors[0]["values"]["Favourite"] == ""
    second, _ = assert_paginated(
        client.get(f"{API}/imports/{body['id']}/errors", params={"limit": 1, "page": 2}, headers=admin),
        page=2,
        limit=1,
    )
    assert (second[0]["row"], second[0]["field"]) == (4, "leadScore")

    found = assert_success(client.get(f"{API}/contacts", params={"lastName": tag}, headers=admin))
    assert {c["firstName"]: c["lifecycleStage"] for c in found} == {"Ada": "mql"}
    li = assert_success(client.get(f"{API}/contacts", params={"email": f"li-{tag}@example.com"}, headers=admin))
    assert (li[0]["firstName"], li[0]["lastName"]) == ("李", "小龙 🐉")
    listed, _ = assert_paginated(client.get(f"{API}/imports", params={"limit": 100}, headers=admin), limit=100)
    assert body["id"] in {i["id"] for i in listed}


def test_skipped_duplicates_name_the_existing_record(client, rworlds):
    tag = f"dup-{secrets.token_hex(3)}"
    admin = rworlds.headers["admin"]
    first = assert_success(upload(client, admin, to_csv(people(tag))), 202)
    run(first, rworlds.home.tenant_id)
    again = assert_success(upload(client, admin, to_csv(people(tag))), 202)
    run(again, rworlds.home.tenant_id)
    done = assert_success(client.get(f"{API}/imports/{again['id']}", headers=admin))
    assert done["counts"] == {"created": 0, "updated": 0, "skipped": 2, "failed": 0}
    skipped, _ = assert_paginated(client.get(f"{API}/imports/{again['id']}/skipped", headers=admin))
    existing = assert_success(client.get(f"{API}/contacts", params={"lastName": tag}, headers=admin))
    assert {s["existingId"] for s in skipped} == {c["id"] for c in existing}
    assert [s["row"] for s in skipped] == [2, 3]


def test_preview_shows_detection_mapping_and_first_rows_and_stores_nothing(client, rworlds):
    before = imports_of(rworlds.home.tenant_id)
    rows = [["Record ID", "FirstName", "LastName", "Email", "Rating"]] + [
        [str(i), f"Zoë{i}", "Ångström", f"z{i}@example.com", "Hot"] for i in range(8)
    ]
    resp = upload(
        client, rworlds.headers["admin"], to_csv(rows, "\t").decode().encode("utf-16"), path="/imports/preview"
    )
    preview = assert_success(resp)
    assert preview["file"] == {"format": "csv", "encoding": "utf-16", "hasBom": True, "delimiter": "\t"}
    assert preview["headers"] == rows[0]
    assert preview["mapping"] == {
        "FirstName": "firstName",
        "LastName": "lastName",
        "Email": "email",
        "Rating": "leadScore",
    }
    assert preview["unmapped"] == ["Record ID"] and preview["missingRequired"] == []
    assert preview["totalRows"] == 8 and preview["rows"] == rows[1:6]
    resp = upload(
        client,
        rworlds.headers["admin"],
        to_csv(rows),
        path="/imports/preview",
        mapping='{"FirstName": null, "Record ID": "lastName"}',
    )
    preview = assert_success(resp)
    assert preview["mapping"]["Record ID"] == "lastName" and "FirstName" in preview["unmapped"]
    assert preview["missingRequired"] == ["firstName"]
    assert imports_of(rworlds.home.tenant_id) == before


# Refused uploads -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "form", "code"),
    [
        (b"", {}, "EMPTY_FILE"),
        (b"First Name,Last Name\r\n", {}, "NO_DATA_ROWS"),
        (b"Colour,Shape\r\nred,round\r\n", {}, "NO_RECOGNISED_COLUMNS"),
        (bytes(range(256)) * 16, {}, "UNSUPPORTED_FILE"),
        (b"PK\x03\x04not really a workbook", {}, "UNREADABLE_XLSX"),
        (b"First Name,Last Name\r\nA,B\r\n", {"mapping": "{not json"}, "VALIDATION_ERROR"),
        (b"First Name,Last Name\r\nA,B\r\n", {"mapping": '{"First Name": "nickname"}'}, "VALIDATION_ERROR"),
        (b"First Name,Last Name\r\nA,B\r\n", {"entityType": "deals"}, "VALIDATION_ERROR"),
        (b"First Name,Last Name\r\nA,B\r\n", {"duplicatePolicy": "merge"}, "VALIDATION_ERROR"),
    ],
)
def test_files_that_cannot_be_imported_are_400_and_nothing_is_stored(client, rworlds, data, form, code):
    before = imports_of(rworlds.home.tenant_id)
    for path in ("/imports", "/imports/preview"):
        error = assert_error(upload(client, rworlds.headers["admin"], data, path=path, **form), 400, code)
        assert error["message"]
    assert imports_of(rworlds.home.tenant_id) == before


def test_a_request_without_a_file_is_400(client, rworlds):
    resp = client.post(f"{API}/imports", headers=rworlds.headers["admin"], data={"entityType": "contacts"})
    assert_error(resp, 400, "VALIDATION_ERROR")


def test_files_over_the_import_limit_are_413_or_400_naming_the_limit(client, rworlds, settings_env):
    settings_env(CLIENTFORGE_IMPORT_MAX_BYTES="1000")
    before = imports_of(rworlds.home.tenant_id)
    admin = rworlds.headers["admin"]
    huge = to_csv(people("huge", 4000))  # far beyond the limit: refused before the body is read
    error = assert_error(upload(client, admin, huge), 413, "PAYLOAD_TOO_LARGE")
    assert "1,000 bytes" in error["message"]
    big = to_csv(people("big", 40))  # over the limit, within the multipart allowance: the service refuses it
    assert len(big) > 1000
    error = assert_error(upload(client, admin, big), 400, "FILE_TOO_LARGE")
    assert "1,000 bytes" in error["message"]
    assert imports_of(rworlds.home.tenant_id) == before


def test_uploads_larger_than_the_general_body_limit_are_accepted_by_the_imports_routes(client, rworlds, settings_env):
    settings_env(CLIENTFORGE_MAX_BODY_BYTES="2048")
    data = to_csv(people(f"wide-{secrets.token_hex(3)}", 200))
    assert len(data) > 2048
    preview = assert_success(upload(client, rworlds.headers["admin"], data, path="/imports/preview"))
    assert preview["totalRows"] == 200
