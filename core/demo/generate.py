"""The simulation behind the demo data: a sales history drawn from a `Truth`, as batches of rows ready to load.

Leads (contacts) arrive over three years with the planted trend, seasonality and weekday rhythm, at accounts
that exist by then; each is worked (activities, more for engaged leads) until it is qualified into a deal or
dropped, with the planted conversion effects. Deals walk the tenant's real pipeline stage by stage with
durations set by the rep's speed and the team's cycle, end won or lost (lost ones with a reason, some after
going dark for months) or are still open at the as-of date; wins in a quarter's first two months are partly
pulled into its last days. Tasks, notes of a known tone, custom field values and a few duplicate contacts
complete the picture. The realised figures are tallied for the truth file as the rows are made.

Everything is deterministic: the generator draws from numpy generators seeded with (seed, stream, chunk) and
from Faker pools seeded with the seed, so the same seed, scale, as-of date and world (tenant, users, stages,
fields) give byte-identical batches, ids included (ids are UUIDv7 built from each record's time and a seeded
stream that also mixes in the tenant's slug, so two demo tenants never share ids). Contacts are made in
chunks of `Scale.chunk_contacts`, each with everything that hangs off them, so memory stays bounded at any
scale.

Every record is checked by the schema the API checks it with (AccountCreate, ContactCreate, DealCreate,
ActivityCreate, TaskCreate, NoteCreate), deals by the deal service's outcome rule, custom values by the
custom field service's coercion, and each stage history is checked (in time order, nothing after the as-of
date, only its last entry closed; it ends at the deal's stage by construction, as owners are the tenant's
users by construction), so a generator bug fails the seed instead of loading what the API would refuse.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
from pydantic import ValidationError

from core.accounts.schemas import AccountCreate, domain_of
from core.activities.schemas import ActivityCreate
from core.activities.service import CONTACTING_TYPES
from core.contacts.schemas import ContactCreate
from core.custom_fields import service as custom_field_rules
from core.custom_fields.models import CustomField
from core.deals import service as deal_rules
from core.deals.schemas import DealCreate
from core.demo.load import COLUMNS, Batch, table_batch
from core.demo.truth import NOTE_TEMPLATES, TITLES, Truth, with_calibration
from core.duplicates.service import NAME_THRESHOLD, name_similarity
from core.errors import ValidationFailed
from core.notes.schemas import NoteCreate
from core.pipelines.models import Stage
from core.tasks.schemas import TaskCreate

DAY = 86_400
# Independent random streams (truth.draw uses 1): changing how one part draws leaves the others as they were.
_STREAM_ARRIVALS, _STREAM_ACCOUNTS, _STREAM_CHUNK, _STREAM_PROBE, _STREAM_IDS = range(3, 8)
# The planted anomalies and churners draw from streams of their own (so the history around them is unchanged).
_STREAM_PLANT, _STREAM_PLANT_CHUNK, _STREAM_PLANT_IDS = range(8, 11)

PRODUCTS = ("Platform", "Analytics Suite", "Data Connectors", "Premium Support", "Team Licenses", "Onboarding")
ACCOUNT_TAGS = (("partner", 0.04), ("target", 0.08), ("reference", 0.03))
CONTACT_TAGS = (("newsletter", 0.15), ("event", 0.08), ("vip", 0.02))
COMPANY_SUFFIXES = ("Inc", "LLC", "Group", "Ltd", "PLC", "Holdings", "Partners", "Labs", "Systems", "Co")
TIERS = ("Strategic", "Enterprise", "Growth", "Standard")
COMPETITORS = ("None", "Incumbent vendor", "Low-cost rival", "In-house build", "Other")
AREA_CODES = tuple(range(201, 990, 7))

# Planted close-date pushes are updates the CRM records in its audit trail: rows as the audit trigger writes them.
# (Registered here for the loader; not in LOAD_ORDER, so neither counted nor cleared as records.)
COLUMNS.setdefault(
    "audit_logs",
    (
        "id",
        "tenant_id",
        "user_id",
        "entity_type",
        "entity_id",
        "action",
        "old_values",
        "new_values",
        "via",
        "created_at",
    ),
)

# name on the record type, label, type, options: what `CustomFieldCreate` gets for the demo's fields
CUSTOM_FIELDS: tuple[tuple[str, str, str, str, tuple[str, ...] | None], ...] = (
    ("accounts", "tier", "Tier", "select", TIERS),
    ("accounts", "seats", "Seats", "number", None),
    ("contacts", "newsletter_opt_in", "Newsletter opt-in", "boolean", None),
    ("deals", "contract_start", "Contract start", "date", None),
    ("deals", "competitor", "Competitor", "select", COMPETITORS),
)

EMAIL_SUBJECTS = (
    "Intro: {product} for {company}",
    "Following up",
    "Re: pricing for {company}",
    "The case study you asked for",
    "Quick question, {first}",
    "Proposal for {company}",
    "Recap of our meeting",
)
CALL_SUBJECTS = ("Discovery call with {first}", "Check-in call", "Follow-up call", "Call about {product}")
MEETING_SUBJECTS = (
    "Demo of {product}",
    "Discovery meeting at {company}",
    "Negotiation meeting",
    "Business review with {company}",
)
OTHER_SUBJECTS = ("LinkedIn message to {first}", "Sent brochure by post")
ACTIVITY_BODIES = (
    "Discussed requirements and next steps.",
    "Walked through the pricing options.",
    "Reviewed the implementation timeline.",
    "Agreed to follow up next week.",
    "Answered questions about integrations.",
)
NEXT_STEPS = ("Schedule discovery call", "Confirm requirements", "Send proposal", "Negotiate terms", "Get signature")
TASK_TITLES_DONE = (
    "Prepare the {product} demo",
    "Send proposal to {first}",
    "Check references for {company}",
    "Follow up with {first}",
)
TASK_TITLES_OPEN = ("Follow up with {first}", "Send revised quote to {company}", "Book the next meeting with {first}")


@dataclass(frozen=True)
class World:
    """What the database contributes: the tenant, its users (aligned with `Truth.people`), the default
    pipeline's stages and the custom field definitions. Plain copies, safe to read from another thread."""

    tenant_id: str
    slug: str
    pipeline_id: str
    currency: str
    open_stages: tuple[Stage, ...]
    won_stage: Stage
    lost_stage: Stage
    user_ids: tuple[str, ...]
    fields: dict[str, CustomField]


@dataclass
class Pools:
    """Faker-made name pools (built once, then combined: calling Faker per record is far too slow)."""

    first_names: list[str]
    last_names: list[str]
    streets: list[str]
    places: list[tuple[str, str, str]]


def make_pools(seed: int) -> Pools:
    from faker import Faker

    fake = Faker("en_US")
    fake.seed_instance(seed + 1)
    return Pools(
        first_names=[fake.first_name() for _ in range(1500)],
        last_names=[fake.last_name() for _ in range(2000)],
        streets=[fake.street_address() for _ in range(800)],
        places=[(fake.city(), fake.state_abbr(), fake.postcode()) for _ in range(400)],
    )


def _rng(*keys: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(list(keys))))


def _salt(slug: str) -> int:
    return int.from_bytes(hashlib.blake2b(slug.encode(), digest_size=4).digest(), "big")


def sigmoid(x: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-x)))


def _epoch(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


# Formatting ----------------------------------------------------------------------------------------------

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_DASHES = (8, 13, 18, 23)
_HEX_POSITIONS = np.array([i for i in range(36) if i not in _DASHES])


def uuid7s(seconds: np.ndarray, rng: np.random.Generator) -> list[str]:
    """UUIDv7 strings whose time prefix is each record's own time (in ms, with a random sub-second part),
    the rest from `rng`: time-ordered like the application's ids, and reproducible."""
    n = len(seconds)
    if n == 0:
        return []
    ms = seconds.astype(np.int64) * 1000 + rng.integers(0, 1000, n)
    raw = np.empty((n, 16), dtype=np.uint8)
    for i, shift in enumerate((40, 32, 24, 16, 8, 0)):
        raw[:, i] = (ms >> shift) & 0xFF
    raw[:, 6:] = rng.integers(0, 256, (n, 10), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x70
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    hexed = np.empty((n, 32), dtype=np.uint8)
    hexed[:, 0::2] = _HEX[raw >> 4]
    hexed[:, 1::2] = _HEX[raw & 0x0F]
    out = np.full((n, 36), ord("-"), dtype=np.uint8)
    out[:, _HEX_POSITIONS] = hexed
    return [b.decode() for b in out.view("S36").ravel().tolist()]


def timestamps(seconds: np.ndarray) -> list[str]:
    """ISO 8601 in UTC with a Z (what both pydantic and PostgreSQL read)."""
    if len(seconds) == 0:
        return []
    return list(np.datetime_as_string(np.asarray(seconds, dtype=np.int64).astype("datetime64[s]"), timezone="UTC"))


def dates(seconds: np.ndarray) -> list[str]:
    if len(seconds) == 0:
        return []
    return list(np.datetime_as_string(np.asarray(seconds, dtype=np.int64).astype("datetime64[s]"), unit="D"))


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _ascii(name: str) -> str:
    return re.sub(r"[^a-z]", "", name.lower())


class _SeenKeys:
    """A growing set of 64-bit keys (emails, names at an account) kept as a sorted numpy array: 8 bytes a
    key, so a million contacts stay cheap, and deterministic (blake2b, not Python's salted hash)."""

    def __init__(self) -> None:
        self._keys = np.empty(0, dtype=np.uint64)
        self._pending: set[int] = set()

    @staticmethod
    def key(text: str) -> int:
        return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")

    def seen(self, key: int) -> bool:
        if key in self._pending:
            return True
        i = int(np.searchsorted(self._keys, np.uint64(key)))
        return i < len(self._keys) and int(self._keys[i]) == key

    def add(self, key: int) -> None:
        self._pending.add(key)

    def commit(self) -> None:
        if self._pending:
            merged = np.concatenate([self._keys, np.fromiter(self._pending, dtype=np.uint64)])
            self._keys = np.unique(merged)
            self._pending.clear()


# The realised figures ------------------------------------------------------------------------------------


@dataclass
class Tally:
    """What the history realised, counted while it is made (the truth file's `realized` section)."""

    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    rep: dict[int, dict[str, float]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(float)))
    source: dict[str, dict[str, float]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(float)))
    industry: dict[str, dict[str, float]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(float)))
    department: dict[str, dict[str, float]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(float)))
    engagement: dict[str, dict[str, float]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(float)))
    month: dict[str, dict[str, float]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(float)))
    lost_reasons: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    notes: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    tasks: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    emails: dict[str, dict[str, float]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(float)))
    duplicates: list[dict[str, str]] = field(default_factory=list)
    open_deals_rotting: int = 0
    # every decided lead: (contact id, the truth's conversion probability, converted) -> service.leads_path
    leads: list[tuple[str, float, int]] = field(default_factory=list)

    def to_json(self, truth: Truth) -> dict[str, Any]:
        def rate(num: float, den: float) -> float | None:
            return round(num / den, 4) if den else None

        def table(groups: dict[str, dict[str, float]]) -> dict[str, dict[str, Any]]:
            out = {}
            for name, g in sorted(groups.items()):
                row: dict[str, Any] = {
                    k: int(g[k]) for k in ("decided", "converted", "deals", "closed", "won") if k in g
                }
                if "decided" in g:
                    row["conversion_rate"] = rate(g["converted"], g["decided"])
                    row["expected_conversion_rate"] = rate(g["expected_converted"], g["decided"])
                if "deals" in g:
                    row["win_rate"] = rate(g["won"], g["closed"])
                    row["expected_win_rate"] = rate(g["expected_won"], g["deals"])
                out[name] = row
            return out

        reps = {}
        for i, g in sorted(self.rep.items()):
            person = truth.people[i]
            reps[person.email] = {
                "team": truth.teams[person.team].name if person.team is not None else None,
                "deals": int(g["deals"]),
                "closed": int(g["closed"]),
                "won": int(g["won"]),
                "win_rate": rate(g["won"], g["closed"]),
                "expected_win_rate": rate(g["expected_won"], g["deals"]),
                "won_amount": round(g["won_amount"], 2),
                "mean_won_cycle_days": rate(g["won_cycle_days"], g["won"]),
            }
        months = {
            month: {k: round(v, 2) if k.endswith("amount") else int(v) for k, v in sorted(g.items())}
            for month, g in sorted(self.month.items())
        }
        return {
            "counts": dict(sorted(self.counts.items())),
            "win_rate_by_rep": reps,
            "by_source": table(self.source),
            "by_industry": table(self.industry),
            "by_department": table(self.department),
            "conversion_by_lead_activities": table(self.engagement),
            "email_outcomes_by_lead_result": {
                k: {outcome: int(n) for outcome, n in sorted(v.items())} for k, v in sorted(self.emails.items())
            },
            "monthly": months,
            "lost_reasons": dict(sorted(self.lost_reasons.items())),
            "notes_by_tone": dict(sorted(self.notes.items())),
            "tasks": dict(sorted(self.tasks.items())),
            "open_deals_rotting": self.open_deals_rotting,
            "duplicates": self.duplicates,
        }


