"""Churn risk of customer accounts: a probability with its reasons, from the tenant's own history.

**Customer account**: an account (not merged away) with at least one won deal. Each gets, as of a moment `t`:

- engagement: activities (on the account, its contacts or its deals) in the 90 days before `t` and in the 90
  before those (`engagement_trend` = log2 of the ratio, +1 smoothed), against the account's usual 90 days (its
  rate over the year before those 90 days: `engagement_vs_usual`), days since the last one;
- sentiment trend: mean polarity of its scored notes and activities in the last 90 days minus the 90 before
  (`_sentiment`: from `text_sentiments`, people's corrections first; 0 without scored text);
- open issues: tasks still open at `t` that are flagged as issues (complaint, problem, outage, escalation,
  cancellation, refund, competitor... in the title or description: ISSUE_PATTERN) or overdue by more than 14 days,
  plus notes and activities of the last 180 days that say so or that sentiment scored negative (each counted once);
- overdue renewals: the days by which an open deal named "renewal" is past its expected close date, or by which
  the expected renewal (365 days after the last won deal) is past, whichever is more;
- lost deals in the last 180 days, open deals, won deals so far, days since the last win;
- contact departures in the last 180 days: contacts deleted, marked inactive or moved to the "other" lifecycle
  stage (the time of an inactivation is the contact's last update: the CRM keeps no separate date for it).

**Outcome** (point in time): an account that is a customer at `t` and engaged then (a won deal or an activity in
the `ACTIVE_DAYS` (90) days before `t`) *churned* if, in the `OUTCOME_DAYS` (180) days after `t`, it had no won deal and
no activity at all. Training rows are such snapshots every `STEP_DAYS` (30) days whose outcome window has ended;
features use only what happened up to `t` (a leakage test guards this).

**Methods**: the transparent rules score (`RULES`: points in log-odds per factor, shown as they are) is used until
a model trained on the tenant's outcomes beats it. The model is an L2 logistic regression on the standardised
features (its coefficients times the account's standardised values are the reasons), each coefficient kept to
the direction its factor may push the risk in (SIGNS: a contact leaving never lowers it); it is trained on the
snapshots whose outcome windows ended before the hold-out's first snapshot, and measured on the most recent
snapshots (the time-ordered hold-out) beside the rules score on the same rows. Both are recorded in `ml_models`
(type `churn_prediction`): the one that ranks the hold-out better is activated, and each stored risk names the
method and version that gave it.

**Reasons**: the factors that move the account's probability most, each with the risk points (of 100) it adds.
The gap between the account's probability and a neutral account's (every factor at its neutral value: the training
mean for the model, no points for the rules) is shared among the factors in proportion to their log-odds
(integrated gradients, exact for a sum of log-odds): the points of all factors add up to that gap, and a factor
still shows when the probability is near 1.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import numpy as np
import polars as pl
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from ai.models import registry
from core.actor import Actor
from core.churn import service as churn
from core.forecasts.models import MlModel

MODEL_TYPE = churn.MODEL_TYPE
RULES_ALGORITHM = "rules"
MODEL_ALGORITHM = "logistic_regression"
FORMAT = "clientforge.churn/1"

WINDOW_DAYS = 90  # engagement and sentiment windows
RECENT_DAYS = 180  # lost deals and contact departures counted over this
OUTCOME_DAYS = 180  # churned: no won deal and no activity for this long after the snapshot
ACTIVE_DAYS = 90  # a snapshot's account must have been engaged (a win or an activity) within this
STEP_DAYS = 30  # snapshots of the history, this far apart
RENEWAL_DAYS = 365  # the expected renewal after a win
OVERDUE_TASK_DAYS = 14
HOLDOUT_SHARE = 0.25
MIN_ROWS = 200  # training snapshots needed before a model is trained
MIN_CLASS = 20  # churned and retained snapshots needed in training and in the hold-out, each
TIE = 0.002  # AUC differences below this are ties: the rules keep the place
TOP_REASONS = 4
MIN_POINTS = 1.0  # reasons smaller than this (risk points) are not shown
OVERLAP_SECONDS = 60

ISSUE_PATTERN = (
    r"\m(complain\w*|problem\w*|outage\w*|escalat\w*|cancel\w*|refund\w*|unhappy|frustrat\w*|dissatisf\w*"
    r"|disappoint\w*|annoy\w*|angry|churn\w*|downgrad\w*|broken|bug|bugs|terminat\w*|competitor\w*|walk away"
    r"|at (serious )?risk|went badly|poor (feedback|service|support))\M"
)

# The raw figures kept with each risk (and what the reasons describe).
RAW = (
    "activities_90d",
    "activities_prior_90d",
    "usual_90d",
    "days_since_activity",
    "days_since_won",
    "renewal_overdue_days",
    "lost_deals_180d",
    "open_issues",
    "contact_departures_180d",
    "contacts",
    "sentiment_trend",
    "open_deals",
    "won_deals",
)
# The model's inputs: name -> how it is made from the raw figures.
MODEL_FEATURES: dict[str, Callable[[pl.DataFrame], pl.Expr]] = {
    "activities_90d": lambda f: pl.col("activities_90d").log1p(),
    "engagement_trend": lambda f: ((pl.col("activities_90d") + 1) / (pl.col("activities_prior_90d") + 1)).log(2),
    "engagement_vs_usual": lambda f: ((pl.col("activities_90d") + 1) / (pl.col("usual_90d") + 1)).log(2),
    "usual_90d": lambda f: pl.col("usual_90d").log1p(),
    "days_since_activity": lambda f: pl.col("days_since_activity").clip(0, 730),
    "days_since_won": lambda f: pl.col("days_since_won").clip(0, 1095),
    "renewal_overdue_days": lambda f: pl.col("renewal_overdue_days").clip(0, 365),
    "lost_deals_180d": lambda f: pl.col("lost_deals_180d").clip(0, 5),
    "open_issues": lambda f: pl.col("open_issues").clip(0, 10),
    "contact_departures_180d": lambda f: pl.col("contact_departures_180d").clip(0, 5),
    "sentiment_trend": lambda f: pl.col("sentiment_trend").clip(-2, 2),
    "open_deals": lambda f: pl.col("open_deals").clip(0, 5),
    "won_deals": lambda f: pl.col("won_deals").log1p(),
}

# The rules score: log-odds points per factor (a transparent, fixed scheme; docs say the same).
RULES: dict[str, Any] = {
    "base": -1.6,
    "engagement_trend": {"silent_after_active": 1.4, "silent": 0.9, "halved": 0.8, "doubled": -0.4},
    "days_since_activity": {"over_60": 0.6, "over_180": 1.2},
    "renewal_overdue_days": {"overdue": 0.6, "per_year": 0.9},
    "days_since_won": {"within_180": -0.8},
    "lost_deals_180d": {"each": 0.6, "max": 1.2},
    "open_issues": {"each": 0.35, "max": 1.05},
    "contact_departures_180d": {"each": 0.7, "max": 1.4},
    "sentiment_trend": {"falling": 0.8, "rising": -0.3, "threshold": 0.2},
    "open_deals": {"any": -0.5},
}

Progress = Callable[[int, str], None]


def _quiet(pct: int, message: str) -> None:
    return None


def _day(at: datetime) -> float:
    return at.timestamp() / 86_400.0


# History ---------------------------------------------------------------------------------------------------------

_FILTER = "(CAST(:all AS boolean) OR {col} = ANY(CAST(:ids AS uuid[])))"
_CUSTOMERS = f"""
SELECT DISTINCT d.account_id FROM deals d JOIN accounts a ON a.tenant_id = d.tenant_id AND a.id = d.account_id
 WHERE d.tenant_id = cf_current_tenant() AND d.is_won AND d.deleted_at IS NULL AND d.account_id IS NOT NULL
   AND a.deleted_at IS NULL AND a.merged_into_id IS NULL AND {_FILTER.format(col="d.account_id")}
