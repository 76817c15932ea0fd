"""The standard reports every tenant gets: specs like any saved report (users may copy them, not change them),
each with a stable key (what `/reports/standard/{key}` and dashboard widgets name it by), a name and a
description saying what it counts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.analytics.spec import ReportSpec, parse_spec


@dataclass(frozen=True)
class StandardReport:
    key: str
    name: str
    description: str
    spec: ReportSpec


def _closed(*extra: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"field": "is_closed", "value": True}, *extra]


def _win_rate_by(field: str) -> dict[str, Any]:
    return {
        "entity": "deals",
        "filters": _closed(),
        "groupBy": [{"field": field}],
        "aggregations": [
            {"fn": "count", "name": "closed", "label": "Closed deals"},
            {"fn": "sum", "field": "is_won", "name": "won", "label": "Won"},
            {"fn": "avg", "field": "is_won", "name": "win_rate", "label": "Win rate"},
            {"fn": "sum", "field": "amount", "name": "closed_amount", "label": "Closed amount"},
        ],
        "sort": [{"field": "win_rate", "direction": "desc"}, {"field": field}],
        "chart": {"type": "bar", "x": field, "y": ["win_rate"]},
    }


_WON = {"field": "status", "value": "won"}

_DEFINITIONS: list[tuple[str, str, str, dict[str, Any]]] = [
    (
        "pipeline_by_stage",
        "Pipeline by stage",
        "Open deals per stage, in pipeline order: how many, their amount and their probability-weighted amount.",
        {
            "entity": "deals",
            "filters": [{"field": "status", "value": "open"}],
            "groupBy": [{"field": "pipeline"}, {"field": "stage_order"}, {"field": "stage"}],
            "aggregations": [
                {"fn": "count", "name": "deals", "label": "Deals"},
                {"fn": "sum", "field": "amount", "name": "amount", "label": "Amount"},
                {"fn": "sum", "field": "weighted_amount", "name": "weighted_amount", "label": "Weighted amount"},
            ],
            "chart": {"type": "bar", "x": "stage", "y": ["amount", "weighted_amount"]},
        },
    ),
    (
        "funnel_conversion",
        "Funnel conversion",
        "Closed deals by the open stages they reached (a skipped stage counts as passed): how many reached each "
        "stage and the share that went on to the next stage or to a win.",
        {
            "entity": "deal_funnel",
            "filters": [{"field": "deal_status", "op": "in", "value": ["won", "lost"]}],
            "groupBy": [{"field": "pipeline"}, {"field": "stage_order"}, {"field": "stage"}],
            "aggregations": [
                {"fn": "count", "name": "reached", "label": "Deals reaching the stage"},
                {"fn": "sum", "field": "advanced", "name": "advanced", "label": "Went on"},
                {"fn": "avg", "field": "advanced", "name": "conversion", "label": "Stage conversion"},
            ],
            "chart": {"type": "funnel", "x": "stage", "y": ["reached"]},
        },
    ),
    (
        "win_rate_by_rep",
        "Win rate by rep",
        "Closed deals per owner: won out of closed (won + lost).",
        _win_rate_by("owner"),
    ),
    ("win_rate_by_team", "Win rate by team", "Closed deals per owner's team: won out of closed.", _win_rate_by("team")),
    (
        "win_rate_by_lead_source",
        "Win rate by lead source",
        "Closed deals per lead source: won out of closed.",
        _win_rate_by("lead_source"),
    ),
    (
        "win_rate_by_industry",
        "Win rate by industry",
        "Closed deals per account industry (deals without an account under none): won out of closed.",
        _win_rate_by("industry"),
    ),
    (
        "average_deal_size",
        "Average deal size",
        "Won deals: their average and median amount, their number and total.",
        {
            "entity": "deals",
            "filters": [_WON],
            "aggregations": [
                {"fn": "avg", "field": "amount", "name": "average_amount", "label": "Average won deal"},
                {"fn": "median", "field": "amount", "name": "median_amount", "label": "Median won deal"},
                {"fn": "count", "name": "won", "label": "Won deals"},
                {"fn": "sum", "field": "amount", "name": "won_amount", "label": "Won amount"},
            ],
            "chart": {"type": "metric", "y": ["average_amount"]},
        },
    ),
    (
        "sales_cycle_length",
        "Sales cycle length",
        "Won deals: days from creation to close (average and median).",
        {
            "entity": "deals",
            "filters": [_WON],
            "aggregations": [
                {"fn": "avg", "field": "cycle_days", "name": "average_days", "label": "Average days to win"},
                {"fn": "median", "field": "cycle_days", "name": "median_days", "label": "Median days to win"},
                {"fn": "count", "name": "won", "label": "Won deals"},
            ],
            "chart": {"type": "metric", "y": ["average_days"]},
        },
    ),
    (
        "time_in_stage",
        "Time in stage",
        "Average days deals spent in each open stage before moving on (completed stays, from stage history).",
        {
            "entity": "stage_history",
            "filters": [
                {"field": "stage_is_closed", "value": False},
                {"field": "is_current", "value": False},
            ],
            "groupBy": [{"field": "pipeline"}, {"field": "stage_order"}, {"field": "stage"}],
            "aggregations": [
                {"fn": "avg", "field": "days_in_stage", "name": "average_days", "label": "Average days"},
                {"fn": "median", "field": "days_in_stage", "name": "median_days", "label": "Median days"},
                {"fn": "count", "name": "stays", "label": "Stays"},
            ],
            "chart": {"type": "bar", "x": "stage", "y": ["average_days"]},
        },
    ),
    (
        "activities_per_rep",
        "Activities per rep",
        "Activities logged per owner, with how many were on deals.",
        {
            "entity": "activities",
            "groupBy": [{"field": "owner"}, {"field": "team"}],
            "aggregations": [
                {"fn": "count", "name": "activities", "label": "Activities"},
                {"fn": "sum", "field": "has_deal", "name": "on_deals", "label": "On deals"},
                {"fn": "count_distinct", "field": "deal_id", "name": "deals", "label": "Deals worked"},
            ],
            "sort": [{"field": "activities", "direction": "desc"}, {"field": "owner"}],
            "chart": {"type": "bar", "x": "owner", "y": ["activities"]},
        },
    ),
    (
        "activities_by_outcome",
        "Activities per won and lost deal",
        "Closed deals by outcome: the average number of activities logged on each deal.",
        {
            "entity": "deals",
            "filters": _closed(),
            "groupBy": [{"field": "status"}],
            "aggregations": [
                {"fn": "avg", "field": "activity_count", "name": "activities_per_deal", "label": "Activities per deal"},
                {"fn": "count", "name": "deals", "label": "Deals"},
                {"fn": "sum", "field": "activity_count", "name": "activities", "label": "Activities"},
            ],
            "chart": {"type": "bar", "x": "status", "y": ["activities_per_deal"]},
        },
    ),
    (
        "lost_reasons",
        "Lost reasons",
        "Lost deals by the reason given: how many and their amount.",
        {
            "entity": "deals",
            "filters": [{"field": "status", "value": "lost"}],
            "groupBy": [{"field": "lost_reason"}],
            "aggregations": [
                {"fn": "count", "name": "deals", "label": "Lost deals"},
                {"fn": "sum", "field": "amount", "name": "amount", "label": "Lost amount"},
            ],
            "sort": [{"field": "deals", "direction": "desc"}, {"field": "lost_reason"}],
            "chart": {"type": "pie", "x": "lost_reason", "y": ["deals"]},
        },
    ),
    (
        "revenue_by_month",
        "Revenue by month",
        "Won deals by the month they closed: amount won and how many.",
        {
            "entity": "deals",
            "filters": [_WON],
            "groupBy": [{"field": "actual_close_date", "bucket": "month", "name": "month"}],
            "aggregations": [
                {"fn": "sum", "field": "amount", "name": "revenue", "label": "Revenue"},
                {"fn": "count", "name": "won", "label": "Won deals"},
            ],
            "chart": {"type": "line", "x": "month", "y": ["revenue"]},
        },
    ),
    (
        "stale_deals",
        "Stale deals",
        "Open deals that have sat in their stage longer than the stage allows (rotting), longest first.",
        {
            "entity": "deals",
            "columns": ["name", "owner", "stage", "amount", "days_in_stage", "expected_close_date", "account"],
            "filters": [{"field": "is_rotting", "value": True}],
            "sort": [{"field": "days_in_stage", "direction": "desc"}],
        },
    ),
]

STANDARD_REPORTS: dict[str, StandardReport] = {
    key: StandardReport(key, name, description, parse_spec(spec)) for key, name, description, spec in _DEFINITIONS
}


def get(key: str) -> StandardReport:
    """A standard report by key (KeyError for an unknown key)."""
    return STANDARD_REPORTS[key]
