"""Issue 10's figures in one run: embeddings, search, sentiment, anomalies, churn, and a note's way from commit to
its embedding, sentiment and search visibility.

1. Embedding throughput on 2 cores, one thread per process as the worker runs it: the int8 ONNX export
   (ai/nlp/embeddings.py) beside the reference, sentence-transformers' float PyTorch model, on the same texts
   (TweetEval, ../shared/data/sentiment), in texts/s and as a ratio; and the price in quality: mean cosine of
   the two models' vectors, and how many of each text's 10 nearest neighbours (float model) the int8 model finds.
2. Search on a demo workspace (`--scale medium` by default; `--scale large` reuses the cluster that
   benchmarks/etl.py seeded into `--data-dir`, in its database): every record embedded by the bulk job
   (records/s; `--embed-workers N` runs N processes, record types shared among them), then latency p50/p95 over a
   set of queries for text, semantic and hybrid search, side by side in the same run.
3. A note's journey: a worker process (embeddings + sentiment), a note committed through the CRM, the seconds
   until it has its embedding, its sentiment, and a semantic search finds it.
4. Sentiment (TweetEval), and on the same demo workspace: anomalies and churn against the generator's planted
   truth, next best actions, enrichment; each component's own benchmark, called here so one run prints all.

    .venv/bin/python benchmarks/insights.py [--scale medium] [--texts 2000] [--rounds 2] [--embed-workers 1]
        [--data-dir DIR] [--skip sentiment,...]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._services import ROOT, services  # noqa: E402

TWEETS = ROOT.parent / "shared" / "data" / "sentiment" / "tweeteval_sentiment.csv"
QUERIES = (
    "notes about pricing complaints",
    "customer unhappy with support",
    "companies like Acme",
    "software companies in Germany",
    "renewal at risk",
    "asked for a discount",
    "security review questions",
    "demo went well",
    "decision maker on vacation",
    "budget approved next quarter",
    "competitor is cheaper",
    "integration with salesforce",
    "legal is reviewing the contract",
    "follow up after the webinar",
    "manufacturing accounts",
    "VP of engineering",
    "healthcare leads from referrals",
    "proposal sent waiting for answer",
    "they went quiet",
    "onboarding problems",
)


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(pct / 100 * (len(ordered) - 1))))]


def embedding_figures(n: int) -> None:
    import numpy as np
    import polars as pl

    from ai.nlp import embeddings

    texts = pl.read_csv(TWEETS)["text"].head(n).to_list()
    fast = embeddings.encoder()
    fast.embed(texts[:64])
    fast._cache.clear()
    t0 = time.perf_counter()
    int8 = fast.embed(texts)
    int8_s = time.perf_counter() - t0
    fast._cache.clear()
    reference = embeddings.reference_model()
    reference.encode(texts[:64])
    t0 = time.perf_counter()
    full = reference.encode(texts, batch_size=32, normalize_embeddings=True)
    full_s = time.perf_counter() - t0
    cosine = (int8 * full).sum(axis=1)
    k = 10
    near_full = np.argsort(-(full @ full.T), axis=1)[:, 1 : k + 1]
    near_int8 = np.argsort(-(int8 @ int8.T), axis=1)[:, 1 : k + 1]
    recall = np.mean([len(set(a) & set(b)) / k for a, b in zip(near_full, near_int8, strict=True)])
    print("\n== Embeddings (one thread, the worker's setting)")
    print(f"int8 ONNX Runtime:            {n / int8_s:7.1f} texts/s ({n:,} tweets in {int8_s:.1f} s)")
    print(f"float PyTorch (reference):    {n / full_s:7.1f} texts/s ({full_s:.1f} s)")
    print(f"ratio:                        {full_s / int8_s:7.2f}x faster")
    print(f"cosine int8 vs float:         mean {cosine.mean():.4f}, min {cosine.min():.4f}")
    print(f"10 nearest neighbours kept:   {recall:.1%} (int8 neighbours among the float model's)")


def seeded_workspace(scale: str, data_dir: Path | None) -> tuple[object, str]:
    """The demo workspace of `scale`: the one benchmarks/etl.py or an earlier run seeded into `data_dir` (its
    embeddings kept too), else a new one."""
    import json

    from core.demo import service as demo

    markers = [data_dir / f"etl-{scale}.json", data_dir / f"insights-{scale}.json"] if data_dir else []
    for marker in markers:
        if marker.exists():
            info = json.loads(marker.read_text())
            return info["tenant_id"], info["slug"]
    t0 = time.perf_counter()
    seeded = demo.seed(slug=f"bench-{scale}", scale=scale, seed=42)
    print(f"seeded the {scale} demo in {time.perf_counter() - t0:.0f} s", flush=True)
    if markers:
        markers[1].write_text(json.dumps({"tenant_id": str(seeded.tenant_id), "slug": seeded.slug}))
    return seeded.tenant_id, seeded.slug


_EMBED_CHILD = """
import json, sys, uuid
from ai.nlp import store
from core.actor import Actor
from core.db import unit_of_work
tenant = uuid.UUID(sys.argv[1])
with unit_of_work(Actor.system(tenant)) as session:
    result = store.refresh(session, tenant, types=sys.argv[2].split(","), commit=session.commit)
