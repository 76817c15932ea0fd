"""The standard reports at scale: each one's latency in the tenant's DuckDB warehouse (through the report builder)
beside the equivalent hand-written SQL over the transactional PostgreSQL tables, and a check that both give the
same numbers.

Reuses the demo workspace that benchmarks/etl.py seeds into an embedded cluster under `--data-dir` (seeding it
first when missing; `--scale large`: ~300,000 deals, ~3,000,000 activities) and builds the warehouse when it has
none. For each report in `etl.reports.standard.STANDARD_REPORTS`, after one warm-up run (whose rows are the ones
compared), `--rounds` timed runs of:

- DuckDB: `etl.reports.builder.run(con, spec)` on `etl.warehouse.open_tenant(...)` (compile + query + Polars);
- PostgreSQL: the query in `PG_SQL` (joins to users/teams/deal_stages/accounts/deal_stage_history as needed),
  as the app role in one transaction bound to the tenant (`unit_of_work(Actor.system(tenant))`, so row-level
  security applies on top of the explicit tenant filter), rows fetched.

Prints p50/p95 ms for both, the speed-up (PostgreSQL p50 / DuckDB p50), PASS/FAIL against the target (DuckDB p95
under 100 ms), and whether the numbers match (same groups; values equal, money within a cent of rounding). "Now"
in the PostgreSQL SQL (days in stage, rotting) is the warehouse's load time, the moment its numbers describe.

    .venv/bin/python benchmarks/reports.py [--scale large|medium|small] [--data-dir DIR] [--rounds 20]
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._services import services  # noqa: E402
from benchmarks.etl import seeded  # noqa: E402

TARGET_MS = 100.0

# The warehouse's rows, in PostgreSQL terms: live (not soft-deleted) records; a user's name with the team, if the
# team is live; stages of live pipelines; a deal's status from is_closed/is_won.
_LIVE = "d.tenant_id = :t AND d.deleted_at IS NULL"  # a live deal of the tenant
_STATUS = "CASE WHEN NOT d.is_closed THEN 'open' WHEN coalesce(d.is_won, false) THEN 'won' ELSE 'lost' END"
_USERS = (
    "(SELECT u.id, u.first_name || ' ' || u.last_name AS full_name, tm.name AS team_name FROM users u"
    " LEFT JOIN teams tm ON tm.id = u.team_id AND tm.deleted_at IS NULL"
    " WHERE u.tenant_id = :t AND u.deleted_at IS NULL)"
)
_STAGES = (
    "(SELECT st.id, st.pipeline_id, p.name AS pipeline_name, st.name AS stage_name, st.display_order,"
    " st.is_closed_stage, st.rotting_days FROM deal_stages st JOIN pipelines p ON p.id = st.pipeline_id"
    " WHERE st.tenant_id = :t AND st.deleted_at IS NULL AND p.deleted_at IS NULL)"
)
_ACCOUNTS = "(SELECT id, name, industry FROM accounts WHERE tenant_id = :t AND deleted_at IS NULL)"
_WON = "d.is_closed AND coalesce(d.is_won, false)"
# amount x probability / 100 to the cent, half to even (as the load's Polars decimal cast rounds)
_WEIGHTED = (
    "CASE WHEN d.amount * d.probability % 1 = 0.5 AND trunc(d.amount * d.probability) % 2 = 0"
    " THEN trunc(d.amount * d.probability / 100, 2) ELSE round(d.amount * d.probability / 100, 2) END"
)
# whole days in the current stage at the load ("now"), as the load counts them
_DAYS = (
    "greatest(floor((extract(epoch FROM CAST(:now AS timestamptz)) - extract(epoch FROM d.stage_entered_at))"
    " / 86400), 0)::int"
)


def _win_rate(group: str, join: str = "") -> str:
    return (
        f"SELECT {group}, count(*), sum(d.is_won::int), avg(d.is_won::int), sum(d.amount)"
        f" FROM deals d {join} WHERE {_LIVE} AND d.is_closed GROUP BY 1"
    )


PG_SQL: dict[str, str] = {
    "pipeline_by_stage": f"""
        SELECT s.pipeline_name, s.display_order, s.stage_name, count(*), sum(d.amount),
               sum({_WEIGHTED})
        FROM deals d LEFT JOIN {_STAGES} s ON s.id = d.stage_id
        WHERE {_LIVE} AND NOT d.is_closed GROUP BY 1, 2, 3 ORDER BY 1, 2, 3""",
    # Each closed deal at every open stage of its pipeline up to the furthest it reached (a won deal: all of them).
    "funnel_conversion": f"""
        WITH st AS {_STAGES},
        visits AS (
          SELECT deal_id, to_stage_id AS stage_id FROM deal_stage_history WHERE tenant_id = :t
          UNION SELECT d.id, d.stage_id FROM deals d WHERE {_LIVE} AND d.is_closed),
        furthest AS (
          SELECT d.id, d.pipeline_id, coalesce(d.is_won, false) AS is_won,
                 max(s.display_order) FILTER (WHERE NOT s.is_closed_stage) AS reached
          FROM deals d LEFT JOIN visits v ON v.deal_id = d.id
          LEFT JOIN st s ON s.id = v.stage_id AND s.pipeline_id = d.pipeline_id
          WHERE {_LIVE} AND d.is_closed GROUP BY 1, 2, 3)
        SELECT o.pipeline_name, o.display_order, o.stage_name, count(*), sum(x.adv::int), avg(x.adv::int)
        FROM furthest f
        JOIN st o ON o.pipeline_id = f.pipeline_id AND NOT o.is_closed_stage AND (f.is_won OR o.display_order <= f.reached)
        CROSS JOIN LATERAL (SELECT f.is_won OR o.display_order < f.reached AS adv) x
        GROUP BY 1, 2, 3 ORDER BY 1, 2, 3""",  # noqa: E501
    "win_rate_by_rep": _win_rate("u.full_name", f"LEFT JOIN {_USERS} u ON u.id = d.owner_id"),
    "win_rate_by_team": _win_rate("u.team_name", f"LEFT JOIN {_USERS} u ON u.id = d.owner_id"),
    "win_rate_by_lead_source": _win_rate("d.lead_source"),
    "win_rate_by_industry": _win_rate("a.industry", f"LEFT JOIN {_ACCOUNTS} a ON a.id = d.account_id"),
    "average_deal_size": f"""
        SELECT round(avg(d.amount), 2), percentile_cont(0.5) WITHIN GROUP (ORDER BY d.amount), count(*), sum(d.amount)
        FROM deals d WHERE {_LIVE} AND {_WON}""",
    "sales_cycle_length": f"""
        SELECT avg(c), percentile_cont(0.5) WITHIN GROUP (ORDER BY c), count(*)
        FROM (SELECT d.actual_close_date - (d.created_at AT TIME ZONE :tz)::date AS c
              FROM deals d WHERE {_LIVE} AND {_WON}) x""",
    # Completed stays in open stages: from a change to the deal's next change (whole seconds, as the load counts).
    "time_in_stage": f"""
        WITH stays AS (
          SELECT h.to_stage_id, (floor(extract(epoch FROM lead(h.changed_at) OVER w))
                                 - floor(extract(epoch FROM h.changed_at)))::float8 / 86400 AS days
          FROM deal_stage_history h JOIN deals d ON d.id = h.deal_id AND d.deleted_at IS NULL
          WHERE h.tenant_id = :t WINDOW w AS (PARTITION BY h.deal_id ORDER BY h.changed_at, h.id))
        SELECT s.pipeline_name, s.display_order, s.stage_name, avg(days),
               percentile_cont(0.5) WITHIN GROUP (ORDER BY days), count(*)
        FROM stays JOIN {_STAGES} s ON s.id = stays.to_stage_id AND NOT s.is_closed_stage
        WHERE days IS NOT NULL GROUP BY 1, 2, 3 ORDER BY 1, 2, 3""",
    "activities_per_rep": f"""
        SELECT u.full_name, u.team_name, count(*), sum((a.deal_id IS NOT NULL)::int), count(DISTINCT a.deal_id)
        FROM activities a LEFT JOIN {_USERS} u ON u.id = a.owner_id
        WHERE a.tenant_id = :t AND a.deleted_at IS NULL GROUP BY 1, 2 ORDER BY 3 DESC, 1""",
    "activities_by_outcome": f"""
        SELECT {_STATUS}, avg(coalesce(ac.n, 0)), count(*), sum(coalesce(ac.n, 0))
        FROM deals d LEFT JOIN (SELECT deal_id, count(*) AS n FROM activities
                                WHERE tenant_id = :t AND deleted_at IS NULL AND deal_id IS NOT NULL GROUP BY 1) ac
          ON ac.deal_id = d.id
        WHERE {_LIVE} AND d.is_closed GROUP BY 1 ORDER BY 1""",
    "lost_reasons": f"""
        SELECT d.lost_reason, count(*), sum(d.amount)
        FROM deals d WHERE {_LIVE} AND d.is_closed AND NOT coalesce(d.is_won, false) GROUP BY 1 ORDER BY 2 DESC, 1""",
    "revenue_by_month": f"""
        SELECT date_trunc('month', d.actual_close_date::timestamp)::date, sum(d.amount), count(*)
        FROM deals d WHERE {_LIVE} AND {_WON} GROUP BY 1 ORDER BY 1""",
    "stale_deals": f"""
        SELECT d.name, u.full_name, s.stage_name, d.amount, x.days, d.expected_close_date, a.name
        FROM deals d JOIN {_STAGES} s ON s.id = d.stage_id
        LEFT JOIN {_USERS} u ON u.id = d.owner_id LEFT JOIN {_ACCOUNTS} a ON a.id = d.account_id
        CROSS JOIN LATERAL (SELECT {_DAYS} AS days) x
        WHERE {_LIVE} AND NOT d.is_closed
          AND s.rotting_days IS NOT NULL AND x.days > s.rotting_days
        ORDER BY x.days DESC, d.id LIMIT :limit""",
}


def timed(fn: Any, rounds: int) -> tuple[Any, list[float]]:
    """One warm-up call (its result returned), then `rounds` timed calls (ms)."""
    result = fn()
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return result, times


def p(times: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(times)
    return ordered[max(math.ceil(q * len(ordered)) - 1, 0)]


def _same(a: Any, b: Any, money: bool) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, int | float) or hasattr(a, "as_tuple"):  # numbers, Decimal included
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=0.0101 if money else 1e-9)
    return a == b


def compare(result: Any, pg_rows: list[tuple]) -> str:
    """'' when the builder's rows and PostgreSQL's hold the same numbers, else what differs."""
    spec = result.spec
    duck = result.frame.rows()
    pg = [tuple(r) for r in pg_rows][: spec.limit]
    money = [c.type == "money" for c in result.columns]
    if not spec.is_listing:  # groups in any order (text collations differ): match them by their key
        width = len(spec.group_by)

        def key(r: tuple) -> tuple:
            return tuple((v is None, str(v)) for v in r[:width])

        duck, pg = sorted(duck, key=key), sorted(pg, key=key)
    if len(duck) != len(pg):
        return f"{len(duck)} rows in DuckDB, {len(pg)} in PostgreSQL"
    for d, q in zip(duck, pg, strict=True):
        if len(d) != len(q) or not all(_same(a, b, m) for a, b, m in zip(d, q, money, strict=False)):
            return f"DuckDB {d} != PostgreSQL {q}"
    return ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", choices=("small", "medium", "large"), default="large")
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/cf-bench-etl"))
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--only", nargs="*", help="report keys (default: all)")
    args = parser.parse_args()
    args.data_dir.mkdir(parents=True, exist_ok=True)
    with services(args.data_dir.resolve(), f"cf_bench_etl_{args.scale}", fresh=False):
        from sqlalchemy import text

        from core.actor import Actor
        from core.db import unit_of_work
        from etl import pipeline, warehouse
        from etl.reports import builder
        from etl.reports.standard import STANDARD_REPORTS

        info = seeded(args.data_dir, args.scale)
        tenant_id = info["tenant_id"]
        if warehouse.current(tenant_id) is None:
            print("Building the warehouse (full load) ...", flush=True)
            pipeline.run(tenant_id, full=True)
        con = warehouse.open_tenant(tenant_id)
        state = dict(con.sql("SELECT name, value FROM etl_state").fetchall())
        ((deals, activities),) = con.sql(
            "SELECT (SELECT count(*) FROM fact_deals), (SELECT count(*) FROM fact_activities)"
        ).fetchall()
        print(
            f"Workspace {info['slug']} ({args.scale}: {deals:,} deals, {activities:,} activities; warehouse "
            f"v{warehouse.current(tenant_id).version} loaded {state['loaded_at'][:19]}); {args.rounds} rounds"
        )
        print(f"  {'report':<24} {'DuckDB p50/p95 ms':>18} {'PostgreSQL p50/p95 ms':>22} {'speed-up':>9}  target")
        rows, failures, loaded_at = [], [], datetime.fromisoformat(state["loaded_at"])
        with unit_of_work(Actor.system(tenant_id)) as session:  # type: ignore[arg-type]
            tz = session.execute(text("SELECT timezone FROM tenants WHERE id = :t"), {"t": tenant_id}).scalar()
            for key in args.only or STANDARD_REPORTS:
                spec = STANDARD_REPORTS[key].spec
                params = {"t": tenant_id, "tz": tz or "UTC", "now": loaded_at, "limit": spec.limit + 1}
                statement = text(PG_SQL[key])
                result, duck = timed(lambda spec=spec: builder.run(con, spec), args.rounds)
                pg_rows, pg = timed(lambda s=statement, ps=params: session.execute(s, ps).fetchall(), args.rounds)
                d50, d95, p50, p95 = p(duck, 0.5), p(duck, 0.95), p(pg, 0.5), p(pg, 0.95)
                ok = d95 < TARGET_MS
                diff = compare(result, pg_rows)
                rows.append((p50 / d50, ok, not diff))
                if diff:
                    failures.append(f"{key}: {diff}")
                same = f"same numbers ({result.frame.height} rows)" if not diff else "MISMATCH"
                print(
                    f"  {key:<24} {d50:8.1f} /{d95:8.1f} {p50:11.1f} /{p95:9.1f} {p50 / d50:8.1f}x  "
                    f"{'PASS' if ok else 'FAIL'}  {same}",
                    flush=True,
                )
        con.close()
        for line in failures:
            print(f"  mismatch {line}")
        ratios = [r for r, _, _ in rows]
        passed, matched = sum(ok for _, ok, _ in rows), sum(m for _, _, m in rows)
        print(
            f"  HEADLINE standard reports: {passed}/{len(rows)} with DuckDB p95 < {TARGET_MS:.0f} ms "
            f"({'PASS' if passed == len(rows) else 'FAIL'}); speed-up over PostgreSQL median "
            f"{statistics.median(ratios):.1f}x (min {min(ratios):.1f}x, max {max(ratios):.1f}x); "
            f"{matched}/{len(rows)} give the same numbers as PostgreSQL"
        )


if __name__ == "__main__":
    main()
