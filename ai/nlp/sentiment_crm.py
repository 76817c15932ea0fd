"""Sentiment in the CRM: which model reads a tenant's notes and activities, reading them (what changed, or
everything), training the tenant's classifier on its corrections, and the model status shown to people.

- **Which model**: the tenant's active `sentiment` row of the registry (its adapter, a JSON artefact checked
  against its hash), else the out-of-the-box model. Each stored label records which (`model_version`,
  `model_id`).
- **Training**: on every correction (the job `sentiment.train`, queued by `core.sentiment.service.correct`):
  the adapter is fitted on all the tenant's examples and cross-validated on them beside the out-of-the-box
  model; it becomes active only if it beats it on those examples (AI.md: a model that does not beat its
  baseline is not activated), and the tenant's texts are then read again by `sentiment.rescore`.
- **Claude**: no tenant setting holds an Anthropic key in this version (ARCHITECTURE.md: `ANTHROPIC_API_KEY`,
  and `langchain-anthropic` is not installed), so sentiment is always the local model; `model_version` is where
  the choice would be recorded.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import update
from sqlalchemy.orm import Session

from ai.models import registry
from ai.nlp.sentiment import LABELS, Adapter, adapt, cross_validate, out_of_box_version, sentiment
from core.actor import Actor
from core.forecasts.models import MlModel
from core.sentiment import service
from core.sentiment.schemas import ModelStatus

MODEL_TYPE = service.MODEL_TYPE
ALGORITHM = "minilm-offset-logistic"
CHUNK = 256  # texts read and written at a time
CHANGES_LIMIT = 2_000  # texts per type in one pass over changes (a new tenant catches up pass by pass)
MIN_EXAMPLES = 6
MIN_CLASSES = 2

Progress = Callable[[int, str], None]


@functools.lru_cache(maxsize=32)
def _load_adapter(tenant_id: UUID, sha256: str) -> Adapter:
    return Adapter.from_json(registry.load_artifact(tenant_id, sha256))


def active_model(session: Session, actor: Actor) -> tuple[Adapter | None, MlModel | None]:
    """The tenant's active adapted model and its registry row, or (None, None) for the out-of-the-box model."""
    row = next((m for m in service.models(session, actor) if m.is_active), None)
    if row is None or row.artifact_sha256 is None:
        return None, None
    return _load_adapter(actor.tenant_id, row.artifact_sha256), row


def read_texts(
    session: Session, actor: Actor, sources: Sequence[service.SourceText], *, force: bool = False
) -> dict[str, int]:
    """Label the sources whose text or model changed since they were read (all of them with `force`), and move
    the watermark past the others. Returns how many were read and labelled."""
    adapter, model = active_model(session, actor)
    version = adapter.version if adapter is not None else out_of_box_version()
    todo = [
        s
        for s in sources
        if not s.deleted and s.text and (force or s.stored_hash != s.content_hash or s.stored_version != version)
    ]
    chosen = {id(s) for s in todo}
    rest = [s for s in sources if id(s) not in chosen]
    now = datetime.now(UTC)
    for start in range(0, len(todo), CHUNK):
        part = todo[start : start + CHUNK]
        results = sentiment([s.text for s in part], adapter=adapter)
        service.record_sentiments(
            session,
            actor,
            [
                service.NewSentiment(
                    entity_type=s.entity_type,
                    entity_id=s.entity_id,
                    label=r.label,
                    score=r.score,
                    confidence=r.confidence,
                    probabilities=r.probabilities,
                    sentence=r.sentence,
                    model_version=version,
                    model_id=model.id if model is not None else None,
                    content_hash=s.content_hash,
                    occurred_at=s.occurred_at,
                    source_updated_at=s.updated_at,
                )
                for s, r in zip(part, results, strict=True)
            ],
            at=now,
        )
    touched = service.mark_read(session, actor, rest)
    return {"read": len(sources), "labelled": len(todo), "moved": len(todo) + touched}


def read_changed(session: Session, actor: Actor, *, limit: int = CHANGES_LIMIT) -> dict[str, Any]:
    """One pass over the notes and activities changed since the last one. `more` when a type had more than
    `limit` waiting (the caller queues another pass)."""
    out: dict[str, Any] = {"read": 0, "labelled": 0, "more": False}
    for entity_type in ("notes", "activities"):
        sources = service.changed_texts(session, actor, entity_type, limit=limit)
        result = read_texts(session, actor, sources)
        out["read"] += result["read"]
        out["labelled"] += result["labelled"]
        # more waiting, and this pass moved the watermark (else the next one would read the same page again)
        out["more"] = out["more"] or (len(sources) >= limit and result["moved"] > 0)
    return out


