"""Lead scoring in the CRM: which method scores a workspace's leads (its active model, or its points rules until
a trained model beats them), training on the workspace's own outcomes, rescoring, drift and the A/B report.

- **Champion**: the active `lead_scoring` row of the registry. A rules row (algorithm "rules") means "the
  workspace's rules as they are now"; a trained row loads its artefact (JSON, checked against its hash).
- **Cold start**: below `min_outcomes` resolved leads or `min_conversions` of either class, no model is trained
  and the rules score. A trained model replaces the champion only if it beats it on the same validation window
  (the most recent outcomes); so the switch from rules to a model happens by itself, once a model is better.
- **Challenger** (A/B): a second trained model set in the settings scores a deterministic share of the leads
  (by a hash of the lead's id salted with the model's id, ai/scoring/evaluation.py); each score row records
  its arm, and `ab_report` compares the arms on leads resolved since.
- **Rescoring** writes through `core.scoring.service.record_scores` (history rows for changes, and
  `contacts.lead_score`).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import numpy as np
import polars as pl
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from ai.models import registry
from ai.scoring import evaluation, leads
from ai.scoring import rules as rules_score
from ai.scoring.engine import TIE, ScoringModel, roc_auc
from ai.scoring.engine import train as train_model
from core.actor import Actor
from core.db import transaction_has_written, unit_of_work
from core.errors import ValidationFailed
from core.forecasts.models import MlModel
from core.scoring import service as scoring
from core.scoring.fields import ACCOUNT_CUSTOM_PREFIX, CUSTOM_PREFIX, label
from core.scoring.models import ScoringSettings
from core.scoring.schemas import SettingsUpdate

MODEL_TYPE = scoring.MODEL_TYPE
RULES = scoring.RULES_ALGORITHM
DRIFT_SAMPLE = 5_000
CHUNK = 4_000  # leads scored and written at a time (bulk rescoring overlaps the two)
BULK_WRITERS = 2  # transactions writing a large rescoring at once (one per core of the 2-core reference machine)
DRIFT_FEATURES = 6
FACTOR_SCHEMA = rules_score.FACTORS

Progress = Callable[[int, str], None]


def _quiet(pct: int, message: str) -> None:
    return None


@functools.lru_cache(maxsize=32)
def _load_trained(tenant_id: UUID, sha256: str) -> ScoringModel:
    return ScoringModel.load(registry.load_bytes(tenant_id, sha256), sha256)


@dataclass
class Scorer:
    """One way of scoring leads: a registry row and what it needs to score."""

    model: MlModel
    trained: ScoringModel | None = None
    rules: list[rules_score.Rule] = field(default_factory=list)
    base: int = 0

    @property
    def method(self) -> str:
        return "model" if self.trained is not None else "rules"

    def score(self, frame: pl.DataFrame, *, reasons: bool = True) -> pl.DataFrame:
        """score, probability (None for rules), confidence (None for rules), factors; in the frame's order."""
        if self.trained is None:
            out = rules_score.score(frame, self.rules, self.base)
            return out.with_columns(
                pl.lit(None, dtype=pl.Float64).alias("probability"), pl.lit(None, dtype=pl.Float64).alias("confidence")
            )
        out = self.trained.score(frame, reasons=reasons)
        factors = out["factor_details"] if reasons else pl.Series([[]] * frame.height, dtype=FACTOR_SCHEMA)
        return out.select("score", "probability", "confidence").with_columns(factors.alias("factors"))

    def ranking(self, frame: pl.DataFrame) -> np.ndarray:
        """What orders leads best-first (probabilities, or rules scores)."""
        if self.trained is not None:
            return self.trained.probability(frame)
        return rules_score.score(frame, self.rules, self.base)["score"].to_numpy().astype(np.float64)


# The methods -------------------------------------------------------------------------------------------------


def current_rules(session: Session, actor: Actor, settings: ScoringSettings) -> MlModel:
    """The registry row of the workspace's rules as they are now (recorded once per distinct rule set)."""
    rules = rules_score.from_rows(scoring.list_rules(session, actor))
    content = rules_score.to_json(rules, int(settings.rules_base))
    sha = registry.store_artifact(actor.tenant_id, content)
    version = f"rules-{sha[:12]}"
    existing = session.scalar(
        select(MlModel).where(
            MlModel.tenant_id == actor.tenant_id, MlModel.model_type == MODEL_TYPE, MlModel.version == version
        )
    )
    if existing is not None:
        return existing
    return registry.record(
        session,
        actor,
        model_type=MODEL_TYPE,
        version=version,
        algorithm=RULES,
        hyperparameters=content,
        artifact_sha256=sha,
        metrics={"method": "Points per field value, set by an admin (no learning)."},
    )


