"""Storing revenue forecasts (the seed's `sales_forecasts` and `forecast_breakdown`) and the method in the registry.

Idempotent by key: a forecast replaces the one of the same kind, subject, period and forecast date, so a run
repeated on the same day (or a job retried) leaves one row each. Live forecasts keep one row per day they were
made (forecast-vs-actual over the period); only the latest of each period keeps its per-deal breakdown. The
back-test is replaced whole, per period kind, by each run. Closed periods get their actual revenue and accuracy.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import polars as pl
from sqlalchemy import and_, delete, insert, select, update
from sqlalchemy.orm import Session

from ai.forecasting.revenue import (
    AGE_EDGES,
    ALGORITHM,
    CATEGORY_THRESHOLDS,
    DRAWS,
    METHOD_VERSION,
    MODEL_TYPE,
    PSEUDO_COUNT,
    SAMPLE_EVERY_DAYS,
    History,
    Subject,
    SubjectForecast,
    accuracy_percentage,
    actual_revenue,
)
from ai.models import registry
from core.actor import Actor
from core.forecasts.models import ForecastBreakdown, MlModel, SalesForecast
from core.forecasts.periods import Period
from core.ids import new_id

REFRESH_ACTUALS_DAYS = 31  # a closed period's actual is refreshed this long after its end (late entries)


def _money(value: float) -> Decimal:
    return Decimal(str(round(float(value), 2)))


def _subject_filter(subject: Subject) -> Any:
    if subject.level == "company":
        return and_(SalesForecast.level == "company")
    if subject.level == "team":
        return and_(SalesForecast.level == "team", SalesForecast.team_id == subject.team_id)
    return and_(SalesForecast.level == "rep", SalesForecast.user_id == subject.user_id)


def _row(actor: Actor, result: SubjectForecast, *, currency: str, model_id: UUID | None) -> dict[str, Any]:
    actual = result.actual
    parts = [_money(result.booked), _money(result.pipeline), _money(result.run_rate)]
    total = sum(parts, Decimal(0))  # the stored parts add up to the stored whole
    return {
        "id": new_id(),
        "tenant_id": actor.tenant_id,
        "kind": result.kind,
        "level": result.subject.level,
        "user_id": result.subject.user_id,
        "team_id": result.subject.team_id,
        "forecast_period": result.period.kind,
        "period_start_date": result.period.start,
        "period_end_date": result.period.end,
        "forecast_date": result.forecast_date,
        "currency": currency,
        "forecasted_revenue": total,
        "confidence_interval_low": min(_money(result.lo_80), total),
        "confidence_interval_high": max(_money(result.hi_80), total),
        "confidence_interval_low_95": min(_money(result.lo_95), total),
        "confidence_interval_high_95": max(_money(result.hi_95), total),
        "booked_revenue": parts[0],
        "pipeline_revenue": parts[1],
        "run_rate_revenue": parts[2],
        "commit_amount": _money(result.commit),
        "best_case_amount": _money(result.best_case),
        "pipeline_amount": _money(result.pipeline_total),
        "actual_revenue": None if actual is None else _money(actual),
        "accuracy_percentage": None if actual is None else Decimal(str(accuracy_percentage(result.forecast, actual))),
        "model_id": model_id,
        "backtest": result.backtest,
        "details": {**result.details, "subjectName": result.subject.name, "baseline": _round(result.baseline)},
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def store_backtest(session: Session, actor: Actor, kind: str, results: list[SubjectForecast], *, currency: str) -> int:
    """Replace the workspace's back-test of one period kind."""
    session.execute(
        delete(SalesForecast).where(
            SalesForecast.tenant_id == actor.tenant_id,
            SalesForecast.kind == "backtest",
            SalesForecast.forecast_period == kind,
        )
    )
    rows = [_row(actor, r, currency=currency, model_id=None) for r in results]
    if rows:
        session.execute(insert(SalesForecast), rows)
    return len(rows)


def store_live(
    session: Session, actor: Actor, results: list[SubjectForecast], *, currency: str, model_id: UUID | None
) -> list[UUID]:
    """Store live forecasts with their breakdowns, replacing those of the same key; older forecasts of the same
    period lose their breakdown (kept for the latest only)."""
    ids = []
    for result in results:
        key = and_(
            SalesForecast.tenant_id == actor.tenant_id,
            SalesForecast.kind == "live",
            _subject_filter(result.subject),
            SalesForecast.forecast_period == result.period.kind,
            SalesForecast.period_start_date == result.period.start,
        )
        session.execute(delete(SalesForecast).where(key, SalesForecast.forecast_date == result.forecast_date))
        row = _row(actor, result, currency=currency, model_id=model_id)
        session.execute(insert(SalesForecast), [row])
        older = select(SalesForecast.id).where(key, SalesForecast.forecast_date < result.forecast_date)
        session.execute(
            delete(ForecastBreakdown).where(
                ForecastBreakdown.tenant_id == actor.tenant_id, ForecastBreakdown.forecast_id.in_(older)
            )
        )
        if result.deals is not None and result.deals.height:
            session.execute(insert(ForecastBreakdown), _breakdown_rows(actor, row["id"], result.deals))
        ids.append(row["id"])
    return ids


def _breakdown_rows(actor: Actor, forecast_id: UUID, deals: pl.DataFrame) -> list[dict[str, Any]]:
    out = []
    for d in deals.iter_rows(named=True):
        out.append(
            {
                "id": new_id(),
                "tenant_id": actor.tenant_id,
                "forecast_id": forecast_id,
                "deal_id": UUID(d["deal_id"]),
                "stage_id": UUID(d["stage_id"]) if d["stage_id"] else None,
                "amount": _money(d["amount"]),
                "expected_close_date": d["expected_close_date"],
                "forecasted_amount": _money(d["forecasted_amount"]),
                "confidence_percentage": Decimal(str(round(min(max(float(d["confidence"]), 0.0), 100.0), 2))),
                "category": d["category"],
                "category_source": d["source"],
                "age_days": d["age_days"],
            }
        )
    return out


