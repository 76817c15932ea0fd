"""Industry for an account from the accounts it resembles: the account's name, description and domain embedded
(`ai.nlp.embeddings.embed`, MiniLM), compared by cosine with the tenant's accounts that have an industry, and
the nearest ones vote (weighted by similarity). The confidence is the winner's share of the vote times its best
similarity; below `MIN_SIMILARITY` nothing is suggested. And only while it beats its baseline: each pass
measures it on the tenant's own labelled accounts (leave-one-out) against always suggesting the most common
industry, and suggests nothing when it does not win (as on the demo workspace, whose company names are random).

Measured by `evaluate` (leave-one-out over the labelled accounts, beside the majority-industry baseline): the
figure travels with the suggestions in docs/enrichment.md and `benchmarks/insights.py`.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import numpy as np
from sqlalchemy import text
from sqlalchemy.orm import Session

from ai.insights.enrichment_rules import Suggestion

MODEL = "industry-knn"
K = 5
MIN_SIMILARITY = 0.5
MIN_CONFIDENCE = 0.3
MIN_LABELLED = 8  # fewer accounts with an industry: nothing to measure, so nothing suggested
GATE_SAMPLE = 300  # labelled accounts the per-pass check against the baseline leaves out one at a time
MAX_LABELLED = 3_000  # the most recently updated labelled accounts compared with (embedded once per process)

_LABELLED = text(
    """SELECT id, name, description, domain, industry FROM accounts
        WHERE tenant_id = :t AND deleted_at IS NULL AND industry IS NOT NULL AND btrim(industry) <> ''
        ORDER BY updated_at DESC, id LIMIT :n"""
)


def account_text(name: str | None, description: str | None, domain: str | None) -> str:
    """What an account is about, without its industry (which is what is predicted)."""
    return " · ".join(part for part in (name, (description or "")[:1000], domain) if part and part.strip())


def model_version() -> str:
    from ai.nlp import embeddings

    return f"{MODEL}-k{K}/{embeddings.MODEL_VERSION}"


@dataclass
class Labelled:
    ids: list[UUID]
    names: list[str]
    industries: list[str]
    vectors: np.ndarray


def labelled_accounts(session: Session, tenant_id: UUID) -> Labelled:
    from ai.nlp.embeddings import embed

    rows = session.execute(_LABELLED, {"t": tenant_id, "n": MAX_LABELLED}).all()
    texts = [account_text(r.name, r.description, r.domain) for r in rows]
    vectors = embed(texts) if texts else np.zeros((0, 384), dtype=np.float32)
    return Labelled([r.id for r in rows], [r.name for r in rows], [r.industry.strip() for r in rows], vectors)


def vote(similarities: np.ndarray, labelled: Labelled, skip: int | None = None) -> Suggestion | None:
    """The industry the `K` nearest labelled accounts agree on, with its confidence and reason (None when they
    are not similar enough)."""
    sims = similarities.astype(np.float64).copy()
    if skip is not None:
        sims[skip] = -np.inf
    if sims.size == 0:
        return None
    top = [int(i) for i in np.argsort(-sims)[:K] if np.isfinite(sims[i])]
    weight: dict[str, float] = defaultdict(float)
    for i in top:
        weight[labelled.industries[i]] += max(float(sims[i]), 0.0)
    if not weight or sum(weight.values()) <= 0:
        return None
    winner = max(weight, key=lambda k: (weight[k], k))
    agree = [i for i in top if labelled.industries[i] == winner]
    best = float(sims[agree[0]])
    confidence = weight[winner] / sum(weight.values()) * best
    if best < MIN_SIMILARITY or confidence < MIN_CONFIDENCE:
        return None
    like = " and ".join(f"{labelled.names[i]} ({sims[i]:.2f})" for i in agree[:2])
    return Suggestion(
        field="industry",
        value=winner,
        label=winner,
        confidence=round(min(1.0, confidence), 3),
        reason=f"Most like {like}: {winner} ({len(agree)} of the {len(top)} most similar accounts)",
        source=f"model:{MODEL}",
        model_version=model_version(),
    )


def suggest(session: Session, tenant_id: UUID, accounts: list[Any]) -> dict[UUID, Suggestion]:
    """Industries for accounts that have none (rows with id, name, description, domain)."""
    from ai.nlp.embeddings import embed

    wanted = [a for a in accounts if not (a.industry or "").strip()]
    if not wanted:
        return {}
    labelled = labelled_accounts(session, tenant_id)
    if not beats_baseline(labelled):
        return {}
    queries = embed([account_text(a.name, a.description, a.domain) for a in wanted])
    similarities = queries @ labelled.vectors.T
    out = {}
    for row, sims in zip(wanted, similarities, strict=True):
        found = vote(sims, labelled)
        if found is not None:
            out[row.id] = found
    return out


def beats_baseline(labelled: Labelled) -> bool:
    """Whether, on this tenant's own labelled accounts (leave-one-out), the suggestions are right more often than
    always suggesting the most common industry: a model that does not beat its baseline suggests nothing."""
    measured = measure(labelled, sample=GATE_SAMPLE)
    return bool(measured.get("precision") is not None and measured["precision"] > measured["baseline_accuracy"])


def evaluate(session: Session, tenant_id: UUID, *, sample: int = 500, seed: int = 0) -> dict[str, Any]:
    """Leave-one-out over the tenant's labelled accounts: how often the suggested industry is right (when one is
    made, and its coverage), next to always suggesting the most common industry (the baseline)."""
    result = measure(labelled_accounts(session, tenant_id), sample=sample, seed=seed)
    return result | {
        "active": result.get("precision") is not None and result["precision"] > result["baseline_accuracy"]
    }


def measure(labelled: Labelled, *, sample: int = 500, seed: int = 0) -> dict[str, Any]:
    n = len(labelled.ids)
    if n < MIN_LABELLED:
        return {"accounts": n, "message": f"fewer than {MIN_LABELLED} accounts with an industry: nothing to measure"}
    rng = np.random.default_rng(seed)
    picks = rng.choice(n, size=min(sample, n), replace=False)
    counts = Counter(labelled.industries)
    made = right = 0
    baseline_right = 0
    similarities = labelled.vectors[picks] @ labelled.vectors.T
    for i, sims in zip(picks, similarities, strict=True):
        others = counts.copy()
        others[labelled.industries[i]] -= 1
        majority = max(others, key=lambda k: (others[k], k))
        baseline_right += majority == labelled.industries[i]
        found = vote(sims, labelled, skip=int(i))
        if found is not None:
            made += 1
            right += found.value == labelled.industries[i]
    total = len(picks)
    return {
        "accounts": n,
        "evaluated": total,
        "industries": len(counts),
        "coverage": round(made / total, 3),
        "precision": round(right / made, 3) if made else None,
        "baseline_accuracy": round(baseline_right / total, 3),
        "model_version": model_version(),
    }
