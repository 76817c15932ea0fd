"""Next best actions in the CRM: the actions open now (read with the record's scope: `insights:read`), one click
to take one (the record change it implies, in the same transaction as the decision) or to ignore it, the
taken/ignored rates by action type, and the facts the computation reads (what is kept and read here; how actions
are chosen and valued is ai/insights/actions.py's job).

Taking an action creates a task: for a call, a follow-up or a next step to book, the task itself; for an email to
draft, a task holding the drafted subject and body. A draft is not logged as an email activity: activities record
what happened, and an unsent email logged as one would count as engagement (clearing "gone quiet" and "not
contacted" before anyone wrote to the customer).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from pydantic_core import to_json
from sqlalchemy import Select, func, select, text
from sqlalchemy.orm import Session

from core.actions.models import ENTITY_TYPES, KINDS, NextActionDecision, NextBestAction
from core.actions.schemas import KIND_LABELS, ActionRead, ActionStats, KindStats, RecordChange
from core.activities.service import CONTACTING_TYPES
from core.actor import Actor
from core.contacts import service as contacts
from core.deals import service as deals
from core.errors import Conflict, NotFound, ValidationFailed
from core.forecasts.models import MlModel
from core.ids import new_id
from core.tasks import service as tasks
from core.tasks.models import Task
from core.tasks.schemas import TaskCreate
from core.users.models import User

INSIGHTS = "insights"
MODEL_TYPE = "next_best_action"
MAX_LIMIT = 200


# Reads ----------------------------------------------------------------------------------------------------------


def readable(actor: Actor) -> Select[Any]:
    """The open actions the actor may see: `insights:read`, then the record scope on the rep who should act."""
    return actor.readable(NextBestAction, INSIGHTS)


def to_read(action: NextBestAction) -> ActionRead:
    return ActionRead.model_validate(
        {
            **{c.key: getattr(action, c.key) for c in NextBestAction.__table__.columns},
            "entity_id": action.entity_id,
            "kind_label": KIND_LABELS[action.kind],
            "change": RecordChange.model_validate(action.change),
        }
    )


def list_actions(
    session: Session,
    actor: Actor,
    *,
    entity_type: str | None = None,
    entity_id: UUID | None = None,
    mine: bool = False,
    limit: int = 50,
) -> list[NextBestAction]:
    """The open actions, highest expected value first: of one deal or contact (a record the actor cannot see is a
    404), or of every deal or contact (`entity_type` alone), and/or only those the actor should take (`mine`)."""
    statement = readable(actor)
    if entity_id is None and entity_type in ENTITY_TYPES:
        statement = statement.where(NextBestAction.entity_type == entity_type)
    elif entity_id is not None or entity_type is not None:
        if entity_type == "deals" and entity_id is not None:
            deals.get(session, actor, entity_id)
            statement = statement.where(NextBestAction.deal_id == entity_id)
        elif entity_type == "contacts" and entity_id is not None:
            contacts.get(session, actor, entity_id)
            statement = statement.where(NextBestAction.contact_id == entity_id)
        else:
            raise ValidationFailed(
                "Give both entityType (deals or contacts) and entityId",
                details=[{"field": "entityType", "message": "must be deals or contacts, with entityId"}],
            )
    if mine:
        statement = statement.where(NextBestAction.owner_id == actor.user_id)
    statement = statement.order_by(NextBestAction.expected_value.desc(), NextBestAction.id)
    return list(session.scalars(statement.limit(max(1, min(limit, MAX_LIMIT)))).all())


def get(session: Session, actor: Actor, action_id: UUID) -> NextBestAction:
    """An open action the actor may see; one already taken or ignored is a 409 saying so, any other a 404."""
    action = session.scalar(readable(actor).where(NextBestAction.id == action_id))
    if action is not None:
        return action
    decided = session.scalar(
        actor.readable(NextActionDecision).where(NextActionDecision.action_id == action_id).limit(1)
    )
    if decided is not None:
        raise Conflict(
            f"This action was already {decided.decision} on {decided.created_at:%Y-%m-%d %H:%M} UTC",
            details={"decision": decided.decision, "decisionId": str(decided.id)},
        )
    raise NotFound("Action not found (it may no longer apply: its condition has changed)")


# Decisions ------------------------------------------------------------------------------------------------------


def _check_undecided(session: Session, actor: Actor, action: NextBestAction) -> None:
    """A condition decided meanwhile (a refresh that raced with a decision put its action back): gone, and a 409."""
    earlier = session.scalar(
        select(NextActionDecision).where(
            NextActionDecision.tenant_id == actor.tenant_id, NextActionDecision.condition_key == action.condition_key
        )
    )
    if earlier is not None:
        session.delete(action)
        session.flush()
        raise Conflict(
            f"This action was already {earlier.decision} on {earlier.created_at:%Y-%m-%d %H:%M} UTC",
            details={"decision": earlier.decision, "decisionId": str(earlier.id)},
        )


def _decide(
    session: Session, actor: Actor, action: NextBestAction, decision: str, record_id: UUID | None
) -> NextActionDecision:
    row = NextActionDecision(
        id=new_id(),
        tenant_id=actor.tenant_id,
        action_id=action.id,
        kind=action.kind,
        entity_type=action.entity_type,
        entity_id=action.entity_id,
        condition_key=action.condition_key,
        decision=decision,
        expected_value=action.expected_value,
        model_version=action.model_version,
        record_type="tasks" if record_id is not None else None,
        record_id=record_id,
        decided_by=actor.user_id,
        owner_id=action.owner_id,
    )
    session.add(row)
    session.delete(action)
    session.flush()
    return row


def _assignee(session: Session, actor: Actor, owner_id: UUID) -> UUID:
    """The record's owner, or the actor when the owner can no longer be assigned (deactivated)."""
    active = session.scalar(
        select(User.id).where(
            User.tenant_id == actor.tenant_id, User.id == owner_id, User.is_active.is_(True), User.deleted_at.is_(None)
        )
    )
    return owner_id if active is not None or actor.user_id is None else actor.user_id


