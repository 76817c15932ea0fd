"""The forecasting engine on small synthetic series whose trend, seasonality and noise are known."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from ai.forecasting import ForecastInputError, forecast
from app.cli import app

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def monthly(values: np.ndarray, uid: str = "s", start: date = date(2015, 1, 1)) -> pl.DataFrame:
    dates = [
        date(start.year + (start.month - 1 + k) // 12, (start.month - 1 + k) % 12 + 1, 1) for k in range(len(values))
    ]
    return pl.DataFrame({"unique_id": uid, "ds": dates, "y": values.astype(float)})


def seasonal_series(rng: np.random.Generator, n: int = 120, amplitude: float = 20.0) -> np.ndarray:
    t = np.arange(n)
    return 200 + 0.8 * t + amplitude * np.sin(2 * np.pi * t / 12) + rng.normal(0, 2, n)


def test_known_trend_and_seasonality_are_recovered() -> None:
    rng = np.random.default_rng(7)
    y = seasonal_series(rng)
    result = forecast(monthly(y), horizon=12, freq="M")
    info = result.explain("s")
    assert info["seasonality"] == 12 and info["seasonal_model"], info
    assert info["trend"] == "up" and info["trend_per_period"] == pytest.approx(0.8, rel=0.15)
    yhat = result.forecasts["yhat"].to_numpy()
    t = np.arange(120, 132)
    design = np.column_stack([np.ones(12), t, np.sin(2 * np.pi * t / 12), np.cos(2 * np.pi * t / 12)])
    coefficients = np.linalg.lstsq(design, yhat, rcond=None)[0]  # level, trend and the yearly wave, jointly
    amplitude = np.hypot(coefficients[2], coefficients[3])
    assert amplitude == pytest.approx(20.0, rel=0.10)
    truth = 200 + 0.8 * t + 20 * np.sin(2 * np.pi * t / 12)
    assert np.mean(np.abs(yhat - truth)) < 4
    assert info["skill_vs_seasonal_naive"] > 0.3
    chosen = result.backtest.filter(pl.col("chosen"))
    assert chosen.height == 1 and chosen["model"][0] == info["model"]
    assert set(result.forecasts.columns) == {"unique_id", "ds", "yhat", "lo_80", "hi_80", "lo_95", "hi_95", "model"}
    assert result.forecasts["ds"].to_list()[0] == date(2025, 1, 1)


def test_interval_coverage_is_close_to_nominal_on_held_out_data() -> None:
    rng = np.random.default_rng(11)
    frames, future, n, h, count = [], {}, 60, 12, 24
    for i in range(count):
        t = np.arange(n + h)
        y = 50 + 0.3 * t + 8 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 3.0, n + h)
        frames.append(monthly(y[:n], f"s{i}"))
        future[f"s{i}"] = y[n:]
    result = forecast(pl.concat(frames), horizon=h, freq="M")
    actual = pl.DataFrame(
        {
            "unique_id": [u for u in future for _ in range(h)],
            "step": list(range(h)) * count,
            "actual": np.concatenate(list(future.values())),
        }
    )
    steps = result.forecasts.with_columns(step=pl.int_range(pl.len()).over("unique_id"))
    got = steps.join(actual, on=["unique_id", "step"])
    for level in (80, 95):
        inside = ((got["actual"] >= got[f"lo_{level}"]) & (got["actual"] <= got[f"hi_{level}"])).mean()
        assert abs(inside - level / 100) <= 0.05, (level, inside)
    reported = result.backtest.filter(pl.col("chosen"))
    assert reported["coverage_80"].is_between(0, 1).all() and reported["coverage_95"].mean() > 0.7


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"freq": "H"}, "unknown frequency 'H'"),
        ({"horizon": 0}, "horizon must be at least 1"),
        ({"horizon": -3}, "horizon must be at least 1"),
        ({"ds": ["2020-01-01", "not a date", "2020-03-01"]}, "dates that cannot be read"),
        ({"ds": ["2020-01-01", "2020-01-15", "2020-03-01"]}, "duplicate timestamps"),
        ({"y": ["1.5", "abc", "3"]}, "non-numeric values"),
    ],
)
def test_bad_input_is_refused_with_what_to_fix(change: dict, message: str) -> None:
    frame = pl.DataFrame(
        {"unique_id": ["a"] * 3, "ds": ["2020-01-01", "2020-02-01", "2020-03-01"], "y": ["1", "2", "3"]}
    )
    for column in ("ds", "y"):
        if column in change:
            frame = frame.with_columns(pl.Series(column, change[column]))
    with pytest.raises(ForecastInputError, match=message) as caught:
        forecast(frame, horizon=change.get("horizon", 3), freq=change.get("freq", "M"))
    assert isinstance(caught.value, ValueError)


def test_gaps_nan_constant_zero_and_short_series_get_a_stated_fallback() -> None:
    rng = np.random.default_rng(3)
    with_gaps = monthly(seasonal_series(rng, 60), "gaps").filter(~pl.int_range(pl.len()).is_in([10, 11, 30]))
    with_nan = monthly(seasonal_series(rng, 60), "nan").with_columns(
        y=pl.when(pl.int_range(pl.len()).is_in([5, 40])).then(float("nan")).otherwise(pl.col("y"))
    )
    frame = pl.concat(
        [
            with_gaps,
            with_nan,
            monthly(np.full(30, 7.0), "constant"),
            monthly(np.zeros(30), "zeros"),
            monthly(np.array([5.0, 6, 7, 6, 8, 9, 8, 10]), "short"),
        ]
    )
    result = forecast(frame, horizon=6, freq="M")
    info = {u: result.explain(u) for u in ("gaps", "nan", "constant", "zeros", "short")}
    assert "3 missing period(s)" in info["gaps"]["notes"] and "interpolation" in info["gaps"]["notes"]
    assert "2 missing value(s)" in info["nan"]["notes"]
    assert "constant" in info["constant"]["fallback"]
    assert "all values are zero" in info["zeros"]["fallback"]
    assert "under two seasons" in info["short"]["fallback"]
    by_id = {u: g for (u,), g in result.forecasts.group_by("unique_id")}
    assert by_id["constant"]["yhat"].to_list() == [7.0] * 6 and by_id["zeros"]["hi_95"].to_list() == [0.0] * 6
    assert result.forecasts["yhat"].is_finite().all()


def test_non_negative_series_never_get_negative_forecasts_or_bounds() -> None:
    rng = np.random.default_rng(5)
    intermittent = rng.poisson(0.6, 72) * rng.integers(1, 20, 72)  # many zeros
    falling = np.maximum(0, 60 - 1.5 * np.arange(48) + rng.normal(0, 4, 48))  # heading to zero
    frame = pl.concat([monthly(intermittent.astype(float), "sparse"), monthly(falling, "falling")])
    result = forecast(frame, horizon=12, freq="M")
    numbers = result.forecasts.select("yhat", "lo_80", "hi_80", "lo_95", "hi_95")
    assert (numbers.min_horizontal() >= 0).all()
    scored = set(result.backtest.filter(pl.col("unique_id") == "sparse")["model"])
    assert {"CrostonOptimized", "ADIDA", "IMAPA"} <= scored


def test_same_input_same_output_inline_and_across_processes() -> None:
    rng = np.random.default_rng(9)
    frame = pl.concat([monthly(seasonal_series(rng, 40), f"s{i}") for i in range(8)])
    one = forecast(frame, horizon=6, freq="M", n_jobs=1)
    two = forecast(frame, horizon=6, freq="M", n_jobs=2)
    assert one.forecasts.equals(two.forecasts)
    assert one.backtest.equals(two.backtest)
    timings = ["seconds", "cpu_seconds"]
    assert one.explanations.drop(timings).equals(two.explanations.drop(timings))


def test_cli_round_trip_and_nothing_written_on_bad_input(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    frame = pl.concat([monthly(seasonal_series(rng, 48), "north"), monthly(seasonal_series(rng, 48), "south")])
    source = tmp_path / "sales.csv"
    frame.rename({"unique_id": "region", "ds": "month", "y": "revenue"}).write_csv(source)
    out, bt = tmp_path / "out.csv", tmp_path / "bt.csv"
    args = ["forecast", "csv", str(source), "--horizon", "6", "--freq", "M", "--output", str(out)]
    args += ["--backtest-output", str(bt), "--id-col", "region", "--ds-col", "month", "--y-col", "revenue"]
    run = CliRunner().invoke(app, args)
    assert run.exit_code == 0, run.output
    assert "2 series" in run.output
    written = pl.read_csv(out, try_parse_dates=True)
    assert written.columns == ["unique_id", "ds", "yhat", "lo_80", "hi_80", "lo_95", "hi_95", "model"]
    assert written.height == 12 and written["ds"].min() == date(2019, 1, 1)
    assert set(pl.read_csv(bt)["unique_id"]) == {"north", "south"}

    bad = tmp_path / "bad.csv"
    source.write_text(source.read_text().replace("2016-03-01", "2016-02-01", 1))
    source.rename(bad)
    out.unlink()
    run = CliRunner().invoke(app, [*args[:2], str(bad), *args[3:]])
    assert run.exit_code == 1
    assert "duplicate timestamps" in run.output
    assert not out.exists()
    run = CliRunner().invoke(
        app, [*args[:2], str(bad), "--horizon", "6", "--freq", "fortnightly", "--output", str(out)]
    )
    assert run.exit_code == 1 and "unknown frequency" in run.output and not out.exists()