print(json.dumps({"read": result["read"], "embedded": result["embedded"]}))
"""


def bulk_embed(tenant_id: object, counts: dict[str, int], workers: int) -> dict[str, dict[str, int]]:
    """The workspace embedded by `workers` processes at once, each running the product's `store.refresh` for
    some record types (largest first, each to the least loaded process): one ONNX thread per process, as the
    worker runs it. The HNSW indexes are kept up to date as rows arrive, as in the product; for a first load of
    millions of vectors pgvector recommends building them after (docs/operations.md)."""
    import json
    import subprocess

    groups: list[list[str]] = [[] for _ in range(workers)]
    loads = [0] * workers
    for entity_type, n in sorted(counts.items(), key=lambda item: -item[1]):
        k = loads.index(min(loads))
        groups[k].append(entity_type)
        loads[k] += n
    children = [
        subprocess.Popen(
            [sys.executable, "-c", _EMBED_CHILD, str(tenant_id), ",".join(group)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        for group in groups
        if group
    ]
    result: dict[str, dict[str, int]] = {"read": {}, "embedded": {}}
    for child in children:
        out, _ = child.communicate()
        if child.returncode:
            raise SystemExit("a bulk embedding process failed")
        part = json.loads(out.strip().splitlines()[-1])
        for key in result:
            result[key].update(part[key])
    return result


def search_figures(scale: str, data_dir: Path | None, rounds: int, embed_workers: int = 1) -> tuple[object, str]:
    from sqlalchemy import text

    from ai.nlp import search as hybrid
    from ai.nlp import store
    from core.actor import Actor
    from core.db import unit_of_work

    tenant_id, slug = seeded_workspace(scale, data_dir)
    system = Actor.system(tenant_id)
    with unit_of_work(system) as session:
        counts = {
            t: session.execute(text(f"SELECT count(*) FROM {t} WHERE deleted_at IS NULL")).scalar_one()
            for t in ("contacts", "accounts", "deals", "notes", "activities")
        }
    total = sum(counts.values())
    print(f"\n== Search on the {scale} demo ({total:,} records: {counts})", flush=True)
    t0 = time.perf_counter()
    if embed_workers > 1:
        result = bulk_embed(tenant_id, counts, embed_workers)
    else:
        with unit_of_work(system) as session:
            result = store.refresh(session, tenant_id, commit=session.commit)
    took = time.perf_counter() - t0
    embedded = sum(result["embedded"].values())
    if embedded:
        print(
            f"bulk embedding: {embedded:,} records embedded ({sum(result['read'].values()):,} read) in {took:.0f} s"
            f" = {embedded / took:,.0f} records/s with {embed_workers} process(es) (texts that repeat are embedded"
            " once)"
        )
    else:
        print("bulk embedding: every record already embedded (reused cluster)")
    with unit_of_work(system) as session:
        session.execute(text("ANALYZE embeddings"))
        admin_id = session.execute(text("SELECT id FROM users ORDER BY created_at, id LIMIT 1")).scalar()
    from core.auth import service as auth

    with unit_of_work(tenant_id=tenant_id) as session:
        admin = auth.load_actor(session, tenant_id=tenant_id, user_id=admin_id)
    timings: dict[str, list[float]] = {"text": [], "semantic": [], "hybrid": []}
    for _ in range(rounds):
        for query in QUERIES:
            for mode in timings:
                with unit_of_work(admin) as session:
                    t0 = time.perf_counter()
                    hybrid.search(session, admin, query, mode=mode, limit=20)
                    timings[mode].append((time.perf_counter() - t0) * 1000)
    print(f"latency over {len(QUERIES)} queries x {rounds} rounds, as the admin (every record readable):")
    for mode, values in timings.items():
        print(
            f"  {mode:8s} p50 {statistics.median(values):6.1f} ms   p95 {_percentile(values, 95):6.1f} ms"
            f"   max {max(values):6.1f} ms"
        )
    ratio = _percentile(timings["hybrid"], 95) / _percentile(timings["text"], 95)
    print(f"  hybrid p95 / text p95: {ratio:.2f}x (target: hybrid p95 under 150 ms)")
    return tenant_id, slug


def journey(tenant_slug: str) -> None:
    """A worker with the embedding and sentiment handlers; a note committed; seconds until each is visible."""
    import subprocess

    from sqlalchemy import text

    from ai.nlp import search as hybrid
    from core.accounts import service as accounts
    from core.accounts.schemas import AccountCreate
    from core.auth import service as auth
    from core.db import unit_of_work
    from core.notes import service as notes
    from core.notes.schemas import NoteCreate
    from core.tenants.service import lookup_slug

    modules = ["ai.nlp.tasks"]
    try:
        import ai.nlp.sentiment_tasks  # noqa: F401

        modules.append("ai.nlp.sentiment_tasks")
    except ImportError:
        pass
    env = {**os.environ, "CLIENTFORGE_JOB_MODULES": ",".join(modules), "PYTHONUNBUFFERED": "1"}
    worker = subprocess.Popen(
        [sys.executable, "-c", "from core.jobs.queue import run_worker; run_worker()"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for module in modules:
        __import__(module)  # this process emits the events: its subscriptions decide which jobs are queued
    try:
        with unit_of_work() as session:
            tenant_id = lookup_slug(session, tenant_slug)[0]
        with unit_of_work(tenant_id=tenant_id) as session:
            admin_id = session.execute(text("SELECT id FROM users ORDER BY created_at, id LIMIT 1")).scalar()
            admin = auth.load_actor(session, tenant_id=tenant_id, user_id=admin_id)
        with unit_of_work(admin) as session:
            account = accounts.create(session, admin, AccountCreate(name=f"Journey {time.time():.0f}")).id
        seconds: dict[str, list[float]] = {"embedding": [], "sentiment": [], "search": []}
        bodies = [
            "Warm-up: the worker loads its models on the first note.",
            "The CFO called: the renewal price is outrageous and they are angry about the invoice.",
            "Lovely call, they are thrilled with the onboarding and want to expand next quarter.",
            "Sent the contract over; legal will review it next week.",
        ]
        for i, body in enumerate(bodies):
            with unit_of_work(admin) as session:
                note = notes.create(session, admin, "accounts", account, NoteCreate(body=body))
            committed = time.perf_counter()
            seen: dict[str, float] = {}
            while len(seen) < 3 and time.perf_counter() - committed < 120:
                with unit_of_work(admin) as session:
                    if (
                        "embedding" not in seen
                        and session.execute(
                            text("SELECT 1 FROM embeddings WHERE entity_id = :i"), {"i": note.id}
                        ).scalar()
                    ):
                        seen["embedding"] = time.perf_counter() - committed
                    if (
                        "sentiment" not in seen
                        and session.execute(
                            text("SELECT 1 FROM pg_tables WHERE tablename = 'text_sentiments'")
                        ).scalar()
                    ):
                        if session.execute(
                            text("SELECT 1 FROM text_sentiments WHERE entity_id = :i"), {"i": note.id}
                        ).scalar():
                            seen["sentiment"] = time.perf_counter() - committed
                    if "search" not in seen:
                        hits = hybrid.search(session, admin, body[:60], mode="semantic", types=["notes"], limit=5)
                        if note.id in [h.id for h in hits]:
                            seen["search"] = time.perf_counter() - committed
                time.sleep(0.05)
            if i:  # the warm-up note is not counted
                for key, value in seen.items():
                    seconds[key].append(value)
        print("\n== A note from commit to embedding, sentiment and search (worker process, after warm-up)")
        for key, values in seconds.items():
            shown = ", ".join(f"{v:.2f}" for v in values) or "never (within 120 s)"
            print(f"  {key:9s} {shown} s")
    finally:
        worker.terminate()
        worker.wait(timeout=30)


def components(skip: set[str], tenant_id: object | None, slug: str | None) -> None:
    """Each component's own figures; those measured on a workspace use the one the search figures used."""
    if "sentiment" not in skip:
        from benchmarks.sentiment import figures as sentiment_figures

        print("\n== Sentiment on TweetEval (benchmarks/sentiment.py; weights fitted on the other half)", flush=True)
        sentiment_figures()
    if tenant_id is None or slug is None:
        return
    if "anomalies" not in skip:
        from benchmarks.anomalies import anomaly_figures

        print("\n== Anomalies against the generator's planted truth (benchmarks/anomalies.py)", flush=True)
        anomaly_figures(tenant_id, slug)  # type: ignore[arg-type]
    if "churn" not in skip:
        from benchmarks.churn import churn_figures

        print("\n== Churn risk against the planted churners (benchmarks/churn.py)", flush=True)
        churn_figures(tenant_id, slug)  # type: ignore[arg-type]
    if "actions" not in skip:
        from benchmarks.next_actions import next_action_figures

        print("\n== Next best actions (benchmarks/next_actions.py)", flush=True)
        next_action_figures(tenant_id)  # type: ignore[arg-type]
    if "enrichment" not in skip:
        from ai.insights.enrichment_eval import benchmark, report

        print("\n== Enrichment (ai/insights/enrichment_eval.py)", flush=True)
        print(report(benchmark(slug=slug)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=("small", "medium", "large"), default="medium")
    parser.add_argument("--data-dir", type=Path, default=None, help="reuse a seeded cluster (benchmarks/etl.py)")
    parser.add_argument("--texts", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--embed-workers", type=int, default=1, help="processes for the bulk embedding")
    parser.add_argument("--skip", default="", help="comma separated: embeddings,search,journey,sentiment,...")
    args = parser.parse_args()
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    os.environ.setdefault("CLIENTFORGE_NLP_THREADS", "1")
    # A cluster seeded by benchmarks/etl.py keeps the workspace in that benchmark's database.
    reused = args.data_dir is not None and (args.data_dir / f"etl-{args.scale}.json").exists()
    database = f"cf_bench_etl_{args.scale}" if reused else None
    with services(args.data_dir, database, fresh=False) if args.data_dir else services():
        if "embeddings" not in skip:
            embedding_figures(args.texts)
        tenant_id, slug = None, None
        if "search" not in skip:
            tenant_id, slug = search_figures(args.scale, args.data_dir, args.rounds, args.embed_workers)
        if "journey" not in skip and slug:
            journey(slug)
        components(skip, tenant_id, slug)


if __name__ == "__main__":
    main()