def fill_actuals(session: Session, actor: Actor, history: History, as_of: date) -> int:
    """Actual revenue and accuracy for every live forecast whose period has closed (and is not yet filled, or
    closed within the last REFRESH_ACTUALS_DAYS days, for deals entered late)."""
    rows = session.execute(
        select(
            SalesForecast.id,
            SalesForecast.level,
            SalesForecast.user_id,
            SalesForecast.team_id,
            SalesForecast.forecast_period,
            SalesForecast.period_start_date,
            SalesForecast.period_end_date,
            SalesForecast.forecasted_revenue,
        ).where(
            SalesForecast.tenant_id == actor.tenant_id,
            SalesForecast.kind == "live",
            SalesForecast.period_end_date < as_of,
            (SalesForecast.actual_revenue.is_(None))
            | (SalesForecast.period_end_date >= as_of - timedelta(days=REFRESH_ACTUALS_DAYS)),
        )
    ).all()
    cache: dict[tuple[str, str, date], float] = {}
    for row in rows:
        subject = Subject(row.level, user_id=row.user_id, team_id=None if row.level == "rep" else row.team_id)
        period = Period(row.forecast_period, row.period_start_date, row.period_end_date)
        key = (subject.key, period.kind, period.start)
        if key not in cache:
            cache[key] = actual_revenue(history, subject, period)
        actual = cache[key]
        session.execute(
            update(SalesForecast)
            .where(SalesForecast.tenant_id == actor.tenant_id, SalesForecast.id == row.id)
            .values(
                actual_revenue=_money(actual),
                accuracy_percentage=Decimal(str(accuracy_percentage(float(row.forecasted_revenue), actual))),
            )
            .execution_options(synchronize_session=False)
        )
    return len(rows)


def record_method(
    session: Session,
    actor: Actor,
    *,
    as_of: date,
    history: History,
    summaries: dict[str, dict[str, Any]],
    probabilities: dict[str, Any],
    engine_models: dict[str, str],
    backtest_counts: dict[str, int],
) -> MlModel:
    """Record this run's method in the registry: its training window, the company back-test per period kind
    (error, bias, coverage, the nominal baseline's error), its settings and the learned table (an artefact).
    It becomes the active revenue forecast unless its back-test is worse than the baseline's."""
    company = {kind: {k: v for k, v in s.items() if k != "points"} for kind, s in summaries.items()}
    beats = [s.get("beatsBaseline") for s in company.values() if s.get("beatsBaseline") is not None]
    activate = all(beats) if beats else True
    main = company.get("quarter") or next(iter(company.values()), {})
    mape = main.get("meanAbsolutePercentageError")
    sha = registry.store_artifact(actor.tenant_id, {"asOf": as_of.isoformat(), "probabilities": probabilities})
    start = datetime.combine(history.first_snapshot, time.min, UTC) if history.first_snapshot else None
    return registry.record(
        session,
        actor,
        model_type=MODEL_TYPE,
        version=f"{METHOD_VERSION}.{as_of:%Y%m%d}",
        algorithm=ALGORITHM,
        training_start=start,
        training_end=datetime.combine(as_of, time.max, UTC),
        metrics={"backtest": company, "runRateModels": engine_models, "beatsBaseline": activate},
        hyperparameters={
            "ageEdgesDays": list(AGE_EDGES),
            "pseudoCount": PSEUDO_COUNT,
            "sampleEveryDays": SAMPLE_EVERY_DAYS,
            "draws": DRAWS,
            "categoryThresholds": dict(CATEGORY_THRESHOLDS),
            "backtestPeriods": backtest_counts,
            "currency": history.currency,
        },
        accuracy_score=None if mape is None else max(0.0, 1.0 - mape / 100.0),
        artifact_sha256=sha,
        activate=activate,
    )


def load_backtest(session: Session, actor: Actor, kind: str) -> dict[str, list[SubjectForecast]]:
    """The stored back-test of one period kind, by subject key (for a run that does not back-test again)."""
    rows = session.scalars(
        select(SalesForecast)
        .where(
            SalesForecast.tenant_id == actor.tenant_id,
            SalesForecast.kind == "backtest",
            SalesForecast.forecast_period == kind,
        )
        .order_by(SalesForecast.period_start_date)
    ).all()
    out: dict[str, list[SubjectForecast]] = {}
    for r in rows:
        subject = Subject(r.level, user_id=r.user_id, team_id=None if r.level == "rep" else r.team_id)
        out.setdefault(subject.key, []).append(
            SubjectForecast(
                subject=subject,
                period=Period(kind, r.period_start_date, r.period_end_date),
                forecast_date=r.forecast_date,
                kind="backtest",
                booked=float(r.booked_revenue),
                pipeline=float(r.pipeline_revenue),
                run_rate=float(r.run_rate_revenue),
                forecast=float(r.forecasted_revenue),
                lo_80=float(r.confidence_interval_low or 0),
                hi_80=float(r.confidence_interval_high or 0),
                lo_95=float(r.confidence_interval_low_95 or 0),
                hi_95=float(r.confidence_interval_high_95 or 0),
                actual=None if r.actual_revenue is None else float(r.actual_revenue),
                baseline=(r.details or {}).get("baseline"),
            )
        )
    return out
