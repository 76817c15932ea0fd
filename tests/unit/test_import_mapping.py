"""Import column mapping, value vocabularies and file detection, without a database."""

from __future__ import annotations

import codecs
from datetime import date, datetime, time
from decimal import Decimal

import pytest

from core.errors import ValidationFailed
from core.imports import mapping, reader
from core.imports.mapping import CustomFieldInfo

CUSTOM = [
    CustomFieldInfo("tier", "Customer Tier", "select", ("Gold", "Silver"), False),
    CustomFieldInfo("seats", "Seats", "number", (), False),
    CustomFieldInfo("regions", "Sales Regions", "multi_select", ("EU", "US"), False),
    CustomFieldInfo("vip", "VIP", "boolean", (), False),
    CustomFieldInfo("renewal", "Renewal", "date", (), False),
]


@pytest.mark.parametrize(
    ("header", "field"),
    [
        # our own API names, as the exports write them
        ("firstName", "firstName"),
        ("leadScore", "leadScore"),
        ("addressCity", "addressCity"),
        ("socialLinkedin", "socialLinkedin"),
        ("ownerId", "ownerId"),
        ("accountId", "accountId"),
        ("isActive", "isActive"),
        # any case, spacing or punctuation
        ("first_name", "firstName"),
        ("  FIRST NAME ", "firstName"),
        ("lead-score", "leadScore"),
        # HubSpot
        ("First Name", "firstName"),
        ("Email", "email"),
        ("Company Name", "company"),
        ("Phone Number", "phone"),
        ("Mobile Phone Number", "mobile"),
        ("Job Title", "title"),
        ("Lifecycle Stage", "lifecycleStage"),
        ("Lead Status", "leadStatus"),
        ("Contact owner", "ownerId"),
        ("State/Region", "addressState"),
        ("Postal Code", "addressPostalCode"),
        ("Country/Region", "addressCountry"),
        ("Street Address", "addressStreet"),
        ("LinkedIn", "socialLinkedin"),
        ("Twitter Username", "socialTwitter"),
        ("Original Source", "leadSource"),
        # Salesforce
        ("FirstName", "firstName"),
        ("LastName", "lastName"),
        ("Account Name", "company"),
        ("Title", "title"),
        ("Lead Source", "leadSource"),
        ("MobilePhone", "mobile"),
        ("MailingStreet", "addressStreet"),
        ("MailingPostalCode", "addressPostalCode"),
        ("Department", "department"),
        ("Status", "leadStatus"),
        ("Rating", "leadScore"),
        ("OwnerId", "ownerId"),
        # custom fields: cf.<name>, then name or label
        ("cf.tier", "cf.tier"),
        ("CF.Seats", "cf.seats"),
        ("Customer Tier", "cf.tier"),
        ("sales_regions", "cf.regions"),
        ("VIP", "cf.vip"),
        # not ours
        ("Record ID", None),
        ("Create Date", None),
        ("cf.nonexistent", None),
        ("", None),
        ("!!!", None),
    ],
)
def test_contact_headers_are_recognised(header, field):
    assert mapping.suggest(header, "contacts", CUSTOM) == field


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("Company name", "name"),
        ("Name", "name"),
        ("Account Name", "name"),
        ("Company Domain Name", "website"),
        ("Website", "website"),
        ("Industry", "industry"),
        ("Number of Employees", "companySize"),
        ("NumberOfEmployees", "companySize"),
        ("Annual Revenue", "annualRevenue"),
        ("AnnualRevenue", "annualRevenue"),
        ("BillingCity", "addressCity"),
        ("BillingCountry", "addressCountry"),
        ("City", "addressCity"),
        ("parentId", "parentId"),
        ("companySize", "companySize"),
        ("First Name", None),
    ],
)
def test_account_headers_are_recognised(header, field):
    assert mapping.suggest(header, "accounts", []) == field


def test_every_importable_field_is_recognised_by_its_own_name():
    for entity in ("contacts", "accounts"):
        for name in mapping.entity_fields(entity):
            assert mapping.suggest(name, entity, []) == name
    assert mapping.required_fields("contacts") == ["firstName", "lastName"]
    assert mapping.required_fields("accounts") == ["name"]


