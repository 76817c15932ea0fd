"""Next best action per open deal and per hot lead, ranked by expected value = amount x the change in win
probability the action brings, each with a one-line reason carrying its figures and the record change one click
makes (core/actions keeps them; the worker refreshes them, ai/insights/action_tasks.py).

The actions and their conditions (N days are the constants below):

- **follow_up_rotting**: an open deal longer in its stage than the stage's `rotting_days` (the deals' rotting
  flag) with no call, meeting or email on it in the last `FOLLOW_UP_DAYS`. One click: a high-priority task to
  follow up tomorrow.
- **schedule_next_step**: an open deal with no open task due from now and no future meeting. One click: a task to
  book the next step tomorrow.
- **reengage_champion**: the deal's main contact (`deals.contact_id`) without a call, meeting or email for
  `QUIET_DAYS` (on a deal older than that). One click: a task holding a drafted email (subject and body) to send
  today. A draft is a task, not an email activity: an activity says the email went out (core/actions/service.py).
- **multi_thread**: an open deal at an account with a single contact on record. One click: a task to find a
  second contact in three days.
- **call_hot_lead**: an open lead (no open deal, not converted, not disqualified, not idle) scoring at least
  `HOT_SCORE`, not contacted for `RECENT_DAYS`. One click: a high-priority task to call today.

**Win probability now.** A deal's: the share of the tenant's closed deals (last `HISTORY_DAYS`) that passed
through its stage and were won, shrunk towards the stage's own probability by `STAGE_PRIOR` pseudo-deals (the
stage's probability alone below `MIN_STAGE_DEALS` deals). A lead's: its latest lead score's calibrated
probability (core/scoring), or score / 100 for the points rules.

**Uplift, measured on the tenant's own history** (observational: what happened to past deals in the same
situation with and without the action, not a controlled experiment; the figures are shown in every reason):

- follow_up_rotting: closed deals that went stale in a stage (their first stale stage): win rate of those with a
  call, meeting or email on the deal within `FOLLOW_UP_DAYS` of going stale vs those without.
- schedule_next_step: closed deals as they entered their first stage: with a task created within a day of it and
  due after it, or a meeting within `NEXT_STEP_DAYS`, vs without.
- reengage_champion: closed deals whose main contact went `QUIET_DAYS` without contact while the deal was open
  (first such spell): contacted again within `FOLLOW_UP_DAYS` of going quiet vs not.
- multi_thread: closed deals at accounts with two or more contacts on record before the close vs one.
- call_hot_lead: leads that arrived at least 60 days ago: contacted within `RECENT_DAYS` of arriving vs not;
  converted = a deal or a converted lifecycle stage.

The relative lift (treated rate / untreated rate - 1) is shrunk towards `PRIOR_LIFT` with `PRIOR_WEIGHT`
pseudo-observations (the smaller group's size is the evidence's weight), floored at 0 (history that shows no
lift gives an expected value of 0: the action stays listed, last). The change in win probability of one deal is
`min(p x lift, 1 - p)`; expected value = amount (the average won deal of the last year when the deal has none,
as for leads) x that change. The measurement is recorded in the model registry (`next_best_action`, version
`uplift-<hash of the figures>`), re-measured nightly; each action stores the version that valued it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy.orm import Session

from ai.models import registry
from core.actions import service as actions
from core.actions.service import NewAction, Outcomes
from core.actor import Actor
from core.forecasts import service as forecasts
from core.forecasts.models import MlModel
from core.scoring import service as scoring

MODEL_TYPE = actions.MODEL_TYPE
ALGORITHM = "observed-uplift"
HISTORY_DAYS = 730
FOLLOW_UP_DAYS = 7
NEXT_STEP_DAYS = 14
QUIET_DAYS = 21
RECENT_DAYS = 7
HOT_SCORE = 70
PRIOR_LIFT = 0.10
PRIOR_WEIGHT = 50
MIN_SAMPLES = 30
STAGE_PRIOR = 10
MIN_STAGE_DEALS = 20
REMEASURE_AFTER = timedelta(hours=24)
KINDS = ("follow_up_rotting", "schedule_next_step", "reengage_champion", "multi_thread", "call_hot_lead")

# What "treated" and "untreated" were, in a rep's words, for the reasons.
_SITUATION = {
    "follow_up_rotting": ("deals followed up within a week of going stale", "won", "deals"),
    "schedule_next_step": ("deals with a next step booked from the start", "won", "deals"),
    "reengage_champion": ("deals whose quiet contact was re-engaged within a week", "won", "deals"),
    "multi_thread": ("deals at accounts with 2+ contacts", "won", "deals"),
    "call_hot_lead": ("leads contacted within a week of arriving", "converted", "leads"),
}


@dataclass(frozen=True)
class Uplift:
    """The measured effect of one kind of action on the tenant's history, and the lift used."""

    kind: str
    treated: int
    treated_won: int
    untreated: int
    untreated_won: int
    lift: float
    source: str  # "measured" or "default" (too little history: mostly the prior)

    @property
    def treated_rate(self) -> float | None:
        return self.treated_won / self.treated if self.treated else None

    @property
    def untreated_rate(self) -> float | None:
        return self.untreated_won / self.untreated if self.untreated else None

    def phrase(self) -> str:
        """ "deals followed up within a week of going stale won 34% vs 22% without (412 deals)"."""
        who, verb, unit = _SITUATION[self.kind]
        total = self.treated + self.untreated
        if self.source == "default" or self.treated_rate is None or self.untreated_rate is None:
            return f"too little history to measure ({total:,} {unit}): assumed {self.lift:+.0%} relative"
        return f"{who} {verb} {self.treated_rate:.0%} vs {self.untreated_rate:.0%} without ({total:,} {unit})"


