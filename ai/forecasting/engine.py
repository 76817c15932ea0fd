"""The engine: for each series, back-test the candidates at rolling origins, keep the best, calibrate its intervals.

Each series is one independent task (`forecast_series`), run in a pool of processes with one thread each. A task's
result depends only on its series and the options, so the output is the same whatever the pool size or order.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing import get_context
from typing import Any

import numpy as np
import polars as pl

from ai.forecasting.candidates import Candidate, Prediction
from ai.forecasting.diagnostics import mase, seasonal_naive_scale, seasonality_test, smape, trend_test
from ai.forecasting.errors import ForecastInputError
from ai.forecasting.series import (
    SEASON_LENGTHS,
    SeriesInput,
    check_horizon,
    check_levels,
    future_dates,
    normalise_freq,
    read_series,
)

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS")
BENCHMARKS = ("Naive", "SeasonalNaive", "RandomWalkWithDrift")
INTERMITTENT = ("CrostonOptimized", "ADIDA", "IMAPA")
SEASONAL_MODELS = {"SeasonalNaive", "AutoETS", "AutoTheta", "AutoARIMA", "Prophet"}
PER_YEAR = {"D": 365, "W": 52, "M": 12, "Q": 4}
# Fewer series than this run in the calling process: a pool's start-up (~2 s of imports per process) costs more.
INLINE_BELOW = 8
# How much lower another candidate's back-test error must be to replace the weighted combination (M3: 0.2-0.3 best).
SWITCH_MARGIN = 0.25


@dataclass
class Options:
    """How hard the engine tries; the defaults keep M3-sized series under 0.5 s each on 2 cores."""

    origins: int = 3
    prophet: str = "auto"  # "auto": daily and weekly series with 2+ years; "always"; "never"
    intermittent_share: float = 0.3
    fit_window: int = 0  # 0: max(8 seasons, 300 periods) for the statsforecast models
    keep_candidates: bool = False


@dataclass
class SeriesTask:
    unique_id: str
    y: np.ndarray
    dates: np.ndarray
    freq: str
    horizon: int
    levels: tuple[int, ...]
    options: Options
    notes: list[str] = field(default_factory=list)


@dataclass
class SeriesOutcome:
    unique_id: str
    model: str
    mean: np.ndarray
    bounds: dict[int, tuple[np.ndarray, np.ndarray]]
    backtest: list[dict[str, Any]]
    explanation: dict[str, Any]
    candidates: dict[str, np.ndarray] = field(default_factory=dict)
    candidate_seconds: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    cpu_seconds: float = 0.0


# ----------------------------------------------------------------------------------------------------- one series


def _z(level: int) -> float:
    from statistics import NormalDist

    return NormalDist().inv_cdf(0.5 + level / 200)


def _clean(task: SeriesTask) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Values without NaN: leading NaN dropped, inner gaps interpolated, trailing ones carried forward."""
    y, dates, notes = task.y.astype(float), task.dates, list(task.notes)
    observed = np.flatnonzero(np.isfinite(y))
    if len(observed) == 0:
        return y[:0], dates[:0], notes
    y, dates = y[observed[0] :], dates[observed[0] :]
    missing = ~np.isfinite(y)
    if missing.any():
        index = np.arange(len(y))
        last = np.flatnonzero(~missing)[-1]
        y[missing] = np.interp(index[missing], index[~missing], y[~missing])
        y[last + 1 :] = y[last]
        notes.append(f"{int(missing.sum())} missing value(s) filled by linear interpolation (last value carried on)")
    return y, dates, notes


