"""The points-based rules score (HubSpot's manual scoring): a base plus the points of every active rule a lead
matches, clipped to 0–100, with each matched rule as a reason. Transparent by construction; used until a
trained model beats it (cold start), and the yardstick a trained model must beat.

Rules are `(field, operator, value, points, label)`: core/scoring/service.py validates them, this module applies
them to a lead frame (ai/scoring/leads.py) with Polars expressions, so a workspace of leads costs milliseconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from core.scoring.fields import label

FACTORS = pl.List(pl.Struct({"feature": pl.String, "text": pl.String, "points": pl.Float64}))


@dataclass(frozen=True)
class Rule:
    field: str
    operator: str
    value: Any
    points: int
    label: str | None = None

    def words(self) -> str:
        """What the rule says about a lead it matches ("Lead source is Webinar")."""
        if self.label:
            return self.label
        name = label(self.field)
        value = self.value
        match self.operator:
            case "equals":
                if isinstance(value, bool):
                    return f"{name}: {'yes' if value else 'no'}"
                return f"{name} is {value}"
            case "not_equals":
                return f"{name} is not {value}"
            case "in":
                return f"{name} is one of {', '.join(map(str, value))}"
            case "contains":
                return f"{name} contains {value!r}"
            case "gt":
                return f"{name} is over {value:g}"
            case "gte":
                return f"{name} is {value:g} or more"
            case "lt":
                return f"{name} is under {value:g}"
            case "lte":
                return f"{name} is {value:g} or less"
            case "is_set":
                return f"{name} is known"
            case _:
                return f"{name} is missing"

    def condition(self, frame: pl.DataFrame) -> pl.Expr:
        if self.field not in frame.columns:  # a custom field no lead has a value for yet
            return pl.lit(self.operator == "is_not_set")
        column = pl.col(self.field)
        dtype = frame.schema[self.field]
        text = column.cast(pl.String).str.to_lowercase()

        def same(value: Any) -> pl.Expr:
            if dtype == pl.Boolean and isinstance(value, bool):
                return column == value
            if dtype.is_numeric() and isinstance(value, int | float) and not isinstance(value, bool):
                return column == value
            return text == str(value).lower()

        match self.operator:
            case "equals":
                out = same(self.value)
            case "not_equals":
                out = ~same(self.value)
            case "in":
                out = pl.any_horizontal([same(v) for v in self.value])
            case "contains":
                out = text.str.contains(str(self.value).lower(), literal=True)
            case "gt":
                out = column.cast(pl.Float64) > self.value
            case "gte":
                out = column.cast(pl.Float64) >= self.value
            case "lt":
                out = column.cast(pl.Float64) < self.value
            case "lte":
                out = column.cast(pl.Float64) <= self.value
            case "is_set":
                return column.is_not_null()
            case _:
                return column.is_null()
        return out.fill_null(False)


def from_rows(rows: Sequence[Any]) -> list[Rule]:
    """Rules from stored rows (anything with field, operator, value, points, label, is_active)."""
    return [Rule(r.field, r.operator, r.value, int(r.points), r.label) for r in rows if r.is_active]


def to_json(rules: Sequence[Rule], base: int) -> dict[str, Any]:
    return {
        "base": base,
        "rules": [
            {"field": r.field, "operator": r.operator, "value": r.value, "points": r.points, "label": r.label}
            for r in rules
        ],
    }


def score(frame: pl.DataFrame, rules: Sequence[Rule], base: int) -> pl.DataFrame:
    """score (0–100) and factors ([{feature, text, points}], biggest first) per lead, in the frame's order."""
    n = frame.height
    if not rules:
        return pl.DataFrame(
            {"score": np.full(n, min(max(base, 0), 100), dtype=np.int64), "factors": [[] for _ in range(n)]},
            schema={"score": pl.Int64, "factors": FACTORS},
        )
    matched = frame.select([r.condition(frame).alias(f"r{i}") for i, r in enumerate(rules)]).to_numpy().astype(bool)
    points = np.array([r.points for r in rules], dtype=np.int64)
    total = np.clip(base + matched.astype(np.int64) @ points, 0, 100)
    order = np.argsort(-np.abs(points), kind="stable")
    words = [r.words() for r in rules]
    factors = [
        [{"feature": rules[j].field, "text": words[j], "points": float(points[j])} for j in order if row[j]]
        for row in matched
    ]
    return pl.DataFrame(
        {"score": total, "factors": factors},
        schema={"score": pl.Int64, "factors": FACTORS},
    )