@pytest.mark.parametrize(
    ("field", "value", "ours"),
    [
        ("lifecycleStage", "Marketing Qualified Lead", "mql"),
        ("lifecycleStage", "marketingqualifiedlead", "mql"),
        ("lifecycleStage", "Sales Qualified Lead", "sql"),
        ("lifecycleStage", "Customer", "customer"),
        ("leadStatus", "Open", "new"),
        ("leadStatus", "In Progress", "contacted"),
        ("leadStatus", "Connected", "contacted"),
        ("leadStatus", "Attempted to contact", "contacted"),
        ("leadStatus", "Open Deal", "qualified"),
        ("leadStatus", "Unqualified", "unqualified"),
        ("leadStatus", "Open - Not Contacted", "new"),
        ("leadStatus", "Working - Contacted", "contacted"),
        ("leadStatus", "Closed - Converted", "qualified"),
        ("leadStatus", "Closed - Not Converted", "unqualified"),
        ("leadStatus", "something else", "something else"),
        ("leadScore", "Hot", "90"),
        ("leadScore", "42", "42"),
        ("title", "Open", "Open"),
    ],
)
def test_values_translate_from_other_crms(field, value, ours):
    assert mapping.translate(field, value) == ours


@pytest.mark.parametrize(
    ("raw", "cleaned"),
    [
        ("$1,250,000.50", "1250000.50"),
        ("1.250.000,50", "1250000.50"),
        ("EUR 900", "900"),
        ("1 000", "1000"),
        ("12.5", "12.5"),
        ("abc", "abc"),
        ("USD", "USD"),
    ],
)
def test_numbers_lose_currency_signs_and_thousands_separators(raw, cleaned):
    assert mapping.clean_number(raw) == cleaned


def test_field_values_are_shaped_for_the_schemas():
    assert mapping.field_value("tags", "vip; nordics, vip") == ["vip", "nordics", "vip"]
    assert mapping.field_value("tags", '["a", "b c"]') == ["a", "b c"]
    assert mapping.field_value("companySize", "250") == "201-500"
    assert mapping.field_value("companySize", "10") == "1-10"
    assert mapping.field_value("companySize", "12,000") == "500+"
    assert mapping.field_value("companySize", "51-200") == "51-200"
    assert mapping.field_value("leadScore", "7.0") == "7"
    assert mapping.field_value("leadScore", "Warm") == "60"
    assert mapping.field_value("firstName", "  Zoë 🚀 ") == "  Zoë 🚀 "


def test_the_apostrophe_exports_put_before_formula_triggers_is_removed():
    assert mapping.unescape_formula("'+44 20 7946 0000") == "+44 20 7946 0000"
    assert mapping.unescape_formula("'=SUM(A1)") == "=SUM(A1)"
    assert mapping.unescape_formula("'-5") == "-5"
    assert mapping.unescape_formula("O'Brien") == "O'Brien"
    assert mapping.unescape_formula("'quoted'") == "'quoted'"
    assert mapping.unescape_formula("'") == "'"


def test_custom_values_take_their_fields_types():
    tier, seats, regions, vip, renewal = CUSTOM
    assert mapping.custom_value(tier, "gold") == "Gold"
    assert mapping.custom_value(tier, "Platinum") == "Platinum"  # validation names the problem
    assert mapping.custom_value(seats, "$1,250.5") == Decimal("1250.5")
    assert mapping.custom_value(seats, "lots") == "lots"
    assert mapping.custom_value(regions, "eu; US") == ["EU", "US"]
    assert [mapping.custom_value(vip, v) for v in ("Yes", "false", "1", "maybe")] == [True, False, True, "maybe"]
    assert mapping.custom_value(renewal, "2027-01-31") == date(2027, 1, 31)
    assert mapping.custom_value(renewal, "2027-01-31 00:00:00") == date(2027, 1, 31)
    assert mapping.custom_value(renewal, "31/01/2027") == "31/01/2027"


# Resolving a file's columns ----------------------------------------------------------------------------------


def test_resolve_maps_each_field_once_and_reports_the_rest_as_unmapped():
    headers = ["Record ID", "First Name", "firstName", "Email", "Email", "", "Customer Tier"]
    found = mapping.resolve(headers, "contacts", CUSTOM)
    assert found.mapping() == {"First Name": "firstName", "Email": "email", "Customer Tier": "cf.tier"}
    assert [c.index for c in found.columns] == [1, 3, 6]
    assert found.unmapped == ["Record ID", "firstName", "Email", "(column 6)"]


