"""Revenue forecasts for the CRM: company, team and rep; month, quarter and (fiscal) year; in the workspace
currency. Three views of the same period, combined into one forecast with 80% and 95% intervals:

- **booked**: revenue won in the period up to the forecast date;
- **pipeline**: each deal open at the forecast date, weighted by the probability *learned from this workspace's
  history* that a deal in its stage, of its age, closes won within the rest of the period. It is counted on the
  warehouse's daily pipeline snapshots (`fact_pipeline_snapshot`): of the deals that stood in that stage at that
  age on past days, how many were won within that many days. Not the stage's nominal probability;
- **run-rate**: revenue from deals not yet created, that will be created and won before the period ends: the
  forecasting engine (`ai.forecasting.forecast`) on each subject's monthly won revenue, times the share of won
  revenue whose deal was created that soon before it closed (this workspace's sales cycles).

Each forecast also says how far it can be trusted: the same method, run at the start of each of the last N
closed periods with only what was known then (the snapshot of that day, deals won before it, the won-revenue
history up to it), against what happened (`backtest`). Point in time is the rule: nothing at or after an
origin is read to make that origin's forecast (see the leakage test).

Deals in another currency than the workspace's are left out (there is no exchange rate to apply); their count
is reported. Everything here reads one read-only warehouse connection; storing is in revenue_store.py.
"""

from __future__ import annotations

import calendar
import math
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any
from uuid import UUID

import duckdb
import numpy as np
import polars as pl

from core.forecasts.periods import Period, closed_periods, period_of

MODEL_TYPE = "revenue_forecast"
METHOD_VERSION = "1"
ALGORITHM = "booked + learned pipeline (stage x age) + engine run-rate, Monte Carlo intervals"
LEVELS = ("company", "team", "rep")
PERIOD_KINDS = ("month", "quarter", "year")
DEFAULT_BACKTEST = {"month": 12, "quarter": 8, "year": 3}
AGE_EDGES = (15, 30, 60, 120, 240)  # days since the deal was created: 0-14, 15-29, ..., 240+
SAMPLE_EVERY_DAYS = 7  # learning samples: the snapshot of one day a week (a Monday)
PSEUDO_COUNT = 10.0  # shrinkage of a (stage, age) cell towards its stage, and of a stage towards all stages
MIN_HISTORY_DAYS = 90  # an origin needs this much snapshot history before it to be back-tested
DRAWS = 4000
CATEGORY_THRESHOLDS = (("commit", 0.6), ("best_case", 0.3), ("pipeline", 0.05))  # else omitted
Z95 = 1.959964
Z80 = 1.281552


@dataclass(frozen=True)
class Subject:
    """Whom a forecast is for: the company, a team, or a rep (a deal owner)."""

    level: str
    user_id: UUID | None = None
    team_id: UUID | None = None
    name: str = ""

    @property
    def key(self) -> str:
        if self.level == "company":
            return "company"
        return f"team:{self.team_id}" if self.level == "team" else f"rep:{self.user_id}"


@dataclass
class SubjectForecast:
    """One subject's forecast of one period as of one day (`kind` live or backtest)."""

    subject: Subject
    period: Period
    forecast_date: date
    kind: str
    booked: float
    pipeline: float
    run_rate: float
    forecast: float
    lo_80: float
    hi_80: float
    lo_95: float
    hi_95: float
    commit: float = 0.0
    best_case: float = 0.0
    pipeline_total: float = 0.0
    actual: float | None = None
    baseline: float | None = None
    deals: pl.DataFrame | None = None  # breakdown rows (live forecasts)
    details: dict[str, Any] = field(default_factory=dict)
    backtest: dict[str, Any] | None = None


# Reading the warehouse -------------------------------------------------------------------------------------------


@dataclass
class History:
    """What the warehouse knows, read once per run. Dates are the workspace's calendar days."""

    currency: str
    deals: pl.DataFrame  # one row per deal in the workspace currency
    samples: pl.DataFrame  # weekly snapshot rows: t, deal_id, stage_id, age_days, won_date
    stages: pl.DataFrame  # stage_id, stage_name, probability, display_order
    users: pl.DataFrame  # user_id, full_name, team_id, team_name, is_active
    first_snapshot: date | None
    foreign_deals: int  # deals in another currency, left out
    snapshots: dict[date, pl.DataFrame] = field(default_factory=dict)


