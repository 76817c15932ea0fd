"""Page helpers of the forecasting page: the stored forecasts as plain rows (read through core.forecasts, which
applies each reader's scope), the chart of history, forecast and 80/95% bands, the accuracy card in words, the
tables (deals driving the forecast, reps against quota, forecast vs actual) and their CSV/XLSX export.

Only presentation lives here: every read goes through `core.forecasts.service` (reps see only their own, managers
their team's), every run is queued through `forecasts.queue_run` and computed by the worker.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

import altair as alt
import polars as pl
import streamlit as st

from app.ui import widgets as ui
from core.actor import Actor
from core.forecasts import service as forecasts
from core.forecasts.models import SalesForecast
from core.forecasts.periods import Period
from core.users import service as users

LEVELS = {"company": "Company", "team": "Team", "rep": "Rep"}
PERIODS = {"month": "Month", "quarter": "Quarter", "year": "Year"}
PLURAL = {"month": "months", "quarter": "quarters", "year": "years"}
CATEGORIES = {
    "won": "Won",
    "commit": "Commit",
    "best_case": "Best case",
    "pipeline": "Pipeline",
    "omitted": "Omitted",
}
SOURCES = {"owner": "set by owner", "derived": "from learned probability", "closed": "closed"}
TERMINAL = ("succeeded", "failed", "cancelled", "dead")


def _f(value: Decimal | float | None) -> float | None:
    return None if value is None else float(value)


@dataclass(frozen=True)
class Subject:
    """One forecast subject the actor may see for the current period: company, a team or a rep."""

    forecast_id: UUID
    level: str
    team_id: UUID | None
    user_id: UUID | None
    name: str


@dataclass
class Overview:
    """What the page's selectors offer: the subjects of the newest period of a kind, as the actor may see them."""

    period: Period | None
    label: str
    currency: str
    subjects: list[Subject] = field(default_factory=list)
    team_names: dict[UUID, str] = field(default_factory=dict)

    def levels(self) -> list[str]:
        present = {s.level for s in self.subjects}
        return [level for level in LEVELS if level in present]

    def teams(self) -> list[UUID]:
        seen = {s.team_id for s in self.subjects if s.level == "team" and s.team_id}
        seen |= {s.team_id for s in self.subjects if s.level == "rep" and s.team_id}
        return sorted(seen, key=lambda t: self.team_names.get(t, str(t)))

    def team_name(self, team_id: UUID | None) -> str:
        if team_id is None:
            return "No team"
        subject = next((s for s in self.subjects if s.level == "team" and s.team_id == team_id), None)
        return subject.name if subject else self.team_names.get(team_id, "Team")

    def reps(self, team_id: UUID | None) -> list[Subject]:
        return sorted(
            (s for s in self.subjects if s.level == "rep" and (team_id is None or s.team_id == team_id)),
            key=lambda s: s.name,
        )

    def find(self, level: str, team_id: UUID | None, user_id: UUID | None) -> Subject | None:
        for s in self.subjects:
            if s.level != level:
                continue
            if (
                level == "company"
                or (level == "team" and s.team_id == team_id)
                or (level == "rep" and s.user_id == user_id)
            ):
                return s
        return None


def overview(session: Any, actor: Actor, kind: str) -> Overview:
    """The newest live period of `kind` and the subjects forecast for it that `actor` may see."""
    currency = forecasts.tenant_currency(session, actor)
    fiscal = forecasts.fiscal_start_month(session, actor)
    newest, _ = forecasts.list_forecasts(session, actor, period=kind, limit=1)
    if not newest:
        return Overview(None, "", currency)
    start = newest[0].period_start_date
    period = Period(kind, start, newest[0].period_end_date)
    rows, _ = forecasts.list_forecasts(session, actor, period=kind, period_start=start, limit=1000)
    team_names = {t.id: t.name for t in users.list_teams(session, actor)} if actor.can("teams", "read") else {}
    subjects = [
        Subject(
            r.id,
            r.level,
            r.team_id,
            r.user_id,
            str((r.details or {}).get("subjectName") or ("Company" if r.level == "company" else r.level)),
        )
        for r in rows
    ]
    return Overview(period, period.label(fiscal), currency, subjects, team_names)


