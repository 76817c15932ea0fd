"""The candidate forecasters, each behind one call: `predict(y, h, levels) -> Prediction`.

statsforecast's models are called directly on a numpy array (no frames, no pool of their own: the engine's pool
parallelises across series). Prophet is wrapped with the seasonality the frequency and length allow.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ai.forecasting.diagnostics import deseasonalise


@dataclass
class Prediction:
    """A point forecast and, where the model has them, its own interval bounds per level."""

    mean: np.ndarray
    bounds: dict[int, tuple[np.ndarray, np.ndarray]] | None = None


@dataclass
class Candidate:
    """One forecaster; `state` carries what is searched once per series (ARIMA orders) across origins."""

    name: str
    own_intervals: bool
    seasonal: bool = False
    state: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)

    def predict(self, y: np.ndarray, h: int, levels: tuple[int, ...]) -> Prediction:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _PREDICTORS[self.name](self, y, h, levels)


def _stats_prediction(raw: dict[str, np.ndarray], levels: tuple[int, ...]) -> Prediction:
    bounds = {}
    for level in levels:
        lo, hi = raw.get(f"lo-{level}"), raw.get(f"hi-{level}")
        if lo is None or hi is None or not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
            return Prediction(np.asarray(raw["mean"], dtype=float))
        bounds[level] = (np.asarray(lo, dtype=float), np.asarray(hi, dtype=float))
    return Prediction(np.asarray(raw["mean"], dtype=float), bounds)


def _naive(c: Candidate, y: np.ndarray, h: int, levels: tuple[int, ...]) -> Prediction:
    from statsforecast.models import Naive

    return _stats_prediction(Naive().forecast(y=y, h=h, level=list(levels)), levels)


def _seasonal_naive(c: Candidate, y: np.ndarray, h: int, levels: tuple[int, ...]) -> Prediction:
    from statsforecast.models import SeasonalNaive

    return _stats_prediction(SeasonalNaive(season_length=c.options["m"]).forecast(y=y, h=h, level=list(levels)), levels)


def _drift(c: Candidate, y: np.ndarray, h: int, levels: tuple[int, ...]) -> Prediction:
    from statsforecast.models import RandomWalkWithDrift

    return _stats_prediction(RandomWalkWithDrift().forecast(y=y, h=h, level=list(levels)), levels)


def _with_adjustment(c: Candidate, y: np.ndarray, h: int, levels: tuple[int, ...], model: Any) -> Prediction:
    """Seasons longer than 24 (weekly data): forecast the seasonally adjusted series, then add the season back."""
    m = c.options["m"]
    if c.options.get("adjust") and m > 1 and len(y) >= 2 * m:
        adjusted, season = deseasonalise(y, m)
        raw = model.forecast(y=adjusted, h=h, level=list(levels))
        future = season[(len(y) + np.arange(h)) % m]
        shifted = {k: np.asarray(v) + future for k, v in raw.items() if k != "fitted"}
        return _stats_prediction(shifted, levels)
    return _stats_prediction(model.forecast(y=y, h=h, level=list(levels)), levels)


def _ets(c: Candidate, y: np.ndarray, h: int, levels: tuple[int, ...]) -> Prediction:
    from statsforecast.models import AutoETS

    season = 1 if c.options.get("adjust") else c.options["m"]
    return _with_adjustment(c, y, h, levels, AutoETS(season_length=season))


def _theta(c: Candidate, y: np.ndarray, h: int, levels: tuple[int, ...]) -> Prediction:
    from statsforecast.models import AutoTheta

    return _stats_prediction(AutoTheta(season_length=c.options["m"]).forecast(y=y, h=h, level=list(levels)), levels)


def _arima(c: Candidate, y: np.ndarray, h: int, levels: tuple[int, ...]) -> Prediction:
    """AutoARIMA searches its orders once per series (at the first call); later origins re-estimate those orders."""
    from statsforecast.models import ARIMA, AutoARIMA

    season = 1 if c.options.get("adjust") else c.options["m"]
    if "arma" not in c.state:
        series = deseasonalise(y, c.options["m"])[0] if c.options.get("adjust") and len(y) >= 2 * c.options["m"] else y
        fitted = AutoARIMA(season_length=season).fit(series)
        c.state["arma"] = tuple(int(v) for v in fitted.model_["arma"])
        c.state["mean"] = "xreg" in fitted.model_ and fitted.model_["xreg"] is not None
    p, q, sp, sq, s, d, sd = c.state["arma"]
    model = ARIMA(
        order=(p, d, q),
        seasonal_order=(sp, sd, sq),
        season_length=max(s, 1),
        include_mean=bool(d + sd == 0),
        include_drift=bool(c.state.get("mean") and d + sd == 1),
    )
    try:
        return _with_adjustment(c, y, h, levels, model)
    except Exception:  # noqa: BLE001 - a fixed order can fail on a shorter window: search again there
        return _with_adjustment(c, y, h, levels, AutoARIMA(season_length=season))


def _intermittent(c: Candidate, y: np.ndarray, h: int, levels: tuple[int, ...]) -> Prediction:
    from statsforecast.models import ADIDA, IMAPA, CrostonOptimized

    model = {"CrostonOptimized": CrostonOptimized, "ADIDA": ADIDA, "IMAPA": IMAPA}[c.name]()
    return Prediction(np.asarray(model.forecast(y=y, h=h)["mean"], dtype=float))


def _prophet(c: Candidate, y: np.ndarray, h: int, levels: tuple[int, ...]) -> Prediction:
    """Prophet with its defaults, seasonality switched on where the frequency and length support it."""
    import pandas as pd

    logging.getLogger("cmdstanpy").setLevel(logging.ERROR)
    logging.getLogger("prophet").setLevel(logging.ERROR)
    from prophet import Prophet

    dates = c.options["dates"][: len(y)]
    freq, n = c.options["freq"], len(y)
    per_year = {"D": 365, "W": 52, "M": 12, "Q": 4}[freq]
    model = Prophet(
        yearly_seasonality=n >= 2 * per_year if c.options.get("tuned", True) else "auto",
        weekly_seasonality=(freq == "D" and n >= 14) if c.options.get("tuned", True) else "auto",
        daily_seasonality=False,
        uncertainty_samples=0,
    )
    frame = pd.DataFrame({"ds": pd.to_datetime(dates), "y": y})
    model.fit(frame, algorithm="LBFGS", seed=1)
    step = {"D": "D", "W": "W-MON", "M": "MS", "Q": "QS"}[freq]
    future = pd.DataFrame({"ds": pd.date_range(frame["ds"].iloc[-1], periods=h + 1, freq=step)[1:]})
    return Prediction(model.predict(future)["yhat"].to_numpy(dtype=float))


_PREDICTORS = {
    "Naive": _naive,
    "SeasonalNaive": _seasonal_naive,
    "RandomWalkWithDrift": _drift,
    "AutoETS": _ets,
    "AutoTheta": _theta,
    "AutoARIMA": _arima,
    "CrostonOptimized": _intermittent,
    "ADIDA": _intermittent,
    "IMAPA": _intermittent,
    "Prophet": _prophet,
}
