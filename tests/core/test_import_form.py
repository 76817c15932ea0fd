"""What the Import page asks of core/imports: the fields a column may map to, and a preview of a file whose
headers nothing recognises (so the user can map them by hand) while starting such an import is still refused."""

from __future__ import annotations

import pytest

from core.custom_fields import service as custom_fields
from core.custom_fields.schemas import CustomFieldCreate
from core.db import unit_of_work
from core.errors import PermissionDenied, ValidationFailed
from core.imports import service as imports
from core.imports.schemas import ImportOptions
from tests.factories import TenantWorld

UNKNOWN_HEADERS = b"Given,Surname\r\nAda,Lovelace\r\n"


def test_importable_fields_put_required_ones_first_and_include_custom_fields(tenant: TenantWorld) -> None:
    admin = tenant.admin
    with unit_of_work(admin) as session:
        custom_fields.create(
            session,
            admin,
            CustomFieldCreate(entity_type="contacts", field_name="tier", field_label="Tier", field_type="text"),
        )
    with unit_of_work(admin) as session:
        fields = imports.importable_fields(session, admin, "contacts")
        account_fields = imports.importable_fields(session, admin, "accounts")
    assert list(fields)[:2] == ["firstName", "lastName"]
    assert fields["firstName"] == "First name (required)" and fields["addressPostalCode"] == "Address postal code"
    assert fields["cf.tier"] == "Tier (custom field)"
    assert list(account_fields)[0] == "name" and "cf.tier" not in account_fields
    with unit_of_work(admin) as session, pytest.raises(ValidationFailed):
        imports.importable_fields(session, admin, "deals")
    analyst = tenant.actor(tenant.add_user("analyst"))
    with unit_of_work(analyst) as session, pytest.raises(PermissionDenied):
        imports.importable_fields(session, analyst, "contacts")


def test_a_preview_may_show_a_file_with_no_recognised_header_but_it_cannot_start(tenant: TenantWorld) -> None:
    admin = tenant.admin
    options = ImportOptions(entity_type="contacts")
    with unit_of_work(admin) as session:
        with pytest.raises(ValidationFailed) as refused:
            imports.preview(session, admin, UNKNOWN_HEADERS, options)
        assert refused.value.code == "NO_RECOGNISED_COLUMNS"
        shown = imports.preview(session, admin, UNKNOWN_HEADERS, options, require_columns=False)
        assert (shown.headers, shown.mapping, shown.missing_required) == (
            ["Given", "Surname"],
            {},
            ["firstName", "lastName"],
        )
        with pytest.raises(ValidationFailed) as refused:
            imports.create(session, admin, UNKNOWN_HEADERS, options)
        assert refused.value.code == "NO_RECOGNISED_COLUMNS"