@dataclass
class Detail:
    """One forecast as the page shows it."""

    forecast: SalesForecast
    attainment: dict[str, Any]
    deals: list[dict[str, Any]]
    history: list[dict[str, Any]]  # forecast vs actual of past periods, oldest first
    reps: list[dict[str, Any]]  # reps of the same period (within the subject) against quota
    owner_names: dict[UUID, str]
    label: str


def _history_row(f: SalesForecast, source: str, label: str) -> dict[str, Any]:
    actual = _f(f.actual_revenue)
    predicted = float(f.forecasted_revenue)
    error = None if not actual else (predicted - actual) / actual * 100
    low, high = _f(f.confidence_interval_low), _f(f.confidence_interval_high)
    return {
        "period": label,
        "period_start": f.period_start_date,
        "source": source,
        "forecast": predicted,
        "low_80": low,
        "high_80": high,
        "low_95": _f(f.confidence_interval_low_95),
        "high_95": _f(f.confidence_interval_high_95),
        "actual": actual,
        "error_pct": None if error is None else round(error, 1),
        "in_80": None if actual is None or low is None or high is None else low <= actual <= high,
    }


def detail(session: Any, actor: Actor, forecast_id: UUID) -> Detail:
    """A forecast with its quota, the deals behind it, its back-test and past forecasts against actuals, and the
    reps within it against quota."""
    fiscal = forecasts.fiscal_start_month(session, actor)
    f = forecasts.get_forecast(session, actor, forecast_id)
    period = Period(f.forecast_period, f.period_start_date, f.period_end_date)
    history = {
        b.period_start_date: _history_row(
            b, "back-test", Period(b.forecast_period, b.period_start_date, b.period_end_date).label(fiscal)
        )
        for b in forecasts.backtest_history(session, actor, f)
    }
    # Live forecasts of closed periods (made as each began) beat the back-test's reconstruction of them.
    past, _ = forecasts.list_forecasts(
        session,
        actor,
        level=f.level,
        period=f.forecast_period,
        team_id=f.team_id if f.level == "team" else None,
        user_id=f.user_id,
        pick="first",
        limit=100,
    )
    for p in past:
        if p.actual_revenue is None or p.period_start_date >= f.period_start_date:
            continue
        if f.level == "company" and p.level != "company":
            continue
        history[p.period_start_date] = _history_row(
            p, "live", Period(p.forecast_period, p.period_start_date, p.period_end_date).label(fiscal)
        )
    reps: list[dict[str, Any]] = []
    if f.level in ("company", "team"):
        rows, _ = forecasts.list_forecasts(
            session,
            actor,
            level="rep",
            period=f.forecast_period,
            period_start=f.period_start_date,
            team_id=f.team_id if f.level == "team" else None,
            limit=1000,
        )
    else:
        rows = [f]
    for r in rows:
        reach = forecasts.attainment(session, actor, r)
        reps.append(
            {
                "rep": str((r.details or {}).get("subjectName") or "Rep"),
                "booked": _f(reach["booked"]),
                "forecast": _f(reach["forecast"]),
                "quota": _f(reach["quota"]),
                "attainment": reach["attainment"],
                "forecast_attainment": reach["forecastAttainment"],
                "gap": _f(reach["gap"]),
            }
        )
    reps.sort(key=lambda r: (r["forecast_attainment"] is None, -(r["forecast_attainment"] or 0), r["rep"]))
    owners = {u.id: f"{u.first_name} {u.last_name}" for u in users.list_users(session, actor, limit=1000)[0]}
    return Detail(
        f,
        forecasts.attainment(session, actor, f),
        forecasts.breakdown(session, actor, f),
        [history[k] for k in sorted(history)],
        reps,
        owners,
        period.label(fiscal),
    )


# The chart -----------------------------------------------------------------------------------------------------