def read_all(
    session: Session,
    actor: Actor,
    *,
    force: bool = True,
    progress: Progress | None = None,
    commit: Callable[[], None] | None = None,
    page: int = 1_000,
) -> dict[str, Any]:
    """Read every live note and activity of the tenant (again, with `force`), `page` at a time, reporting progress
    and committing after each page when given `commit` (a crash then loses at most one page)."""
    total = max(service.count_texts(session, actor), 1)
    done = labelled = 0
    for entity_type in ("notes", "activities"):
        after: UUID | None = None
        while True:
            sources = service.texts_page(session, actor, entity_type, after=after, limit=page)
            if not sources:
                break
            labelled += read_texts(session, actor, sources, force=force)["labelled"]
            done += len(sources)
            after = sources[-1].entity_id
            if progress is not None:
                progress(min(99, 100 * done // total), f"{done:,} of {total:,} notes and activities read")
            if commit is not None:
                commit()
    return {"read": done, "labelled": labelled}


def train(session: Session, actor: Actor) -> dict[str, Any]:
    """Fit the tenant's classifier on its examples; record it; make it the active one only if, cross-validated
    on those examples, it beats the out-of-the-box model (otherwise the out-of-the-box model decides)."""
    examples = service.list_examples(session, actor)
    per_class = {c: sum(1 for _, label in examples if label == c) for c in LABELS}
    classes = sum(1 for n in per_class.values() if n)
    if len(examples) < MIN_EXAMPLES or classes < MIN_CLASSES:
        return {
            "trained": False,
            "activated": False,
            "examples": len(examples),
            "per_class": per_class,
            "message": f"{len(examples)} corrections so far: the classifier learns from {MIN_EXAMPLES} on, "
            f"in at least {MIN_CLASSES} labels",
        }
    measured = cross_validate(examples)
    adapter = adapt(examples)
    sha = registry.store_artifact(actor.tenant_id, adapter.to_json())
    better = measured["accuracy"] > measured["out_of_box_accuracy"]
    platform = Actor.system(actor.tenant_id)
    row = registry.record(
        session,
        platform,
        model_type=MODEL_TYPE,
        version=adapter.version,
        algorithm=ALGORITHM,
        metrics={**measured, "out_of_box": out_of_box_version(), "prior_scale": adapter.prior_scale},
        hyperparameters=adapter.to_json() | {"weights": "artefact", "bias": "artefact"},
        accuracy_score=measured["accuracy"],
        f1_score=measured["macro_f1"],
        artifact_sha256=sha,
        activate=better,
    )
    if not better:
        session.execute(
            update(MlModel)
            .where(MlModel.tenant_id == actor.tenant_id, MlModel.model_type == MODEL_TYPE, MlModel.is_active)
            .values(is_active=False)
            .execution_options(synchronize_session=False)
        )
    verdict = "now labels your notes" if better else "stays off: the out-of-the-box model did as well"
    message = (
        f"Trained on {len(examples)} corrections: {measured['accuracy']:.0%} right on corrections it did not see "
        f"(out of the box: {measured['out_of_box_accuracy']:.0%}); it {verdict}"
    )
    return {
        "trained": True,
        "activated": better,
        "model_id": str(row.id),
        "version": adapter.version,
        "examples": len(examples),
        "per_class": per_class,
        "accuracy": measured["accuracy"],
        "out_of_box_accuracy": measured["out_of_box_accuracy"],
        "message": message,
    }


def benchmark() -> dict[str, Any]:
    """The out-of-the-box model's figures on held-out TweetEval (shipped with its weights)."""
    from ai.nlp.sentiment_weights import WEIGHTS

    return {"version": out_of_box_version(), "fitted_on": WEIGHTS.get("fitted_on"), **WEIGHTS.get("heldout", {})}


def status(session: Session, actor: Actor) -> ModelStatus:
    """What labels the tenant's text now, and how well its own classifier does on its own corrections."""
    per_class = service.examples_per_class(session, actor)
    examples = sum(per_class.values())
    latest = next(iter(service.models(session, actor, limit=1)), None)
    active = latest is not None and latest.is_active
    metrics = (latest.metrics or {}) if latest is not None else {}
    if latest is None:
        message = (
            f"The out-of-the-box model labels your notes. {examples} corrections so far: your own classifier is "
            f"trained from {MIN_EXAMPLES} on."
        )
    elif active:
        message = (
            f"Your classifier labels your notes: {metrics.get('accuracy', 0):.0%} right on corrections it did not "
            f"see (out of the box: {metrics.get('out_of_box_accuracy', 0):.0%})."
        )
    else:
        message = (
            f"The out-of-the-box model labels your notes: your classifier ({metrics.get('accuracy', 0):.0%} on "
            f"your corrections) did not beat it ({metrics.get('out_of_box_accuracy', 0):.0%})."
        )
    return ModelStatus(
        active=latest.version if active and latest is not None else out_of_box_version(),
        adapted_version=latest.version if latest is not None else None,
        adapted_is_active=active,
        examples=examples,
        per_class=per_class,
        accuracy=metrics.get("accuracy"),
        macro_f1=metrics.get("macro_f1"),
        out_of_box_accuracy=metrics.get("out_of_box_accuracy"),
        out_of_box_macro_f1=metrics.get("out_of_box_macro_f1"),
        folds=metrics.get("folds"),
        trained_at=latest.trained_at if latest is not None else None,
        message=message,
        benchmark=benchmark(),
    )
