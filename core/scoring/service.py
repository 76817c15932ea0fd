"""Lead scoring in the CRM: the tenant's settings and points rules (`scores:manage`), the scores given (read with
the contact: `scores:read` and the contact's record scope), and the one bulk write of new scores.

Computing scores (features, models, rules) is ai/scoring's job; this module keeps what they decide.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from pydantic_core import to_json
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from core.actor import Actor
from core.contacts import service as contacts
from core.contacts.models import LIFECYCLE_STAGES, Contact
from core.custom_fields.models import CustomField
from core.errors import NotFound, ValidationFailed
from core.forecasts.models import MlModel
from core.ids import new_id
from core.jobs import service as jobs
from core.jobs.models import Job
from core.scoring.fields import ACCOUNT_CUSTOM_PREFIX, CUSTOM_PREFIX, FIELDS
from core.scoring.models import DEFAULT_CONVERTED_STAGES, LeadScore, ScoringRule, ScoringSettings
from core.scoring.schemas import ContactScore, LeadScoreRead, RuleCreate, RuleUpdate, SettingsUpdate, TrainRequest
from core.versioning import check_version

SCORES = "scores"
MODEL_TYPE = "lead_scoring"
TRAIN_JOB = "scoring.train"
RESCORE_JOB = "scoring.rescore"
RULES_ALGORITHM = "rules"
HISTORY = 30


def _field_error(field: str, message: str, text_: str | None = None) -> ValidationFailed:
    return ValidationFailed(text_ or f"{field} {message}", details=[{"field": field, "message": message}])


# Settings -------------------------------------------------------------------------------------------------------


def get_settings(session: Session, actor: Actor) -> ScoringSettings:
    """The tenant's settings; the defaults (not stored) until an admin changes one."""
    actor.require(SCORES, "read")
    stored = session.scalar(select(ScoringSettings).where(ScoringSettings.tenant_id == actor.tenant_id))
    if stored is not None:
        return stored
    # the columns' own defaults (one place: the model), version 0 for "never saved"
    defaults = {
        column.key: column.default.arg
        for column in ScoringSettings.__table__.columns
        if column.default is not None and column.default.is_scalar
    }
    return ScoringSettings(
        **{**defaults, "tenant_id": actor.tenant_id, "converted_stages": list(DEFAULT_CONVERTED_STAGES), "version": 0}
    )


def _stored_settings(session: Session, actor: Actor) -> ScoringSettings:
    settings = get_settings(session, actor)
    if settings.id is None:
        settings.id = new_id()
        settings.version = 1
        session.add(settings)
        session.flush()
    return settings


def update_settings(session: Session, actor: Actor, data: SettingsUpdate) -> ScoringSettings:
    actor.require(SCORES, "manage")
    check_version(get_settings(session, actor), data.version)  # before storing: the defaults read as version 0
    settings = _stored_settings(session, actor)
    changes = data.model_dump(exclude_unset=True, exclude={"version"})
    for key, value in changes.items():
        if value is None and key != "challenger_model_id":
            raise _field_error(key, "must not be null")
    if "converted_stages" in changes:
        unknown = sorted(set(changes["converted_stages"]) - set(LIFECYCLE_STAGES))
        if unknown:
            raise _field_error(
                "convertedStages",
                f"has unknown lifecycle stage(s) {', '.join(unknown)}; choose among {', '.join(LIFECYCLE_STAGES)}",
            )
        changes["converted_stages"] = sorted(set(changes["converted_stages"]), key=LIFECYCLE_STAGES.index)
    if changes.get("challenger_model_id") is not None:
        model = session.scalar(
            select(MlModel).where(
                MlModel.tenant_id == actor.tenant_id,
                MlModel.id == changes["challenger_model_id"],
                MlModel.model_type == MODEL_TYPE,
            )
        )
        if model is None:
            raise _field_error("challengerModelId", "is not a lead-scoring model of this workspace")
        if model.is_active:
            raise _field_error("challengerModelId", "is the active model: choose another one to compare with it")
        if model.algorithm == RULES_ALGORITHM:
            raise _field_error("challengerModelId", "is the rules score: choose a trained model")
    for key, value in changes.items():
        setattr(settings, key, value)
    session.flush()
    return settings


def mark_rescored(session: Session, actor: Actor, through: datetime) -> None:
    """Record how far the rescoring of changed leads has got (the worker's watermark)."""
    settings = _stored_settings(session, actor)
    session.execute(
        text("UPDATE scoring_settings SET rescored_through = :t WHERE id = :id"), {"t": through, "id": settings.id}
    )