def estimate(kind: str, outcomes: Outcomes) -> Uplift:
    """The relative lift of `kind` from its outcomes, shrunk towards the prior by the smaller group's size."""
    n = min(outcomes.treated, outcomes.untreated)
    measured = None
    if outcomes.treated and outcomes.untreated and outcomes.untreated_won:
        measured = (outcomes.treated_won / outcomes.treated) / (outcomes.untreated_won / outcomes.untreated) - 1
    if measured is None:
        lift, weight = PRIOR_LIFT, 0
    else:
        lift, weight = (n * measured + PRIOR_WEIGHT * PRIOR_LIFT) / (n + PRIOR_WEIGHT), n
    return Uplift(
        kind=kind,
        treated=outcomes.treated,
        treated_won=outcomes.treated_won,
        untreated=outcomes.untreated,
        untreated_won=outcomes.untreated_won,
        lift=round(min(max(lift, 0.0), 1.0), 4),
        source="measured" if weight >= MIN_SAMPLES else "default",
    )


def measure(session: Session, actor: Actor, *, now: datetime) -> dict[str, Uplift]:
    """Each kind's uplift on the tenant's history of the last `HISTORY_DAYS`."""
    settings = scoring.get_settings(session, actor)
    since = now - timedelta(days=HISTORY_DAYS)
    out = {}
    for kind in KINDS:
        outcomes = actions.situation_outcomes(
            session,
            actor,
            kind,
            now=now,
            since=since,
            window_days=NEXT_STEP_DAYS if kind == "schedule_next_step" else FOLLOW_UP_DAYS,
            quiet_days=QUIET_DAYS,
            converted=settings.converted_stages,
        )
        out[kind] = estimate(kind, outcomes)
    return out