"""
_EPOCH = "extract(epoch FROM {})::float8 / 86400"
_DATE = "(({}) - DATE '1970-01-01')::float8"
_TASK_CLOSED = "CASE WHEN t.status = 'done' THEN t.completed_at WHEN t.status = 'cancelled' THEN t.updated_at END"
_DEPARTED = "coalesce(c.deleted_at, CASE WHEN NOT c.is_active OR c.lifecycle_stage = 'other' THEN c.updated_at END)"
_QUERIES = {
    "deals": f"""
WITH cust AS MATERIALIZED ({_CUSTOMERS})
SELECT d.account_id AS account, {_EPOCH.format("d.created_at")} AS created, d.is_closed AS closed,
       coalesce(d.is_won, false) AS won, {_DATE.format("d.actual_close_date")} AS closed_day,
       {_DATE.format("d.expected_close_date")} AS expected_day, d.name ~* '\\mrenew' AS renewal
  FROM deals d JOIN cust ON cust.account_id = d.account_id
 WHERE d.tenant_id = cf_current_tenant() AND d.deleted_at IS NULL""",
    "activities": f"""
WITH cust AS MATERIALIZED ({_CUSTOMERS})
SELECT cust.account_id AS account, {_EPOCH.format("x.occurred_at")} AS at, x.id AS item,
       (coalesce(x.subject, '') || ' ' || coalesce(x.body, '') || ' ' || coalesce(x.outcome, '')) ~* :issue AS issue
  FROM activities x
  LEFT JOIN contacts c ON c.tenant_id = x.tenant_id AND c.id = x.contact_id
  LEFT JOIN deals d ON d.tenant_id = x.tenant_id AND d.id = x.deal_id
  JOIN cust ON cust.account_id = coalesce(x.account_id, d.account_id, c.account_id)
 WHERE x.tenant_id = cf_current_tenant() AND x.deleted_at IS NULL""",
    "tasks": f"""
WITH cust AS MATERIALIZED ({_CUSTOMERS})
SELECT cust.account_id AS account, {_EPOCH.format("t.created_at")} AS created,
       {_EPOCH.format("t.due_at")} AS due,
       {_EPOCH.format(_TASK_CLOSED)}
         AS closed, (coalesce(t.title, '') || ' ' || coalesce(t.description, '')) ~* :issue AS issue
  FROM tasks t
  LEFT JOIN contacts c ON c.tenant_id = t.tenant_id AND c.id = t.contact_id
  LEFT JOIN deals d ON d.tenant_id = t.tenant_id AND d.id = t.deal_id
  JOIN cust ON cust.account_id = coalesce(t.account_id, d.account_id, c.account_id)
 WHERE t.tenant_id = cf_current_tenant() AND t.deleted_at IS NULL""",
    "notes": f"""
WITH cust AS MATERIALIZED ({_CUSTOMERS})
SELECT cust.account_id AS account, {_EPOCH.format("n.created_at")} AS at, n.id AS item, n.body ~* :issue AS issue
  FROM notes n
  LEFT JOIN contacts c ON n.entity_type = 'contacts' AND c.tenant_id = n.tenant_id AND c.id = n.entity_id
  LEFT JOIN deals d ON n.entity_type = 'deals' AND d.tenant_id = n.tenant_id AND d.id = n.entity_id
  JOIN cust ON cust.account_id = CASE n.entity_type WHEN 'accounts' THEN n.entity_id WHEN 'contacts' THEN c.account_id
                                                     ELSE d.account_id END
 WHERE n.tenant_id = cf_current_tenant() AND n.deleted_at IS NULL""",
    "contacts": f"""
