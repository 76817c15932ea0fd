"""Churn risk of customer accounts: what the worker computed (ai/insights/churn.py) kept and read back.

Reading takes `insights:read` and the account's record scope (a rep sees the risks of the accounts they own);
writing risks and queuing a refresh take `insights:manage`. Like every service, nothing here commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic_core import to_json
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from core.accounts import service as accounts
from core.accounts.models import Account
from core.actor import Actor
from core.churn.models import ChurnRisk
from core.churn.schemas import ChurnMeasure, ChurnReason, ChurnRiskRead
from core.forecasts.models import MlModel
from core.jobs import service as jobs
from core.jobs.models import Job

INSIGHTS = "insights"
MODEL_TYPE = "churn_prediction"
REFRESH_JOB = "churn.refresh"
HIGH, MEDIUM = 60, 30  # score thresholds of the "high" and "medium" levels


@dataclass(frozen=True)
class NewRisk:
    """One account's risk to keep; `reasons` as [{factor, text, points}], strongest first."""

    account_id: UUID
    model_id: UUID
    model_version: str
    method: str
    probability: float
    reasons: list[dict[str, Any]]
    features: dict[str, Any]

    @property
    def score(self) -> int:
        return int(round(min(max(self.probability, 0.0), 1.0) * 100))


def level(score: int) -> str:
    return "high" if score >= HIGH else "medium" if score >= MEDIUM else "low"


# One statement whatever the number of accounts (the rows travel as one JSON parameter).
_UPSERT = text(
    """
WITH v AS (
  SELECT * FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS v(account_id uuid, model_id uuid, model_version text,
    method text, p float8, score int, reasons jsonb, features jsonb)
), written AS (
  INSERT INTO churn_risks (id, tenant_id, account_id, model_id, model_version, method, probability, score, reasons,
                           features, computed_at)
  SELECT cf_uuid7(), :tenant, v.account_id, v.model_id, v.model_version, v.method, round(v.p::numeric, 4), v.score,
         v.reasons, v.features, :at
    FROM v JOIN accounts a ON a.tenant_id = :tenant AND a.id = v.account_id
  ON CONFLICT (tenant_id, account_id) DO UPDATE SET model_id = EXCLUDED.model_id,
    model_version = EXCLUDED.model_version, method = EXCLUDED.method, probability = EXCLUDED.probability,
    score = EXCLUDED.score, reasons = EXCLUDED.reasons, features = EXCLUDED.features,
    computed_at = EXCLUDED.computed_at
  RETURNING 1
)
SELECT count(*) FROM written
"""
)


def record_risks(
    session: Session,
    actor: Actor,
    risks: Sequence[NewRisk],
    *,
    computed_at: datetime,
    replace_all: bool = False,
    checked: Sequence[UUID] = (),
) -> int:
    """Keep the accounts' new risks (one row per account, overwritten). Rows of accounts in `checked` that got no
    new risk (no longer customers) are removed; with `replace_all`, every row not refreshed is. Returns rows
    written."""
    actor.require(INSIGHTS, "manage")
    written = 0
    if risks:
        rows = [
            {
                "account_id": r.account_id,
                "model_id": r.model_id,
                "model_version": r.model_version,
                "method": r.method,
                "p": min(max(float(r.probability), 0.0), 1.0),
                "score": r.score,
                "reasons": r.reasons,
                "features": r.features,
            }
            for r in risks
        ]
        written = int(
            session.execute(
                _UPSERT, {"rows": to_json(rows).decode(), "tenant": actor.tenant_id, "at": computed_at}
            ).scalar_one()
        )
    kept = [r.account_id for r in risks]
    if replace_all:
        session.execute(
            text("DELETE FROM churn_risks WHERE tenant_id = :t AND account_id <> ALL(CAST(:kept AS uuid[]))"),
            {"t": actor.tenant_id, "kept": kept},
        )
    elif checked:
        gone = sorted(set(checked) - set(kept))
        if gone:
            session.execute(
                text("DELETE FROM churn_risks WHERE tenant_id = :t AND account_id = ANY(CAST(:gone AS uuid[]))"),
                {"t": actor.tenant_id, "gone": gone},
            )
    return written