def _candidates(task: SeriesTask, y: np.ndarray, dates: np.ndarray, m: int, short: bool) -> list[Candidate]:
    freq, options = task.freq, task.options
    adjust = m > 24
    base = {"m": m}
    if short:
        found = [Candidate("Naive", True), Candidate("RandomWalkWithDrift", True)]
        if len(y) >= 4:
            found.append(Candidate("AutoTheta", True, options={"m": 1}))
        return found
    found = [
        Candidate("Naive", True),
        Candidate("SeasonalNaive", True, seasonal=True, options=base),
        Candidate("RandomWalkWithDrift", True),
        Candidate("AutoETS", True, seasonal=True, options={**base, "adjust": adjust}),
        Candidate("AutoTheta", True, seasonal=True, options=base),
        Candidate("AutoARIMA", True, seasonal=True, options={**base, "adjust": adjust}),
    ]
    if len(y) and np.min(y) >= 0 and np.mean(y == 0) >= options.intermittent_share:
        found += [Candidate(name, False) for name in INTERMITTENT]
    if _use_prophet(options.prophet, freq, len(y), m):
        found.append(Candidate("Prophet", False, seasonal=True, options={"freq": freq, "dates": dates}))
    return found


def _use_prophet(mode: str, freq: str, n: int, m: int) -> bool:
    """Prophet costs 0.1-0.5 s a fit; it earns it on daily and weekly data with 2+ years (yearly and weekly
    seasonality at once, changepoints), where statsforecast's seasonal models cannot take a season of 52 or 365."""
    if mode == "never":
        return False
    if mode == "always":
        return n >= 2 * m
    return freq in ("D", "W") and n >= 2 * PER_YEAR[freq]


def _band(y_train: np.ndarray, h: int, level: int) -> tuple[np.ndarray, np.ndarray]:
    """A random-walk-shaped half width for models without intervals; conformal scaling sizes it."""
    steps = np.sqrt(np.arange(1, h + 1))
    diffs = np.diff(y_train)
    sigma = float(np.std(diffs)) if len(diffs) > 1 else 0.0
    if sigma == 0:
        sigma = float(np.mean(np.abs(y_train))) * 0.01 or 1.0
    return _z(level) * sigma * steps, _z(level) * sigma * steps


def _half_widths(prediction: Prediction, y_train: np.ndarray, h: int, level: int) -> tuple[np.ndarray, np.ndarray]:
    if prediction.bounds is not None and level in prediction.bounds:
        lo, hi = prediction.bounds[level]
        return np.maximum(prediction.mean - lo, 0.0), np.maximum(hi - prediction.mean, 0.0)
    return _band(y_train, h, level)


def _combine(parts: list[Prediction], levels: tuple[int, ...], weights: tuple[float, ...] | None = None) -> Prediction:
    if len(parts) == 1:
        return parts[0]
    mean = np.average([p.mean for p in parts], axis=0, weights=weights)
    if all(p.bounds is not None for p in parts):
        bounds = {
            level: (
                np.average([p.bounds[level][0] for p in parts], axis=0, weights=weights),  # type: ignore[index]
                np.average([p.bounds[level][1] for p in parts], axis=0, weights=weights),  # type: ignore[index]
            )
            for level in levels
        }
        return Prediction(mean, bounds)
    return Prediction(mean)


def combo_name(parts: tuple[str, ...], weighted: bool = False) -> str:
    return ("Weighted(" if weighted else "Mean(") + ", ".join(parts) + ")"


@dataclass
class _Trial:
    """One candidate's back-test: its forecast at each origin and the scores."""

    name: str
    parts: tuple[str, ...]
    own_intervals: bool
    weights: tuple[float, ...] | None = None
    predictions: list[Prediction] = field(default_factory=list)
    mase: float = math.nan
    smape: float = math.nan
    score: float = math.inf