WITH cust AS MATERIALIZED ({_CUSTOMERS})
SELECT c.account_id AS account, {_EPOCH.format("c.created_at")} AS created,
       {_EPOCH.format(_DEPARTED)}
         AS departed
  FROM contacts c JOIN cust ON cust.account_id = c.account_id
 WHERE c.tenant_id = cf_current_tenant() AND c.merged_into_id IS NULL""",
}
_SCHEMAS: dict[str, dict[str, Any]] = {
    "deals": {
        "account": pl.String,
        "created": pl.Float64,
        "closed": pl.Boolean,
        "won": pl.Boolean,
        "closed_day": pl.Float64,
        "expected_day": pl.Float64,
        "renewal": pl.Boolean,
    },
    "activities": {"account": pl.String, "at": pl.Float64, "item": pl.String, "issue": pl.Boolean},
    "tasks": {
        "account": pl.String,
        "created": pl.Float64,
        "due": pl.Float64,
        "closed": pl.Float64,
        "issue": pl.Boolean,
    },
    "notes": {"account": pl.String, "at": pl.Float64, "item": pl.String, "issue": pl.Boolean},
    "contacts": {"account": pl.String, "created": pl.Float64, "departed": pl.Float64},
    "sentiment": {
        "account": pl.String,
        "at": pl.Float64,
        "polarity": pl.Float64,
        "negative": pl.Boolean,
        "item": pl.String,
    },
}


@dataclass
class History:
    """Everything that happened at the customer accounts (times as days since 1970, UTC), read once."""

    accounts: list[str]
    deals: pl.DataFrame
    activities: pl.DataFrame
    tasks: pl.DataFrame
    notes: pl.DataFrame
    contacts: pl.DataFrame
    sentiment: pl.DataFrame


def _frame(rows: Sequence[Any], schema: dict[str, Any]) -> pl.DataFrame:
    data = {
        name: [str(r[i]) if dtype == pl.String else r[i] for r in rows]
        for i, (name, dtype) in enumerate(schema.items())
    }
    return pl.DataFrame(data, schema=schema)


_SENTIMENT = f"""
WITH cust AS MATERIALIZED ({_CUSTOMERS})
SELECT cust.account_id AS account, {_EPOCH.format("s.occurred_at")} AS at,
       CASE coalesce(s.corrected_label, '') WHEN 'negative' THEN -1.0 WHEN 'positive' THEN 1.0 WHEN 'neutral' THEN 0.0
            ELSE s.score::float8 END AS polarity,
       coalesce(s.corrected_label, s.label) = 'negative' AS negative, s.entity_id AS item
  FROM text_sentiments s
  LEFT JOIN activities x ON s.entity_type = 'activities' AND x.tenant_id = s.tenant_id AND x.id = s.entity_id
                        AND x.deleted_at IS NULL
  LEFT JOIN notes n ON s.entity_type = 'notes' AND n.tenant_id = s.tenant_id AND n.id = s.entity_id
                   AND n.deleted_at IS NULL
  LEFT JOIN contacts c ON c.tenant_id = s.tenant_id
        AND c.id = CASE WHEN x.id IS NOT NULL THEN x.contact_id WHEN n.entity_type = 'contacts' THEN n.entity_id END
  LEFT JOIN deals d ON d.tenant_id = s.tenant_id
        AND d.id = CASE WHEN x.id IS NOT NULL THEN x.deal_id WHEN n.entity_type = 'deals' THEN n.entity_id END
  JOIN cust ON cust.account_id = CASE WHEN x.id IS NOT NULL THEN coalesce(x.account_id, d.account_id, c.account_id)
                                      WHEN n.entity_type = 'accounts' THEN n.entity_id
                                      WHEN n.entity_type = 'contacts' THEN c.account_id ELSE d.account_id END
 WHERE s.tenant_id = cf_current_tenant()"""


def _sentiment(session: Session, ids: list[str] | None) -> pl.DataFrame:
    """(account, at, polarity in [-1, 1], negative) per scored note or activity of a customer account, from
    `text_sentiments` (a rep's correction counts as -1, 0 or 1). No scored text: the sentiment factor stays
    neutral."""
    rows = session.execute(text(_SENTIMENT), {"all": ids is None, "ids": ids or []}).all()
    return _frame(rows, _SCHEMAS["sentiment"])


def load_history(session: Session, account_ids: Sequence[UUID] | None = None) -> History:
    """The customer accounts (all, or those of `account_ids` that are customers) and what happened at them."""
    ids = None if account_ids is None else [str(a) for a in account_ids]
    params = {"all": ids is None, "ids": ids or [], "issue": ISSUE_PATTERN}
    customers = [str(r[0]) for r in session.execute(text(_CUSTOMERS), params)]
    frames = {name: _frame(session.execute(text(sql), params).all(), _SCHEMAS[name]) for name, sql in _QUERIES.items()}
    return History(accounts=sorted(customers), sentiment=_sentiment(session, ids), **frames)


# Features as of a moment -----------------------------------------------------------------------------------------


def _count(frame: pl.DataFrame, condition: pl.Expr, name: str) -> pl.DataFrame:
    return frame.filter(condition).group_by("account").agg(pl.len().cast(pl.Float64).alias(name))


def features_at(history: History, at: float) -> pl.DataFrame:
    """One row per account that is a customer at day `at` (a deal won by then), with the raw figures; only what
    happened up to `at` is read."""
    deals, acts, tasks, notes, contacts = (
        history.deals,
        history.activities,
        history.tasks,
        history.notes,
        history.contacts,
    )
    won = deals.filter(pl.col("won") & (pl.col("closed_day") <= at))
    base = won.group_by("account").agg(
        pl.len().cast(pl.Float64).alias("won_deals"), pl.col("closed_day").max().alias("last_won")
    )
    if base.is_empty():
        return pl.DataFrame(schema={"account": pl.String, "at": pl.Float64, **dict.fromkeys(RAW, pl.Float64)})
    w, r = WINDOW_DAYS, RECENT_DAYS
    past = acts.filter(pl.col("at") <= at)
    last_activity = past.group_by("account").agg(pl.col("at").max().alias("last_activity"))
    a90 = _count(past, pl.col("at") > at - w, "activities_90d")
    prior = _count(past, (pl.col("at") > at - 2 * w) & (pl.col("at") <= at - w), "activities_prior_90d")
    year = _count(past, (pl.col("at") > at - w - 365) & (pl.col("at") <= at - w), "year_before")
    lost = _count(
        deals,
        pl.col("closed") & ~pl.col("won") & (pl.col("closed_day") <= at) & (pl.col("closed_day") > at - r),
        "lost_deals_180d",
    )
    # open at `at`: created by then and not closed by then (a deal closed later was still open)
    open_then = (pl.col("created") <= at) & (pl.col("closed_day").is_null() | (pl.col("closed_day") > at))
    open_deals = _count(deals, open_then, "open_deals")
    renewal_due = (
        deals.filter(open_then & pl.col("renewal") & (pl.col("expected_day") < at))
        .group_by("account")
        .agg((at - pl.col("expected_day")).max().alias("renewal_deal_overdue"))
    )
    task_open = (pl.col("created") <= at) & (pl.col("closed").is_null() | (pl.col("closed") > at))
    issue_tasks = _count(tasks, task_open & (pl.col("issue") | (pl.col("due") < at - OVERDUE_TASK_DAYS)), "issue_tasks")
    said = pl.concat([acts.select("account", "at", "item", "issue"), notes.select("account", "at", "item", "issue")])
    said = said.filter((pl.col("at") <= at) & (pl.col("at") > at - r))
    if not history.sentiment.is_empty():  # text scored negative is an issue too (counted once)
        flags = history.sentiment.select("item", "negative").unique("item")
        said = said.join(flags, on="item", how="left").with_columns(
            pl.col("issue") | pl.col("negative").fill_null(False)
        )
    issue_text = _count(said, pl.col("issue"), "issue_text")
    sent = history.sentiment.filter(pl.col("at") <= at)
    sentiment = sent.group_by("account").agg(
        pl.col("polarity").filter(pl.col("at") > at - w).mean().alias("s_recent"),
        pl.col("polarity").filter((pl.col("at") > at - 2 * w) & (pl.col("at") <= at - w)).mean().alias("s_prior"),
    )
    known = contacts.filter(pl.col("created") <= at)
    people = known.group_by("account").agg(
        pl.len().cast(pl.Float64).alias("contacts"),
        (pl.col("departed").is_not_null() & (pl.col("departed") <= at) & (pl.col("departed") > at - r))
        .sum()
        .cast(pl.Float64)
        .alias("contact_departures_180d"),
    )
    out = base
    for part in (last_activity, a90, prior, year, lost, open_deals, renewal_due, issue_tasks, issue_text):
        out = out.join(part, on="account", how="left")
    out = out.join(sentiment, on="account", how="left").join(people, on="account", how="left")
    zero = [
        "activities_90d",
        "activities_prior_90d",
        "year_before",
        "lost_deals_180d",
        "open_deals",
        "issue_tasks",
        "issue_text",
        "contacts",
        "contact_departures_180d",
    ]
    out = out.with_columns([pl.col(c).fill_null(0.0) for c in zero])
    since_won = at - pl.col("last_won")
    return out.select(
        "account",
        pl.lit(at).alias("at"),
        "activities_90d",
        "activities_prior_90d",
        (pl.col("year_before") * WINDOW_DAYS / 365).alias("usual_90d"),
        (at - pl.col("last_activity").fill_null(pl.col("last_won"))).clip(0, None).alias("days_since_activity"),
        since_won.alias("days_since_won"),
        pl.max_horizontal(pl.col("renewal_deal_overdue").fill_null(0.0), since_won - RENEWAL_DAYS)
        .clip(0, None)
        .alias("renewal_overdue_days"),
        "lost_deals_180d",
        (pl.col("issue_tasks") + pl.col("issue_text")).alias("open_issues"),
        "contact_departures_180d",
        "contacts",
        (pl.col("s_recent") - pl.col("s_prior")).fill_null(0.0).fill_nan(0.0).alias("sentiment_trend"),
        "open_deals",
        "won_deals",
    )


def outcomes_at(history: History, at: float) -> pl.DataFrame:
    """For each account: whether it was engaged at `at` (a win or an activity in the ACTIVE_DAYS before) and whether
    it churned after (no won deal and no activity in the OUTCOME_DAYS after `at`)."""
    after = (pl.col("t") > at) & (pl.col("t") <= at + OUTCOME_DAYS)
    before = (pl.col("t") <= at) & (pl.col("t") > at - ACTIVE_DAYS)
    events = pl.concat(
        [
            history.deals.filter(pl.col("won")).select("account", pl.col("closed_day").alias("t")),
            history.activities.select("account", pl.col("at").alias("t")),
        ]
    )
    return events.group_by("account").agg(before.any().alias("active"), after.any().alias("engaged_after"))


def snapshots(history: History, *, now: datetime) -> pl.DataFrame:
    """Training rows: features of the accounts active at each snapshot (every STEP_DAYS, oldest first) whose
    outcome window has ended by `now`, with `churned` (1/0)."""
    end = _day(now) - OUTCOME_DAYS
    won_days = history.deals.filter(pl.col("won"))["closed_day"].drop_nulls()
    if won_days.is_empty():
        return pl.DataFrame()
    first = float(won_days.min()) + WINDOW_DAYS  # type: ignore[arg-type]
    parts = []
    at = end
    while at >= first:
        feats = features_at(history, at)
        if not feats.is_empty():
            outcome = outcomes_at(history, at)
            rows = feats.join(outcome, on="account", how="left").filter(pl.col("active").fill_null(False))
            rows = rows.with_columns((~pl.col("engaged_after").fill_null(False)).cast(pl.Int8).alias("churned"))
            parts.append(rows.drop("active", "engaged_after"))
        at -= STEP_DAYS
    if not parts:
        return pl.DataFrame()
    return pl.concat(parts[::-1])


def design(frame: pl.DataFrame) -> np.ndarray:
    """The model's inputs (MODEL_FEATURES) as a float matrix."""
    return frame.select([fn(frame).alias(name) for name, fn in MODEL_FEATURES.items()]).to_numpy().astype(np.float64)


# The methods -----------------------------------------------------------------------------------------------------


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))