def last_computed(session: Session, actor: Actor) -> datetime | None:
    """When the newest risk was computed (the worker's watermark for passes over what changed)."""
    actor.require(INSIGHTS, "read")
    return session.scalar(
        select(ChurnRisk.computed_at)
        .where(ChurnRisk.tenant_id == actor.tenant_id)
        .order_by(ChurnRisk.computed_at.desc())
        .limit(1)
    )


def _models(session: Session, actor: Actor, ids: set[UUID]) -> dict[UUID, MlModel]:
    if not ids:
        return {}
    rows = session.scalars(select(MlModel).where(MlModel.tenant_id == actor.tenant_id, MlModel.id.in_(ids)))
    return {m.id: m for m in rows}


def _measure(model: MlModel | None) -> ChurnMeasure:
    metrics = (model.metrics or {}) if model is not None else {}
    own = metrics.get("roc_auc") if model is not None and model.algorithm != "rules" else metrics.get("rules_roc_auc")
    return ChurnMeasure(
        roc_auc=own,
        rules_roc_auc=metrics.get("rules_roc_auc"),
        validation_rows=metrics.get("validation_rows"),
        outcome_days=metrics.get("outcome_days"),
    )


def _read(risk: ChurnRisk, account: Account, model: MlModel | None) -> ChurnRiskRead:
    return ChurnRiskRead(
        account_id=account.id,
        account_name=account.name,
        owner_id=account.owner_id,
        probability=risk.probability,
        score=risk.score,
        level=level(risk.score),  # type: ignore[arg-type]
        method=risk.method,  # type: ignore[arg-type]
        model_version=risk.model_version,
        reasons=[ChurnReason.model_validate(r) for r in risk.reasons],
        features=risk.features,
        measured=_measure(model),
        computed_at=risk.computed_at,
    )


def _readable_risks(actor: Actor) -> Any:
    return (
        accounts.readable(actor)
        .where(Account.merged_into_id.is_(None))
        .join(ChurnRisk, (ChurnRisk.tenant_id == Account.tenant_id) & (ChurnRisk.account_id == Account.id))
        .add_columns(ChurnRisk)
    )


def list_risks(
    session: Session, actor: Actor, *, limit: int = 20, offset: int = 0, min_score: int = 0
) -> list[ChurnRiskRead]:
    """The customer accounts the actor may see, highest churn risk first, each with its reasons."""
    actor.require(INSIGHTS, "read")
    actor.require("accounts", "read")
    rows = session.execute(
        _readable_risks(actor)
        .where(ChurnRisk.score >= min_score)
        .order_by(ChurnRisk.score.desc(), ChurnRisk.probability.desc(), Account.name, Account.id)
        .limit(limit)
        .offset(offset)
    ).all()
    models = _models(session, actor, {risk.model_id for _, risk in rows})
    return [_read(risk, account, models.get(risk.model_id)) for account, risk in rows]


def count_risks(session: Session, actor: Actor, *, min_score: int = 0) -> int:
    """How many readable accounts have a risk of at least `min_score`."""
    actor.require(INSIGHTS, "read")
    actor.require("accounts", "read")
    statement = _readable_risks(actor).where(ChurnRisk.score >= min_score).subquery()
    return int(session.execute(select(func.count()).select_from(statement)).scalar_one())


def account_risk(session: Session, actor: Actor, account_id: UUID) -> ChurnRiskRead | None:
    """An account's churn risk (None when it is not a customer or was not scored yet); 404 for an account the actor
    may not see."""
    actor.require(INSIGHTS, "read")
    account = accounts.get(session, actor, account_id)
    risk = session.scalar(
        select(ChurnRisk).where(ChurnRisk.tenant_id == actor.tenant_id, ChurnRisk.account_id == account.id)
    )
    if risk is None:
        return None
    return _read(risk, account, _models(session, actor, {risk.model_id}).get(risk.model_id))


def queue_refresh(session: Session, actor: Actor) -> Job:
    """Queue a refresh of every customer account's risk (`insights:manage`): retrain on the workspace's outcomes
    when due, then rescore. Asking again while one waits to run returns that one."""
    actor.require(INSIGHTS, "manage")
    waiting = session.scalar(
        select(Job)
        .where(Job.tenant_id == actor.tenant_id, Job.kind == REFRESH_JOB, Job.status == "queued")
        .order_by(Job.created_at.desc())
        .limit(1)
    )
    return waiting if waiting is not None else jobs.enqueue(session, actor, REFRESH_JOB, {"trigger": "api"})
