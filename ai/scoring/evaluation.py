"""Comparing and watching scoring models: the A/B split, population stability (drift) and the A/B report.

Pure functions over ids, arrays and Polars frames: no database, no model. The CRM service, the API and the admin
page call them with what they read.

- `arm_of` / `arms_of` put a lead in the "champion" or "challenger" arm by a stable hash of its id, so a lead stays
  in its arm across processes, restarts and machines, and raising the challenger's share only moves leads from the
  champion to the challenger (never back).
- `psi`, `psi_level` and `drift_report` measure how far the current scores and features moved from a reference
  (usually the model's training or validation window).
- `ab_report` compares the arms on resolved leads: ROC AUC with DeLong confidence intervals and a z-test for the
  difference (independent samples), and conversion of each arm's top-scored decile with Wilson intervals and a
  two-proportion z-test.

Every report is a plain dict of str, int, float, bool, None and lists: `json.dumps(report, allow_nan=False)` works.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal
from uuid import UUID

import numpy as np
import polars as pl
from scipy import stats

CHAMPION = "champion"
CHALLENGER = "challenger"

#: The usual reading of the population stability index: below 0.1 stable, 0.1 to 0.25 a moderate shift worth a look,
#: above 0.25 a significant shift (retrain or investigate).
PSI_MODERATE = 0.1
PSI_SIGNIFICANT = 0.25
#: Share given to an empty bin on either side, so that PSI stays finite when a bin or category is new or gone.
PSI_EPSILON = 1e-4

#: An arm needs at least this many conversions and this many non-conversions before its AUC means anything.
MIN_PER_CLASS = 10
AUC_METHOD = "DeLong"

PsiLevel = Literal["stable", "moderate", "significant"]

_MISSING = "(missing)"
_HASH_SCALE = 2**64


# --- the A/B split ----------------------------------------------------------------------------------------------


def _share_threshold(challenger_share: float) -> int:
    share = float(challenger_share)
    if not 0.0 <= share <= 1.0:  # also refuses NaN
        raise ValueError(f"challenger_share must be between 0 and 1, got {challenger_share!r}")
    return int(share * _HASH_SCALE)  # exact: multiplying a float by a power of two loses nothing


def _id_key(contact_id: object) -> str:
    if contact_id is None:
        raise ValueError("a lead id is missing (None)")
    return str(contact_id).strip().lower()


def _bucket(salt: str, contact_id: object) -> int:
    digest = hashlib.sha256((salt + _id_key(contact_id)).encode()).digest()
    return int.from_bytes(digest[:8], "big")


def arm_of(contact_id: UUID | str, challenger_share: float, salt: str = "") -> str:
    """The arm of one lead: "challenger" if its hash bucket falls below the share, else "champion".

    The bucket is the first 8 bytes (big-endian) of sha256(UTF-8 of salt + id) divided by 2**64, where the id is
    `str(id)` trimmed and lower-cased (a UUID and its upper-case string land in the same arm). It does not depend on
    Python's `hash()`, the process or the machine. A share of 0 puts every lead with the champion, 1 every lead with
    the challenger. Change `salt` to draw a fresh split for a new experiment.
    """
    threshold = _share_threshold(challenger_share)
    return CHALLENGER if _bucket(salt, contact_id) < threshold else CHAMPION


def arms_of(ids: Sequence[UUID | str] | pl.Series | np.ndarray, challenger_share: float, salt: str = "") -> np.ndarray:
    """`arm_of` for many ids (a list, NumPy array or Polars Series) at once: a NumPy array of "champion"/"challenger".

    About 0.7 million UUID objects or 1.5 million strings a second on one core.
    """
    threshold = _share_threshold(challenger_share)
    values: Iterable[Any] = ids.to_list() if isinstance(ids, pl.Series) else ids
    sha256 = hashlib.sha256
    packed = b"".join([sha256((salt + str(i).strip().lower()).encode()).digest()[:8] for i in values if i is not None])
    buckets = np.frombuffer(packed, dtype=">u8")
    if len(buckets) != len(ids):
        raise ValueError("a lead id is missing (None)")
    if threshold >= _HASH_SCALE:
        return np.full(len(buckets), CHALLENGER)
    return np.where(buckets < np.uint64(threshold), CHALLENGER, CHAMPION)


# --- population stability -----------------------------------------------------------------------------------------


def _is_categorical(values: np.ndarray) -> bool:
    return values.dtype.kind in "OUSb"


def _category_keys(values: np.ndarray) -> list[object]:
    keys: list[object] = []
    for v in values.tolist():
        if v is None or (isinstance(v, float) and math.isnan(v)):
            keys.append(_MISSING)
        else:
            keys.append(str(v))
    return keys


def _categorical_shares(expected: np.ndarray, actual: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    exp_counts = Counter(_category_keys(expected))
    act_counts = Counter(_category_keys(actual))
    categories = sorted(set(exp_counts) | set(act_counts), key=str)
    e = np.array([exp_counts.get(c, 0) for c in categories], dtype=float)
    a = np.array([act_counts.get(c, 0) for c in categories], dtype=float)
    return e / e.sum(), a / a.sum()


def _numeric_shares(expected: np.ndarray, actual: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    expected = expected.astype(float, copy=False)
    actual = actual.astype(float, copy=False)
    exp_ok = expected[~np.isnan(expected)]
    if len(exp_ok):
        inner = np.unique(np.quantile(exp_ok, np.linspace(0.0, 1.0, bins + 1)[1:-1]))
    else:
        inner = np.empty(0)
    n_bins = len(inner) + 1  # (-inf, q1], (q1, q2], ..., (qk, +inf), then one bin for missing values

    def shares(x: np.ndarray) -> np.ndarray:
        nan = np.isnan(x)
        idx = np.searchsorted(inner, x[~nan], side="left")
        counts = np.bincount(idx, minlength=n_bins).astype(float)
        return np.append(counts, float(nan.sum())) / len(x)

    return shares(expected), shares(actual)


def psi(expected: np.ndarray, actual: np.ndarray, bins: int = 10, *, epsilon: float = PSI_EPSILON) -> float:
    """Population stability index of `actual` against `expected`: sum over bins of (a − e) · ln(a / e).

    Numeric arrays are cut at the expected distribution's quantiles (`bins` of them, repeated edges merged, the ends
    open to ±inf; NaN is a bin of its own). Arrays of strings, objects or booleans use their categories as bins
    (None/NaN as a category of its own). An empty bin counts as `epsilon` on that side, so new or vanished categories
    give a large but finite value. Read it with `psi_level`.
    """
    e_arr, a_arr = np.asarray(expected), np.asarray(actual)
    if e_arr.size == 0 or a_arr.size == 0:
        raise ValueError("psi needs at least one value on each side")
    if bins < 1:
        raise ValueError(f"bins must be at least 1, got {bins}")
    if _is_categorical(e_arr) or _is_categorical(a_arr):
        e, a = _categorical_shares(e_arr.ravel(), a_arr.ravel())
    else:
        e, a = _numeric_shares(e_arr.ravel(), a_arr.ravel(), bins)
    e = np.where(e > 0, e, epsilon)
    a = np.where(a > 0, a, epsilon)
    value = float(np.sum((a - e) * np.log(a / e)))
    return max(value, 0.0)


def psi_level(value: float) -> PsiLevel:
    """The usual reading: "stable" below 0.1, "moderate" from 0.1 to 0.25, "significant" above 0.25."""
    if value < PSI_MODERATE:
        return "stable"
    if value <= PSI_SIGNIFICANT:
        return "moderate"
    return "significant"


def _column_values(frame: pl.DataFrame, column: str) -> tuple[np.ndarray, str]:
    series = frame.get_column(column)
    dtype = series.dtype
    if dtype.is_numeric():
        return series.cast(pl.Float64).to_numpy(), "numeric"
    if dtype.is_temporal():
        return series.to_physical().cast(pl.Float64).to_numpy(), "numeric"
    return np.array(series.cast(pl.String).to_list(), dtype=object), "categorical"


def _label(column: str) -> str:
    words = column.replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def _fmt(value: float) -> str:
    return f"{value:.2f}"


_SCORE_PHRASE = {
    "stable": "Scores are stable",
    "moderate": "Scores have shifted moderately",
    "significant": "Scores have shifted significantly",
}


def drift_report(
    reference: pl.DataFrame,
    current: pl.DataFrame,
    *,
    score_column: str = "score",
    features: Sequence[str] = (),
    bins: int = 10,
    labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """PSI of the score and of each named feature, current against reference, with a one-line summary.

    Returns {"score": {column, label, psi, level, kind}, "features": [the same per feature, largest PSI first],
    "skipped": [{feature, reason}], "n_reference", "n_current", "thresholds", "summary"}. Features missing from
    either frame are listed in "skipped". Numeric and date columns are binned at the reference's quantiles, other
    columns by category; nulls are a bin of their own. With no rows on a side, PSI and level are None and the
    summary says so. `labels` maps column names to the words shown (default: "lead_source" → "Lead source").
    """
    names = dict(labels or {})
    for side, frame in (("reference", reference), ("current", current)):
        if score_column not in frame.columns:
            raise ValueError(f"the {side} frame has no score column {score_column!r}")

    def entry(column: str) -> dict[str, Any]:
        ref, kind = _column_values(reference, column)
        cur, cur_kind = _column_values(current, column)
        if kind != cur_kind:  # e.g. a number column that became text: compare as categories
            kind = "categorical"
            ref = np.array(reference.get_column(column).cast(pl.String).to_list(), dtype=object)
            cur = np.array(current.get_column(column).cast(pl.String).to_list(), dtype=object)
        value = psi(ref, cur, bins) if len(ref) and len(cur) else None
        return {
            "feature": column,
            "label": names.get(column, _label(column)),
            "kind": kind,
            "psi": value,
            "level": psi_level(value) if value is not None else None,
        }

    score = entry(score_column)
    score["column"] = score.pop("feature")
    rows: list[dict[str, Any]] = []
    skipped: list[dict[str, str]] = []
    for feature in dict.fromkeys(features):
        missing = [side for side, f in (("reference", reference), ("current", current)) if feature not in f.columns]
        if missing:
            skipped.append({"feature": feature, "reason": f"not in the {' and '.join(missing)} frame"})
        else:
            rows.append(entry(feature))
    rows.sort(key=lambda r: (-(r["psi"] if r["psi"] is not None else -1.0), r["feature"]))

    if score["psi"] is None:
        summary = f"No scores to compare yet ({reference.height} reference rows, {current.height} current rows)."
    else:
        summary = f"{_SCORE_PHRASE[score['level']]} (PSI {_fmt(score['psi'])})"
        if rows:
            top = rows[0]
            if top["level"] == "stable":
                summary += f"; no feature has shifted (largest: {top['label']}, PSI {_fmt(top['psi'])})"
            else:
                summary += f"; the biggest shift is in {top['label']} (PSI {_fmt(top['psi'])}, {top['level']})"
        summary += "."
    return {
        "score": score,
        "features": rows,
        "skipped": skipped,
        "n_reference": reference.height,
        "n_current": current.height,
        "thresholds": {"moderate": PSI_MODERATE, "significant": PSI_SIGNIFICANT},
        "summary": summary,
    }


# --- the A/B report -------------------------------------------------------------------------------------------------


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion (good at small n and near 0 or 1, unlike the Wald interval)."""
    if n <= 0:
        raise ValueError("a proportion needs n > 0")
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def two_proportion_test(x1: int, n1: int, x2: int, n2: int) -> tuple[float, float]:
    """Two-sided z-test (pooled variance) that x1/n1 and x2/n2 are the same proportion: (z, p-value)."""
    if n1 <= 0 or n2 <= 0:
        raise ValueError("both proportions need n > 0")
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    diff = x1 / n1 - x2 / n2
    if se == 0:
        return 0.0, 1.0  # both all converted or none converted: no evidence of a difference
    z = diff / se
    return z, float(2 * stats.norm.sf(abs(z)))


