"""Anomalies in the CRM: the tenant's thresholds (`insights:manage` to change), the anomalies the worker found
(ai/insights/anomalies.py) kept and read back, and dismissals.

Reading takes `insights:read` and the record's scope: a deal's or account's anomalies are seen by whoever may see
the record; a rep's (activity, win rate) by the rep, their team's managers (team scope) and all-scope roles.
Dismissing takes `insights:read` on a readable anomaly (the rep who knows it is fine says so); writing what the
worker found and queuing a pass take `insights:manage`. Like every service, nothing here commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from pydantic_core import to_json
from sqlalchemy import ColumnElement, and_, or_, select, text
from sqlalchemy.orm import Session

from core.accounts.models import Account
from core.actor import Actor
from core.deals.models import Deal
from core.errors import NotFound
from core.ids import new_id
from core.insights.models import CODES, Anomaly, InsightSettings
from core.insights.schemas import AnomalyRead, InsightSettingsUpdate
from core.jobs import service as jobs
from core.jobs.models import Job
from core.users.models import User
from core.versioning import check_version

INSIGHTS = "insights"
REFRESH_JOB = "anomalies.refresh"


@dataclass(frozen=True)
class Found:
    """One anomaly a detector found: kind, record, severity, how far from the norm, the reason and its figures."""

    code: str
    entity_type: str
    entity_id: UUID
    severity: str
    score: float | None
    reason: str
    details: dict[str, Any] = field(default_factory=dict)


# Settings --------------------------------------------------------------------------------------------------------


def get_settings(session: Session, actor: Actor) -> InsightSettings:
    """The tenant's thresholds; the defaults (not stored, version 0) until someone changes one."""
    actor.require(INSIGHTS, "read")
    stored = session.scalar(select(InsightSettings).where(InsightSettings.tenant_id == actor.tenant_id))
    if stored is not None:
        return stored
    defaults = {
        column.key: column.default.arg
        for column in InsightSettings.__table__.columns
        if column.default is not None and column.default.is_scalar
    }
    return InsightSettings(**{**defaults, "tenant_id": actor.tenant_id, "disabled_codes": [], "version": 0})


def update_settings(session: Session, actor: Actor, data: InsightSettingsUpdate) -> InsightSettings:
    actor.require(INSIGHTS, "manage")
    settings = get_settings(session, actor)
    check_version(settings, data.version)
    created = settings.id is None
    changes = data.model_dump(exclude_unset=True, exclude={"version"})
    for key, value in changes.items():
        if value is not None:
            setattr(settings, key, list(value) if key == "disabled_codes" else value)
    if created:  # the first change stores the settings: version 1
        settings.id = new_id()
        settings.version = 1
        session.add(settings)
    elif session.is_modified(settings):
        settings.version += 1
    session.flush()
    return settings


# What the worker found -----------------------------------------------------------------------------------------

_UPSERT = text(
    """
WITH v AS (
  SELECT * FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS v(code text, entity_type text, entity_id uuid,
    severity text, score float8, reason text, details jsonb)
), written AS (
  INSERT INTO anomalies (id, tenant_id, code, entity_type, entity_id, severity, score, reason, details, model,
                         model_version, status, detected_at, computed_at)
  SELECT cf_uuid7(), :tenant, v.code, v.entity_type, v.entity_id, v.severity, round(v.score::numeric, 3), v.reason,
         v.details, :model, :version, 'open', :at, :at
    FROM v
  ON CONFLICT (tenant_id, code, entity_type, entity_id) DO UPDATE SET severity = EXCLUDED.severity,
    score = EXCLUDED.score, reason = EXCLUDED.reason, details = EXCLUDED.details, model = EXCLUDED.model,
    model_version = EXCLUDED.model_version, computed_at = EXCLUDED.computed_at,
    -- a resolved anomaly found again is news again; a dismissed one stays dismissed
    detected_at = CASE WHEN anomalies.status = 'resolved' THEN EXCLUDED.detected_at ELSE anomalies.detected_at END,
    status = CASE WHEN anomalies.status = 'dismissed' THEN 'dismissed' ELSE 'open' END,
    resolved_at = NULL
    -- a pass that started before the row's last change (a newer pass found or resolved it) leaves it alone
    WHERE anomalies.computed_at <= EXCLUDED.computed_at
      AND (anomalies.resolved_at IS NULL OR anomalies.resolved_at <= EXCLUDED.computed_at)
  RETURNING (xmax = 0) AS inserted
)
SELECT count(*) FILTER (WHERE inserted), count(*) FROM written
"""
)


