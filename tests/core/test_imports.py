"""CSV/XLSX imports on the real PostgreSQL, run by the real job queue (`drain`): mapping of our own, HubSpot's and
Salesforce's headers, custom fields, duplicate policies, per-row errors next to good rows, resuming after a
worker dies, encodings and delimiters, and files refused with nothing stored."""

from __future__ import annotations

import csv
import gc
import io
import sys
import time
import zipfile
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from openpyxl import Workbook

from core.accounts import service as accounts
from core.accounts.schemas import AccountCreate
from core.actor import Actor
from core.config import reset_settings
from core.contacts import service as contacts
from core.contacts.schemas import ContactCreate
from core.custom_fields import service as custom_fields
from core.custom_fields.schemas import CustomFieldCreate
from core.db import unit_of_work
from core.errors import PermissionDenied, ValidationFailed
from core.imports import batch as import_batch
from core.imports import reader
from core.imports import service as imports
from core.imports import tasks as import_tasks  # registers the job handler
from core.imports.models import Import
from core.imports.schemas import ImportOptions
from core.jobs import queue, registry
from core.jobs import service as jobs
from tests.core.conftest import owner_execute, owner_rows
from tests.factories import TenantWorld

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "imports"


# Helpers ---------------------------------------------------------------------------------------------------


def fixture(name: str, **replacements: str) -> bytes:
    data = (FIXTURES / name).read_bytes()
    for key, value in replacements.items():
        data = data.replace(f"{{{key}}}".encode(), value.encode())
    return data


def to_csv(rows: list[list[Any]], delimiter: str = ",") -> str:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return out.getvalue()


def start(
    actor: Actor,
    data: bytes | str,
    entity: str = "contacts",
    policy: str = "skip",
    mapping: dict[str, str | None] | None = None,
    file_name: str = "upload.csv",
) -> Import:
    raw = data.encode() if isinstance(data, str) else data
    options = ImportOptions(entity_type=entity, duplicate_policy=policy, mapping=mapping)
    with unit_of_work(actor) as session:
        return imports.create(session, actor, raw, options, file_name=file_name)


def finished(world: TenantWorld, import_id: UUID, seconds: float = 60) -> dict[str, Any]:
    """Run the queue, then the import as its API shows it (camelCase)."""
    assert queue.drain(seconds) == 0
    return read(world, import_id)


def read(world: TenantWorld, import_id: UUID) -> dict[str, Any]:
    admin = world.admin
    with unit_of_work(admin) as session:
        return imports.to_read(session, imports.get(session, admin, import_id)).model_dump(mode="json", by_alias=True)


def import_rows(world: TenantWorld, import_id: UUID, outcome: str = "failed") -> list[dict[str, Any]]:
    admin = world.admin
    with unit_of_work(admin) as session:
        rows, _ = imports.list_rows(session, admin, import_id, outcome=outcome, limit=100)
        return [r.model_dump(mode="json", by_alias=True) for r in rows]


def contacts_of(world: TenantWorld) -> dict[str, dict[str, Any]]:
    """The tenant's live contacts by email (or name when without), as the API reads them."""
    admin = world.admin
    with unit_of_work(admin) as session:
        page = contacts.list_contacts(session, admin, {"limit": ["100"]})
        found = {}
        for item in page.items:
            found[item["email"] or f"{item['firstName']} {item['lastName']}"] = item
        return found


def accounts_of(world: TenantWorld) -> dict[str, dict[str, Any]]:
    admin = world.admin
    with unit_of_work(admin) as session:
        return {a["name"]: a for a in accounts.list_accounts(session, admin, {"limit": ["100"]}).items}


def count(sql: str, **params: Any) -> int:
    return owner_rows(sql, **params)[0][0]


def stored_nothing(world: TenantWorld) -> bool:
    t = world.tenant_id
    return (
        count("SELECT count(*) FROM imports WHERE tenant_id = :t", t=t) == 0
        and count("SELECT count(*) FROM import_files WHERE tenant_id = :t", t=t) == 0
        and count("SELECT count(*) FROM jobs WHERE tenant_id = :t AND kind = 'imports.run'", t=t) == 0
    )


def add_field(world: TenantWorld, entity: str = "contacts", **fields: Any) -> None:
    admin = world.admin
    with unit_of_work(admin) as session:
        custom_fields.create(session, admin, CustomFieldCreate(entity_type=entity, **fields))


# Mapping HubSpot, Salesforce and our own headers ------------------------------------------------------------