# Rules ----------------------------------------------------------------------------------------------------------


def _check_rule(session: Session, actor: Actor, field: str, operator: str, value: Any) -> None:
    kind: str | None = FIELDS[field][1] if field in FIELDS else None
    if kind is None:
        prefix = next((p for p in (ACCOUNT_CUSTOM_PREFIX, CUSTOM_PREFIX) if field.startswith(p)), None)
        entity = "accounts" if prefix == ACCOUNT_CUSTOM_PREFIX else "contacts"
        custom = None
        if prefix is not None:
            custom = session.scalar(
                select(CustomField).where(
                    CustomField.tenant_id == actor.tenant_id,
                    CustomField.entity_type == entity,
                    CustomField.field_name == field[len(prefix) :],
                )
            )
        if custom is None:
            raise _field_error(
                "field",
                "is not a lead feature",
                f"Unknown field {field!r}: use one of {', '.join(FIELDS)}, or cf_<custom field name> "
                "(account_cf_<name> for the account's)",
            )
        kind = {"number": "number", "boolean": "boolean", "date": "number"}.get(custom.field_type, "category")
    if operator in ("is_set", "is_not_set"):
        if value is not None:
            raise _field_error("value", f"must be empty for {operator}")
        return
    if value is None:
        raise _field_error("value", f"is required for {operator}")
    if operator in ("gt", "gte", "lt", "lte"):
        if kind != "number" or isinstance(value, bool) or not isinstance(value, int | float):
            raise _field_error("value", f"{operator} compares numbers: {field} needs a number field and value")
    elif operator == "in":
        if not isinstance(value, list) or not value:
            raise _field_error("value", "must be a non-empty list for `in`")
    elif operator == "contains":
        if not isinstance(value, str):
            raise _field_error("value", "must be text for `contains`")
    elif kind == "boolean" and not isinstance(value, bool):
        raise _field_error("value", f"must be true or false: {field} is yes/no")
    elif kind == "number" and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise _field_error("value", f"must be a number: {field} is a number")


def list_rules(session: Session, actor: Actor) -> list[ScoringRule]:
    actor.require(SCORES, "read")
    return list(
        session.scalars(
            select(ScoringRule)
            .where(ScoringRule.tenant_id == actor.tenant_id)
            .order_by(ScoringRule.field, ScoringRule.created_at, ScoringRule.id)
        ).all()
    )


def get_rule(session: Session, actor: Actor, rule_id: UUID) -> ScoringRule:
    actor.require(SCORES, "read")
    rule = session.scalar(
        select(ScoringRule).where(ScoringRule.tenant_id == actor.tenant_id, ScoringRule.id == rule_id)
    )
    if rule is None:
        raise NotFound("Scoring rule not found")
    return rule


def create_rule(session: Session, actor: Actor, data: RuleCreate) -> ScoringRule:
    actor.require(SCORES, "manage")
    _check_rule(session, actor, data.field, data.operator, data.value)
    rule = ScoringRule(
        id=new_id(),
        tenant_id=actor.tenant_id,
        field=data.field,
        operator=data.operator,
        value=data.value,
        points=data.points,
        label=data.label,
        is_active=data.is_active,
        created_by=actor.user_id,
    )
    session.add(rule)
    session.flush()
    return rule


def update_rule(session: Session, actor: Actor, rule_id: UUID, data: RuleUpdate) -> ScoringRule:
    actor.require(SCORES, "manage")
    rule = get_rule(session, actor, rule_id)
    check_version(rule, data.version)
    changes = data.model_dump(exclude_unset=True, exclude={"version"})
    for key in ("field", "operator", "points", "is_active"):
        if key in changes and changes[key] is None:
            raise _field_error(key, "must not be null")
    if changes.get("points") == 0:
        raise _field_error("points", "must not be 0: a rule adds or takes points")
    _check_rule(
        session,
        actor,
        changes.get("field", rule.field),
        changes.get("operator", rule.operator),
        changes["value"] if "value" in changes else rule.value,
    )
    for key, value in changes.items():
        setattr(rule, key, value)
    session.flush()
    return rule


def delete_rule(session: Session, actor: Actor, rule_id: UUID) -> None:
    actor.require(SCORES, "manage")
    session.delete(get_rule(session, actor, rule_id))
    session.flush()