# The simulation --------------------------------------------------------------------------------------------


def _choice_index(rng: np.random.Generator, shares: np.ndarray, n: int) -> np.ndarray:
    return np.asarray(rng.choice(len(shares), size=n, p=shares / shares.sum()))


def _pick(rng: np.random.Generator, options: tuple[Any, ...] | list[Any], n: int) -> list[Any]:
    return [options[i] for i in rng.integers(0, len(options), n)]


class Generator:
    """One demo history: `accounts()` first, then `chunks()` (contacts with everything hanging off them).

    The constructor calibrates: `self.truth` is the given truth with the intercepts and activity rates that
    make the counts land near the scale's targets.
    """

    def __init__(self, truth: Truth, world: World, pools: Pools | None = None) -> None:
        self.world = world
        self.pools = pools or make_pools(truth.seed)
        self.salt = _salt(world.slug)
        self.seed = truth.seed
        self.k = len(world.open_stages)
        self.as_of = _epoch(truth.as_of)
        self.start = _epoch(truth.start)
        self.team_reps = {t: [i for i in truth.reps if truth.people[i].team == t] for t in range(len(truth.teams))}
        self.size_team = {s: t for t, team in enumerate(truth.teams) for s in team.company_sizes}
        self.tally = Tally()
        # Planted close-date pushes are audit rows: not in the small demo, whose audit trail stays bulk-only.
        self.plant_audit = truth.scale.name != "small"
        self.emails = _SeenKeys()
        self.names = _SeenKeys()
        self._arrays(truth)
        self.truth = self.calibrate(truth)

    # Parameters as arrays ---------------------------------------------------------------------------------

    def _arrays(self, truth: Truth) -> None:
        self.source_share = np.array([c.share for c in truth.sources])
        self.source_conv = np.array([c.conversion for c in truth.sources])
        self.source_win = np.array([c.win for c in truth.sources])
        self.industry_share = np.array([c.share for c in truth.industries])
        self.industry_conv = np.array([c.conversion for c in truth.industries])
        self.industry_win = np.array([c.win for c in truth.industries])
        self.industry_amount = np.array([c.amount_factor for c in truth.industries])
        self.dept_share = np.array([c.share for c in truth.departments])
        self.dept_conv = np.array([c.conversion for c in truth.departments])
        self.size_share = np.array([s.share for s in truth.company_sizes])
        self.size_team_index = np.array([self.size_team[s.label] for s in truth.company_sizes])
        self.team_win = np.array([t.win for t in truth.teams])
        self.team_cycle = np.array([t.cycle_factor for t in truth.teams])
        self.team_amount = np.array([t.median_amount for t in truth.teams], dtype=float)
        self.person_win = np.array([p.win for p in truth.people])
        self.person_speed = np.array([p.speed for p in truth.people])
        self.person_activity = np.array([p.activity for p in truth.people])
        k = self.k
        self.stage_days = np.array(truth.stage_days if k == len(truth.stage_days) else [10.0] * k)
        reach = np.array(truth.lost_reach if k == len(truth.lost_reach) else [0.7**i for i in range(k)])
        self.lost_reach = reach / reach.sum()
        days = np.arange(np.datetime64(truth.start), np.datetime64(truth.as_of))
        self.day_seconds = days.astype("datetime64[s]").astype(np.int64)
        month = days.astype("datetime64[M]").astype(np.int64) % 12
        weekday = (days.astype(np.int64) + 3) % 7
        years = (days - days[0]).astype(np.int64) / 365.25
        weights = (
            (1 + truth.annual_growth) ** years
            * np.array(truth.month_factors)[month]
            * np.array(truth.weekday_factors)[weekday]
        )
        self.day_weights = weights / weights.sum()

    # Calibration ------------------------------------------------------------------------------------------

    def calibrate(self, truth: Truth) -> Truth:
        """Intercepts and activity rates that make the expected counts meet the scale's targets, found on a
        probe population drawn from its own stream (so calibrating costs no data and changes nothing else)."""
        scale = truth.scale
        rng = _rng(self.seed, _STREAM_PROBE)
        n = 20_000
        t0 = self.day_seconds[_choice_index(rng, self.day_weights, n)] + rng.integers(8 * 3600, 18 * 3600, n)
        src = _choice_index(rng, self.source_share, n)
        ind = _choice_index(rng, self.industry_share, n)
        dept = _choice_index(rng, self.dept_share, n)
        size = _choice_index(rng, self.size_share, n)
        team = self.size_team_index[size]
        rep = np.array([self.team_reps[t][int(rng.integers(len(self.team_reps[t])))] for t in team])
        log_e = rng.normal(0, truth.engagement_sigma, n)
        t_dec = t0 + rng.gamma(2.0, truth.decision_days / 2, n) * DAY
        decided = t_dec <= self.as_of
        base = (
            self.source_conv[src] + self.industry_conv[ind] + self.dept_conv[dept] + truth.engagement_conversion * log_e
        )

        def deals_per_lead(alpha: float) -> float:
            return float((sigmoid(alpha + base) * decided).mean())

        alpha = _bisect(deals_per_lead, scale.deals / scale.contacts)
        p_deal = sigmoid(alpha + base) * decided
        win_base = (
            self.person_win[rep]
            + self.team_win[team]
            + self.source_win[src]
            + self.industry_win[ind]
            + truth.engagement_win * log_e
        )

        def win_rate(gamma: float) -> float:
            return float((sigmoid(gamma + win_base) * p_deal).sum() / p_deal.sum())

        gamma = _bisect(win_rate, truth.target_win_rate)
        won = rng.random(n) < sigmoid(gamma + win_base)
        paths = self._paths(rng, truth, t_dec, rep, team, won)
        lead_w = self._lead_weight(t0, np.minimum(t_dec, self.as_of), log_e, rep)
        deal_w = self._deal_weight(t_dec, paths["close"], log_e, rep)
        activities = scale.activities
        lead_rate = truth.lead_activity_share * activities / (scale.contacts * float(lead_w.mean()))
        deal_rate = (1 - truth.lead_activity_share) * activities / (scale.contacts * float((deal_w * p_deal).mean()))
        return with_calibration(
            truth,
            conversion_intercept=alpha,
            win_intercept=gamma,
            lead_activity_rate=lead_rate,
            deal_activity_rate=deal_rate,
        )

    def _lead_weight(self, t0: np.ndarray, t_end: np.ndarray, log_e: np.ndarray, rep: np.ndarray) -> np.ndarray:
        window = np.clip((t_end - t0) / DAY, 0, 90)
        return np.asarray(np.exp(0.8 * log_e) * self.person_activity[rep] * (0.3 + window / 30))

    def _deal_weight(self, t_start: np.ndarray, t_close: np.ndarray, log_e: np.ndarray, rep: np.ndarray) -> np.ndarray:
        active = np.clip((np.minimum(t_close, self.as_of) - t_start) / DAY, 1, None)
        return np.asarray(np.exp(0.3 * log_e) * self.person_activity[rep] * active**0.8)

    def _paths(
        self,
        rng: np.random.Generator,
        truth: Truth,
        t_dec: np.ndarray,
        rep: np.ndarray,
        team: np.ndarray,
        won: np.ndarray,
    ) -> dict[str, np.ndarray]:
        """Stage paths of deals created at `t_dec`: how far each gets, how long it stays in each stage, when it
        closes (quarter-end pull applied) and whether it went dark."""
        n, k = len(t_dec), self.k
        reach = np.where(won, k, rng.choice(k, size=n, p=self.lost_reach) + 1)
        skip = (rng.random(n) < truth.skip_second_stage) & (reach >= 3)
        stalled = ~won & (rng.random(n) < truth.stall_share)
        factor = (self.team_cycle[team] * self.person_speed[rep])[:, None]
        durations = rng.gamma(2.0, 1.0, (n, k)) * self.stage_days[None, :] / 2 * factor * DAY
        if k > 1:
            durations[:, 1] = np.where(skip, 0.0, durations[:, 1])
        last = reach - 1
        rows = np.arange(n)
        durations[rows, last] *= np.where(won, 1.0, 1.3)
        stall = rng.uniform(truth.stall_days[0], truth.stall_days[1], n) * DAY
        durations[rows, last] = np.where(stalled, stall, durations[rows, last])
        visited = np.arange(k)[None, :] < reach[:, None]
        close = t_dec + (durations * visited).sum(axis=1)
        pull = np.where(won, truth.quarter_end_pull_won, truth.quarter_end_pull_lost)
        close_month = close.astype(np.int64).astype("datetime64[s]").astype("datetime64[M]")
        month_in_quarter = close_month.astype(np.int64) % 3
        quarter_end = (close_month + (3 - month_in_quarter)).astype("datetime64[s]").astype(np.int64)
        pulled = (month_in_quarter < 2) & (rng.random(n) < pull)
        target = quarter_end - rng.uniform(0.3, 10, n) * DAY
        shift = np.where(pulled & (target > close), target - close, 0.0)
        durations[rows, last] += shift
        return {
            "reach": reach,
            "skip": skip,
            "stalled": stalled,
            "durations": durations,
            "close": close + shift,
            "pulled": pulled & (shift > 0),
        }

    # Accounts ---------------------------------------------------------------------------------------------

    def accounts(self) -> Iterator[Batch]:
        """The accounts (and their custom values) in batches; afterwards `self.acc` describes them for the
        contact chunks. Accounts exist before the contacts that join them."""
        truth, world = self.truth, self.world
        n = truth.scale.accounts
        rng = _rng(self.seed, _STREAM_ACCOUNTS)
        ids_rng = _rng(self.seed, self.salt, _STREAM_IDS, 0)
        imported = rng.random(n) < 0.2
        arrival = self.day_seconds[_choice_index(rng, self.day_weights, n)] + rng.integers(7 * 3600, 19 * 3600, n)
        created = np.where(imported, self.start + rng.integers(0, 3 * DAY, n), arrival)
        order = np.argsort(created, kind="stable")
        created = created[order]
        size = _choice_index(rng, self.size_share, n)
        industry = _choice_index(rng, self.industry_share, n)
        team = self.size_team_index[size]
        owner = np.array([self.team_reps[t][int(rng.integers(len(self.team_reps[t])))] for t in team])
        pull = np.array([0.6, 0.8, 1.0, 1.3, 1.6, 2.2])[size] * rng.lognormal(0, 1.0, n)
        names, domains = self._company_names(rng, n)
        place = rng.integers(0, len(self.pools.places), n)
        street = rng.integers(0, len(self.pools.streets), n)
        lo = np.array([s.employees[0] for s in truth.company_sizes])[size]
        hi = np.array([s.employees[1] for s in truth.company_sizes])[size]
        employees = np.exp(rng.uniform(np.log(lo), np.log(hi + 1)))
        per_employee = np.array([s.revenue_per_employee for s in truth.company_sizes])[size]
        revenue = np.round(employees * per_employee * rng.lognormal(0, 0.3, n), -3)
        has_revenue = rng.random(n) < 0.7
        seats = np.maximum(1, np.round(employees * rng.uniform(0.05, 0.3, n)))
        has_seats = rng.random(n) < 0.6
        tier_noise = rng.random(n) < 0.1
        tier = np.select([size >= 5, size == 4, size >= 2], [0, 1, 2], 3)
        tier = np.where(tier_noise, rng.integers(0, 4, n), tier)
        tier = np.where((size >= 5) & (rng.random(n) < 0.4), 1, tier)
        tags = self._tags(rng, n, ACCOUNT_TAGS)
        ids = uuid7s(created, ids_rng)
        stamps = timestamps(created)
        self.acc = {
            "created": created,
            "pull_cum": np.cumsum(pull),
            "industry": industry,
            "size": size,
            "team": team,
            "owner": owner,
            "name": names,
            "domain": domains,
            "place": place,
            "id": ids,
        }
        step = max(truth.scale.chunk_contacts, 1000)
        fields = world.fields
        for lo_i in range(0, n, step):
            rows, values = [], []
            for i in range(lo_i, min(n, lo_i + step)):
                city, state, postcode = self.pools.places[place[i]]
                custom: dict[str, Any] = {"tier": TIERS[tier[i]]}
                if has_seats[i]:
                    custom["seats"] = int(seats[i])
                record = {
                    "name": names[i],
                    "website": f"https://www.{domains[i]}",
                    "industry": truth.industries[industry[i]].name,
                    "company_size": truth.company_sizes[size[i]].label,
                    "annual_revenue": f"{revenue[i]:.2f}" if has_revenue[i] else None,
                    "phone": self._phone(rng),
                    "email": f"info@{domains[i]}",
                    "address_street": self.pools.streets[street[i]],
                    "address_city": city,
                    "address_state": state,
                    "address_postal_code": postcode,
                    "address_country": "United States",
                    "owner_id": world.user_ids[owner[i]],
                    "tags": tags[i],
                    "custom_fields": custom,
                }
                checked = _valid(AccountCreate, record, "account")
                rows.append(
                    (
                        ids[i],
                        world.tenant_id,
                        record["owner_id"],
                        checked.name,
                        domain_of(checked.website, checked.email),
                        checked.website,
                        checked.industry,
                        checked.company_size,
                        record["annual_revenue"],
                        checked.phone,
                        checked.email,
                        checked.address_street,
                        checked.address_city,
                        checked.address_state,
                        checked.address_postal_code,
                        checked.address_country,
                        checked.tags,
                        stamps[i],
                        stamps[i],
                    )
                )
                for name, value in custom.items():
                    values.append((fields[name], ids[i], value, float(created[i])))
            self.tally.counts["accounts"] += len(rows)
            yield table_batch("accounts", rows)
            yield self._custom_values(values, ids_rng)

    def _company_names(self, rng: np.random.Generator, n: int) -> tuple[list[str], list[str]]:
        """Unique company names (also once legal suffixes are dropped, so no two accounts look like duplicates)
        and unique domains under example.com/.org/.net (reserved for examples: no real company's mail)."""
        from core.duplicates.service import normalize_company

        last = self.pools.last_names
        names: list[str] = []
        domains: list[str] = []
        seen_names: set[str] = set()
        seen_domains: set[str] = set()
        while len(names) < n:
            m = 2 * (n - len(names)) + 16  # candidates drawn in bulk; some collide and are skipped
            pattern = rng.random(m)
            parts = rng.integers(0, len(last), (m, 3)).tolist()
            suffix = rng.integers(0, len(COMPANY_SUFFIXES), m).tolist()
            tld = rng.integers(0, 3, m).tolist()
            for j in range(m):
                a, b, c = last[parts[j][0]], last[parts[j][1]], last[parts[j][2]]
                if pattern[j] < 0.45:
                    name = f"{a} {COMPANY_SUFFIXES[suffix[j]]}"
                elif pattern[j] < 0.8:
                    name = f"{a}-{b}"
                else:
                    name = f"{a}, {b} and {c}"
                if a == b or b == c:
                    continue
                key = normalize_company(name)
                domain = f"{_slug(key)}.example.{('com', 'org', 'net')[tld[j]]}"
                if key in seen_names or domain in seen_domains:
                    continue
                seen_names.add(key)
                seen_domains.add(domain)
                names.append(name)
                domains.append(domain)
                if len(names) == n:
                    break
        return names, domains

    def _tags(self, rng: np.random.Generator, n: int, catalogue: tuple[tuple[str, float], ...]) -> list[list[str]]:
        draws = rng.random((n, len(catalogue)))
        return [[tag for j, (tag, p) in enumerate(catalogue) if draws[i, j] < p] for i in range(n)]

    def _phone(self, rng: np.random.Generator) -> str:
        area = AREA_CODES[int(rng.integers(len(AREA_CODES)))]
        return f"+1-{area}-555-{int(rng.integers(0, 10_000)):04d}"

    # Contacts and everything hanging off them ------------------------------------------------------------

    def chunks(self) -> Iterator[tuple[int, list[Batch]]]:
        """(contacts so far, batches) per chunk of contacts; call after `accounts()` is exhausted."""
        scale = self.truth.scale
        counts = _rng(self.seed, _STREAM_ARRIVALS).multinomial(scale.contacts, self.day_weights)
        self.arrival_cum = np.cumsum(counts)
        self._plant_accounts()
        for k, lo in enumerate(range(0, scale.contacts, scale.chunk_contacts)):
            hi = min(scale.contacts, lo + scale.chunk_contacts)
            batches = self._chunk(k, lo, hi)
            if hi == scale.contacts:
                batches += [b for b in (self._churn_notes(),) if b.rows]
            yield hi, batches

    # Planted anomalies and churners ------------------------------------------------------------------------

    def _plant_accounts(self) -> None:
        """Who churns and when, whose engagement stops lately, which reps slump: drawn from a stream of their own
        once the accounts exist. `self.planted` collects every planted record for the truth file.

        - churners (~5% of the accounts older than 18 months, bigger ones likelier): at `churned_at` (90 to 240
          days ago) they stop: no new leads join, no activity at the account, deals decided from 45 days before
          on are lost. In the 90 days before, 60% of their activities do not happen, and an unhappy note or two is
          written on the account; for about half, a contact leaves (lifecycle "other") up to 60 days before.
        - engagement drops (~0.5% of the accounts, among the busiest 3% older than a year, not churners): nothing
          happens at the account from 30 to 45 days ago on (new leads go elsewhere).
        - one rep (neither the best nor the worst, in the fastest team) logs only 20% of their activities over the
          last ~30 days; another loses 90% of the deals they would have won among those decided in the last 180 days.
        """
        truth, acc = self.truth, self.acc
        n = len(acc["id"])
        rng = _rng(self.seed, _STREAM_PLANT)
        created = acc["created"]
        pull = np.diff(acc["pull_cum"], prepend=0.0)
        self.quiet_at = np.full(n, np.inf)
        self.churn_at = np.full(n, np.inf)
        self.churn_customer: dict[int, bool] = {}

        def pick(pool: np.ndarray, share: float, minimum: int) -> np.ndarray:
            count = min(len(pool), max(minimum, round(share * n)))
            if count <= 0:
                return np.empty(0, dtype=np.int64)
            return np.sort(rng.choice(pool, size=count, replace=False, p=pull[pool] / pull[pool].sum()))

        churners = pick(np.flatnonzero(created < self.as_of - 540 * DAY), 0.05, 3)
        self.churn_at[churners] = self.as_of - rng.uniform(90, 240, len(churners)) * DAY
        self.quiet_at[churners] = self.churn_at[churners]
        # about half of the churners see a contact leave first (moved to the "other" lifecycle stage)
        leaves = rng.random(len(churners)) < 0.5
        before = rng.uniform(0, 60, len(churners)) * DAY
        self.departures: dict[int, float] = {
            int(a): float(self.churn_at[a] - b) for a, b, go in zip(churners, before, leaves, strict=True) if go
        }
        self.departed: dict[int, tuple[str, float]] = {}
        # engagement can only be seen to drop where there was some: among the busiest accounts (top 3% by pull,
        # at least 10)
        busy = pull >= np.sort(pull)[-min(n, max(10, round(0.03 * n)))]
        rest = np.flatnonzero((created < self.as_of - 365 * DAY) & np.isinf(self.churn_at) & busy)
        drops = pick(rest, 0.005, 2)
        self.quiet_at[drops] = self.as_of - rng.uniform(30, 45, len(drops)) * DAY
        self.churners, self.engagement_drops = churners, drops
        # the slumping reps: neither the best nor the worst (their gap is a planted pattern), in the team with the
        # shortest cycle (the most closed deals to see a win rate drop in)
        middle = sorted(truth.reps, key=lambda i: truth.people[i].win)[1:-1] or list(truth.reps)
        fast = min(range(len(truth.teams)), key=lambda t: truth.teams[t].cycle_factor)
        pool = [i for i in middle if truth.people[i].team == fast] or middle
        slump = rng.choice(len(pool), size=2, replace=len(pool) < 2)
        self.rep_activity_drop = (int(pool[slump[0]]), float(self.as_of - rng.uniform(25, 35) * DAY), 0.2)
        self.rep_win_drop = (int(pool[slump[1]]), float(self.as_of - 180 * DAY), 0.9)
        self.planted: dict[str, list[dict[str, Any]]] = defaultdict(list)

    def _reroute(self, prng: np.random.Generator, t0: np.ndarray, account: np.ndarray, last: np.ndarray) -> None:
        """Leads that would join an account after it went quiet join another one (in place)."""
        cum = self.acc["pull_cum"]
        for i in np.flatnonzero((account >= 0) & (self.quiet_at[np.maximum(account, 0)] < t0)).tolist():
            for u in prng.random(50).tolist():
                a = min(int(np.searchsorted(cum, u * cum[last[i]], side="right")), int(last[i]))
                if self.quiet_at[a] >= t0[i]:
                    account[i] = a
                    break

    def _plant_outcomes(
        self, prng: np.random.Generator, won: np.ndarray, account: np.ndarray, t_dec: np.ndarray, rep: np.ndarray
    ) -> np.ndarray:
        """Churners win nothing decided from 45 days before they churn; the slumping rep loses most wins."""
        churn = np.where(account >= 0, self.churn_at[np.maximum(account, 0)], np.inf)
        lose = t_dec > churn - 45 * DAY
        r, since, share = self.rep_win_drop
        lose |= (rep == r) & (t_dec > since) & (prng.random(len(won)) < share)
        return np.asarray(won & ~lose)

    def _plant_deal_draws(self, m: int, paths: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Which of a chunk's deals get a planted anomaly, and its figures (all drawn up front)."""
        prng = self._prng
        return {
            "outlier": prng.random(m) < 0.012,  # amount 10-20 times its segment's usual
            "factor": prng.uniform(10, 20, m),
            "backwards": prng.random(m) < 0.015,  # back one stage and forward again, in its latest open stage
            "back": np.sort(prng.uniform(0.15, 0.85, (m, 2)), axis=1),
            "late": prng.random(m) < 0.03,  # amount cut 30-50% at closing, coming from one of the last two stages
            "cut": prng.uniform(0.3, 0.5, m),
            # close date pushed 2-4 times by 2-6 weeks (open deals; audit rows, so not in the small demo, whose
            # audit trail stays bulk-only)
            "push": (prng.random(m) < 0.1) & self.plant_audit,
            "n_push": prng.integers(2, 5, m),
            "push_days": prng.integers(14, 46, (m, 4)),
            "push_at": np.sort(prng.uniform(0.15, 1.0, (m, 4)), axis=1),
            "pushes_done": np.zeros(m, dtype=np.int64),
        }

    def _plant_moves(
        self, j: int, deal_id: str, current: list[tuple[Stage, float, float]], plant: dict[str, np.ndarray]
    ) -> tuple[list[tuple[Stage, float, float]], set[int]]:
        """Deal j's stage history with its planted backward move and late cut (and the planted entries' positions)."""
        extra: set[int] = set()
        if plant["outlier"][j]:
            self.planted["amount_outlier"].append(
                {"deal_id": deal_id, "amount": current[-1][2], "factor": round(float(plant["factor"][j]), 2)}
            )
        open_moves = [q for q, (st, _, _) in enumerate(current) if not st.is_closed_stage]
        if plant["backwards"][j] and len(open_moves) >= 3:
            q = open_moves[-1]
            stage, t_q, price = current[q]
            t_next = current[q + 1][1] if q + 1 < len(current) else float(self.as_of)
            if t_next - t_q > 2 * 3600:
                back = current[q - 1][0]
                t_b, t_f = (t_q + float(f) * (t_next - t_q) for f in plant["back"][j])
                current = [*current[: q + 1], (back, t_b, price), (stage, t_f, price), *current[q + 1 :]]
                extra = {q + 1, q + 2}
                self.planted["stage_backwards"].append(
                    {"deal_id": deal_id, "from_stage": stage.name, "to_stage": back.name, "at": _stamp(t_b)}
                )
        order = {s.id: i for i, s in enumerate(self.world.open_stages)}
        if plant["late"][j] and len(current) >= 2 and current[-1][0].is_closed_stage:
            stage, at, price = current[-1]
            cut = max(500.0, round(price * (1 - float(plant["cut"][j])), -2))
            if order.get(current[-2][0].id, 0) >= self.k - 2 and cut <= 0.75 * price:
                current[-1] = (stage, at, cut)
                self.planted["late_discount"].append(
                    {"deal_id": deal_id, "before": price, "after": cut, "at": _stamp(at), "stage": stage.name}
                )
        return current, extra

    def _plant_pushes(
        self,
        j: int,
        deal_id: str,
        owner: str,
        created: float,
        expected: str,
        closed: bool,
        plant: dict[str, np.ndarray],
    ) -> str | None:
        """Deal j's planted close-date pushes as audit rows (what an update through the API leaves); the last
        expected close date, or None when none is planted."""
        span = self.as_of - created
        if closed or not plant["push"][j] or span < 14 * DAY:
            return None
        count = int(plant["n_push"][j])
        old = date.fromisoformat(expected)
        for p in range(count):
            at = min(created + float(plant["push_at"][j, p]) * span, self.as_of - 3600)
            new = old + timedelta(days=int(plant["push_days"][j, p]))
            self._audit.append(
                (
                    uuid7s(np.array([at]), self._pids)[0],
                    self.world.tenant_id,
                    owner,
                    "deals",
                    deal_id,
                    "update",
                    json.dumps({"expected_close_date": old.isoformat()}),
                    json.dumps({"expected_close_date": new.isoformat()}),
                    "web",
                    _stamp(at),
                )
            )
            old = new
        plant["pushes_done"][j] = count
        self.planted["close_date_pushed"].append(
            {"deal_id": deal_id, "pushes": count, "first": expected, "last": old.isoformat()}
        )
        return old.isoformat()

    def _plant_departures(
        self,
        t0: np.ndarray,
        account: np.ndarray,
        updated: np.ndarray,
        standing: dict[str, Any],
        ids: list[str],
    ) -> None:
        """A departing churner's contact: the first of the account's leads (in arrival order) known before the
        departure moves to the "other" lifecycle stage then (its last update). In place."""
        for i in range(len(t0)):
            a = int(account[i])
            at = self.departures.get(a)
            if at is None or a in self.departed or not (t0[i] < at and updated[i] <= at):
                continue
            standing["lifecycle"][i] = "other"
            standing["version"][i] += 1
            updated[i] = at
            self.departed[a] = (ids[i], at)

    def _activity_keep(
        self, prng: np.random.Generator, account: np.ndarray, at: np.ndarray, rep: np.ndarray
    ) -> np.ndarray:
        """Which drawn activities happen: none at quiet accounts after they went quiet, 40% at churners in the 90
        days before, 20% of the slumping rep's lately."""
        known = np.maximum(account, 0)
        quiet = np.where(account >= 0, self.quiet_at[known], np.inf)
        churn = np.where(account >= 0, self.churn_at[known], np.inf)
        u, v = prng.random(len(at)), prng.random(len(at))
        keep = at < quiet
        keep &= ~((at >= churn - 90 * DAY) & (u < 0.6))
        r, since, share = self.rep_activity_drop
        keep &= ~((rep == r) & (at >= since) & (v >= share))
        return np.asarray(keep)

    def _churn_notes(self) -> Batch:
        """One or two unhappy notes on each churner's account in the months before it churned."""
        world, acc, tally = self.world, self.acc, self.tally
        rng = _rng(self.seed, _STREAM_PLANT, 1)
        items = []
        for a in self.churners.tolist():
            churned = float(self.churn_at[a])
            for _ in range(1 + int(rng.random() < 0.5)):
                at = max(churned - rng.uniform(5, 75) * DAY, float(acc["created"][a]) + DAY)
                fill = {
                    "first": self.pools.first_names[int(rng.integers(len(self.pools.first_names)))],
                    "company": str(acc["name"][a]),
                    "product": PRODUCTS[int(rng.integers(len(PRODUCTS)))],
                }
                template = NOTE_TEMPLATES["negative"][int(rng.integers(len(NOTE_TEMPLATES["negative"])))]
                items.append((at, str(acc["id"][a]), world.user_ids[int(acc["owner"][a])], template.format(**fill)))
        ids = uuid7s(np.array([it[0] for it in items]), _rng(self.seed, self.salt, _STREAM_PLANT_IDS))
        stamps = timestamps(np.array([it[0] for it in items]))
        rows = []
        for j, (_, account_id, author, body) in enumerate(items):
            checked = _valid(NoteCreate, {"body": body, "is_pinned": False}, "note")
            tally.notes["negative"] += 1
            rows.append(
                (ids[j], world.tenant_id, "accounts", account_id, checked.body, False, author, stamps[j], stamps[j])
            )
        tally.counts["notes"] += len(rows)
        return table_batch("notes", rows)

    def planted_truth(self) -> dict[str, Any]:
        """What was planted, with record ids (the truth file's `realized.anomalies` and `realized.churners`)."""
        acc, people, world = self.acc, self.truth.people, self.world

        def day(seconds: float) -> str:
            return str(dates(np.array([seconds]))[0])

        kinds = ("amount_outlier", "close_date_pushed", "late_discount", "stage_backwards")
        anomalies: dict[str, Any] = {kind: list(self.planted.get(kind, [])) for kind in kinds}
        anomalies["account_engagement_drop"] = [
            {"account_id": str(acc["id"][a]), "since": day(self.quiet_at[a])} for a in self.engagement_drops.tolist()
        ]
        r, since, share = self.rep_activity_drop
        anomalies["rep_activity_drop"] = [
            {"user_id": world.user_ids[r], "email": people[r].email, "since": day(since), "kept_share": share}
        ]
        r, since, share = self.rep_win_drop
        anomalies["rep_win_rate_drop"] = [
            {"user_id": world.user_ids[r], "email": people[r].email, "decided_since": day(since), "lost_share": share}
        ]
        churners = [
            {
                "account_id": str(acc["id"][a]),
                "churned_at": day(self.churn_at[a]),
                "customer": bool(self.churn_customer.get(a, False)),
                "departed_contact_id": self.departed[a][0] if a in self.departed else None,
                "departed_at": day(self.departed[a][1]) if a in self.departed else None,
            }
            for a in self.churners.tolist()
        ]
        return {"anomalies": anomalies, "churners": churners}

    def _chunk(self, k: int, lo: int, hi: int) -> list[Batch]:
        truth, acc = self.truth, self.acc
        rng = _rng(self.seed, _STREAM_CHUNK, k)
        ids_rng = _rng(self.seed, self.salt, _STREAM_IDS, k + 1)
        n = hi - lo
        day = np.searchsorted(self.arrival_cum, np.arange(lo, hi), side="right")
        t0 = np.sort(self.day_seconds[day] + _time_of_day(rng, n))

        # Who the leads are: an account that exists by then (or only a company name), a source, an owner.
        n_acc = np.searchsorted(acc["created"], t0, side="right")
        no_account = (n_acc == 0) | (rng.random(n) < truth.no_account_share)
        cum = acc["pull_cum"]
        last_eligible = np.maximum(n_acc, 1) - 1
        account = np.minimum(np.searchsorted(cum, rng.random(n) * cum[last_eligible], side="right"), last_eligible)
        account = np.where(no_account, -1, account)
        self._prng = prng = _rng(self.seed, _STREAM_PLANT_CHUNK, k)
        self._pids = _rng(self.seed, self.salt, _STREAM_PLANT_IDS, k + 1)
        self._audit: list[tuple[Any, ...]] = []
        self._reroute(prng, t0, account, last_eligible)
        self._account = account
        src = _choice_index(rng, self.source_share, n)
        dept = _choice_index(rng, self.dept_share, n)
        own_size = _choice_index(rng, self.size_share, n)
        own_industry = _choice_index(rng, self.industry_share, n)
        known = np.maximum(account, 0)
        industry = np.where(no_account, own_industry, acc["industry"][known])
        team = np.where(no_account, self.size_team_index[own_size], acc["team"][known])
        other_rep = np.array([self.team_reps[t][int(rng.integers(len(self.team_reps[t])))] for t in team])
        rep = np.where((~no_account) & (rng.random(n) < 0.9), acc["owner"][known], other_rep)
        log_e = rng.normal(0, truth.engagement_sigma, n)

        # Qualifying: converted leads become deals when they are decided.
        t_dec = t0 + rng.gamma(2.0, truth.decision_days / 2, n) * DAY
        decided = t_dec <= self.as_of
        p_conv = sigmoid(
            truth.conversion_intercept
            + self.source_conv[src]
            + self.industry_conv[industry]
            + self.dept_conv[dept]
            + truth.engagement_conversion * log_e
        )
        converted = decided & (rng.random(n) < p_conv)
        d = np.flatnonzero(converted)
        p_win = sigmoid(
            truth.win_intercept
            + self.person_win[rep[d]]
            + self.team_win[team[d]]
            + self.source_win[src[d]]
            + self.industry_win[industry[d]]
            + truth.engagement_win * log_e[d]
        )
        won = self._plant_outcomes(prng, rng.random(len(d)) < p_win, account[d], t_dec[d], rep[d])
        paths = self._paths(rng, truth, t_dec[d], rep[d], team[d], won)

        people = _People(self, rng, account, no_account, dept)
        dups = self._duplicates(rng, t0, rep, team, account, people, src)
        m = len(dups.t0)
        contact_ids = uuid7s(t0, ids_rng) + uuid7s(dups.t0, ids_rng)
        contacts = _Contacts(
            ids=contact_ids,
            first=people.first + [r["first_name"] for r in dups.records],
            company=[people.company(i) for i in range(n)] + [r["company"] for r in dups.records],
            account_id=[people.account_id(i) for i in range(n)] + [r["account_id"] for r in dups.records],
        )

        # Activities: while the lead is worked, while its deal is, and a few on the duplicates.
        lead_end = np.minimum(t_dec, self.as_of)
        lead_count = rng.poisson(truth.lead_activity_rate * self._lead_weight(t0, lead_end, log_e, rep))
        deal_close = paths["close"]
        deal_count = rng.poisson(truth.deal_activity_rate * self._deal_weight(t_dec[d], deal_close, log_e[d], rep[d]))
        dup_count = rng.poisson(0.8, m)
        acts = _Activities(self, rng)
        acts.add(np.arange(n), lead_count, t0, lead_end, log_e, rep, None, lead=True)
        acts.add(
            d, deal_count, t_dec[d], np.minimum(deal_close, self.as_of), log_e[d], rep[d], np.arange(len(d)), lead=False
        )
        dup_end = np.minimum(dups.t0 + 20 * DAY, self.as_of)
        acts.add(n + np.arange(m), dup_count, dups.t0, dup_end, np.zeros(m), dups.rep, None, lead=True)
        acts.account = np.concatenate([account, account[dups.original]]) if m else account
        last_contacted, lead_activities = acts.arrange(n + m, n)

        deals = self._deals(rng, ids_rng, d, t_dec, rep, team, src, industry, won, p_win, paths, contacts)
        standing = self._standing(rng, decided, converted, d, deals.state, lead_activities[:n], log_e)
        contact_rows, values = self._contact_rows(
            rng, t0, t_dec, decided, rep, src, log_e, people, dups, contacts, standing, last_contacted
        )
        activities = acts.batch(ids_rng, contacts, deals.ids)
        self._tally_leads(t0, decided, converted, p_conv, src, industry, dept, lead_activities[:n], acts)
        self.tally.leads.extend(
            (contacts.ids[i], round(float(p_conv[i]), 5), int(converted[i])) for i in np.flatnonzero(decided)
        )
        batches = [
            table_batch("contacts", contact_rows),
            table_batch("deals", deals.rows),
            table_batch("deal_stage_history", deals.history),
            activities,
            self._tasks(rng, ids_rng, t0, decided, rep, d, deals, contacts, people),
            self._notes(rng, ids_rng, t0, rep, d, won, deals, contacts),
            self._custom_values(values + deals.values, ids_rng),
            table_batch("audit_logs", self._audit),
        ]
        return [b for b in batches if b.rows]

    # Deals --------------------------------------------------------------------------------------------------

    def _deals(
        self,
        rng: np.random.Generator,
        ids_rng: np.random.Generator,
        d: np.ndarray,
        t_dec: np.ndarray,
        rep: np.ndarray,
        team: np.ndarray,
        src: np.ndarray,
        industry: np.ndarray,
        won: np.ndarray,
        p_win: np.ndarray,
        paths: dict[str, np.ndarray],
        contacts: _Contacts,
    ) -> _Deals:
        """Deals with their stage history as of today: each walks the pipeline (the second stage sometimes
        skipped), a third of them re-priced at the third stage; closed ones have a close date and, when lost,
        a reason that depends on how far they got (or that they went dark)."""
        truth, world = self.truth, self.world
        m, k = len(d), self.k
        created = t_dec[d]
        ids = uuid7s(created, ids_rng)
        median = self.team_amount[team[d]] * self.industry_amount[industry[d]]
        amount = np.maximum(500, np.round(median * rng.lognormal(0, 0.6, m), -2))
        repriced = (rng.random(m) < truth.repriced_share) & (paths["reach"] >= 3)
        new_amount = np.maximum(500, np.round(amount * rng.uniform(0.8, 1.15, m), -2))
        planned = self.stage_days.sum() * self.team_cycle[team[d]] * self.person_speed[rep[d]] * DAY
        expected_close = dates(created + planned * rng.uniform(0.8, 1.3, m))
        product = rng.integers(0, len(PRODUCTS), m)
        kind = rng.random(m)
        reason_draw = rng.random(m)
        competitor_draw = rng.random(m)
        competitor_pick = rng.integers(1, len(COMPETITORS), m)
        contract_lag = rng.integers(1, 31, m) * DAY
        no_next_step = rng.random(m) < 0.3
        strategic = rng.random(m) < 0.1
        plant = self._plant_deal_draws(m, paths)
        amount = np.where(plant["outlier"], np.round(amount * plant["factor"], -2), amount)
        new_amount = np.where(plant["outlier"], np.round(new_amount * plant["factor"], -2), new_amount)

        out = _Deals(ids=ids)
        entered = np.zeros(m)
        moves_all: list[list[tuple[Stage, float, float]]] = []
        drawn: list[list[tuple[Stage, float, float]]] = []  # the histories as drawn, before any planting
        extras: list[set[int]] = []  # positions of planted entries in each history
        for j in range(m):
            sequence = [s for s in range(int(paths["reach"][j])) if not (s == 1 and paths["skip"][j])]
            t = float(created[j])
            moves: list[tuple[Stage, float, float]] = []  # (stage, entered at, amount from then on)
            for s in sequence:
                price = float(new_amount[j] if repriced[j] and s >= 2 else amount[j])
                moves.append((world.open_stages[s], t, price))
                t += float(paths["durations"][j, s])
            moves.append((world.won_stage if won[j] else world.lost_stage, float(paths["close"][j]), moves[-1][2]))
            current = [mv for mv in moves if mv[1] <= self.as_of]
            drawn.append(list(current))
            current, extra = self._plant_moves(j, ids[j], current, plant)
            _check_history(current, self.as_of)
            moves_all.append(current)
            extras.append(extra)
            entered[j] = current[-1][1]
        close_dates = dates(paths["close"])
        contract_dates = dates(paths["close"] + contract_lag)
        created_stamps = timestamps(created)
        entered_stamps = timestamps(entered)

        history_times: list[float] = []
        history_planted: list[bool] = []
        for j in range(m):
            i = int(d[j])
            current = moves_all[j]
            stage, _, price = current[-1]
            closed, is_won = stage.is_closed_stage, stage.is_won_stage
            reason = None
            if closed and not is_won:
                if paths["stalled"][j]:
                    catalogue = truth.lost_reasons_stalled
                elif paths["reach"][j] <= max(1, k // 2):
                    catalogue = truth.lost_reasons_early
                else:
                    catalogue = truth.lost_reasons_late
                reason = _weighted(catalogue, reason_draw[j])
            custom: dict[str, Any] = {}
            if reason == "Lost to competitor":
                custom["competitor"] = COMPETITORS[competitor_pick[j]]
            elif competitor_draw[j] < 0.45:
                custom["competitor"] = "None" if competitor_draw[j] < 0.27 else COMPETITORS[competitor_pick[j]]
            if closed and is_won:
                custom["contract_start"] = contract_dates[j]
            name = f"{contacts.company[i]}: {PRODUCTS[product[j]]}"
            name += " renewal" if kind[j] < 0.15 else " expansion" if kind[j] < 0.3 else ""
            owner = world.user_ids[rep[i]]
            close_date = close_dates[j] if closed else None
            pushes = self._plant_pushes(j, ids[j], owner, float(created[j]), expected_close[j], closed, plant)
            if pushes:
                expected_close[j] = pushes
            a = int(self._account[i])
            if is_won and a >= 0 and float(paths["close"][j]) < self.churn_at[a]:
                self.churn_customer[a] = True
            record = {
                "name": name,
                "amount": f"{price:.2f}",
                "currency": world.currency,
                "pipeline_id": world.pipeline_id,
                "stage_id": str(stage.id),
                "account_id": contacts.account_id[i],
                "contact_id": contacts.ids[i],
                "owner_id": owner,
                "expected_close_date": expected_close[j],
                "lead_source": truth.sources[src[i]].name,
                "next_step": None if closed or no_next_step[j] else NEXT_STEPS[min(len(current) - 1, 4)],
                "tags": ["strategic"] if strategic[j] and team[i] == 0 else [],
                "probability": stage.probability,
                "custom_fields": custom,
                "lost_reason": reason,
                "actual_close_date": close_date,
            }
            checked = _valid(DealCreate, record, "deal")
            problems: list[dict[str, Any]] = []
            deal_rules._check_outcome(stage, checked.lost_reason, checked.actual_close_date, problems)
            if problems:
                raise ValidationFailed(f"Generated deal {name!r} breaks the deal rules", details=problems)
            out.rows.append(
                (
                    ids[j],
                    world.tenant_id,
                    owner,
                    world.pipeline_id,
                    str(stage.id),
                    record["account_id"],
                    record["contact_id"],
                    checked.name,
                    record["amount"],
                    checked.currency,
                    checked.probability,
                    record["expected_close_date"],
                    close_date,
                    checked.lead_source,
                    checked.next_step,
                    None,
                    closed,
                    is_won if closed else None,
                    reason,
                    entered_stamps[j],
                    checked.tags,
                    created_stamps[j],
                    entered_stamps[j],
                    # one version per stage change (and planted close-date push), as the service's updates count them
                    len(current) + int(plant["pushes_done"][j]),
                )
            )
            previous = None
            for position, (mv_stage, at, mv_price) in enumerate(current):
                out.history.append(
                    [ids[j], previous, str(mv_stage.id), at, owner, f"{mv_price:.2f}", mv_stage.probability]
                )
                history_times.append(at)
                history_planted.append(position in extras[j])
                previous = str(mv_stage.id)
            for fname, value in custom.items():
                out.values.append((world.fields[fname], ids[j], value, float(created[j])))
            days_in_stage = (self.as_of - entered[j]) // DAY
            out.state["rotting"].append(
                bool(not closed and stage.rotting_days is not None and days_in_stage > stage.rotting_days)
            )
            out.state["closed"].append(closed)
            out.state["won"].append(closed and is_won)
            out.state["product"].append(PRODUCTS[product[j]])
            out.state["moves"].append([(mv_stage, at) for mv_stage, at, _ in drawn[j]])
            self._tally_deal(
                int(rep[i]),
                int(src[i]),
                int(industry[i]),
                float(p_win[j]),
                stage,
                float(created[j]),
                float(paths["close"][j]),
                price,
                reason,
            )
        out.state["created"] = list(created)
        out.state["entered"] = list(entered)
        times, planted_rows = np.array(history_times), np.array(history_planted, dtype=bool)
        drawn_ids, planted_ids = (
            iter(uuid7s(times[~planted_rows], ids_rng)),
            iter(uuid7s(times[planted_rows], self._pids)),
        )
        history_ids = [next(planted_ids) if p else next(drawn_ids) for p in history_planted]
        history_stamps = timestamps(np.array(history_times))
        out.history = [
            (hid, world.tenant_id, deal_id, previous, to_stage, stamp, owner, price, probability)
            for hid, stamp, (deal_id, previous, to_stage, _, owner, price, probability) in zip(
                history_ids, history_stamps, out.history, strict=True
            )
        ]
        self.tally.counts["deals"] += m
        self.tally.counts["deal_stage_history"] += len(out.history)
        self.tally.open_deals_rotting += int(sum(out.state["rotting"]))
        return out

    def _tally_deal(
        self,
        rep: int,
        src: int,
        industry: int,
        p_win: float,
        stage: Stage,
        created: float,
        close: float,
        amount: float,
        reason: str | None,
    ) -> None:
        tally = self.tally
        r = tally.rep[rep]
        groups = (tally.source[self.truth.sources[src].name], tally.industry[self.truth.industries[industry].name])
        r["deals"] += 1
        r["expected_won"] += p_win
        for g in groups:
            g["deals"] += 1
            g["expected_won"] += p_win
        tally.month[_month(created)]["deals_created"] += 1
        if not stage.is_closed_stage:
            return
        month = tally.month[_month(close)]
        r["closed"] += 1
        for g in groups:
            g["closed"] += 1
        if stage.is_won_stage:
            r["won"] += 1
            r["won_amount"] += amount
            r["won_cycle_days"] += (close - created) / DAY
            for g in groups:
                g["won"] += 1
            month["won"] += 1
            month["won_amount"] += amount
        else:
            month["lost"] += 1
            tally.lost_reasons[reason or ""] += 1

    def _tally_leads(
        self,
        t0: np.ndarray,
        decided: np.ndarray,
        converted: np.ndarray,
        p_conv: np.ndarray,
        src: np.ndarray,
        industry: np.ndarray,
        dept: np.ndarray,
        lead_activities: np.ndarray,
        acts: _Activities,
    ) -> None:
        truth, tally = self.truth, self.tally
        labels = ("0", "1", "2", "3-4", "5-7", "8+")
        buckets = np.digitize(lead_activities, [1, 2, 3, 5, 8])
        for month, count in zip(*np.unique([_month(float(t)) for t in t0], return_counts=True), strict=True):
            tally.month[str(month)]["leads"] += int(count)
        for i in np.flatnonzero(decided):
            for g in (
                tally.source[truth.sources[src[i]].name],
                tally.industry[truth.industries[industry[i]].name],
                tally.department[truth.departments[dept[i]].name],
                tally.engagement[labels[buckets[i]]],
            ):
                g["decided"] += 1
                g["converted"] += bool(converted[i])
                g["expected_converted"] += float(p_conv[i])
        for outcome, lead in acts.lead_emails:
            if lead < len(t0) and decided[lead]:
                tally.emails["converted" if converted[lead] else "not_converted"][outcome] += 1

    # Leads --------------------------------------------------------------------------------------------------

    def _standing(
        self,
        rng: np.random.Generator,
        decided: np.ndarray,
        converted: np.ndarray,
        d: np.ndarray,
        deal_state: dict[str, list[Any]],
        lead_activities: np.ndarray,
        log_e: np.ndarray,
    ) -> dict[str, Any]:
        """Lead status and lifecycle stage today: new or contacted while undecided, unqualified when dropped,
        qualified with a deal (an opportunity, or a customer once it is won)."""
        n = len(decided)
        status = np.where(lead_activities > 0, "contacted", "new").astype(object)
        lifecycle = np.where(log_e > 0.8, "mql", "lead").astype(object)
        dropped = decided & ~converted
        status[dropped] = "unqualified"
        lifecycle[dropped] = np.where(rng.random(int(dropped.sum())) < 0.7, "lead", "other")
        status[d] = "qualified"
        customer = np.array(deal_state["won"], dtype=bool)
        evangelist = rng.random(len(d)) < 0.1
        lifecycle[d] = np.where(customer, np.where(evangelist, "evangelist", "customer"), "opportunity")
        changes = (status != "new").astype(int) + (lifecycle != "lead").astype(int)
        return {"status": list(status), "lifecycle": list(lifecycle), "version": 1 + changes, "n": n}

    def _contact_rows(
        self,
        rng: np.random.Generator,
        t0: np.ndarray,
        t_dec: np.ndarray,
        decided: np.ndarray,
        rep: np.ndarray,
        src: np.ndarray,
        log_e: np.ndarray,
        people: _People,
        dups: _Duplicates,
        contacts: _Contacts,
        standing: dict[str, Any],
        last_contacted: np.ndarray,
    ) -> tuple[list[tuple[Any, ...]], list[tuple[CustomField, str, Any, float]]]:
        truth, world = self.truth, self.world
        n, m = len(t0), len(dups.t0)
        opt_in = rng.random(n) < sigmoid(-0.5 + 1.0 * log_e)
        has_opt = rng.random(n) < 0.35
        tags = self._tags(rng, n, CONTACT_TAGS)
        created = np.concatenate([t0, dups.t0])
        changed = np.concatenate([np.where(decided, np.minimum(t_dec, self.as_of), t0), dups.t0])
        updated = np.fmax(changed, last_contacted)
        self._plant_departures(t0, people.account, updated, standing, contacts.ids)
        created_stamps = timestamps(created)
        updated_stamps = timestamps(updated)
        last_stamps = timestamps(np.nan_to_num(last_contacted))
        rows, values = [], []
        for i in range(n + m):
            last = None if math.isnan(last_contacted[i]) else last_stamps[i]
            if i < n:
                record = people.record(i)
                record.update(
                    owner_id=world.user_ids[rep[i]],
                    lead_source=truth.sources[src[i]].name,
                    lead_status=standing["status"][i],
                    lifecycle_stage=standing["lifecycle"][i],
                    tags=tags[i],
                    custom_fields={"newsletter_opt_in": bool(opt_in[i])} if has_opt[i] else {},
                )
                version = int(standing["version"][i])
            else:
                j = i - n
                record = dict(dups.records[j])
                record.update(owner_id=world.user_ids[dups.rep[j]], lead_status="contacted" if last else "new")
                version = 1 + (last is not None)
                original = contacts.ids[int(dups.original[j])]
                self.tally.duplicates.append({"original": original, "duplicate": contacts.ids[i], "kind": dups.kind[j]})
            checked = _valid(ContactCreate, record, "contact")
            rows.append(
                (
                    contacts.ids[i],
                    world.tenant_id,
                    record["owner_id"],
                    record["account_id"],
                    checked.first_name,
                    checked.last_name,
                    checked.email,
                    checked.phone,
                    checked.mobile,
                    checked.title,
                    checked.department,
                    checked.company,
                    checked.lead_source,
                    checked.lead_status,
                    checked.lifecycle_stage,
                    checked.lead_score,
                    last,
                    checked.address_street,
                    checked.address_city,
                    checked.address_state,
                    checked.address_postal_code,
                    checked.address_country,
                    checked.tags,
                    created_stamps[i],
                    updated_stamps[i],
                    version,
                )
            )
            for fname, value in record.get("custom_fields", {}).items():
                values.append((world.fields[fname], contacts.ids[i], value, float(created[i])))
        self.tally.counts["contacts"] += len(rows)
        self.tally.counts["duplicate_contacts"] += m
        return rows, values

    # Duplicates ----------------------------------------------------------------------------------------------

    def _duplicates(
        self,
        rng: np.random.Generator,
        t0: np.ndarray,
        rep: np.ndarray,
        team: np.ndarray,
        account: np.ndarray,
        people: _People,
        src: np.ndarray,
    ) -> _Duplicates:
        """A few contacts entered twice, later and often by another rep of the team: with the same email, or
        as a variant of the name at the same account (or with the same phone), as core/duplicates looks for."""
        n = len(t0)
        picked = np.flatnonzero(rng.random(n) < self.truth.duplicate_rate)
        later = t0[picked] + rng.uniform(3, 200, len(picked)) * DAY
        keep = later < self.as_of - DAY
        picked, later = picked[keep], later[keep]
        order = np.argsort(later, kind="stable")
        picked, later = picked[order], later[order]
        out = _Duplicates(t0=later, original=picked)
        reps = []
        for i in picked.tolist():
            same_email = people.email[i] is not None and rng.random() < 0.5
            first, last = people.first[i], people.last[i]
            if not same_email or rng.random() < 0.5:
                first, last = _name_variant(rng, first, last)
            team_reps = self.team_reps[int(team[i])]
            reps.append(team_reps[int(rng.integers(len(team_reps)))] if rng.random() < 0.5 else int(rep[i]))
            record = people.record(i)
            record.update(
                first_name=first,
                last_name=last,
                phone=self._phone(rng),
                mobile=None,
                lead_source=self.truth.sources[src[int(rng.integers(n))]].name,
                lifecycle_stage="lead",
                tags=[],
            )
            if same_email:
                kind = "same_email"
            else:
                kind = "similar_name_same_account" if account[i] >= 0 else "similar_name_same_phone"
                email = f"{_ascii(first)}{_ascii(last)}{int(rng.integers(10, 99))}@mail.example.net"
                key = _SeenKeys.key(email)
                record["email"] = None if rng.random() < 0.4 or self.emails.seen(key) else email
                if record["email"]:
                    self.emails.add(key)
                if account[i] < 0:
                    record["phone"] = people.phone[i]
            out.records.append(record)
            out.kind.append(kind)
        out.rep = np.array(reps, dtype=np.int64)
        self.emails.commit()
        return out

    # Tasks ---------------------------------------------------------------------------------------------------

    def _tasks(
        self,
        rng: np.random.Generator,
        ids_rng: np.random.Generator,
        t0: np.ndarray,
        decided: np.ndarray,
        rep: np.ndarray,
        d: np.ndarray,
        deals: _Deals,
        contacts: _Contacts,
        people: _People,
    ) -> Batch:
        """Done tasks at some stage changes, one open task per open deal (long overdue on stalled ones), a
        cancelled one on some lost deals, and calls to make for some open leads."""
        world, tally, state = self.world, self.tally, deals.state
        items: list[tuple[float, float, str, str, float | None, dict[str, Any]]] = []
        # (created, due, title, status, completed, {assignee, contact, account, deal})
        for j in range(len(d)):
            i = int(d[j])
            about = {
                "assignee_id": world.user_ids[rep[i]],
                "contact_id": contacts.ids[i],
                "account_id": contacts.account_id[i],
                "deal_id": deals.ids[j],
            }
            fill = {"first": contacts.first[i], "company": contacts.company[i], "product": state["product"][j]}
            moves = state["moves"][j]
            for (_, entered), (_, moved) in zip(moves, moves[1:], strict=False):
                if rng.random() < 0.35:
                    title = TASK_TITLES_DONE[int(rng.integers(len(TASK_TITLES_DONE)))].format(**fill)
                    due = max(moved + rng.uniform(-2, 1) * DAY, entered + 3600)
                    items.append((entered, due, title, "done", moved, about))
            entered = float(state["entered"][j])
            title = TASK_TITLES_OPEN[int(rng.integers(len(TASK_TITLES_OPEN)))].format(**fill)
            if not state["closed"][j]:
                if state["rotting"][j]:
                    due = entered + rng.uniform(3, 14) * DAY
                else:
                    due = self.as_of + rng.uniform(-10, 21) * DAY
                status = "in_progress" if rng.random() < 0.2 else "open"
                items.append((entered + 600, max(due, entered + 3600), title, status, None, about))
            elif not state["won"][j] and rng.random() < 0.15:
                items.append((entered - 3600, entered + rng.uniform(1, 7) * DAY, title, "cancelled", None, about))
        for i in np.flatnonzero(~decided).tolist():
            if rng.random() < 0.4:
                created = float(t0[i]) + 3600
                due = max(self.as_of + rng.uniform(-7, 10) * DAY, created + 3600)
                about = {
                    "assignee_id": world.user_ids[rep[i]],
                    "contact_id": contacts.ids[i],
                    "account_id": contacts.account_id[i],
                }
                items.append((created, due, f"Call {people.first[i]} {people.last[i]}", "open", None, about))
        created_at = np.minimum(np.array([it[0] for it in items]), self.as_of - 60)
        due_at = np.array([it[1] for it in items])
        done_at = np.minimum(np.array([it[4] if it[4] is not None else 0.0 for it in items]), self.as_of - 60)
        ids = uuid7s(created_at, ids_rng)
        created_stamps, due_stamps, done_stamps = timestamps(created_at), timestamps(due_at), timestamps(done_at)
        priorities = rng.choice(4, size=len(items), p=(0.1, 0.6, 0.25, 0.05))
        rows = []
        for j, (_, due, title, status, _, about) in enumerate(items):
            record = {"title": title, "due_at": due_stamps[j], "priority": PRIORITIES[priorities[j]], "status": status}
            checked = _valid(TaskCreate, {**record, **about}, "task")
            completed = done_stamps[j] if status == "done" else None
            if status in ("open", "in_progress"):
                tally.tasks["open"] += 1
                tally.tasks["overdue"] += bool(due < self.as_of)
            else:
                tally.tasks[status] += 1
            rows.append(
                (
                    ids[j],
                    world.tenant_id,
                    checked.title,
                    None,
                    due_stamps[j],
                    checked.priority,
                    checked.status,
                    about["assignee_id"],
                    about["assignee_id"],
                    completed,
                    about["contact_id"],
                    about["account_id"],
                    about.get("deal_id"),
                    created_stamps[j],
                    completed or created_stamps[j],
                    1 if status == "open" else 2,
                )
            )
        tally.counts["tasks"] += len(rows)
        return table_batch("tasks", rows)

    # Notes ---------------------------------------------------------------------------------------------------

    def _notes(
        self,
        rng: np.random.Generator,
        ids_rng: np.random.Generator,
        t0: np.ndarray,
        rep: np.ndarray,
        d: np.ndarray,
        won: np.ndarray,
        deals: _Deals,
        contacts: _Contacts,
    ) -> Batch:
        """Notes whose tone follows how the deal goes: a note while it is worked (more positive on deals that
        will be won) and a closing note; a few neutral or positive notes on leads. Bodies are one or two
        sentences of one tone from the templates in the truth file."""
        world, state = self.world, deals.state
        items: list[tuple[float, str, str, str, str, dict[str, str]]] = []
        # (at, entity type, entity id, tone, author, template fill)
        for j in range(len(d)):
            i = int(d[j])
            start, entered = float(state["created"][j]), float(state["entered"][j])
            end = entered if state["closed"][j] else float(self.as_of)
            author = world.user_ids[rep[i]]
            fill = {"first": contacts.first[i], "company": contacts.company[i], "product": state["product"][j]}
            tones: tuple[tuple[str, float], ...]
            if rng.random() < 0.4:
                tones = NOTE_TONES_WON if won[j] else NOTE_TONES_LOST
                at = start + rng.random() * max(end - start, 60)
                items.append((at, "deals", deals.ids[j], _weighted(tones, rng.random()), author, fill))
            if state["closed"][j] and rng.random() < 0.6:
                tones = NOTE_TONES_CLOSING_WON if state["won"][j] else NOTE_TONES_CLOSING_LOST
                items.append((end, "deals", deals.ids[j], _weighted(tones, rng.random()), author, fill))
        for i in np.flatnonzero(rng.random(len(t0)) < 0.06).tolist():
            fill = {"first": contacts.first[i], "company": contacts.company[i], "product": PRODUCTS[0]}
            tone = "neutral" if rng.random() < 0.7 else "positive"
            at = float(t0[i]) + rng.uniform(0, 10) * DAY
            items.append((at, "contacts", contacts.ids[i], tone, world.user_ids[rep[i]], fill))
        at = np.minimum(np.array([it[0] for it in items]), self.as_of - 60)
        ids = uuid7s(at, ids_rng)
        stamps = timestamps(at)
        pinned = rng.random(len(items)) < 0.03
        two = rng.random(len(items)) < 0.4
        rows = []
        for j, (_, entity_type, entity_id, tone, author, fill) in enumerate(items):
            templates = NOTE_TEMPLATES[tone]
            picks = rng.choice(len(templates), size=2 if two[j] else 1, replace=False)
            body = " ".join(templates[p].format(**fill) for p in picks)
            checked = _valid(NoteCreate, {"body": body, "is_pinned": bool(pinned[j])}, "note")
            self.tally.notes[tone] += 1
            rows.append(
                (
                    ids[j],
                    world.tenant_id,
                    entity_type,
                    entity_id,
                    checked.body,
                    checked.is_pinned,
                    author,
                    stamps[j],
                    stamps[j],
                )
            )
        self.tally.counts["notes"] += len(rows)
        return table_batch("notes", rows)

    # Custom field values ---------------------------------------------------------------------------------

    def _custom_values(self, values: list[tuple[CustomField, str, Any, float]], ids_rng: np.random.Generator) -> Batch:
        """custom_field_values rows, each value checked and typed by the custom field service's coercion."""
        created = np.array([v[3] for v in values])
        ids = uuid7s(created, ids_rng)
        stamps = timestamps(created)
        rows = []
        for j, (definition, entity_id, value, _) in enumerate(values):
            try:
                stored = custom_field_rules._coerce(definition, value)
            except custom_field_rules._Invalid as exc:
                raise ValidationFailed(f"Generated {definition.field_name} value is invalid: {exc}") from exc
            typed: dict[str, Any] = dict.fromkeys(("value_text", "value_number", "value_date", "value_bool"))
            column = custom_field_rules._VALUE_COLUMNS[definition.field_type]
            typed[column] = str(stored) if column in ("value_number", "value_date") else stored
            rows.append(
                (
                    ids[j],
                    self.world.tenant_id,
                    str(definition.id),
                    definition.entity_type,
                    entity_id,
                    typed["value_text"],
                    typed["value_number"],
                    typed["value_date"],
                    typed["value_bool"],
                    stamps[j],
                    stamps[j],
                )
            )
        self.tally.counts["custom_field_values"] += len(rows)
        return table_batch("custom_field_values", rows)

    def realized(self) -> dict[str, Any]:
        """The realised figures (after every chunk was consumed), with the planted anomalies and churners."""
        return {**self.tally.to_json(self.truth), **self.planted_truth()}


# Per-chunk state ---------------------------------------------------------------------------------------------

PRIORITIES = ("low", "normal", "high", "urgent")
NOTE_TONES_WON = (("positive", 0.5), ("neutral", 0.35), ("negative", 0.15))
NOTE_TONES_LOST = (("positive", 0.2), ("neutral", 0.35), ("negative", 0.45))
NOTE_TONES_CLOSING_WON = (("positive", 0.8), ("neutral", 0.2))
NOTE_TONES_CLOSING_LOST = (("negative", 0.7), ("neutral", 0.3))


@dataclass
class _Contacts:
    """Every contact of a chunk (leads, then duplicates): what activities, deals, tasks and notes cite."""

    ids: list[str]
    first: list[str]
    company: list[str]
    account_id: list[str | None]


@dataclass
class _Deals:
    ids: list[str]
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    history: list[Any] = field(default_factory=list)
    values: list[tuple[CustomField, str, Any, float]] = field(default_factory=list)
    state: dict[str, list[Any]] = field(default_factory=lambda: defaultdict(list))


@dataclass
class _Duplicates:
    t0: np.ndarray
    original: np.ndarray
    records: list[dict[str, Any]] = field(default_factory=list)
    kind: list[str] = field(default_factory=list)
    rep: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))


