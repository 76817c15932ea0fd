"""The forecasting engine: `forecast(frame, horizon=, freq=, levels=(80, 95))` on a long Polars frame.

Each series gets the candidate (or combination) with the lowest rolling-origin back-test error, intervals calibrated
on that back-test, and an explanation. See docs/forecasting.md.
"""

from ai.forecasting.engine import ForecastResult, Options, forecast
from ai.forecasting.errors import ForecastInputError

__all__ = ["ForecastInputError", "ForecastResult", "Options", "forecast"]
