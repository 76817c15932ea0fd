"""Enrichment's figures on a demo workspace (called by `benchmarks/insights.py`; needs the database up):

- throughput of a full pass (`enrich_all`: accounts, then contacts), records/s, and what it proposes per field;
- likely duplicates against the demo generator's truth (the duplicate contacts it planted): recall of the
  `duplicate_of` suggestions and their precision;
- industry from similar accounts, leave-one-out over the labelled accounts, beside always suggesting the most
  common industry (the baseline): coverage (how often one is suggested) and precision (how often it is right).

    from ai.insights.enrichment_eval import benchmark, report
    print(report(benchmark(scale="small")))
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from sqlalchemy import text

from ai.insights import enrichment
from ai.insights import enrichment_industry as industry_model
from core.actor import Actor
from core.db import unit_of_work
from core.demo import service as demo
from core.suggestions import service as suggestions


def _planted_duplicates(truth: Any) -> list[dict[str, str]]:
    """The truth's planted duplicates ({"original", "duplicate", "kind"}), wherever the file keeps them."""
    if isinstance(truth, dict):
        found = truth.get("duplicates")
        if isinstance(found, list) and (not found or isinstance(found[0], dict) and "original" in found[0]):
            return found
        for value in truth.values():
            inner = _planted_duplicates(value)
            if inner:
                return inner
    return []


def benchmark(*, scale: str = "small", seed: int = 7, slug: str | None = None) -> dict[str, Any]:
    """Seed a demo workspace of `scale` (or use `slug`, seeded already), run a full enrichment pass, measure."""
    if slug is None:
        slug = f"enrich-{secrets.token_hex(4)}"
        seeded = demo.seed(slug=slug, scale=scale, seed=seed)
        tenant_id = seeded.tenant_id
    else:
        with unit_of_work() as session:
            tenant_id = session.execute(text("SELECT id FROM tenants WHERE slug = :s"), {"s": slug}).scalar_one()
    system = Actor.system(tenant_id)
    result: dict[str, Any] = {"slug": slug, "scale": scale}
    for entity_type in ("accounts", "contacts"):
        with unit_of_work(system) as session:
            records = session.execute(
                text(f"SELECT count(*) FROM {entity_type} WHERE tenant_id = :t AND deleted_at IS NULL"),
                {"t": tenant_id},
            ).scalar_one()
            started = time.perf_counter()
            written = enrichment.enrich_all(session, system, entity_type)
            seconds = time.perf_counter() - started
        result[entity_type] = {
            "records": records,
            "suggestions": written,
            "seconds": round(seconds, 2),
            "records_per_second": round(records / seconds, 1) if seconds else None,
        }
    with unit_of_work(system) as session:
        result["open_by_field"] = dict(sorted(suggestions.open_counts(session, system).items()))
        pairs = {
            (str(r.entity_id), r.suggested_value)
            for r in session.execute(
                text(
                    "SELECT entity_id, suggested_value #>> '{}' AS suggested_value FROM field_suggestions"
                    " WHERE tenant_id = :t AND field = 'duplicate_of' AND entity_type = 'contacts'"
                ),
                {"t": tenant_id},
            )
        }
        result["industry"] = industry_model.evaluate(session, tenant_id)
    planted = _planted_duplicates(demo.read_truth(slug))
    truth_pairs = {frozenset((p["original"], p["duplicate"])) for p in planted}
    found_pairs = {frozenset(p) for p in pairs}
    hits = len(truth_pairs & found_pairs)
    result["duplicates"] = {
        "planted": len(truth_pairs),
        "suggested": len(found_pairs),
        "recall": round(hits / len(truth_pairs), 3) if truth_pairs else None,
        "precision": round(hits / len(found_pairs), 3) if found_pairs else None,
    }
    return result


def report(result: dict[str, Any]) -> str:
    """The figures as the benchmark prints them."""
    lines = [f"enrichment on demo workspace {result['slug']} ({result['scale']}), 1 thread:"]
    for entity_type in ("accounts", "contacts"):
        r = result[entity_type]
        lines.append(
            f"  full pass {entity_type}: {r['records']:,} records in {r['seconds']} s"
            f" ({r['records_per_second']} records/s), {r['suggestions']:,} suggestions"
        )
    lines.append("  open suggestions by field: " + ", ".join(f"{k} {v:,}" for k, v in result["open_by_field"].items()))
    d = result["duplicates"]
    lines.append(
        f"  duplicates vs the generator's truth: {d['planted']} planted, {d['suggested']} suggested,"
        f" recall {d['recall']}, precision {d['precision']}"
    )
    i = result["industry"]
    if "coverage" in i:
        lines.append(
            f"  industry (leave-one-out, {i['evaluated']} of {i['accounts']} labelled accounts, {i['industries']}"
            f" industries): suggested for {i['coverage']:.0%}, precision {i['precision']};"
            f" baseline (most common industry) accuracy {i['baseline_accuracy']}"
        )
    else:
        lines.append(f"  industry: {i['message']}")
    return "\n".join(lines)
