"""Feature preparation for the scoring engine: column typing, drops with reasons, and a JSON-safe encoding.

Every column becomes one numeric feature column of a float64 matrix:
- categories (strings, categoricals, booleans): integer codes into a fixed list that always holds "(missing)" and
  "(other)" (rare or unseen values), so LightGBM can treat them natively;
- numbers: as they are, NaN when missing;
- dates and datetimes: age in days relative to a reference date (the latest date seen in training unless given).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np
import polars as pl

from ai.scoring.errors import ScoringInputError

MISSING = "(missing)"
OTHER = "(other)"
POSITIVE_WORDS = ("1", "1.0", "true", "yes", "y", "won", "win", "converted", "positive")
NEGATIVE_WORDS = ("0", "0.0", "false", "no", "n", "lost", "lose", "not converted", "negative")
MAX_LEVELS = 100


@dataclass
class Feature:
    name: str
    kind: str  # "category" | "boolean" | "number" | "date"
    categories: list[str] = field(default_factory=list)
    median: float = 0.0
    bins: list[float] = field(default_factory=list)  # quantile edges for the baseline and for wording
    title: str | None = None  # plain words for the column when its name is not ("cf_budget" -> "Budget")

    @property
    def label(self) -> str:
        if self.title:
            return self.title
        text = self.name.replace("_", " ").strip()
        return text[:1].upper() + text[1:]

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "categories": self.categories,
            "median": self.median,
            "bins": self.bins,
            **({"title": self.title} if self.title else {}),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Feature:
        return cls(
            data["name"],
            data["kind"],
            list(data["categories"]),
            float(data["median"]),
            list(data["bins"]),
            data.get("title"),
        )


@dataclass
class FeatureSet:
    features: list[Feature]
    reference: str | None  # ISO date that dates are aged against
    dropped: dict[str, str]

    def to_json(self) -> dict[str, Any]:
        return {
            "features": [f.to_json() for f in self.features],
            "reference": self.reference,
            "dropped": self.dropped,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FeatureSet:
        return cls([Feature.from_json(f) for f in data["features"]], data["reference"], dict(data["dropped"]))

    # ---- encoding ------------------------------------------------------------------------------------------

    def matrix(self, frame: pl.DataFrame, reference: date | None = None) -> np.ndarray:
        """The float64 matrix (rows × features); categories as codes, missing numbers as NaN."""
        ref = reference or (date.fromisoformat(self.reference) if self.reference else None)
        out = np.empty((frame.height, len(self.features)), dtype=np.float64)
        for j, feat in enumerate(self.features):
            if feat.name not in frame.columns:
                column = pl.Series(feat.name, [None] * frame.height, dtype=pl.Null)
            else:
                column = frame[feat.name]
            out[:, j] = _encode(feat, column, ref)
        return out

    def describe(self, j: int, value: float) -> str:
        """Plain words for feature j at an encoded value, e.g. "Lead source is Webinar", "Age is 58"."""
        feat = self.features[j]
        if feat.kind in ("category", "boolean"):
            level = feat.categories[int(value)] if 0 <= int(value) < len(feat.categories) else OTHER
            if level == MISSING:
                return f"{feat.label} is missing"
            if level == OTHER:
                return f"{feat.label} is a rare value"
            if feat.kind == "boolean":
                return f"{feat.label}: {'yes' if level == 'true' else 'no'}"
            return f"{feat.label} is {level}"
        if math.isnan(value):
            return f"{feat.label} is missing"
        if feat.kind == "date":
            days = round(value)
            if days < 0:
                return f"{feat.label} in {-days} days"
            return f"{feat.label} {days} day{'s' if days != 1 else ''} ago"
        return f"{feat.label} is {_number(value)}"

    def describe_many(self, j: int, values: np.ndarray) -> list[str]:
        """`describe` for many encoded values of feature j: each distinct value is worded once."""
        feat = self.features[j]
        if feat.kind in ("category", "boolean"):
            words = [self.describe(j, float(c)) for c in range(len(feat.categories))]
            codes = np.asarray(values, dtype=np.float64)
            codes = np.where(np.isnan(codes) | (codes < 0) | (codes >= len(words)), 1, codes).astype(np.int64)
            return [words[c] for c in codes.tolist()]
        distinct, inverse = np.unique(np.asarray(values, dtype=np.float64), return_inverse=True)
        words = [self.describe(j, float(v)) for v in distinct.tolist()]
        return [words[i] for i in inverse.ravel().tolist()]


def _number(value: float) -> str:
    if float(value).is_integer():
        return f"{int(value):,}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def _is_date(dtype: pl.DataType) -> bool:
    return dtype == pl.Date or isinstance(dtype, pl.Datetime)


def _is_category(dtype: pl.DataType) -> bool:
    return dtype in (pl.String, pl.Categorical, pl.Boolean) or isinstance(dtype, pl.Enum | pl.Categorical)


def _ages(column: pl.Series, reference: date | None) -> np.ndarray:
    if reference is None:
        return np.full(column.len(), np.nan)
    days = column.cast(pl.Date).map_elements(
        lambda d: float((reference - d).days), return_dtype=pl.Float64, skip_nulls=True
    )
    return days.to_numpy().astype(np.float64)


def _category_strings(column: pl.Series) -> pl.Series:
    if column.dtype == pl.Boolean:
        return column.cast(pl.String).str.to_lowercase()
    return column.cast(pl.String)


def _encode(feat: Feature, column: pl.Series, reference: date | None) -> np.ndarray:
    if column.dtype == pl.Null:
        if feat.kind in ("category", "boolean"):
            return np.full(column.len(), float(feat.categories.index(MISSING)))
        return np.full(column.len(), np.nan)
    if feat.kind in ("category", "boolean"):
        index = {level: float(i) for i, level in enumerate(feat.categories)}
        other, missing = index[OTHER], index[MISSING]
        values = _category_strings(column).to_list()
        return np.array([missing if v is None else index.get(v, other) for v in values], dtype=np.float64)
    if feat.kind == "date":
        if not _is_date(column.dtype):
            column = column.cast(pl.String).str.to_date(strict=False)
        return _ages(column, reference)
    return column.cast(pl.Float64, strict=False).fill_nan(None).to_numpy().astype(np.float64)


def build(
    frame: pl.DataFrame,
    columns: list[str],
    *,
    reference: date | None = None,
    min_count: int = 5,
) -> FeatureSet:
    """Type each candidate column, drop useless ones with a stated reason, and fix the encodings on `frame`."""
    n = frame.height
    dropped: dict[str, str] = {}
    if reference is None:
        latest = [
            frame[c].drop_nulls().max() for c in columns if _is_date(frame[c].dtype) and frame[c].drop_nulls().len()
        ]
        latest = [d.date() if isinstance(d, datetime) else d for d in latest]
        reference = max(latest) if latest else None  # type: ignore[type-var]
    features: list[Feature] = []
    for name in columns:
        column = frame[name]
        dtype = column.dtype
        distinct = column.drop_nulls().n_unique()
        if distinct == 0:
            dropped[name] = "no values"
            continue
        if distinct == 1 and column.null_count() == 0:
            dropped[name] = "one value only"
            continue
        if _is_category(dtype):
            if dtype != pl.Boolean and n >= 50 and distinct > 0.9 * column.drop_nulls().len():
                dropped[name] = "nearly unique per row (an identifier or free text)"
                continue
            counts = _category_strings(column).drop_nulls().value_counts(sort=True)
            kept = [str(v) for v, c in counts.iter_rows() if c >= min_count][:MAX_LEVELS]
            if not kept:
                dropped[name] = f"no value occurs {min_count} times"
                continue
            features.append(
                Feature(name, "boolean" if dtype == pl.Boolean else "category", [MISSING, OTHER, *sorted(kept)])
            )
        elif _is_date(dtype):
            feat = Feature(name, "date")
            values = _ages(column, reference)
            _fix_numeric(feat, values)
            features.append(feat)
        elif dtype.is_numeric():
            if dtype.is_integer() and n >= 50 and distinct == n:
                dropped[name] = "unique per row (an identifier)"
                continue
            feat = Feature(name, "number")
            _fix_numeric(feat, column.cast(pl.Float64).fill_nan(None).to_numpy().astype(np.float64))
            features.append(feat)
        else:
            dropped[name] = f"unsupported type {dtype}"
    return FeatureSet(features, reference.isoformat() if reference else None, dropped)


def _fix_numeric(feat: Feature, values: np.ndarray) -> None:
    present = values[~np.isnan(values)]
    feat.median = float(np.median(present)) if present.size else 0.0
    edges = np.unique(np.quantile(present, np.linspace(0.1, 0.9, 9))) if present.size else np.array([])
    feat.bins = [float(e) for e in edges]


def binned(fs: FeatureSet, x: np.ndarray) -> np.ndarray:
    """Discrete levels per feature for the naive-Bayes baseline: category codes, numeric quantile bins, 0 = missing."""
    out = np.zeros(x.shape, dtype=np.int64)
    for j, feat in enumerate(fs.features):
        col = x[:, j]
        if feat.kind in ("category", "boolean"):
            out[:, j] = col.astype(np.int64)
        else:
            nan = np.isnan(col)
            out[:, j] = np.where(nan, 0, np.searchsorted(np.asarray(feat.bins), np.nan_to_num(col), side="right") + 1)
    return out


def outcome(frame: pl.DataFrame, target: str, positive: Any | None) -> tuple[np.ndarray, str]:
    """The 0/1 outcome for rows with a known target and the positive class's label (inferred or given)."""
    if target not in frame.columns:
        raise ScoringInputError(
            f"Unknown target column {target!r}: the columns are {', '.join(frame.columns)}. "
            "Pass the name of the column that records the outcome."
        )
    column = frame[target]
    if column.null_count() == frame.height:
        raise ScoringInputError(f"The target column {target!r} is empty: it needs won and lost outcomes.")
    text = column.cast(pl.String).str.strip_chars().str.to_lowercase()
    levels = sorted(set(text.drop_nulls().to_list()))
    if len(levels) < 2:
        raise ScoringInputError(
            f"The target column {target!r} has one class only ({levels[0]!r}): a model needs both converted and "
            "not-converted outcomes."
        )
    if positive is not None:
        wanted = str(positive).strip().lower()
        if wanted in ("true", "false") or isinstance(positive, bool):
            wanted = "true" if str(positive).lower() == "true" else "false"
        if wanted not in levels:
            raise ScoringInputError(
                f"The positive class {positive!r} does not occur in {target!r} (values: {', '.join(levels)})."
            )
        label = wanted
    else:
        if len(levels) > 2:
            raise ScoringInputError(
                f"The target column {target!r} has {len(levels)} values ({', '.join(levels[:8])}…): "
                "pass --positive/positive= to say which value counts as converted."
            )
        pos = [v for v in levels if v in POSITIVE_WORDS]
        neg = [v for v in levels if v in NEGATIVE_WORDS]
        if len(pos) != 1 or len(neg) != 1:
            raise ScoringInputError(
                f"Cannot tell which value of {target!r} is the positive class ({levels[0]!r} or {levels[1]!r}): "
                "pass --positive/positive= with the value that means converted."
            )
        label = pos[0]
    hit = (text == label).fill_null(False).to_numpy().astype(np.float64)
    return np.where(text.is_null().to_numpy(), np.nan, hit), label
