"""The offline rules of enrichment, as pure functions of a record's values (no database, no network):
company names tidied, seniority and function from a job title, phone numbers in E.164, country and region from a
phone number or an address. Each returns `Suggestion`s with a confidence and a one-line reason; ai/insights/
enrichment.py decides which records they run on and keeps what they propose.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import phonenumbers
from phonenumbers import geocoder

from ai.scoring.leads import FUNCTION, SENIORITY

RULES_VERSION = "rules-1"


@dataclass(frozen=True)
class Suggestion:
    """A proposed value for one field: what a rule, a model or a provider thinks the field should hold."""

    field: str
    value: Any
    label: str
    confidence: float
    reason: str
    source: str
    model_version: str | None = RULES_VERSION


# Company names -----------------------------------------------------------------------------------------------

# Legal forms dropped from the end of a name (compared without dots: "L.L.C." is "llc").
LEGAL_FORMS = frozenset(
    {
        "inc",
        "incorporated",
        "llc",
        "llp",
        "lp",
        "ltd",
        "limited",
        "gmbh",
        "ag",
        "sa",
        "sas",
        "sarl",
        "srl",
        "spa",
        "bv",
        "nv",
        "oy",
        "ab",
        "as",
        "kg",
        "corp",
        "corporation",
        "co",
        "plc",
        "pty",
        "pte",
    }
)
_JOINERS = frozenset({"and", "&", "of", "the", "de", "der", "du", "la", "le", "y", "und", "et"})
_TRAILING = re.compile(r"[\s,.;:&-]+$")


def _form(word: str) -> str:
    return word.lower().replace(".", "").strip(",;:")


def _case(word: str, first: bool) -> str:
    letters = [c for c in word if c.isalpha()]
    if not letters or any(c.isdigit() for c in word):
        return word
    if word.isupper():
        # short all-capitals words are acronyms (IBM, SAP, HP); longer ones are shouting (ACME)
        return word if len(letters) <= 3 else word.capitalize()
    if word.islower():
        return word if (word in _JOINERS and not first) else word[:1].upper() + word[1:]
    return word  # mixed case was chosen on purpose (McKinsey, eBay)


def normalize_company_name(name: str | None) -> str | None:
    """`  ACME   corp. ` -> `Acme`: whitespace collapsed, legal forms dropped from the end, shouting and
    all-lower-case words capitalised (acronyms of up to 3 letters and mixed case kept). None when empty."""
    words = (name or "").split()
    while len(words) > 1 and _form(words[-1]) in LEGAL_FORMS:
        words.pop()
        while len(words) > 1 and _form(words[-1]) in ("and", "&", ""):
            words.pop()
    if not words:
        return None
    tidy = " ".join(_case(w, i == 0) for i, w in enumerate(words))
    tidy = _TRAILING.sub("", tidy) or tidy
    return tidy or None


def company_suggestion(field: str, name: str | None) -> Suggestion | None:
    """The tidied company name for `field` (an account's name, a contact's company) when it differs."""
    if not name or not name.strip():
        return None
    tidy = normalize_company_name(name)
    if tidy is None or tidy == name:
        return None
    spaced = " ".join(name.split())
    dropped_form = len(tidy.split()) < len(spaced.split())
    kept = " ".join(spaced.split()[: len(tidy.split())])
    if dropped_form:
        what = "legal form dropped" + ("" if _TRAILING.sub("", kept) == tidy else " and case tidied")
    elif tidy.lower() == spaced.lower() and tidy != spaced:
        what = "letter case tidied"
    else:
        what = "spacing tidied"
    return Suggestion(
        field=field,
        value=tidy,
        label=tidy,
        confidence=0.8 if dropped_form else 0.7,
        reason=f"Company name {what}: '{spaced}' → '{tidy}'",
        source="rule:company_name",
    )


# Titles ------------------------------------------------------------------------------------------------------

_SENIORITY = [(name, re.compile(pattern)) for name, pattern in SENIORITY]
_FUNCTION = [(name, re.compile(pattern)) for name, pattern in FUNCTION]
INDIVIDUAL = SENIORITY[-1][0]


def parse_title(title: str | None) -> tuple[str | None, str | None, str | None]:
    """(seniority, function, the words that decided the seniority) from a job title, with lead scoring's
    patterns (ai/scoring/leads.py): first match wins. Seniority is "Individual contributor" when no senior word
    is found; function is None when no function word is."""
    if not title or not title.strip():
        return None, None, None
    lowered = title.lower()
    seniority, cue = INDIVIDUAL, None
    for name, pattern in _SENIORITY[:-1]:
        found = pattern.search(lowered)
        if found:
            seniority, cue = name, found.group(0)
            break
    function = next((name for name, pattern in _FUNCTION if pattern.search(lowered)), None)
    return seniority, function, cue


def title_suggestions(title: str | None, *, department: str | None, seniority_now: str | None) -> list[Suggestion]:
    """Seniority (when none is recorded) and department (the job function, when the department is empty)."""
    seniority, function, cue = parse_title(title)
    out = []
    if seniority and not seniority_now:
        out.append(
            Suggestion(
                field="seniority",
                value=seniority,
                label=seniority,
                confidence=0.85 if cue else 0.55,
                reason=(
                    f"The title '{title}' says '{cue}': {seniority}"
                    if cue
                    else f"No senior word (chief, VP, director, manager...) in the title '{title}'"
                ),
                source="rule:title",
            )
        )
    if function and not (department or "").strip():
        out.append(
            Suggestion(
                field="department",
                value=function,
                label=function,
                confidence=0.75,
                reason=f"The title '{title}' is {'an' if function[0] in 'AEIOU' else 'a'} {function.lower()} role",
                source="rule:title",
            )
        )
    return out


# Countries ---------------------------------------------------------------------------------------------------

US_STATES = {
    "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California", "CO": "Colorado",
    "CT": "Connecticut", "DE": "Delaware", "DC": "District of Columbia", "FL": "Florida", "GA": "Georgia",
    "HI": "Hawaii", "ID": "Idaho", "IL": "Illinois", "IN": "Indiana", "IA": "Iowa", "KS": "Kansas",
    "KY": "Kentucky", "LA": "Louisiana", "ME": "Maine", "MD": "Maryland", "MA": "Massachusetts",
    "MI": "Michigan", "MN": "Minnesota", "MS": "Mississippi", "MO": "Missouri", "MT": "Montana",
    "NE": "Nebraska", "NV": "Nevada", "NH": "New Hampshire", "NJ": "New Jersey", "NM": "New Mexico",
    "NY": "New York", "NC": "North Carolina", "ND": "North Dakota", "OH": "Ohio", "OK": "Oklahoma",
    "OR": "Oregon", "PA": "Pennsylvania", "RI": "Rhode Island", "SC": "South Carolina", "SD": "South Dakota",
    "TN": "Tennessee", "TX": "Texas", "UT": "Utah", "VT": "Vermont", "VA": "Virginia", "WA": "Washington",
    "WV": "West Virginia", "WI": "Wisconsin", "WY": "Wyoming",
}  # fmt: skip
CA_PROVINCES = {
    "AB": "Alberta", "BC": "British Columbia", "MB": "Manitoba", "NB": "New Brunswick",
    "NL": "Newfoundland and Labrador", "NS": "Nova Scotia", "NT": "Northwest Territories", "NU": "Nunavut",
    "ON": "Ontario", "PE": "Prince Edward Island", "QC": "Quebec", "SK": "Saskatchewan", "YT": "Yukon",
}  # fmt: skip
# Common ways of writing a country that are not its name.
COUNTRY_ALIASES = {
    "us": "US", "usa": "US", "u.s.": "US", "u.s.a.": "US", "united states of america": "US", "america": "US",
    "uk": "GB", "u.k.": "GB", "england": "GB", "great britain": "GB", "britain": "GB", "scotland": "GB",
    "wales": "GB", "deutschland": "DE", "españa": "ES", "espana": "ES", "holland": "NL", "the netherlands": "NL",
    "schweiz": "CH", "suisse": "CH", "österreich": "AT", "italia": "IT", "brasil": "BR", "méxico": "MX",
}  # fmt: skip


@lru_cache(maxsize=1)
def _countries() -> tuple[dict[str, str], dict[str, str]]:
    """(region code -> English country name, lower-case name -> region code), from phonenumbers' own data."""
    names: dict[str, str] = {}
    for region in phonenumbers.SUPPORTED_REGIONS:
        example = phonenumbers.example_number(region)
        name = geocoder.country_name_for_number(example, "en") if example is not None else ""
        if name:
            names[region] = name
    return names, {name.lower(): region for region, name in names.items()}


