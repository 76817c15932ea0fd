"""When a report schedule runs next: `time_of_day` on the wall clock of `timezone`, daily, weekly on
`day_of_week` (1 = Monday ... 7 = Sunday) or monthly on `day_of_month` (the month's last day when the month is
shorter: the 31st runs on 30 April and on 28 or 29 February), as an instant in UTC.

Daylight saving time is the zone's (zoneinfo): a 09:00 schedule stays at 09:00 local, so its UTC time moves
by an hour twice a year. A time the clocks skip (02:30 on a spring-forward night) runs at the same moment
an hour later on the new clock (03:30); a time that happens twice (01:30 on a fall-back night) runs once, at
the first of the two.
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

TIME_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
_TIME = re.compile(TIME_PATTERN)
_LOOKAHEAD_DAYS = 400  # more than a year: every frequency finds its next day well within it


def parse_time(value: str) -> time:
    """'HH:MM' (24-hour clock) as a time; ValueError saying what is expected otherwise."""
    if not isinstance(value, str) or not _TIME.fullmatch(value):
        raise ValueError("must be a 24-hour time HH:MM, e.g. '07:30' or '18:00'")
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def parse_zone(name: str) -> ZoneInfo:
    """An IANA timezone by name ('Europe/Paris', 'UTC'); ValueError saying what is expected otherwise."""
    try:
        if not name or name != name.strip() or name.startswith(("/", ".")):
            raise ValueError
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValueError(f"unknown timezone {name!r}: use an IANA name such as 'UTC' or 'Europe/Paris'") from None


def runs_on(day: date, *, frequency: str, day_of_week: int | None = None, day_of_month: int | None = None) -> bool:
    """Whether a schedule of this frequency runs on `day` (a local date)."""
    if frequency == "daily":
        return True
    if frequency == "weekly":
        return day.isoweekday() == day_of_week
    if frequency == "monthly":
        if day_of_month is None:
            return False
        last = calendar.monthrange(day.year, day.month)[1]
        return day.day == min(day_of_month, last)
    raise ValueError(f"unknown frequency {frequency!r}: daily, weekly or monthly")


def local_instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    """`at` on `day` in `zone`, in UTC. A skipped wall time maps to the instant that many minutes after the
    jump (PEP 495, fold 0: the offset before the transition); a repeated one to its first occurrence."""
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def next_run(
    *,
    frequency: str,
    time_of_day: str,
    timezone: str,
    day_of_week: int | None = None,
    day_of_month: int | None = None,
    after: datetime,
) -> datetime:
    """The first run strictly after `after` (timezone-aware), in UTC."""
    if after.tzinfo is None:
        raise ValueError("after must be timezone-aware")
    zone = parse_zone(timezone)
    at = parse_time(time_of_day)
    # Start a day early: a run late in the previous local day can still be after `after` in another offset.
    start = after.astimezone(zone).date() - timedelta(days=1)
    for offset in range(_LOOKAHEAD_DAYS):
        day = start + timedelta(days=offset)
        if not runs_on(day, frequency=frequency, day_of_week=day_of_week, day_of_month=day_of_month):
            continue
        candidate = local_instant(day, at, zone)
        if candidate > after:
            return candidate
    raise ValueError("the schedule never runs: check its frequency and day")