def read_history(con: duckdb.DuckDBPyConnection, *, currency: str) -> History:
    """Deals, weekly learning samples, stages and users from a tenant's warehouse connection."""
    deals = con.sql(
        """
        SELECT deal_id::VARCHAR AS deal_id, name, owner_id::VARCHAR AS owner_id, team_id::VARCHAR AS team_id,
               CAST(coalesce(amount, 0) AS DOUBLE) AS amount, currency, status, stage_id::VARCHAR AS stage_id,
               probability, created_date, expected_close_date, actual_close_date,
               CASE WHEN status = 'won' THEN actual_close_date END AS won_date
        FROM fact_deals ORDER BY deal_id
        """
    ).pl()
    foreign = int(deals.filter(pl.col("currency") != currency).height)
    deals = deals.filter(pl.col("currency") == currency).drop("currency")
    samples = con.sql(
        f"""
        SELECT s.snapshot_date AS t, s.deal_id::VARCHAR AS deal_id, s.stage_id::VARCHAR AS stage_id,
               date_diff('day', d.created_date, s.snapshot_date) AS age_days,
               CASE WHEN d.status = 'won' THEN d.actual_close_date END AS won_date
        FROM fact_pipeline_snapshot s JOIN fact_deals d ON d.deal_id = s.deal_id
        WHERE d.currency = $currency
          AND date_diff('day', DATE '2000-01-03', s.snapshot_date) % {SAMPLE_EVERY_DAYS} = 0
        ORDER BY s.snapshot_date, s.deal_id
        """,
        params={"currency": currency},
    ).pl()
    stages = con.sql(
        "SELECT stage_id::VARCHAR AS stage_id, stage_name, probability, display_order, is_closed"
        " FROM dim_pipeline_stage"
    ).pl()
    users = con.sql(
        "SELECT user_id::VARCHAR AS user_id, full_name, team_id::VARCHAR AS team_id, team_name, is_active FROM dim_user"
    ).pl()
    first = con.execute("SELECT min(snapshot_date) FROM fact_pipeline_snapshot").fetchall()
    return History(
        currency=currency,
        deals=deals,
        samples=samples,
        stages=stages,
        users=users,
        first_snapshot=first[0][0] if first else None,
        foreign_deals=foreign,
    )


def snapshot_at(con: duckdb.DuckDBPyConnection, history: History, day: date) -> pl.DataFrame:
    """The deals open at the end of `day` as the snapshot of that day recorded them (stage, amount, nominal
    probability at the time), with their age that day; cached on the history."""
    if day not in history.snapshots:
        rows = con.sql(
            """
            SELECT s.deal_id::VARCHAR AS deal_id, s.stage_id::VARCHAR AS stage_id,
                   CAST(coalesce(s.amount, 0) AS DOUBLE) AS amount, s.probability AS nominal_probability,
                   date_diff('day', d.created_date, s.snapshot_date) AS age_days
            FROM fact_pipeline_snapshot s JOIN fact_deals d ON d.deal_id = s.deal_id
            WHERE s.snapshot_date = $day AND d.currency = $currency
            ORDER BY s.deal_id
            """,
            params={"day": day, "currency": history.currency},
        ).pl()
        # Owner, team, name and expected close date: the deal's (the snapshot keeps stage and amount).
        info = history.deals.select("deal_id", "name", "owner_id", "team_id", "expected_close_date")
        history.snapshots[day] = rows.join(info, on="deal_id", how="left").sort("deal_id")
    return history.snapshots[day]


def subjects_of(history: History, levels: Sequence[str] = LEVELS) -> list[Subject]:
    """The company, every team with a member who owns deals, and every deal owner."""
    owners = set(history.deals.get_column("owner_id").drop_nulls().to_list())
    users = history.users.filter(pl.col("user_id").is_in(sorted(owners)))
    out: list[Subject] = []
    if "company" in levels:
        out.append(Subject("company", name="Company"))
    if "team" in levels:
        teams = users.filter(pl.col("team_id").is_not_null()).unique("team_id").sort("team_name")
        for row in teams.iter_rows(named=True):
            out.append(Subject("team", team_id=UUID(row["team_id"]), name=row["team_name"] or ""))
    if "rep" in levels:
        for row in users.sort("full_name", "user_id").iter_rows(named=True):
            team = UUID(row["team_id"]) if row["team_id"] else None
            out.append(Subject("rep", user_id=UUID(row["user_id"]), team_id=team, name=row["full_name"] or ""))
    return out


def _of_subject(frame: pl.DataFrame, subject: Subject) -> pl.DataFrame:
    if subject.level == "team":
        return frame.filter(pl.col("team_id") == str(subject.team_id))
    if subject.level == "rep":
        return frame.filter(pl.col("owner_id") == str(subject.user_id))
    return frame


# The learned probabilities -----------------------------------------------------------------------------------


def age_bucket(days: pl.Expr) -> pl.Expr:
    """0..len(AGE_EDGES): which age band a deal of `days` days falls in."""
    expr = pl.lit(0, dtype=pl.Int32)
    for edge in AGE_EDGES:
        expr = expr + (days >= edge).cast(pl.Int32)
    return expr


def bucket_label(bucket: int) -> str:
    bounds = (0, *AGE_EDGES)
    if bucket >= len(AGE_EDGES):
        return f"{AGE_EDGES[-1]}+ days"
    return f"{bounds[bucket]}-{bounds[bucket + 1] - 1} days"