def test_a_hubspot_contacts_export_maps_translates_and_imports(tenant):
    admin = tenant.admin
    record = start(admin, fixture("hubspot_contacts.csv", owner=tenant.admin_email.upper()), file_name="hubspot.csv")
    assert (record.status, record.total_rows, record.file_format, record.encoding, record.delimiter) == (
        "queued",
        4,
        "csv",
        "utf-8",
        ",",
    )
    mapped = {c["header"]: c["field"] for c in record.columns}
    assert mapped == {
        "First Name": "firstName",
        "Last Name": "lastName",
        "Email": "email",
        "Company Name": "company",
        "Phone Number": "phone",
        "Mobile Phone Number": "mobile",
        "Job Title": "title",
        "Lifecycle Stage": "lifecycleStage",
        "Lead Status": "leadStatus",
        "Contact owner": "ownerId",
        "City": "addressCity",
        "State/Region": "addressState",
        "Postal Code": "addressPostalCode",
        "Country/Region": "addressCountry",
        "Street Address": "addressStreet",
        "LinkedIn": "socialLinkedin",
        "Twitter Username": "socialTwitter",
        "Original Source": "leadSource",
    }
    assert record.unmapped == ["Record ID", "Create Date", "Favorite Color"]

    done = finished(tenant, record.id)
    assert done["status"] == "completed", done
    assert done["counts"] == {"created": 4, "updated": 0, "skipped": 0, "failed": 0}
    assert done["progress"] == {"done": 4, "total": 4, "percent": 100}
    assert done["startedAt"] and done["finishedAt"] and done["fileName"] == "hubspot.csv"
    found = contacts_of(tenant)
    ada = found["ada@analytical.example"]
    assert (ada["firstName"], ada["lastName"], ada["company"], ada["title"]) == (
        "Ada",
        "Lovelace",
        "Analytical Engines",
        "Countess",
    )
    assert (ada["lifecycleStage"], ada["leadStatus"], ada["ownerId"]) == ("mql", "contacted", str(tenant.admin_id))
    assert (ada["addressStreet"], ada["addressCity"], ada["addressState"]) == (
        "12 St James's Square",
        "London",
        "Greater London",
    )
    assert (ada["addressPostalCode"], ada["addressCountry"], ada["leadSource"]) == (
        "W1A 1AA",
        "United Kingdom",
        "Organic Search",
    )
    assert (ada["phone"], ada["mobile"], ada["socialLinkedin"], ada["socialTwitter"]) == (
        "+44 20 7946 0001",
        "+44 7700 900001",
        "https://linkedin.com/in/ada",
        "@ada",
    )
    stages = {e: (c["lifecycleStage"], c["leadStatus"]) for e, c in found.items()}
    assert stages == {
        "ada@analytical.example": ("mql", "contacted"),
        "grace@navy.example": ("sql", "contacted"),
        "alan@bletchley.example": ("customer", "unqualified"),
        "katherine@nasa.example": ("subscriber", "new"),
    }
    # the stored file is gone once the import finished; the job succeeded with the same counts
    assert count("SELECT count(*) FROM import_files WHERE import_id = :i", i=record.id) == 0
    job = owner_rows("SELECT status, progress, result FROM jobs WHERE id = :j", j=record.job_id)[0]
    assert (job.status, job.progress, job.result["created"]) == ("succeeded", 100, 4)


def test_a_salesforce_contacts_export_maps_translates_and_imports(tenant):
    admin = tenant.admin
    record = start(admin, fixture("salesforce_contacts.csv", owner=str(tenant.admin_id)))
    assert {c["header"]: c["field"] for c in record.columns} == {
        "FirstName": "firstName",
        "LastName": "lastName",
        "Email": "email",
        "Account Name": "company",
        "Title": "title",
        "Department": "department",
        "Lead Source": "leadSource",
        "Phone": "phone",
        "MobilePhone": "mobile",
        "MailingStreet": "addressStreet",
        "MailingCity": "addressCity",
        "MailingState": "addressState",
        "MailingPostalCode": "addressPostalCode",
        "MailingCountry": "addressCountry",
        "Status": "leadStatus",
        "Rating": "leadScore",
        "OwnerId": "ownerId",
    }
    assert record.unmapped == ["Id"]
    done = finished(tenant, record.id)
    assert done["counts"]["created"] == 4, import_rows(tenant, record.id)
    found = contacts_of(tenant)
    marie = found["marie@sorbonne.example"]
    assert marie["addressStreet"] == "1 Rue Victor Cousin\nBâtiment B"  # a quoted line break stays in its cell
    assert (marie["addressState"], marie["department"], marie["company"]) == ("Île-de-France", "Physics", "Sorbonne")
    assert {e: (c["leadStatus"], c["leadScore"]) for e, c in found.items()} == {
        "marie@sorbonne.example": ("new", 90),
        "niels@nbi.example": ("contacted", 60),
        "lise@kwi.example": ("qualified", 30),
        "max@kwi.example": ("unqualified", 0),
    }


def test_hubspot_and_salesforce_company_exports_import_as_accounts(tenant):
    admin = tenant.admin
    hubspot = start(admin, fixture("hubspot_companies.csv"), entity="accounts")
    assert hubspot.unmapped == ["Record ID"]
    salesforce = start(admin, fixture("salesforce_accounts.csv", owner=tenant.admin_email), entity="accounts")
    assert salesforce.unmapped == ["Id", "Type"]
    finished(tenant, hubspot.id)
    done = read(tenant, salesforce.id)
    assert done["counts"] == {"created": 2, "updated": 0, "skipped": 0, "failed": 0}, import_rows(tenant, salesforce.id)
    found = accounts_of(tenant)
    engines = found["Analytical Engines Ltd"]
    assert (engines["website"], engines["domain"], engines["companySize"], engines["annualRevenue"]) == (
        "analytical.example",
        "analytical.example",
        "201-500",
        "1200000.50",
    )
    assert (found["Navy Labs"]["domain"], found["Navy Labs"]["companySize"]) == ("navylabs.example", "500+")
    assert (found["Tiny Co"]["domain"], found["Tiny Co"]["companySize"]) == (None, "1-10")
    sorbonne = found["Sorbonne Université"]
    assert (sorbonne["domain"], sorbonne["addressStreet"], sorbonne["ownerId"]) == (
        "sorbonne.example",
        "21 Rue de l'École de Médecine",
        str(tenant.admin_id),
    )
    assert found["Niels Bohr Institute"]["annualRevenue"] == "25000000.00"
    events = owner_rows(
        "SELECT entity_id, payload FROM events WHERE tenant_id = :t AND type = 'account.created'", t=tenant.tenant_id
    )
    assert {str(e.entity_id) for e in events} == {a["id"] for a in found.values()}
    assert {e.payload["record"]["name"] for e in events} == set(found)


