"""Enrichment and smart field suggestions for contacts and accounts, offline.

What is proposed (each with a confidence, a one-line reason and its source; never written without a person's
acceptance, through core/suggestions):

- contact `account_id`: the account whose domain is the e-mail's (free-mail domains excluded), else a new
  account to create, named after the contact's company or the domain;
- contact `company`, account `name`: the name tidied (legal forms, case, spacing: "ACME corp." → "Acme");
- contact `seniority`, `department`: from the job title (lead scoring's patterns, ai/scoring/leads.py);
- `phone`, `mobile`: the number in E.164 with its country (phonenumbers); a number without a country code is
  read in the record's country, else its account's, else the workspace's (`tenants.settings.country`);
- `address_country`, `address_state`: from the address's state, else a phone's country code; the state from a
  US or Canadian area code; country names standardised ("USA" → "United States");
- account `industry`: from the most similar accounts that have one (MiniLM embeddings,
  ai/insights/enrichment_industry.py), the similarity as confidence;
- `duplicate_of`: core/duplicates' likely duplicates (the newer record is suggested for merging into the older).

**Providers.** Where a paid enrichment service (Clearbit, ZoomInfo, Apollo...) would plug in, an
`EnrichmentProvider` answers `lookup(domain=..., email=...)` with `Suggestion`s for an account's fields; the
built-in `OfflineProvider` (the default, no network) only names a company after its domain. `use_providers`
replaces the list (docs/enrichment.md shows a provider).

The worker (ai/insights/enrichment_tasks.py) runs `enrich_changed` after contacts and accounts are created,
imported or changed: the records changed since its last pass get their open suggestions recomputed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, runtime_checkable
from uuid import UUID

from sqlalchemy import func, or_, text
from sqlalchemy.orm import Session

from ai.insights import enrichment_industry as industry_model
from ai.insights.enrichment_rules import (
    Suggestion,
    company_suggestion,
    country_suggestions,
    normalize_company_name,
    phone_suggestion,
    region_of_address,
    region_of_country,
    region_suggestion,
    title_suggestions,
)
from core.accounts.models import Account
from core.accounts.schemas import domain_of
from core.actor import Actor
from core.contacts.models import Contact
from core.contacts.service import FREE_MAIL_DOMAINS
from core.duplicates import service as duplicates
from core.search.service import prefix_condition
from core.suggestions import service as suggestions
from core.suggestions.schemas import NewSuggestion

__all__ = [
    "EnrichmentProvider",
    "OfflineProvider",
    "Suggestion",
    "enrich",
    "enrich_changed",
    "providers",
    "suggest",
    "use_providers",
]

CHUNK = 500
MAX_CANDIDATES = 50_000  # records read as duplicate candidates for one chunk
OVERLAP = timedelta(seconds=60)  # rows of transactions that committed after a pass had read past their timestamps
FIRST_PASS = timedelta(days=1)  # a workspace's first pass looks back this far (older records: `enrich_all`)
DUPLICATE_REASONS = {
    "same_email": "the same e-mail",
    "similar_name_same_account": "a similar name at the same account",
    "similar_name_same_phone": "a similar name and the same phone",
    "same_domain": "the same domain",
    "similar_name": "a similar name",
}


# Providers ---------------------------------------------------------------------------------------------------


@runtime_checkable
class EnrichmentProvider(Protocol):
    """A source of facts about a company, looked up by its domain or a person's e-mail address.

    `lookup` returns `Suggestion`s for account fields (`name`, `industry`, `phone`, `address_country`,
    `address_state`), each with a confidence (0-1), a one-line reason and `source` "provider:<name>". It is
    called in the worker, never on a request; it must not raise for an unknown domain (return []) and should
    answer within a second or two (it runs once per new domain per pass). Only fields the record has empty are
    proposed from a provider.
    """

    name: str

    def lookup(self, *, domain: str | None = None, email: str | None = None) -> list[Suggestion]: ...


def company_from_domain(domain: str) -> str:
    """`acme-robotics.co.uk` -> `Acme Robotics`: the first label of the domain, in words."""
    words = domain.split(".", 1)[0].replace("_", "-").split("-")
    return " ".join(w[:1].upper() + w[1:] for w in words if w)


class OfflineProvider:
    """The built-in provider: no network, no data set; a company is named after its web domain."""

    name = "offline"

    def lookup(self, *, domain: str | None = None, email: str | None = None) -> list[Suggestion]:
        domain = (domain or domain_of(None, email) or "").lower()
        if not domain or domain in FREE_MAIL_DOMAINS or "." not in domain:
            return []
        name = company_from_domain(domain)
        if not name:
            return []
        return [Suggestion("name", name, name, 0.5, f"Named after the web domain {domain}", "provider:offline")]


_providers: list[EnrichmentProvider] = [OfflineProvider()]


def providers() -> list[EnrichmentProvider]:
    return list(_providers)


def use_providers(chosen: Sequence[EnrichmentProvider]) -> None:
    """Replace the providers consulted (e.g. a paid one first, then the offline one)."""
    for provider in chosen:
        if not isinstance(provider, EnrichmentProvider):
            raise TypeError(f"{provider!r} is not an EnrichmentProvider (name, lookup)")
    _providers[:] = list(chosen)


def _lookup(domain: str | None, cache: dict[str, list[Suggestion]]) -> list[Suggestion]:
    if not domain:
        return []
    if domain not in cache:
        found: list[Suggestion] = []
        for provider in _providers:
            found.extend(provider.lookup(domain=domain))
        cache[domain] = sorted(found, key=lambda s: -s.confidence)
    return cache[domain]


# Computing ---------------------------------------------------------------------------------------------------

_CONTACTS = text(
    """SELECT c.id, c.first_name, c.last_name, c.email, c.phone, c.mobile, c.title, c.department, c.company,
              c.tags, c.account_id, c.address_country, c.address_state, a.address_country AS account_country
         FROM contacts c
         LEFT JOIN accounts a ON a.tenant_id = c.tenant_id AND a.id = c.account_id AND a.deleted_at IS NULL
        WHERE c.tenant_id = :t AND c.id = ANY(CAST(:ids AS uuid[])) AND c.deleted_at IS NULL"""
)
_ACCOUNTS = text(
    """SELECT id, name, domain, industry, phone, description, address_country, address_state FROM accounts
        WHERE tenant_id = :t AND id = ANY(CAST(:ids AS uuid[])) AND deleted_at IS NULL"""
)
_BY_DOMAIN = text(
    """SELECT DISTINCT ON (domain) domain, id, name FROM accounts
        WHERE tenant_id = :t AND deleted_at IS NULL AND domain = ANY(CAST(:domains AS text[]))
        ORDER BY domain, created_at, id"""
)


def _default_region(session: Session, actor: Actor) -> str | None:
    """The workspace's country (`settings.country` of the tenant), for numbers written without a country code."""
    country = session.execute(
        text("SELECT settings ->> 'country' FROM tenants WHERE id = :t"), {"t": actor.tenant_id}
    ).scalar()
    return region_of_country(country)