class _People:
    """Names, emails, phones, titles and addresses of one chunk's leads (Faker pools, seeded draws).

    Emails are unique in the tenant and no two people of one account share a name, so the only likely
    duplicates are the planted ones."""

    def __init__(
        self, gen: Generator, rng: np.random.Generator, account: np.ndarray, no_account: np.ndarray, dept: np.ndarray
    ) -> None:
        pools, acc = gen.pools, gen.acc
        n = len(account)
        self.gen, self.account, self.dept = gen, account, dept
        self.first = _pick(rng, pools.first_names, n)
        self.last = _pick(rng, pools.last_names, n)
        own = np.flatnonzero(no_account)
        own_names, own_domains = gen._company_names(rng, len(own))
        self.own_company = {int(i): (name, domain) for i, name, domain in zip(own, own_names, own_domains, strict=True)}
        patterns = rng.integers(0, 4, n)
        title_draw = rng.random(n)
        has_email = rng.random(n) < 0.95
        has_mobile = rng.random(n) < 0.4
        self.has_street = rng.random(n) < 0.5
        self.street = _pick(rng, pools.streets, n)
        self.email: list[str | None] = []
        self.phone: list[str] = []
        self.mobile: list[str | None] = []
        self.title: list[str] = []
        for i in range(n):
            key = _SeenKeys.key(f"{account[i]}|{self.first[i]}|{self.last[i]}")
            while account[i] >= 0 and gen.names.seen(key):
                self.first[i] = pools.first_names[int(rng.integers(len(pools.first_names)))]
                self.last[i] = pools.last_names[int(rng.integers(len(pools.last_names)))]
                key = _SeenKeys.key(f"{account[i]}|{self.first[i]}|{self.last[i]}")
            gen.names.add(key)
            first, last = _ascii(self.first[i]) or "x", _ascii(self.last[i]) or "x"
            local = (f"{first}.{last}", f"{first[0]}{last}", first, f"{first}_{last}")[patterns[i]]
            domain = acc["domain"][account[i]] if account[i] >= 0 else self.own_company[i][1]
            email, suffix = f"{local}@{domain}", 2
            while gen.emails.seen(_SeenKeys.key(email)):
                email, suffix = f"{local}{suffix}@{domain}", suffix + 1
            gen.emails.add(_SeenKeys.key(email))
            self.email.append(email if has_email[i] else None)
            self.phone.append(gen._phone(rng))
            self.mobile.append(gen._phone(rng) if has_mobile[i] else None)
            titles = TITLES[gen.truth.departments[dept[i]].name]
            self.title.append(titles[int(title_draw[i] * len(titles))])
        gen.emails.commit()
        gen.names.commit()

    def company(self, i: int) -> str:
        a = int(self.account[i])
        return str(self.gen.acc["name"][a]) if a >= 0 else self.own_company[i][0]

    def account_id(self, i: int) -> str | None:
        a = int(self.account[i])
        return str(self.gen.acc["id"][a]) if a >= 0 else None

    def record(self, i: int) -> dict[str, Any]:
        """Lead `i`'s ContactCreate fields that do not depend on its history."""
        a = int(self.account[i])
        places = self.gen.pools.places
        city, state, postcode = places[self.gen.acc["place"][a]] if a >= 0 else places[i % len(places)]
        return {
            "first_name": self.first[i],
            "last_name": self.last[i],
            "email": self.email[i],
            "phone": self.phone[i],
            "mobile": self.mobile[i],
            "title": self.title[i],
            "department": self.gen.truth.departments[self.dept[i]].name,
            "company": self.company(i),
            "account_id": self.account_id(i),
            "lead_score": 0,
            "address_street": self.street[i] if self.has_street[i] else None,
            "address_city": city,
            "address_state": state,
            "address_postal_code": postcode,
            "address_country": "United States",
        }