@dataclass(frozen=True)
class Probabilities:
    """How often deals closed won within `window_days`, learned from the samples observed fully before `origin`
    (a sample of day t counts only when t + window <= origin): by stage and age band, shrunk towards the stage
    and the stage towards all stages. `overall` is None when there was no history at all."""

    origin: date
    window_days: int
    overall: float | None
    samples: int
    cells: pl.DataFrame  # stage_id, bucket, n, won, p (smoothed)
    stages: pl.DataFrame  # stage_id, n, won, p

    def lookup(self, frame: pl.DataFrame) -> pl.DataFrame:
        """`frame` (stage_id, age_days, nominal_probability) with `p` and `p_source`: the cell's learned value,
        else the stage's, else all stages', else (no history at all) the stage's nominal probability."""
        frame = frame.with_columns(age_bucket(pl.col("age_days")).alias("bucket"))
        cells = self.cells.select("stage_id", "bucket", pl.col("p").alias("p_cell"))
        stages = self.stages.select("stage_id", pl.col("p").alias("p_stage"))
        out = frame.join(cells, on=["stage_id", "bucket"], how="left").join(stages, on="stage_id", how="left")
        overall = pl.lit(self.overall, dtype=pl.Float64)
        nominal = pl.col("nominal_probability").cast(pl.Float64) / 100.0
        return out.with_columns(
            pl.coalesce("p_cell", "p_stage", overall, nominal).alias("p"),
            pl.when(pl.col("p_cell").is_not_null())
            .then(pl.lit("stage x age"))
            .when(pl.col("p_stage").is_not_null())
            .then(pl.lit("stage"))
            .when(overall.is_not_null())
            .then(pl.lit("all stages"))
            .otherwise(pl.lit("nominal (no history)"))
            .alias("p_source"),
        ).drop("p_cell", "p_stage")


def _quarter_index(day: pl.Expr, fiscal_start_month: int) -> pl.Expr:
    return (day.dt.year().cast(pl.Int32) * 12 + day.dt.month().cast(pl.Int32) - fiscal_start_month) // 3


def crosses_quarter_end(start: date, window_days: int, fiscal_start_month: int = 1) -> bool:
    """Whether the days after `start`, `window_days` of them, include the last day of a fiscal quarter."""
    first, after = start + timedelta(days=1), start + timedelta(days=window_days + 1)

    def index(day: date) -> int:
        return (day.year * 12 + day.month - fiscal_start_month) // 3

    return window_days > 0 and index(first) != index(after)


MIN_CONDITIONED_SAMPLES = 200


def learn(
    samples: pl.DataFrame,
    *,
    origin: date,
    window_days: int,
    quarter_end: bool | None = None,
    fiscal_start_month: int = 1,
) -> Probabilities:
    """Learn P(won within `window_days` | stage, age band) from samples known by the end of `origin`.

    With `quarter_end` (True or False), only samples whose window did (or did not) include a fiscal quarter's
    last day count, as long as there are MIN_CONDITIONED_SAMPLES of them: deals close differently when a quarter
    ends within the window (quarter-end pushes)."""
    window = timedelta(days=window_days)
    known = samples.filter(pl.col("t") + window <= origin).with_columns(
        (
            pl.col("won_date").is_not_null()
            & (pl.col("won_date") > pl.col("t"))
            & (pl.col("won_date") <= pl.col("t") + window)
        ).alias("won"),
        age_bucket(pl.col("age_days")).alias("bucket"),
    )
    if quarter_end is not None and window_days > 0:
        crosses = _quarter_index(pl.col("t") + timedelta(days=1), fiscal_start_month) != _quarter_index(
            pl.col("t") + timedelta(days=window_days + 1), fiscal_start_month
        )
        matching = known.filter(crosses == quarter_end)
        if matching.height >= MIN_CONDITIONED_SAMPLES:
            known = matching
    n_all = known.height
    empty_cells = pl.DataFrame(
        schema={"stage_id": pl.String, "bucket": pl.Int32, "n": pl.UInt32, "won": pl.UInt32, "p": pl.Float64}
    )
    empty_stages = pl.DataFrame(schema={"stage_id": pl.String, "n": pl.UInt32, "won": pl.UInt32, "p": pl.Float64})
    if n_all == 0:
        return Probabilities(origin, window_days, None, 0, empty_cells, empty_stages)
    overall = float(known.get_column("won").sum()) / n_all
    k = PSEUDO_COUNT
    stages = (
        known.group_by("stage_id")
        .agg(pl.len().alias("n"), pl.col("won").sum().cast(pl.UInt32).alias("won"))
        .with_columns(((pl.col("won") + k * overall) / (pl.col("n") + k)).alias("p"))
    )
    cells = (
        known.group_by("stage_id", "bucket")
        .agg(pl.len().alias("n"), pl.col("won").sum().cast(pl.UInt32).alias("won"))
        .join(stages.select("stage_id", pl.col("p").alias("p_stage")), on="stage_id")
        .with_columns(((pl.col("won") + k * pl.col("p_stage")) / (pl.col("n") + k)).alias("p"))
        .drop("p_stage")
    )
    return Probabilities(origin, window_days, overall, n_all, cells.sort("stage_id", "bucket"), stages.sort("stage_id"))


