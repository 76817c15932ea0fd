"""Churn risk against the demo generator's planted churners: AUC of the stored risks (the active method's) and of
the rules score on the same customer accounts, beside the hold-out AUCs the training measured.

`churn_figures(tenant_id, slug)` (called by benchmarks/insights.py on its seeded medium demo, services running)
trains on the workspace's outcomes (`ai.insights.churn.train_workspace`), refreshes every customer account's risk,
and compares with the truth file's `realized.churners` ({account_id, churned_at, customer}):
- `auc_now`: the risk as of now, planted churners (customers before they churned) against every other customer
  account: does the risk flag the accounts that have stopped buying?
- `rules_auc_now`: the rules score on the same accounts (the baseline);
- `holdout_auc` / `rules_holdout_auc`: the model's and the rules' AUC on the latest point-in-time snapshots
  (outcome: no won deal and no activity in the next 180 days), as recorded in `ml_models`.

    .venv/bin/python benchmarks/churn.py [--seed 11]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any
from uuid import UUID

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _auc(positive: list[float], negative: list[float]) -> float | None:
    import numpy as np

    from ai.scoring.engine import roc_auc

    if not positive or not negative:
        return None
    y = np.r_[np.ones(len(positive)), np.zeros(len(negative))]
    return roc_auc(y, np.r_[positive, negative])


def churn_figures(tenant_id: UUID, slug: str) -> dict[str, Any]:
    """Train, refresh and measure against the planted churners (see the module's docstring); prints one line."""
    from datetime import UTC, datetime

    import numpy as np
    import polars as pl

    from ai.insights import churn
    from core.actor import Actor
    from core.db import unit_of_work
    from core.demo import service as demo

    system = Actor.system(tenant_id)
    started = time.perf_counter()
    with unit_of_work(system) as session:
        trained = churn.train_workspace(session, system)
    train_s = time.perf_counter() - started
    started = time.perf_counter()
    with unit_of_work(system) as session:
        refreshed = churn.refresh(session, system)
        history = churn.load_history(session)
    refresh_s = time.perf_counter() - started
    frame = churn.features_at(history, churn._day(datetime.now(UTC)))
    rules = dict(
        zip(
            frame["account"].to_list(),
            (100 * churn.probabilities(churn.rules_contributions(frame))).tolist(),
            strict=True,
        )
    )
    with unit_of_work(system) as session:
        from sqlalchemy import text

        risk = {str(a): float(p) for a, p in session.execute(text("SELECT account_id, probability FROM churn_risks"))}
    planted = demo.read_truth(slug).get("realized", {}).get("churners") or []
    churners = {str(c["account_id"]) for c in planted if c.get("customer", True)}
    customers = set(risk)
    positives = sorted(customers & churners)
    negatives = sorted(customers - churners)
    figures: dict[str, Any] = {
        "customer_accounts": len(customers),
        "planted_churners": len(churners),
        "planted_churners_scored": len(positives),
        "method": refreshed["method"],
        "model": refreshed["model"],
        "auc_now": _auc([risk[a] for a in positives], [risk[a] for a in negatives]),
        "rules_auc_now": _auc([rules[a] for a in positives], [rules[a] for a in negatives]),
        "holdout_auc": trained.get("roc_auc"),
        "rules_holdout_auc": trained.get("rules_roc_auc"),
        "training_rows": trained.get("training_rows"),
        "validation_rows": trained.get("validation_rows"),
        "train_seconds": round(train_s, 1),
        "refresh_seconds": round(refresh_s, 1),
        "accounts_per_second": round(refreshed["scored"] / refresh_s, 0) if refresh_s else None,
    }
    if positives:
        top = pl.DataFrame({"account": list(risk), "p": list(risk.values())}).sort("p", descending=True)
        k = len(positives)
        figures["precision_at_k"] = float(np.mean([a in churners for a in top["account"].head(k).to_list()]))

    def fmt(value: Any) -> str:
        return "—" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)

    print(
        f"churn: {figures['customer_accounts']:,} customer accounts, {len(positives)} planted churners scored; "
        f"AUC now {fmt(figures['auc_now'])} ({figures['method']} {figures['model']}) vs rules "
        f"{fmt(figures['rules_auc_now'])}; precision@{len(positives)} {fmt(figures.get('precision_at_k'))}; "
        f"hold-out AUC {fmt(figures['holdout_auc'])} vs rules {fmt(figures['rules_holdout_auc'])} "
        f"({fmt(figures['validation_rows'])} snapshots); trained in {train_s:.1f} s, "
        f"{refreshed['scored']:,} accounts scored in {refresh_s:.1f} s",
        flush=True,
    )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--scale", default="medium")
    args = parser.parse_args()
    from benchmarks._services import services

    with services():
        from core.demo import service as demo

        started = time.perf_counter()
        seeded = demo.seed(slug="bench-churn", scale=args.scale, seed=args.seed)
        print(f"seeded the {args.scale} demo in {time.perf_counter() - started:.0f} s", flush=True)
        churn_figures(seeded.tenant_id, seeded.slug)


if __name__ == "__main__":
    main()