def current_uplifts(
    session: Session, actor: Actor, *, now: datetime, remeasure: bool = False
) -> tuple[dict[str, Uplift], MlModel]:
    """The uplifts in use: the registry's active measurement if younger than `REMEASURE_AFTER` (and not
    `remeasure`), else a new measurement, recorded (one row per distinct set of figures) and made active."""
    active = registry.active(session, actor, MODEL_TYPE)
    if active is not None and not remeasure and active.trained_at and now - active.trained_at < REMEASURE_AFTER:
        stored = (active.metrics or {}).get("uplifts") or {}
        if set(stored) == set(KINDS):
            return {k: Uplift(**v) for k, v in stored.items()}, active
    uplifts = measure(session, actor, now=now)
    figures = {k: asdict(v) for k, v in uplifts.items()}
    digest = hashlib.sha256(json.dumps(figures, sort_keys=True).encode()).hexdigest()[:12]
    model = registry.record(
        session,
        actor,
        model_type=MODEL_TYPE,
        version=f"uplift-{digest}",
        algorithm=ALGORITHM,
        training_start=now - timedelta(days=HISTORY_DAYS),
        training_end=now,
        metrics={
            "uplifts": figures,
            "method": "Win rates of the tenant's past deals (and leads) in each situation, with and without the "
            f"action; relative lift shrunk towards {PRIOR_LIFT:.0%} with {PRIOR_WEIGHT} pseudo-observations.",
        },
        hyperparameters={
            "history_days": HISTORY_DAYS,
            "follow_up_days": FOLLOW_UP_DAYS,
            "next_step_days": NEXT_STEP_DAYS,
            "quiet_days": QUIET_DAYS,
            "recent_days": RECENT_DAYS,
            "hot_score": HOT_SCORE,
            "prior_lift": PRIOR_LIFT,
            "prior_weight": PRIOR_WEIGHT,
        },
        activate=True,
        trained_at=now,
    )
    return uplifts, model


# Valuing one action ---------------------------------------------------------------------------------------------


def money(amount: float, currency: str) -> str:
    return f"{currency} {amount:,.0f}"


@dataclass(frozen=True)
class Value:
    p: float
    dp: float
    amount: float
    ev: float
    amount_note: str


def value(p: float, uplift: Uplift, amount: float | None, fallback: float | None) -> Value:
    """Expected value of an action on a deal (or lead) won with probability `p` now."""
    p = min(max(p, 0.0), 1.0)
    dp = min(p * uplift.lift, 1.0 - p)
    size, note = (float(amount), "") if amount else (float(fallback or 0.0), " (average won deal)")
    return Value(p=p, dp=dp, amount=size, ev=max(size * dp, 0.0), amount_note=note)


def reason(situation: str, uplift: Uplift, v: Value, currency: str) -> str:
    """One line: the situation, the evidence, and the arithmetic of the expected value."""
    return (
        f"{situation}; {uplift.phrase()}: +{v.dp * 100:.1f} pts on a {v.p:.0%} chance x "
        f"{money(v.amount, currency)}{v.amount_note} = {money(v.ev, currency)} expected."
    )


def _evidence(uplift: Uplift, v: Value, probability_source: str) -> dict[str, Any]:
    return {
        "uplift": asdict(uplift),
        "treatedRate": uplift.treated_rate,
        "untreatedRate": uplift.untreated_rate,
        "probability": round(v.p, 4),
        "probabilitySource": probability_source,
        "change": round(v.dp, 4),
        "amountUsed": round(v.amount, 2),
    }


def deal_probability(
    stage_id: UUID, stage_name: str, nominal: int, rates: dict[UUID, tuple[int, int]]
) -> tuple[float, str]:
    """(probability, where it comes from) of a deal in this stage."""
    n, won = rates.get(stage_id, (0, 0))
    if n >= MIN_STAGE_DEALS:
        p = (won + STAGE_PRIOR * nominal / 100) / (n + STAGE_PRIOR)
        return p, f"{won:,} of {n:,} past deals through {stage_name} won"
    return nominal / 100, f"the probability of {stage_name}"


def _stamp(value: datetime | None) -> str:
    return "never" if value is None else str(int(value.timestamp()))


def _name(first: str | None, last: str | None) -> str:
    return " ".join(p for p in (first, last) if p) or "the contact"


