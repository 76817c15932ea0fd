"""Anomaly detection against the demo generator's planted anomalies: precision and recall per kind.

The generator (core/demo/generate.py) plants anomalies on streams of their own and lists them, with record ids,
in the truth file's `realized.anomalies`: amounts 10-20x their segment's usual, open deals whose close date was
pushed 2-4 times (audit rows; not in the small demo), backward stage moves, amounts cut 30-50% at closing from one
of the last two stages, accounts where everything stopped 30-45 days ago, one rep logging 20% of their usual
activity over the last ~30 days, another losing 90% of the deals they would have won over the last 180 days.
Everything not planted is the natural history: what the detectors find there are false alarms.

`anomaly_figures(tenant_id, slug)` (benchmarks/insights.py calls `figures()`, which seeds its own medium demo)
runs every detector over the whole history as of the demo's as-of date (`lookback=False`), with the default
thresholds, and prints per kind: planted, found, true positives, precision, recall (for engagement drops also
the recall over the planted accounts the detector can judge: at least the minimum usual activity), and the
seconds the full pass took.

    .venv/bin/python benchmarks/anomalies.py [--scale medium] [--seed 11]
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

KEYS = {"deals": "deal_id", "accounts": "account_id", "users": "user_id"}


def planted_sets(truth: dict[str, Any]) -> dict[str, set[str]]:
    """Planted record ids per anomaly kind, from a truth file."""
    planted = truth["realized"]["anomalies"]
    out: dict[str, set[str]] = {}
    for code, rows in planted.items():
        out[code] = {str(r.get("deal_id") or r.get("account_id") or r.get("user_id")) for r in rows}
    out.setdefault("stage_skipped", set())
    return out


def _eligible_drops(session: Any, truth: dict[str, Any], minimum: int, window: int, baseline: int) -> set[str]:
    """Planted engagement drops whose accounts had the minimum usual activity before the drop."""
    from sqlalchemy import text

    eligible = set()
    for row in truth["realized"]["anomalies"].get("account_engagement_drop", []):
        since = datetime.fromisoformat(row["since"]).replace(tzinfo=UTC)
        count = session.execute(
            text(
                "SELECT count(*) FROM activities WHERE account_id = :a AND occurred_at < :s"
                " AND occurred_at >= :s - make_interval(days => :b)"
            ),
            {"a": row["account_id"], "s": since, "b": baseline},
        ).scalar_one()
        if count * window / baseline >= minimum:
            eligible.add(row["account_id"])
    return eligible


def anomaly_figures(tenant_id: UUID, slug: str) -> dict[str, Any]:
    """Detect over the whole history and score against the truth file; prints a table, returns the figures."""
    from sqlalchemy import text

    from ai.insights import anomalies
    from core.actor import Actor
    from core.db import unit_of_work
    from core.demo import service as demo
    from core.insights import service as insights

    truth = demo.read_truth(slug)
    as_of = datetime.combine(date.fromisoformat(truth["as_of"]), datetime.min.time(), UTC)
    system = Actor.system(tenant_id)
    started = time.perf_counter()
    with unit_of_work(system) as session:
        found = anomalies.detect(session, system, as_of=as_of, lookback=False)
        settings = insights.get_settings(session, system)
        eligible = _eligible_drops(
            session,
            truth,
            settings.engagement_min_baseline,
            settings.window_days,
            settings.baseline_days,
        )
    seconds = time.perf_counter() - started
    with unit_of_work(system) as session:
        started = time.perf_counter()
        anomalies.refresh(session, system, as_of=as_of + timedelta(seconds=1))
        refresh_seconds = time.perf_counter() - started
    planted = planted_sets(truth)
    churners = {c["account_id"] for c in truth["realized"]["churners"]}
    false_drops = {str(f.entity_id) for f in found if f.code == "account_engagement_drop"} - planted.get(
        "account_engagement_drop", set()
    )
    with unit_of_work(system) as session:
        for row in truth["realized"]["anomalies"]["rep_win_rate_drop"]:
            counts = session.execute(
                text(
                    "SELECT count(*) FILTER (WHERE actual_close_date > :a - 90) AS recent_closed,"
                    " count(*) FILTER (WHERE actual_close_date > :a - 90 AND is_won) AS recent_won,"
                    " count(*) FILTER (WHERE actual_close_date <= :a - 90) AS base_closed,"
                    " count(*) FILTER (WHERE actual_close_date <= :a - 90 AND is_won) AS base_won"
                    " FROM deals WHERE owner_id = :u AND is_closed AND actual_close_date > :a - 455"
                ),
                {"a": as_of.date(), "u": row["user_id"]},
            ).one()
            print(f"  planted win-rate slump ({row['email']}): {dict(counts._mapping)}")
    figures: dict[str, Any] = {"seconds": round(seconds, 2), "refresh_seconds": round(refresh_seconds, 2), "kinds": {}}
    print(f"  full pass over the history: {seconds:.2f} s (detect), {refresh_seconds:.2f} s (detect + store)")
    print(f"  {'kind':26s} {'planted':>7s} {'found':>6s} {'true':>5s} {'precision':>9s} {'recall':>7s}")
    for code in sorted(set(planted) | {f.code for f in found}):
        hits = {str(f.entity_id) for f in found if f.code == code}
        truth_ids = planted.get(code, set())
        true = len(hits & truth_ids)
        precision = true / len(hits) if hits else None
        recall = true / len(truth_ids) if truth_ids else None
        row = {"planted": len(truth_ids), "found": len(hits), "true": true, "precision": precision, "recall": recall}
        extra = ""
        if code == "account_engagement_drop":
            row["false_alarms_on_churners"] = len(false_drops & churners)
            row["eligible"] = len(eligible)
            row["recall_eligible"] = len(hits & eligible) / len(eligible) if eligible else None
            shown = f"{row['recall_eligible']:.2f}" if eligible else "-"
            extra = (
                f"  (recall {shown} over the {len(eligible)} with enough usual activity;"
                f" {len(false_drops & churners)} of the {len(false_drops)} others are planted churners)"
            )
        figures["kinds"][code] = row
        for f in [f for f in found if f.code == code and str(f.entity_id) not in truth_ids][:3]:
            print(f"    false alarm? {code} {f.entity_id}: {f.reason}")
        p = f"{precision:.2f}" if precision is not None else "-"
        r = f"{recall:.2f}" if recall is not None else "-"
        print(f"  {code:26s} {len(truth_ids):7d} {len(hits):6d} {true:5d} {p:>9s} {r:>7s}{extra}")
    return figures


def figures(scale: str = "medium", seed: int = 11) -> dict[str, Any]:
    """Seed a demo workspace (services must be running) and measure on it."""
    import secrets

    from core.demo import service as demo

    started = time.perf_counter()
    seeded = demo.seed(
        slug=f"anom-{secrets.token_hex(4)}", scale=scale, seed=seed, password=secrets.token_urlsafe(16) + "!a1"
    )
    print(f"  seeded the {scale} demo (seed {seed}) in {time.perf_counter() - started:.0f} s")
    return anomaly_figures(seeded.tenant_id, seeded.slug)


def main() -> None:
    from benchmarks._services import services

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=("small", "medium", "large"), default="medium")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    with services():
        figures(args.scale, args.seed)


if __name__ == "__main__":
    main()