def _duplicate(other_id: UUID, name: str, reasons: list[str], score: float, what: str) -> Suggestion:
    why = " and ".join(DUPLICATE_REASONS.get(r, r.replace("_", " ")) for r in reasons)
    return Suggestion(
        field=suggestions.DUPLICATE,
        value=str(other_id),
        label=name,
        confidence=float(score),
        reason=f"Probably the same {what} as {name}: {why}",
        source="rule:duplicates",
    )


def _best_older(me: Any, candidates: list[Any], reasons_of: Any) -> tuple[Any, list[str], float] | None:
    """The surest duplicate of `me` among older records (ids are UUIDv7, time-ordered: the older record
    survives, the newer one is suggested for merging into it), by core/duplicates' own reasons."""
    best = None
    for other in candidates:
        if str(other.id) >= str(me.id):
            continue
        reasons, score = reasons_of(me, other)
        if reasons and (best is None or score > best[2]):
            best = (other, reasons, score)
    return best


def _contact_duplicates(session: Session, actor: Actor, rows: Sequence[Any]) -> dict[UUID, Suggestion]:
    """Likely duplicates of a chunk of contacts, with core/duplicates' rules (the same e-mail; a similar name at
    the same account or with the same phone), candidates read in one query for the chunk."""
    emails = {r.email for r in rows if r.email}
    account_ids = {r.account_id for r in rows if r.account_id is not None}
    keys = {k for r in rows for k in (duplicates.phone_key(r.phone), duplicates.phone_key(r.mobile)) if k}
    conditions = []
    if emails:
        conditions.append(Contact.email.in_(emails))
    if account_ids:
        conditions.append(Contact.account_id.in_(account_ids))
    for column in (Contact.phone, Contact.mobile):
        if keys:
            conditions.append(func.right(func.regexp_replace(column, r"\D", "", "g"), 9).in_(keys))
    if not conditions:
        return {}
    candidates = session.execute(duplicates._contact_rows(actor).where(or_(*conditions)).limit(MAX_CANDIDATES)).all()
    by_email, by_account, by_phone = defaultdict(list), defaultdict(list), defaultdict(list)
    for c in candidates:
        if c.email:
            by_email[c.email].append(c)
        if c.account_id is not None:
            by_account[c.account_id].append(c)
        for key in {duplicates.phone_key(c.phone), duplicates.phone_key(c.mobile)} - {None}:
            by_phone[key].append(c)
    out = {}
    for me in rows:
        pool = {c.id: c for c in by_email.get(me.email or "", [])}
        pool.update({c.id: c for c in by_account.get(me.account_id, [])})
        for key in {duplicates.phone_key(me.phone), duplicates.phone_key(me.mobile)} - {None}:
            pool.update({c.id: c for c in by_phone.get(key, [])})
        best = _best_older(me, list(pool.values()), duplicates._contact_reasons)
        if best is not None:
            other, reasons, score = best
            out[me.id] = _duplicate(other.id, f"{other.first_name} {other.last_name}", reasons, score, "person")
    return out