def rules_contributions(frame: pl.DataFrame) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The rules score: base log-odds, per-factor log-odds points (rows x factors) and the factors' names."""
    n = frame.height
    get = {c: frame[c].to_numpy().astype(np.float64) for c in RAW}
    a90, prior = get["activities_90d"], get["activities_prior_90d"]
    trend = np.log2((a90 + 1) / (prior + 1))
    e = RULES["engagement_trend"]
    engagement = np.select(
        [(a90 == 0) & (prior > 0), a90 == 0, trend <= -1, trend >= 1],
        [e["silent_after_active"], e["silent"], e["halved"], e["doubled"]],
        0.0,
    )
    quiet = RULES["days_since_activity"]
    silent = np.select(
        [get["days_since_activity"] > 180, get["days_since_activity"] > 60], [quiet["over_180"], quiet["over_60"]], 0.0
    )
    overdue = get["renewal_overdue_days"]
    ren = RULES["renewal_overdue_days"]
    renewal = np.where(overdue > 0, ren["overdue"] + ren["per_year"] * np.minimum(overdue, 365) / 365, 0.0)
    recent_win = np.where(get["days_since_won"] <= 180, RULES["days_since_won"]["within_180"], 0.0)

    def capped(name: str) -> np.ndarray:
        rule = RULES[name]
        return np.minimum(get[name] * rule["each"], rule["max"])

    s = RULES["sentiment_trend"]
    sentiment = np.select(
        [get["sentiment_trend"] < -s["threshold"], get["sentiment_trend"] > s["threshold"]],
        [s["falling"], s["rising"]],
        0.0,
    )
    opened = np.where(get["open_deals"] > 0, RULES["open_deals"]["any"], 0.0)
    names = [
        "engagement_trend",
        "days_since_activity",
        "renewal_overdue_days",
        "days_since_won",
        "lost_deals_180d",
        "open_issues",
        "contact_departures_180d",
        "sentiment_trend",
        "open_deals",
    ]
    parts = [
        engagement,
        silent,
        renewal,
        recent_win,
        capped("lost_deals_180d"),
        capped("open_issues"),
        capped("contact_departures_180d"),
        sentiment,
        opened,
    ]
    return np.full(n, float(RULES["base"])), np.column_stack(parts) if n else np.zeros((0, len(names))), names


