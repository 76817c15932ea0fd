"""The lead features: every column the scoring frame has (ai/scoring/leads.py builds them, as of the moment a
lead is scored), with its label in plain words and its kind. Rules name these fields; so do the reasons.

Custom fields of contacts and of their accounts join them as `cf_<field_name>` and `account_cf_<field_name>`,
typed by the custom field (select → category, number → number, boolean → boolean, date → days before the
scoring moment, text → category).
"""

from __future__ import annotations

from typing import Literal

Kind = Literal["category", "number", "boolean"]

# name -> (label, kind)
FIELDS: dict[str, tuple[str, Kind]] = {
    "lead_source": ("Lead source", "category"),
    "title_seniority": ("Seniority", "category"),
    "title_function": ("Job function", "category"),
    "department": ("Department", "category"),
    "country": ("Country", "category"),
    "email_kind": ("Email address", "category"),
    "has_phone": ("Has a phone number", "boolean"),
    "has_linkedin": ("Has a LinkedIn profile", "boolean"),
    "industry": ("Industry", "category"),
    "company_size": ("Company size", "category"),
    "annual_revenue": ("Company revenue", "number"),
    "lead_age_days": ("Days since the lead arrived", "number"),
    "activities": ("Activities", "number"),
    "activities_per_week": ("Activities per week", "number"),
    "emails": ("Emails", "number"),
    "calls": ("Calls", "number"),
    "meetings": ("Meetings", "number"),
    "emails_opened": ("Emails opened", "number"),
    "emails_clicked": ("Emails clicked", "number"),
    "emails_replied": ("Emails replied to", "number"),
    "inbound_touches": ("Inbound emails and calls", "number"),
    "calls_connected": ("Calls connected", "number"),
    "meetings_held": ("Meetings held", "number"),
    "days_since_last_activity": ("Days since the last activity", "number"),
    "first_response_days": ("Days to the first touch", "number"),
    "account_won_deals": ("Earlier wins at the account", "number"),
    "account_open_deals": ("Open deals at the account", "number"),
    "account_won_cycle_days": ("Days the account's wins took", "number"),
}

CUSTOM_PREFIX = "cf_"
ACCOUNT_CUSTOM_PREFIX = "account_cf_"


def label(name: str) -> str:
    """Plain words for a feature ("lead_source" → "Lead source", "cf_budget" → "Budget")."""
    if name in FIELDS:
        return FIELDS[name][0]
    for prefix, owner in ((ACCOUNT_CUSTOM_PREFIX, "Account "), (CUSTOM_PREFIX, "")):
        if name.startswith(prefix):
            words = name[len(prefix) :].replace("_", " ")
            return (owner + words) if owner else words[:1].upper() + words[1:]
    return name.replace("_", " ").capitalize()