def test_our_own_export_headers_round_trip_with_custom_fields(tenant):
    """A file with our API field names as headers (what the exports write) imports into the same values."""
    add_field(tenant, field_name="tier", field_label="Tier", field_type="select", field_options=["Gold", "Silver"])
    add_field(tenant, field_name="seats", field_label="Seats", field_type="number")
    add_field(tenant, field_name="renewal", field_label="Renewal", field_type="date")
    add_field(tenant, field_name="vip", field_label="VIP", field_type="boolean")
    add_field(
        tenant, field_name="regions", field_label="Regions", field_type="multi_select", field_options=["EU", "US"]
    )
    admin = tenant.admin
    rep_id = tenant.add_user("rep")
    with unit_of_work(admin) as session:
        account_id = accounts.create(session, admin, AccountCreate(name="Nordic AB")).id
        original = contacts.create(
            session,
            admin,
            ContactCreate(
                first_name="Zoë 🚀",
                last_name="Ångström-李",
                email="zoe@example.com",
                phone="+46 8 123 456",
                title="CTO",
                lead_status="qualified",
                lifecycle_stage="opportunity",
                lead_score=77,
                tags=["vip", "nordics"],
                address_city="Göteborg",
                notes="Line one\nLine two, with a comma",
                is_active=False,
                owner_id=rep_id,
                account_id=account_id,
                custom_fields={
                    "tier": "Gold",
                    "seats": 12.5,
                    "renewal": "2027-03-01",
                    "vip": True,
                    "regions": ["EU", "US"],
                },
            ),
        ).id
    source = contacts_of(tenant)["zoe@example.com"]
    headers = [h for h in contacts.SPECS if h != "customFields"]
    headers += ["cf.tier", "cf.seats", "cf.renewal", "cf.vip", "cf.regions"]
    cells = []
    for h in headers:  # as the exports write them: lists joined with "; ", formula triggers neutralised
        value = source["customFields"][h[3:]] if h.startswith("cf.") else source.get(h)
        if isinstance(value, list):
            value = "; ".join(value)
        text = "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
        cells.append("'" + text if text.startswith(("=", "+", "-", "@")) else text)
    assert cells[headers.index("phone")] == "'+46 8 123 456"
    with unit_of_work(admin) as session:
        contacts.delete(session, admin, original)
    record = start(admin, to_csv([headers, cells]))
    assert record.unmapped == ["id", "lastContactedAt", "createdAt", "updatedAt", "version"]
    done = finished(tenant, record.id)
    assert done["counts"]["created"] == 1, import_rows(tenant, record.id)
    copy = contacts_of(tenant)["zoe@example.com"]
    assert copy["id"] != source["id"]
    ignored = {"id", "createdAt", "updatedAt"}
    assert {k: v for k, v in copy.items() if k not in ignored} == {k: v for k, v in source.items() if k not in ignored}
    assert (copy["ownerId"], copy["accountId"]) == (str(rep_id), str(account_id))
    assert copy["customFields"] == {
        "tier": "Gold",
        "seats": 12.5,
        "renewal": "2027-03-01",
        "vip": True,
        "regions": ["EU", "US"],
    }


# Custom fields, per-row errors ----------------------------------------------------------------------------


def test_custom_fields_map_by_name_or_label_and_each_type_is_validated_per_row(tenant):
    add_field(
        tenant, field_name="tier", field_label="Customer Tier", field_type="select", field_options=["Gold", "Silver"]
    )
    add_field(tenant, field_name="seats", field_label="Seats", field_type="number")
    add_field(tenant, field_name="renewal", field_label="Renewal date", field_type="date")
    add_field(tenant, field_name="vip", field_label="VIP", field_type="boolean")
    add_field(tenant, field_name="region", field_label="Region", field_type="text", is_required=True)
    rows = [
        ["First Name", "Last Name", "Email", "Customer Tier", "seats", "Renewal Date", "vip", "cf.region"],
        ["Good", "One", "good1@example.com", "gold", "$1,250", "2027-01-31", "yes", "EMEA"],  # row 2
        ["Bad", "Tier", "bad1@example.com", "Platinum", "3", "2027-01-31", "no", "EMEA"],  # row 3
        ["Bad", "Seats", "bad2@example.com", "Gold", "lots", "", "", "EMEA"],  # row 4
        ["Bad", "Date", "bad3@example.com", "Gold", "1", "31/01/2027", "", "EMEA"],  # row 5
        ["Bad", "Flag", "bad4@example.com", "", "", "", "maybe", "EMEA"],  # row 6
        ["No", "Region", "bad5@example.com", "", "", "", "", ""],  # row 7
        ["Good", "Two", "good2@example.com", "", "", "", "", "APAC"],  # row 8
    ]
    record = start(tenant.admin, to_csv(rows))
    assert {(c["header"], c["field"]) for c in record.columns} >= {
        ("Customer Tier", "cf.tier"),
        ("seats", "cf.seats"),
        ("Renewal Date", "cf.renewal"),
        ("vip", "cf.vip"),
        ("cf.region", "cf.region"),
    }
    done = finished(tenant, record.id)
    assert done["counts"] == {"created": 2, "updated": 0, "skipped": 0, "failed": 5}
    errors = {(e["row"], e["field"]): e["message"] for e in import_rows(tenant, record.id)}
    assert errors == {
        (3, "cf.tier"): "must be one of: Gold, Silver",
        (4, "cf.seats"): "must be a number",
        (5, "cf.renewal"): "must be a date (YYYY-MM-DD)",
        (6, "cf.vip"): "must be true or false",
        (7, "cf.region"): "required",
    }
    found = contacts_of(tenant)
    assert found["good1@example.com"]["customFields"] == {
        "tier": "Gold",
        "seats": 1250,
        "renewal": "2027-01-31",
        "vip": True,
        "region": "EMEA",
    }
    assert found["good2@example.com"]["customFields"] == {"region": "APAC"}
    assert not any(email.startswith("bad") for email in found)
    # each failed row is all-or-nothing: no orphan custom values
    assert (
        count(
            "SELECT count(*) FROM custom_field_values v LEFT JOIN contacts c ON c.id = v.entity_id"
            " WHERE v.tenant_id = :t AND c.id IS NULL",
            t=tenant.tenant_id,
        )
        == 0
    )