def _account_duplicates(session: Session, actor: Actor, rows: Sequence[Any]) -> dict[UUID, Suggestion]:
    """Likely duplicates of a chunk of accounts (the same domain, or a similar name once normalised), compared
    with the workspace's accounts that share a domain or the first letters of the normalised name."""
    prefixes = {duplicates.normalize_company(r.name)[:3] for r in rows} - {""}
    domains = {r.domain for r in rows if r.domain}
    if not prefixes and not domains:
        return {}
    # Candidates selected in SQL (the domain, or a name starting with one of the normalised prefixes, on the
    # (tenant_id, name) index), not the whole table per chunk.
    conditions = [Account.domain.in_(domains)] if domains else []
    conditions += [prefix_condition(Account.name, prefix) for prefix in prefixes]
    by_domain, by_prefix = defaultdict(list), defaultdict(list)
    for c in session.execute(duplicates._account_rows(actor).where(or_(*conditions)).limit(MAX_CANDIDATES)):
        if c.domain in domains:
            by_domain[c.domain].append(c)
        prefix = duplicates.normalize_company(c.name)[:3]
        if prefix in prefixes:
            by_prefix[prefix].append(c)
    out = {}
    for me in rows:
        pool = {c.id: c for c in by_domain.get(me.domain or "", [])}
        pool.update({c.id: c for c in by_prefix.get(duplicates.normalize_company(me.name)[:3], [])})
        best = _best_older(me, list(pool.values()), duplicates._account_reasons)
        if best is not None:
            other, reasons, score = best
            out[me.id] = _duplicate(other.id, other.name, reasons, score, "company")
    return out