def chart_frame(d: Detail) -> pl.DataFrame:
    """Past periods (actual, and what the method said at their start) and the current period's forecast, with
    their 80% and 95% bands, one row per period."""
    rows = [
        {
            "period": h["period"],
            "start": h["period_start"],
            "kind": "past",
            "actual": h["actual"],
            "forecast": h["forecast"],
            "low_80": h["low_80"],
            "high_80": h["high_80"],
            "low_95": h["low_95"],
            "high_95": h["high_95"],
        }
        for h in d.history
    ]
    f = d.forecast
    rows.append(
        {
            "period": d.label,
            "start": f.period_start_date,
            "kind": "current",
            "actual": None,
            "forecast": float(f.forecasted_revenue),
            "low_80": _f(f.confidence_interval_low),
            "high_80": _f(f.confidence_interval_high),
            "low_95": _f(f.confidence_interval_low_95),
            "high_95": _f(f.confidence_interval_high_95),
        }
    )
    schema = {
        "period": pl.String,
        "start": pl.Date,
        "kind": pl.String,
        **dict.fromkeys(("actual", "forecast", "low_80", "high_80", "low_95", "high_95"), pl.Float64),
    }
    return pl.DataFrame(rows, schema=schema)


def chart(d: Detail, currency: str) -> Any:
    frame = chart_frame(d).to_pandas()
    order = list(frame["period"])
    x = alt.X("period:N", sort=order, title=None, axis=alt.Axis(labelAngle=0))
    money = f"{currency} "
    base = alt.Chart(frame)
    band95 = base.mark_area(opacity=0.18, color="#4c78a8").encode(
        x=x, y=alt.Y("low_95:Q", title=f"Revenue ({currency})"), y2="high_95:Q"
    )
    band80 = base.mark_area(opacity=0.32, color="#4c78a8").encode(x=x, y="low_80:Q", y2="high_80:Q")
    tooltip = [
        alt.Tooltip("period:N", title="Period"),
        alt.Tooltip("forecast:Q", title=f"Forecast ({money.strip()})", format=",.0f"),
        alt.Tooltip("low_80:Q", title="80% low", format=",.0f"),
        alt.Tooltip("high_80:Q", title="80% high", format=",.0f"),
        alt.Tooltip("low_95:Q", title="95% low", format=",.0f"),
        alt.Tooltip("high_95:Q", title="95% high", format=",.0f"),
        alt.Tooltip("actual:Q", title="Actual", format=",.0f"),
    ]
    predicted = base.mark_line(point=True, strokeDash=[5, 3], color="#4c78a8").encode(
        x=x, y="forecast:Q", tooltip=tooltip
    )
    actual = (
        base.transform_filter("datum.actual != null")
        .mark_line(point=True, color="#e45756", strokeWidth=2.5)
        .encode(x=x, y="actual:Q", tooltip=tooltip)
    )
    return alt.layer(band95, band80, predicted, actual).properties(height=320)


# The accuracy card ---------------------------------------------------------------------------------------------


def _pct(value: Any, signed: bool = False) -> str:
    if value is None:
        return "—"
    return f"{float(value):+.0f}%" if signed else f"{float(value):.0f}%"


def accuracy_words(summary: dict[str, Any] | None, kind: str) -> str:
    """The back-test in one sentence: "Over the last 8 quarters this forecast was within ±x% of the actual ..."."""
    if not summary or not summary.get("periods"):
        return (summary or {}).get(
            "sentence"
        ) or f"Not enough history yet to back-test this forecast on past {PLURAL[kind]}."
    sentence = summary.get("sentence")
    if sentence:
        return str(sentence)
    n = summary["periods"]
    return (
        f"Over the last {n} {PLURAL[kind] if n > 1 else kind} this forecast was within "
        f"±{float(summary.get('withinPercentage') or 0):.0f}% of the actual, biased "
        f"{float(summary.get('biasPercentage') or 0):+.0f}%."
    )


def baseline_words(summary: dict[str, Any] | None) -> str | None:
    """The learned method against the usual CRM baseline (booked + open deals x stage probability)."""
    if not summary:
        return None
    mine, base = summary.get("meanAbsolutePercentageError"), summary.get("baselineMeanAbsolutePercentageError")
    if mine is None or base is None:
        return None
    better = float(mine) <= float(base)
    return (
        f"The learned forecast was {_pct(mine)} off on average; the weighted pipeline at stage probabilities "
        f"(booked + open deals × stage probability) would have been {_pct(base)} off — "
        + ("the learned one is better." if better else "on this history the simple one did better.")
    )