def test_bad_rows_next_to_good_rows_are_reported_with_row_field_message_and_values(tenant):
    rows = [
        ["firstName", "lastName", "email", "leadScore", "leadStatus", "ownerId", "Notes to self"],
        ["Ana", "Good", "ana@example.com", "42", "qualified", "", "x"],  # 2
        ["Bob", "Score", "bob@example.com", "abc", "", "", ""],  # 3
        ["Cy", "Mail", "not-an-email", "", "", "", ""],  # 4
        ["", "", "", "", "", "", ""],  # 5: blank, ignored
        ["Dee", "", "dee@example.com", "", "", "", ""],  # 6: last name missing
        ["Eve", "Status", "eve@example.com", "", "sleeping", "", ""],  # 7
        ["Fay", "Owner", "fay@example.com", "", "", "nobody@nowhere.example", ""],  # 8
        ["Gus", "Range", "gus@example.com", "101", "", "", ""],  # 9
        ["Hal", "Good", "hal@example.com", "7.0", "", "", ""],  # 10
    ]
    record = start(tenant.admin, to_csv(rows))
    assert record.total_rows == 8 and record.unmapped == ["Notes to self"]
    done = finished(tenant, record.id)
    assert done["counts"] == {"created": 2, "updated": 0, "skipped": 0, "failed": 6}
    errors = import_rows(tenant, record.id)
    by_row = {e["row"]: e for e in errors}
    assert sorted(by_row) == [3, 4, 6, 7, 8, 9]
    assert by_row[3]["field"] == "leadScore" and "integer" in by_row[3]["message"]
    assert by_row[3]["column"] == "leadScore"
    assert by_row[3]["values"] == {
        "firstName": "Bob",
        "lastName": "Score",
        "email": "bob@example.com",
        "leadScore": "abc",
        "leadStatus": "",
        "ownerId": "",
        "Notes to self": "",
    }
    assert by_row[4]["field"] == "email" and "email" in by_row[4]["message"]
    assert (by_row[6]["field"], by_row[6]["message"]) == ("lastName", "required")
    assert by_row[7]["field"] == "leadStatus" and "'new'" in by_row[7]["message"]
    assert by_row[8]["field"] == "ownerId" and "nobody@nowhere.example" in by_row[8]["message"]
    assert by_row[9]["field"] == "leadScore" and "100" in by_row[9]["message"]
    found = contacts_of(tenant)
    assert set(found) == {"ana@example.com", "hal@example.com"}
    assert (found["ana@example.com"]["leadScore"], found["hal@example.com"]["leadScore"]) == (42, 7)


def test_a_row_the_database_refuses_fails_alone_when_the_batch_is_retried_row_by_row(tenant, monkeypatch):
    """Should the multi-row INSERT fail, the batch is written again row by row: only the refused row fails."""
    original = import_batch.Batch._add

    def add(self, row, owner_id):  # noqa: ANN001, ANN202 - a row that slips past validation
        record_id = original(self, row, owner_id)
        if row.values.get("lastName") == "Refused":
            self.pending[-1].record["lead_score"] = 500  # the database's check constraint refuses it
        return record_id

    monkeypatch.setattr(import_batch.Batch, "_add", add)
    rows = [["First Name", "Last Name", "Email"]] + [
        [f"P{i}", "Refused" if i == 3 else "Fine", f"p{i}@example.com"] for i in range(6)
    ]
    record = start(tenant.admin, to_csv(rows))
    done = finished(tenant, record.id)
    assert done["counts"] == {"created": 5, "updated": 0, "skipped": 0, "failed": 1}
    [error] = import_rows(tenant, record.id)
    assert error["row"] == 5 and "ck_contacts_lead_score" in error["message"]
    assert "p3@example.com" not in contacts_of(tenant)
    events = count("SELECT count(*) FROM events WHERE tenant_id = :t AND type = 'contact.created'", t=tenant.tenant_id)
    assert events == 5


# Duplicates -------------------------------------------------------------------------------------------------


def _existing_contact(world: TenantWorld, **fields: Any) -> UUID:
    admin = world.admin
    with unit_of_work(admin) as session:
        return contacts.create(
            session, admin, ContactCreate(**{"first_name": "Old", "last_name": "Timer", **fields})
        ).id


def test_duplicate_policy_skip_reports_the_existing_record_for_live_contacts_and_earlier_rows(tenant):
    existing = _existing_contact(tenant, email="dup@example.com", title="Keep me")
    deleted = _existing_contact(tenant, email="gone@example.com")
    with unit_of_work(tenant.admin) as session:
        contacts.delete(session, tenant.admin, deleted)
    rows = [
        ["Email", "First Name", "Last Name", "Job Title"],
        ["DUP@example.com", "New", "Name", "Replaced?"],  # 2: skipped (existing, case-insensitive)
        ["gone@example.com", "Back", "Again", ""],  # 3: the other one was deleted: created
        ["fresh@example.com", "Fresh", "One", ""],  # 4: created
        ["Fresh@Example.com", "Fresh", "Twice", ""],  # 5: skipped (row 4)
    ]
    record = start(tenant.admin, to_csv(rows))
    done = finished(tenant, record.id)
    assert done["counts"] == {"created": 2, "updated": 0, "skipped": 2, "failed": 0}
    found = contacts_of(tenant)
    assert found["dup@example.com"]["title"] == "Keep me" and found["dup@example.com"]["firstName"] == "Old"
    skipped = import_rows(tenant, record.id, "skipped")
    assert [(s["row"], s["existingId"]) for s in skipped] == [
        (2, str(existing)),
        (5, found["fresh@example.com"]["id"]),
    ]
    assert skipped[0]["message"] == "A contact with the same email exists"