def _scorer(session: Session, actor: Actor, model: MlModel, settings: ScoringSettings) -> Scorer:
    if model.algorithm == RULES:
        rules = rules_score.from_rows(scoring.list_rules(session, actor))
        return Scorer(model, rules=rules, base=int(settings.rules_base))
    if model.artifact_sha256 is None:
        raise ValueError(f"model {model.version} has no artefact")
    return Scorer(model, trained=_load_trained(actor.tenant_id, model.artifact_sha256))


def champion(session: Session, actor: Actor, settings: ScoringSettings | None = None) -> Scorer:
    """The method that scores the workspace's leads: its active model, else its rules (made active)."""
    settings = settings or scoring.get_settings(session, actor)
    active = registry.active(session, actor, MODEL_TYPE)
    if active is None or active.algorithm == RULES:
        # keeping the registry's rules row current is the platform's bookkeeping, whoever reads the champion
        platform = Actor.system(actor.tenant_id)
        rules_row = current_rules(session, platform, settings)
        if active is None or active.id != rules_row.id:
            rules_row = registry.activate_model(session, platform, rules_row.id)
        return _scorer(session, actor, rules_row, settings)
    return _scorer(session, actor, active, settings)


def challenger(session: Session, actor: Actor, settings: ScoringSettings) -> Scorer | None:
    if settings.challenger_model_id is None or float(settings.challenger_share) <= 0:
        return None
    model = session.get(MlModel, settings.challenger_model_id)
    if model is None or model.is_active or model.algorithm == RULES:
        return None
    return _scorer(session, actor, model, settings)


def expected_deal_size(session: Session) -> float | None:
    """The average won deal of the last year (of all time when the year has none): predicted revenue's size."""
    row = session.execute(
        text(
            "SELECT avg(amount) FILTER (WHERE actual_close_date >= current_date - 365), avg(amount) FROM deals"
            " WHERE tenant_id = cf_current_tenant() AND is_won AND deleted_at IS NULL AND amount IS NOT NULL"
        )
    ).one()
    value = row[0] if row[0] is not None else row[1]
    return None if value is None else float(value)


# Rescoring ---------------------------------------------------------------------------------------------------


Writer = Callable[[list[scoring.NewScore]], int]


def pipelined(
    total: int, compute: Callable[[int, int], list[scoring.NewScore]], writers: Sequence[Writer], *, chunk: int = CHUNK
) -> tuple[int, int]:
    """Score rows [lo, hi) of `total` in chunks with `compute` and keep each chunk with one of `writers`.

    One writer (the caller's transaction): the next chunk is scored in a thread while PostgreSQL writes this one
    (LightGBM and Polars release the GIL). Several: one thread per writer, each scoring and writing the next chunk
    not yet taken, so PostgreSQL writes on several cores while another chunk is scored. Each writer is used by one
    thread only. Returns (scores computed, rows written)."""
    bounds = [(lo, min(lo + chunk, total)) for lo in range(0, total, chunk)]
    if not bounds:
        return 0, 0
    if len(writers) == 1:
        scored = written = 0
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="scoring") as pool:
            pending = pool.submit(compute, *bounds[0])
            for k in range(len(bounds)):
                new = pending.result()
                if k + 1 < len(bounds):
                    pending = pool.submit(compute, *bounds[k + 1])
                written += writers[0](new)
                scored += len(new)
        return scored, written
    taken = iter(bounds)
    lock = threading.Lock()
    failed = threading.Event()  # one writer's error stops the others after their current chunk

    def work(write: Writer) -> tuple[int, int]:
        scored = written = 0
        while not failed.is_set():
            with lock:
                span = next(taken, None)
            if span is None:
                break
            try:
                new = compute(*span)
                written += write(new)
            except BaseException:
                failed.set()
                raise
            scored += len(new)
        return scored, written

    with ThreadPoolExecutor(max_workers=len(writers), thread_name_prefix="scoring") as pool:
        results = [f.result() for f in [pool.submit(work, write) for write in writers]]
    return sum(r[0] for r in results), sum(r[1] for r in results)


