"""Lead scoring: `/api/v1/contacts/{id}/score` (a contact's score, its reasons and history), `/api/v1/scoring/...`
(the hottest leads, the model registry with training, activation, roll back, drift and the A/B report, the
settings, a full rescoring, and the points rules used until a trained model beats them).

Reading takes `scores:read` (and, for a contact's score or the hottest leads, the contact's record scope); training,
activating, rescoring, settings and rules changes take `scores:manage`. The work is in core/scoring (what is kept)
and ai/scoring (how scores are computed); this module only translates.
"""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Response, status
from pydantic import Field
from pydantic.alias_generators import to_camel

from ai.models import registry
from api.deps import CurrentActor, Paging, SessionDep, requires
from api.envelope import Envelope, PagedEnvelope, error_responses, ok, paged
from core.contacts.models import Contact
from core.errors import ValidationFailed
from core.forecasts.models import MlModel
from core.jobs.schemas import JobRead
from core.schemas import ReadSchema
from core.scoring import service as scoring
from core.scoring.fields import label
from core.scoring.schemas import (
    ContactScore,
    Factor,
    RuleCreate,
    RuleRead,
    RuleUpdate,
    SettingsRead,
    SettingsUpdate,
    TrainRequest,
)

log = logging.getLogger(__name__)

router = APIRouter(prefix="/scoring", tags=["scoring"])
contacts_router = APIRouter(prefix="/contacts", tags=["scoring"])

ERRORS = error_responses(400, 401, 403, 404, 409)
MODEL_TYPE = scoring.MODEL_TYPE
MAX_MODELS = 10_000  # the registry keeps one row per training (weekly) and per distinct rule set: a few hundred


# Response shapes ---------------------------------------------------------------------------------------------------


class ContactScoreView(ContactScore):
    """The contact's score; `reasons`, `probability`, `predictedRevenue`, `confidence` and `scoredAt` repeat the
    current score's (`current`) for convenience; null when the contact was never scored."""

    reasons: list[Factor]
    probability: Decimal | None = Field(description="Calibrated probability of converting (null for rules).")
    predicted_revenue: Decimal | None
    confidence: Decimal | None
    scored_at: datetime | None


class HotLead(ReadSchema):
    id: UUID
    first_name: str
    last_name: str
    email: str | None
    title: str | None
    company: str | None
    lead_source: str | None
    lead_status: str | None
    lifecycle_stage: str | None
    lead_score: int
    owner_id: UUID
    account_id: UUID | None
    last_contacted_at: datetime | None
    reasons: list[Factor] = Field(default_factory=list, description="The reasons of the lead's latest score.")


class Comparison(ReadSchema):
    """How the model did against the champion of the moment, on the same validation window, when it was trained."""

    against: str | None = Field(None, description="The champion's version (a model's, or rules-<hash>).")
    against_method: str | None = Field(None, description="'model' or 'rules'.")
    against_roc_auc: float | None = None
    roc_auc: float | None = None
    beats: bool | None = None
    window: list[datetime] | None = Field(None, description="First and last outcome of the validation window.")
    rows: int | None = None
    note: str | None = None


class ModelSummary(ReadSchema):
    id: UUID
    version: str
    algorithm: str | None
    method: str = Field(description="'model' (trained) or 'rules' (the points rules as they were).")
    is_active: bool
    is_challenger: bool
    trained_at: datetime | None
    training_start: datetime | None
    training_end: datetime | None
    roc_auc: float | None
    brier: float | None
    baseline_roc_auc: float | None = Field(description="Odoo-style naive Bayes on the same validation split.")
    accuracy: Decimal | None
    precision: Decimal | None
    recall: Decimal | None
    f1: Decimal | None
    calibration_error: float | None
    outcomes: int | None
    conversions: int | None
    validation_rows: int | None
    choice: str | None = Field(description="Why this algorithm was chosen among the candidates.")
    comparison: Comparison | None


