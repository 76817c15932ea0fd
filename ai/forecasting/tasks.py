"""Revenue forecasts in the worker: the `forecasts.revenue` job (nightly for every workspace, and on demand through
`POST /api/v1/forecasts/run`) and its nightly schedule.

One run, for one workspace, as of one day (default: today in the workspace's time zone):
1. brings the warehouse up to date when it is missing or older than `STALE_WAREHOUSE`;
2. back-tests each period kind (the last N closed months, quarters, years) and stores it, one transaction and
   one checkpoint per kind (a retried job resumes after the last stored kind);
3. stores the live forecasts of the current month, quarter and year for the company, each team and each rep,
   with their back-test summaries and per-deal breakdowns, records the method in `ml_models`, and fills
   actual revenue and accuracy of forecasts whose period has closed.
Who may start a run is checked when it is queued (`forecasts:manage`); the run itself reads and writes the
whole workspace as the platform (forecasts are derived data, read back under each reader's scope).
"""

from __future__ import annotations

import contextlib
import logging
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, text

from ai.forecasting import revenue, revenue_store
from core.actor import Actor
from core.db import unit_of_work
from core.forecasts import service as forecasts
from core.jobs import service as jobs
from core.jobs.registry import JobContext, handler, periodic
from core.tenants import calendar
from core.tenants.models import Tenant
from etl import pipeline, warehouse

log = logging.getLogger(__name__)

RUN = forecasts.RUN_JOB
NIGHTLY = "forecasts.nightly"
NIGHTLY_HOUR = 1  # local time after which a workspace's nightly run is queued (yesterday is complete)
STALE_WAREHOUSE = timedelta(hours=2)


def _params(ctx: JobContext, today: date) -> tuple[date, list[str], list[str], dict[str, int]]:
    params = ctx.params
    as_of = date.fromisoformat(params["as_of"]) if params.get("as_of") else today
    levels = [v for v in params.get("levels") or revenue.LEVELS if v in revenue.LEVELS]
    kinds = [v for v in params.get("periods") or revenue.PERIOD_KINDS if v in revenue.PERIOD_KINDS]
    count = params.get("backtest_periods")
    counts = {k: (int(count) if count is not None else revenue.DEFAULT_BACKTEST[k]) for k in kinds}
    return as_of, levels, kinds, counts


def _fresh_warehouse(ctx: JobContext) -> None:
    published = warehouse.current(ctx.tenant_id)
    if published is None or datetime.now(UTC) - published.built_at > STALE_WAREHOUSE:
        ctx.progress(2, "bringing the warehouse up to date")
        pipeline.run(ctx.tenant_id, trigger="schedule")


@handler(RUN, max_attempts=3, backoff_seconds=60.0)
def run_revenue_forecasts(ctx: JobContext) -> dict[str, Any]:
    """Back-test, forecast, store and track the workspace's revenue forecasts (see the module's docstring)."""
    system = Actor.system(ctx.tenant_id)
    _fresh_warehouse(ctx)
    with unit_of_work(system) as session:
        currency = forecasts.tenant_currency(session, system)
        fiscal = forecasts.fiscal_start_month(session, system)
        today = calendar.today(session, system)
        categories = forecasts.owner_categories(session, system)
    as_of, levels, kinds, counts = _params(ctx, today)
    checkpoint = dict(ctx.checkpoint or {})
    summaries: dict[str, dict[str, Any]] = checkpoint.get("summaries", {})
    with contextlib.closing(warehouse.open_tenant(ctx.tenant_id)) as con:
        forecaster = revenue.RevenueForecaster(
            con, currency=currency, fiscal_start_month=fiscal, levels=levels, categories=categories
        )
        ctx.progress(5, "learning from the pipeline history")
        for i, kind in enumerate(kinds):
            if kind in summaries:
                continue
            span = (5 + 75 * i // len(kinds), 5 + 75 * (i + 1) // len(kinds))

            def step(done: int, total: int, kind: str = kind, span: tuple[int, int] = span) -> None:
                ctx.progress(span[0] + (span[1] - span[0]) * done // max(total, 1), f"back-testing {kind}s")

            if counts[kind] > 0:
                results = forecaster.backtest(as_of, kind, counts[kind], progress=step)
                by_subject: dict[str, list[revenue.SubjectForecast]] = {}
                for r in results:
                    by_subject.setdefault(r.subject.key, []).append(r)
            else:  # not back-tested again: the stored back-test stands
                with unit_of_work(system) as session:
                    by_subject = revenue_store.load_backtest(session, system, kind)
            summaries[kind] = {s.key: revenue.summarise(by_subject.get(s.key, []), kind) for s in forecaster.subjects}
            with unit_of_work(system) as session:
                if counts[kind] > 0:
                    revenue_store.store_backtest(session, system, kind, results, currency=currency)
                ctx.save(session, checkpoint={"summaries": summaries}, progress=span[1])
        ctx.progress(82, "forecasting the current periods")
        live = forecaster.live(as_of, kinds)
        for result in live:
            result.backtest = summaries.get(result.period.kind, {}).get(result.subject.key)
            revenue.calibrate(result, result.backtest)
        probabilities = {
            kind: revenue.probability_table(forecaster.history, forecaster.probabilities(as_of, (p.end - as_of).days))
            for kind, p in {r.period.kind: r.period for r in live}.items()
        }
        engine_models = forecaster.run_rate_models(as_of)
        with unit_of_work(system) as session:
            model = revenue_store.record_method(
                session,
                system,
                as_of=as_of,
                history=forecaster.history,
                summaries={kind: s.get("company", {}) for kind, s in summaries.items() if "company" in s},
                probabilities=probabilities,
                engine_models=engine_models,
                backtest_counts=counts,
            )
            ids = revenue_store.store_live(session, system, live, currency=currency, model_id=model.id)
            filled = revenue_store.fill_actuals(session, system, forecaster.history, as_of)
            ctx.save(session, progress=100, message=f"{len(ids)} forecasts as of {as_of.isoformat()}")
    return {
        "asOf": as_of.isoformat(),
        "forecasts": len(ids),
        "backtested": {kind: max((s["periods"] for s in summaries[kind].values()), default=0) for kind in summaries},
        "actualsFilled": filled,
        "modelId": str(model.id),
        "modelActive": model.is_active,
    }


@periodic(NIGHTLY, every_seconds=lambda: 3600)
def nightly(timestamp: int) -> int:
    """Queue one run per active workspace and local day, after NIGHTLY_HOUR in the workspace's time zone."""
    with unit_of_work() as session:
        tenants = list(session.execute(text("SELECT id FROM cf_active_tenant_ids()")).scalars())
    queued = 0
    now = datetime.fromtimestamp(timestamp, UTC)
    for tenant_id in tenants:
        with unit_of_work(tenant_id=tenant_id) as session:
            zone = session.scalar(select(Tenant.timezone).where(Tenant.id == tenant_id)) or "UTC"
            local = now.astimezone(ZoneInfo(zone))
            if local.hour < NIGHTLY_HOUR:
                continue
            jobs.enqueue_system(
                session,
                tenant_id=tenant_id,
                kind=RUN,
                params={"trigger": "schedule"},
                dedupe_key=f"{RUN}:nightly:{local.date().isoformat()}",
            )
            queued += 1
    return queued