def record_anomalies(
    session: Session,
    actor: Actor,
    found: Sequence[Found],
    *,
    computed_at: datetime,
    codes: Sequence[str] = CODES,
    model: str,
    model_version: str,
) -> dict[str, int]:
    """Keep what a full pass of the detectors of `codes` found (one row per kind and record); open anomalies of
    those kinds that were not found again are resolved (dismissed ones too: when the same anomaly comes back
    later, it is news again). Passes of one tenant take turns (a transaction-scoped advisory lock), and a row a
    newer pass wrote or resolved is left alone, so an older pass never reopens what a newer one resolved.
    Returns {"new", "kept", "resolved"}."""
    actor.require(INSIGHTS, "manage")
    session.execute(
        text("SELECT pg_advisory_xact_lock(hashtext('anomalies:' || CAST(:t AS text)))"), {"t": actor.tenant_id}
    )
    new = kept = 0
    if found:
        rows = [
            {
                "code": f.code,
                "entity_type": f.entity_type,
                "entity_id": f.entity_id,
                "severity": f.severity,
                "score": f.score,
                "reason": f.reason,
                "details": f.details,
            }
            for f in found
        ]
        new, kept = session.execute(
            _UPSERT,
            {
                "rows": to_json(rows).decode(),
                "tenant": actor.tenant_id,
                "at": computed_at,
                "model": model,
                "version": model_version,
            },
        ).one()
    resolved = session.execute(
        text(
            """
WITH r AS (
  UPDATE anomalies SET status = 'resolved', resolved_at = :at, dismissed_at = NULL, dismissed_by = NULL
   WHERE tenant_id = :t AND status IN ('open', 'dismissed') AND code = ANY(CAST(:codes AS text[]))
     AND computed_at < :at
  RETURNING 1
)
SELECT count(*) FROM r
"""
        ),
        {"t": actor.tenant_id, "at": computed_at, "codes": list(codes)},
    ).scalar_one()
    return {"new": int(new), "kept": int(kept) - int(new), "resolved": int(resolved or 0)}


def queue_refresh(session: Session, actor: Actor) -> Job:
    """Queue a full pass of the detectors (`insights:manage`); asking again while one waits returns that one."""
    actor.require(INSIGHTS, "manage")
    waiting = session.scalar(
        select(Job)
        .where(Job.tenant_id == actor.tenant_id, Job.kind == REFRESH_JOB, Job.status == "queued")
        .order_by(Job.created_at.desc())
        .limit(1)
    )
    return waiting if waiting is not None else jobs.enqueue(session, actor, REFRESH_JOB, {"trigger": "api"})


# Reading ---------------------------------------------------------------------------------------------------------


def _users_readable(actor: Actor) -> Any:
    ids = select(User.id).where(User.tenant_id == actor.tenant_id)
    if actor.scope == "all":
        return ids
    if actor.scope == "team" and actor.team_id is not None:
        return ids.where(User.team_id == actor.team_id)
    return ids.where(User.id == actor.user_id)


def _visible(actor: Actor) -> ColumnElement[bool]:
    deals = actor.readable(Deal).with_only_columns(Deal.id)
    accounts = actor.readable(Account).with_only_columns(Account.id)
    return or_(
        and_(Anomaly.entity_type == "deals", Anomaly.entity_id.in_(deals)),
        and_(Anomaly.entity_type == "accounts", Anomaly.entity_id.in_(accounts)),
        and_(Anomaly.entity_type == "users", Anomaly.entity_id.in_(_users_readable(actor))),
    )


def _names(session: Session, actor: Actor, rows: Sequence[Anomaly]) -> dict[tuple[str, UUID], str]:
    names: dict[tuple[str, UUID], str] = {}
    by_type: dict[str, set[UUID]] = {}
    for row in rows:
        by_type.setdefault(row.entity_type, set()).add(row.entity_id)
    if by_type.get("deals"):
        for i, name in session.execute(select(Deal.id, Deal.name).where(Deal.id.in_(by_type["deals"]))):
            names["deals", i] = name
    if by_type.get("accounts"):
        for i, name in session.execute(select(Account.id, Account.name).where(Account.id.in_(by_type["accounts"]))):
            names["accounts", i] = name
    if by_type.get("users"):
        query = select(User.id, User.first_name, User.last_name).where(User.id.in_(by_type["users"]))
        for i, first, last in session.execute(query):
            names["users", i] = f"{first} {last}"
    return names


def _read(row: Anomaly, name: str | None) -> AnomalyRead:
    read = AnomalyRead.model_validate(row)
    read.entity_name = name
    return read