def country_name(region: str | None) -> str | None:
    return _countries()[0].get(region or "")


def region_of_country(country: str | None) -> str | None:
    """The two-letter region of a country as people write it ("United States", "USA", "us", "DE")."""
    if not country or not country.strip():
        return None
    key = " ".join(country.split()).lower()
    names, regions = _countries()
    if key in regions:
        return regions[key]
    if key in COUNTRY_ALIASES:
        return COUNTRY_ALIASES[key]
    if len(key) == 2 and key.upper() in names:
        return key.upper()
    return None


def region_of_address(country: str | None, state: str | None) -> str | None:
    """The region of an address: its country, else the country its state or province is in."""
    region = region_of_country(country)
    if region or not state or not state.strip():
        return region
    key = state.strip()
    for table, code in ((US_STATES, "US"), (CA_PROVINCES, "CA")):
        if key.upper() in table or key.lower() in {v.lower() for v in table.values()}:
            return code
    return None


def country_suggestions(
    country: str | None, state: str | None, phones: list[tuple[str, str | None]]
) -> list[Suggestion]:
    """The country: its standard name when written otherwise ("USA" → "United States"), or, when empty, from the
    state/province of the address, else from the first valid phone number with a country code."""
    if country and country.strip():
        region = region_of_country(country)
        name = country_name(region)
        if name and name != country:
            return [
                Suggestion(
                    "address_country",
                    name,
                    name,
                    0.9,
                    f"Country name standardised: '{country}' → '{name}'",
                    "rule:country_name",
                )
            ]
        return []
    key = (state or "").strip()
    for table, region in ((US_STATES, "US"), (CA_PROVINCES, "CA")):
        if key.upper() in table or key.lower() in {v.lower() for v in table.values()}:
            name = country_name(region) or region
            return [
                Suggestion(
                    "address_country",
                    name,
                    name,
                    0.9,
                    f"The address is in {key}, which is in {name}",
                    "rule:country_from_address",
                )
            ]
    for label, raw in phones:
        parsed = parse_phone(raw, None)
        if parsed is not None and phonenumbers.is_valid_number(parsed):
            region = phonenumbers.region_code_for_number(parsed)
            name = country_name(region)
            if name:
                return [
                    Suggestion(
                        "address_country",
                        name,
                        name,
                        0.75,
                        f"The {label} {raw} has the country code of {name}",
                        "rule:country_from_phone",
                    )
                ]
    return []