class Candidate(ReadSchema):
    name: str
    roc_auc: float | None
    brier: float | None


class Importance(ReadSchema):
    feature: str
    label: str
    importance: float


class ModelDetail(ModelSummary):
    calibration: list[dict[str, Any]] = Field(description="Validation leads by predicted band: predicted vs seen.")
    candidates: list[Candidate]
    feature_importance: list[Importance] = Field(description="Share of the reasons' weight, largest first.")
    hyperparameters: dict[str, Any] = Field(description="The chosen settings (for rules: the rules and base).")
    features: list[str]
    artifact_sha256: str | None
    drift: dict[str, Any] | None = Field(
        description="Population stability of today's open leads against the training window (null for rules)."
    )


class Activation(ModelSummary):
    rescore_job_id: UUID = Field(description="The rescoring of the open leads by the new champion (/jobs/{id}).")


# Helpers -----------------------------------------------------------------------------------------------------------


def _crm() -> Any:
    """ai.scoring.crm, imported on first use: it brings scipy and the model code, 1.5 s the API's start need not pay
    (the worker and the routes that compute with models load it)."""
    from ai.scoring import crm

    return crm


def _camel(value: Any) -> Any:
    """Structural keys in camelCase (report dicts of ai/scoring are snake_case); values untouched."""
    if isinstance(value, dict):
        return {to_camel(str(k)) if "_" in str(k) else k: _camel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_camel(v) for v in value]
    return value


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def _summary(model: MlModel, challenger_id: UUID | None) -> dict[str, Any]:
    metrics = model.metrics or {}
    comparison = metrics.get("comparison")
    return {
        "id": model.id,
        "version": model.version,
        "algorithm": model.algorithm,
        "method": "rules" if model.algorithm == scoring.RULES_ALGORITHM else "model",
        "is_active": model.is_active,
        "is_challenger": model.id == challenger_id,
        "trained_at": model.trained_at,
        "training_start": model.training_data_start_date,
        "training_end": model.training_data_end_date,
        "roc_auc": _number(metrics.get("roc_auc")),
        "brier": _number(metrics.get("brier")),
        "baseline_roc_auc": _number(metrics.get("baseline_roc_auc")),
        "accuracy": model.accuracy_score,
        "precision": model.precision_score,
        "recall": model.recall_score,
        "f1": model.f1_score,
        "calibration_error": _number(metrics.get("calibration_error")),
        "outcomes": metrics.get("outcomes"),
        "conversions": metrics.get("conversions"),
        "validation_rows": metrics.get("validation_rows"),
        "choice": metrics.get("choice") or metrics.get("method"),
        "comparison": Comparison.model_validate(comparison) if isinstance(comparison, dict) else None,
    }


def _dump(schema: type[ReadSchema], data: dict[str, Any]) -> dict[str, Any]:
    return schema.model_validate(data).model_dump(mode="json", by_alias=True)


def _challenger_id(session: SessionDep, actor: CurrentActor) -> UUID | None:
    return scoring.get_settings(session, actor).challenger_model_id


def _lead_model(session: SessionDep, actor: CurrentActor, model_id: UUID) -> MlModel:
    model = registry.get(session, actor, model_id)
    if model.model_type != MODEL_TYPE:  # another kind of model (a forecast's): not one of these routes'
        raise ValidationFailed(
            f"Model {model.version} is a {model.model_type} model, not a lead-scoring one",
            details=[{"field": "modelId", "message": "not a lead-scoring model"}],
        )
    return model


def _drift(session: SessionDep, actor: CurrentActor, model: MlModel) -> dict[str, Any] | None:
    try:
        report = _crm().drift(session, actor, model)
    except (OSError, ValueError) as exc:  # an artefact gone or damaged: the model's page still shows the rest
        log.warning("scoring drift unavailable for %s: %s", model.id, exc)
        return {"summary": f"Drift could not be computed: {exc}", "score": None, "features": []}
    return None if report is None else _camel(report)