def list_anomalies(
    session: Session,
    actor: Actor,
    *,
    entity_type: str | None = None,
    entity_id: UUID | None = None,
    since: datetime | None = None,
    status: str | None = "open",
    code: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[AnomalyRead]:
    """The anomalies the actor may see, most severe and newest first."""
    actor.require(INSIGHTS, "read")
    query = select(Anomaly).where(Anomaly.tenant_id == actor.tenant_id, _visible(actor))
    if entity_type is not None:
        query = query.where(Anomaly.entity_type == entity_type)
    if entity_id is not None:
        query = query.where(Anomaly.entity_id == entity_id)
    if since is not None:
        query = query.where(Anomaly.detected_at >= since)
    if status is not None:
        query = query.where(Anomaly.status == status)
    if code is not None:
        query = query.where(Anomaly.code == code)
    severity = text("CASE anomalies.severity WHEN 'high' THEN 0 WHEN 'medium' THEN 1 ELSE 2 END")
    rows = list(
        session.scalars(query.order_by(severity, Anomaly.detected_at.desc(), Anomaly.id).limit(limit).offset(offset))
    )
    names = _names(session, actor, rows)
    return [_read(r, names.get((r.entity_type, r.entity_id))) for r in rows]


def count_anomalies(session: Session, actor: Actor, *, since: datetime | None = None) -> dict[str, int]:
    """Open anomalies the actor may see per kind (detected since `since` when given)."""
    actor.require(INSIGHTS, "read")
    query = select(Anomaly.code, text("count(*)")).where(
        Anomaly.tenant_id == actor.tenant_id, Anomaly.status == "open", _visible(actor)
    )
    if since is not None:
        query = query.where(Anomaly.detected_at >= since)
    return {str(c): int(n) for c, n in session.execute(query.group_by(Anomaly.code))}


def dismiss(session: Session, actor: Actor, anomaly_id: UUID) -> AnomalyRead:
    """Mark a readable anomaly as a false alarm (who and when are kept); the worker leaves it dismissed while
    it is still found. An anomaly about a person (a rep's activity or win rate) is for their manager to judge:
    dismissing it needs `insights:manage`."""
    actor.require(INSIGHTS, "read")
    row = session.scalar(
        select(Anomaly).where(Anomaly.tenant_id == actor.tenant_id, Anomaly.id == anomaly_id, _visible(actor))
    )
    if row is None:
        raise NotFound("Anomaly not found")
    if row.entity_type == "users":
        actor.require(INSIGHTS, "manage")
    if row.status != "dismissed":
        row.status = "dismissed"
        row.dismissed_by = actor.user_id
        row.dismissed_at = datetime.now(UTC)
        session.flush()
    return _read(row, _names(session, actor, [row]).get((row.entity_type, row.entity_id)))


@dataclass(frozen=True)
class DealAtRisk:
    """An open deal with open anomalies or rotting in its stage, and why (one line per reason)."""

    deal_id: UUID
    name: str
    amount: Any
    currency: str
    stage: str
    owner: str
    days_in_stage: int
    rotting: bool
    reasons: list[str]
    worst: str  # the most severe anomaly's severity ("high", "medium", "low"), or "rotting"


def deals_at_risk(session: Session, actor: Actor, *, limit: int = 50) -> list[DealAtRisk]:
    """Open deals the actor may see that have open anomalies or are rotting (longer in their stage than its
    `rotting_days`): most severe first, then the biggest."""
    from core.deals.service import rotting_condition
    from core.pipelines.models import Stage

    actor.require(INSIGHTS, "read")
    actor.require("deals", "read")
    flagged = select(Anomaly.entity_id).where(
        Anomaly.tenant_id == actor.tenant_id, Anomaly.entity_type == "deals", Anomaly.status == "open"
    )
    rotting = rotting_condition()
    rows = session.execute(
        actor.readable(Deal)
        .join(Stage, Stage.id == Deal.stage_id)
        .join(User, User.id == Deal.owner_id)
        .where(Deal.is_closed.is_(False), or_(Deal.id.in_(flagged), rotting))
        .add_columns(Stage.name, Stage.rotting_days, User.first_name, User.last_name, rotting.label("rotting"))
    ).all()
    anomalies: dict[UUID, list[Anomaly]] = {}
    ids = [r[0].id for r in rows]
    if ids:
        found = session.scalars(
            select(Anomaly).where(
                Anomaly.tenant_id == actor.tenant_id,
                Anomaly.entity_type == "deals",
                Anomaly.status == "open",
                Anomaly.entity_id.in_(ids),
            )
        )
        for a in found:
            anomalies.setdefault(a.entity_id, []).append(a)
    rank = {"high": 0, "medium": 1, "low": 2, "rotting": 3}
    now = datetime.now(UTC)
    out = []
    for deal, stage, rotting_days, first, last, is_rotting in rows:
        days = max(0, (now - deal.stage_entered_at).days)
        own = sorted(anomalies.get(deal.id, []), key=lambda a: rank[a.severity])
        reasons = [a.reason for a in own]
        if is_rotting:
            reasons.append(f"{days} days in {stage} (it rots after {rotting_days})")
        out.append(
            DealAtRisk(
                deal.id,
                deal.name,
                deal.amount,
                deal.currency,
                stage,
                f"{first} {last}",
                days,
                bool(is_rotting),
                reasons,
                own[0].severity if own else "rotting",
            )
        )
    out.sort(key=lambda d: (rank[d.worst], -(float(d.amount or 0))))
    return out[:limit]