@dataclass
class _DealActions:
    """Builds the actions of one deal (its probability and amount valued once)."""

    out: list[NewAction]
    deal: Any
    p: float
    source: str
    amount: float | None
    fallback_amount: float | None
    uplifts: dict[str, Uplift]

    def add(
        self, kind: str, key: str, title: str, situation: str, change: dict[str, Any], contact_id: Any = None
    ) -> None:
        d, uplift = self.deal, self.uplifts[kind]
        v = value(self.p, uplift, self.amount, self.fallback_amount)
        self.out.append(
            NewAction(
                kind=kind,
                entity_type="deals",
                condition_key=f"{kind}:{d.id}:{key}",
                owner_id=d.owner_id,
                title=title,
                reason=reason(situation, uplift, v, d.currency),
                expected_value=v.ev,
                win_probability=v.p,
                uplift=v.dp,
                change=change,
                deal_id=d.id,
                contact_id=contact_id if contact_id is not None else (d.contact_id if d.contact_ok else None),
                account_id=d.account_id,
                amount=self.amount,
                currency=d.currency,
                evidence={**_evidence(uplift, v, self.source), "dealName": d.name},
            )
        )


def deal_actions(
    rows: Sequence[Any],
    uplifts: dict[str, Uplift],
    rates: dict[UUID, tuple[int, int]],
    fallback_amount: float | None,
    *,
    now: datetime,
) -> list[NewAction]:
    """The actions whose condition holds on each open deal (`core.actions.service.open_deal_facts` rows)."""
    out: list[NewAction] = []
    for d in rows:
        p, source = deal_probability(d.stage_id, d.stage_name, int(d.nominal), rates)
        amount = float(d.amount) if d.amount is not None else None
        contact = _name(d.contact_first_name, d.contact_last_name) if d.contact_ok else None
        add = _DealActions(out, d, p, source, amount, fallback_amount, uplifts).add
        days_in_stage = max((now - d.stage_entered_at).days, 0)
        recent = d.last_deal_activity is not None and now - d.last_deal_activity < timedelta(days=FOLLOW_UP_DAYS)
        if d.rotting_days is not None and days_in_stage > d.rotting_days and not recent:
            add(
                "follow_up_rotting",
                f"{d.stage_id}:{_stamp(d.stage_entered_at)}",
                f"Follow up on {d.name}",
                f"{days_in_stage} days in {d.stage_name} (stale after {d.rotting_days}), no contact for "
                f"{FOLLOW_UP_DAYS}+ days",
                {
                    "type": "task",
                    "title": f"Follow up on {d.name}: agree the next step",
                    "description": f"{d.name} has been in {d.stage_name} for {days_in_stage} days (stale after "
                    f"{d.rotting_days}). Call {contact or 'the customer'} to agree the next step, or close it out.",
                    "dueInDays": 1,
                    "priority": "high",
                },
            )
        if not d.has_next_step:
            add(
                "schedule_next_step",
                f"{d.stage_id}:{_stamp(d.stage_entered_at)}",
                f"Book the next step for {d.name}",
                "no future task or meeting booked",
                {
                    "type": "task",
                    "title": f"Book the next step for {d.name}",
                    "description": f"Nothing is booked on {d.name} ({d.stage_name}). Agree a date for the next "
                    f"meeting with {contact or d.account_name or 'the customer'} and put it in the calendar.",
                    "dueInDays": 1,
                    "priority": "normal",
                },
            )
        quiet = d.last_contact_activity is None or now - d.last_contact_activity >= timedelta(days=QUIET_DAYS)
        if contact and quiet and now - d.created_at >= timedelta(days=QUIET_DAYS):
            since = (
                f"no contact for {(now - d.last_contact_activity).days} days"
                if d.last_contact_activity is not None
                else "never contacted on record"
            )
            first = d.contact_first_name or contact
            subject = f"Next steps on {d.name}"
            body = (
                f"Hi {first},\n\nIt has been a few weeks since we last spoke about {d.name}. I would like to make "
                "sure we still have what you need to move forward. Could we find 20 minutes this week to go "
                f"through where things stand?\n\nBest regards,\n{d.owner_first_name}"
            )
            add(
                "reengage_champion",
                f"{d.contact_id}:{_stamp(d.last_contact_activity)}",
                f"Re-engage {contact} on {d.name}",
                f"{contact}, the main contact, {since}",
                {
                    "type": "email",
                    "title": f"Email {contact}: {subject}",
                    "description": f"Send this email to {contact}"
                    + (f" <{d.contact_email}>" if d.contact_email else "")
                    + " (edit it as you see fit).",
                    "subject": subject,
                    "body": body,
                    "dueInDays": 0,
                    "priority": "high",
                },
                contact_id=d.contact_id,
            )
        if d.account_id is not None and d.account_name and int(d.account_contacts) == 1:
            add(
                "multi_thread",
                str(d.account_id),
                f"Multi-thread {d.account_name}",
                f"{contact or 'one person'} is the only contact at {d.account_name}",
                {
                    "type": "task",
                    "title": f"Find a second contact at {d.account_name} for {d.name}",
                    "description": f"Only {contact or 'one person'} is on record at {d.account_name}. Ask for an "
                    "introduction to the decision maker or a user of the product, and add them as a contact.",
                    "dueInDays": 3,
                    "priority": "normal",
                },
            )
    return out


