"""Lead scoring in the CRM on a demo workspace: training on its outcomes and bulk rescoring throughput, the
database write included, beside the write alone.

Seeds a medium demo workspace (~15,000 leads, ~60,000 activities) into a fresh embedded cluster, trains its model
(`crm.train_workspace`), adds `--leads` new open leads (copies of its contacts, created now, so every one is
scored), then times in the same run:
- the full rescoring (`crm.rescore`: point-in-time features in SQL, the model with reasons, the `lead_scores` rows
  and `contacts.lead_score` written), in leads per second, every score changed (the reference between runs writes
  other scores), so every lead gets a history row and a contact update: the worst case;
- the reference: `record_scores` alone (the same number of score rows and contact updates, no features, no model),
  so the ratio says what scoring adds to writing.
Prints the model's validation ROC AUC beside the AUC of the generator's own probabilities on the same leads.

    .venv/bin/python benchmarks/lead_scoring.py [--leads 20000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._services import services  # noqa: E402

COPY_LEADS = """
INSERT INTO contacts (id, tenant_id, owner_id, account_id, first_name, last_name, email, title, department, company,
                      lead_source, lead_status, lifecycle_stage, address_country, created_at, updated_at)
SELECT cf_uuid7(), tenant_id, owner_id, account_id, first_name, last_name, NULL, title, department, company,
       lead_source, 'new', 'lead', address_country, now(), now()
  FROM contacts WHERE tenant_id = :t AND deleted_at IS NULL ORDER BY id LIMIT :n
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with services():
        import polars as pl
        from sqlalchemy import text

        from ai.scoring import crm, leads
        from ai.scoring.engine import roc_auc
        from core.actor import Actor
        from core.db import owner_engine, unit_of_work
        from core.demo import service as demo
        from core.scoring import service as scoring

        started = time.perf_counter()
        seeded = demo.seed(slug="bench-scoring", scale="medium", seed=11)
        system = Actor.system(seeded.tenant_id)
        print(f"seeded the medium demo in {time.perf_counter() - started:.0f} s", flush=True)
        with unit_of_work(system) as session:
            t0 = time.perf_counter()
            result = crm.train_workspace(session, system)
            print(f"trained in {time.perf_counter() - t0:.1f} s: {result['message']}")
            champion = crm.champion(session, system)
            settings = scoring.get_settings(session, system)
            resolved = leads.lead_frame(session, settings, as_of=datetime.now(UTC), which="resolved")
        metrics = champion.trained.metrics
        window = (
            resolved.sort(leads.CUTOFF, maintain_order=True)
            .tail(metrics["validation_rows"])
            .join(
                pl.read_csv(demo.leads_path(seeded.slug), schema_overrides={"contact_id": pl.String}), on="contact_id"
            )
        )
        truth_auc = roc_auc(window["converted"].to_numpy().astype(float), window["probability"].to_numpy())
        print(
            f"validation ROC AUC {metrics['roc_auc']:.3f} (the truth's own probabilities {truth_auc:.3f}, "
            f"baseline {metrics['baseline_roc_auc']:.3f}), Brier {metrics['brier']:.4f}, "
            f"calibration error {metrics['calibration_error']:.3f}"
        )
        with owner_engine().begin() as conn:
            conn.execute(text(COPY_LEADS), {"t": seeded.tenant_id, "n": args.leads})
        print(f"{args.leads:,} new open leads added", flush=True)

        best_full = best_write = float("inf")
        scored = 0
        for i in range(args.repeat):
            now = datetime.now(UTC) + timedelta(minutes=i)
            with unit_of_work(system) as session:
                t0 = time.perf_counter()
                out = crm.rescore(session, system, now=now)
                seconds = time.perf_counter() - t0
                best_full = min(best_full, seconds)
                print(
                    f"rescoring {i + 1}: {out['scored']:,} leads in {seconds:.2f} s ({out['scored'] / seconds:,.0f}/s),"
                    f" {out['written']:,} history rows written (a row where the score changed)",
                    flush=True,
                )
                scored = out["scored"]
                ids = list(
                    session.execute(
                        text("SELECT contact_id FROM lead_scores WHERE scored_at = :at"), {"at": now}
                    ).scalars()
                )
            # the reference: the same rows written, scores given (alternating so that every row changes)
            rows = [
                scoring.NewScore(
                    contact_id=UUID(str(c)),
                    model_id=champion.model.id,
                    score=(i * 7 + k) % 101,
                    probability=0.5,
                    confidence=0.9,
                    predicted_revenue=1000.0,
                    factors=[{"feature": "lead_source", "text": "Lead source is Referral", "points": 10.0}] * 3,
                )
                for k, c in enumerate(ids[:scored])
            ]
            with unit_of_work(system) as session:
                t0 = time.perf_counter()
                scoring.record_scores(session, system, rows, scored_at=now + timedelta(seconds=30))
                best_write = min(best_write, time.perf_counter() - t0)
        # the usual case: the same leads rescored again an hour later, nothing new about them
        with unit_of_work(system) as session:
            crm.rescore(session, system, now=datetime.now(UTC) + timedelta(hours=1))
        with unit_of_work(system) as session:
            t0 = time.perf_counter()
            out = crm.rescore(session, system, now=datetime.now(UTC) + timedelta(hours=1, minutes=1))
            steady = time.perf_counter() - t0
        print(
            f"rescoring again, nothing changed about the leads: {out['scored']:,} leads in {steady:.2f} s "
            f"({out['scored'] / steady:,.0f}/s), {out['written']:,} history rows written"
        )
        print(
            f"\nbulk rescoring of {scored:,} open leads (best of {args.repeat}): {best_full:.2f} s = "
            f"{scored / best_full:,.0f} leads/s, database write included"
        )
        print(f"the write alone, same rows: {best_write:.2f} s = {scored / best_write:,.0f} rows/s")
        print(f"ratio (full rescoring / write alone): {best_full / best_write:.2f}x")


if __name__ == "__main__":
    main()