@dataclass
class LogisticChurn:
    """The trained model: standardisation and coefficients, stored as JSON (no pickle)."""

    features: list[str]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    def contributions(self, frame: pl.DataFrame) -> tuple[np.ndarray, np.ndarray, list[str]]:
        z = (design(frame) - self.mean) / self.scale
        return np.full(frame.height, self.intercept), z * self.coef, list(self.features)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "algorithm": MODEL_ALGORITHM,
            "features": self.features,
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "coef": self.coef.tolist(),
            "intercept": self.intercept,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LogisticChurn:
        if data.get("format") != FORMAT or data.get("features") != list(MODEL_FEATURES):
            raise ValueError("not a churn model of this version")
        return cls(
            features=list(data["features"]),
            mean=np.asarray(data["mean"], dtype=np.float64),
            scale=np.asarray(data["scale"], dtype=np.float64),
            coef=np.asarray(data["coef"], dtype=np.float64),
            intercept=float(data["intercept"]),
        )


# The direction each factor may push the risk in (+1 up, -1 down, 0 either way): a coefficient of the other sign
# is dropped and the model refitted without it, so a reason never says that a contact leaving lowers the risk only
# because, in this workspace's history, departures came with busy accounts.
SIGNS = {
    "activities_90d": -1,
    "engagement_trend": -1,
    "engagement_vs_usual": -1,
    "usual_90d": 0,
    "days_since_activity": 1,
    "days_since_won": 1,
    "renewal_overdue_days": 1,
    "lost_deals_180d": 1,
    "open_issues": 1,
    "contact_departures_180d": 1,
    "sentiment_trend": -1,
    "open_deals": -1,
    "won_deals": 0,
}