# Jobs -----------------------------------------------------------------------------------------------------------


def queue_training(session: Session, actor: Actor, data: TrainRequest | None = None) -> Job:
    """Queue a training run on the workspace's outcomes (`scores:manage`); follow it at /jobs/{id}. Asking again
    within the same minute returns the same job."""
    actor.require(SCORES, "manage")
    data = data or TrainRequest()
    minute = int(datetime.now(UTC).timestamp()) // 60
    params = {"trigger": "api", "activate": data.activate}
    return jobs.enqueue(session, actor, TRAIN_JOB, params, dedupe_key=f"{TRAIN_JOB}:{minute}:{data.activate}")


def queue_rescore(session: Session, actor: Actor) -> Job:
    """Queue a full rescoring of the open leads (`scores:manage`), e.g. after changing rules or the active model.
    Asking again while one is still waiting to run returns that one (it will see the change too); once it has
    started, a new one is queued, so what changed meanwhile is not left out."""
    actor.require(SCORES, "manage")
    waiting = session.scalar(
        select(Job)
        .where(Job.tenant_id == actor.tenant_id, Job.kind == RESCORE_JOB, Job.status == "queued")
        .order_by(Job.created_at.desc())
        .limit(1)
    )
    return waiting if waiting is not None else jobs.enqueue(session, actor, RESCORE_JOB, {"trigger": "api"})


# Scores ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewScore:
    """One score to keep: `factors` as [{feature, text, points}], strongest first."""

    contact_id: UUID
    model_id: UUID
    score: int
    probability: float | None
    confidence: float | None
    predicted_revenue: float | None
    factors: list[dict[str, Any]]
    arm: str = "champion"


# One statement: the new scores travel as one JSON parameter; a history row where the score or the model changed
# since the lead's last row; the contact's current score where it changed. A score that differs from the one the
# contact shows is a change by itself: the lead's last history row is looked up only for a score that stayed (did
# its model change?), so a rescoring that moves every score pays no lookup per lead.
_WRITE = text(
    """
WITH v AS (
  SELECT * FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS v(contact_id uuid, model_id uuid, score int,
    confidence float8, factors jsonb, p float8, revenue float8, arm text)
), changed AS (
  SELECT v.* FROM v JOIN contacts c ON c.tenant_id = :tenant AND c.id = v.contact_id
  WHERE c.lead_score IS DISTINCT FROM v.score
     OR NOT EXISTS (
       SELECT 1 FROM (
         SELECT ls.model_id, ls.score FROM lead_scores ls WHERE ls.tenant_id = :tenant AND ls.contact_id = v.contact_id
          ORDER BY ls.scored_at DESC, ls.id DESC LIMIT 1
       ) last WHERE last.model_id = v.model_id AND last.score = v.score
     )
), written AS (
  INSERT INTO lead_scores (id, tenant_id, contact_id, model_id, score, confidence, factors,
                           predicted_conversion_probability, predicted_revenue, arm, scored_at)
  SELECT cf_uuid7(), :tenant, contact_id, model_id, score, round(confidence::numeric, 4), factors,
         round(p::numeric, 4), round(revenue::numeric, 2), arm, :at FROM changed
  RETURNING 1
), updated_contacts AS (
  UPDATE contacts c SET lead_score = v.score FROM v
   WHERE c.tenant_id = :tenant AND c.id = v.contact_id AND c.lead_score IS DISTINCT FROM v.score
  RETURNING 1
)
SELECT (SELECT count(*) FROM written) AS written, (SELECT count(*) FROM updated_contacts) AS updated
"""
)


def _unit(value: float | None) -> float | None:
    return None if value is None else min(max(float(value), 0.0), 1.0)


def record_scores(session: Session, actor: Actor, scores: Sequence[NewScore], *, scored_at: datetime) -> int:
    """Keep new scores: a `lead_scores` row where the score or the model changed since the lead's last one, or the
    score differs from the one the contact shows (the history stays the story of changes), and
    `contacts.lead_score` set to the new score. Scores of contacts that do not exist are left out. Returns history
    rows written.

    One statement whatever the number of leads (the rows travel as one JSON parameter; COPY is not allowed under
    row-level security), so a full rescoring of a workspace costs one round trip."""
    actor.require(SCORES, "manage")
    if not scores:
        return 0
    rows = [
        {
            "contact_id": s.contact_id,
            "model_id": s.model_id,
            "score": int(s.score),
            "confidence": _unit(s.confidence),
            "factors": s.factors,
            "p": _unit(s.probability),
            "revenue": None if s.predicted_revenue is None else max(float(s.predicted_revenue), 0.0),
            "arm": s.arm,
        }
        for s in scores
    ]
    result = session.execute(_WRITE, {"rows": to_json(rows).decode(), "tenant": actor.tenant_id, "at": scored_at}).one()
    return int(result.written)