def _rule(rule: Any) -> dict[str, Any]:
    return RuleRead.model_validate(rule).model_dump(mode="json", by_alias=True)


def _job(response: Response, job: Any) -> dict[str, Any]:
    response.headers["Location"] = f"/api/v1/jobs/{job.id}"
    return ok(JobRead.model_validate(job).model_dump(mode="json", by_alias=True))


# A contact's score -------------------------------------------------------------------------------------------------


@contacts_router.get(
    "/{contact_id}/score",
    response_model=Envelope[ContactScoreView],
    dependencies=[requires("scores", "read")],
    responses=ERRORS,
)
def get_contact_score(
    contact_id: UUID,
    actor: CurrentActor,
    session: SessionDep,
    history: Annotated[int, Query(ge=1, le=100, description="How many past scores (newest first).")] = 30,
) -> dict:
    """The contact's lead score (0–100), how it was given (`method`: "model" for a trained model, "rules" for the
    points rules), its reasons ("Lead source is Webinar: +12"), the calibrated probability of converting, the
    predicted revenue, a confidence, and the history of its changes, newest first. A contact you may not see
    (another owner's for a rep, another workspace's) is a 404."""
    found = scoring.contact_score(session, actor, contact_id, history=history)
    current = found.current
    view = ContactScoreView(
        **found.model_dump(),
        reasons=current.factors if current else [],
        probability=current.predicted_conversion_probability if current else None,
        predicted_revenue=current.predicted_revenue if current else None,
        confidence=current.confidence if current else None,
        scored_at=current.scored_at if current else None,
    )
    return ok(view.model_dump(mode="json", by_alias=True))


# The hottest leads -------------------------------------------------------------------------------------------------