def probability_table(history: History, probabilities: Probabilities) -> list[dict[str, Any]]:
    """The learned table in words (stage name, age band, samples, won, probability), for the registry and docs."""
    names = history.stages.select("stage_id", "stage_name", "display_order")
    rows = probabilities.cells.join(names, on="stage_id", how="left").sort("display_order", "bucket")
    return [
        {
            "stage": r["stage_name"],
            "age": bucket_label(int(r["bucket"])),
            "samples": int(r["n"]),
            "won": int(r["won"]),
            "probability": round(float(r["p"]), 4),
        }
        for r in rows.iter_rows(named=True)
    ]


# Booked and actual -------------------------------------------------------------------------------------------


def won_between(history: History, first: date, last: date) -> pl.DataFrame:
    """Deals won from `first` to `last` (inclusive), by their close date."""
    return history.deals.filter(
        pl.col("won_date").is_not_null() & (pl.col("won_date") >= first) & (pl.col("won_date") <= last)
    )


def actual_revenue(history: History, subject: Subject, period: Period) -> float:
    return float(_of_subject(won_between(history, period.start, period.end), subject).get_column("amount").sum())


# Run-rate ----------------------------------------------------------------------------------------------------


def _month_index(day: date) -> int:
    return day.year * 12 + day.month - 1