def test_overrides_map_ignore_or_refuse():
    headers = ["Given", "Family", "E-mail", "Email"]
    found = mapping.resolve(
        headers, "contacts", CUSTOM, {"Given": "firstName", "Family": "Last Name", "Email": None, "E-mail": "email"}
    )
    assert found.mapping() == {"Given": "firstName", "Family": "lastName", "E-mail": "email"}
    assert found.unmapped == ["Email"]
    assert mapping.resolve(headers, "contacts", CUSTOM, {"Given": "cf.tier"}).mapping()["Given"] == "cf.tier"
    with pytest.raises(ValidationFailed) as refused:
        mapping.resolve(headers, "contacts", CUSTOM, {"Given": "nickname", "Nope": "email"})
    assert refused.value.details == [
        {"field": "mapping.Given", "message": "unknown contacts field or custom field: nickname"},
        {"field": "mapping.Nope", "message": "no column with this header in the file"},
    ]
    with pytest.raises(ValidationFailed, match="several columns map to firstName"):
        mapping.resolve(headers, "contacts", CUSTOM, {"Given": "firstName", "Family": "firstName"})
    with pytest.raises(ValidationFailed):
        mapping.resolve(headers, "contacts", CUSTOM, {"Given": "id"})  # read-only fields are not importable


def test_an_override_takes_a_field_from_the_column_that_would_have_had_it():
    found = mapping.resolve(["Email", "Work Email"], "contacts", [], {"Work Email": "email"})
    assert found.mapping() == {"Work Email": "email"}
    assert found.unmapped == ["Email"]


# Reading files ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "delimiter"),
    [
        ("a,b,c\n1,2,3\n", ","),
        ("a;b;c\n1;2;3\n", ";"),
        ("a\tb\tc\n1\t2\t3\n", "\t"),
        ("a|b|c\n1|2|3\n", "|"),
        ('name;note\n"Smith, John";"a, b, c"\n', ";"),
        ("email\nx@example.com\n", ","),
    ],
)
def test_delimiters_are_sniffed(text, delimiter):
    assert reader.sniff_delimiter(text) == delimiter


@pytest.mark.parametrize(
    ("data", "encoding", "bom"),
    [
        ("Zoë,Ångström\n".encode(), "utf-8", False),
        (codecs.BOM_UTF8 + "Zoë,Ångström\n".encode(), "utf-8", True),
        ("Zoë,Ångström\n".encode("utf-16"), "utf-16", True),
        ("first;last\nJosé;Müller\nFrançois;Crème\n".encode("cp1252"), "cp1252", False),
        ("Name\nCafé\n".encode("latin-1"), "cp1252", False),
        ("Имя;Фамилия\nИван;Петров\n".encode("cp1251"), "cp1251", False),
    ],
)
def test_encodings_are_detected(data, encoding, bom):
    text, found, has_bom = reader.decode(data)
    assert (found, has_bom) == (encoding, bom)
    assert not text.startswith("\ufeff")


def test_binary_data_is_not_text():
    with pytest.raises(ValidationFailed) as refused:
        reader.detect(bytes(range(256)) * 8)
    assert refused.value.code == "UNSUPPORTED_FILE"


def test_xlsx_cells_become_text():
    assert reader.cell_text(None) == ""
    assert reader.cell_text(4155550100.0) == "4155550100"
    assert reader.cell_text(2.5) == "2.5"
    assert reader.cell_text(True) == "true"
    assert reader.cell_text(datetime(2027, 3, 1)) == "2027-03-01"
    assert reader.cell_text(datetime(2027, 3, 1, 9, 30)) == "2027-03-01 09:30:00"
    assert reader.cell_text(date(2027, 3, 1)) == "2027-03-01"
    assert reader.cell_text(time(9, 30)) == "09:30:00"


def test_inspect_counts_data_rows_and_numbers_rows_as_a_spreadsheet_does():
    data = b'\r\nFirst Name,Last Name\r\nAda,"Love\r\nlace"\r\n\r\nGrace,Hopper\r\n'
    found = reader.inspect(data)
    assert (found.headers, found.header_row, found.total_rows) == (["First Name", "Last Name"], 2, 2)
    assert found.sample == [(3, ["Ada", "Love\r\nlace"]), (5, ["Grace", "Hopper"])]
