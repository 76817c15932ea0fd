"""core/records/export.py on the real database: keyset batches, one snapshot, errors before any byte, cleanup."""

from __future__ import annotations

import csv
import io
import secrets
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event

from core.contacts import service as contacts
from core.contacts.schemas import ContactRead
from core.custom_fields import service as custom_fields
from core.custom_fields.schemas import CustomFieldCreate
from core.db import app_engine, unit_of_work
from core.errors import PermissionDenied, ValidationFailed
from core.ids import new_id
from core.models import Contact
from core.records import export
from tests.core.conftest import owner_rows

CONTACTS = export.RecordExport(
    entity_type="contacts",
    event="contact.exported",
    model=Contact,
    statement=contacts.readable,
    specs=export.with_custom_field_specs(contacts.SPECS, "contacts", Contact.id),
    columns=export.columns_of(ContactRead),
    serialize=export.each_with_custom_fields(contacts.serialize, "contacts"),
    search_column=Contact.search,
)


def q(**params: str) -> dict[str, list[str]]:
    return {k: [v] for k, v in params.items()}


def add_contacts(world, names: list[str], tag: str) -> None:
    with unit_of_work(world.admin) as session:
        session.add_all(
            Contact(
                id=new_id(),
                tenant_id=world.tenant_id,
                owner_id=world.admin_id,
                first_name="F",
                last_name=name,
                tags=[tag],
            )
            for name in names
        )


def rows_of(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


class Statements:
    """The SQL the app engine runs while in use (a SQLAlchemy event listener)."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self.seen.append(statement)


@pytest.fixture
def statements() -> Iterator[Statements]:
    listener = Statements()
    event.listen(app_engine(), "before_cursor_execute", listener)
    yield listener
    event.remove(app_engine(), "before_cursor_execute", listener)


def test_rows_come_in_keyset_batches_with_one_custom_value_query_each(tenant, statements):
    tag = secrets.token_hex(4)
    names = [f"N{i:02d}" for i in range(25)]
    add_contacts(tenant, names, tag)
    with unit_of_work(tenant.admin) as session:
        custom_fields.create(
            session,
            tenant.admin,
            CustomFieldCreate(entity_type="contacts", field_name="tier", field_label="Tier", field_type="text"),
        )
    started = export.start(tenant.admin, CONTACTS, q(tags=tag, sort="lastName"), file_format="csv", batch_size=10)
    data = b"".join(started.chunks)
    assert [r["lastName"] for r in rows_of(data)] == names

    batches = [s for s in statements.seen if "FROM contacts" in s and "ORDER BY" in s]
    assert len(batches) == 3
    assert all("LIMIT" in s and "OFFSET" not in s.upper() for s in batches)
    assert "contacts.last_name >" not in batches[0]  # the first batch starts at the beginning,
    assert all("contacts.last_name >" in s for s in batches[1:])  # the next ones after the last row
    values = [s for s in statements.seen if "FROM custom_field_values JOIN custom_fields" in s]
    assert len(values) == 3
    assert not any("count(" in s for s in statements.seen)  # no total: the list's keyset pages


def test_every_batch_reads_one_snapshot(tenant):
    tag = secrets.token_hex(4)
    add_contacts(tenant, [f"A{i:02d}" for i in range(15)], tag)
    started = export.start(tenant.admin, CONTACTS, q(tags=tag, sort="lastName"), file_format="csv", batch_size=5)
    add_contacts(tenant, ["ZZ late"], tag)  # committed while the export runs, sorted last
    rows = rows_of(b"".join(started.chunks))
    assert len(rows) == 15 and "ZZ late" not in {r["lastName"] for r in rows}


def test_errors_raise_before_any_byte(tenant):
    rep = tenant.actor(tenant.add_user("rep"))
    with pytest.raises(ValidationFailed) as raised:
        export.start(tenant.admin, CONTACTS, q(mood="happy", sort="-vibe"), file_format="csv")
    assert {d["field"] for d in raised.value.details} == {"mood", "vibe"}
    with pytest.raises(ValidationFailed):
        export.start(tenant.admin, CONTACTS, q(), file_format="pdf")  # type: ignore[arg-type]
    accounts = export.RecordExport(**{**CONTACTS.__dict__, "entity_type": "accounts"})
    with pytest.raises(PermissionDenied):
        export.start(rep, accounts, q(), file_format="csv")  # reps export contacts, not accounts
    assert owner_rows("SELECT 1 FROM events WHERE tenant_id = :t AND type LIKE '%.exported'", t=tenant.tenant_id) == []


def _checked_out() -> int:
    return app_engine().pool.checkedout()


def test_closing_early_releases_the_session_and_records_an_incomplete_export(tenant):
    tag = secrets.token_hex(4)
    add_contacts(tenant, [f"B{i:02d}" for i in range(30)], tag)
    before = _checked_out()
    started = export.start(tenant.admin, CONTACTS, q(tags=tag), file_format="csv", batch_size=10)
    assert _checked_out() == before + 1  # the export's own snapshot
    header = next(started.chunks)
    first = next(started.chunks)
    assert header.startswith(b"\xef\xbb\xbfid,") and first.count(b"\r\n") == 10
    started.chunks.close()
    assert _checked_out() == before
    recorded = owner_rows(
        "SELECT payload FROM events WHERE tenant_id = :t AND type = 'contact.exported'", t=tenant.tenant_id
    )
    assert [r.payload for r in recorded] == [{"format": "csv", "rows": 10, "complete": False, "query": {"tags": [tag]}}]


@pytest.mark.parametrize("read_all", [True, False])
def test_the_xlsx_file_is_deleted_afterwards(tenant, tmp_path, monkeypatch, read_all):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    tag = secrets.token_hex(4)
    add_contacts(tenant, ["X"], tag)
    started = export.start(tenant.admin, CONTACTS, q(tags=tag), file_format="xlsx")
    assert [p.suffix for p in tmp_path.iterdir()] == [".xlsx"]  # written before the first byte is sent
    if read_all:
        data = b"".join(started.chunks)
        assert data.startswith(b"PK")
    else:
        assert next(started.chunks).startswith(b"PK")
        started.chunks.close()
    assert list(tmp_path.iterdir()) == []


def test_xlsx_is_refused_beyond_a_sheet(tenant, monkeypatch):
    monkeypatch.setattr(export, "XLSX_MAX_ROWS", 2)
    tag = secrets.token_hex(4)
    add_contacts(tenant, ["A", "B", "C"], tag)
    with pytest.raises(ValidationFailed) as raised:
        export.start(tenant.admin, CONTACTS, q(tags=tag), file_format="xlsx")
    assert raised.value.details[0]["field"] == "format"
    started = export.start(tenant.admin, CONTACTS, q(tags=tag), file_format="csv")
    assert len(rows_of(b"".join(started.chunks))) == 3


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("=1+1", "'=1+1"),
        ("+44 20 7946 0958", "'+44 20 7946 0958"),
        ("-x", "'-x"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("a=b", "a=b"),
        (" =x", " =x"),
        ("", ""),
        (None, ""),
        (True, "true"),
        (False, "false"),
        (-5, "-5"),
        (2.5, "2.5"),
        (["=a", "b"], "'=a; b"),
        (["a", "-b"], "a; -b"),
        ([], ""),
        ("Zoë 🚀 李", "Zoë 🚀 李"),
    ],
)
def test_cell_text(value, text):
    assert export.cell_text(value) == text
