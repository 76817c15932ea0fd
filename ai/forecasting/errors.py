"""The one error a caller of the engine must handle: input it cannot forecast, with what to fix."""

from __future__ import annotations


class ForecastInputError(ValueError):
    """The input frame, horizon, frequency or levels cannot be forecast; the message says what to fix."""
