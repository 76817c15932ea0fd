"""Forecast and quota periods: calendar months, and quarters and years of the workspace's fiscal year (which
starts in the month of its `fiscal_year_start_month` setting, January by default)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

PERIOD_MONTHS = {"month": 1, "quarter": 3, "year": 12}


@dataclass(frozen=True, order=True)
class Period:
    kind: str
    start: date
    end: date  # the last day, inclusive

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def label(self, fiscal_start_month: int = 1) -> str:
        """`2026-03`, `FY2026 Q2`, `FY2026` (a fiscal year is named by the calendar year it ends in)."""
        if self.kind == "month":
            return f"{self.start:%Y-%m}"
        fiscal_year = self.end.year
        if self.kind == "year":
            return f"FY{fiscal_year}" if fiscal_start_month != 1 else f"{self.start.year}"
        quarter = ((self.start.month - fiscal_start_month) % 12) // 3 + 1
        year = _fiscal_year_of(self.start, fiscal_start_month)
        return f"FY{year} Q{quarter}" if fiscal_start_month != 1 else f"{self.start.year} Q{quarter}"

    def next(self, fiscal_start_month: int = 1) -> Period:
        return period_of(self.kind, self.end + timedelta(days=1), fiscal_start_month)

    def previous(self, fiscal_start_month: int = 1) -> Period:
        return period_of(self.kind, self.start - timedelta(days=1), fiscal_start_month)


def _fiscal_year_of(day: date, fiscal_start_month: int) -> int:
    return day.year + (1 if fiscal_start_month > 1 and day.month >= fiscal_start_month else 0)


def _add_months(day: date, months: int) -> date:
    total = day.year * 12 + day.month - 1 + months
    return date(total // 12, total % 12 + 1, 1)


def period_of(kind: str, day: date, fiscal_start_month: int = 1) -> Period:
    """The period of `kind` (month, quarter, year) that contains `day`."""
    if kind not in PERIOD_MONTHS:
        raise ValueError(f"unknown period {kind!r}: use month, quarter or year")
    if not 1 <= fiscal_start_month <= 12:
        raise ValueError("fiscal_start_month must be 1..12")
    length = PERIOD_MONTHS[kind]
    anchor = 1 if kind == "month" else fiscal_start_month
    offset = (day.month - anchor) % length
    start = _add_months(date(day.year, day.month, 1), -offset)
    end = _add_months(start, length) - timedelta(days=1)
    return Period(kind, start, end)


def is_period_start(kind: str, day: date, fiscal_start_month: int = 1) -> bool:
    return period_of(kind, day, fiscal_start_month).start == day


def closed_periods(kind: str, before: date, count: int, fiscal_start_month: int = 1) -> list[Period]:
    """The last `count` periods of `kind` that ended before `before`, oldest first."""
    out: list[Period] = []
    period = period_of(kind, before, fiscal_start_month).previous(fiscal_start_month)
    for _ in range(max(count, 0)):
        out.append(period)
        period = period.previous(fiscal_start_month)
    return out[::-1]
