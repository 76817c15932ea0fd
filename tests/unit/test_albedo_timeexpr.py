"""Albedo's time expressions: each resolved to the span a sales team means, in the workspace's fiscal calendar
and the user's time zone; words that are not time expressions are left alone."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from ai.albedo.timeexpr import find

TODAY = date(2026, 11, 27)  # a Friday


def d(text: str) -> date:
    return date.fromisoformat(text)


@pytest.mark.parametrize(
    ("text", "fiscal", "start", "end"),
    [
        ("deals closing today", 1, "2026-11-27", "2026-11-27"),
        ("calls yesterday", 1, "2026-11-26", "2026-11-26"),
        ("what closes this week", 1, "2026-11-23", "2026-11-29"),
        ("meetings last week", 1, "2026-11-16", "2026-11-22"),
        ("pipeline for next month", 1, "2026-12-01", "2026-12-31"),
        ("won this quarter", 1, "2026-10-01", "2026-12-31"),
        ("won this quarter", 2, "2026-11-01", "2027-01-31"),
        ("won last quarter", 2, "2026-08-01", "2026-10-31"),
        ("revenue this year", 1, "2026-01-01", "2026-12-31"),
        ("revenue this fiscal year", 4, "2026-04-01", "2027-03-31"),
        ("revenue last year", 4, "2025-04-01", "2026-03-31"),
        ("deals won in 2025", 1, "2025-01-01", "2025-12-31"),
        ("deals won in 2025", 4, "2024-04-01", "2025-03-31"),
        ("tasks due in the next 30 days", 1, "2026-11-27", "2026-12-26"),
        ("activities over the past 2 weeks", 1, "2026-11-14", "2026-11-27"),
        ("leads since March", 1, "2026-03-01", "2026-11-27"),
        ("leads since 2026-03-15", 1, "2026-03-15", "2026-11-27"),
        ("since last quarter", 1, "2026-07-01", "2026-11-27"),
        ("closed in March", 1, "2026-03-01", "2026-03-31"),
        ("closed in December", 1, "2025-12-01", "2025-12-31"),  # the latest December that has begun
        ("closed in May", 1, "2026-05-01", "2026-05-31"),
        ("closed in March 2024", 1, "2024-03-01", "2024-03-31"),
        ("forecast for Q3", 1, "2026-07-01", "2026-09-30"),
        ("forecast for Q3", 4, "2026-10-01", "2026-12-31"),  # Q3 of FY2027, the fiscal year we are in
        ("Q1 2026 bookings", 1, "2026-01-01", "2026-03-31"),
        ("FY2026 Q2 bookings", 4, "2025-07-01", "2025-09-30"),
        ("on 2026-12-24", 1, "2026-12-24", "2026-12-24"),
    ],
)
def test_spans(text: str, fiscal: int, start: str, end: str) -> None:
    found = find(text, today=TODAY, fiscal_start_month=fiscal)
    assert found is not None, text
    assert (found.start, found.end) == (d(start), d(end)), (text, found)


def test_a_moment_in_the_users_time_zone() -> None:
    found = find("remind me tomorrow at 10am", today=TODAY, tz="Europe/Berlin")
    assert found is not None and found.kind == "moment"
    assert found.at == datetime(2026, 11, 28, 10, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    assert found.text == "tomorrow at 10am" and found.label == "2026-11-28 10:00"
    assert find("call on Monday at 14:30", today=TODAY).at == datetime(2026, 11, 30, 14, 30, tzinfo=ZoneInfo("UTC"))
    assert find("next friday at 9.15 pm", today=TODAY).at.hour == 21  # type: ignore[union-attr]
    assert find("tomorrow at noon", today=TODAY).at.hour == 12  # type: ignore[union-attr]
    plain = find("send it next Friday", today=TODAY)
    assert plain is not None and plain.start == date(2026, 12, 4) and plain.at is None  # a week on, not today


@pytest.mark.parametrize(
    "text",
    [
        "what is my pipeline",
        "may I see the deals over 2000",
        "deals above $50k",
        "the 2024 plan deck",
        "Tomorrowland Inc",
    ],
)
def test_words_that_are_not_time_expressions(text: str) -> None:
    assert find(text, today=TODAY) is None


def test_the_first_expression_counts_and_the_longest_at_that_place() -> None:
    found = find("compare Q1 2026 with last quarter", today=TODAY)
    assert found is not None and found.text == "Q1 2026"
    assert find("FY2026 Q2", today=TODAY, fiscal_start_month=4).text == "FY2026 Q2"  # type: ignore[union-attr]