def task_for(action: NextBestAction, now: datetime | None = None, assignee_id: UUID | None = None) -> TaskCreate:
    """The task one click creates for the action (an email to draft: a task with the drafted subject and body)."""
    change = RecordChange.model_validate(action.change)
    now = now or datetime.now(UTC)
    description = change.description or ""
    if change.type == "email":
        draft = f"Subject: {change.subject or ''}\n\n{change.body or ''}".strip()
        description = f"{description}\n\n{draft}".strip() if description else draft
    return TaskCreate(
        title=change.title[:255],
        description=f"{description}\n\nWhy: {action.reason}".strip(),
        due_at=now + timedelta(days=change.due_in_days),
        priority=change.priority,
        assignee_id=assignee_id or action.owner_id,
        contact_id=action.contact_id,
        account_id=action.account_id,
        deal_id=action.deal_id,
    )


def apply(session: Session, actor: Actor, action_id: UUID) -> tuple[NextActionDecision, Task]:
    """Take the action: create the task it implies (assigned to the record's owner, or to the actor when the
    owner was deactivated; linked to the deal, contact and account) and record the decision (taken, by the actor,
    now), in the caller's transaction: both or neither. Takes `tasks:create` besides `insights:read`."""
    action = get(session, actor, action_id)
    _check_undecided(session, actor, action)
    task = tasks.create(session, actor, task_for(action, assignee_id=_assignee(session, actor, action.owner_id)))
    return _decide(session, actor, action, "taken", task.id), task


def ignore(session: Session, actor: Actor, action_id: UUID) -> NextActionDecision:
    """Ignore the action: recorded (by the actor, now); it does not come back for the same condition."""
    action = get(session, actor, action_id)
    _check_undecided(session, actor, action)
    return _decide(session, actor, action, "ignored", None)