@contextmanager
def bulk_writers(
    session: Session, actor: Actor, rows: int, *, scored_at: datetime, chunk: int = CHUNK
) -> Iterator[list[Writer]]:
    """Who keeps the scores of a rescoring of `rows` leads: the caller's transaction, and for more than two chunks
    a second transaction of its own (BULK_WRITERS), so that PostgreSQL writes on both cores: the write is most of
    a bulk rescoring's time (a non-HOT update of a contact with many indexes).

    The second is used only while the caller's transaction has written nothing: it could otherwise wait for a row
    the caller has not committed (a new rules model its scores refer to) while the caller waits for it. It commits
    when the scoring is done, just before the caller's: a failure after that leaves its leads rescored, which
    derived data can afford (the next rescoring starts from them). On an error both roll back."""

    def writer(on: Session) -> Writer:
        return lambda new: scoring.record_scores(on, actor, new, scored_at=scored_at)

    if rows <= 2 * chunk or BULK_WRITERS < 2 or transaction_has_written(session):
        yield [writer(session)]
        return
    with ExitStack() as stack:
        others = [stack.enter_context(unit_of_work(actor)) for _ in range(BULK_WRITERS - 1)]
        yield [writer(session), *(writer(other) for other in others)]


def rescore(
    session: Session,
    actor: Actor,
    contact_ids: list[UUID] | None = None,
    *,
    now: datetime | None = None,
    reasons: bool = True,
    chunk: int = CHUNK,
) -> dict[str, Any]:
    """Score the open leads (all, or `contact_ids`) with the champion, and the challenger's share with it."""
    now = now or datetime.now(UTC)
    settings = scoring.get_settings(session, actor)
    frame = leads.lead_frame(session, settings, as_of=now, which="open", contact_ids=contact_ids)
    if frame.is_empty():
        return {"scored": 0, "written": 0}
    champ = champion(session, actor, settings)
    chall = challenger(session, actor, settings)
    arms = np.full(frame.height, evaluation.CHAMPION, dtype=object)
    if chall is not None:
        arms = evaluation.arms_of(frame[leads.CONTACT], float(settings.challenger_share), salt=str(chall.model.id))
    size = expected_deal_size(session)
    scorers = {evaluation.CHAMPION: champ, evaluation.CHALLENGER: chall}

    # A lead's reasons are computed only when its score or model changes (the history keeps them from then):
    # probabilities are ~10x cheaper than TreeSHAP, and on most days most leads' scores stay where they were.
    latest = scoring.latest_scores(session, actor, [UUID(c) for c in frame[leads.CONTACT].to_list()])

    def compute(lo: int, hi: int) -> list[scoring.NewScore]:
        out: list[scoring.NewScore] = []
        for arm, scorer in scorers.items():
            mask = arms[lo:hi] == arm
            if scorer is None or not mask.any():
                continue
            part = frame.slice(lo, hi - lo).filter(pl.Series(mask))
            contacts = [UUID(c) for c in part[leads.CONTACT].to_list()]
            scored = scorer.score(part, reasons=False)
            if reasons and scorer.trained is not None:
                changed = np.array(
                    [
                        latest.get(c) != (scorer.model.id, s)
                        for c, s in zip(contacts, scored["score"].to_list(), strict=True)
                    ]
                )
                if changed.any():
                    detailed = scorer.score(part.filter(pl.Series(changed)), reasons=True)
                    at = np.flatnonzero(changed)
                    factors = [[] for _ in contacts]
                    for i, row in zip(at, detailed["factors"].to_list(), strict=True):
                        factors[i] = row
                    scores = scored["score"].to_numpy().copy()
                    scores[at] = detailed["score"].to_numpy()
                    scored = scored.with_columns(
                        pl.Series("score", scores), pl.Series("factors", factors, dtype=FACTOR_SCHEMA)
                    )
            for contact, score, p, conf, factors in zip(
                contacts,
                scored["score"].to_list(),
                scored["probability"].to_list(),
                scored["confidence"].to_list(),
                scored["factors"].to_list(),
                strict=True,
            ):
                out.append(
                    scoring.NewScore(
                        contact_id=contact,
                        model_id=scorer.model.id,
                        score=int(score),
                        probability=p,
                        confidence=conf,
                        predicted_revenue=None if p is None or size is None else p * size,
                        factors=factors,
                        arm=arm,
                    )
                )
        return out

    with bulk_writers(session, actor, frame.height, scored_at=now, chunk=chunk) as writers:
        scored, written = pipelined(frame.height, compute, writers, chunk=chunk)
    return {"scored": scored, "written": written, "method": champ.method, "model": champ.model.version}


