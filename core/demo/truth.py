"""The planted truth of a demo tenant: every parameter the generator draws from the seed, before any record.

`draw(seed, scale, as_of)` returns a frozen `Truth`: the sales team (who sells how well and how fast), what
lead sources, industries and departments do to conversion and winning, how much engagement helps, the
seasonality (monthly lead factors with a summer dip, the quarter-end pull on closings), the growth trend, the
stage durations, how deals are lost and why. The generator (core/demo/generate.py) simulates a sales history
from it; `Truth.to_json()` is what the truth file holds next to the figures the history realised, so that
analytics and models can be checked against the patterns that were planted (see docs/operations.md).

Effects are on the log-odds scale: a lead converts with probability
`sigmoid(conversion_intercept + source.conversion + industry.conversion + department.conversion
+ engagement_conversion * log(engagement))`; a deal is won with probability
`sigmoid(win_intercept + rep.win + team.win + source.win + industry.win + engagement_win * log(engagement))`.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from functools import lru_cache
from typing import Any

import numpy as np

GENERATOR_VERSION = 1
DEFAULT_SEED = 42
DEMO_DOMAIN = "acme-demo.example.com"  # every demo user's address; example.com is reserved for examples


@dataclass(frozen=True)
class Scale:
    """How much history: the targets the simulation is calibrated to hit (counts land near, not on, them)."""

    name: str
    accounts: int
    contacts: int
    deals: int
    activities: int
    reps_per_team: tuple[int, int, int]
    chunk_contacts: int  # contacts per generated and loaded batch (memory stays bounded by it)


SCALES: dict[str, Scale] = {
    "small": Scale("small", 100, 500, 200, 2_000, (2, 2, 2), 500),
    "medium": Scale("medium", 3_000, 15_000, 6_000, 60_000, (5, 6, 6), 5_000),
    "large": Scale("large", 200_000, 1_000_000, 300_000, 3_000_000, (5, 6, 6), 10_000),
}


@dataclass(frozen=True)
class Team:
    name: str
    company_sizes: tuple[str, ...]  # the accounts this team sells to
    win: float  # log-odds effect on winning
    cycle_factor: float  # multiplies every stage's duration
    median_amount: int


@dataclass(frozen=True)
class Person:
    """A demo user. Reps own accounts, contacts and deals; `win`, `speed` and `activity` are their skill."""

    first_name: str
    last_name: str
    email: str
    role: str  # admin, manager or rep
    team: int | None  # index into Truth.teams
    win: float = 0.0  # log-odds effect on winning
    speed: float = 1.0  # multiplies stage durations (below 1: faster)
    activity: float = 1.0  # multiplies how many activities they log


@dataclass(frozen=True)
class Category:
    """A lead source, industry or department with its share of leads and its effects."""

    name: str
    share: float
    conversion: float  # log-odds effect on a lead becoming a deal
    win: float = 0.0  # log-odds effect on a deal being won
    amount_factor: float = 1.0


@dataclass(frozen=True)
class CompanySize:
    label: str
    share: float
    employees: tuple[int, int]
    revenue_per_employee: int


@dataclass(frozen=True)
class Truth:
    seed: int
    scale: Scale
    as_of: date
    start: date
    annual_growth: float  # lead arrivals grow by this fraction per year
    month_factors: tuple[float, ...]  # lead arrivals by calendar month (mean 1): summer dip, December lull
    weekday_factors: tuple[float, ...]  # Monday first
    summer_dip: float  # August's arrivals are this fraction below an ordinary month, July's 3/4 of it
    quarter_end_pull_won: float  # share of wins closing in a quarter's first two months pulled into its last days
    quarter_end_pull_lost: float
    teams: tuple[Team, ...]
    people: tuple[Person, ...]
    sources: tuple[Category, ...]
    industries: tuple[Category, ...]
    departments: tuple[Category, ...]
    company_sizes: tuple[CompanySize, ...]
    engagement_sigma: float  # engagement ~ lognormal(0, sigma): how responsive a lead is
    engagement_conversion: float
    engagement_win: float
    engagement_open: float  # log-odds effect on an email being opened
    email_open_intercept: float
    target_win_rate: float
    decision_days: float  # mean days from a lead's arrival to qualifying (or dropping) it
    stage_days: tuple[float, ...]  # mean days in each open stage, for a rep of speed 1 in a team of factor 1
    lost_reach: tuple[float, ...]  # where lost deals drop out: share per open stage
    skip_second_stage: float
    stall_share: float  # lost deals that go dark: they sit in their stage for months first
    stall_days: tuple[int, int]
    lost_reasons_early: tuple[tuple[str, float], ...]
    lost_reasons_late: tuple[tuple[str, float], ...]
    lost_reasons_stalled: tuple[tuple[str, float], ...]
    repriced_share: float  # deals whose amount changes at the third stage
    duplicate_rate: float
    no_account_share: float  # leads known only by a company name, without an account
    lead_activity_share: float  # of all activities: before the lead is qualified (the rest: deals, customers)
    # Calibrated by the generator (generate.calibrate) so that the counts land near the scale's targets.
    conversion_intercept: float = 0.0
    win_intercept: float = 0.0
    lead_activity_rate: float = 1.0
    deal_activity_rate: float = 1.0
    notes: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def reps(self) -> list[int]:
        return [i for i, p in enumerate(self.people) if p.role == "rep"]

    def to_json(self) -> dict[str, Any]:
        """The parameters as plain JSON (what the truth file's `planted` section holds)."""
        data = asdict(self)
        data["as_of"] = self.as_of.isoformat()
        data["start"] = self.start.isoformat()
        data["month_factors"] = {calendar.month_abbr[m + 1]: round(f, 4) for m, f in enumerate(self.month_factors)}
        data["weekday_factors"] = {calendar.day_abbr[d]: f for d, f in enumerate(self.weekday_factors)}
        data["note_templates"] = {label: list(t) for label, t in self.notes.items()}
        del data["notes"]
        return data


# The catalogue the seed varies ----------------------------------------------------------------------------

TEAMS = (
    Team("Enterprise", ("501-1000", "1000+"), -0.35, 1.8, 90_000),
    Team("Mid-Market", ("51-200", "201-500"), 0.0, 1.0, 24_000),
    Team("SMB", ("1-10", "11-50"), 0.3, 0.6, 5_500),
)

COMPANY_SIZES = (
    CompanySize("1-10", 0.24, (2, 10), 90_000),
    CompanySize("11-50", 0.28, (11, 50), 110_000),
    CompanySize("51-200", 0.2, (51, 200), 140_000),
    CompanySize("201-500", 0.12, (201, 500), 160_000),
    CompanySize("501-1000", 0.09, (501, 1000), 180_000),
    CompanySize("1000+", 0.07, (1001, 20000), 220_000),
)

# name, share, conversion, win
_SOURCES = (
    ("Website", 0.22, 0.0, 0.0),
    ("Referral", 0.11, 0.9, 0.5),
    ("Partner", 0.08, 0.6, 0.3),
    ("Trade Show", 0.1, 0.2, 0.0),
    ("Webinar", 0.1, 0.1, -0.1),
    ("Paid Search", 0.14, -0.3, -0.2),
    ("Social Media", 0.09, -0.6, -0.3),
    ("Cold Call", 0.08, -0.9, -0.4),
    ("Email Campaign", 0.08, -0.4, -0.1),
)
# name, share, conversion, win, deal size factor
_INDUSTRIES = (
    ("Technology", 0.2, 0.3, 0.1, 1.2),
    ("Healthcare", 0.12, 0.0, -0.1, 1.3),
    ("Finance", 0.12, -0.1, -0.2, 1.5),
    ("Manufacturing", 0.12, 0.1, 0.2, 1.0),
    ("Retail", 0.1, -0.3, 0.0, 0.8),
    ("Education", 0.08, -0.4, 0.1, 0.6),
    ("Real Estate", 0.07, -0.2, -0.1, 0.9),
    ("Energy", 0.06, 0.0, 0.1, 1.4),
    ("Media", 0.06, -0.1, -0.2, 0.7),
    ("Logistics", 0.07, 0.1, 0.0, 1.0),
)
# name, share, conversion
_DEPARTMENTS = (
    ("Executive", 0.14, 0.3),
    ("IT", 0.22, 0.2),
    ("Sales", 0.14, 0.0),
    ("Marketing", 0.14, -0.1),
    ("Operations", 0.16, 0.0),
    ("Finance", 0.1, -0.1),
    ("Procurement", 0.1, 0.1),
)
TITLES: dict[str, tuple[str, ...]] = {
    "Executive": ("CEO", "COO", "Founder", "Managing Director", "President"),
    "IT": ("CTO", "IT Director", "IT Manager", "Systems Administrator", "Head of Engineering"),
    "Sales": ("VP of Sales", "Sales Director", "Sales Operations Manager", "Account Director"),
    "Marketing": ("CMO", "Marketing Manager", "Demand Generation Lead", "Brand Manager"),
    "Operations": ("Head of Operations", "Operations Manager", "Office Manager", "Project Manager"),
    "Finance": ("CFO", "Finance Director", "Controller", "Financial Analyst"),
    "Procurement": ("Procurement Manager", "Purchasing Lead", "Vendor Manager"),
}

LOST_EARLY = (
    ("No budget", 0.3),
    ("Not a fit", 0.25),
    ("Timing", 0.2),
    ("No decision", 0.15),
    ("Lost to competitor", 0.1),
)
LOST_LATE = (
    ("Lost to competitor", 0.35),
    ("Price too high", 0.3),
    ("No decision", 0.15),
    ("Timing", 0.1),
    ("Legal or procurement", 0.1),
)
LOST_STALLED = (("Went dark", 0.7), ("No decision", 0.3))

# Notes: every body is one or two sentences of a single tone, so `note_label` can tell the tone back.
NOTE_TEMPLATES: dict[str, tuple[str, ...]] = {
    "positive": (
        "{first} loved the demo and wants to move forward quickly.",
        "Great call with {first}: budget is approved for {product}.",
        "{company} is very happy with the pilot results.",
        "Strong champion in {first}; the team is excited about {product}.",
        "Excellent feedback from {company} on the proposal.",
        "{first} confirmed we are the preferred vendor.",
        "Really positive meeting, {company} sees clear value in {product}.",
        "Legal review went smoothly and {first} is delighted with the terms.",
    ),
    "negative": (
        "{first} is unhappy with the pricing and threatened to walk away.",
        "{company} complained about slow responses from our side.",
        "Frustrating call: {first} keeps postponing and will not commit.",
        "The demo went badly; {company} found {product} confusing.",
        "{first} says a competitor offered a much better deal.",
        "Budget was cut at {company}; the project is at serious risk.",
        "Poor feedback on the proposal, {first} was disappointed.",
        "{company} is annoyed about the contract terms.",
    ),
    "neutral": (
        "Sent the requested documents to {first}.",
        "{company} will review the proposal next week.",
        "Call scheduled with {first} for a follow-up.",
        "Updated the contact details for {company}.",
        "{first} asked for a copy of the security questionnaire.",
        "Handover notes for the {product} evaluation.",
        "{company} is comparing options; a decision is expected this quarter.",
        "Logged the requirements shared by {first}.",
    ),
}


def _spread(rng: np.random.Generator, n: int, scale: float) -> np.ndarray:
    """n values at evenly spaced normal quantiles times `scale`, in random order: every seed gets a clear
    best and worst (a plain normal draw of six reps may put them all close together)."""
    if n == 1:
        return np.zeros(1)
    from statistics import NormalDist

    quantiles = np.array([NormalDist().inv_cdf((i + 0.5) / n) for i in range(n)])
    return np.asarray(rng.permutation(quantiles * scale))


def month_start(day: date, months_back: int) -> date:
    total = day.year * 12 + (day.month - 1) - months_back
    return date(total // 12, total % 12 + 1, 1)


def draw(seed: int, scale: Scale, as_of: date) -> Truth:
    """The parameters of a demo history of `scale` ending at `as_of`, all drawn from `seed` (the same seed
    and date give the same Truth, whatever the machine)."""
    from faker import Faker

    rng = np.random.default_rng(np.random.SeedSequence([seed, 1]))
    fake = Faker("en_US")
    fake.seed_instance(seed)

    summer_dip = float(rng.uniform(0.25, 0.4))
    months = np.ones(12)
    months[6] -= 0.75 * summer_dip  # July
    months[7] -= summer_dip  # August
    months[11] -= 0.15  # December
    months[0] += 0.05  # January: budgets reopen
    months /= months.mean()

    def jitter(value: float, width: float = 0.12) -> float:
        return round(value + float(rng.uniform(-width, width)), 3)

    sources = tuple(Category(n, s, jitter(c), jitter(w)) for n, s, c, w in _SOURCES)
    industries = tuple(Category(n, s, jitter(c), jitter(w), f) for n, s, c, w, f in _INDUSTRIES)
    departments = tuple(Category(n, s, jitter(c, 0.08)) for n, s, c in _DEPARTMENTS)

    people: list[Person] = []
    used: set[str] = set()

    def person(role: str, team: int | None, **skill: float) -> Person:
        while True:
            first, last = fake.first_name(), fake.last_name()
            local = re.sub(r"[^a-z]", "", first.lower()) + "." + re.sub(r"[^a-z]", "", last.lower())
            if local not in used:
                used.add(local)
                break
        email = f"admin@{DEMO_DOMAIN}" if role == "admin" else f"{local}@{DEMO_DOMAIN}"
        return Person(first, last, email, role, team, **skill)

    people.append(person("admin", None))
    for t in range(len(TEAMS)):
        people.append(person("manager", t))
    n_reps = sum(scale.reps_per_team)
    wins = _spread(rng, n_reps, 0.55)
    speeds = np.exp(_spread(rng, n_reps, 0.25))
    activity = np.exp(_spread(rng, n_reps, 0.2))
    i = 0
    for t, count in enumerate(scale.reps_per_team):
        for _ in range(count):
            people.append(
                person(
                    "rep",
                    t,
                    win=round(float(wins[i]), 3),
                    speed=round(float(speeds[i]), 3),
                    activity=round(float(activity[i]), 3),
                )
            )
            i += 1

    return Truth(
        seed=seed,
        scale=scale,
        as_of=as_of,
        start=month_start(as_of, 36),
        annual_growth=round(float(rng.uniform(0.15, 0.35)), 3),
        month_factors=tuple(round(float(m), 4) for m in months),
        weekday_factors=(1.0, 1.05, 1.05, 1.0, 0.85, 0.12, 0.08),
        summer_dip=round(summer_dip, 3),
        quarter_end_pull_won=round(float(rng.uniform(0.3, 0.45)), 3),
        quarter_end_pull_lost=0.1,
        teams=TEAMS,
        people=tuple(people),
        sources=sources,
        industries=industries,
        departments=departments,
        company_sizes=COMPANY_SIZES,
        engagement_sigma=0.7,
        engagement_conversion=round(float(rng.uniform(0.7, 1.0)), 3),
        engagement_win=round(float(rng.uniform(0.3, 0.5)), 3),
        engagement_open=0.9,
        email_open_intercept=-0.3,
        target_win_rate=round(float(rng.uniform(0.28, 0.36)), 3),
        decision_days=18.0,
        stage_days=(6.0, 10.0, 14.0, 9.0),
        lost_reach=(0.3, 0.3, 0.25, 0.15),
        skip_second_stage=0.1,
        stall_share=0.18,
        stall_days=(45, 240),
        lost_reasons_early=LOST_EARLY,
        lost_reasons_late=LOST_LATE,
        lost_reasons_stalled=LOST_STALLED,
        repriced_share=0.3,
        duplicate_rate=0.015,
        no_account_share=0.12,
        lead_activity_share=0.4,
        notes=NOTE_TEMPLATES,
    )


def with_calibration(
    truth: Truth,
    *,
    conversion_intercept: float,
    win_intercept: float,
    lead_activity_rate: float,
    deal_activity_rate: float,
) -> Truth:
    return replace(
        truth,
        conversion_intercept=round(float(conversion_intercept), 5),
        win_intercept=round(float(win_intercept), 5),
        lead_activity_rate=round(float(lead_activity_rate), 5),
        deal_activity_rate=round(float(deal_activity_rate), 5),
    )


# Reading notes back ------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _note_patterns() -> list[tuple[re.Pattern[str], str]]:
    patterns = []
    for label, templates in NOTE_TEMPLATES.items():
        for template in templates:
            parts = re.split(r"(\{\w+\})", template)
            regex = "".join(".+?" if p.startswith("{") else re.escape(p) for p in parts)
            patterns.append((re.compile(regex), label))
    return patterns


def note_label(body: str) -> str | None:
    """The tone (positive, negative, neutral) a demo note was written with; None for any other text."""
    for pattern, label in _note_patterns():
        if pattern.match(body):
            return label
    return None
