"""`GET /api/v1/<records>/export`: CSV and XLSX downloads of any filtered list, read back and compared with the
list endpoint's own answer for the same query."""

from __future__ import annotations

import csv
import io
import random
import secrets
from decimal import Decimal
from typing import Any

import openpyxl
import pytest
from sqlalchemy import text

from core.actor import Actor
from core.custom_fields import service as custom_fields
from core.custom_fields.schemas import CustomFieldCreate
from core.db import owner_engine, unit_of_work
from core.ids import new_id
from core.models import Contact
from tests.api.conftest import API, assert_error, assert_success, login_headers, make_client
from tests.api.records.conftest import RecordWorlds, assert_anonymous_is_401, assert_forbidden_is_403
from tests.factories import PASSWORD, TenantWorld, create_tenant

RECORDS = ("contacts", "accounts", "deals", "activities", "tasks", "notes")
ENDPOINTS = [
    ("GET", "/contacts/export", None, "contacts:export", "read_only"),
    ("GET", "/contacts/export", None, "contacts:read", "guest"),
    ("GET", "/accounts/export", None, "accounts:export", "rep"),
    ("GET", "/deals/export", None, "deals:export", "rep"),
    ("GET", "/activities/export", None, "activities:export", "rep"),
    ("GET", "/tasks/export", None, "tasks:export", "read_only"),
    ("GET", "/notes/export", None, "notes:export", "rep"),
    ("GET", "/notes/export", None, "notes:read", "guest"),
]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _ids(endpoints):
    return [f"{p} as {role}" for _, p, _, _, role in endpoints]


@pytest.mark.parametrize("method, path, body, permission, role", ENDPOINTS, ids=_ids(ENDPOINTS))
def test_anonymous_is_401(client, method, path, body, permission, role):
    assert_anonymous_is_401(client, method, path, body)


@pytest.mark.parametrize("method, path, body, permission, role", ENDPOINTS, ids=_ids(ENDPOINTS))
def test_role_without_the_permission_is_403(client, rworlds, method, path, body, permission, role):
    assert_forbidden_is_403(client, rworlds, method, path, body, permission, role)


# A tenant of its own: its custom fields and row counts are this module's alone.


class World:
    def __init__(self, tenant: TenantWorld, headers: dict[str, dict[str, str]], users: dict[str, Any]) -> None:
        self.tenant = tenant
        self.headers = headers
        self.users = users

    @property
    def admin(self) -> Actor:
        return self.tenant.admin


@pytest.fixture(scope="module")
def xworld(api_app) -> World:
    tenant = create_tenant()
    client = make_client(api_app)
    headers = {"admin": login_headers(client, tenant.admin_email, tenant.slug)}
    users: dict[str, Any] = {"admin": tenant.admin_id}
    for role in ("rep", "analyst"):
        email = f"{role}-{secrets.token_hex(3)}@{tenant.slug}.example.com"
        users[role] = tenant.add_user(role, email=email)
        headers[role] = login_headers(client, email, tenant.slug, PASSWORD)
    admin = tenant.admin
    with unit_of_work(admin) as session:
        for order, (name, kind, options) in enumerate(
            [
                ("tier", "select", ["gold", "silver"]),
                ("regions", "multi_select", ["emea", "apac", "amer"]),
                ("budget", "number", None),
                ("renewal", "date", None),
                ("vip", "boolean", None),
                ("remark", "text", None),
            ]
        ):
            custom_fields.create(
                session,
                admin,
                CustomFieldCreate(
                    entity_type="contacts",
                    field_name=name,
                    field_label=name.title(),
                    field_type=kind,
                    field_options=options,
                    display_order=order,
                ),
            )
    return World(tenant, headers, users)


def _csv(resp) -> tuple[list[str], list[dict[str, str]]]:
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "text/csv; charset=utf-8"
    assert resp.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(resp.content.decode("utf-8-sig"), newline="")))
    header, body = rows[0], rows[1:]
    return header, [dict(zip(header, row, strict=True)) for row in body]