def region_suggestion(
    state: str | None, country: str | None, phones: list[tuple[str, str | None]]
) -> Suggestion | None:
    """The state (US, as its two letters) or province (Canada) from a phone's area code, when the address has
    none and the number is of the address's country (or the country is empty)."""
    if state and state.strip():
        return None
    wanted = region_of_country(country) if country else None
    for label, raw in phones:
        parsed = parse_phone(raw, wanted)
        if parsed is None or not phonenumbers.is_valid_number(parsed):
            continue
        region = phonenumbers.region_code_for_number(parsed)
        if region not in ("US", "CA") or (wanted and wanted != region):
            continue
        place = geocoder.description_for_number(parsed, "en")
        value = None
        if region == "US" and ", " in place and place.rsplit(", ", 1)[1] in US_STATES:
            value = place.rsplit(", ", 1)[1]
        elif region == "CA" and place in CA_PROVINCES.values():
            value = place
        if value:
            area = phonenumbers.national_significant_number(parsed)[:3]
            return Suggestion(
                "address_state",
                value,
                value,
                0.6,
                f"The {label}'s area code {area} is in {place}",
                "rule:region_from_phone",
            )
    return None


# Phones ------------------------------------------------------------------------------------------------------


def parse_phone(raw: str | None, region: str | None) -> phonenumbers.PhoneNumber | None:
    if not raw or not raw.strip():
        return None
    try:
        return phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None


def phone_suggestion(field: str, raw: str | None, region: str | None, label: str) -> Suggestion | None:
    """The number in E.164 (`+14155550123`) with its country, when it is a valid number written otherwise.
    `region` is the country assumed for numbers written without a country code (the record's country)."""
    parsed = parse_phone(raw, region)
    if parsed is None or not phonenumbers.is_valid_number(parsed):
        return None
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    if e164 == raw:
        return None
    where = country_name(phonenumbers.region_code_for_number(parsed)) or "its country code"
    assumed = "" if (raw or "").lstrip().startswith(("+", "00")) else f" (assumed {where}: no country code)"
    return Suggestion(
        field=field,
        value=e164,
        label=f"{e164} ({where})",
        confidence=0.95 if not assumed else 0.8,
        reason=f"The {label} {raw} written in international format (E.164): {where}{assumed}",
        source="rule:phone_e164",
    )