def _readable_contact(session: Session, actor: Actor, contact_id: UUID) -> Contact:
    actor.require(SCORES, "read")
    return contacts.get(session, actor, contact_id)


def contact_score(session: Session, actor: Actor, contact_id: UUID, *, history: int = HISTORY) -> ContactScore:
    """A contact's current score, its reasons, the method that gave it and its recent history (newest first)."""
    contact = _readable_contact(session, actor, contact_id)
    rows = session.scalars(
        select(LeadScore)
        .where(LeadScore.tenant_id == actor.tenant_id, LeadScore.contact_id == contact.id)
        .order_by(LeadScore.scored_at.desc(), LeadScore.id.desc())
        .limit(history)
    ).all()
    current = rows[0] if rows else None
    model = session.get(MlModel, current.model_id) if current is not None else None
    return ContactScore(
        contact_id=contact.id,
        score=contact.lead_score,
        current=LeadScoreRead.model_validate(current) if current is not None else None,
        method="rules" if model is None or model.algorithm == RULES_ALGORITHM else "model",
        model_version=model.version if model is not None else None,
        algorithm=model.algorithm if model is not None else None,
        history=[LeadScoreRead.model_validate(r) for r in rows],
    )


_LATEST_ROWS = text(
    "SELECT DISTINCT ON (contact_id) contact_id, model_id, score, factors FROM lead_scores"
    " WHERE tenant_id = :tenant AND contact_id = ANY(CAST(:ids AS uuid[]))"
    " ORDER BY contact_id, scored_at DESC, id DESC"
)


def _latest_rows(session: Session, actor: Actor, contact_ids: Sequence[UUID]) -> list[Any]:
    actor.require(SCORES, "read")
    if not contact_ids:
        return []
    return list(session.execute(_LATEST_ROWS, {"ids": list(contact_ids), "tenant": actor.tenant_id}))


def latest_scores(session: Session, actor: Actor, contact_ids: Sequence[UUID]) -> dict[UUID, tuple[UUID, int]]:
    """Each lead's latest score row: contact -> (model id, score) (what a rescoring compares with)."""
    return {row.contact_id: (row.model_id, row.score) for row in _latest_rows(session, actor, contact_ids)}


def latest_factors(session: Session, actor: Actor, contact_ids: Sequence[UUID]) -> dict[UUID, list[dict[str, Any]]]:
    """The reasons of each contact's latest score (for lists that show why next to the score)."""
    return {row.contact_id: row.factors for row in _latest_rows(session, actor, contact_ids)}


def open_lead_condition(settings: ScoringSettings) -> Any:
    """Contacts that are leads still to win: not converted (by stage), not disqualified, not merged away, and
    touched (created or contacted) within the settings' idle days (older ones count as lost)."""
    idle_since = func.now() - func.make_interval(0, 0, 0, settings.idle_days)
    return (
        func.coalesce(Contact.lifecycle_stage, "lead").not_in(settings.converted_stages)
        & Contact.lead_status.is_distinct_from("unqualified")
        & Contact.merged_into_id.is_(None)
        & (func.greatest(Contact.created_at, Contact.last_contacted_at) >= idle_since)
    )


def hottest_leads(
    session: Session, actor: Actor, *, mine: bool = False, limit: int = 20
) -> list[tuple[Contact, list[dict[str, Any]]]]:
    """The open leads the actor may see, highest score first, each with the reasons of its score."""
    actor.require(SCORES, "read")
    actor.require("contacts", "read")
    settings = get_settings(session, actor)
    statement = contacts.readable(actor).where(open_lead_condition(settings), Contact.deleted_at.is_(None))
    if mine:
        statement = statement.where(Contact.owner_id == actor.user_id)
    leads = list(session.scalars(statement.order_by(Contact.lead_score.desc(), Contact.id).limit(limit)).all())
    reasons = latest_factors(session, actor, [c.id for c in leads])
    return [(c, reasons.get(c.id, [])) for c in leads]