_TOUCHED = text(
    """
    SELECT id FROM contacts WHERE tenant_id = :tenant AND updated_at > :since
    UNION SELECT contact_id FROM activities WHERE tenant_id = :tenant AND updated_at > :since AND contact_id IS NOT NULL
    UNION SELECT contact_id FROM deals WHERE tenant_id = :tenant AND updated_at > :since AND contact_id IS NOT NULL
    UNION SELECT c.id FROM contacts c JOIN accounts a ON a.tenant_id = c.tenant_id AND a.id = c.account_id
          WHERE c.tenant_id = :tenant AND a.updated_at > :since
    UNION SELECT entity_id FROM custom_field_values
          WHERE tenant_id = :tenant AND updated_at > :since AND entity_type = 'contacts'
    """
)
OVERLAP_SECONDS = 60  # rows of transactions that committed after a pass had read past their timestamps


def rescore_changed(session: Session, actor: Actor, *, now: datetime | None = None) -> dict[str, Any]:
    """Rescore the leads touched (the lead, its activities, deals, account or custom values) since the last pass;
    the first pass rescores every open lead."""
    now = now or datetime.now(UTC)
    settings = scoring.get_settings(session, actor)
    since = settings.rescored_through
    if since is None:
        result = rescore(session, actor, now=now)
    else:
        window = since.timestamp() - OVERLAP_SECONDS
        ids = list(
            session.execute(
                _TOUCHED, {"since": datetime.fromtimestamp(window, UTC), "tenant": actor.tenant_id}
            ).scalars()
        )
        result = rescore(session, actor, ids, now=now) if ids else {"scored": 0, "written": 0}
    scoring.mark_rescored(session, actor, now)
    return result


# Training ----------------------------------------------------------------------------------------------------


def feature_labels(session: Session, columns: list[str]) -> dict[str, str]:
    """Plain words for each lead feature: core/scoring/fields.py's, custom fields by their own labels."""
    custom = {
        (ACCOUNT_CUSTOM_PREFIX if row.entity_type == "accounts" else CUSTOM_PREFIX) + row.field_name: (
            f"Account {row.field_label[:1].lower()}{row.field_label[1:]}"
            if row.entity_type == "accounts"
            else row.field_label
        )
        for row in session.execute(
            text(
                "SELECT entity_type, field_name, field_label FROM custom_fields"
                " WHERE tenant_id = cf_current_tenant() AND entity_type IN ('contacts', 'accounts')"
            )
        )
    }
    return {c: custom.get(c) or label(c) for c in columns}


def _validation(frame: pl.DataFrame, rows: int) -> pl.DataFrame:
    """The most recent `rows` outcomes (the engine's time-ordered validation split)."""
    return frame.sort(leads.CUTOFF, nulls_last=False, maintain_order=True).tail(rows)


def _json_metrics(model: ScoringModel) -> dict[str, Any]:
    metrics = dict(model.metrics)
    metrics["calibration"] = metrics["calibration"].to_dicts()
    return metrics


def _drift_reference(model: ScoringModel, validation: pl.DataFrame) -> dict[str, Any]:
    """What the model saw at training (scores and top features on its validation window), kept for drift."""
    top = [f for f in model.feature_importance["feature"].to_list() if f in validation.columns][:DRIFT_FEATURES]
    sample = validation.tail(DRIFT_SAMPLE)
    scores = model.score(sample, reasons=False)["score"].to_list()
    columns = {c: [None if v is None else v for v in sample[c].to_list()] for c in top}
    return {"score": scores, "features": columns}


