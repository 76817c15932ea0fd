"""How long seeding a demo workspace takes and how much memory it needs, and what the history shows.

Runs `core.demo.service.seed` at one scale in a fresh embedded PostgreSQL cluster (a new temp dir; unset
DATABASE_URL / REDIS_URL so nothing is shared) and prints:

- wall time, split by phase (users and fields through the services; accounts; contacts with their deals,
  history, activities, tasks, notes and custom values; commit and ANALYZE);
- peak memory of the seeding process itself (this Python process: generator and COPY loader, `ru_maxrss`,
  exact) and, sampled every half second, the PostgreSQL server's processes (sum of their unique memory,
  USS: shared buffers are not counted once per backend);
- the audit trail the load wrote (rows and size), and with `--compare-audit` the same seed again in a second
  fresh database whose audit triggers are disabled: the difference is what auditing every row costs (the
  product never disables them; this throwaway database exists for the measurement only);
- whether the planted patterns show in the generated data (rep skill, quarter-end spikes, summer dip, growth,
  engagement and source effects, rotting deals, overdue tasks, duplicates).

    .venv/bin/python benchmarks/seed.py --scale medium [--seed 42] [--compare-audit]
    .venv/bin/python benchmarks/seed.py --scale large
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import threading
import time
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._services import services  # noqa: E402

AUDITED = ("accounts", "contacts", "deals", "activities", "tasks", "notes", "custom_field_values")
AS_OF = date(2026, 6, 30)


class MemorySampler:
    """Peak unique memory (USS) of this benchmark's PostgreSQL cluster: its postmaster (found by its data
    directory on the command line) and every process it started (backends, checkpointer, WAL writer...)."""

    def __init__(self, pgdata: str) -> None:
        self.pgdata = pgdata
        self.peak_server = 0
        self._cpu: dict[int, tuple[float, float]] = {}  # pid -> (cpu seconds when first seen, latest)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _cluster(self) -> list[psutil.Process]:
        for proc in psutil.process_iter(["cmdline"]):
            if self.pgdata in " ".join(proc.info["cmdline"] or []):
                try:
                    return [proc, *proc.children(recursive=True)]
                except psutil.NoSuchProcess:
                    continue
        return []

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            total = 0
            for proc in self._cluster():
                try:
                    total += proc.memory_full_info().uss
                    times = proc.cpu_times()
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
                used = times.user + times.system
                self._cpu[proc.pid] = (self._cpu.get(proc.pid, (used, used))[0], used)
            self.peak_server = max(self.peak_server, total)

    @property
    def server_cpu(self) -> float:
        """CPU seconds the cluster's processes used while sampled (a backend's first half second is missed)."""
        return sum(latest - first for first, latest in self._cpu.values())

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def pgdata_of(database_url: str) -> str:
    """The embedded cluster's directory: its socket directory, the URL's `host` parameter."""
    from urllib.parse import parse_qs, unquote, urlparse

    host = parse_qs(urlparse(database_url).query).get("host", [""])[0]
    return unquote(host) or "pgdata"


def seed_once(scale: str, seed: int, slug: str, pgdata: str) -> tuple[Any, dict[str, float], int]:
    from core.demo import service as demo

    started = time.perf_counter()
    starts: dict[str, float] = {"tenant": started}  # when each phase was first reported

    def progress(phase: str, done: int, total: int) -> None:
        now = time.perf_counter()
        starts.setdefault(phase, now)
        if phase == "contacts" and done and sys.stderr.isatty():
            print(f"\r  {done:,}/{total:,} contacts, {now - started:.0f} s", end="", file=sys.stderr, flush=True)

    copying = {"seconds": 0.0}
    copy_batch = demo.copy_batch

    def timed_copy(connection: Any, batch: Any) -> None:  # time inside COPY: the server's share of the work
        at = time.perf_counter()
        copy_batch(connection, batch)
        copying["seconds"] += time.perf_counter() - at

    demo.copy_batch = timed_copy  # type: ignore[assignment]
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    try:
        with MemorySampler(pgdata) as sampler:
            result = demo.seed(slug=slug, scale=scale, seed=seed, as_of=AS_OF, progress=progress)
    finally:
        demo.copy_batch = copy_batch  # type: ignore[assignment]
    after = resource.getrusage(resource.RUSAGE_SELF)
    copying["cpu"] = after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime
    if sys.stderr.isatty():
        print(file=sys.stderr)
    marks = [*starts.items(), ("end", time.perf_counter())]
    phases = {name: round(marks[i + 1][1] - at, 1) for i, (name, at) in enumerate(marks[:-1])}
    phases["in COPY"] = round(copying["seconds"], 1)
    phases["seeding process CPU"] = round(copying["cpu"], 1)
    phases["PostgreSQL CPU"] = round(sampler.server_cpu, 1)
    return result, phases, sampler.peak_server


def audit_figures(tenant_id: Any) -> tuple[int, int]:
    from sqlalchemy import text

    from core.db import owner_engine

    with owner_engine().connect() as conn:
        rows = conn.execute(text("SELECT count(*) FROM audit_logs WHERE tenant_id = :t"), {"t": tenant_id}).scalar()
        size = conn.execute(text("SELECT pg_total_relation_size('audit_logs')")).scalar()
    return int(rows or 0), int(size or 0)


def patterns(truth: dict[str, Any]) -> list[str]:
    """What the generated history shows, from the truth file's realised figures."""
    realized = truth["realized"]
    lines = []
    reps = sorted((u for u in truth["users"] if u["role"] == "rep"), key=lambda u: u["win_effect"])
    best, worst = reps[-1], reps[0]
    lines.append(
        f"rep skill: best planted rep wins {best['realized']['win_rate']:.0%} of closed deals, worst "
        f"{worst['realized']['win_rate']:.0%}"
    )
    rates = [(u["win_effect"], u["realized"]["win_rate"] or 0) for u in reps]
    concordant = sum((a[0] - b[0]) * (a[1] - b[1]) > 0 for i, a in enumerate(rates) for b in rates[i + 1 :])
    pairs = len(rates) * (len(rates) - 1) // 2
    lines.append(f"rep win rates: {concordant}/{pairs} rep pairs ordered as their planted skill")
    cycles = [
        (u["expected_cycle_days"], u["realized"]["mean_won_cycle_days"])
        for u in reps
        if u["realized"]["mean_won_cycle_days"]
    ]
    concordant = sum((a[0] - b[0]) * (a[1] - b[1]) > 0 for i, a in enumerate(cycles) for b in cycles[i + 1 :])
    pairs = len(cycles) * (len(cycles) - 1) // 2
    lines.append(f"rep cycle lengths: {concordant}/{pairs} rep pairs ordered as their planted speed and team")
    won, leads = Counter(), Counter()
    years: Counter[str] = Counter()
    for month, figures in realized["monthly"].items():
        won[int(month[5:])] += figures.get("won", 0)
        leads[int(month[5:])] += figures.get("leads", 0)
        years[month[:4]] += figures.get("leads", 0)
    quarter_end = sum(won[m] for m in (3, 6, 9, 12)) / 4
    other = sum(won[m] for m in (1, 2, 4, 5, 7, 8, 10, 11)) / 8
    lines.append(f"quarter-end spike: {quarter_end / other:.2f}x the wins of other months")
    by_month = {m: f.get("leads", 0) for m, f in realized["monthly"].items()}
    dips = [
        (by_month[f"{y}-07"] + by_month[f"{y}-08"]) / 2 / ((by_month[f"{y}-05"] + by_month[f"{y}-06"]) / 2)
        for y in {m[:4] for m in by_month}
        if all(f"{y}-{m:02d}" in by_month for m in (5, 6, 7, 8))
    ]
    if dips:
        planted = truth["planted"]["month_factors"]
        expected = (planted["Jul"] + planted["Aug"]) / (planted["May"] + planted["Jun"])
        lines.append(
            f"summer dip: July-August leads {sum(dips) / len(dips):.2f}x May-June of the same year "
            f"(planted {expected:.2f}x before growth)"
        )
    full = [y for y in sorted(years) if sum(1 for m in realized["monthly"] if m.startswith(y)) == 12]
    if len(full) >= 2:
        growth = (years[full[-1]] / years[full[0]]) ** (1 / (len(full) - 1)) - 1
        planted = truth["planted"]["annual_growth"]
        lines.append(f"growth: leads {growth:+.0%} a year {full[0]}-{full[-1]} (planted {planted:+.0%})")
    buckets = realized["conversion_by_lead_activities"]
    lines.append(
        "engagement: conversion by activities while a lead "
        + ", ".join(f"{k}: {v['conversion_rate']:.0%}" for k, v in buckets.items() if v.get("conversion_rate"))
    )
    sources = realized["by_source"]
    ranked = sorted(sources.items(), key=lambda kv: kv[1]["conversion_rate"] or 0)
    lines.append(
        f"sources: {ranked[-1][0]} converts {ranked[-1][1]['conversion_rate']:.0%} "
        f"(expected {ranked[-1][1]['expected_conversion_rate']:.0%}), {ranked[0][0]} "
        f"{ranked[0][1]['conversion_rate']:.0%} (expected {ranked[0][1]['expected_conversion_rate']:.0%})"
    )
    tasks = realized["tasks"]
    lines.append(
        f"open deals rotting: {realized['open_deals_rotting']:,}; tasks open {tasks.get('open', 0):,} "
        f"(overdue {tasks.get('overdue', 0):,}), done {tasks.get('done', 0):,}"
    )
    lines.append(f"notes by tone: {realized['notes_by_tone']}")
    lines.append(f"planted duplicate contacts: {len(realized['duplicates']):,}")
    return lines


