"""Import: a HubSpot-style CSV uploaded through the page is mapped, started, run by the job queue and reported row
by row; roles without `imports:create` cannot open the page, and a rep imports contacts only."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import Workbook
from streamlit.testing.v1 import AppTest

from app.ui import imports as view
from core.contacts import service as contacts
from core.db import unit_of_work
from core.demo.service import SeedResult
from core.imports import service as imports
from core.jobs import queue
from core.users import service as users
from tests.factories import TenantWorld
from tests.ui.conftest import ROOT, as_role, new_app, open_page, shown, sign_in

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HUBSPOT = (
    b"First Name,Last Name,Email Address,Favourite colour\r\n"
    b"Ada,Lovelace,ada@example.com,blue\r\n"
    b"Grace,Hopper,grace@example.com,green\r\n"
    b"Alan,Turing,not-an-email,red\r\n"
    b"Katherine,Johnson,katherine@example.com,\r\n"
)


def import_page(at: AppTest) -> AppTest:
    open_page(at, "imports.py")
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    return at


def upload(at: AppTest, name: str, data: bytes, mime: str = "text/csv") -> AppTest:
    at.file_uploader[0].set_value((name, data, mime)).run()
    assert not at.exception, at.exception
    return at


def mapping_shown(at: AppTest) -> dict[str, str]:
    return {box.label: box.value for box in at.selectbox if box.key and box.key.startswith("imp_map_")}


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def test_the_import_page_renders_for_the_demo_roles_that_may_import(demo_workspace: SeedResult) -> None:
    for role in ("admin", "manager", "rep"):
        at = import_page(as_role(demo_workspace, role))
        assert at.file_uploader, role
    rep = import_page(as_role(demo_workspace, "rep"))
    assert rep.segmented_control(key="imp_entity").options == ["Contacts"]  # contacts:import only
    assert import_page(as_role(demo_workspace, "admin")).segmented_control(key="imp_entity").options == [
        "Contacts",
        "Accounts",
    ]


def test_a_hubspot_csv_is_mapped_imported_and_its_bad_row_reported(
    tenant: TenantWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    reports: list[bytes] = []  # what the download button offers
    original = view.row_report_csv

    def kept(*args):  # noqa: ANN002, ANN202
        reports.append(original(*args))
        return reports[-1]

    monkeypatch.setattr(view, "row_report_csv", kept)

    at = import_page(sign_in(new_app(), tenant.slug, tenant.admin_email))
    upload(at, "hubspot-contacts.csv", HUBSPOT)
    assert not at.error, [e.value for e in at.error]
    assert mapping_shown(at) == {
        "First Name": "firstName",
        "Last Name": "lastName",
        "Email Address": "email",
        "Favourite colour": "",
    }
    assert "4 data rows" in shown(at)
    assert at.dataframe[0].value.iloc[0].tolist() == ["Ada", "Lovelace", "ada@example.com", "blue"]

    at.button(key="imp_start").click().run()
    assert not at.error, [e.value for e in at.error]
    with unit_of_work(tenant.admin) as session:
        records, total = imports.list_imports(session, tenant.admin)
        assert total == 1 and records[0].status == "queued" and records[0].file_name == "hubspot-contacts.csv"
    assert "Queued" in shown(at)
    assert not at.file_uploader[0].value  # a fresh uploader for the next file

    assert queue.drain(60) == 0
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert (metric(at, "Created"), metric(at, "Failed")) == ("3", "1")
    with unit_of_work(tenant.admin) as session:
        emails = {c["email"] for c in contacts.list_contacts(session, tenant.admin, {}).items}
    assert emails == {"ada@example.com", "grace@example.com", "katherine@example.com"}
    rows = next(d.value for d in at.dataframe if "Problem" in d.value.columns).to_dict("records")
    assert [(r["Row"], r["Column"]) for r in rows] == [(4, "Email Address")]
    assert "email" in rows[0]["Problem"].lower()
    assert at.download_button[0].label == "Download the row report (CSV)"
    report = list(csv.DictReader(io.StringIO(reports[-1].decode("utf-8-sig"))))
    assert [(r["Row"], r["Outcome"], r["Column"], r["First Name"], r["Email Address"]) for r in report] == [
        ("4", "failed", "Email Address", "Alan", "not-an-email")
    ]
    assert "email" in report[0]["Reason"].lower()


def xlsx(rows: list[list[str]]) -> bytes:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_an_xlsx_whose_headers_nothing_recognises_is_mapped_by_hand(tenant: TenantWorld) -> None:
    data = xlsx([["Given", "Surname", "Mail"], ["Ada", "Lovelace", "ada@example.com"]])
    at = import_page(sign_in(new_app(), tenant.slug, tenant.admin_email))
    upload(at, "people.xlsx", data, XLSX)
    assert "XLSX" in shown(at) and "No column of the file was recognised" in shown(at)
    assert mapping_shown(at) == {"Given": "", "Surname": "", "Mail": ""}  # nothing recognised
    assert at.button(key="imp_start").disabled
    boxes = {b.label: b for b in at.selectbox if b.key and b.key.startswith("imp_map_")}
    boxes["Given"].set_value("firstName")
    boxes["Mail"].set_value("email").run()
    assert "Last name" in shown(at) and at.button(key="imp_start").disabled  # still no last name
    boxes = {b.label: b for b in at.selectbox if b.key and b.key.startswith("imp_map_")}
    boxes["Surname"].set_value("lastName").run()
    assert not at.button(key="imp_start").disabled
    at.button(key="imp_start").click().run()
    assert queue.drain(60) == 0
    at.run()
    with unit_of_work(tenant.admin) as session:
        found = contacts.list_contacts(session, tenant.admin, {}).items
    assert [(c["firstName"], c["lastName"], c["email"]) for c in found] == [("Ada", "Lovelace", "ada@example.com")]
    assert "Every row was imported" in shown(at)


def test_a_file_that_cannot_be_read_is_explained_and_nothing_is_stored(tenant: TenantWorld) -> None:
    at = import_page(sign_in(new_app(), tenant.slug, tenant.admin_email))
    upload(at, "notes.csv", b"\r\n\r\n")
    assert at.error and "file" in at.error[0].value.lower(), [e.value for e in at.error]
    assert not [b for b in at.button if b.key == "imp_start"]
    with unit_of_work(tenant.admin) as session:
        assert imports.list_imports(session, tenant.admin)[1] == 0


def test_roles_without_imports_create_are_refused(tenant: TenantWorld) -> None:
    analyst = tenant.add_user("analyst")
    with unit_of_work(tenant.admin) as session:
        email = users.get(session, tenant.admin, analyst).email
    at = sign_in(new_app(), tenant.slug, email)
    with pytest.raises(Exception):  # noqa: B017 - AppTest refuses a page that is not registered
        open_page(at, "imports.py")
    page = AppTest.from_file(str(ROOT / "pages" / "imports.py"), default_timeout=30)
    page.session_state["cf_actor"] = tenant.actor(analyst)  # the script run another way: its own guard
    page.run()
    assert [e.value for e in page.error] == ["Your role (analyst) cannot open Import."]
    assert not page.file_uploader