def lead_actions(
    rows: Sequence[Any], uplift: Uplift, size: float | None, *, now: datetime, currency: str = "USD"
) -> list[NewAction]:
    """Call-now actions for hot leads (`core.actions.service.hot_lead_facts` rows)."""
    out = []
    for c in rows:
        p = float(c.probability) if c.probability is not None else c.lead_score / 100
        lead_size = float(c.predicted_revenue) / p if c.predicted_revenue is not None and p > 0 else size
        v = value(p, uplift, lead_size, size)
        v = Value(p=v.p, dp=v.dp, amount=v.amount, ev=v.ev, amount_note=" (average won deal)")
        name = _name(c.first_name, c.last_name)
        since = (
            f"not contacted for {(now - c.last_contacted_at).days} days"
            if c.last_contacted_at is not None
            else "never contacted"
        )
        phone = c.mobile or c.phone
        source = "the lead score's probability" if c.probability is not None else "score / 100 (points rules)"
        out.append(
            NewAction(
                kind="call_hot_lead",
                entity_type="contacts",
                condition_key=f"call_hot_lead:{c.id}:{_stamp(c.last_contacted_at)}",
                owner_id=c.owner_id,
                title=f"Call {name} now",
                reason=reason(f"Lead score {c.lead_score}, {since}", uplift, v, currency),
                expected_value=v.ev,
                win_probability=v.p,
                uplift=v.dp,
                change={
                    "type": "task",
                    "title": f"Call {name}",
                    "description": f"{name}"
                    + (f" ({c.company})" if c.company else "")
                    + f" scores {c.lead_score} and is {since}."
                    + (f" Phone: {phone}." if phone else ""),
                    "dueInDays": 0,
                    "priority": "high",
                },
                contact_id=c.id,
                account_id=c.account_id,
                amount=v.amount,
                currency=currency,
                evidence={**_evidence(uplift, v, source), "leadScore": c.lead_score},
            )
        )
    return out


def expected_deal_size(session: Session) -> float | None:
    """The average won deal of the last year (what an unpriced deal and a lead are valued at)."""
    from ai.scoring.crm import expected_deal_size as size

    return size(session)


def refresh(session: Session, actor: Actor, *, now: datetime | None = None, remeasure: bool = False) -> dict[str, Any]:
    """Recompute the workspace's actions and make the stored open actions exactly these (new ones added, those
    still holding updated, those whose condition no longer holds removed, decided ones left out)."""
    now = now or datetime.now(UTC)
    uplifts, model = current_uplifts(session, actor, now=now, remeasure=remeasure)
    settings = scoring.get_settings(session, actor)
    rates = actions.stage_win_rates(session, actor, since=now - timedelta(days=HISTORY_DAYS))
    size = expected_deal_size(session)
    found = deal_actions(actions.open_deal_facts(session, actor, now=now), uplifts, rates, size, now=now)
    leads = actions.hot_lead_facts(
        session,
        actor,
        now=now,
        hot=HOT_SCORE,
        recent_days=RECENT_DAYS,
        converted=settings.converted_stages,
        idle_days=settings.idle_days,
    )
    currency = forecasts.tenant_currency(session, actor)
    found += lead_actions(leads, uplifts["call_hot_lead"], size, now=now, currency=currency)
    counts = actions.record_actions(
        session, actor, found, computed_at=now, model_id=model.id, model_version=model.version
    )
    return {**counts, "open": len(found), "model": model.version}