def train_workspace(
    session: Session,
    actor: Actor,
    *,
    activate: str = "if_better",
    now: datetime | None = None,
    progress: Progress = _quiet,
    threads: int = 1,
) -> dict[str, Any]:
    """Train on the workspace's resolved leads; record the model; make it the champion if it beats the current
    one on the same validation window (and `activate` is "if_better"). Returns what happened, in words too."""
    now = now or datetime.now(UTC)
    settings = scoring.get_settings(session, actor)
    progress(5, "reading the leads and their outcomes")
    frame = leads.lead_frame(session, settings, as_of=now, which="resolved")
    outcomes = frame.height
    conversions = int(frame[leads.OUTCOME].sum()) if outcomes else 0
    current = champion(session, actor, settings)
    short = {
        "outcomes": max(0, settings.min_outcomes - outcomes),
        "conversions": max(0, settings.min_conversions - conversions),
        "non-conversions": max(0, settings.min_conversions - (outcomes - conversions)),
    }
    if any(short.values()):
        missing = ", ".join(f"{n} more {what}" for what, n in short.items() if n)
        return {
            "status": "cold_start",
            "outcomes": outcomes,
            "conversions": conversions,
            "method": current.method,
            "message": f"Not enough history to learn from yet ({missing}): the points rules keep scoring.",
        }
    progress(20, f"training on {outcomes:,} outcomes")
    model = train_model(
        frame.drop(leads.CONTACT, leads.ACCOUNT, leads.OWNER),
        target=leads.OUTCOME,
        positive=1,
        time_column=leads.CUTOFF,
        threads=threads,
        labels=feature_labels(session, leads.feature_columns(frame)),
    )
    metrics = _json_metrics(model)
    validation = _validation(frame, int(metrics["validation_rows"]))
    y = validation[leads.OUTCOME].to_numpy().astype(np.float64)
    against = roc_auc(y, current.ranking(validation))
    beats = metrics["roc_auc"] > against + TIE / 2
    progress(70, "recording the model")
    artefact = model.to_artefact()
    sha = registry.store_bytes(actor.tenant_id, artefact.content)
    reference = registry.store_artifact(actor.tenant_id, _drift_reference(model, validation))
    cutoffs = frame[leads.CUTOFF]
    metrics.update(
        outcomes=outcomes,
        conversions=conversions,
        comparison={
            "against": current.model.version,
            "against_method": current.method,
            "against_roc_auc": against,
            "roc_auc": metrics["roc_auc"],
            "beats": beats,
            "window": [validation[leads.CUTOFF].min().isoformat(), validation[leads.CUTOFF].max().isoformat()],
            "rows": validation.height,
            "note": (
                "The current model may have learned from part of this window, so its figure is if anything "
                "optimistic: the new model had to beat it anyway."
                if current.method == "model"
                else "The rules were scored on the same leads."
            ),
        },
        drift_reference=reference,
    )
    row = registry.record(
        session,
        actor,
        model_type=MODEL_TYPE,
        version=now.strftime("%Y%m%d-%H%M%S-%f"),
        algorithm=model.kind,
        training_start=cutoffs.min(),
        training_end=cutoffs.max(),
        metrics=metrics,
        hyperparameters=metrics.get("hyperparameters") or {},
        feature_importance=dict(model.feature_importance.iter_rows()),
        accuracy_score=metrics["accuracy"],
        precision_score=metrics["precision"],
        recall_score=metrics["recall"],
        f1_score=metrics["f1"],
        artifact_sha256=sha,
        activate=beats and activate == "if_better",
        trained_at=now,
    )
    verdict = (
        f"The new model ({model.kind}, ROC AUC {metrics['roc_auc']:.3f}) beats the "
        f"{'rules' if current.method == 'rules' else 'active model'} ({against:.3f}) on the latest "
        f"{validation.height:,} outcomes"
    )
    if beats and activate == "if_better":
        verdict += ": it scores the leads from now on."
    elif beats:
        verdict += ": it was kept inactive, as asked."
    else:
        verdict = (
            f"The new model ({model.kind}, ROC AUC {metrics['roc_auc']:.3f}) does not beat the "
            f"{'rules' if current.method == 'rules' else 'active model'} ({against:.3f}) on the latest "
            f"{validation.height:,} outcomes: it was kept inactive."
        )
    return {
        "status": "trained",
        "modelId": str(row.id),
        "version": row.version,
        "activated": bool(row.is_active),
        "rocAuc": metrics["roc_auc"],
        "againstRocAuc": against,
        "outcomes": outcomes,
        "conversions": conversions,
        "message": verdict,
    }


def activate(session: Session, actor: Actor, model_id: UUID) -> MlModel:
    """Make a lead-scoring model (or rules row) the champion (the API's activate and roll back)."""
    model = registry.get(session, actor, model_id)
    if model.model_type != MODEL_TYPE:
        raise ValidationFailed("Not a lead-scoring model", details=[{"field": "modelId", "message": "wrong type"}])
    settings = scoring.get_settings(session, actor)
    if settings.challenger_model_id == model.id:
        scoring.update_settings(session, actor, SettingsUpdate(challenger_model_id=None))
    return registry.activate_model(session, actor, model.id)