def fit(frame: pl.DataFrame, *, c: float = 0.3) -> LogisticChurn:
    """L2 logistic regression on the standardised features, with each coefficient kept to its factor's direction
    (SIGNS): the wrong-signed ones are dropped (coefficient 0) and the rest refitted until none is left."""
    from sklearn.linear_model import LogisticRegression

    x = design(frame)
    y = frame["churned"].to_numpy()
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    z = (x - mean) / scale
    names = list(MODEL_FEATURES)
    signs = np.array([SIGNS[n] for n in names])
    keep = x.std(axis=0) > 1e-9  # a constant feature (no sentiment stored, say) has nothing to learn from
    coef = np.zeros(len(names))
    intercept = 0.0
    for _ in range(len(names)):
        model = LogisticRegression(C=c, max_iter=1000)
        model.fit(z[:, keep], y)
        coef = np.zeros(len(names))
        coef[keep] = model.coef_[0]
        intercept = float(model.intercept_[0])
        wrong = (signs != 0) & (np.sign(coef) == -signs) & (coef != 0)
        if not wrong.any():
            break
        keep &= ~wrong
        if not keep.any():
            coef = np.zeros(len(names))
            intercept = float(np.log(max(y.mean(), 1e-6) / max(1 - y.mean(), 1e-6)))
            break
    return LogisticChurn(names, mean, scale, coef.astype(np.float64), intercept)


def probabilities(parts: tuple[np.ndarray, np.ndarray, list[str]]) -> np.ndarray:
    base, contrib, _ = parts
    return _sigmoid(base + contrib.sum(axis=1))


def roc_auc(y: np.ndarray, p: np.ndarray) -> float:
    from ai.scoring.engine import roc_auc as auc

    return auc(y.astype(np.float64), p)


@dataclass
class Method:
    """One way of giving risks: its registry row and, for a model, what it learned."""

    model: MlModel
    trained: LogisticChurn | None = None

    @property
    def name(self) -> str:
        return "rules" if self.trained is None else "model"

    def parts(self, frame: pl.DataFrame) -> tuple[np.ndarray, np.ndarray, list[str]]:
        return rules_contributions(frame) if self.trained is None else self.trained.contributions(frame)


def rules_row(session: Session, actor: Actor, metrics: dict[str, Any] | None = None) -> MlModel:
    """The registry row of the rules score (one per version of RULES); `metrics` update its measured figures."""
    sha = registry.store_artifact(actor.tenant_id, RULES)
    version = f"rules-{sha[:12]}"
    existing = session.scalar(
        select(MlModel).where(
            MlModel.tenant_id == actor.tenant_id, MlModel.model_type == MODEL_TYPE, MlModel.version == version
        )
    )
    if existing is not None and metrics is None:
        return existing
    return registry.record(
        session,
        actor,
        model_type=MODEL_TYPE,
        version=version,
        algorithm=RULES_ALGORITHM,
        hyperparameters=RULES,
        artifact_sha256=sha,
        metrics={
            "method": "Fixed points per factor (engagement, renewal, issues, lost deals, departures, sentiment).",
            "outcome_days": OUTCOME_DAYS,
            **((existing.metrics or {}) if existing is not None else {}),
            **(metrics or {}),
        },
        activate=bool(existing.is_active) if existing is not None else False,
        trained_at=existing.trained_at if existing is not None and metrics is None else None,
    )


@functools.lru_cache(maxsize=16)
def _load(tenant_id: UUID, sha256: str) -> LogisticChurn:
    return LogisticChurn.from_json(json.loads(registry.load_bytes(tenant_id, sha256)))


def champion(session: Session, actor: Actor) -> Method:
    """The method that gives the workspace's risks: its active model, else the rules (made active)."""
    active = registry.active(session, actor, MODEL_TYPE)
    if active is not None and active.algorithm != RULES_ALGORITHM and active.artifact_sha256:
        try:
            return Method(active, _load(actor.tenant_id, active.artifact_sha256))
        except (OSError, ValueError):
            pass  # an artefact gone or of another version: the rules give the risks until the next training
    row = rules_row(session, actor)
    if not row.is_active:
        row = registry.activate_model(session, actor, row.id)
    return Method(row)


# Training --------------------------------------------------------------------------------------------------------


