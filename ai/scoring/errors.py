"""Errors of the scoring engine."""


class ScoringInputError(ValueError):
    """The input cannot be scored or trained on; the message says what to fix."""
