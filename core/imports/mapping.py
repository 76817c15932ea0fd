"""Which column of an import file goes into which field, and how other CRMs' values translate into ours.

Headers are compared case-, space- and punctuation-insensitively (`First Name`, `first_name`, `FirstName` and
`firstName` are one header). Recognised, in this order:

1. `cf.<name>`: the custom field of that name;
2. our own API field names (`firstName`, `leadScore`, `addressCity`: what our exports write) and the export
   headers of HubSpot and Salesforce below;
3. a custom field's name or label.

Anything else is reported as unmapped (not an error). The tables are data: extend them, not the code.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import BaseModel
from pydantic.alias_generators import to_camel

from core.accounts.schemas import AccountCreate
from core.contacts.schemas import ContactCreate
from core.errors import ValidationFailed

CUSTOM_PREFIX = "cf."

# Header vocabularies -------------------------------------------------------------------------------------

CONTACT_HEADERS: dict[str, str] = {
    # HubSpot contacts export
    "First Name": "firstName",
    "Last Name": "lastName",
    "Email": "email",
    "Email Address": "email",
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
    "Zip": "addressPostalCode",
    "Country/Region": "addressCountry",
    "Street Address": "addressStreet",
    "LinkedIn": "socialLinkedin",
    "LinkedIn URL": "socialLinkedin",
    "LinkedIn Profile": "socialLinkedin",
    "Twitter Username": "socialTwitter",
    "Twitter": "socialTwitter",
    "Facebook": "socialFacebook",
    "Original Source": "leadSource",
    "Mobile": "mobile",
    # Salesforce contacts and leads
    "FirstName": "firstName",
    "LastName": "lastName",
    "Account Name": "company",
    "Company": "company",
    "Title": "title",
    "Lead Source": "leadSource",
    "Phone": "phone",
    "MobilePhone": "mobile",
    "MailingStreet": "addressStreet",
    "MailingCity": "addressCity",
    "MailingState": "addressState",
    "MailingPostalCode": "addressPostalCode",
    "MailingCountry": "addressCountry",
    "Street": "addressStreet",
    "State": "addressState",
    "Country": "addressCountry",
    "Department": "department",
    "Status": "leadStatus",
    "Rating": "leadScore",
    "Description": "notes",
    "OwnerId": "ownerId",
    "Owner Email": "ownerId",
    "Contact Owner": "ownerId",
    "Lead Owner": "ownerId",
    "Owner": "ownerId",
    "Tags": "tags",
}

ACCOUNT_HEADERS: dict[str, str] = {
    # HubSpot companies export
    "Company name": "name",
    "Company Domain Name": "website",
    "Website URL": "website",
    "Industry": "industry",
    "Number of Employees": "companySize",
    "Annual Revenue": "annualRevenue",
    "Phone Number": "phone",
    "City": "addressCity",
    "State/Region": "addressState",
    "Postal Code": "addressPostalCode",
    "Zip": "addressPostalCode",
    "Country/Region": "addressCountry",
    "Street Address": "addressStreet",
    "Description": "description",
    "Company owner": "ownerId",
    # Salesforce accounts
    "Name": "name",
    "Account Name": "name",
    "Website": "website",
    "NumberOfEmployees": "companySize",
    "Employees": "companySize",
    "AnnualRevenue": "annualRevenue",
    "Phone": "phone",
    "BillingStreet": "addressStreet",
    "BillingCity": "addressCity",
    "BillingState": "addressState",
    "BillingPostalCode": "addressPostalCode",
    "BillingCountry": "addressCountry",
    "OwnerId": "ownerId",
    "Account Owner": "ownerId",
    "Owner Email": "ownerId",
    "Owner": "ownerId",
    "Email": "email",
    "Tags": "tags",
}

# Value vocabularies (keys compared like headers: `Marketing Qualified Lead` = `marketingqualifiedlead`) ----

VALUE_TRANSLATIONS: dict[str, dict[str, str]] = {
    "lifecycleStage": {
        "subscriber": "subscriber",
        "lead": "lead",
        "marketingqualifiedlead": "mql",
        "mql": "mql",
        "salesqualifiedlead": "sql",
        "sql": "sql",
        "opportunity": "opportunity",
        "customer": "customer",
        "evangelist": "evangelist",
        "other": "other",
    },
    "leadStatus": {
        # ours
        "new": "new",
        "contacted": "contacted",
        "qualified": "qualified",
        "unqualified": "unqualified",
        # HubSpot
        "open": "new",
        "attemptedtocontact": "contacted",
        "inprogress": "contacted",
        "connected": "contacted",
        "opendeal": "qualified",
        "badtiming": "unqualified",
        # Salesforce
        "opennotcontacted": "new",
        "workingcontacted": "contacted",
        "closedconverted": "qualified",
        "closednotconverted": "unqualified",
    },
    # Salesforce Rating
    "leadScore": {"hot": "90", "warm": "60", "cold": "30"},
}

# companySize holds a band; a head count (HubSpot "Number of Employees") falls into one.
COMPANY_SIZE_BANDS: tuple[tuple[int, str], ...] = ((10, "1-10"), (50, "11-50"), (200, "51-200"), (500, "201-500"))
LARGEST_COMPANY_BAND = "500+"

# Fields that name a user (by email or id) or a record the importer must be able to see.
OWNER_FIELD = "ownerId"
REFERENCE_FIELDS = {"contacts": "accountId", "accounts": "parentId"}

_SCHEMAS: dict[str, type[BaseModel]] = {"contacts": ContactCreate, "accounts": AccountCreate}
_HEADERS = {"contacts": CONTACT_HEADERS, "accounts": ACCOUNT_HEADERS}
_NOT_WORD = re.compile(r"[\W_]+")


def normalize(text: str) -> str:
    """`State/Region` -> `stateregion`, `first_name` -> `firstname`: letters and digits of any script, folded."""
    return _NOT_WORD.sub("", text.casefold())


def entity_fields(entity_type: str) -> dict[str, str]:
    """The importable fields of a record type: API name -> attribute (from its Create schema)."""
    schema = _SCHEMAS[entity_type]
    return {to_camel(name): name for name in schema.model_fields if name != "custom_fields"}


def required_fields(entity_type: str) -> list[str]:
    schema = _SCHEMAS[entity_type]
    return [to_camel(name) for name, info in schema.model_fields.items() if info.is_required()]


def _vocabulary(entity_type: str) -> dict[str, str]:
    fields = entity_fields(entity_type)
    found = {normalize(header): field for header, field in _HEADERS[entity_type].items()}
    found.update({normalize(field): field for field in fields})  # our own names always win
    unknown = set(found.values()) - set(fields)
    assert not unknown, f"header table names unknown {entity_type} fields: {unknown}"
    return found


_VOCABULARIES = {entity: _vocabulary(entity) for entity in _SCHEMAS}


# Resolving a file's columns ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CustomFieldInfo:
    name: str
    label: str
    field_type: str
    options: tuple[str, ...]
    is_required: bool


@dataclass(frozen=True)
class Column:
    index: int
    header: str
    field: str  # an API field name, or `cf.<name>`

    def as_dict(self) -> dict[str, Any]:
        return {"index": self.index, "header": self.header, "field": self.field}


@dataclass(frozen=True)
class Resolution:
    columns: list[Column]
    unmapped: list[str]

    def mapping(self) -> dict[str, str]:
        return {c.header: c.field for c in self.columns}


def _custom_by_key(custom: Iterable[CustomFieldInfo]) -> tuple[dict[str, str], dict[str, str]]:
    by_name: dict[str, str] = {}
    by_label: dict[str, str] = {}
    for field in custom:
        by_name.setdefault(normalize(field.name), field.name)
        by_label.setdefault(normalize(field.label), field.name)
    return by_name, by_label


def suggest(header: str, entity_type: str, custom: Sequence[CustomFieldInfo]) -> str | None:
    """The field a header maps to by default, or None."""
    names = {f.name for f in custom}
    text = header.strip()
    if text.casefold().startswith(CUSTOM_PREFIX):
        name = text[len(CUSTOM_PREFIX) :].strip()
        if name in names:
            return f"{CUSTOM_PREFIX}{name}"
        by_name, _ = _custom_by_key(custom)
        found = by_name.get(normalize(name))
        return f"{CUSTOM_PREFIX}{found}" if found else None
    key = normalize(text)
    if not key:
        return None
    field = _VOCABULARIES[entity_type].get(key)
    if field is not None:
        return field
    by_name, by_label = _custom_by_key(custom)
    found = by_name.get(key) or by_label.get(key)
    return f"{CUSTOM_PREFIX}{found}" if found else None


def _target(value: str, entity_type: str, custom: Sequence[CustomFieldInfo]) -> str | None:
    """A mapping target as the caller wrote it (`firstName`, `First Name`, `cf.tier`) -> its field."""
    fields = entity_fields(entity_type)
    if value in fields:
        return value
    return suggest(value, entity_type, custom)


def _label(header: str, index: int) -> str:
    return header if header.strip() else f"(column {index + 1})"


def resolve(
    headers: Sequence[str],
    entity_type: str,
    custom: Sequence[CustomFieldInfo],
    overrides: Mapping[str, str | None] | None = None,
) -> Resolution:
    """Map the file's columns to fields: the caller's `overrides` (header -> field, None or "" to ignore the
    column) first, then the automatic suggestion. A field takes the first column that maps to it; later ones
    are unmapped. Raises ValidationFailed for overrides naming a column or field that does not exist."""
    overrides = dict(overrides or {})
    problems: list[dict[str, str]] = []
    chosen: dict[int, str | None] = {}
    first_index: dict[str, int] = {}
    for index, header in enumerate(headers):
        first_index.setdefault(header, index)
    for header, target in overrides.items():
        if header not in first_index:
            problems.append({"field": f"mapping.{header}", "message": "no column with this header in the file"})
            continue
        if target is None or not str(target).strip():
            chosen[first_index[header]] = None
            continue
        field = _target(str(target).strip(), entity_type, custom)
        if field is None:
            problems.append(
                {"field": f"mapping.{header}", "message": f"unknown {entity_type} field or custom field: {target}"}
            )
            continue
        chosen[first_index[header]] = field
    taken = [f for f in chosen.values() if f is not None]
    for field in sorted({f for f in taken if taken.count(f) > 1}):
        problems.append({"field": "mapping", "message": f"several columns map to {field}"})
    if problems:
        raise ValidationFailed("Invalid column mapping: " + "; ".join(p["message"] for p in problems), details=problems)

    columns: list[Column] = []
    unmapped: list[str] = []
    used: set[str] = set(taken)
    for index, header in enumerate(headers):
        if index in chosen:
            field = chosen[index]
        elif first_index[header] != index:
            field = None  # a repeated header: the first column of that name is the one mapped
        else:
            field = suggest(header, entity_type, custom)
            if field in used:
                field = None
        if field is None:
            unmapped.append(_label(header, index))
            continue
        used.add(field)
        columns.append(Column(index, header, field))
    return Resolution(columns, unmapped)


# Values ------------------------------------------------------------------------------------------------

_LIST_SPLIT = re.compile(r"\s*[;,]\s*")
_THOUSANDS_COMMA = re.compile(r"^-?\d{1,3}(,\d{3})+(\.\d+)?$")
_THOUSANDS_DOT = re.compile(r"^-?\d{1,3}(\.\d{3})+(,\d+)?$")
_CURRENCY = re.compile(r"[\s$€£¥]|^[A-Z]{3}\s*|\s*[A-Z]{3}$")
_WHOLE_FLOAT = re.compile(r"^(-?\d+)\.0+$")
_TRUE = frozenset({"true", "yes", "y", "1", "t", "on", "x"})
_FALSE = frozenset({"false", "no", "n", "0", "f", "off"})


# Exports (ours, and spreadsheets') put an apostrophe before text a spreadsheet would run as a formula.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def unescape_formula(value: str) -> str:
    """`'+44 20 7946 0000` -> `+44 20 7946 0000`: the apostrophe an export put before a formula trigger."""
    if value.startswith("'") and value[1:2] and value[1] in FORMULA_TRIGGERS:
        return value[1:]
    return value


def translate(field: str, value: str) -> str:
    """A value in another CRM's vocabulary in ours (`Marketing Qualified Lead` -> `mql`), else unchanged."""
    table = VALUE_TRANSLATIONS.get(field)
    if table is None:
        return value
    return table.get(normalize(value), value)


