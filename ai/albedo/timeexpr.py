"""Time expressions in requests to Albedo, resolved in the user's time zone and the workspace's fiscal calendar.

`find(text, today=, fiscal_start_month=)` returns the first time expression in `text` as a `When`: the span
it covers (first and last day, both included), the moment when one was named ("tomorrow at 10am"), the words
it was read from, and a label for replies ("Q3 FY2027: 2026-10-01 to 2026-12-31"). Understood:

- days: today, yesterday, tomorrow, on Monday / next Friday (the next such day), with a time of day:
  "at 10am", "at 14:30", "at 9.30 pm", "at noon";
- this / last / next week (weeks start on Monday), month, quarter, year (quarters and years of the fiscal
  year, which starts in the workspace's `fiscal_year_start_month`); "this fiscal year", "last FY";
- rolling windows: "last 30 days", "past 2 weeks", "next 3 months", "the last 6 months";
- named periods: "in 2025" (a fiscal year when the fiscal year is not the calendar's), "Q3" (of the current
  fiscal year), "Q1 2026", "FY2026 Q2", "March" / "in March 2025" (the latest March that has begun, when no
  year is given);
- "since March", "since 2025-03-15", "since Q2": from that start to today;
- ISO dates: 2026-03-15.

Why rules and not a date-parsing library: the spans depend on the workspace's fiscal calendar and on what a
sales team means by "this quarter" or "since March", which general-purpose parsers (dateparser, parsedatetime)
do not know; they resolve single moments, not periods. The rules are few, exact, and tested one by one.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from core.forecasts.periods import Period, period_of

MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
MONTHS |= {name.lower(): i for i, name in enumerate(calendar.month_abbr) if name}
MONTHS["sept"] = 9
WEEKDAYS = {name.lower(): i for i, name in enumerate(calendar.day_name)}
UNITS = {"day": 1, "week": 7, "month": 30, "quarter": 91, "year": 365}

_MONTH = r"(?P<month>" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
_TIME = r"(?:\s+at\s+(?P<time>noon|midnight|\d{1,2}(?:[:.]\d{2})?\s*(?:am|pm)?))?"
_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    (kind, re.compile(pattern, re.IGNORECASE))
    for kind, pattern in (
        ("iso", r"\b(?P<since>since\s+)?(?P<iso>\d{4}-\d{2}-\d{2})\b"),
        (
            "rolling",
            r"\b(?:the\s+)?(?P<dir>last|past|next|coming)\s+(?P<n>\d{1,3})\s+(?P<unit>day|week|month|quarter|year)s?\b",
        ),
        ("fy_quarter", r"\b(?P<since>since\s+)?FY\s?(?P<year>\d{4})\s+Q(?P<q>[1-4])\b"),
        ("quarter", r"\b(?P<since>since\s+)?Q(?P<q>[1-4])(?:\s+(?:of\s+)?(?:FY\s?)?(?P<year>\d{4}))?\b"),
        (
            "relative",
            r"\b(?P<since>since\s+)?(?P<dir>this|last|next|previous|current)\s+(?P<fiscal>fiscal\s+)?(?P<unit>week|month|quarter|year|fy)\b",
        ),
        ("day", r"\b(?P<day>today|yesterday|tomorrow)\b" + _TIME),
        (
            "weekday",
            r"\b(?:on\s+|next\s+)?(?P<weekday>monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b" + _TIME,
        ),
        ("month", r"\b(?P<since>since\s+)?(?:in\s+)?" + _MONTH + r"(?:\s+(?P<year>\d{4}))?\b"),
        # A bare number is not a year ("deals over 2000"): it needs a word that makes it one.
        ("year", r"\b(?:(?P<since>since)|in|during|for|FY|of)\s?(?:FY\s?)?(?P<year>20\d{2}|19\d{2})\b"),
    )
]


@dataclass(frozen=True)
class When:
    start: date
    end: date  # inclusive
    text: str  # the words it was read from
    at: datetime | None = None  # a moment, when a time of day was named
    kind: str = "span"  # "day", "moment", "span", "since"

    @property
    def label(self) -> str:
        if self.at is not None:
            return self.at.strftime("%Y-%m-%d %H:%M")
        if self.start == self.end:
            return self.start.isoformat()
        return f"{self.start.isoformat()} to {self.end.isoformat()}"


def _time_of_day(raw: str | None) -> time | None:
    if not raw:
        return None
    raw = raw.strip().lower()
    if raw == "noon":
        return time(12, 0)
    if raw == "midnight":
        return time(0, 0)
    match = re.fullmatch(r"(\d{1,2})(?:[:.](\d{2}))?\s*(am|pm)?", raw)
    if not match:
        return None
    hour, minute, half = int(match[1]), int(match[2] or 0), match[3]
    if half == "pm" and hour < 12:
        hour += 12
    if half == "am" and hour == 12:
        hour = 0
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)


def _fiscal_year(year: int, fiscal_start_month: int) -> Period:
    """Fiscal year `year` (named by the calendar year it ends in, like core/forecasts/periods.py)."""
    last_day = date(year, 12, 31) if fiscal_start_month == 1 else date(year, fiscal_start_month, 1) - timedelta(days=1)
    return period_of("year", last_day, fiscal_start_month)


def _fiscal_quarter(q: int, fiscal_year: Period, fiscal_start_month: int) -> Period:
    start = fiscal_year.start
    month = start.month - 1 + 3 * (q - 1)
    return period_of("quarter", date(start.year + month // 12, month % 12 + 1, 1), fiscal_start_month)


def _span(kind: str, start: date, end: date, text: str, since: bool, today: date) -> When:
    if since:
        return When(start, today, text, kind="since")
    return When(start, end, text, kind=kind)


def find(text: str, *, today: date, fiscal_start_month: int = 1, tz: str | ZoneInfo = "UTC") -> When | None:
    """The first time expression in `text` (the earliest match; the longest at the same place), or None."""
    zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
    best: tuple[int, int, str, re.Match[str]] | None = None
    for kind, pattern in _PATTERNS:
        for match in pattern.finditer(text):
            if not _plausible(kind, match):
                continue
            key = (match.start(), -(match.end() - match.start()))
            if best is None or key < best[:2]:
                best = (key[0], key[1], kind, match)
            break
    if best is None:
        return None
    kind, match = best[2], best[3]
    return _resolve(kind, match, today, fiscal_start_month, zone)


def _plausible(kind: str, m: re.Match[str]) -> bool:
    """ "May" is a month only when the words around make it one ("in May", "since May", "May 2025")."""
    if kind == "month" and m["month"].lower() == "may":
        words = m.group(0).lower()
        return words.startswith(("in ", "since ")) or m["year"] is not None
    return True


def _resolve(kind: str, m: re.Match[str], today: date, fsm: int, zone: ZoneInfo) -> When | None:
    words = m.group(0).strip()
    since = bool(m.groupdict().get("since"))
    if kind == "iso":
        day = date.fromisoformat(m["iso"])
        return _span("day", day, day, words, since, today)
    if kind == "rolling":
        n, unit, ahead = int(m["n"]), m["unit"].lower(), m["dir"].lower() in ("next", "coming")
        days = n * UNITS[unit]
        if ahead:
            return When(today, today + timedelta(days=days - 1), words)
        return When(today - timedelta(days=days - 1), today, words)
    if kind in ("fy_quarter", "quarter"):
        if m["year"]:
            fiscal_year = _fiscal_year(int(m["year"]), fsm)
        else:
            fiscal_year = period_of("year", today, fsm)
        quarter = _fiscal_quarter(int(m["q"]), fiscal_year, fsm)
        return _span("span", quarter.start, quarter.end, words, since, today)
    if kind == "relative":
        unit = m["unit"].lower()
        unit = "year" if unit == "fy" else unit
        step = {"this": 0, "current": 0, "last": -1, "previous": -1, "next": 1}[m["dir"].lower()]
        if unit == "week":
            monday = today - timedelta(days=today.weekday()) + timedelta(weeks=step)
            return _span("span", monday, monday + timedelta(days=6), words, since, today)
        period = period_of(unit, today, fsm)
        for _ in range(abs(step)):
            period = period.next(fsm) if step > 0 else period.previous(fsm)
        return _span("span", period.start, period.end, words, since, today)
    if kind == "day":
        day = today + timedelta(days={"today": 0, "yesterday": -1, "tomorrow": 1}[m["day"].lower()])
        return _moment(day, m, words, zone)
    if kind == "weekday":
        days = (WEEKDAYS[m["weekday"].lower()] - today.weekday()) % 7 or 7
        return _moment(today + timedelta(days=days), m, words, zone)
    if kind == "month":
        month = MONTHS[m["month"].lower()]
        if m["year"]:
            year = int(m["year"])
        else:  # the latest such month that has begun
            year = today.year if month <= today.month else today.year - 1
        first = date(year, month, 1)
        last = first.replace(day=calendar.monthrange(year, month)[1])
        return _span("span", first, last, words, since, today)
    if kind == "year":
        year = int(m["year"])
        period = _fiscal_year(year, fsm)
        return _span("span", period.start, period.end, words, since, today)
    return None


def _moment(day: date, m: re.Match[str], words: str, zone: ZoneInfo) -> When:
    at = _time_of_day(m.groupdict().get("time"))
    if at is None:
        return When(day, day, words, kind="day")
    return When(day, day, words, at=datetime.combine(day, at, tzinfo=zone), kind="moment")