def rollback(session: Session, actor: Actor) -> MlModel:
    """Give the champion's place back to the model that held it before (by activation time in the audit log)."""
    active = registry.active(session, actor, MODEL_TYPE)
    previous = session.execute(
        text(
            "SELECT al.entity_id FROM audit_logs al"
            " JOIN ml_models m ON m.tenant_id = al.tenant_id AND m.id = al.entity_id"
            " WHERE al.tenant_id = :tenant AND al.entity_type = 'ml_models' AND m.model_type = :type"
            " AND al.new_values ->> 'is_active' = 'true'"
            " AND al.entity_id IS DISTINCT FROM :active ORDER BY al.created_at DESC, al.id DESC LIMIT 1"
        ),
        {"type": MODEL_TYPE, "active": active.id if active else None, "tenant": actor.tenant_id},
    ).scalar()
    if previous is None:
        raise ValidationFailed(
            "There is no earlier model to roll back to", details=[{"field": "modelId", "message": "no earlier model"}]
        )
    return activate(session, actor, previous)


# Drift and A/B -----------------------------------------------------------------------------------------------


def drift(session: Session, actor: Actor, model: MlModel, *, now: datetime | None = None) -> dict[str, Any] | None:
    """How far today's open leads have moved from what the model saw at training (PSI of scores and top features)."""
    sha = (model.metrics or {}).get("drift_reference")
    if model.algorithm == RULES or not sha or model.artifact_sha256 is None:
        return None
    reference = registry.load_artifact(actor.tenant_id, sha)
    settings = scoring.get_settings(session, actor)
    frame = leads.lead_frame(session, settings, as_of=now or datetime.now(UTC), which="open")
    trained = _load_trained(actor.tenant_id, model.artifact_sha256)
    features = list(reference["features"])
    ref = pl.DataFrame({"score": reference["score"], **reference["features"]}, strict=False)
    current = frame.select([c for c in features if c in frame.columns]).with_columns(
        trained.score(frame, reasons=False)["score"].alias("score")
    )
    return evaluation.drift_report(ref, current, features=features, labels={f: label(f) for f in features})


_AB_SCORES = text(
    """
    SELECT DISTINCT ON (v.contact_id) v.contact_id, ls.arm, ls.score, ls.predicted_conversion_probability AS p
      FROM unnest(CAST(:ids AS uuid[]), CAST(:cutoffs AS timestamptz[])) AS v(contact_id, cutoff)
      JOIN lead_scores ls ON ls.tenant_id = :tenant AND ls.contact_id = v.contact_id AND ls.scored_at <= v.cutoff
     WHERE ls.model_id = ANY(CAST(:models AS uuid[]))
     ORDER BY v.contact_id, ls.scored_at DESC, ls.id DESC
    """
)


def ab_report(session: Session, actor: Actor, *, now: datetime | None = None) -> dict[str, Any] | None:
    """The champion against the challenger on the leads resolved after each was scored by one of them."""
    settings = scoring.get_settings(session, actor)
    champ = champion(session, actor, settings)
    chall = challenger(session, actor, settings)
    if chall is None:
        return None
    frame = leads.lead_frame(session, settings, as_of=now or datetime.now(UTC), which="resolved")
    rows = session.execute(
        _AB_SCORES,
        {
            "ids": frame[leads.CONTACT].to_list(),
            "cutoffs": frame[leads.CUTOFF].to_list(),
            "models": [str(champ.model.id), str(chall.model.id)],
            "tenant": actor.tenant_id,
        },
    ).all()
    scored = pl.DataFrame(
        [(str(r.contact_id), r.arm, float(r.p) if r.p is not None else r.score / 100) for r in rows],
        schema={leads.CONTACT: pl.String, "arm": pl.String, "probability": pl.Float64},
        orient="row",
    )
    joined = scored.join(frame.select(leads.CONTACT, leads.OUTCOME), on=leads.CONTACT)
    report = evaluation.ab_report(joined, arm="arm", probability="probability", outcome=leads.OUTCOME)
    report["champion"] = {"id": str(champ.model.id), "version": champ.model.version, "method": champ.method}
    report["challenger"] = {"id": str(chall.model.id), "version": chall.model.version}
    report["share"] = float(settings.challenger_share)
    return report
