"""Turning a long frame (unique_id, ds, y) into regular series, or a clear error saying what to fix.

Frequencies are calendar periods: a date belongs to its day (D), ISO week (W), month (M) or quarter (Q). Two rows
of one series in the same period are duplicates. Missing periods between the first and last row are gaps (NaN),
filled later by the engine with a stated fallback.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import polars as pl

from ai.forecasting.errors import ForecastInputError

SEASON_LENGTHS = {"D": 7, "W": 52, "M": 12, "Q": 4}
_EPOCH = date(1970, 1, 1)


@dataclass
class SeriesInput:
    """One series on a regular grid: values (NaN where missing) and the date of each period."""

    unique_id: str
    y: np.ndarray
    dates: np.ndarray  # datetime64[D], canonical date of each period (for Prophet)
    last_date: date  # the input's own last date (future dates follow its convention)
    notes: list[str] = field(default_factory=list)


def normalise_freq(freq: str) -> str:
    """The frequency letter (D, W, M, Q), or ForecastInputError."""
    value = str(freq).strip().upper()
    aliases = {"MS": "M", "ME": "M", "QS": "Q", "QE": "Q", "W-MON": "W", "1D": "D", "1W": "W", "1MO": "M"}
    value = aliases.get(value, value)
    if value not in SEASON_LENGTHS:
        raise ForecastInputError(
            f"unknown frequency '{freq}': use one of D (daily), W (weekly), M (monthly), Q (quarterly)"
        )
    return value


def check_horizon(horizon: object) -> int:
    if isinstance(horizon, bool) or not isinstance(horizon, int | np.integer):
        raise ForecastInputError(f"horizon must be a whole number of periods above 0, got {horizon!r}")
    if int(horizon) <= 0:
        raise ForecastInputError(f"horizon must be at least 1 period, got {horizon}: pass --horizon 1 or more")
    return int(horizon)


def check_levels(levels: object) -> tuple[int, ...]:
    try:
        values = tuple(sorted({int(v) for v in levels}))  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        raise ForecastInputError(f"levels must be whole percentages such as (80, 95), got {levels!r}") from None
    if not values or any(v <= 0 or v >= 100 for v in values):
        raise ForecastInputError(f"levels must be percentages between 1 and 99, got {levels!r}")
    return values


def period_index(dates: pl.Series, freq: str) -> pl.Series:
    """An integer per date that is the same for dates in one period and +1 for the next period."""
    if freq == "D":
        return (dates - pl.lit(_EPOCH)).dt.total_days().cast(pl.Int64)
    if freq == "W":
        return ((dates - pl.lit(_EPOCH)).dt.total_days().cast(pl.Int64) + 3) // 7  # 1970-01-01 was a Thursday
    months = dates.dt.year().cast(pl.Int64) * 12 + dates.dt.month().cast(pl.Int64) - 1
    return months if freq == "M" else months // 3


def period_start(index: np.ndarray, freq: str) -> np.ndarray:
    """The canonical date (day, Monday, month or quarter start) of each period index."""
    if freq == "D":
        return np.datetime64("1970-01-01", "D") + index.astype("timedelta64[D]")
    if freq == "W":
        return np.datetime64("1969-12-29", "D") + (index * 7).astype("timedelta64[D]")
    months = index if freq == "M" else index * 3
    return (np.datetime64("1970-01", "M") + months.astype("timedelta64[M]")).astype("datetime64[D]")


def future_dates(last: date, horizon: int, freq: str, month_end: bool) -> list[date]:
    """The next `horizon` dates after `last`, in the input's own convention (same weekday, day or month end)."""
    if freq in ("D", "W"):
        step = 1 if freq == "D" else 7
        return [last + timedelta(days=step * k) for k in range(1, horizon + 1)]
    step = 1 if freq == "M" else 3
    dates = pl.select(
        pl.lit(last).dt.offset_by(pl.format("{}mo", pl.int_range(1, horizon + 1) * step)).alias("d")
    ).to_series()
    if month_end:
        dates = dates.dt.month_end()
    return dates.to_list()