def auc_delong(probability: np.ndarray, outcome: np.ndarray) -> tuple[float, float]:
    """ROC AUC and its DeLong variance (via midranks, O(n log n)); ties count one half."""
    y = np.asarray(outcome).astype(bool)
    s = np.asarray(probability, dtype=float)
    pos, neg = s[y], s[~y]
    n1, n0 = len(pos), len(neg)
    if n1 < 2 or n0 < 2:
        raise ValueError("DeLong's variance needs at least two leads of each outcome")
    ranks = stats.rankdata(np.concatenate([pos, neg]))
    v10 = (ranks[:n1] - stats.rankdata(pos)) / n0  # per converted lead: share of non-converted scored below it
    v01 = 1 - (ranks[n1:] - stats.rankdata(neg)) / n1  # per non-converted lead: share of converted scored above it
    auc = float(v10.mean())
    var = float(v10.var(ddof=1) / n1 + v01.var(ddof=1) / n0)
    return auc, var


def _p_text(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.2g}"


def _missing_text(conversions: int, non_conversions: int, need: int) -> str | None:
    parts = []
    if conversions < need:
        parts.append(f"{need - conversions} more conversion{'s' if need - conversions != 1 else ''}")
    if non_conversions < need:
        lacking = need - non_conversions
        parts.append(f"{lacking} more non-conversion{'s' if lacking != 1 else ''}")
    return " and ".join(parts) if parts else None