def train_workspace(
    session: Session, actor: Actor, *, now: datetime | None = None, progress: Progress = _quiet
) -> dict[str, Any]:
    """Train on the workspace's churn outcomes and measure the model beside the rules on the latest snapshots; the
    better one (the rules on a tie) becomes the active method. Too few outcomes: the rules stay, measured if they
    can be. Returns what happened, in words too."""
    now = now or datetime.now(UTC)
    progress(5, "reading the customer accounts' history")
    history = load_history(session)
    progress(25, "building point-in-time snapshots")
    rows = snapshots(history, now=now)
    if rows.is_empty():
        rules_row(session, actor)
        champion(session, actor)
        return {"status": "cold_start", "rows": 0, "method": "rules", "message": _cold(0, 0, 0)}
    days = sorted(set(rows["at"].to_list()))
    cut = days[max(1, int(len(days) * (1 - HOLDOUT_SHARE)))] if len(days) > 1 else days[-1] + 1
    holdout = rows.filter(pl.col("at") >= cut)
    train = rows.filter(pl.col("at") + OUTCOME_DAYS <= cut)  # outcome windows ended before the hold-out starts
    y_train = train["churned"].to_numpy() if train.height else np.zeros(0)
    y_hold = holdout["churned"].to_numpy() if holdout.height else np.zeros(0)
    rules_auc = roc_auc(y_hold, probabilities(rules_contributions(holdout))) if holdout.height else float("nan")
    measured = {
        "rules_roc_auc": None if math.isnan(rules_auc) else rules_auc,
        "validation_rows": int(holdout.height),
        "validation_churned": int(y_hold.sum()),
        "outcome_days": OUTCOME_DAYS,
        "measured_at": now.isoformat(),
    }
    counts = (int(train.height), int(y_train.sum()), int(train.height - y_train.sum()))
    short = (
        train.height < MIN_ROWS
        or min(counts[1], counts[2]) < MIN_CLASS
        or min(int(y_hold.sum()), int(holdout.height - y_hold.sum())) < MIN_CLASS
    )
    if short:
        rules = rules_row(session, actor, {**measured, "roc_auc": measured["rules_roc_auc"]})
        champion(session, actor)
        return {
            "status": "cold_start",
            "rows": int(rows.height),
            "method": "rules",
            "rules_roc_auc": measured["rules_roc_auc"],
            "model": rules.version,
            "message": _cold(*counts),
        }
    progress(60, f"training on {train.height:,} snapshots")
    model = fit(train)
    p_hold = probabilities(model.contributions(holdout))
    auc = roc_auc(y_hold, p_hold)
    beats = auc > rules_auc + TIE / 2
    content = model.to_json()
    sha = registry.store_artifact(actor.tenant_id, content)
    importance = dict(zip(model.features, np.abs(model.coef).round(4).tolist(), strict=True))
    metrics = {
        **measured,
        "roc_auc": auc,
        "beats_rules": beats,
        "training_rows": int(train.height),
        "training_churned": counts[1],
        "window": [_iso(float(train["at"].min())), _iso(float(holdout["at"].max()))],  # type: ignore[arg-type]
        "holdout_from": _iso(cut),
        "coefficients": dict(zip(model.features, model.coef.round(4).tolist(), strict=True)),
    }
    trained = registry.record(
        session,
        actor,
        model_type=MODEL_TYPE,
        version=f"lr-{sha[:12]}",
        algorithm=MODEL_ALGORITHM,
        training_start=datetime.fromtimestamp(float(train["at"].min()) * 86_400, UTC),  # type: ignore[arg-type]
        training_end=datetime.fromtimestamp(float(train["at"].max()) * 86_400, UTC),  # type: ignore[arg-type]
        metrics=metrics,
        hyperparameters={"C": 0.3, "features": list(MODEL_FEATURES)},
        feature_importance=importance,
        artifact_sha256=sha,
        activate=beats,
        trained_at=now,
    )
    rules = rules_row(session, actor, {**measured, "roc_auc": measured["rules_roc_auc"]})
    if not beats:
        registry.activate_model(session, actor, rules.id)
    progress(90, "recorded")
    used = "model" if beats else "rules"
    return {
        "status": "trained",
        "method": used,
        "model": trained.version if beats else rules.version,
        "roc_auc": auc,
        "rules_roc_auc": measured["rules_roc_auc"],
        "training_rows": int(train.height),
        "validation_rows": int(holdout.height),
        "message": (
            f"The model ranks the latest outcomes at AUC {auc:.3f} against the rules' {rules_auc:.3f}: "
            + ("it gives the risks now." if beats else "the rules keep giving the risks.")
        ),
    }


def _iso(day: float) -> str:
    return datetime.fromtimestamp(day * 86_400, UTC).isoformat()


def _cold(rows: int, churned: int, retained: int) -> str:
    return (
        f"Not enough churn history to learn from yet ({rows} snapshots, {churned} churned, {retained} retained; "
        f"{MIN_ROWS} snapshots and {MIN_CLASS} of each needed): the rules score gives the risks."
    )


# Scoring ---------------------------------------------------------------------------------------------------------


def _plural(n: float, word: str) -> str:
    k = int(round(n))
    return f"{k} {word}" if k == 1 else f"{k} {word}s"


def describe(factor: str, row: dict[str, Any]) -> str:
    """The factor's figure in a rep's words."""
    a90, prior = int(row["activities_90d"]), int(row["activities_prior_90d"])
    if factor in ("engagement_trend", "activities_90d"):
        if a90 == 0 and prior > 0:
            return f"No activity in the last 90 days ({prior} in the 90 before)"
        if a90 == 0:
            return "No activity in the last 180 days"
        if a90 < prior:
            return f"Activity down from {prior} to {a90} in the last 90 days"
        if a90 > prior:
            return f"Activity up from {prior} to {a90} in the last 90 days"
        return f"Activity steady ({a90} in the last 90 days)"
    if factor == "engagement_vs_usual":
        usual = float(row["usual_90d"])
        if a90 < usual:
            word = "activity" if a90 == 1 else "activities"
            return f"{a90} {word} in the last 90 days, against a usual {usual:.0f}"
        return f"Activity at or above its usual level ({a90} in the last 90 days, usual {usual:.0f})"
    if factor == "usual_90d":
        return f"Usually {float(row['usual_90d']):.0f} activities per 90 days"
    if factor == "days_since_activity":
        return f"Last activity {int(row['days_since_activity'])} days ago"
    if factor == "days_since_won":
        return f"Last deal won {int(row['days_since_won'])} days ago"
    if factor == "renewal_overdue_days":
        overdue = int(row["renewal_overdue_days"])
        return f"Renewal overdue by {overdue} days" if overdue > 0 else "No renewal overdue"
    if factor == "lost_deals_180d":
        lost = row["lost_deals_180d"]
        return f"{_plural(lost, 'deal')} lost in the last 180 days" if lost else "No deal lost in the last 180 days"
    if factor == "open_issues":
        issues = row["open_issues"]
        return f"{_plural(issues, 'open issue')} (complaints, overdue tasks)" if issues else "No open issues"
    if factor == "contact_departures_180d":
        gone = row["contact_departures_180d"]
        return f"{_plural(gone, 'contact')} left in the last 180 days" if gone else "No contact left recently"
    if factor == "sentiment_trend":
        trend = float(row["sentiment_trend"])
        return f"Sentiment {'falling' if trend < 0 else 'rising' if trend > 0 else 'steady'} ({trend:+.2f} in 90 days)"
    if factor == "open_deals":
        n = row["open_deals"]
        return f"{_plural(n, 'open deal')} in progress" if n else "No open deal"
    if factor == "won_deals":
        return f"{_plural(row['won_deals'], 'deal')} won so far"
    return factor