def _rate(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(part / whole, 4)


def stats(session: Session, actor: Actor, since: datetime | None = None) -> ActionStats:
    """Per action type: how many were taken and ignored since `since` (default: 90 days), how many are open now,
    the taken and ignored rates (of those decided), within the actor's record scope; and the history that values
    it (win rates of past deals in the situation with and without the action, the lift used)."""
    since = since or datetime.now(UTC) - timedelta(days=90)
    actor.require(INSIGHTS, "read")
    decided = actor.readable(NextActionDecision).where(NextActionDecision.created_at >= since).subquery()
    counts: dict[str, dict[str, int]] = {k: {"taken": 0, "ignored": 0, "open": 0} for k in KINDS}
    for kind, decision, n in session.execute(
        select(decided.c.kind, decided.c.decision, func.count()).group_by(decided.c.kind, decided.c.decision)
    ):
        counts[kind][decision] = int(n)
    open_rows = readable(actor).subquery()
    for kind, n in session.execute(select(open_rows.c.kind, func.count()).group_by(open_rows.c.kind)):
        counts[kind]["open"] = int(n)
    model = session.scalar(
        select(MlModel)
        .where(MlModel.tenant_id == actor.tenant_id, MlModel.model_type == MODEL_TYPE, MlModel.is_active.is_(True))
        .order_by(MlModel.trained_at.desc().nulls_last())
        .limit(1)
    )
    measured: dict[str, Any] = ((model.metrics or {}).get("uplifts") or {}) if model is not None else {}
    kinds = []
    for kind, c in counts.items():
        m = measured.get(kind) or {}
        kinds.append(
            KindStats(
                kind=kind,
                kind_label=KIND_LABELS[kind],
                taken=c["taken"],
                ignored=c["ignored"],
                open=c["open"],
                taken_rate=_rate(c["taken"], c["taken"] + c["ignored"]),
                ignored_rate=_rate(c["ignored"], c["taken"] + c["ignored"]),
                with_action_rate=_rate(int(m.get("treated_won", 0)), int(m.get("treated", 0))),
                without_action_rate=_rate(int(m.get("untreated_won", 0)), int(m.get("untreated", 0))),
                history_size=int(m["treated"]) + int(m["untreated"]) if m else None,
                lift=m.get("lift"),
                lift_source=m.get("source"),
            )
        )
    taken = sum(k.taken for k in kinds)
    ignored = sum(k.ignored for k in kinds)
    return ActionStats(
        since=since,
        kinds=kinds,
        taken=taken,
        ignored=ignored,
        open=sum(k.open for k in kinds),
        taken_rate=_rate(taken, taken + ignored),
        model_version=model.version if model is not None else None,
    )


# Writing the computed actions -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewAction:
    """One action as computed (ai/insights/actions.py); `change` as RecordChange's fields (camelCase)."""

    kind: str
    entity_type: str
    condition_key: str
    owner_id: UUID
    title: str
    reason: str
    expected_value: float
    win_probability: float
    uplift: float
    change: dict[str, Any]
    deal_id: UUID | None = None
    contact_id: UUID | None = None
    account_id: UUID | None = None
    amount: float | None = None
    currency: str = "USD"
    evidence: dict[str, Any] | None = None


_WRITE = text(
    """
WITH v AS (
  SELECT * FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS v(kind text, entity_type text, condition_key text,
    owner_id uuid, title text, reason text, expected_value float8, win_probability float8, uplift float8,
    change jsonb, deal_id uuid, contact_id uuid, account_id uuid, amount float8, currency text, evidence jsonb)
), fresh AS (
  SELECT v.* FROM v WHERE NOT EXISTS (
    SELECT 1 FROM next_action_decisions d WHERE d.tenant_id = :tenant AND d.condition_key = v.condition_key)
), removed AS (
  DELETE FROM next_best_actions a WHERE a.tenant_id = :tenant
     AND NOT EXISTS (SELECT 1 FROM fresh f WHERE f.condition_key = a.condition_key)
  RETURNING 1
), written AS (
  INSERT INTO next_best_actions AS a (id, tenant_id, kind, entity_type, condition_key, owner_id, title, reason,
    expected_value, win_probability, uplift, change, deal_id, contact_id, account_id, amount, currency, evidence,
    model_id, model_version, computed_at)
  SELECT cf_uuid7(), :tenant, kind, entity_type, condition_key, owner_id, left(title, 255), reason,
         round(greatest(expected_value, 0)::numeric, 2), round(least(greatest(win_probability, 0), 1)::numeric, 4),
         round(least(greatest(uplift, 0), 1)::numeric, 4), change, deal_id, contact_id, account_id,
         round(amount::numeric, 2), currency, coalesce(evidence, '{}'::jsonb), :model_id, :version, :at
    FROM fresh
  ON CONFLICT (tenant_id, condition_key) DO UPDATE SET
    owner_id = EXCLUDED.owner_id, title = EXCLUDED.title, reason = EXCLUDED.reason,
    expected_value = EXCLUDED.expected_value, win_probability = EXCLUDED.win_probability,
    uplift = EXCLUDED.uplift, change = EXCLUDED.change, account_id = EXCLUDED.account_id,
    amount = EXCLUDED.amount, currency = EXCLUDED.currency, evidence = EXCLUDED.evidence,
    model_id = EXCLUDED.model_id, model_version = EXCLUDED.model_version, computed_at = EXCLUDED.computed_at
  RETURNING (xmax = 0) AS inserted
)
SELECT (SELECT count(*) FROM removed) AS removed,
       (SELECT count(*) FILTER (WHERE inserted) FROM written) AS added,
       (SELECT count(*) FILTER (WHERE NOT inserted) FROM written) AS kept
"""
)


def record_actions(
    session: Session,
    actor: Actor,
    actions: Sequence[NewAction],
    *,
    computed_at: datetime,
    model_id: UUID | None,
    model_version: str,
) -> dict[str, int]:
    """Make the workspace's open actions exactly `actions` (a full refresh): new conditions added, those still
    holding updated (same id), those no longer holding removed, and conditions already taken or ignored left out.
    One statement whatever the count (the rows travel as one JSON parameter). Returns added, kept, removed."""
    actor.require(INSIGHTS, "manage")
    seen: dict[str, NewAction] = {}
    for action in actions:  # one per condition: the higher value wins (a deal listed twice by two queries)
        if action.condition_key not in seen or action.expected_value > seen[action.condition_key].expected_value:
            seen[action.condition_key] = action
    rows = [
        {
            "kind": a.kind,
            "entity_type": a.entity_type,
            "condition_key": a.condition_key[:200],
            "owner_id": a.owner_id,
            "title": a.title,
            "reason": a.reason,
            "expected_value": float(a.expected_value),
            "win_probability": float(a.win_probability),
            "uplift": float(a.uplift),
            "change": RecordChange.model_validate(a.change).model_dump(mode="json", by_alias=True),
            "deal_id": a.deal_id,
            "contact_id": a.contact_id,
            "account_id": a.account_id,
            "amount": None if a.amount is None else float(a.amount),
            "currency": a.currency,
            "evidence": a.evidence or {},
        }
        for a in seen.values()
    ]
    result = session.execute(
        _WRITE,
        {
            "rows": to_json(rows).decode(),
            "tenant": actor.tenant_id,
            "model_id": model_id,
            "version": model_version,
            "at": computed_at,
        },
    ).one()
    return {"added": int(result.added), "kept": int(result.kept), "removed": int(result.removed)}


# The facts the computation reads (the platform's reads: `insights:manage`) --------------------------------------

_CONTACTING = "(" + ", ".join(f"'{t}'" for t in CONTACTING_TYPES) + ")"

_OPEN_DEALS = text(
    f"""
SELECT d.id, d.name, d.amount, d.currency, d.owner_id, d.account_id, d.contact_id, d.stage_id, d.stage_entered_at,
       d.created_at, s.name AS stage_name, s.probability AS nominal, s.rotting_days,
       u.first_name AS owner_first_name,
       (SELECT max(a.occurred_at) FROM activities a WHERE a.tenant_id = :t AND a.deal_id = d.id
           AND a.deleted_at IS NULL AND a.type IN {_CONTACTING} AND a.occurred_at <= :now) AS last_deal_activity,
       (EXISTS (SELECT 1 FROM tasks k WHERE k.tenant_id = :t AND k.deal_id = d.id AND k.deleted_at IS NULL
                   AND k.status IN ('open', 'in_progress') AND k.due_at >= :now)
        OR EXISTS (SELECT 1 FROM activities a WHERE a.tenant_id = :t AND a.deal_id = d.id AND a.deleted_at IS NULL
                   AND a.type = 'meeting' AND a.occurred_at > :now)) AS has_next_step,
       c.first_name AS contact_first_name, c.last_name AS contact_last_name, c.email AS contact_email,
       (c.id IS NOT NULL AND c.deleted_at IS NULL AND c.merged_into_id IS NULL) AS contact_ok,
       (SELECT max(a.occurred_at) FROM activities a WHERE a.tenant_id = :t AND a.contact_id = d.contact_id
           AND a.deleted_at IS NULL AND a.type IN {_CONTACTING} AND a.occurred_at <= :now) AS last_contact_activity,
       acc.name AS account_name,
       (SELECT count(*) FROM contacts x WHERE x.tenant_id = :t AND x.account_id = d.account_id
           AND x.deleted_at IS NULL AND x.merged_into_id IS NULL) AS account_contacts
  FROM deals d
  JOIN deal_stages s ON s.tenant_id = d.tenant_id AND s.id = d.stage_id
  JOIN users u ON u.tenant_id = d.tenant_id AND u.id = d.owner_id
  LEFT JOIN contacts c ON c.tenant_id = d.tenant_id AND c.id = d.contact_id
  LEFT JOIN accounts acc ON acc.tenant_id = d.tenant_id AND acc.id = d.account_id AND acc.deleted_at IS NULL
 WHERE d.tenant_id = :t AND NOT d.is_closed AND d.deleted_at IS NULL
"""
)


def open_deal_facts(session: Session, actor: Actor, *, now: datetime) -> list[Any]:
    """Every open deal with what the actions look at: stage (nominal probability, rotting days), last contacting
    activity on the deal and with its contact, whether a future task or meeting is booked, the contacts of its
    account, the owner's first name (to sign a drafted email)."""
    actor.require(INSIGHTS, "manage")
    return list(session.execute(_OPEN_DEALS, {"t": actor.tenant_id, "now": now}))


_HOT_LEADS = text(
    """
SELECT c.id, c.first_name, c.last_name, c.email, c.phone, c.mobile, c.company, c.owner_id, c.account_id,
       c.lead_score, c.last_contacted_at, c.created_at, ls.predicted_conversion_probability AS probability,
       ls.predicted_revenue
  FROM contacts c
  LEFT JOIN LATERAL (
    SELECT l.predicted_conversion_probability, l.predicted_revenue FROM lead_scores l
     WHERE l.tenant_id = :t AND l.contact_id = c.id ORDER BY l.scored_at DESC, l.id DESC LIMIT 1
  ) ls ON true
 WHERE c.tenant_id = :t AND c.deleted_at IS NULL AND c.merged_into_id IS NULL
   AND c.lead_score >= :hot
   AND coalesce(c.lifecycle_stage, 'lead') <> ALL(CAST(:converted AS text[]))
   AND c.lead_status IS DISTINCT FROM 'unqualified'
   AND greatest(c.created_at, c.last_contacted_at) >= :now - make_interval(days => :idle)
   AND (c.last_contacted_at IS NULL OR c.last_contacted_at < :now - make_interval(days => :recent))
   AND NOT EXISTS (SELECT 1 FROM deals d WHERE d.tenant_id = :t AND d.contact_id = c.id AND d.deleted_at IS NULL
                      AND NOT d.is_closed)
"""
)


def hot_lead_facts(
    session: Session,
    actor: Actor,
    *,
    now: datetime,
    hot: int,
    recent_days: int,
    converted: Sequence[str],
    idle_days: int,
) -> list[Any]:
    """Open leads scoring at least `hot`, with no open deal, not contacted in `recent_days`, with their latest
    score's probability and predicted revenue."""
    actor.require(INSIGHTS, "manage")
    params = {
        "t": actor.tenant_id,
        "now": now,
        "hot": hot,
        "recent": recent_days,
        "converted": list(converted),
        "idle": idle_days,
    }
    return list(session.execute(_HOT_LEADS, params))


# History: what happened to closed deals and past leads in each situation (treated: the action was done) ----------

_STAGE_WIN_RATES = text(
    """
SELECT h.to_stage_id AS stage_id, count(DISTINCT d.id) AS n, count(DISTINCT d.id) FILTER (WHERE d.is_won) AS won
  FROM deal_stage_history h
  JOIN deals d ON d.tenant_id = h.tenant_id AND d.id = h.deal_id
 WHERE h.tenant_id = :t AND d.is_closed AND d.deleted_at IS NULL AND d.actual_close_date >= :since
 GROUP BY h.to_stage_id
"""
)

_CLOSED = (
    "SELECT id, is_won, contact_id, account_id, created_at,"
    " (actual_close_date + 1)::timestamptz AS closed_at FROM deals"
    " WHERE tenant_id = :t AND is_closed AND deleted_at IS NULL AND actual_close_date >= :since"
)

_SITUATIONS: dict[str, str] = {
    # Deals that went stale in a stage (stayed past its rotting days): followed up (a call, meeting or email on
    # the deal) within `window` days of going stale, or not. The first stale stage of each deal.
    "follow_up_rotting": f"""
WITH visits AS (
  SELECT h.deal_id, h.to_stage_id, h.changed_at AS entered,
         lead(h.changed_at) OVER (PARTITION BY h.deal_id ORDER BY h.changed_at, h.id) AS left_at
    FROM deal_stage_history h WHERE h.tenant_id = :t
), stale AS (
  SELECT DISTINCT ON (v.deal_id) v.deal_id, d.is_won, v.entered + make_interval(days => s.rotting_days) AS at
    FROM visits v
    JOIN ({_CLOSED}) d ON d.id = v.deal_id
    JOIN deal_stages s ON s.tenant_id = :t AND s.id = v.to_stage_id
   WHERE s.rotting_days IS NOT NULL AND NOT s.is_closed_stage AND v.left_at IS NOT NULL
     AND v.left_at > v.entered + make_interval(days => s.rotting_days)
   ORDER BY v.deal_id, v.entered
)
SELECT EXISTS (SELECT 1 FROM activities a WHERE a.tenant_id = :t AND a.deal_id = x.deal_id AND a.deleted_at IS NULL
                 AND a.type IN {_CONTACTING} AND a.occurred_at >= x.at
                 AND a.occurred_at < x.at + make_interval(days => :window)) AS treated,
       x.is_won AS outcome
  FROM stale x
""",
    # Deals as they entered their first stage: a next step booked (a task on the deal created within a day of it,
    # due after it, or a meeting within `window` days), or not.
    "schedule_next_step": f"""
WITH first_visit AS (
  SELECT DISTINCT ON (h.deal_id) h.deal_id, h.changed_at AS entered, d.is_won
    FROM deal_stage_history h JOIN ({_CLOSED}) d ON d.id = h.deal_id
   WHERE h.tenant_id = :t ORDER BY h.deal_id, h.changed_at, h.id
)
SELECT (EXISTS (SELECT 1 FROM tasks k WHERE k.tenant_id = :t AND k.deal_id = f.deal_id AND k.deleted_at IS NULL
                  AND k.created_at BETWEEN f.entered - interval '1 day' AND f.entered + interval '1 day'
                  AND k.due_at > f.entered)
        OR EXISTS (SELECT 1 FROM activities a WHERE a.tenant_id = :t AND a.deal_id = f.deal_id
                  AND a.deleted_at IS NULL AND a.type = 'meeting' AND a.occurred_at > f.entered
                  AND a.occurred_at <= f.entered + make_interval(days => :window))) AS treated,
       f.is_won AS outcome
  FROM first_visit f
""",
    # Deals whose main contact went `quiet` days without a call, meeting or email while the deal was open (the
    # first such spell): re-engaged within `window` days of going quiet, or not.
    "reengage_champion": f"""
WITH d AS ({_CLOSED} AND contact_id IS NOT NULL),
pts AS (
  SELECT d.id AS deal_id, d.is_won, d.closed_at, d.created_at AS at FROM d
  UNION ALL
  SELECT d.id, d.is_won, d.closed_at, a.occurred_at FROM d
    JOIN activities a ON a.tenant_id = :t AND a.contact_id = d.contact_id AND a.deleted_at IS NULL
     AND a.type IN {_CONTACTING} AND a.occurred_at > d.created_at AND a.occurred_at < d.closed_at
), gaps AS (
  SELECT deal_id, is_won, closed_at, at, lead(at) OVER (PARTITION BY deal_id ORDER BY at) AS next_at FROM pts
), quiet AS (
  SELECT DISTINCT ON (deal_id) deal_id, is_won, at + make_interval(days => :quiet) AS quiet_at, next_at
    FROM gaps
   WHERE at + make_interval(days => :quiet) < closed_at
     AND (next_at IS NULL OR next_at > at + make_interval(days => :quiet))
   ORDER BY deal_id, at
)
SELECT (next_at IS NOT NULL AND next_at <= quiet_at + make_interval(days => :window)) AS treated, is_won AS outcome
  FROM quiet
""",
    # Deals at an account: two or more contacts on record there before the deal closed, or one.
    "multi_thread": f"""
SELECT n >= 2 AS treated, is_won AS outcome FROM (
  SELECT d.is_won, (SELECT count(*) FROM contacts c WHERE c.tenant_id = :t AND c.account_id = d.account_id
                      AND c.deleted_at IS NULL AND c.merged_into_id IS NULL AND c.created_at < d.closed_at) AS n
    FROM ({_CLOSED} AND account_id IS NOT NULL) d
) x WHERE n >= 1
""",
    # Leads that arrived at least 60 days ago: contacted (a call, meeting or email) within `window` days of
    # arriving, or not; converted: a deal, or a converted lifecycle stage.
    "call_hot_lead": f"""
SELECT EXISTS (SELECT 1 FROM activities a WHERE a.tenant_id = :t AND a.contact_id = c.id AND a.deleted_at IS NULL
                 AND a.type IN {_CONTACTING} AND a.occurred_at < c.created_at + make_interval(days => :window))
         AS treated,
       (coalesce(c.lifecycle_stage, 'lead') = ANY(CAST(:converted AS text[]))
        OR EXISTS (SELECT 1 FROM deals d WHERE d.tenant_id = :t AND d.contact_id = c.id AND d.deleted_at IS NULL))
         AS outcome
  FROM contacts c
 WHERE c.tenant_id = :t AND c.deleted_at IS NULL AND c.merged_into_id IS NULL
   AND c.created_at >= CAST(:since AS timestamptz) AND c.created_at < :now - interval '60 days'
""",
}


@dataclass(frozen=True)
class Outcomes:
    """How past deals (or leads) in one situation ended: treated (the action was done) and not."""

    treated: int
    treated_won: int
    untreated: int
    untreated_won: int


def situation_outcomes(
    session: Session,
    actor: Actor,
    kind: str,
    *,
    now: datetime,
    since: datetime,
    window_days: int,
    quiet_days: int,
    converted: Sequence[str],
) -> Outcomes:
    """The outcomes of the tenant's own history in the situation action `kind` addresses (closed deals since
    `since`, or leads for `call_hot_lead`): counts and wins, with and without the action having been done."""
    actor.require(INSIGHTS, "manage")
    query = (
        "SELECT treated, count(*) AS n, count(*) FILTER (WHERE outcome) AS won"
        f" FROM ({_SITUATIONS[kind]}) s GROUP BY treated"
    )
    params: dict[str, Any] = {
        "t": actor.tenant_id,
        "since": since.date() if kind != "call_hot_lead" else since,
        "now": now,
        "window": window_days,
        "quiet": quiet_days,
        "converted": list(converted),
    }
    used = {k: v for k, v in params.items() if f":{k}" in query}
    counts = {bool(r.treated): (int(r.n), int(r.won)) for r in session.execute(text(query), used)}
    t_n, t_won = counts.get(True, (0, 0))
    u_n, u_won = counts.get(False, (0, 0))
    return Outcomes(t_n, t_won, u_n, u_won)


def stage_win_rates(session: Session, actor: Actor, *, since: datetime) -> dict[UUID, tuple[int, int]]:
    """Per stage: closed deals (since `since`) that passed through it, and how many of them were won."""
    actor.require(INSIGHTS, "manage")
    rows = session.execute(_STAGE_WIN_RATES, {"t": actor.tenant_id, "since": since.date()})
    return {r.stage_id: (int(r.n), int(r.won)) for r in rows}