def _month_start(index: int) -> date:
    return date(index // 12, index % 12 + 1, 1)


def last_complete_month(origin: date) -> int:
    """The last month whose every day is known at the end of `origin`."""
    index = _month_index(origin)
    last_day = calendar.monthrange(origin.year, origin.month)[1]
    return index if origin.day == last_day else index - 1


def monthly_won_series(history: History, subjects: Sequence[Subject], origin: date) -> pl.DataFrame:
    """Each subject's won revenue per month (`unique_id`, `ds` = the month's first day, `y`), from the month of
    its first deal to the last month complete at `origin`, zeros included. Only deals won by then count."""
    end = last_complete_month(origin)
    known = history.deals.filter(pl.col("created_date") <= origin)
    won = known.filter(pl.col("won_date").is_not_null() & (pl.col("won_date") <= _month_end(end)))
    parts = []
    for subject in subjects:
        mine = _of_subject(known, subject)
        if mine.height == 0:
            continue
        start = _month_index(mine.get_column("created_date").min())  # type: ignore[arg-type]
        if start > end:
            continue
        months = list(range(start, end + 1))
        totals = (
            _of_subject(won, subject)
            .with_columns((pl.col("won_date").dt.year() * 12 + pl.col("won_date").dt.month() - 1).alias("m"))
            .group_by("m")
            .agg(pl.col("amount").sum())
        )
        by_month = dict(zip(totals.get_column("m").to_list(), totals.get_column("amount").to_list(), strict=True))
        parts.append(
            pl.DataFrame(
                {
                    "unique_id": [subject.key] * len(months),
                    "ds": [_month_start(m) for m in months],
                    "y": [float(by_month.get(m, 0.0)) for m in months],
                },
                schema={"unique_id": pl.String, "ds": pl.Date, "y": pl.Float64},
            )
        )
    if not parts:
        return pl.DataFrame(schema={"unique_id": pl.String, "ds": pl.Date, "y": pl.Float64})
    return pl.concat(parts)


def _month_end(index: int) -> date:
    start = _month_start(index)
    return date(start.year, start.month, calendar.monthrange(start.year, start.month)[1])


def cycle_share(history: History, origin: date, max_days: int) -> np.ndarray:
    """G[d] for d = 0..max_days: the share of won revenue (deals won by `origin`) whose deal was created fewer
    than d days before it closed, i.e. the part of a day's wins that a deal created d days later still makes."""
    won = history.deals.filter(pl.col("won_date").is_not_null() & (pl.col("won_date") <= origin))
    share = np.zeros(max_days + 1)
    if won.height == 0:
        return share
    cycle = (won.get_column("won_date") - won.get_column("created_date")).dt.total_days().to_numpy()
    amount = won.get_column("amount").to_numpy().astype(float)
    total = amount.sum()
    if total <= 0:
        return share
    cycle = np.clip(cycle, 0, None)
    per_day = np.bincount(np.minimum(cycle, max_days + 1).astype(int), weights=amount, minlength=max_days + 2)
    share[1:] = np.cumsum(per_day)[:max_days] / total  # G[d] = sum over cycle < d
    return share


@dataclass(frozen=True)
class EngineMonths:
    """The engine's monthly forecast of one subject from one origin: steps 1..h after the last complete month."""

    first_month: int
    yhat: np.ndarray
    sigma: np.ndarray
    model: str


def engine_forecast(series: pl.DataFrame, horizon: int) -> dict[str, EngineMonths]:
    """Run the forecasting engine on monthly series (any ids); per id its months ahead of its last month."""
    from ai.forecasting import forecast

    if series.height == 0 or horizon <= 0:
        return {}
    result = forecast(series, horizon=horizon, freq="M", levels=(80, 95))
    frame = result.forecasts.sort("unique_id", "ds")
    last = series.group_by("unique_id").agg(pl.col("ds").max().alias("last"))
    last_month = {r["unique_id"]: _month_index(r["last"]) for r in last.iter_rows(named=True)}
    out: dict[str, EngineMonths] = {}
    for (key,), rows in frame.group_by("unique_id", maintain_order=True):
        yhat = np.clip(rows.get_column("yhat").fill_null(0.0).to_numpy().astype(float), 0, None)
        lo95 = rows.get_column("lo_95").fill_null(np.nan).to_numpy().astype(float)
        hi95 = rows.get_column("hi_95").fill_null(np.nan).to_numpy().astype(float)
        sigma = (hi95 - lo95) / (2 * Z95)
        if np.isnan(sigma).any():
            lo80 = rows.get_column("lo_80").fill_null(np.nan).to_numpy().astype(float)
            hi80 = rows.get_column("hi_80").fill_null(np.nan).to_numpy().astype(float)
            sigma = np.where(np.isnan(sigma), (hi80 - lo80) / (2 * Z80), sigma)
        sigma = np.nan_to_num(np.clip(sigma, 0, None))
        models = rows.get_column("model").drop_nulls().unique(maintain_order=True).to_list()
        out[str(key)] = EngineMonths(last_month[str(key)] + 1, yhat, sigma, ", ".join(map(str, models)))
    return out


def run_rate(months: EngineMonths | None, share: np.ndarray, origin: date, period: Period) -> tuple[float, float]:
    """Expected revenue (and its standard deviation) from deals created after `origin` and won by the period's
    end: each remaining day's forecast wins times the share of wins that young a deal makes."""
    if months is None:
        return 0.0, 0.0
    weights = np.zeros(len(months.yhat))
    day = origin + timedelta(days=1)
    while day <= period.end:
        step = _month_index(day) - months.first_month
        lag = (day - origin).days
        if 0 <= step < len(weights) and lag < len(share):
            weights[step] += share[lag] / calendar.monthrange(day.year, day.month)[1]
        day += timedelta(days=1)
    mean = float(weights @ months.yhat)
    sigma = float(weights @ months.sigma)  # months' errors move together: their deviations add up
    return mean, sigma


# Combining ---------------------------------------------------------------------------------------------------


def _seed(*parts: object) -> int:
    return zlib.crc32("|".join(map(str, parts)).encode())


def combine(
    booked: float,
    amounts: np.ndarray,
    probabilities: np.ndarray,
    run_mean: float,
    run_sigma: float,
    *,
    seed: int,
) -> tuple[float, float, float, float, float]:
    """The forecast (booked + expected pipeline + expected run-rate) and its 80% and 95% intervals, from draws:
    each open deal won or not by its probability, the run-rate normal (not below zero). Seeded: reproducible."""
    rng = np.random.default_rng(seed)
    total = np.full(DRAWS, booked, dtype=float)
    for start in range(0, len(amounts), 500):
        a = amounts[start : start + 500]
        p = probabilities[start : start + 500]
        total += (rng.random((DRAWS, len(a))) < p) @ a
    if run_sigma > 0:
        total += np.clip(rng.normal(run_mean, run_sigma, DRAWS), 0, None)
    else:
        total += run_mean
    point = booked + float(amounts @ probabilities) + run_mean
    lo95, lo80, hi80, hi95 = (float(q) for q in np.quantile(total, [0.025, 0.10, 0.90, 0.975]))
    return point, min(lo80, point), max(hi80, point), min(lo95, point), max(hi95, point)


def category_of(p: pl.Expr) -> pl.Expr:
    expr = pl.when(p >= CATEGORY_THRESHOLDS[0][1]).then(pl.lit(CATEGORY_THRESHOLDS[0][0]))
    for name, threshold in CATEGORY_THRESHOLDS[1:]:
        expr = expr.when(p >= threshold).then(pl.lit(name))
    return expr.otherwise(pl.lit("omitted"))


# The forecaster ----------------------------------------------------------------------------------------------


class RevenueForecaster:
    """Forecasts of a workspace's subjects from one warehouse connection; learned probabilities and engine runs
    are computed once per origin and reused across periods and subjects."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        *,
        currency: str,
        fiscal_start_month: int = 1,
        levels: Sequence[str] = LEVELS,
        categories: dict[str, str] | None = None,
    ) -> None:
        self.con = con
        self.history = read_history(con, currency=currency)
        self.fiscal_start_month = fiscal_start_month
        self.subjects = subjects_of(self.history, levels)
        self.categories = categories or {}
        self._probabilities: dict[tuple[date, int], Probabilities] = {}
        self._engine: dict[date, dict[str, EngineMonths]] = {}
        self._horizons: dict[date, int] = {}

    # the parts, each cached per origin
    def probabilities(self, origin: date, window_days: int) -> Probabilities:
        """Learned for this window: on samples whose windows crossed a quarter end as this one does (or not)."""
        key = (origin, window_days)
        if key not in self._probabilities:
            self._probabilities[key] = learn(
                self.history.samples,
                origin=origin,
                window_days=window_days,
                quarter_end=crosses_quarter_end(origin, window_days, self.fiscal_start_month),
                fiscal_start_month=self.fiscal_start_month,
            )
        return self._probabilities[key]

    def prepare_engine(self, plan: Iterable[tuple[date, Period]]) -> None:
        """Run the engine for every origin of the plan, far enough ahead for each period forecast from it: one
        engine call per horizon, with every (origin, subject) series in it (each cut at its origin)."""
        horizons: dict[date, int] = {}
        for origin, period in plan:
            needed = _month_index(period.end) - last_complete_month(origin)
            horizons[origin] = max(horizons.get(origin, 0), needed)
        by_horizon: dict[int, list[date]] = {}
        for origin, horizon in horizons.items():
            if self._horizons.get(origin, -1) < horizon:
                by_horizon.setdefault(horizon, []).append(origin)
        for horizon, origins in sorted(by_horizon.items()):
            frames = [
                monthly_won_series(self.history, self.subjects, origin).with_columns(
                    (pl.lit(f"{origin.isoformat()}|") + pl.col("unique_id")).alias("unique_id")
                )
                for origin in origins
            ]
            months = engine_forecast(pl.concat(frames), horizon) if frames else {}
            for origin in origins:
                prefix = f"{origin.isoformat()}|"
                self._engine[origin] = {k[len(prefix) :]: v for k, v in months.items() if k.startswith(prefix)}
                self._horizons[origin] = horizon

    def booked_deals(self, subject: Subject, period: Period, origin: date) -> pl.DataFrame:
        """The subject's deals won in the period up to the end of `origin` (none before the period starts)."""
        if origin < period.start:
            return self.history.deals.clear()
        return _of_subject(won_between(self.history, period.start, min(origin, period.end)), subject)

    def open_deals(self, origin: date, window_days: int) -> pl.DataFrame:
        """The deals open at the end of `origin`, each with its learned probability of being won within
        `window_days` (`p`) and where that came from (`p_source`)."""
        # In a fixed order (by deal): each deal's draws in `combine` are then the same from run to run.
        return (
            self.probabilities(origin, window_days).lookup(snapshot_at(self.con, self.history, origin)).sort("deal_id")
        )

    def run_rate_models(self, origin: date) -> dict[str, str]:
        """The engine's model for each subject's won revenue, from `origin`."""
        return {key: months.model for key, months in self._engine.get(origin, {}).items()}

    def forecast(self, origin: date, period: Period, *, kind: str = "live") -> list[SubjectForecast]:
        """Every subject's forecast of `period` made as of the end of `origin` (a day inside the period, or the
        day before it starts), with only what was known then."""
        if origin > period.end or origin < period.start - timedelta(days=1):
            raise ValueError(f"the forecast date {origin} is not in {period.start}..{period.end} or the day before")
        history = self.history
        remaining = (period.end - origin).days
        probs = self.probabilities(origin, remaining)
        self.prepare_engine([(origin, period)])
        months = self._engine[origin]
        share = cycle_share(history, origin, remaining + 1)
        open_deals = self.open_deals(origin, remaining)
        live = kind == "live"
        if live:
            open_deals = self._categorised(open_deals, period)
        out = []
        for subject in self.subjects:
            mine = _of_subject(open_deals, subject)
            booked_deals = self.booked_deals(subject, period, origin)
            booked = float(booked_deals.get_column("amount").sum())
            amounts = mine.get_column("amount").to_numpy().astype(float)
            p = mine.get_column("p").to_numpy().astype(float)
            engine = months.get(subject.key)
            run_mean, run_sigma = run_rate(engine, share, origin, period)
            point, lo80, hi80, lo95, hi95 = combine(
                booked, amounts, p, run_mean, run_sigma, seed=_seed(subject.key, period.start, origin, kind)
            )
            nominal = mine.get_column("nominal_probability").cast(pl.Float64).fill_null(0.0).to_numpy() / 100.0
            result = SubjectForecast(
                subject=subject,
                period=period,
                forecast_date=origin,
                kind=kind,
                booked=booked,
                pipeline=float(amounts @ p),
                run_rate=run_mean,
                forecast=point,
                lo_80=lo80,
                hi_80=hi80,
                lo_95=lo95,
                hi_95=hi95,
                baseline=booked + float(amounts @ nominal),
                details={
                    "openDeals": int(mine.height),
                    "wonDeals": int(booked_deals.height),
                    "remainingDays": remaining,
                    "runRateSigma": round(run_sigma, 2),
                    "runRateModel": engine.model if engine else None,
                    "learnedFrom": {"samples": probs.samples, "overall": probs.overall, "windowDays": remaining},
                    "probabilitySources": dict(mine.group_by("p_source").len().iter_rows()) if mine.height else {},
                    "weightedPipelineNominal": round(float(amounts @ nominal), 2),
                    "foreignCurrencyDealsLeftOut": history.foreign_deals,
                },
            )
            if live:
                self._totals(result, mine, booked_deals)
            out.append(result)
        return out

    def _categorised(self, open_deals: pl.DataFrame, period: Period) -> pl.DataFrame:
        """Each open deal's category: its owner's, when the deal is expected to close in the period (or has no
        expected date), else derived from the learned probability."""
        owner = pl.col("deal_id").replace_strict(self.categories, default=None, return_dtype=pl.String)
        applies = pl.col("expected_close_date").is_null() | (
            (pl.col("expected_close_date") >= period.start) & (pl.col("expected_close_date") <= period.end)
        )
        chosen = pl.when(owner.is_not_null() & applies).then(owner)
        return open_deals.with_columns(
            chosen.otherwise(category_of(pl.col("p"))).alias("category"),
            pl.when(owner.is_not_null() & applies).then(pl.lit("owner")).otherwise(pl.lit("derived")).alias("source"),
        )

    def _totals(self, result: SubjectForecast, mine: pl.DataFrame, booked_deals: pl.DataFrame) -> None:
        by = dict(mine.group_by("category").agg(pl.col("amount").sum()).iter_rows())
        result.commit = result.booked + float(by.get("commit", 0.0))
        result.best_case = result.commit + float(by.get("best_case", 0.0))
        result.pipeline_total = result.best_case + float(by.get("pipeline", 0.0))
        won_rows = booked_deals.select(
            "deal_id",
            pl.col("stage_id"),
            pl.col("amount"),
            pl.col("expected_close_date"),
            pl.col("amount").alias("forecasted_amount"),
            pl.lit(100.0).alias("confidence"),
            pl.lit("won").alias("category"),
            pl.lit("closed").alias("source"),
            pl.lit(None, dtype=pl.Int64).alias("age_days"),
        )
        open_rows = mine.select(
            "deal_id",
            "stage_id",
            "amount",
            "expected_close_date",
            (pl.col("amount") * pl.col("p")).alias("forecasted_amount"),
            (pl.col("p") * 100).alias("confidence"),
            "category",
            "source",
            pl.col("age_days").cast(pl.Int64),
        )
        result.deals = pl.concat([won_rows, open_rows], how="vertical_relaxed")

    # live and back-test
    def live(self, as_of: date, kinds: Sequence[str] = PERIOD_KINDS) -> list[SubjectForecast]:
        """Every subject's forecast of the period of each kind that contains `as_of`."""
        periods = [period_of(kind, as_of, self.fiscal_start_month) for kind in kinds]
        self.prepare_engine((as_of, p) for p in periods)
        return [f for period in periods for f in self.forecast(as_of, period)]

    def backtest_periods(self, as_of: date, kind: str, count: int) -> list[Period]:
        """The last `count` periods of `kind` closed by `as_of` with enough history before their start."""
        periods = closed_periods(kind, as_of, count, self.fiscal_start_month)
        first = self.history.first_snapshot
        if first is None:
            return []
        return [p for p in periods if (p.start - first).days > MIN_HISTORY_DAYS]

    def backtest(
        self,
        as_of: date,
        kind: str,
        count: int,
        *,
        progress: Callable[[int, int], None] | None = None,
    ) -> list[SubjectForecast]:
        """Each subject's forecast of each of the last `count` closed periods of `kind`, made the day before the
        period started, with its actual."""
        periods = self.backtest_periods(as_of, kind, count)
        self.prepare_engine((p.start - timedelta(days=1), p) for p in periods)
        out = []
        for i, period in enumerate(periods):
            origin = period.start - timedelta(days=1)
            for result in self.forecast(origin, period, kind="backtest"):
                result.actual = actual_revenue(self.history, result.subject, period)
                out.append(result)
            if progress is not None:
                progress(i + 1, len(periods))
        return out


# Back-test summaries ---------------------------------------------------------------------------------------------


def accuracy_percentage(forecast: float, actual: float) -> float:
    """100 minus the absolute error in % of the actual, not below 0 (an actual of 0: 100 when forecast 0)."""
    if actual <= 0:
        return 100.0 if abs(forecast) < 0.005 else 0.0
    return round(max(0.0, 100.0 * (1.0 - abs(forecast - actual) / actual)), 2)


def summarise(points: Sequence[SubjectForecast], kind: str) -> dict[str, Any]:
    """Error, bias and interval coverage of a subject's back-tested forecasts of one period kind, with the
    sentence the page and Albedo show."""
    rows = [p for p in points if p.actual is not None]
    n = len(rows)
    plural = {"month": "months", "quarter": "quarters", "year": "years"}[kind]
    if n == 0:
        return {
            "periods": 0,
            "meanAbsolutePercentageError": None,
            "biasPercentage": None,
            "withinPercentage": None,
            "coverage80": None,
            "coverage95": None,
            "baselineMeanAbsolutePercentageError": None,
            "sentence": f"Not enough history yet to back-test this forecast on past {plural}.",
            "points": [],
        }
    forecasts = np.array([p.forecast for p in rows])
    actuals = np.array([p.actual for p in rows], dtype=float)
    baseline = np.array([p.baseline if p.baseline is not None else np.nan for p in rows])
    positive = actuals > 0
    errors = (forecasts[positive] - actuals[positive]) / actuals[positive] * 100
    base_errors = (baseline[positive] - actuals[positive]) / actuals[positive] * 100
    total = actuals.sum()
    mape = float(np.mean(np.abs(errors))) if errors.size else None
    bias = float((forecasts.sum() - total) / total * 100) if total > 0 else None
    within = float(np.max(np.abs(errors))) if errors.size else None
    cov80 = float(np.mean([(p.lo_80 <= p.actual <= p.hi_80) for p in rows]))  # type: ignore[operator]
    cov95 = float(np.mean([(p.lo_95 <= p.actual <= p.hi_95) for p in rows]))  # type: ignore[operator]
    base_mape = float(np.nanmean(np.abs(base_errors))) if base_errors.size and not np.isnan(base_errors).all() else None
    wape = float(np.abs(forecasts - actuals).sum() / total * 100) if total > 0 else None
    if within is not None and bias is not None:
        sentence = (
            f"Over the last {n} {plural if n > 1 else kind} this forecast was within ±{within:.0f}% of the actual"
            f" ({mape:.0f}% off on average), biased {bias:+.0f}%."
        )
    else:
        sentence = f"Over the last {n} {plural if n > 1 else kind} nothing was won, so no percentage error applies."
    return {
        "periods": n,
        "meanAbsolutePercentageError": _r(mape),
        "weightedAbsolutePercentageError": _r(wape),
        "biasPercentage": _r(bias),
        "withinPercentage": _r(within),
        "coverage80": _r(cov80),
        "coverage95": _r(cov95),
        "baselineMeanAbsolutePercentageError": _r(base_mape),
        "baseline": "booked + every open deal x its stage's nominal probability",
        "beatsBaseline": None if mape is None or base_mape is None else mape <= base_mape,
        "sentence": sentence,
        "points": [
            {
                "periodStart": p.period.start.isoformat(),
                "periodEnd": p.period.end.isoformat(),
                "forecast": round(p.forecast, 2),
                "low80": round(p.lo_80, 2),
                "high80": round(p.hi_80, 2),
                "low95": round(p.lo_95, 2),
                "high95": round(p.hi_95, 2),
                "actual": round(float(p.actual or 0.0), 2),
                "baseline": None if p.baseline is None else round(p.baseline, 2),
            }
            for p in rows
        ],
    }


def _r(value: float | None, digits: int = 2) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else round(value, digits)


def calibrate(result: SubjectForecast, summary: dict[str, Any] | None) -> None:
    """Widen a live forecast's intervals to what its back-test says they should be (never narrow them).

    The back-test's relative errors (actual / forecast - 1, forecasts made at each past period's start) describe
    the uncertainty of the part of a period not yet booked; the interval of that part is widened to their
    conformal quantile (the ceil((n+1)p)-th smallest absolute error, the largest when n is small)."""
    points = [p for p in (summary or {}).get("points", []) if p.get("forecast", 0) > 0]
    if len(points) < 3:
        result.details["intervals"] = "draws (too few back-tested periods to calibrate)"
        return
    errors = np.sort(np.abs(np.array([p["actual"] / p["forecast"] - 1 for p in points])))
    n = len(errors)
    remaining = max(result.forecast - result.booked, 0.0)
    widened = False
    for level, lo_name, hi_name in ((0.8, "lo_80", "hi_80"), (0.95, "lo_95", "hi_95")):
        q = float(errors[min(n, math.ceil((n + 1) * level)) - 1])
        low = result.booked + remaining * max(0.0, 1 - q)
        high = result.booked + remaining * (1 + q)
        if low < getattr(result, lo_name) or high > getattr(result, hi_name):
            widened = True
        setattr(result, lo_name, min(getattr(result, lo_name), low))
        setattr(result, hi_name, max(getattr(result, hi_name), high))
    result.details["intervals"] = (
        f"draws, widened to the back-test's errors ({n} periods)" if widened else f"draws (back-test: {n} periods)"
    )