def reasons(parts: tuple[np.ndarray, np.ndarray, list[str]], frame: pl.DataFrame) -> list[list[dict[str, Any]]]:
    """Each row's strongest factors: [{factor, text, points}], points = risk points (of 100) the factor adds."""
    base, contrib, names = parts
    total = contrib.sum(axis=1)
    p, neutral = _sigmoid(base + total), _sigmoid(base)
    small = np.abs(total) < 1e-9
    # integrated gradients along the straight path from the neutral account: additive, exact for a sum of log-odds
    slope = np.where(small, neutral * (1 - neutral), (p - neutral) / np.where(small, 1.0, total))
    points = 100.0 * contrib * slope[:, None]
    rows = frame.select(RAW).to_dicts()
    out: list[list[dict[str, Any]]] = []
    for i, row in enumerate(rows):
        order = np.argsort(-np.abs(points[i]), kind="stable")
        chosen: list[dict[str, Any]] = []
        said: set[str] = set()
        for j in order:
            value = float(points[i, j])
            if abs(value) < MIN_POINTS or len(chosen) >= TOP_REASONS:
                break
            words = describe(names[j], row)
            if words in said:  # two engagement factors describing the same figure: one line, both points
                chosen[[c["text"] for c in chosen].index(words)]["points"] += round(value, 1)
                continue
            said.add(words)
            chosen.append({"factor": names[j], "text": words, "points": round(value, 1)})
        out.append(chosen)
    return out


def score_frame(method: Method, frame: pl.DataFrame) -> tuple[np.ndarray, list[list[dict[str, Any]]]]:
    parts = method.parts(frame)
    return probabilities(parts), reasons(parts, frame)


def refresh(
    session: Session,
    actor: Actor,
    account_ids: Sequence[UUID] | None = None,
    *,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Give every customer account (or those of `account_ids`) its risk as of `now` with the champion, and keep it
    (rows of accounts no longer customers are removed)."""
    now = now or datetime.now(UTC)
    history = load_history(session, account_ids)
    method = champion(session, actor)
    frame = features_at(history, _day(now))
    risks: list[churn.NewRisk] = []
    if not frame.is_empty():
        p, why = score_frame(method, frame)
        raw = frame.select("account", *RAW).to_dicts()
        for row, prob, r in zip(raw, p.tolist(), why, strict=True):
            account = row.pop("account")
            risks.append(
                churn.NewRisk(
                    account_id=UUID(account),
                    model_id=method.model.id,
                    model_version=method.model.version,
                    method=method.name,
                    probability=float(prob),
                    reasons=r,
                    features={k: round(float(v), 3) for k, v in row.items()},
                )
            )
    written = churn.record_risks(
        session,
        actor,
        risks,
        computed_at=now,
        replace_all=account_ids is None,
        checked=list(account_ids or []),
    )
    return {"scored": len(risks), "written": written, "method": method.name, "model": method.model.version}


_TOUCHED = text(
    """
    SELECT id FROM accounts WHERE tenant_id = :tenant AND updated_at > :since
    UNION SELECT account_id FROM deals WHERE tenant_id = :tenant AND updated_at > :since AND account_id IS NOT NULL
    UNION SELECT account_id FROM contacts WHERE tenant_id = :tenant AND updated_at > :since AND account_id IS NOT NULL
    UNION SELECT coalesce(x.account_id, d.account_id, c.account_id) FROM activities x
          LEFT JOIN contacts c ON c.tenant_id = x.tenant_id AND c.id = x.contact_id
          LEFT JOIN deals d ON d.tenant_id = x.tenant_id AND d.id = x.deal_id
          WHERE x.tenant_id = :tenant AND x.updated_at > :since
    UNION SELECT coalesce(t.account_id, d.account_id, c.account_id) FROM tasks t
          LEFT JOIN contacts c ON c.tenant_id = t.tenant_id AND c.id = t.contact_id
          LEFT JOIN deals d ON d.tenant_id = t.tenant_id AND d.id = t.deal_id
          WHERE t.tenant_id = :tenant AND t.updated_at > :since
    UNION SELECT CASE n.entity_type WHEN 'accounts' THEN n.entity_id WHEN 'contacts' THEN c.account_id
                 ELSE d.account_id END FROM notes n
          LEFT JOIN contacts c ON n.entity_type = 'contacts' AND c.tenant_id = n.tenant_id AND c.id = n.entity_id
          LEFT JOIN deals d ON n.entity_type = 'deals' AND d.tenant_id = n.tenant_id AND d.id = n.entity_id
          WHERE n.tenant_id = :tenant AND n.updated_at > :since
    """
)


def refresh_changed(
    session: Session, actor: Actor, *, now: datetime | None = None, overlap_seconds: int = OVERLAP_SECONDS
) -> dict[str, Any]:
    """Refresh the risks of the accounts touched (the account, its deals, contacts, activities, tasks or notes)
    since the last refresh (less `overlap_seconds`, for rows of transactions that committed after it had read
    past their timestamps); with none yet, of every customer account."""
    now = now or datetime.now(UTC)
    since = churn.last_computed(session, actor)
    if since is None:
        return refresh(session, actor, now=now)
    window = since - timedelta(seconds=overlap_seconds)
    ids = [i for i in session.execute(_TOUCHED, {"since": window, "tenant": actor.tenant_id}).scalars() if i]
    if not ids:
        return {"scored": 0, "written": 0}
    return refresh(session, actor, ids, now=now)