def _contact_suggestions(
    row: Any,
    *,
    region: str | None,
    seniority_now: str | None,
    domains: dict[str, Any],
    cache: dict[str, list[Suggestion]],
    duplicate: Suggestion | None,
) -> list[Suggestion]:
    out: list[Suggestion] = []
    domain = domain_of(None, row.email)
    if row.account_id is None and domain and domain not in FREE_MAIL_DOMAINS:
        match = domains.get(domain)
        if match is not None:
            out.append(
                Suggestion(
                    "account_id",
                    str(match.id),
                    match.name,
                    0.95,
                    f"The e-mail domain {domain} is the account {match.name}'s",
                    "rule:email_domain",
                )
            )
        else:
            named = normalize_company_name(row.company) if row.company else None
            looked = [s for s in _lookup(domain, cache) if s.field == "name"]
            name = named or (looked[0].value if looked else None)
            if name:
                source = "rule:email_domain" if named else looked[0].source
                out.append(
                    Suggestion(
                        "account_id",
                        {"name": name, "website": domain},
                        f"New account: {name} ({domain})",
                        0.6,
                        f"No account has the e-mail domain {domain} yet: create {name} for it",
                        source,
                    )
                )
    tidy = company_suggestion("company", row.company)
    if tidy is not None:
        out.append(tidy)
    elif not (row.company or "").strip() and domain and domain not in FREE_MAIL_DOMAINS:
        looked = [s for s in _lookup(domain, cache) if s.field == "name"]
        if looked:
            s = looked[0]
            out.append(Suggestion("company", s.value, s.label, s.confidence, s.reason, s.source, s.model_version))
    out.extend(title_suggestions(row.title, department=row.department, seniority_now=seniority_now))
    phones = [("phone", row.phone), ("mobile", row.mobile)]
    for field, raw in phones:
        found = phone_suggestion(field, raw, region, field)
        if found is not None:
            out.append(found)
    out.extend(country_suggestions(row.address_country, row.address_state, phones))
    state = region_suggestion(row.address_state, row.address_country, phones)
    if state is not None:
        out.append(state)
    if duplicate is not None:
        out.append(duplicate)
    return out


def _account_suggestions(
    row: Any,
    *,
    region: str | None,
    industry: Suggestion | None,
    cache: dict[str, list[Suggestion]],
    duplicate: Suggestion | None,
) -> list[Suggestion]:
    out: list[Suggestion] = []
    tidy = company_suggestion("name", row.name)
    if tidy is not None:
        out.append(tidy)
    phones = [("phone", row.phone)]
    place = region_of_address(row.address_country, row.address_state) or region
    found = phone_suggestion("phone", row.phone, place, "phone")
    if found is not None:
        out.append(found)
    out.extend(country_suggestions(row.address_country, row.address_state, phones))
    state = region_suggestion(row.address_state, row.address_country, phones)
    if state is not None:
        out.append(state)
    if industry is not None:
        out.append(industry)
    taken = {s.field for s in out}
    for s in _lookup(row.domain, cache):
        if s.field in ("industry", "phone", "address_country", "address_state") and s.field not in taken:
            if not (getattr(row, s.field) or "").strip():
                out.append(s)
                taken.add(s.field)
    if duplicate is not None:
        out.append(duplicate)
    return out


def _best_per_field(found: list[Suggestion]) -> list[Suggestion]:
    """One suggestion per field: the surest (two rules may propose the same field)."""
    best: dict[str, Suggestion] = {}
    for s in found:
        if s.field not in best or s.confidence > best[s.field].confidence:
            best[s.field] = s
    return list(best.values())