def forecast_series(task: SeriesTask) -> SeriesOutcome:
    """Back-test, choose, fit and calibrate one series."""
    started = time.perf_counter()
    cpu_started = time.process_time()
    h, levels, freq = task.horizon, task.levels, task.freq
    y_all, dates, notes = _clean(task)
    m = SEASON_LENGTHS[freq]
    explanation: dict[str, Any] = {
        "unique_id": task.unique_id,
        "observations": len(y_all),
        "season_length": m,
        "seasonality": None,
        "trend": "none",
        "trend_per_period": 0.0,
        "origins": 0,
        "fallback": None,
        "notes": notes,
    }
    if len(y_all) == 0:
        explanation.update(model="none", reason="no numeric value in this series", fallback="no data: no forecast")
        empty = np.full(h, np.nan)
        outcome = SeriesOutcome(task.unique_id, "none", empty, dict.fromkeys(levels, (empty, empty)), [], explanation)
        return _finish(outcome, started, cpu_started)
    window = task.options.fit_window or max(8 * m, 300)
    nonnegative = bool(np.min(y_all) >= 0)
    n = len(y_all)
    if np.ptp(y_all) == 0:
        value = float(y_all[-1])
        why = "all values are zero" if value == 0 else f"the series is constant ({value:g})"
        explanation.update(
            model="Naive",
            reason=f"{why}: the forecast repeats it",
            fallback=f"{why}; nothing to back-test, the interval has zero width",
            skill_vs_seasonal_naive=0.0,
        )
        flat = np.full(h, value)
        rows = [_row(task.unique_id, "Naive", 0.0, 0.0, dict.fromkeys(levels, 1.0), True)]
        return _finish(
            SeriesOutcome(task.unique_id, "Naive", flat, dict.fromkeys(levels, (flat, flat)), rows, explanation),
            started,
            cpu_started,
        )

    short = m > 1 and n < 2 * m
    seasonal = seasonality_test(y_all, m) if not short else False
    testable = n >= 3 * m
    explanation["seasonality"] = m if seasonal else None
    explanation["seasonality_note"] = (
        f"season of {m} {'found' if seasonal else 'not significant'} (autocorrelation test at lag {m}, 90%)"
        if testable
        else f"under {3 * m} observations: seasonality of {m} not testable"
    )
    direction, slope = trend_test(y_all, m, seasonal)
    explanation.update(trend=direction, trend_per_period=slope)
    candidates = _candidates(task, y_all, dates, m, short)
    if short:
        explanation["fallback"] = (
            f"only {n} observations, under two seasons ({2 * m}):"
            " simple methods only (naive, drift, theta without season)"
        )

    min_train = max(2 * m if not short else 3, 8)
    origins = min(task.options.origins, max((n - min_train) // h, 0))
    horizon_bt = h
    if origins == 0 and n - min_train >= 2:
        origins, horizon_bt = 1, n - min_train
        explanation["fallback"] = (explanation["fallback"] or "") + (
            f"; too short for a back-test over the full horizon: back-tested over the last {horizon_bt} periods"
        ).lstrip("; ")
    explanation["origins"] = origins
    explanation["backtest_horizon"] = horizon_bt if origins else 0

    trials: dict[str, _Trial] = {}
    actuals: list[np.ndarray] = []
    trains: list[np.ndarray] = []
    ends = [n - horizon_bt * (origins - i) for i in range(origins)]
    # ARIMA's orders are searched at the latest origin (no look-ahead there) and re-estimated at the others.
    for end in sorted(ends, reverse=True):
        train = y_all[max(0, end - window) : end]
        trains.insert(0, train)
        actuals.insert(0, y_all[end : end + horizon_bt])
    for candidate in candidates:
        trial = _Trial(candidate.name, (candidate.name,), candidate.own_intervals)
        try:
            found = {}
            for k in sorted(range(origins), reverse=True):
                found[k] = _predict(candidate, trains[k], horizon_bt, levels, dates)
            trial.predictions = [found[k] for k in range(origins)]
        except Exception as exc:  # noqa: BLE001 - one failing candidate must not sink the series
            notes.append(f"{candidate.name} failed in the back-test ({type(exc).__name__}) and was left out")
            continue
        trials[candidate.name] = trial

    if origins:
        for trial in trials.values():
            _score(trial, actuals, trains, m)
        reference = trials.get("SeasonalNaive") or trials.get("Naive")
        _relative_scores(trials, reference)
        default = None
        for combo, weights in _combos(trials):
            own = all(trials[p].own_intervals for p in combo)
            trial = _Trial(combo_name(combo, weights is not None), combo, own, weights)
            trial.predictions = [
                _combine([trials[p].predictions[k] for p in combo], levels, weights) for k in range(origins)
            ]
            _score(trial, actuals, trains, m)
            trials[trial.name] = trial
            default = default or trial
        _relative_scores(trials, reference)
        best = min(trials.values(), key=lambda t: (t.score, len(t.parts)))
        # One to three origins make a noisy contest: the weighted combination stays unless beaten clearly.
        chosen = default if default is not None and best.score > default.score * (1 - SWITCH_MARGIN) else best
    else:
        chosen = trials.get("SeasonalNaive") or trials["Naive"]
        explanation["fallback"] = (explanation["fallback"] or "") + "; too short for any back-test: naive forecast"
        explanation["fallback"] = explanation["fallback"].lstrip("; ")

    factors, coverage = _calibration(chosen, actuals, trains, levels) if origins else (dict.fromkeys(levels, 1.0), {})
    by_name = {c.name: c for c in candidates}
    finals = {}
    for part in chosen.parts:
        finals[part] = _predict(by_name[part], y_all[-window:], h, levels, dates)
    final = _combine([finals[p] for p in chosen.parts], levels, chosen.weights)
    bounds = _bounds(final, y_all[-window:], h, levels, factors, nonnegative)
    mean = np.maximum(final.mean, 0.0) if nonnegative else final.mean

    kept: dict[str, np.ndarray] = {}
    kept_seconds: dict[str, float] = {}
    if task.options.keep_candidates:
        for candidate in candidates:
            if candidate.name not in trials:
                continue
            began = time.perf_counter()
            finals.setdefault(candidate.name, _predict(candidate, y_all[-window:], h, levels, dates))
            kept[candidate.name] = finals[candidate.name].mean
            kept_seconds[candidate.name] = time.perf_counter() - began
        for trial in trials.values():
            if len(trial.parts) > 1:
                kept[trial.name] = np.average([kept[p] for p in trial.parts], axis=0, weights=trial.weights)

    rows = []
    for trial in trials.values():
        cover = coverage.get(trial.name) or _coverage(trial, actuals, trains, levels) if origins else {}
        rows.append(_row(task.unique_id, trial.name, trial.smape, trial.mase, cover, trial is chosen))
    explanation.update(_reason(chosen, trials, origins, horizon_bt, factors))
    if origins and chosen.weights is not None:
        shares = np.asarray(chosen.weights) / np.sum(chosen.weights)
        explanation["reason"] = (
            "accuracy-weighted combination ("
            + ", ".join(f"{p} {w:.0%}" for p, w in zip(chosen.parts, shares, strict=True))
            + f"), kept unless another candidate's back-test error is {SWITCH_MARGIN:.0%} lower; "
            + explanation["reason"]
        )
    explanation["model"] = chosen.name
    explanation["seasonal_model"] = bool(
        all(p in SEASONAL_MODELS for p in chosen.parts) and (seasonal or not testable) and not short
    )
    outcome = SeriesOutcome(task.unique_id, chosen.name, mean, bounds, rows, explanation, kept, kept_seconds)
    return _finish(outcome, started, cpu_started)


def _predict(candidate: Candidate, y: np.ndarray, h: int, levels: tuple[int, ...], dates: np.ndarray) -> Prediction:
    prediction = candidate.predict(y, h, levels)
    if not np.all(np.isfinite(prediction.mean)):
        raise ValueError(f"{candidate.name} gave a non-finite forecast")
    return prediction


def _score(trial: _Trial, actuals: list[np.ndarray], trains: list[np.ndarray], m: int) -> None:
    mases, smapes = [], []
    for prediction, actual, train in zip(trial.predictions, actuals, trains, strict=True):
        mases.append(mase(actual, prediction.mean, seasonal_naive_scale(train, m)))
        smapes.append(smape(actual, prediction.mean))
    trial.mase, trial.smape = float(np.mean(mases)), float(np.mean(smapes))


def _relative_scores(trials: dict[str, _Trial], reference: _Trial | None) -> None:
    """The error a choice minimises: MASE and sMAPE, each relative to the seasonal naive's, averaged."""
    ref_mase = reference.mase if reference and reference.mase > 0 else None
    ref_smape = reference.smape if reference and reference.smape > 0 else None
    for trial in trials.values():
        parts = []
        if ref_mase:
            parts.append(trial.mase / ref_mase)
        if ref_smape:
            parts.append(trial.smape / ref_smape)
        trial.score = float(np.mean(parts)) if parts else trial.mase


def _combos(trials: dict[str, _Trial]) -> list[tuple[tuple[str, ...], tuple[float, ...] | None]]:
    """The accuracy-weighted mean of the best three candidates (weights 1/score², the default choice), and plain
    means of the best two and of ETS with Theta (with ARIMA)."""
    ranked = [t.name for t in sorted(trials.values(), key=lambda t: t.score) if t.name not in BENCHMARKS]
    found: list[tuple[tuple[str, ...], tuple[float, ...] | None]] = []
    order = list(trials)
    top = tuple(sorted(ranked[:3], key=order.index))
    if len(top) >= 2:
        found.append((top, tuple(1 / max(trials[p].score, 1e-6) ** 2 for p in top)))
    for parts in (tuple(ranked[:2]), ("AutoETS", "AutoTheta"), ("AutoETS", "AutoTheta", "AutoARIMA")):
        if len(parts) >= 2 and all(p in trials for p in parts):
            parts = tuple(sorted(parts, key=order.index))
            if (parts, None) not in found:
                found.append((parts, None))
    return found


def _coverage(
    trial: _Trial, actuals: list[np.ndarray], trains: list[np.ndarray], levels: tuple[int, ...]
) -> dict[int, float]:
    """Share of back-test actuals inside the trial's own intervals (or its conformal band when it has none)."""
    if not trial.own_intervals:
        return _calibration(trial, actuals, trains, levels)[1].get(trial.name, {})
    result = {}
    for level in levels:
        inside = []
        for prediction, actual, train in zip(trial.predictions, actuals, trains, strict=True):
            below, above = _half_widths(prediction, train, len(actual), level)
            inside.append((actual >= prediction.mean - below) & (actual <= prediction.mean + above))
        result[level] = float(np.mean(np.concatenate(inside)))
    return result


def _calibration(
    trial: _Trial, actuals: list[np.ndarray], trains: list[np.ndarray], levels: tuple[int, ...]
) -> tuple[dict[int, float], dict[str, dict[int, float]]]:
    """Conformal factors per level: how much the half widths must grow to hold the back-test actuals.

    Own intervals are only widened, where the back-test's coverage falls short of nominal by more than chance
    (binomial, one-sided 90%), and then to the conformal quantile; never narrowed. A model without
    intervals gets the random-walk-shaped band scaled to the back-test's quantile of normalised errors."""
    factors, coverage = {}, {}
    for level in levels:
        scores = []
        for prediction, actual, train in zip(trial.predictions, actuals, trains, strict=True):
            below, above = _half_widths(prediction, train, len(actual), level)
            error = actual - prediction.mean
            width = np.where(error < 0, below, above)
            with np.errstate(divide="ignore", invalid="ignore"):
                scores.append(np.where(width > 0, np.abs(error) / width, np.where(error == 0, 0.0, np.inf)))
        normalised = np.concatenate(scores)
        finite = normalised[np.isfinite(normalised)]
        quantile = min(1.0, level / 100 * (1 + 1 / max(len(normalised), 1)))
        factor = float(np.quantile(finite, quantile, method="higher")) if len(finite) else 1.0
        if trial.own_intervals:
            coverage[level] = float(np.mean(normalised <= 1.0))
            nominal = level / 100
            # Too narrow = below nominal by more than chance (one-sided 90%) on this many back-test points.
            tolerance = 1.2816 * math.sqrt(nominal * (1 - nominal) / max(len(normalised), 1))
            # At most 3x: with a few back-test points the top quantile is one outlier (a break), not a width.
            factor = min(max(factor, 1.0), 3.0) if coverage[level] < nominal - tolerance else 1.0
        else:
            coverage[level] = float(np.mean(normalised <= factor))
        factors[level] = factor if np.isfinite(factor) else 1.0
    return factors, {trial.name: coverage}


def _bounds(
    prediction: Prediction,
    y: np.ndarray,
    h: int,
    levels: tuple[int, ...],
    factors: dict[int, float],
    nonnegative: bool,
) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    bounds = {}
    previous_below = previous_above = np.zeros(h)
    for level in sorted(levels):
        below, above = _half_widths(prediction, y, h, level)
        below = np.maximum(below * factors.get(level, 1.0), previous_below)  # nested: a wider level never narrower
        above = np.maximum(above * factors.get(level, 1.0), previous_above)
        previous_below, previous_above = below, above
        lo, hi = prediction.mean - below, prediction.mean + above
        if nonnegative:
            lo, hi = np.maximum(lo, 0.0), np.maximum(hi, 0.0)
        bounds[level] = (lo, hi)
    return bounds


def _row(uid: str, model: str, smape_: float, mase_: float, coverage: dict[int, float], chosen: bool) -> dict[str, Any]:
    row = {"unique_id": uid, "model": model, "smape": smape_, "mase": mase_}
    row.update({f"coverage_{level}": value for level, value in coverage.items()})
    row["chosen"] = chosen
    return row


def _reason(
    chosen: _Trial, trials: dict[str, _Trial], origins: int, horizon: int, factors: dict[int, float]
) -> dict[str, Any]:
    reference = trials.get("SeasonalNaive") or trials.get("Naive")
    skill = None
    if reference is not None and reference.mase > 0 and np.isfinite(chosen.mase):
        skill = 1 - chosen.mase / reference.mase
    ranked = sorted(trials.values(), key=lambda t: t.score)
    runner = next((t for t in ranked if t is not chosen), None)
    if origins:
        reason = (
            f"back-test over {origins} origin(s) of {horizon} period(s): MASE {chosen.mase:.3f},"
            f" sMAPE {chosen.smape:.2f}%"
        )
        if reference is not None and reference is not chosen:
            reason += f"; {reference.name} MASE {reference.mase:.3f}"
        if runner is not None:
            reason += f"; runner-up {runner.name} MASE {runner.mase:.3f}"
    else:
        reason = "no back-test possible: the simplest method"
    widened = {lv: f for lv, f in factors.items() if f != 1.0}
    intervals = (
        "model's own"
        if chosen.own_intervals and not widened
        else "model's own, widened by the back-test ("
        + ", ".join(f"{lv}%: x{f:.2f}" for lv, f in widened.items())
        + ")"
        if chosen.own_intervals
        else "conformal, from back-test errors"
    )
    return {
        "reason": reason,
        "skill_vs_seasonal_naive": skill,
        "intervals": intervals,
        "interval_factors": factors,
        "candidates_scored": len(trials),
    }


def _finish(outcome: SeriesOutcome, started: float, cpu_started: float) -> SeriesOutcome:
    outcome.seconds = time.perf_counter() - started
    outcome.cpu_seconds = time.process_time() - cpu_started
    return outcome


# ---------------------------------------------------------------------------------------------------- many series


@dataclass(frozen=True)
class ForecastResult:
    """A forecast with what a user needs to trust it.

    - `forecasts`: unique_id, ds, yhat, lo_<L>, hi_<L> per level, model (the chosen candidate or combination).
    - `backtest`: unique_id, model, smape, mase, coverage_<L> per level, chosen — one row per candidate scored.
    - `explanations`: per series the model chosen and why, skill versus seasonal naive, seasonality and trend found,
      the intervals' source, and any fallback taken (short, constant, all-zero, gaps, empty).
    """

    forecasts: pl.DataFrame
    backtest: pl.DataFrame
    explanations: pl.DataFrame
    horizon: int
    freq: str
    levels: tuple[int, ...]
    seconds: float
    candidates: pl.DataFrame | None = None

    def explain(self, unique_id: str) -> dict[str, Any]:
        """One series' explanation as a dict."""
        rows = self.explanations.filter(pl.col("unique_id") == str(unique_id)).to_dicts()
        if not rows:
            raise KeyError(unique_id)
        return rows[0]


def _worker_init() -> None:
    for name in THREAD_VARIABLES:
        os.environ[name] = "1"
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:  # pragma: no cover - threadpoolctl comes with statsforecast
        pass


def _run_chunk(tasks: list[SeriesTask]) -> list[SeriesOutcome]:
    return [forecast_series(task) for task in tasks]


@contextmanager
def _main_hidden() -> Iterator[None]:
    """Start workers without re-running the caller's script: they need only this module, and a script without an
    `if __name__ == "__main__"` guard would otherwise start the forecast again in every worker."""
    main = sys.modules.get("__main__")
    saved = {name: getattr(main, name) for name in ("__file__", "__spec__") if hasattr(main, name)}
    try:
        for name in saved:
            if name == "__spec__":
                main.__spec__ = None  # type: ignore[union-attr]
            else:
                delattr(main, name)
        yield
    finally:
        for name, value in saved.items():
            setattr(main, name, value)


def run_tasks(
    tasks: list[SeriesTask], *, n_jobs: int | None = None, progress: Callable[[int, int], None] | None = None
) -> list[SeriesOutcome]:
    """Every task, across a pool of processes (one thread each) when there are enough; results in task order."""
    total = len(tasks)
    workers = max(1, min(n_jobs or os.cpu_count() or 1, total))
    if workers == 1 or total < INLINE_BELOW:
        outcomes = []
        for done, task in enumerate(tasks, start=1):
            outcomes.append(forecast_series(task))
            if progress:
                progress(done, total)
        return outcomes
    size = max(1, min(20, total // (workers * 4)))
    chunks = [tasks[i : i + size] for i in range(0, total, size)]
    saved = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    os.environ.update(dict.fromkeys(THREAD_VARIABLES, "1"))  # inherited by the spawned workers before numpy loads
    try:
        results: dict[int, list[SeriesOutcome]] = {}
        done = 0
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_worker_init) as pool:
            with _main_hidden():
                futures = {pool.submit(_run_chunk, chunk): i for i, chunk in enumerate(chunks)}
            for future in as_completed(futures):
                results[futures[future]] = future.result()
                done += len(results[futures[future]])
                if progress:
                    progress(done, total)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return [outcome for i in range(len(chunks)) for outcome in results[i]]


def forecast(
    frame: pl.DataFrame,
    *,
    horizon: int,
    freq: str,
    levels: tuple[int, ...] | list[int] = (80, 95),
    id_col: str = "unique_id",
    ds_col: str = "ds",
    y_col: str = "y",
    n_jobs: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    options: Options | None = None,
) -> ForecastResult:
    """Forecast every series of a long frame `horizon` periods ahead, choosing each one's model by back-test.

    `freq` is D, W, M or Q; `levels` the interval levels in percent. Raises ForecastInputError (a ValueError) for
    input it cannot forecast. `progress(done, total)` is called as series finish. Same input, same output."""
    started = time.perf_counter()
    freq = normalise_freq(freq)
    horizon = check_horizon(horizon)
    levels = check_levels(levels)
    options = options or Options()
    series, month_end = read_series(frame, freq=freq, id_col=id_col, ds_col=ds_col, y_col=y_col)
    tasks = [SeriesTask(s.unique_id, s.y, s.dates, freq, horizon, levels, options, list(s.notes)) for s in series]
    outcomes = run_tasks(tasks, n_jobs=n_jobs, progress=progress)
    return _assemble(series, outcomes, horizon, freq, levels, month_end, time.perf_counter() - started, options)


def _assemble(
    series: list[SeriesInput],
    outcomes: list[SeriesOutcome],
    horizon: int,
    freq: str,
    levels: tuple[int, ...],
    month_end: bool,
    seconds: float,
    options: Options,
) -> ForecastResult:
    ids, ds, yhat, models = [], [], [], []
    lows: dict[int, list[float]] = {lv: [] for lv in levels}
    highs: dict[int, list[float]] = {lv: [] for lv in levels}
    candidate_rows: list[dict[str, Any]] = []
    for s, outcome in zip(series, outcomes, strict=True):
        dates = future_dates(s.last_date, horizon, freq, month_end)
        ids += [s.unique_id] * horizon
        ds += dates
        yhat += outcome.mean.tolist()
        models += [outcome.model] * horizon
        for level in levels:
            lows[level] += outcome.bounds[level][0].tolist()
            highs[level] += outcome.bounds[level][1].tolist()
        for name, values in outcome.candidates.items():
            candidate_rows += [
                {
                    "unique_id": s.unique_id,
                    "ds": d,
                    "model": name,
                    "yhat": float(v),
                    "seconds": outcome.candidate_seconds.get(name),
                }
                for d, v in zip(dates, values, strict=True)
            ]
    columns: dict[str, Any] = {"unique_id": ids, "ds": ds, "yhat": yhat}
    for level in levels:
        columns[f"lo_{level}"] = lows[level]
        columns[f"hi_{level}"] = highs[level]
    columns["model"] = models
    schema = {"unique_id": pl.String, "ds": pl.Date, "yhat": pl.Float64, "model": pl.String}
    schema.update({f"{side}_{lv}": pl.Float64 for lv in levels for side in ("lo", "hi")})
    forecasts = pl.DataFrame(columns, schema={k: schema[k] for k in columns}).with_columns(
        pl.col(pl.Float64).fill_nan(None)
    )
    bt_schema: dict[str, Any] = {"unique_id": pl.String, "model": pl.String, "smape": pl.Float64, "mase": pl.Float64}
    bt_schema.update({f"coverage_{lv}": pl.Float64 for lv in levels})
    bt_schema["chosen"] = pl.Boolean
    backtest = pl.DataFrame([r for o in outcomes for r in o.backtest], schema=bt_schema)
    explanation_rows = []
    for outcome in outcomes:
        e = dict(outcome.explanation)
        explanation_rows.append(
            {
                "unique_id": outcome.unique_id,
                "model": outcome.model,
                "reason": e.get("reason"),
                "skill_vs_seasonal_naive": e.get("skill_vs_seasonal_naive"),
                "seasonality": e.get("seasonality"),
                "seasonality_note": e.get("seasonality_note"),
                "seasonal_model": bool(e.get("seasonal_model", False)),
                "trend": e.get("trend"),
                "trend_per_period": e.get("trend_per_period"),
                "intervals": e.get("intervals"),
                "origins": e.get("origins", 0),
                "observations": e.get("observations"),
                "fallback": e.get("fallback"),
                "notes": "; ".join(e.get("notes") or []) or None,
                "seconds": outcome.seconds,
                "cpu_seconds": outcome.cpu_seconds,
            }
        )
    explanations = pl.DataFrame(
        explanation_rows,
        schema={
            "unique_id": pl.String,
            "model": pl.String,
            "reason": pl.String,
            "skill_vs_seasonal_naive": pl.Float64,
            "seasonality": pl.Int64,
            "seasonality_note": pl.String,
            "seasonal_model": pl.Boolean,
            "trend": pl.String,
            "trend_per_period": pl.Float64,
            "intervals": pl.String,
            "origins": pl.Int64,
            "observations": pl.Int64,
            "fallback": pl.String,
            "notes": pl.String,
            "seconds": pl.Float64,
            "cpu_seconds": pl.Float64,
        },
    )
    candidates = (
        pl.DataFrame(
            candidate_rows,
            schema={
                "unique_id": pl.String,
                "ds": pl.Date,
                "model": pl.String,
                "yhat": pl.Float64,
                "seconds": pl.Float64,
            },
        )
        if options.keep_candidates
        else None
    )
    return ForecastResult(forecasts, backtest, explanations, horizon, freq, levels, seconds, candidates)


__all__ = ["ForecastInputError", "ForecastResult", "Options", "forecast"]