def _round_up(n: float) -> int:
    """Round a sample-size estimate up to two significant figures (it is rough)."""
    n = math.ceil(n)
    if n < 100:
        return int(n)
    magnitude = 10 ** (len(str(n)) - 2)
    return int(math.ceil(n / magnitude) * magnitude)


def _arm_summary(p: np.ndarray, y: np.ndarray, *, confidence: float, need: int, z: float) -> dict[str, Any]:
    n = len(y)
    conversions = int(y.sum())
    out: dict[str, Any] = {
        "n": n,
        "conversions": conversions,
        "conversion_rate": conversions / n if n else None,
        "ready": False,
        "missing": None,
        "auc": None,
        "auc_se": None,
        "auc_ci": None,
        "top_decile": None,
    }
    missing = _missing_text(conversions, n - conversions, need)
    if missing:
        out["missing"] = missing
        return out
    auc, var = auc_delong(p, y)
    se = math.sqrt(max(var, 0.0))
    k = math.ceil(n / 10)
    top = np.argsort(-p, kind="stable")[:k]
    top_conv = int(y[top].sum())
    lo, hi = wilson_interval(top_conv, k, confidence)
    out.update(
        ready=True,
        auc=auc,
        auc_se=se,
        auc_ci=[max(0.0, auc - z * se), min(1.0, auc + z * se)],
        top_decile={"n": k, "conversions": top_conv, "rate": top_conv / k, "ci": [lo, hi]},
    )
    return out