def test_duplicate_policy_update_applies_non_empty_values_through_the_update_path(tenant):
    add_field(tenant, field_name="tier", field_label="Tier", field_type="select", field_options=["Gold", "Silver"])
    existing = _existing_contact(tenant, email="dup@example.com", title="Keep me", phone="+1 555 0100", lead_score=5)
    rows = [
        ["Email", "First Name", "Last Name", "Job Title", "Phone", "Lead Score", "cf.tier"],
        ["dup@example.com", "", "", "", "+1 555 0199", "80", "Gold"],  # 2: update phone, score, tier
        ["new@example.com", "New", "Person", "", "", "", ""],  # 3: create
        ["new@example.com", "", "", "Engineer", "", "", "silver"],  # 4: updates the row-3 contact
        ["dup@example.com", "", "", "", "", "abc", ""],  # 5: invalid update
        ["nobody@example.com", "", "", "Ghost", "", "", ""],  # 6: not a duplicate and not a valid new contact
    ]
    record = start(tenant.admin, to_csv(rows), policy="update")
    done = finished(tenant, record.id)
    assert done["counts"] == {"created": 1, "updated": 2, "skipped": 0, "failed": 2}, import_rows(tenant, record.id)
    found = contacts_of(tenant)
    dup = found["dup@example.com"]
    assert (dup["id"], dup["firstName"], dup["title"], dup["phone"], dup["leadScore"]) == (
        str(existing),
        "Old",
        "Keep me",
        "+1 555 0199",
        80,
    )
    assert dup["customFields"] == {"tier": "Gold"} and dup["version"] == 2
    new = found["new@example.com"]
    assert (new["firstName"], new["title"], new["customFields"], new["version"]) == (
        "New",
        "Engineer",
        {"tier": "Silver"},
        2,
    )
    errors = {(e["row"], e["field"]) for e in import_rows(tenant, record.id)}
    assert (5, "leadScore") in errors and (6, "firstName") in errors and (6, "lastName") in errors
    updated_events = owner_rows(
        "SELECT entity_id, payload FROM events WHERE tenant_id = :t AND type = 'contact.updated'", t=tenant.tenant_id
    )
    assert {e.entity_id for e in updated_events} == {existing, UUID(new["id"])}
    assert any(set(e.payload["changed"]) == {"phone", "leadScore", "customFields"} for e in updated_events)


def test_duplicate_policy_create_creates_duplicates_anyway(tenant):
    _existing_contact(tenant, email="dup@example.com")
    rows = [["Email", "First Name", "Last Name"], ["dup@example.com", "A", "B"], ["dup@example.com", "C", "D"]]
    done = finished(tenant, start(tenant.admin, to_csv(rows), policy="create").id)
    assert done["counts"] == {"created": 2, "updated": 0, "skipped": 0, "failed": 0}
    assert (
        count("SELECT count(*) FROM contacts WHERE tenant_id = :t AND email = 'dup@example.com'", t=tenant.tenant_id)
        == 3
    )


def test_account_duplicates_are_found_by_domain_else_by_name(tenant):
    admin = tenant.admin
    with unit_of_work(admin) as session:
        by_domain = accounts.create(session, admin, AccountCreate(name="Acme Corp", website="https://acme.example")).id
        by_name = accounts.create(session, admin, AccountCreate(name="Globex")).id
    rows = [
        ["Name", "Website", "Industry"],
        ["ACME (new name)", "www.acme.example/about", "Rockets"],  # 2: same domain
        ["globex", "", "Energy"],  # 3: same name, any case
        ["Initech", "initech.example", "Software"],  # 4: new
        ["Initech Two", "https://initech.example", ""],  # 5: same domain as row 4
    ]
    record = start(admin, to_csv(rows), entity="accounts", policy="update")
    done = finished(tenant, record.id)
    assert done["counts"] == {"created": 1, "updated": 3, "skipped": 0, "failed": 0}, import_rows(tenant, record.id)
    found = accounts_of(tenant)
    assert found["ACME (new name)"]["id"] == str(by_domain) and found["ACME (new name)"]["industry"] == "Rockets"
    assert found["globex"]["id"] == str(by_name) and found["globex"]["industry"] == "Energy"
    assert set(found) == {"ACME (new name)", "globex", "Initech Two"}


# Resuming --------------------------------------------------------------------------------------------------


def _people(n: int, prefix: str) -> str:
    rows = [["First Name", "Last Name", "Email", "Lead Score"]]
    rows += [[f"Person{i}", f"{prefix}-{i}", f"{prefix}{i}@example.com", str(i % 100)] for i in range(n)]
    return to_csv(rows)


def test_an_import_that_dies_mid_batch_resumes_after_its_last_committed_batch_without_duplicates(tenant, monkeypatch):
    """The first attempt dies inside its third batch, after that batch's records were written but before it
    committed: the rerun starts at the checkpoint (the third batch), so every row exists exactly once."""
    monkeypatch.setattr(imports, "BATCH_ROWS", 10)
    monkeypatch.setitem(
        registry._handlers,
        imports.JOB_KIND,
        replace(registry._handlers[import_tasks.service.JOB_KIND], backoff_seconds=0.1),
    )
    rows_written = []
    original = imports._record

    def dying(session, actor, import_id, outcome):  # noqa: ANN001, ANN202
        rows_written.append(outcome.rows)
        if len(rows_written) == 3:
            raise RuntimeError("worker died")
        return original(session, actor, import_id, outcome)

    monkeypatch.setattr(imports, "_record", dying)
    record = start(tenant.admin, _people(35, "resume"))
    process = (gc.get_threshold(), sys.getswitchinterval())
    with pytest.raises(queue.AttemptFailed):  # the first attempt: two batches commit, the third dies
        queue.run_job(str(record.job_id), str(tenant.tenant_id))
    assert (gc.get_threshold(), sys.getswitchinterval()) == process  # the import's tuning is undone
    job = owner_rows("SELECT status, checkpoint, attempts FROM jobs WHERE id = :j", j=record.job_id)[0]
    assert (job.status, job.attempts, job.checkpoint["next_row"], job.checkpoint["done"]) == ("retrying", 1, 22, 20)
    assert count("SELECT count(*) FROM contacts WHERE tenant_id = :t", t=tenant.tenant_id) == 20
    assert read(tenant, record.id)["progress"]["done"] == 20

    done = finished(tenant, record.id)
    assert done["status"] == "completed" and done["counts"]["created"] == 35
    assert rows_written == [10, 10, 10, 10, 5]  # batch 3 ran twice; its first try left nothing
    emails = [r.email for r in owner_rows("SELECT email FROM contacts WHERE tenant_id = :t", t=tenant.tenant_id)]
    assert sorted(emails) == sorted(f"resume{i}@example.com" for i in range(35))
    events = count("SELECT count(*) FROM events WHERE tenant_id = :t AND type = 'contact.created'", t=tenant.tenant_id)
    assert events == 35