def accuracy_card(d: Detail) -> None:
    f = d.forecast
    summary = f.backtest or {}
    with st.container(border=True):
        st.markdown("**How far to trust it**")
        st.markdown(accuracy_words(summary, f.forecast_period))
        if summary.get("periods"):
            cols = st.columns(4)
            cols[0].metric(
                "Back-test error",
                _pct(summary.get("meanAbsolutePercentageError")),
                help="Mean absolute percentage error over the back-tested periods",
            )
            cols[1].metric(
                "Bias",
                _pct(summary.get("biasPercentage"), signed=True),
                help="Sum of forecasts / sum of actuals − 1 (positive: too high)",
            )
            cols[2].metric(
                "Baseline error",
                _pct(summary.get("baselineMeanAbsolutePercentageError")),
                help="The weighted pipeline at nominal stage probabilities, back-tested the same way",
            )
            cov80, cov95 = summary.get("coverage80"), summary.get("coverage95")
            cols[3].metric(
                "Interval coverage",
                "—" if cov80 is None else f"{float(cov80):.0%} / {float(cov95 or 0):.0%}",
                help="Share of back-tested actuals inside the 80% / 95% intervals",
            )
            words = baseline_words(summary)
            if words:
                st.caption(words)
        model = (f.details or {}).get("runRateModel")
        intervals = (f.details or {}).get("intervals")
        notes = []
        if model:
            notes.append(f"Run-rate of deals not created yet: {model} (chosen by the engine's back-test)")
        if intervals:
            notes.append(f"Intervals: {intervals}")
        if notes:
            st.caption(" · ".join(notes))


# Tables --------------------------------------------------------------------------------------------------------


def deals_frame(d: Detail) -> pl.DataFrame:
    rows = [
        {
            "deal": r["deal_name"] or "(not yours to see)",
            "link": ui.detail_url("deal", r["deal_id"]) if r["deal_id"] and r["deal_name"] else None,
            "owner": d.owner_names.get(r["owner_id"], "—") if r["owner_id"] else "—",
            "stage": r["stage_name"] or "",
            "category": CATEGORIES.get(r["category"], r["category"]),
            "category_source": SOURCES.get(r["category_source"], r["category_source"]),
            "amount": _f(r["amount"]),
            "probability": None if r["confidence_percentage"] is None else float(r["confidence_percentage"]) / 100,
            "forecast": _f(r["forecasted_amount"]),
            "expected_close": r["expected_close_date"],
            "age_days": r["age_days"],
        }
        for r in d.deals
    ]
    schema = {
        "deal": pl.String,
        "link": pl.String,
        "owner": pl.String,
        "stage": pl.String,
        "category": pl.String,
        "category_source": pl.String,
        "amount": pl.Float64,
        "probability": pl.Float64,
        "forecast": pl.Float64,
        "expected_close": pl.Date,
        "age_days": pl.Int64,
    }
    return pl.DataFrame(rows, schema=schema)


DEAL_COLUMNS: dict[str, Any] = {
    "deal": st.column_config.TextColumn("Deal"),
    "link": st.column_config.LinkColumn(" ", display_text="Open", width="small", help="Open the deal"),
    "owner": st.column_config.TextColumn("Owner"),
    "stage": st.column_config.TextColumn("Stage"),
    "category": st.column_config.TextColumn("Category"),
    "category_source": st.column_config.TextColumn("Category from"),
    "amount": st.column_config.NumberColumn("Amount", format="localized"),
    "probability": st.column_config.NumberColumn("Win probability", format="percent"),
    "forecast": st.column_config.NumberColumn("In the forecast", format="localized"),
    "expected_close": st.column_config.DateColumn("Expected close", format="YYYY-MM-DD"),
    "age_days": st.column_config.NumberColumn("Age (days)"),
}