def _outcomes(frame: pl.DataFrame, outcome: str) -> pl.Series:
    series = frame.get_column(outcome)
    if series.dtype == pl.Boolean:
        return series.cast(pl.Int8)
    if not series.dtype.is_numeric():
        raise ValueError(f"outcome column {outcome!r} must hold 0/1 or true/false, not {series.dtype}")
    bad = series.drop_nulls().filter(~series.drop_nulls().is_in([0, 1]))
    if len(bad):
        raise ValueError(f"outcome column {outcome!r} must hold 0/1; found {bad[0]!r}")
    return series.cast(pl.Int8)


def ab_report(
    frame: pl.DataFrame,
    *,
    arm: str = "arm",
    probability: str = "probability",
    outcome: str = "outcome",
    confidence: float = 0.95,
    champion: str = CHAMPION,
    challenger: str = CHALLENGER,
    min_per_class: int = MIN_PER_CLASS,
    power: float = 0.8,
) -> dict[str, Any]:
    """Compare the champion and challenger arms on resolved leads (outcome 0/1 not null; rows of other arms ignored).

    Per arm: n, conversions, conversion_rate, ROC AUC with its DeLong standard error and confidence interval, and the
    conversion of the arm's top-scored tenth of resolved leads (ceil(n/10) leads) with a Wilson interval. An arm with
    fewer than `min_per_class` conversions or non-conversions has `ready` False, `missing` saying what it lacks, and
    no AUC or decile figures. Comparison (challenger minus champion, arms as independent samples): AUC difference
    with a z-test and confidence interval, top-decile conversion difference with a pooled two-proportion z-test.
    `significant` is the AUC test at 1 − confidence (ranking quality is the primary measure). When not significant,
    `more_needed_per_arm` roughly estimates how many more resolved leads each arm needs to detect the observed AUC
    difference with the given power (None when there is no difference to detect). Resolved rows without a
    probability are left out and counted in `unscored`.
    """
    if not 0.5 < confidence < 1:
        raise ValueError(f"confidence must be between 0.5 and 1, got {confidence}")
    for column in (arm, probability, outcome):
        if column not in frame.columns:
            raise ValueError(f"the frame has no column {column!r}")
    alpha = 1 - confidence
    z_conf = float(stats.norm.ppf(1 - alpha / 2))
    y_all = _outcomes(frame, outcome)
    data = pl.DataFrame(
        {
            "arm": frame.get_column(arm).cast(pl.String),
            "p": frame.get_column(probability).cast(pl.Float64),
            "y": y_all,
        }
    ).filter(pl.col("y").is_not_null() & pl.col("arm").is_in([champion, challenger]))
    unscored = data.filter(pl.col("p").is_null() | pl.col("p").is_nan()).height
    data = data.filter(pl.col("p").is_not_null() & pl.col("p").is_not_nan())

    arms: dict[str, dict[str, Any]] = {}
    for name in (champion, challenger):
        part = data.filter(pl.col("arm") == name)
        arms[name] = _arm_summary(
            part.get_column("p").to_numpy(),
            part.get_column("y").to_numpy().astype(np.int64),
            confidence=confidence,
            need=min_per_class,
            z=z_conf,
        )
    a, b = arms[champion], arms[challenger]
    report: dict[str, Any] = {
        "confidence": confidence,
        "auc_method": AUC_METHOD,
        "champion": champion,
        "challenger": challenger,
        "arms": arms,
        "unscored": unscored,
        "comparison": None,
        "significant": False,
        "more_needed_per_arm": None,
        "verdict": "",
    }
    if not (a["ready"] and b["ready"]):
        lacking = [
            f"the {name} needs {arms[name]['missing']}" for name in (champion, challenger) if arms[name]["missing"]
        ]
        report["verdict"] = "Not enough resolved leads yet: " + "; ".join(lacking) + "."
        return report

    auc_diff = b["auc"] - a["auc"]
    auc_se = math.sqrt(a["auc_se"] ** 2 + b["auc_se"] ** 2)
    if auc_se > 0:
        auc_z = auc_diff / auc_se
        auc_p = float(2 * stats.norm.sf(abs(auc_z)))
    else:
        auc_z, auc_p = 0.0, 1.0 if auc_diff == 0 else 0.0
    ta, tb = a["top_decile"], b["top_decile"]
    dec_z, dec_p = two_proportion_test(tb["conversions"], tb["n"], ta["conversions"], ta["n"])
    dec_diff = tb["rate"] - ta["rate"]
    # Newcombe's interval for a difference of proportions, from the two Wilson intervals
    dec_lo = dec_diff - math.sqrt((tb["rate"] - tb["ci"][0]) ** 2 + (ta["ci"][1] - ta["rate"]) ** 2)
    dec_hi = dec_diff + math.sqrt((tb["ci"][1] - tb["rate"]) ** 2 + (ta["rate"] - ta["ci"][0]) ** 2)
    significant = auc_p < alpha
    report["comparison"] = {
        "auc_difference": auc_diff,
        "auc_difference_ci": [auc_diff - z_conf * auc_se, auc_diff + z_conf * auc_se],
        "auc_z": auc_z,
        "auc_p_value": auc_p,
        "auc_significant": significant,
        "top_decile_difference": dec_diff,
        "top_decile_difference_ci": [dec_lo, dec_hi],
        "top_decile_z": dec_z,
        "top_decile_p_value": dec_p,
        "top_decile_significant": dec_p < alpha,
    }
    report["significant"] = significant

    decile = f"top-decile conversion {tb['rate']:.0%} vs {ta['rate']:.0%} ({_p_text(dec_p)})"
    if significant:
        better, worse = (challenger, champion) if auc_diff > 0 else (champion, challenger)
        verdict = (
            f"The {better} ranks leads better: AUC {arms[better]['auc']:.2f} vs {arms[worse]['auc']:.2f}, "
            f"{_p_text(auc_p)}; {decile}."
        )
    else:
        if a["n"] == b["n"]:
            sizes = f"n = {a['n']} resolved leads per arm"
        else:
            sizes = f"n = {a['n']} ({champion}) and {b['n']} ({challenger}) resolved leads"
        verdict = f"No significant difference yet ({_p_text(auc_p)}); {sizes}"
        if auc_diff != 0 and auc_se > 0:
            # the standard error shrinks as 1/sqrt(n): scale both arms until the observed difference would be found
            z_power = float(stats.norm.ppf(power))
            factor = ((z_conf + z_power) * auc_se / abs(auc_diff)) ** 2
            more = _round_up(max(factor - 1, 0.0) * max(a["n"], b["n"]))
            report["more_needed_per_arm"] = more
            verdict += f"; about {more:,} more per arm needed to detect an AUC difference of {abs(auc_diff):.3f}"
        else:
            verdict += "; the arms rank leads identically so far"
        verdict += f"; {decile}."
    report["verdict"] = verdict
    return report