def _forget_reactions(world: TenantWorld) -> None:
    """Drop what the import's events would still make the queue do (one webhook fan-out job per event), so that
    later tests' drains do not run thousands of them."""
    owner_execute(
        "UPDATE events SET dispatched_at = now() WHERE tenant_id = :t AND dispatched_at IS NULL", t=world.tenant_id
    )
    owner_execute(
        "DELETE FROM procrastinate_jobs WHERE status = 'todo' AND args->>'tenant_id' = :t", t=str(world.tenant_id)
    )
    owner_execute("DELETE FROM jobs WHERE tenant_id = :t AND status = 'queued'", t=world.tenant_id)


@pytest.mark.slow
def test_a_worker_killed_mid_import_loses_nothing_and_the_rerun_repeats_nothing(tenant, start_worker):
    n = 10_000
    record = start(tenant.admin, _people(n, "killed"))
    try:
        first = start_worker("first")
        deadline = time.monotonic() + 120
        at_kill = None
        while time.monotonic() < deadline:
            rows = owner_rows("SELECT checkpoint FROM jobs WHERE id = :j", j=record.job_id)
            if rows and rows[0].checkpoint and rows[0].checkpoint.get("done", 0) >= 1000:
                first.kill()
                at_kill = owner_rows("SELECT checkpoint, status FROM jobs WHERE id = :j", j=record.job_id)[0]
                break
            time.sleep(0.02)
        assert at_kill is not None, first.log_tail()
        assert at_kill.status == "running" and at_kill.checkpoint["done"] < n, "the import finished before the kill"
        second = start_worker("second")
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if owner_rows("SELECT status FROM imports WHERE id = :i", i=record.id)[0].status == "completed":
                break
            time.sleep(0.2)
        done = read(tenant, record.id)
        assert done["status"] == "completed", (done, second.log_tail())
        assert done["counts"] == {"created": n, "updated": 0, "skipped": 0, "failed": 0}
        assert count("SELECT count(*) FROM contacts WHERE tenant_id = :t", t=tenant.tenant_id) == n
        assert count("SELECT count(DISTINCT email) FROM contacts WHERE tenant_id = :t", t=tenant.tenant_id) == n
        events = count(
            "SELECT count(*) FROM events WHERE tenant_id = :t AND type = 'contact.created'", t=tenant.tenant_id
        )
        assert events == n
        assert owner_rows("SELECT attempts FROM jobs WHERE id = :j", j=record.job_id)[0].attempts == 2
    finally:
        _forget_reactions(tenant)


# Encodings, delimiters, XLSX ---------------------------------------------------------------------------------

NAMES = [
    ["First Name", "Last Name", "Email"],
    ["José", "Müller", "jose@example.com"],
    ["Zoë", "Ångström", "zoe@example.com"],
    ["François", "Œuvre", "francois@example.com"],
]


@pytest.mark.parametrize(
    ("encoding", "delimiter", "detected", "bom"),
    [
        ("utf-8", ",", "utf-8", False),
        ("utf-8-sig", ";", "utf-8", True),
        ("utf-16", "\t", "utf-16", True),
        ("cp1252", ";", "cp1252", False),
        ("latin-1", "|", "cp1252", False),
    ],
)
def test_encodings_byte_order_marks_and_delimiters_are_detected(tenant, encoding, delimiter, detected, bom):
    rows = NAMES if encoding != "latin-1" else [[c.replace("Œ", "O") for c in r] for r in NAMES]
    record = start(tenant.admin, to_csv(rows, delimiter).encode(encoding))
    assert (record.encoding, record.has_bom, record.delimiter) == (detected, bom, delimiter)
    assert record.headers == ["First Name", "Last Name", "Email"]
    finished(tenant, record.id)
    found = contacts_of(tenant)
    assert {(c["firstName"], c["lastName"]) for c in found.values()} == {(r[0], r[1]) for r in rows[1:]}


def test_a_cp1252_semicolon_excel_export_imports_intact(tenant):
    record = start(tenant.admin, fixture("cp1252_semicolon.csv"))
    assert (record.encoding, record.delimiter) == ("cp1252", ";")
    finished(tenant, record.id)
    found = contacts_of(tenant)
    assert (found["jose@example.com"]["company"], found["jose@example.com"]["addressCity"]) == ("Café Œuvre", "München")
    assert found["francois@example.com"]["lastName"] == "Déjà-Vu"


def test_emoji_and_non_latin_names_are_stored_intact(tenant):
    rows = [
        ["First Name", "Last Name", "Email", "Company Name"],
        ["李", "小龙", "li@example.com", "北京公司"],
        ["Иван", "Петров", "ivan@example.com", "ООО Ромашка"],
        ["محمد", "العلي", "m@example.com", "شركة"],
        ["Zoë 🚀", "O'Brien 👩🏽‍💻", "zoe@example.com", "Ünïcödé ✓"],
    ]
    finished(tenant, start(tenant.admin, to_csv(rows)).id)
    found = contacts_of(tenant)
    assert {(c["firstName"], c["lastName"], c["company"]) for c in found.values()} == {
        tuple(r[:2] + r[3:]) for r in rows[1:]
    }