@router.get(
    "/hottest", response_model=Envelope[list[HotLead]], dependencies=[requires("scores", "read")], responses=ERRORS
)
def hottest_leads(
    actor: CurrentActor,
    session: SessionDep,
    mine: Annotated[bool, Query(description="Only the leads you own.")] = False,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> dict:
    """The open leads (not converted, not disqualified) you may see, highest score first, each with the reasons of
    its score: whom to call first and why."""
    rows = scoring.hottest_leads(session, actor, mine=mine, limit=limit)
    return ok([_hot(contact, reasons) for contact, reasons in rows])


def _hot(contact: Contact, reasons: list[dict[str, Any]]) -> dict[str, Any]:
    item = HotLead.model_validate(contact).model_copy(update={"reasons": [Factor.model_validate(r) for r in reasons]})
    return item.model_dump(mode="json", by_alias=True)


# Models ------------------------------------------------------------------------------------------------------------


@router.get(
    "/models", response_model=PagedEnvelope[ModelSummary], dependencies=[requires("scores", "read")], responses=ERRORS
)
def list_lead_models(actor: CurrentActor, session: SessionDep, paging: Paging) -> dict:
    """The workspace's lead-scoring models, newest first: trained models and the points rules (one row per rule
    set that scored leads), with their validation metrics and how each compared with the champion of the moment
    when it was trained. One is active (`isActive`): it scores the leads."""
    models = registry.list_models(session, actor, MODEL_TYPE, limit=MAX_MODELS)
    challenger_id = _challenger_id(session, actor)
    page = models[paging.offset : paging.offset + paging.limit]
    return paged(
        [_dump(ModelSummary, _summary(m, challenger_id)) for m in page],
        page=paging.page,
        limit=paging.limit,
        total=len(models),
    )


@router.post(
    "/models/train",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Envelope[JobRead],
    dependencies=[requires("scores", "manage")],
    responses=ERRORS,
)
def train_model(actor: CurrentActor, session: SessionDep, response: Response, body: TrainRequest | None = None) -> dict:
    """Train a model on the workspace's outcomes now (it also retrains weekly by itself); follow the job at
    /jobs/{id}. With `activate: "if_better"` (the default) the new model replaces the champion only if it beats it
    on the same latest outcomes; then every open lead is rescored. With too few outcomes the job succeeds with
    `result.status: "cold_start"` and says how many more are needed. The same request within the minute returns
    the same job."""
    return _job(response, scoring.queue_training(session, actor, body))


@router.post(
    "/models/rollback",
    response_model=Envelope[Activation],
    dependencies=[requires("scores", "manage")],
    responses=ERRORS,
)
def rollback_model(actor: CurrentActor, session: SessionDep) -> dict:
    """Give the champion's place back to the model (or rules) that held it before the current one; the open leads
    are rescored by a job. 400 when there is no earlier one."""
    model = _crm().rollback(session, actor)
    return ok(_activated(session, actor, model))


@router.get(
    "/models/{model_id}",
    response_model=Envelope[ModelDetail],
    dependencies=[requires("scores", "read")],
    responses=ERRORS,
)
def get_model(model_id: UUID, actor: CurrentActor, session: SessionDep) -> dict:
    """A model with its calibration table, the candidates it was chosen among, its feature importance, its
    hyperparameters and the drift of today's open leads from what it was trained on."""
    model = _lead_model(session, actor, model_id)
    metrics = model.metrics or {}
    importance = sorted((model.feature_importance or {}).items(), key=lambda kv: -float(kv[1] or 0))
    data = _summary(model, _challenger_id(session, actor))
    data.update(
        calibration=_camel(metrics.get("calibration") or []),
        candidates=[
            {"name": name, "roc_auc": _number(c.get("roc_auc")), "brier": _number(c.get("brier"))}
            for name, c in (metrics.get("candidates") or {}).items()
            if isinstance(c, dict)
        ],
        feature_importance=[{"feature": f, "label": label(f), "importance": float(v or 0)} for f, v in importance],
        hyperparameters=model.hyperparameters or {},
        features=metrics.get("features") or [],
        artifact_sha256=model.artifact_sha256,
        drift=_drift(session, actor, model),
    )
    return ok(_dump(ModelDetail, data))


@router.post(
    "/models/{model_id}/activate",
    response_model=Envelope[Activation],
    dependencies=[requires("scores", "manage")],
    responses=ERRORS,
)
def activate_model(model_id: UUID, actor: CurrentActor, session: SessionDep) -> dict:
    """Make this model (or a rules row: the points rules) the champion that scores the leads, whatever its
    metrics; the open leads are rescored by a job (`rescoreJobId`). If it was the A/B challenger, the A/B test
    ends."""
    _lead_model(session, actor, model_id)
    model = _crm().activate(session, actor, model_id)
    return ok(_activated(session, actor, model))


def _activated(session: SessionDep, actor: CurrentActor, model: MlModel) -> dict[str, Any]:
    job = scoring.queue_rescore(session, actor)
    data = _summary(model, _challenger_id(session, actor))
    data["rescore_job_id"] = job.id
    return _dump(Activation, data)


# A/B, settings, rescoring ------------------------------------------------------------------------------------------


@router.get(
    "/ab", response_model=Envelope[dict[str, Any] | None], dependencies=[requires("scores", "read")], responses=ERRORS
)
def ab_test_report(actor: CurrentActor, session: SessionDep) -> dict:
    """The champion against the challenger (settings' `challengerModelId`) on the leads resolved since each arm
    scored them: ROC AUC per arm and conversion of the top-scored decile, with confidence intervals, a
    significance test and a verdict in words. `data` is null when no challenger is set (no A/B test running)."""
    if _challenger_id(session, actor) is None:
        return ok(None)
    report = _crm().ab_report(session, actor)
    return ok(None if report is None else _camel(report))


@router.get(
    "/settings", response_model=Envelope[SettingsRead], dependencies=[requires("scores", "read")], responses=ERRORS
)
def read_settings(actor: CurrentActor, session: SessionDep) -> dict:
    """What counts as converted, the cold-start thresholds, the rules' base score, the A/B challenger and share,
    and how often to retrain. `version` is 0 until the settings are first changed."""
    settings = scoring.get_settings(session, actor)
    return ok(SettingsRead.model_validate(settings).model_dump(mode="json", by_alias=True))


@router.patch(
    "/settings", response_model=Envelope[SettingsRead], dependencies=[requires("scores", "manage")], responses=ERRORS
)
def change_settings(body: SettingsUpdate, actor: CurrentActor, session: SessionDep) -> dict:
    """Change settings (send `version` to be told, with a 409, when someone changed them first). Setting
    `challengerModelId` starts an A/B test (null ends it); the split applies from the next rescoring."""
    settings = scoring.update_settings(session, actor, body)
    session.refresh(settings)  # as stored (numbers at their scale), as a later GET reads them
    return ok(SettingsRead.model_validate(settings).model_dump(mode="json", by_alias=True))


@router.post(
    "/rescore",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Envelope[JobRead],
    dependencies=[requires("scores", "manage")],
    responses=ERRORS,
)
def rescore_leads(actor: CurrentActor, session: SessionDep, response: Response) -> dict:
    """Rescore every open lead now (e.g. after changing rules); follow the job at /jobs/{id}. Changes to a lead,
    its activities or its account rescore it by themselves within seconds."""
    return _job(response, scoring.queue_rescore(session, actor))


# Rules -------------------------------------------------------------------------------------------------------------


@router.get(
    "/rules", response_model=PagedEnvelope[RuleRead], dependencies=[requires("scores", "read")], responses=ERRORS
)
def list_rules(actor: CurrentActor, session: SessionDep, paging: Paging) -> dict:
    """The points rules, by field: the score while the workspace has too few outcomes to learn from (the rules'
    base score plus the points of every active rule that matches, clamped to 0–100)."""
    rules = scoring.list_rules(session, actor)
    page = rules[paging.offset : paging.offset + paging.limit]
    return paged([_rule(r) for r in page], page=paging.page, limit=paging.limit, total=len(rules))


@router.post(
    "/rules",
    status_code=status.HTTP_201_CREATED,
    response_model=Envelope[RuleRead],
    dependencies=[requires("scores", "manage")],
    responses=ERRORS,
)
def create_rule(body: RuleCreate, actor: CurrentActor, session: SessionDep, response: Response) -> dict:
    """A rule: `field` (a lead feature, or cf_<custom field>), `operator`, `value`, `points` (−100..100, not 0).
    An unknown field answers 400 listing the valid ones; a comparison that cannot apply (`gt` on a category)
    answers 400 naming `value`. Scores follow at the next rescoring (POST /scoring/rescore for all at once)."""
    rule = scoring.create_rule(session, actor, body)
    response.headers["Location"] = f"/api/v1/scoring/rules/{rule.id}"
    return ok(_rule(rule))


@router.get(
    "/rules/{rule_id}", response_model=Envelope[RuleRead], dependencies=[requires("scores", "read")], responses=ERRORS
)
def get_rule(rule_id: UUID, actor: CurrentActor, session: SessionDep) -> dict:
    return ok(_rule(scoring.get_rule(session, actor, rule_id)))


@router.patch(
    "/rules/{rule_id}",
    response_model=Envelope[RuleRead],
    dependencies=[requires("scores", "manage")],
    responses=ERRORS,
)
def update_rule(rule_id: UUID, body: RuleUpdate, actor: CurrentActor, session: SessionDep) -> dict:
    """Change a rule (send `version` to be told, with a 409, when someone changed it first)."""
    return ok(_rule(scoring.update_rule(session, actor, rule_id, body)))


@router.delete("/rules/{rule_id}", status_code=204, dependencies=[requires("scores", "manage")], responses=ERRORS)
def delete_rule(rule_id: UUID, actor: CurrentActor, session: SessionDep) -> Response:
    scoring.delete_rule(session, actor, rule_id)
    return Response(status_code=204)