REP_COLUMNS: dict[str, Any] = {
    "rep": st.column_config.TextColumn("Rep"),
    "booked": st.column_config.NumberColumn("Booked", format="localized"),
    "forecast": st.column_config.NumberColumn("Forecast", format="localized"),
    "quota": st.column_config.NumberColumn("Quota", format="localized"),
    "attainment": st.column_config.ProgressColumn("Attainment (booked)", format="percent", min_value=0, max_value=1),
    "forecast_attainment": st.column_config.NumberColumn("Forecast / quota", format="percent"),
    "gap": st.column_config.NumberColumn("Gap to quota", format="localized", help="Quota − forecast"),
}

HISTORY_COLUMNS: dict[str, Any] = {
    "period": st.column_config.TextColumn("Period"),
    "period_start": None,
    "source": st.column_config.TextColumn(
        "Forecast from", help="live: stored as the period began; back-test: what the method would have said then"
    ),
    "forecast": st.column_config.NumberColumn("Forecast", format="localized"),
    "low_80": st.column_config.NumberColumn("80% low", format="localized"),
    "high_80": st.column_config.NumberColumn("80% high", format="localized"),
    "low_95": None,
    "high_95": None,
    "actual": st.column_config.NumberColumn("Actual", format="localized"),
    "error_pct": st.column_config.NumberColumn("Error %", format="%+.1f%%"),
    "in_80": st.column_config.CheckboxColumn("Inside 80%"),
}


def summary_rows(d: Detail, subject: str, currency: str) -> list[dict[str, Any]]:
    f, reach = d.forecast, d.attainment
    return [
        {"field": "Subject", "value": subject},
        {"field": "Period", "value": d.label},
        {"field": "Forecast made as of", "value": f.forecast_date.isoformat()},
        {"field": "Currency", "value": currency},
        {"field": "Forecast", "value": float(f.forecasted_revenue)},
        {"field": "80% low", "value": _f(f.confidence_interval_low)},
        {"field": "80% high", "value": _f(f.confidence_interval_high)},
        {"field": "95% low", "value": _f(f.confidence_interval_low_95)},
        {"field": "95% high", "value": _f(f.confidence_interval_high_95)},
        {"field": "Booked", "value": float(f.booked_revenue)},
        {"field": "Commit", "value": float(f.commit_amount)},
        {"field": "Best case", "value": float(f.best_case_amount)},
        {"field": "Pipeline", "value": float(f.pipeline_amount)},
        {"field": "Quota", "value": _f(reach["quota"])},
        {"field": "Gap to quota", "value": _f(reach["gap"])},
        {"field": "Back-test", "value": accuracy_words(f.backtest, f.forecast_period)},
    ]


def to_csv(d: Detail) -> bytes:
    """The deals driving the forecast, as shown (without the link column)."""
    return deals_frame(d).drop("link").write_csv().encode()


def to_xlsx(d: Detail, subject: str, currency: str) -> bytes:
    """Sheets: Forecast (the figures and the back-test sentence), Deals, Reps, Forecast vs actual."""
    buffer = io.BytesIO()
    summary = pl.DataFrame(
        [
            {"field": r["field"], "value": "" if r["value"] is None else str(r["value"])}
            for r in summary_rows(d, subject, currency)
        ]
    )
    history = pl.DataFrame(d.history) if d.history else pl.DataFrame({"period": []}, schema={"period": pl.String})
    reps = pl.DataFrame(d.reps) if d.reps else pl.DataFrame({"rep": []}, schema={"rep": pl.String})
    import xlsxwriter

    with xlsxwriter.Workbook(buffer, {"in_memory": True}) as book:
        summary.write_excel(book, worksheet="Forecast", autofit=True)
        deals_frame(d).drop("link").write_excel(book, worksheet="Deals", autofit=True)
        reps.write_excel(book, worksheet="Reps", autofit=True)
        history.write_excel(book, worksheet="Forecast vs actual", autofit=True)
    return buffer.getvalue()


def file_stem(subject: str, label: str) -> str:
    safe = "".join(c if c.isalnum() else "-" for c in f"forecast-{subject}-{label}".lower())
    return "-".join(part for part in safe.split("-") if part)


def day(value: date | None) -> str:
    return "—" if value is None else value.isoformat()