def _xlsx(rows: list[list[Any]]) -> bytes:
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_an_xlsx_is_read_from_its_first_sheet_with_numbers_and_dates_converted(tenant):
    add_field(tenant, field_name="renewal", field_label="Renewal", field_type="date")
    add_field(tenant, field_name="seats", field_label="Seats", field_type="number")
    add_field(tenant, field_name="vip", field_label="VIP", field_type="boolean")
    data = _xlsx(
        [
            ["First Name", "Last Name", "Email", "Phone Number", "Lead Score", "Renewal", "Seats", "VIP"],
            ["Ada", "Lovelace", "ada@example.com", 4155550100, 42, datetime(2027, 3, 1), 2.5, True],
            [None, None, None, None, None, None, None, None],
            ["Émile", "Zola 📚", "emile@example.com", "+33 1 23", 7.0, date(2027, 4, 2), 10, False],
        ]
    )
    record = start(tenant.admin, data, file_name="people.xlsx")
    assert (record.file_format, record.encoding, record.delimiter, record.total_rows) == ("xlsx", None, None, 2)
    done = finished(tenant, record.id)
    assert done["counts"]["created"] == 2, import_rows(tenant, record.id)
    found = contacts_of(tenant)
    ada, emile = found["ada@example.com"], found["emile@example.com"]
    assert (ada["phone"], ada["leadScore"], ada["customFields"]) == (
        "4155550100",
        42,
        {"renewal": "2027-03-01", "seats": 2.5, "vip": True},
    )
    assert (emile["lastName"], emile["leadScore"], emile["customFields"]) == (
        "Zola 📚",
        7,
        {"renewal": "2027-04-02", "seats": 10, "vip": False},
    )


# Files refused, nothing stored ---------------------------------------------------------------------------


def _zip_without_workbook() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("hello.txt", "not a workbook")
    return out.getvalue()


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "EMPTY_FILE"),
        (b"  \r\n\r\n ", "EMPTY_FILE"),
        (b"First Name,Last Name,Email\r\n", "NO_DATA_ROWS"),
        (b"First Name,Last Name,Email\r\n,,\r\n", "NO_DATA_ROWS"),
        (b"Colour,Shape\r\nred,round\r\n", "NO_RECOGNISED_COLUMNS"),
        (
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00\x00\x00\x01\x00\x08\x06\x00\x00\x00" * 20,
            "UNSUPPORTED_FILE",
        ),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512, "UNSUPPORTED_FILE"),
        (_zip_without_workbook(), "UNREADABLE_XLSX"),
        (b"PK\x03\x04 truncated", "UNREADABLE_XLSX"),
        (b"Email,Company Name\r\na@example.com,Acme\r\n", "REQUIRED_COLUMNS_MISSING"),
    ],
)
def test_files_that_cannot_be_imported_are_refused_and_nothing_is_stored(tenant, data, code):
    with pytest.raises(ValidationFailed) as refused:
        start(tenant.admin, data)
    assert refused.value.code == code, refused.value.message
    assert refused.value.message and refused.value.details[0]["field"]
    assert stored_nothing(tenant)


def test_an_xlsx_header_only_sheet_is_refused(tenant):
    with pytest.raises(ValidationFailed) as refused:
        start(tenant.admin, _xlsx([["First Name", "Last Name"]]))
    assert refused.value.code == "NO_DATA_ROWS"


def test_files_over_the_size_or_row_limit_are_refused(tenant, monkeypatch):
    monkeypatch.setenv("CLIENTFORGE_IMPORT_MAX_BYTES", "100")
    reset_settings()
    try:
        with pytest.raises(ValidationFailed) as too_big:
            start(tenant.admin, _people(10, "big"))
    finally:
        monkeypatch.delenv("CLIENTFORGE_IMPORT_MAX_BYTES")
        reset_settings()
    assert too_big.value.code == "FILE_TOO_LARGE" and "100 bytes" in too_big.value.message
    monkeypatch.setattr(reader, "MAX_ROWS", 3)
    with pytest.raises(ValidationFailed) as too_long:
        start(tenant.admin, _people(4, "long"))
    assert too_long.value.code == "TOO_MANY_ROWS" and "3" in too_long.value.message
    assert stored_nothing(tenant)


def test_an_invalid_mapping_is_refused_and_a_valid_one_overrides_the_suggestion(tenant):
    data = to_csv([["Given", "Family", "E-mail", "Email"], ["Ada", "Lovelace", "ada@x.example", "other@x.example"]])
    with pytest.raises(ValidationFailed) as unknown:
        start(tenant.admin, data, mapping={"Given": "nickname"})
    assert unknown.value.details == [
        {"field": "mapping.Given", "message": "unknown contacts field or custom field: nickname"}
    ]
    with pytest.raises(ValidationFailed) as missing:
        start(tenant.admin, data, mapping={"Surname": "lastName"})
    assert missing.value.details[0]["field"] == "mapping.Surname"
    with pytest.raises(ValidationFailed):
        start(tenant.admin, data, mapping={"Given": "firstName", "Family": "firstName"})
    assert stored_nothing(tenant)
    record = start(
        tenant.admin, data, mapping={"Given": "First Name", "Family": "lastName", "E-mail": "email", "Email": None}
    )
    assert [(c["header"], c["field"]) for c in record.columns] == [
        ("Given", "firstName"),
        ("Family", "lastName"),
        ("E-mail", "email"),
    ]
    assert record.unmapped == ["Email"]
    finished(tenant, record.id)
    assert set(contacts_of(tenant)) == {"ada@x.example"}


# Permissions, scope, events, audit ---------------------------------------------------------------------------


def test_permissions_are_checked_for_the_record_type_and_the_policy(tenant):
    read_only = tenant.actor(tenant.add_user("read_only"))
    with pytest.raises(PermissionDenied) as denied:
        start(read_only, _people(1, "ro"))
    assert denied.value.details["required"] == "imports:create"
    rep = tenant.actor(tenant.add_user("rep"))
    with pytest.raises(PermissionDenied) as denied:
        start(rep, fixture("hubspot_companies.csv"), entity="accounts")
    assert denied.value.details["required"] == "accounts:import"
    with pytest.raises(PermissionDenied) as denied:
        with unit_of_work(read_only) as session:
            imports.preview(session, read_only, _people(1, "ro").encode(), ImportOptions(entity_type="contacts"))
    assert stored_nothing(tenant)

    record = start(rep, _people(2, "rep"))  # a rep may import contacts, as their own
    done = finished(tenant, record.id)
    assert done["counts"]["created"] == 2 and done["createdBy"] == str(rep.user_id)
    assert {c["ownerId"] for c in contacts_of(tenant).values()} == {str(rep.user_id)}
    other_rep = tenant.actor(tenant.add_user("rep"))
    with unit_of_work(other_rep) as session:
        assert imports.list_imports(session, other_rep) == ([], 0)