def suggest(session: Session, actor: Actor, entity_type: str, ids: Sequence[UUID]) -> list[NewSuggestion]:
    """What enrichment proposes now for these records (contacts or accounts of the actor's tenant)."""
    cache: dict[str, list[Suggestion]] = {}
    region = _default_region(session, actor)
    out: list[NewSuggestion] = []
    if entity_type == "contacts":
        rows = session.execute(_CONTACTS, {"t": actor.tenant_id, "ids": list(ids)}).all()
        wanted = sorted({d for r in rows if (d := domain_of(None, r.email)) and d not in FREE_MAIL_DOMAINS})
        domains = {r.domain: r for r in session.execute(_BY_DOMAIN, {"t": actor.tenant_id, "domains": wanted})}
        seniority_field = suggestions._seniority_field(session, actor)
        custom: dict[UUID, dict[str, Any]] = defaultdict(dict)
        if seniority_field:
            from core.custom_fields import service as custom_fields

            custom.update(custom_fields.values_for(session, actor, "contacts", [r.id for r in rows]))
        twins = _contact_duplicates(session, actor, rows)
        for row in rows:
            tagged = [t[len(suggestions.SENIORITY_TAG) :] for t in row.tags if t.startswith(suggestions.SENIORITY_TAG)]
            seniority_now = custom[row.id].get(suggestions.SENIORITY) if seniority_field else (tagged or [None])[0]
            current = {
                "account_id": row.account_id,
                "company": row.company,
                "department": row.department,
                "phone": row.phone,
                "mobile": row.mobile,
                "address_country": row.address_country,
                "address_state": row.address_state,
                suggestions.SENIORITY: seniority_now,
                suggestions.DUPLICATE: None,
            }
            place = (
                region_of_address(row.address_country, row.address_state)
                or region_of_country(row.account_country)
                or region
            )
            found = _contact_suggestions(
                row,
                region=place,
                seniority_now=seniority_now,
                domains=domains,
                cache=cache,
                duplicate=twins.get(row.id),
            )
            out.extend(_new("contacts", row.id, s, current[s.field]) for s in _best_per_field(found))
        return out
    rows = session.execute(_ACCOUNTS, {"t": actor.tenant_id, "ids": list(ids)}).all()
    industries = industry_model.suggest(session, actor.tenant_id, rows)
    twins = _account_duplicates(session, actor, rows)
    for row in rows:
        found = _account_suggestions(
            row, region=region, industry=industries.get(row.id), cache=cache, duplicate=twins.get(row.id)
        )
        out.extend(
            _new("accounts", row.id, s, None if s.field == suggestions.DUPLICATE else getattr(row, s.field))
            for s in _best_per_field(found)
        )
    return out


def _new(entity_type: str, entity_id: UUID, s: Suggestion, current: Any) -> NewSuggestion:
    return NewSuggestion(
        entity_type=entity_type,
        entity_id=entity_id,
        field=s.field,
        current_value=current,
        suggested_value=s.value,
        suggested_label=s.label,
        confidence=s.confidence,
        reason=s.reason,
        source=s.source,
        model_version=s.model_version,
    )


def enrich(session: Session, actor: Actor, entity_type: str, ids: Sequence[UUID]) -> int:
    """Recompute the open suggestions of these records; returns how many were written."""
    written = 0
    for lo in range(0, len(ids), CHUNK):
        chunk = list(ids[lo : lo + CHUNK])
        written += suggestions.replace_open(
            session, actor, entity_type, chunk, suggest(session, actor, entity_type, chunk)
        )
    return written


_CHANGED = {
    "contacts": text(
        "SELECT id FROM contacts WHERE tenant_id = :t AND updated_at > :since AND deleted_at IS NULL"
        " ORDER BY updated_at, id"
    ),
    "accounts": text(
        "SELECT id FROM accounts WHERE tenant_id = :t AND updated_at > :since AND deleted_at IS NULL"
        " ORDER BY updated_at, id"
    ),
}


def enrich_changed(session: Session, actor: Actor, *, now: datetime | None = None) -> dict[str, Any]:
    """Suggestions for the contacts and accounts created or changed since the last pass (the first pass looks
    back `FIRST_PASS`); accounts first, so that a contact imported with its account is matched to it."""
    now = now or datetime.now(UTC)
    since = suggestions.enriched_through(session, actor) or (now - FIRST_PASS)
    result: dict[str, Any] = {}
    for entity_type in ("accounts", "contacts"):
        ids = list(session.execute(_CHANGED[entity_type], {"t": actor.tenant_id, "since": since - OVERLAP}).scalars())
        result[entity_type] = {"records": len(ids), "written": enrich(session, actor, entity_type, ids)}
    suggestions.mark_enriched(session, actor, now)
    return result


def enrich_all(session: Session, actor: Actor, entity_type: str, progress: Any = None) -> int:
    """Every contact or account of the workspace (a backfill, e.g. after the rules change)."""
    ids = list(
        session.execute(
            text(f"SELECT id FROM {entity_type} WHERE tenant_id = :t AND deleted_at IS NULL ORDER BY id"),
            {"t": actor.tenant_id},
        ).scalars()
    )
    written = 0
    for lo in range(0, len(ids), CHUNK):
        written += enrich(session, actor, entity_type, ids[lo : lo + CHUNK])
        if progress is not None:
            progress(min(99, int(100 * (lo + CHUNK) / max(len(ids), 1))), f"{entity_type}: {lo + CHUNK:,} enriched")
    return written