def _xlsx(resp) -> tuple[list[str], list[dict[str, Any]]]:
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == XLSX
    book = openpyxl.load_workbook(io.BytesIO(resp.content))
    sheet = book.worksheets[0]
    assert sheet.freeze_panes == "A2"
    assert all(cell.font.bold for cell in sheet[1])
    rows = list(sheet.iter_rows(values_only=True))
    header = list(rows[0])
    return header, [dict(zip(header, row, strict=True)) for row in rows[1:]]


def _export(client, headers, record: str, file_format: str = "csv", **params):
    resp = client.get(f"{API}/{record}/export", params={"format": file_format, **params}, headers=headers)
    return _csv(resp) if file_format == "csv" else _xlsx(resp)


def _listed(client, headers, record: str, **params) -> list[dict[str, Any]]:
    """Every item of the list for these parameters, page by cursor page."""
    items, cursor = [], ""
    while cursor is not None:
        resp = client.get(f"{API}/{record}", params={**params, "cursor": cursor, "limit": 100}, headers=headers)
        items += assert_success(resp)
        cursor = resp.json()["pagination"]["nextCursor"]
    return items


def _text(value: Any) -> str:
    """What a CSV cell holds for a list value: the rules the export documents."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        value = "; ".join(value)
    text = str(value)
    return "'" + text if isinstance(value, str) and text.startswith(("=", "+", "-", "@", "\t", "\r")) else text


def _flatten(item: dict[str, Any], header: list[str]) -> dict[str, Any]:
    custom = item.get("customFields") or {}
    return {c: custom.get(c[3:]) if c.startswith("cf.") else item.get(c) for c in header}


def _same_as_csv(listed: list[dict[str, Any]], header: list[str], rows: list[dict[str, str]]) -> None:
    assert [{c: _text(v) for c, v in _flatten(item, header).items()} for item in listed] == rows


def _same_as_xlsx(listed: list[dict[str, Any]], header: list[str], rows: list[dict[str, Any]]) -> None:
    expected = []
    for item in listed:
        row = {}
        for column, value in _flatten(item, header).items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                row[column] = value
            elif column in ("amount", "weightedAmount", "annualRevenue") and value is not None:
                row[column] = float(Decimal(value))
            else:
                row[column] = _text(value) or None
        expected.append(row)
    assert expected == rows


def _contact(client, headers, **fields) -> dict[str, Any]:
    body = {"firstName": "Ada", "lastName": secrets.token_hex(3), **fields}
    return assert_success(client.post(f"{API}/contacts", json=body, headers=headers), 201)


def test_csv_and_xlsx_equal_the_list_for_the_same_filters_and_sort(client, xworld):
    admin = xworld.headers["admin"]
    tag = secrets.token_hex(4)
    made = [
        _contact(
            client,
            admin,
            lastName=name,
            tags=[tag, "vip"] if i % 2 else [tag],
            leadScore=score,
            email=f"{name.lower()}@example.com",
            phone="+44 20 7946 0958" if i == 0 else None,
            customFields={
                "tier": "gold",
                "regions": ["emea", "apac"],
                "budget": 1250.5,
                "renewal": "2027-01-31",
                "vip": True,
                "remark": 'line one\nline, two "quoted"',
            }
            if i % 2 == 0
            else {"budget": 7},
        )
        for i, (name, score) in enumerate([("Babbage", 40), ("Lovelace", 90), ("Hopper", 70), ("Turing", 10)])
    ]
    query = {"tags": tag, "leadScore[gte]": "20", "sort": "-leadScore"}
    listed = _listed(client, admin, "contacts", **query)
    assert [c["lastName"] for c in listed] == ["Lovelace", "Hopper", "Babbage"]

    header, rows = _export(client, admin, "contacts", **query)
    assert header[:4] == ["id", "firstName", "lastName", "email"]
    assert header[-6:] == ["cf.tier", "cf.regions", "cf.budget", "cf.renewal", "cf.vip", "cf.remark"]
    assert "customFields" not in header
    _same_as_csv(listed, header, rows)
    hopper = rows[1]
    assert (hopper["cf.regions"], hopper["cf.budget"], hopper["cf.vip"], hopper["cf.renewal"]) == (
        "emea; apac",
        "1250.5",
        "true",
        "2027-01-31",
    )
    assert hopper["cf.remark"] == 'line one\nline, two "quoted"' and hopper["tags"] == tag
    assert rows[0]["tags"] == f"{tag}; vip" and rows[0]["cf.tier"] == "" and rows[0]["cf.budget"] == "7"
    assert rows[2]["phone"] == "'+44 20 7946 0958"  # a leading + could start a formula
    assert rows[0]["createdAt"] == listed[0]["createdAt"] and "T" in rows[0]["createdAt"]

    header, xrows = _export(client, admin, "contacts", "xlsx", **query)
    assert header[-6:] == ["cf.tier", "cf.regions", "cf.budget", "cf.renewal", "cf.vip", "cf.remark"]
    _same_as_xlsx(listed, header, xrows)
    assert xrows[0]["leadScore"] == 90 and xrows[1]["cf.budget"] == 1250.5
    assert {c["id"] for c in made} >= {r["id"] for r in rows}


def test_fields_selects_the_columns(client, xworld):
    admin = xworld.headers["admin"]
    tag = secrets.token_hex(4)
    contact = _contact(client, admin, tags=[tag], email="grace@example.com", customFields={"tier": "silver"})
    header, rows = _export(client, admin, "contacts", tags=tag, fields="email,cf.tier,lastName")
    assert header == ["id", "lastName", "email", "cf.tier"]
    assert rows == [
        {"id": contact["id"], "lastName": contact["lastName"], "email": "grace@example.com", "cf.tier": "silver"}
    ]
    header, _ = _export(client, admin, "contacts", "xlsx", tags=tag, fields="customFields,leadScore")
    assert header == ["id", "leadScore", "cf.tier", "cf.regions", "cf.budget", "cf.renewal", "cf.vip", "cf.remark"]


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"mood": "happy"}, "mood"),
        ({"sort": "-vibe"}, "vibe"),
        ({"fields": "email,shoeSize"}, "shoeSize"),
        ({"leadScore[gte]": "lots"}, "leadScore"),
        ({"cf.nothing": "x"}, "cf.nothing"),
        ({"leadScore[isnull]": "maybe"}, "leadScore[isnull]"),
        ({"firstName": "nul\x00"}, "firstName"),
    ],
)
def test_a_bad_query_is_a_400_envelope_before_any_byte(client, xworld, file_format, params, named):
    resp = client.get(
        f"{API}/contacts/export", params={"format": file_format, **params}, headers=xworld.headers["admin"]
    )
    error = assert_error(resp, 400, "VALIDATION_ERROR")
    assert named in {d["field"] for d in error["details"]}
    assert resp.headers["content-type"] == "application/json"
    assert "content-disposition" not in resp.headers


def test_an_unknown_format_is_400(client, xworld):
    resp = client.get(f"{API}/contacts/export", params={"format": "pdf"}, headers=xworld.headers["admin"])
    assert assert_error(resp, 400, "VALIDATION_ERROR")["details"][0]["field"] == "format"


def test_download_headers_and_page_parameters_are_ignored(client, xworld):
    admin = xworld.headers["admin"]
    tag = secrets.token_hex(4)
    for _ in range(3):
        _contact(client, admin, tags=[tag])
    for file_format, extension in [("csv", "csv"), ("xlsx", "xlsx")]:
        resp = client.get(
            f"{API}/contacts/export",
            params={"format": file_format, "tags": tag, "page": "2", "limit": "1", "cursor": "junk"},
            headers=admin,
        )
        assert resp.status_code == 200
        disposition = resp.headers["content-disposition"]
        assert disposition.startswith('attachment; filename="contacts-') and disposition.endswith(f'.{extension}"')
        assert resp.headers["cache-control"] == "no-store"
        assert "x-ratelimit-remaining" in resp.headers and "x-request-id" in resp.headers
        rows = _csv(resp)[1] if file_format == "csv" else _xlsx(resp)[1]
        assert len(rows) == 3


def test_formula_injection_is_neutralised_in_both_formats(client, xworld):
    admin = xworld.headers["admin"]
    tag = secrets.token_hex(4)
    evil = {
        "firstName": '=HYPERLINK("http://evil.example","click")',
        "lastName": "+SUM(1+1)",
        "company": "-2+3+cmd|' /C calc'!A0",
        "title": "@SUM(A1:A9)",
        "addressCity": "Safe = fine",
    }
    contact = _contact(client, admin, tags=[tag], **evil)
    body = {"type": "note", "subject": "-1", "body": "\t=1+1", "contactId": contact["id"]}
    assert_success(client.post(f"{API}/activities", json=body, headers=admin), 201)
    body = {"type": "note", "subject": "fine", "body": "\r@cmd", "contactId": contact["id"]}
    assert_success(client.post(f"{API}/activities", json=body, headers=admin), 201)
    for file_format, line_break in (("csv", "\r"), ("xlsx", "\n")):  # XLSX cells break lines with LF
        _, rows = _export(client, admin, "contacts", file_format, tags=tag)
        assert {k: rows[0][k] for k in evil} == {k: v if k == "addressCity" else "'" + v for k, v in evil.items()}
        _, rows = _export(client, admin, "activities", file_format, contactId=contact["id"], sort="subject")
        assert [(r["subject"], r["body"]) for r in rows] == [("'-1", "'\t=1+1"), ("fine", f"'{line_break}@cmd")]
    resp = client.get(f"{API}/contacts/export", params={"format": "xlsx", "tags": tag}, headers=admin)
    book = openpyxl.load_workbook(io.BytesIO(resp.content))
    assert all(cell.data_type != "f" for row in book.worksheets[0].iter_rows() for cell in row)


def test_emoji_and_non_latin_text_is_intact(client, xworld):
    admin = xworld.headers["admin"]
    tag = secrets.token_hex(4)
    body = {
        "firstName": "Zoë 🚀",
        "lastName": "李小龍",
        "company": "Ελληνική Εταιρεία",
        "title": "Инженер",
        "notes": "مرحبا بالعالم — ☃ \U0001f9d1\u200d\U0001f4bb",
        "addressCity": "Zürich",
    }
    _contact(client, admin, tags=[tag, "🔥"], **body)
    for file_format in ("csv", "xlsx"):
        _, rows = _export(client, admin, "contacts", file_format, tags=tag)
        assert {k: rows[0][k] for k in body} == body
        assert rows[0]["tags"] == f"{tag}; 🔥"


def test_other_tenants_rows_never_appear(client, rworlds, xworld):
    for headers, foreign in [
        (rworlds.headers["admin"], rworlds.away_ids),
        (rworlds.away_headers, rworlds.ids),
    ]:
        for record, kind in [("contacts", "contact"), ("accounts", "account"), ("deals", "deal")]:
            _, rows = _export(client, headers, record)
            assert str(foreign[kind]) not in {r["id"] for r in rows}
    for record, kind in [("activities", "activity"), ("tasks", "task"), ("notes", "note")]:
        _, rows = _export(client, rworlds.headers["admin"], record)
        assert str(rworlds.away_ids[kind]) not in {r["id"] for r in rows}
        assert all("Away" not in value for r in rows for value in r.values())
    header, rows = _export(client, xworld.headers["admin"], "contacts", fields="id")
    assert "cf.away_field" not in header and str(rworlds.away_ids["contact"]) not in {r["id"] for r in rows}


def test_a_rep_with_own_scope_exports_only_own_contacts(client, rworlds: RecordWorlds):
    tag = secrets.token_hex(4)
    mine = _contact(client, rworlds.headers["rep"], tags=[tag])["id"]
    _contact(client, rworlds.headers["other_rep"], tags=[tag])
    _contact(client, rworlds.headers["manager"], tags=[tag])
    _, rows = _export(client, rworlds.headers["rep"], "contacts", tags=tag)
    assert [r["id"] for r in rows] == [mine]
    _, rows = _export(client, rworlds.headers["admin"], "contacts", "xlsx", tags=tag)
    assert len(rows) == 3


def test_an_analyst_exports_every_record_type(client, xworld):
    for record in RECORDS:
        resp = client.get(f"{API}/{record}/export", headers=xworld.headers["analyst"])
        assert resp.status_code == 200, (record, resp.text)


def _events(tenant_id) -> list[dict[str, Any]]:
    with owner_engine().connect() as conn:
        return [
            {"type": row.type, "actor": row.actor_user_id, **row.payload}
            for row in conn.execute(
                text(
                    "SELECT type, actor_user_id, payload FROM events WHERE tenant_id = :t AND type LIKE '%.exported'"
                    " ORDER BY created_at, id"
                ),
                {"t": tenant_id},
            )
        ]


def test_an_export_is_recorded_with_its_row_count(client, xworld):
    admin = xworld.headers["admin"]
    tag = secrets.token_hex(4)
    for _ in range(2):
        _contact(client, admin, tags=[tag])
    before = len(_events(xworld.tenant.tenant_id))
    _export(client, admin, "contacts", "xlsx", tags=tag)
    _export(client, admin, "contacts", tags="nothing-has-this-tag")
    recorded = _events(xworld.tenant.tenant_id)[before:]
    assert recorded == [
        {
            "type": "contact.exported",
            "actor": xworld.users["admin"],
            "format": "xlsx",
            "rows": 2,
            "complete": True,
            "query": {"tags": [tag]},
        },
        {
            "type": "contact.exported",
            "actor": xworld.users["admin"],
            "format": "csv",
            "rows": 0,
            "complete": True,
            "query": {"tags": ["nothing-has-this-tag"]},
        },
    ]


def test_an_export_of_more_than_a_batch_is_complete_and_ordered(client, xworld):
    tag = secrets.token_hex(4)
    names = [f"N{n:05d}" for n in range(2345)]
    shuffled = random.sample(names, len(names))
    with unit_of_work(xworld.admin) as session:
        session.add_all(
            Contact(
                id=new_id(),
                tenant_id=xworld.tenant.tenant_id,
                owner_id=xworld.users["rep"],
                first_name="Bulk",
                last_name=name,
                tags=[tag],
            )
            for name in shuffled
        )
    admin = xworld.headers["admin"]
    _, rows = _export(client, admin, "contacts", tags=tag, sort="lastName", fields="lastName")
    assert [r["lastName"] for r in rows] == names
    _, rows = _export(client, admin, "contacts", tags=tag, sort="-lastName", fields="lastName")
    assert [r["lastName"] for r in rows] == names[::-1]
    _, rows = _export(client, admin, "contacts", tags=tag, fields="id")  # one created_at: ties broken by id
    assert [r["id"] for r in rows] == sorted(r["id"] for r in rows) and len({r["id"] for r in rows}) == 2345
    _, xrows = _export(client, admin, "contacts", "xlsx", tags=tag, sort="lastName", fields="lastName,firstName")
    assert [r["lastName"] for r in xrows] == names
    _, rows = _export(client, xworld.headers["rep"], "contacts", tags=tag, sort="lastName", fields="lastName")
    assert len(rows) == 2345


# The other record types: the export is their list, whole.


def test_accounts_and_deals_export_as_listed(client, rworlds):
    admin = rworlds.headers["admin"]
    tag = secrets.token_hex(4)
    for name, revenue in [("Zeta", "1000000.50"), ("Alpha", None), ("Mu", "20")]:
        body = {"name": name, "tags": [tag], "annualRevenue": revenue}
        account = assert_success(client.post(f"{API}/accounts", json=body, headers=admin), 201)
        deal = {"name": f"{name} deal", "amount": "12500.00", "accountId": account["id"], "tags": [tag]}
        assert_success(client.post(f"{API}/deals", json=deal, headers=admin), 201)
    for record, sort in [("accounts", "name"), ("deals", "-name")]:
        listed = _listed(client, admin, record, tags=tag, sort=sort)
        assert len(listed) == 3
        header, rows = _export(client, admin, record, tags=tag, sort=sort)
        _same_as_csv(listed, header, rows)
        header, xrows = _export(client, admin, record, "xlsx", tags=tag, sort=sort)
        _same_as_xlsx(listed, header, xrows)
    header, rows = _export(client, admin, "deals", tags=tag, sort="stageName,name", fields="name,stageName,amount")
    assert header == ["id", "name", "amount", "stageName"] and rows[0]["amount"] == "12500.00"


def test_activities_tasks_and_notes_export_as_listed(client, rworlds):
    admin = rworlds.headers["admin"]
    contact = str(rworlds.contact())
    for i, kind in enumerate(["call", "email", "meeting"]):
        body = {"type": kind, "subject": f"S{i}", "contactId": contact, "occurredAt": f"2026-05-0{i + 1}T10:00:00Z"}
        assert_success(client.post(f"{API}/activities", json=body, headers=admin), 201)
        body = {"title": f"T{i}", "contactId": contact, "dueAt": f"2026-06-0{3 - i}T10:00:00Z", "status": "open"}
        assert_success(client.post(f"{API}/tasks", json=body, headers=admin), 201)
        body = {"body": f"=note {i}", "isPinned": i == 1}
        assert_success(client.post(f"{API}/contacts/{contact}/notes", json=body, headers=admin), 201)
    for record, path in [("activities", "activities"), ("tasks", "tasks")]:
        listed = _listed(client, admin, path, contactId=contact)
        assert len(listed) == 3
        header, rows = _export(client, admin, record, contactId=contact)
        _same_as_csv(listed, header, rows)
        header, xrows = _export(client, admin, record, "xlsx", contactId=contact)
        _same_as_xlsx(listed, header, xrows)
    assert [r["title"] for r in _export(client, admin, "tasks", contactId=contact)[1]] == ["T2", "T1", "T0"]

    listed = _listed(client, admin, f"contacts/{contact}/notes")
    header, rows = _export(client, admin, "notes", entityType="contacts", entityId=contact)
    _same_as_csv(listed, header, rows)
    assert [r["body"] for r in rows] == ["'=note 1", "'=note 2", "'=note 0"]  # pinned first, then newest
    header, xrows = _export(client, admin, "notes", "xlsx", entityType="contacts", entityId=contact)
    _same_as_xlsx(listed, header, xrows)
    # Notes follow their record: another team's rep cannot read the contact, so exports none of its notes.
    _, rows = _export(client, rworlds.headers["admin"], "notes", entityId=contact)
    assert len(rows) == 3
    other = login_headers(client, *_user(rworlds, "manager"))
    assert _export(client, other, "notes", entityId=contact)[1] == []


def _user(rworlds: RecordWorlds, role: str) -> tuple[str, str, str]:
    """A fresh user of `role` in a team of its own in `home` (to see no one else's records)."""
    from core.users import service as users
    from core.users.schemas import TeamCreate

    with unit_of_work(rworlds.home.admin) as session:
        team = users.create_team(session, rworlds.home.admin, TeamCreate(name=f"Team {secrets.token_hex(3)}")).id
    email = f"{role}-{secrets.token_hex(3)}@{rworlds.home.slug}.example.com"
    rworlds.home.add_user(role, team_id=team, email=email)
    return email, rworlds.home.slug, PASSWORD
