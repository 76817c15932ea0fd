"""The forecasting engine on M3 monthly and quarterly: sMAPE, MASE and seconds per series of each method.

    .venv/bin/python benchmarks/forecasting.py             # all 1,428 monthly and 756 quarterly series (2 cores)
    .venv/bin/python benchmarks/forecasting.py --limit 100 # the first 100 series of each set, for a quick look

Reads ../shared/data/forecasting/m3_{monthly,quarterly}.csv beside the repository (README there); the data is never
copied into the repository. Each method is fitted on `train` and scored on the official `test` horizon. The engine
back-tests and chooses per series; the single candidates' figures come from the same run (each candidate's own fit
on the full training series, timed on its own). Prophet with its defaults runs separately (the engine leaves Prophet
out of monthly and quarterly series, see docs/forecasting.md). Last, one weekly series of 1,000 points (season 52).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

for _name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import numpy as np  # noqa: E402 - after the thread variables, which numpy reads on import
import polars as pl  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ai.forecasting import Options, forecast  # noqa: E402
from ai.forecasting.diagnostics import mase, seasonal_naive_scale, smape  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "forecasting"
SETS = {"monthly": ("m3_monthly.csv", "M", 12, 18), "quarterly": ("m3_quarterly.csv", "Q", 4, 8)}


def _prophet_defaults(task: tuple[str, list, np.ndarray, int, str]) -> tuple[str, np.ndarray, float]:
    """Prophet exactly as its README shows it: `Prophet().fit(df)`, then predict the horizon."""
    import pandas as pd

    logging.getLogger("cmdstanpy").setLevel(logging.ERROR)
    logging.getLogger("prophet").setLevel(logging.ERROR)
    from prophet import Prophet

    uid, dates, y, h, freq = task
    started = time.perf_counter()
    model = Prophet()
    frame = pd.DataFrame({"ds": pd.to_datetime(dates), "y": y})
    model.fit(frame)
    future = model.make_future_dataframe(periods=h, freq="MS" if freq == "M" else "QS", include_history=False)
    return uid, model.predict(future)["yhat"].to_numpy(), time.perf_counter() - started


def _scores(test: pl.DataFrame, predicted: pl.DataFrame, scales: dict[str, float]) -> tuple[float, float]:
    joined = test.join(predicted, on=["unique_id", "ds"], how="left")
    s, m = [], []
    for (uid,), group in joined.group_by("unique_id"):
        actual, forecast_ = group["y"].to_numpy(), group["yhat"].to_numpy()
        s.append(smape(actual, forecast_))
        m.append(mase(actual, forecast_, scales[uid]))
    return float(np.mean(s)), float(np.mean(m))


def run_set(name: str, limit: int | None, workers: int) -> list[tuple[str, float, float, float]]:
    file, freq, season, horizon = SETS[name]
    data = pl.read_csv(DATA / file, try_parse_dates=True)
    if limit:
        keep = data["unique_id"].unique(maintain_order=True).head(limit)
        data = data.filter(pl.col("unique_id").is_in(keep.implode()))
    train = data.filter(pl.col("split") == "train").select("unique_id", "ds", "y")
    test = data.filter(pl.col("split") == "test").select("unique_id", "ds", "y")
    n_series = train["unique_id"].n_unique()
    scales = {
        uid: seasonal_naive_scale(group["y"].to_numpy(), season)
        for (uid,), group in train.sort("unique_id", "ds").group_by("unique_id")
    }
    started = time.perf_counter()
    result = forecast(train, horizon=horizon, freq=freq, n_jobs=workers, options=Options(keep_candidates=True))
    wall = time.perf_counter() - started
    rows = []
    assert result.candidates is not None
    # test dates: the engine's future dates follow the input's month-start convention
    for model, group in result.candidates.group_by("model"):
        model_name = model[0]
        if group["unique_id"].n_unique() < n_series:
            continue  # e.g. the intermittent methods, only scored where a series has many zeros
        s, m = _scores(test, group.select("unique_id", "ds", "yhat"), scales)
        seconds = group.group_by("unique_id").agg(pl.col("seconds").first())["seconds"].sum() / n_series / workers
        rows.append((str(model_name), s, m, seconds))
    rows.sort(key=lambda r: r[1])
    s, m = _scores(test, result.forecasts.select("unique_id", "ds", "yhat"), scales)
    engine_row = ("engine (back-test choice)", s, m, wall / n_series)
    cpu = result.explanations["cpu_seconds"].sum() / n_series

    tasks = [
        (str(uid), group["ds"].to_list(), group["y"].to_numpy(), horizon, freq)
        for (uid,), group in train.sort("unique_id", "ds").group_by("unique_id", maintain_order=True)
    ]
    started = time.perf_counter()
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        outs = list(pool.map(_prophet_defaults, tasks, chunksize=8))
    prophet_wall = time.perf_counter() - started
    prophet_rows = []
    for (uid, values, _), task in zip(outs, tasks, strict=True):
        dates = test.filter(pl.col("unique_id") == uid)["ds"].to_list()
        prophet_rows += [{"unique_id": uid, "ds": d, "yhat": float(v)} for d, v in zip(dates, values, strict=True)]
        del task
    s, m = _scores(test, pl.DataFrame(prophet_rows), scales)
    prophet_row = ("Prophet (defaults)", s, m, prophet_wall / n_series)

    chosen = result.forecasts.group_by("unique_id").agg(pl.col("model").first())["model"].value_counts(sort=True)
    print(f"\nM3 {name}: {n_series} series, horizon {horizon}, {workers} worker process(es)")
    print(f"{'method':<48} {'sMAPE':>8} {'MASE':>8} {'s/series':>9}")
    for row in [*rows, prophet_row, engine_row]:
        print(f"{row[0]:<48} {row[1]:8.3f} {row[2]:8.3f} {row[3]:9.3f}")
    print(
        f"engine: {wall:.0f} s wall for {n_series} series ({wall / n_series:.3f} s/series, including the candidates'"
        f" extra final fits for this table); CPU {cpu:.3f} s/series, i.e. {cpu / 2:.3f} s/series on 2 free cores"
    )
    print("engine's choices: " + ", ".join(f"{r[0]} {r[1]}" for r in chosen.iter_rows()))
    coverage = result.backtest.filter(pl.col("chosen")).select(pl.col("^coverage_.*$").mean())
    print(
        "chosen models' back-test coverage: "
        + ", ".join(f"{c} {v:.3f}" for c, v in coverage.row(0, named=True).items())
    )
    tested = test.join(result.forecasts, on=["unique_id", "ds"])
    for level in result.levels:
        inside = tested.select(((pl.col("y") >= pl.col(f"lo_{level}")) & (pl.col("y") <= pl.col(f"hi_{level}"))).mean())
        print(f"test coverage of the engine's {level}% intervals: {inside.item():.3f}")
    return [*rows, prophet_row, engine_row]


def weekly(workers: int) -> None:
    rng = np.random.default_rng(52)
    t = np.arange(1000)
    y = 500 + 0.2 * t + 60 * np.sin(2 * np.pi * t / 52) + 20 * np.cos(4 * np.pi * t / 52) + rng.normal(0, 15, 1000)
    dates = np.datetime64("2005-01-03") + np.arange(1000) * np.timedelta64(7, "D")
    frame = pl.DataFrame({"unique_id": "weekly", "ds": dates, "y": y}).with_columns(pl.col("ds").cast(pl.Date))
    forecast(frame.head(200), horizon=13, freq="W", n_jobs=1)  # warm imports, as a running worker would be
    started = time.perf_counter()
    result = forecast(frame, horizon=13, freq="W", n_jobs=1)
    seconds = time.perf_counter() - started
    info = result.explain("weekly")
    print(
        f"\nweekly series, 1,000 points, season 52, horizon 13: {seconds:.2f} s (one process);"
        f" chosen {info['model']}, {info['origins']} origin(s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=None, help="only the first N series of each set")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--sets", default="monthly,quarterly")
    args = parser.parse_args()
    for name in args.sets.split(","):
        run_set(name, args.limit, args.workers)
    weekly(args.workers)


if __name__ == "__main__":
    main()