def test_created_records_emit_their_created_events_and_the_import_is_audited(tenant):
    add_field(tenant, field_name="tier", field_label="Tier", field_type="text")
    rows = [
        ["First Name", "Last Name", "Email", "Tier", "Tags"],
        ["Ada", "Lovelace", "ada@example.com", "gold", "a; b"],
    ]
    record = start(tenant.admin, to_csv(rows))
    finished(tenant, record.id)
    contact = contacts_of(tenant)["ada@example.com"]
    [event] = owner_rows(
        "SELECT entity_type, entity_id, actor_user_id, payload FROM events"
        " WHERE tenant_id = :t AND type = 'contact.created'",
        t=tenant.tenant_id,
    )
    assert (event.entity_type, str(event.entity_id), event.actor_user_id) == (
        "contacts",
        contact["id"],
        tenant.admin_id,
    )
    assert event.payload == {"record": contact}  # the same record the API returns, custom fields and tags included
    assert contact["tags"] == ["a", "b"] and contact["customFields"] == {"tier": "gold"}
    audit = owner_rows(
        "SELECT entity_type, action, user_id FROM audit_logs"
        " WHERE tenant_id = :t AND entity_type IN ('imports', 'contacts') ORDER BY created_at",
        t=tenant.tenant_id,
    )
    assert ("imports", "create", tenant.admin_id) in {(a.entity_type, a.action, a.user_id) for a in audit}
    assert ("contacts", "create", tenant.admin_id) in {(a.entity_type, a.action, a.user_id) for a in audit}


def test_an_import_whose_creator_lost_the_permission_fails_and_drops_its_file(tenant):
    rep_id = tenant.add_user("rep")
    record = start(tenant.actor(rep_id), _people(2, "lost"))
    owner_execute(
        "UPDATE users SET role_id = (SELECT id FROM roles WHERE tenant_id = :t AND name = 'read_only') WHERE id = :u",
        t=tenant.tenant_id,
        u=rep_id,
    )
    done = finished(tenant, record.id)
    assert done["status"] == "failed" and done["error"] == "Permission denied: create on imports"
    assert count("SELECT count(*) FROM import_files WHERE import_id = :i", i=record.id) == 0
    assert count("SELECT count(*) FROM contacts WHERE tenant_id = :t", t=tenant.tenant_id) == 0


def test_an_import_whose_job_was_cancelled_reads_as_cancelled(tenant):
    record = start(tenant.admin, _people(2, "cancel"))
    with unit_of_work(tenant.admin) as session:
        jobs.cancel(session, tenant.admin, record.job_id)
    assert read(tenant, record.id)["status"] == "cancelled"
    assert queue.drain(5) == 0
    assert count("SELECT count(*) FROM contacts WHERE tenant_id = :t", t=tenant.tenant_id) == 0
    assert owner_rows("SELECT status FROM jobs WHERE id = :j", j=record.job_id)[0].status == "cancelled"


def test_references_must_be_records_the_importer_can_see(tenant, other_tenant):
    admin = tenant.admin
    with unit_of_work(admin) as session:
        mine = accounts.create(session, admin, AccountCreate(name="Mine")).id
    with unit_of_work(other_tenant.admin) as session:
        theirs = accounts.create(session, other_tenant.admin, AccountCreate(name="Theirs")).id
    rows = [
        ["firstName", "lastName", "email", "accountId"],
        ["Ok", "Linked", "ok@example.com", str(mine)],
        ["No", "Linked", "no@example.com", str(theirs)],
        ["Bad", "Id", "bad@example.com", "not-a-uuid"],
    ]
    record = start(admin, to_csv(rows))
    done = finished(tenant, record.id)
    assert done["counts"] == {"created": 1, "updated": 0, "skipped": 0, "failed": 2}
    errors = {e["row"]: (e["field"], e["message"]) for e in import_rows(tenant, record.id)}
    assert errors[3] == ("accountId", "no such account (use the id of an account you can see)")
    assert errors[4][0] == "accountId" and "UUID" in errors[4][1]
    assert contacts_of(tenant)["ok@example.com"]["accountId"] == str(mine)
    parent_rows = [["Name", "parentId"], ["Child", str(theirs)]]
    child = start(admin, to_csv(parent_rows), entity="accounts")
    assert finished(tenant, child.id)["counts"]["failed"] == 1
    assert import_rows(tenant, child.id)[0]["field"] == "parentId"


def test_an_update_of_a_record_the_importer_cannot_see_fails_that_row(tenant):
    _existing_contact(tenant, email="boss@example.com", title="Boss")  # owned by the admin
    rep = tenant.actor(tenant.add_user("rep"))
    rows = [["Email", "Job Title"], ["boss@example.com", "Demoted"]]
    done = finished(tenant, start(rep, to_csv(rows), policy="update").id)
    assert done["counts"] == {"created": 0, "updated": 0, "skipped": 0, "failed": 1}
    [error] = import_rows(tenant, UUID(done["id"]))
    assert error["message"] == "A contact with the same email exists, but you may not update it"
    assert contacts_of(tenant)["boss@example.com"]["title"] == "Boss"


def test_nul_characters_never_reach_the_database(tenant):
    record = start(tenant.admin, _people(1, "nul"), file_name="evil\x00.csv")
    assert record.file_name == "evil.csv"
    assert reader.cell_text("A\x00da") == "Ada" and reader.clean_headers(["First\x00 Name "]) == ["First Name"]
