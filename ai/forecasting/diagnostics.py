"""What the data supports (seasonality, trend) and the accuracy measures of the M competitions."""

from __future__ import annotations

import numpy as np


def seasonal_naive_scale(y: np.ndarray, m: int) -> float:
    """In-sample mean absolute error of the seasonal naive forecast (lag m, or 1 where too short): MASE's scale."""
    lag = m if len(y) > m else 1
    if len(y) <= lag:
        return float("nan")
    return float(np.mean(np.abs(y[lag:] - y[:-lag])))


def smape(actual: np.ndarray, predicted: np.ndarray) -> float:
    """sMAPE in percent; a step where both are 0 counts as 0 error."""
    denominator = np.abs(actual) + np.abs(predicted)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(denominator > 0, 200.0 * np.abs(actual - predicted) / denominator, 0.0)
    return float(np.mean(terms))


def mase(actual: np.ndarray, predicted: np.ndarray, scale: float) -> float:
    """MASE; a flat history (scale 0) falls back to scaling by the mean absolute level, then 1."""
    error = float(np.mean(np.abs(actual - predicted)))
    if not np.isfinite(scale) or scale <= 0:
        level = float(np.mean(np.abs(actual)))
        scale = level if level > 0 else 1.0
    return error / scale


def seasonality_test(y: np.ndarray, m: int) -> bool:
    """The autocorrelation test at lag m that Theta and the M4 benchmarks use (90% level)."""
    if m <= 1 or len(y) < 3 * m:
        return False
    x = y - y.mean()
    denominator = float(np.sum(x * x))
    if denominator <= 0:
        return False
    acf = np.array([np.sum(x[k:] * x[:-k]) / denominator for k in range(1, m + 1)])
    limit = 1.645 * np.sqrt((1 + 2 * np.sum(acf[: m - 1] ** 2)) / len(y))
    return bool(abs(acf[m - 1]) > limit)


def deseasonalise(y: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Classical additive decomposition: the adjusted series and the m seasonal indices (position 0 = y[0])."""
    n = len(y)
    if m <= 1 or n < 2 * m:
        return y.copy(), np.zeros(max(m, 1))
    kernel = np.ones(m) / m
    if m % 2 == 0:
        kernel = np.convolve(kernel, [0.5, 0.5])
    trend = np.convolve(y, kernel, mode="valid")
    offset = (len(kernel) - 1) // 2
    detrended = y[offset : offset + len(trend)] - trend
    positions = (np.arange(len(trend)) + offset) % m
    season = np.array([detrended[positions == k].mean() if np.any(positions == k) else 0.0 for k in range(m)])
    season -= season.mean()
    return y - season[np.arange(n) % m], season


def trend_test(y: np.ndarray, m: int, seasonal: bool) -> tuple[str, float]:
    """Direction ('up', 'down', 'none') and slope per period of a linear trend, judged on the adjusted series.

    A trend counts when its t-statistic exceeds 3 (residuals are autocorrelated, so 2 would find trends in random
    walks too often) and it moves the level by at least 5% over the history."""
    n = len(y)
    if n < 4:
        return "none", 0.0
    series = deseasonalise(y, m)[0] if seasonal else y
    t = np.arange(n, dtype=float)
    slope, intercept = np.polyfit(t, series, 1)
    residuals = series - (slope * t + intercept)
    spread = np.sqrt(np.sum(residuals**2) / max(n - 2, 1) / np.sum((t - t.mean()) ** 2))
    level = float(np.mean(np.abs(series))) or 1.0
    if spread > 0 and abs(slope) / spread > 3 and abs(slope) * n > 0.05 * level:
        return ("up" if slope > 0 else "down"), float(slope)
    if spread == 0 and slope != 0:
        return ("up" if slope > 0 else "down"), float(slope)
    return "none", float(slope)