def _parse_dates(column: pl.Series, name: str) -> pl.Series:
    dtype = column.dtype
    if dtype == pl.Date:
        parsed = column
    elif isinstance(dtype, pl.Datetime):
        parsed = column.dt.date()
    elif dtype in (pl.String, pl.Categorical):
        text = column.cast(pl.String).str.strip_chars()
        parsed = None
        for attempt in (
            lambda s: s.str.to_date(strict=True),
            lambda s: s.str.to_datetime(strict=True).dt.date(),
            lambda s: s.str.to_date("%Y-%m-%d %H:%M:%S", strict=True),
        ):
            try:
                parsed = attempt(text)
                break
            except Exception:  # noqa: BLE001 - polars raises several types; the next format is tried
                continue
        if parsed is None:
            trial = text.str.to_date(strict=False)
            bad = text.filter(trial.is_null() & text.is_not_null()).head(3).to_list()
            examples = ", ".join(repr(b) for b in bad) or "mixed formats"
            raise ForecastInputError(
                f"column '{name}' has dates that cannot be read (e.g. {examples}): use ISO dates such as 2024-01-31"
            )
    else:
        raise ForecastInputError(f"column '{name}' must hold dates (ISO text such as 2024-01-31), not {dtype}")
    if parsed.null_count() > column.null_count() or parsed.null_count():
        raise ForecastInputError(
            f"column '{name}' has {parsed.null_count()} empty or unreadable dates: fill or drop them"
        )
    return parsed


def _parse_values(column: pl.Series, name: str) -> pl.Series:
    dtype = column.dtype
    if dtype.is_numeric():
        return column.cast(pl.Float64)
    if dtype == pl.Null:
        return column.cast(pl.Float64)
    if dtype in (pl.String, pl.Categorical):
        text = column.cast(pl.String).str.strip_chars()
        empty = text.is_null() | text.is_in(["", "NA", "NaN", "nan", "null", "NULL"])
        values = text.cast(pl.Float64, strict=False)
        bad = text.filter(values.is_null() & ~empty)
        if len(bad):
            raise ForecastInputError(
                f"column '{name}' has {len(bad)} non-numeric values (e.g. {', '.join(repr(v) for v in bad.head(3))}):"
                " use plain numbers with a dot for decimals; leave missing values empty"
            )
        return values
    raise ForecastInputError(f"column '{name}' must hold numbers, not {dtype}")


def read_series(
    frame: pl.DataFrame,
    *,
    freq: str,
    id_col: str = "unique_id",
    ds_col: str = "ds",
    y_col: str = "y",
) -> tuple[list[SeriesInput], bool]:
    """The series of a long frame on a regular grid, and whether the input's dates are month ends."""
    if not isinstance(frame, pl.DataFrame):
        raise ForecastInputError(f"the input must be a polars DataFrame, got {type(frame).__name__}")
    missing = [c for c in (id_col, ds_col, y_col) if c not in frame.columns]
    if missing:
        raise ForecastInputError(
            f"missing column(s) {', '.join(missing)} (have {', '.join(frame.columns) or 'none'}):"
            " name them with --id-col/--ds-col/--y-col"
        )
    if frame.height == 0:
        raise ForecastInputError("the input has no rows")
    ids = frame[id_col]
    if ids.null_count():
        raise ForecastInputError(f"column '{id_col}' has {ids.null_count()} empty series ids: fill or drop them")
    ds = _parse_dates(frame[ds_col], ds_col)
    y = _parse_values(frame[y_col], y_col)
    data = pl.DataFrame({"unique_id": ids.cast(pl.String), "ds": ds, "y": y}).with_columns(
        period=period_index(ds, freq), y=pl.when(pl.col("y").is_nan()).then(None).otherwise(pl.col("y"))
    )
    dup = data.group_by("unique_id", "period").agg(pl.len().alias("n"), pl.col("ds").min()).filter(pl.col("n") > 1)
    if dup.height:
        first = dup.sort("unique_id", "period").row(0, named=True)
        unit = {"D": "day", "W": "week", "M": "month", "Q": "quarter"}[freq]
        raise ForecastInputError(
            f"duplicate timestamps: {dup.height} {unit}(s) appear more than once (e.g. series '{first['unique_id']}'"
            f" has {first['n']} rows in the {unit} of {first['ds']}): keep one row per series and {unit}"
            " (sum or average them first), or choose a finer --freq"
        )
    month_end = bool(freq in ("M", "Q") and (ds == ds.dt.month_end()).all() and not (ds.dt.day() == 1).all())
    out: list[SeriesInput] = []
    for (uid,), group in data.sort("unique_id", "period").group_by("unique_id", maintain_order=True):
        periods = group["period"].to_numpy()
        full = np.arange(periods[0], periods[-1] + 1)
        values = np.full(full.shape, np.nan)
        values[periods - periods[0]] = group["y"].fill_null(np.nan).to_numpy()
        notes = []
        gaps = len(full) - len(periods)
        if gaps:
            notes.append(f"{gaps} missing period(s) between the first and last date")
        out.append(
            SeriesInput(
                unique_id=str(uid),
                y=values,
                dates=period_start(full, freq),
                last_date=group["ds"][-1],
                notes=notes,
            )
        )
    return out, month_end