def split_list(value: str) -> list[str]:
    """`a; b, c` or `["a", "b"]` -> a list of non-empty strings."""
    text = value.strip()
    if text.startswith("["):
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        if isinstance(parsed, list):
            return [str(v).strip() for v in parsed if str(v).strip()]
    return [part for part in _LIST_SPLIT.split(text) if part]


def clean_number(value: str) -> str:
    """`$1,250,000.50` -> `1250000.50`, `1.250.000,50` -> `1250000.50`; anything else unchanged."""
    text = _CURRENCY.sub("", value.strip())
    if not text:
        return value
    if _THOUSANDS_COMMA.match(text):
        return text.replace(",", "")
    if _THOUSANDS_DOT.match(text):
        return text.replace(".", "").replace(",", ".")
    return text


def company_size(value: str) -> str:
    """A head count becomes its band (`250` -> `201-500`); a band or other text is kept."""
    text = clean_number(value)
    whole = _WHOLE_FLOAT.match(text)
    if whole:
        text = whole.group(1)
    if not text.isdigit():
        return value
    count = int(text)
    for limit, band in COMPANY_SIZE_BANDS:
        if count <= limit:
            return band
    return LARGEST_COMPANY_BAND


# Fields whose cells `field_value` changes (the others go to validation as they are).
CONVERTED_FIELDS = frozenset({*VALUE_TRANSLATIONS, "tags", "annualRevenue", "companySize", "leadScore"})