def duplicates_found(result: Any, truth: dict[str, Any]) -> str:
    """How many of the 100 surest pairs the duplicate finder reports are planted ones."""
    from sqlalchemy import select

    from core.auth import service as auth
    from core.db import unit_of_work
    from core.duplicates import service as duplicates
    from core.users.models import User

    with unit_of_work(tenant_id=result.tenant_id) as session:
        admin_id = session.scalar(select(User.id).where(User.email == result.admin_email))
        actor = auth.load_actor(session, tenant_id=result.tenant_id, user_id=admin_id)
    with unit_of_work(actor) as session:
        found = duplicates.find_contact_duplicates(session, actor, limit=100)
    planted = {frozenset((d["original"], d["duplicate"])) for d in truth["realized"]["duplicates"]}
    hits = sum(frozenset(str(r.id) for r in pair.records) in planted for pair in found)
    return f"duplicate finder: {hits} of its {len(found)} surest pairs are planted duplicates"


def disable_audit() -> None:
    from sqlalchemy import text

    from core.db import owner_engine

    with owner_engine().begin() as conn:
        for table in AUDITED:
            conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER audit_insert"))


def mb(value: float) -> str:
    return f"{value / 2**20:,.0f} MB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", choices=("small", "medium", "large"), default="medium")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--compare-audit", action="store_true", help="seed again without audit triggers")
    args = parser.parse_args()
    for name in ("DATABASE_URL", "REDIS_URL"):
        os.environ.pop(name, None)  # a fresh embedded cluster of our own

    print(f"Seeding scale {args.scale} (seed {args.seed}, history to {AS_OF}) on {os.cpu_count()} cores")
    print(f"load average before: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    with services() as env:
        from core.demo import service as demo

        result, phases, server_peak = seed_once(args.scale, args.seed, "bench-demo", pgdata_of(env["DATABASE_URL"]))
        rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        audit_rows, audit_size = audit_figures(result.tenant_id)
        truth = demo.read_truth(result.slug)
        print(f"\nwall time: {result.seconds:.1f} s")
        for phase, seconds in phases.items():
            print(f"  {phase:<20} {seconds:7.1f} s")
        print("rows: " + ", ".join(f"{table} {count:,}" for table, count in result.counts.items()))
        print(f"peak memory: seeding process {mb(rss_peak)} (RSS, exact)")
        print(f"             PostgreSQL processes {mb(server_peak)} (sum of USS, sampled every 0.5 s)")
        print(f"audit trail: {audit_rows:,} rows, audit_logs now {mb(audit_size)} on disk")
        print(f"load average after: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
        print("\nwhat the history shows:")
        for line in patterns(truth):
            print(f"  {line}")
        if args.scale != "large":
            print(f"  {duplicates_found(result, truth)}")
    if args.compare_audit:
        from core.redis import reset_redis

        for name in ("DATABASE_URL", "REDIS_URL"):
            os.environ.pop(name, None)  # another fresh cluster: the first one is gone
        reset_redis()
        with services() as env:
            disable_audit()
            bare, bare_phases, _ = seed_once(args.scale, args.seed, "bench-demo", pgdata_of(env["DATABASE_URL"]))
            print(f"\nwithout audit triggers (throwaway database): wall time {bare.seconds:.1f} s")
            for phase, seconds in bare_phases.items():
                print(f"  {phase:<20} {seconds:7.1f} s")
            print(
                f"auditing every row costs {result.seconds - bare.seconds:.1f} s of {result.seconds:.1f} s wall time"
                f" and {phases['in COPY'] - bare_phases['in COPY']:.1f} s of {phases['in COPY']:.1f} s spent in COPY"
            )


if __name__ == "__main__":
    main()