class _Activities:
    """The activities of one chunk: drawn in bulk, sorted by time, shaped into rows at the end."""

    KINDS = ("email", "call", "meeting", "other")
    LEAD_MIX = (0.55, 0.3, 0.1, 0.05)
    DEAL_MIX = (0.4, 0.3, 0.28, 0.02)

    def __init__(self, gen: Generator, rng: np.random.Generator) -> None:
        self.gen, self.rng = gen, rng
        self.parts: list[dict[str, np.ndarray]] = []
        self.lead_emails: list[tuple[str, int]] = []
        self.account: np.ndarray | None = None  # each contact's account index (-1: none), for the planting

    def add(
        self,
        contact: np.ndarray,
        count: np.ndarray,
        start: np.ndarray,
        end: np.ndarray,
        log_e: np.ndarray,
        rep: np.ndarray,
        deal: np.ndarray | None,
        *,
        lead: bool,
    ) -> None:
        """`count[i]` activities of `contact[i]` between `start[i]` and `end[i]`, in office hours."""
        rng = self.rng
        total = int(count.sum())
        if total == 0:
            return
        start, end = np.repeat(start, count), np.repeat(end, count)
        at = _working_time(rng, start + rng.random(total) * np.maximum(end - start, 0))
        at = np.minimum(np.clip(at, start + 60, np.maximum(end, start + 120)), self.gen.as_of - 60)
        self.parts.append(
            {
                "contact": np.repeat(contact, count),
                "at": at,
                "log_e": np.repeat(log_e, count),
                "rep": np.repeat(rep, count),
                "deal": np.repeat(deal, count) if deal is not None else np.full(total, -1),
                "kind": rng.choice(4, size=total, p=self.LEAD_MIX if lead else self.DEAL_MIX),
                "lead": np.full(total, lead),
            }
        )

    def arrange(self, total: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(when each contact was last called, met or emailed, NaN if never: what `last_contacted_at` holds;
        activities each contact had while a lead)."""
        keys = ("contact", "at", "log_e", "rep", "deal", "kind", "lead")
        if self.parts:
            merged = {key: np.concatenate([p[key] for p in self.parts]) for key in keys}
        else:
            merged = {key: np.empty(0, dtype=np.float64 if key in ("at", "log_e") else np.int64) for key in keys}
            merged["lead"] = merged["lead"].astype(bool)
        order = np.argsort(merged["at"], kind="stable")
        self.all = {key: value[order] for key, value in merged.items()}
        self.type = np.array(self.KINDS)[self.all["kind"]]
        account = self.account if self.account is not None else np.full(total, -1)
        self.keep = keep = self.gen._activity_keep(
            self.gen._prng, account[self.all["contact"]], self.all["at"], self.all["rep"]
        )
        contacting = np.isin(self.type, CONTACTING_TYPES) & keep
        last = np.full(total, -np.inf)
        np.maximum.at(last, self.all["contact"][contacting], self.all["at"][contacting])
        last[np.isinf(last)] = np.nan
        lead_count = np.bincount(self.all["contact"][self.all["lead"] & keep], minlength=total)
        self._draw_outcomes()
        return last, lead_count

    def _draw_outcomes(self) -> None:
        rng, truth, m = self.rng, self.gen.truth, len(self.type)
        inbound_share = np.where(self.type == "email", 0.15, np.where(self.type == "call", 0.1, 0.0))
        self.inbound = rng.random(m) < inbound_share
        self.bounced = rng.random(m) < 0.03
        self.opened = rng.random(m) < sigmoid(truth.email_open_intercept + truth.engagement_open * self.all["log_e"])
        self.clicked = self.opened & (rng.random(m) < 0.35)
        self.replied = self.opened & (rng.random(m) < 0.3 + 0.2 * self.clicked)
        self.call_outcome = rng.choice(3, size=m, p=(0.45, 0.35, 0.2))
        self.meeting_outcome = rng.choice(3, size=m, p=(0.85, 0.08, 0.07))
        self.template = rng.integers(0, 840, m)  # a multiple of every subject list's length
        self.body = rng.integers(0, len(ACTIVITY_BODIES) * 2, m)
        self.minutes = rng.integers(3, 41, m)
        self.meeting_minutes = rng.choice((30, 45, 60), size=m)
        self.voicemail_seconds = rng.integers(20, 61, m)

    def _outcome(self, j: int, typ: str) -> tuple[str | None, str | None, int | None, str | None]:
        """(direction, outcome, duration in seconds, body) of activity j."""
        if typ == "email":
            if self.inbound[j]:
                return "inbound", "received", None, None
            if self.bounced[j]:
                outcome = "bounced"
            elif self.replied[j]:
                outcome = "replied"
            elif self.clicked[j]:
                outcome = "clicked"
            else:
                outcome = "opened" if self.opened[j] else "sent"
            return "outbound", outcome, None, None
        body = ACTIVITY_BODIES[self.body[j]] if self.body[j] < len(ACTIVITY_BODIES) else None
        if typ == "call":
            if self.inbound[j]:
                return "inbound", "connected", int(self.minutes[j]) * 60, body
            outcome = ("connected", "left voicemail", "no answer")[self.call_outcome[j]]
            seconds = {"connected": int(self.minutes[j]) * 60, "left voicemail": int(self.voicemail_seconds[j])}
            return "outbound", outcome, seconds.get(outcome), body
        if typ == "meeting":
            outcome = ("completed", "no-show", "rescheduled")[self.meeting_outcome[j]]
            return "outbound", outcome, int(self.meeting_minutes[j]) * 60 if outcome == "completed" else None, body
        return None, None, None, None

    def batch(self, ids_rng: np.random.Generator, contacts: _Contacts, deal_ids: list[str]) -> Batch:
        gen, a = self.gen, self.all
        world = gen.world
        ids = uuid7s(a["at"], ids_rng)
        stamps = timestamps(a["at"])
        subjects = {
            "email": EMAIL_SUBJECTS,
            "call": CALL_SUBJECTS,
            "meeting": MEETING_SUBJECTS,
            "other": OTHER_SUBJECTS,
        }
        rows = []
        for j in range(len(ids)):
            if not self.keep[j]:
                continue  # planted: this activity did not happen
            c, typ = int(a["contact"][j]), str(self.type[j])
            templates = subjects[typ]
            fill = {
                "first": contacts.first[c],
                "company": contacts.company[c],
                "product": PRODUCTS[self.template[j] % 6],
            }
            direction, outcome, duration, body = self._outcome(j, typ)
            if typ == "email" and a["lead"][j] and outcome is not None:
                self.lead_emails.append((outcome, c))
            deal, owner = int(a["deal"][j]), world.user_ids[int(a["rep"][j])]
            subject = templates[self.template[j] % len(templates)].format(**fill)
            if typ == "email" and direction == "inbound" and not subject.startswith("Re: "):
                subject = f"Re: {subject}"  # their answer to one of ours
            record = {
                "type": typ,
                "subject": subject,
                "body": body,
                "direction": direction,
                "outcome": outcome,
                "duration_seconds": duration,
                "occurred_at": stamps[j],
                "contact_id": contacts.ids[c],
                "account_id": contacts.account_id[c],
                "deal_id": deal_ids[deal] if deal >= 0 else None,
                "owner_id": owner,
            }
            checked = _valid(ActivityCreate, record, "activity")
            rows.append(
                (
                    ids[j],
                    world.tenant_id,
                    owner,
                    checked.type,
                    checked.subject,
                    checked.body,
                    checked.direction,
                    checked.outcome,
                    checked.duration_seconds,
                    stamps[j],
                    record["contact_id"],
                    record["account_id"],
                    record["deal_id"],
                    stamps[j],
                    stamps[j],
                )
            )
        gen.tally.counts["activities"] += len(rows)
        return table_batch("activities", rows)


# Helpers ---------------------------------------------------------------------------------------------------


def _valid(schema: Any, record: dict[str, Any], what: str) -> Any:
    """The record as the API's schema reads it: a generator bug (a record the API would refuse) fails here."""
    try:
        return schema.model_validate(record)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ValidationFailed(
            f"Generated {what} is invalid: {first.get('msg')} at {'.'.join(map(str, first.get('loc', ())))}",
            details=[{"field": ".".join(map(str, e.get("loc", ()))), "message": e.get("msg")} for e in exc.errors()],
        ) from exc


def _check_history(moves: list[tuple[Stage, float, float]], as_of: int) -> None:
    """A stage history as the deal service writes one: in time order, nothing after today, and only its last
    entry may be a closed stage."""
    times = [at for _, at, _ in moves]
    if not times or times != sorted(times) or times[-1] > as_of or any(s.is_closed_stage for s, _, _ in moves[:-1]):
        raise ValidationFailed("Generated stage history is inconsistent", details={"times": times})


def _stamp(seconds: float) -> str:
    return str(timestamps(np.array([seconds]))[0])


def _weighted(catalogue: tuple[tuple[str, float], ...], u: float) -> str:
    total = 0.0
    for name, p in catalogue:
        total += p
        if u < total:
            return name
    return catalogue[-1][0]


def _bisect(f: Any, target: float, lo: float = -15.0, hi: float = 15.0) -> float:
    """x with f(x) == target, for an increasing f."""
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if f(mid) < target else (lo, mid)
    return (lo + hi) / 2


def _time_of_day(rng: np.random.Generator, n: int) -> np.ndarray:
    office = rng.integers(7 * 3600, 19 * 3600, n)
    return np.where(rng.random(n) < 0.9, office, rng.integers(0, DAY, n))


def _working_time(rng: np.random.Generator, at: np.ndarray) -> np.ndarray:
    """The same days in office hours, most weekend ones moved to the Friday before or the Monday after."""
    day = np.floor(at / DAY) * DAY
    weekday = ((day / DAY).astype(np.int64) + 3) % 7
    shift = np.where(weekday == 5, -1, np.where(weekday == 6, 1, 0))
    day = day + np.where((shift != 0) & (rng.random(len(at)) < 0.85), shift, 0) * DAY
    return np.asarray(day + rng.integers(8 * 3600, 18 * 3600, len(at)))


def _name_variant(rng: np.random.Generator, first: str, last: str) -> tuple[str, str]:
    """Another spelling of the same person that core/duplicates still calls similar (at its threshold)."""
    original = f"{first} {last}"
    for _ in range(20):
        kind = int(rng.integers(4))
        if kind == 0:
            candidate = (first, last + last[-1])
        elif kind == 1 and len(last) > 4:
            cut = int(rng.integers(1, len(last) - 1))
            candidate = (first, last[:cut] + last[cut + 1 :])
        elif kind == 2:
            candidate = (f"{first} {chr(65 + int(rng.integers(26)))}.", last)
        else:
            candidate = (first, last.upper())
        name = f"{candidate[0]} {candidate[1]}"
        if name != original and name_similarity(name, original) >= NAME_THRESHOLD:
            return candidate
    return first, last


def _month(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m")