def field_value(field: str, value: str) -> Any:
    """A raw cell for a standard field, shaped for the record's Create/Update schema (which validates it)."""
    value = translate(field, value)
    if field == "tags":
        return split_list(value)
    if field == "annualRevenue":
        return clean_number(value)
    if field == "companySize":
        return company_size(value)
    if field == "leadScore":
        whole = _WHOLE_FLOAT.match(value.strip())
        return whole.group(1) if whole else value
    return value


def custom_value(field: CustomFieldInfo, value: str) -> Any:
    """A raw cell for a custom field, in the type its validation expects; left as text when it cannot be
    read, so that validation reports what is wrong with it."""
    kind = field.field_type
    text = value.strip()
    if kind == "number":
        try:
            return Decimal(clean_number(text))
        except InvalidOperation:
            return value
    if kind == "boolean":
        folded = text.casefold()
        if folded in _TRUE:
            return True
        if folded in _FALSE:
            return False
        return value
    if kind == "date":
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            return value
        if (parsed.hour, parsed.minute, parsed.second, parsed.microsecond) == (0, 0, 0, 0):
            return date(parsed.year, parsed.month, parsed.day)
        return value
    if kind == "select":
        return _option(field, text)
    if kind == "multi_select":
        return [_option(field, part) for part in split_list(text)]
    return value


def _option(field: CustomFieldInfo, value: str) -> str:
    """The option as defined when the value differs only in case (`gold` -> `Gold`)."""
    if value in field.options:
        return value
    folded = value.casefold()
    for option in field.options:
        if option.casefold() == folded:
            return option
    return value
