"""A/B split, population stability and the A/B report (ai.scoring.evaluation) against known values."""

from __future__ import annotations

import hashlib
import json
import math
import random
from uuid import UUID

import numpy as np
import polars as pl
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score

from ai.scoring.evaluation import (
    ab_report,
    arm_of,
    arms_of,
    auc_delong,
    drift_report,
    psi,
    psi_level,
    two_proportion_test,
    wilson_interval,
)


def _ids(n: int, seed: int = 0) -> list[UUID]:
    rng = random.Random(seed)
    return [UUID(int=rng.getrandbits(128), version=4) for _ in range(n)]


# --- the split ----------------------------------------------------------------------------------------------------


def test_split_is_pinned_so_leads_keep_their_arm_across_processes_and_releases() -> None:
    # Golden values: Python's hash() is salted per process, so a hash()-based split could not reproduce these.
    ids = [f"00000000-0000-4000-8000-{i:012d}" for i in range(12)]
    assert "".join("C" if arm_of(i, 0.5) == "challenger" else "-" for i in ids) == "-C--CC-C----"
    assert "".join("C" if arm_of(i, 0.5, salt="2026-q4") == "challenger" else "-" for i in ids) == "--C-C--CCC-C"
    # the documented formula, so a SQL query or another service can reproduce the split
    for i in ids:
        bucket = int.from_bytes(hashlib.sha256(("2026-q4" + i).encode()).digest()[:8], "big") / 2**64
        assert arm_of(i.upper(), 0.37, salt="2026-q4") == ("challenger" if bucket < 0.37 else "champion")


def test_split_is_stable_near_the_share_and_the_same_for_uuid_and_string_forms() -> None:
    ids = _ids(10_000)
    arms = arms_of(ids, 0.3)
    assert arms.shape == (10_000,)
    assert set(arms.tolist()) == {"champion", "challenger"}
    assert abs((arms == "challenger").mean() - 0.3) < 0.015
    assert (arms_of(ids, 0.3) == arms).all()
    assert [arm_of(i, 0.3) for i in ids[:500]] == arms[:500].tolist()
    assert (arms_of([str(i).upper() for i in ids], 0.3) == arms).all()
    assert (arms_of(pl.Series([str(i) for i in ids]), 0.3) == arms).all()
    assert arm_of(str(ids[0]).upper(), 0.3) == arm_of(ids[0], 0.3)
    # a different salt draws an independent split
    other = arms_of(ids, 0.3, salt="exp-2")
    assert 0.5 < (other == arms).mean() < 0.7  # independent: 0.7² + 0.3² = 0.58 agree by chance


def test_raising_the_share_only_moves_leads_to_the_challenger() -> None:
    ids = _ids(5000, seed=1)
    small, large = arms_of(ids, 0.2) == "challenger", arms_of(ids, 0.5) == "challenger"
    assert (large[small]).all()
    assert large.sum() > small.sum()


def test_share_zero_and_one_put_everyone_in_one_arm() -> None:
    ids = _ids(2000, seed=2)
    assert set(arms_of(ids, 0.0).tolist()) == {"champion"}
    assert set(arms_of(ids, 1.0).tolist()) == {"challenger"}
    assert {arm_of(i, 0.0) for i in ids[:200]} == {"champion"}
    assert {arm_of(i, 1.0) for i in ids[:200]} == {"challenger"}
    assert arms_of([], 0.5).shape == (0,)


@pytest.mark.parametrize("share", [-0.1, 1.5, float("nan")])
def test_a_share_outside_zero_to_one_is_refused(share: float) -> None:
    with pytest.raises(ValueError, match="challenger_share"):
        arm_of("abc", share)
    with pytest.raises(ValueError, match="challenger_share"):
        arms_of(["abc"], share)


def test_a_missing_id_is_refused() -> None:
    with pytest.raises(ValueError, match="missing"):
        arms_of(["a", None, "b"], 0.5)


# --- PSI ----------------------------------------------------------------------------------------------------------


def test_psi_of_identical_samples_is_zero_and_of_two_draws_of_one_population_small() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=20_000)
    assert psi(x, x) == pytest.approx(0.0, abs=1e-12)
    assert psi(x, rng.normal(size=20_000)) < 0.01


def test_psi_of_a_shifted_normal_matches_the_hand_computation() -> None:
    n = 100_000
    q = stats.norm.ppf((np.arange(n) + 0.5) / n)  # an exact N(0, 1) sample, quantile by quantile
    edges = stats.norm.ppf(np.linspace(0, 1, 11))  # deciles of N(0, 1), ±inf at the ends
    shifted = np.diff(stats.norm.cdf(edges - 0.5))  # share of N(0.5, 1) in each decile of N(0, 1)
    expected = float(np.sum((shifted - 0.1) * np.log(shifted / 0.1)))
    assert expected == pytest.approx(0.2377, abs=1e-4)  # δ² = 0.25 in the continuous limit; a little less in deciles
    assert psi(q, q + 0.5) == pytest.approx(expected, abs=2e-3)
    assert psi_level(psi(q, q + 0.5)) == "moderate"
    assert psi_level(psi(q, q + 1.0)) == "significant"


def test_psi_small_cases_by_hand_numeric_categorical_and_missing() -> None:
    by_hand = 0.3 * math.log(0.8 / 0.5) + (-0.3) * math.log(0.2 / 0.5)  # 0.4159
    base = np.arange(1, 11, dtype=float)
    assert psi(base, np.array([1, 2, 3, 4, 5, 1, 2, 3, 9, 10.0]), bins=2) == pytest.approx(by_hand)
    assert psi(np.array(["a"] * 50 + ["b"] * 50), np.array(["a"] * 80 + ["b"] * 20)) == pytest.approx(by_hand)
    assert psi(np.array([True] * 50 + [False] * 50), np.array([True] * 80 + [False] * 20)) == pytest.approx(by_hand)
    # missing values are a bin of their own: 20% of values going missing is a visible shift
    with_nan = base.copy()
    with_nan[:2] = np.nan
    assert psi(base, with_nan, bins=5) > 0.25
    with_none = np.array(["a"] * 40 + [None] * 20 + ["b"] * 40, dtype=object)
    assert psi(np.array(["a"] * 50 + ["b"] * 50, dtype=object), with_none) > 0.25
    # a category never seen in the reference gives a large but finite PSI
    new = psi(np.array(["a", "b"] * 50), np.array(["a", "b", "c", "c"] * 25))
    assert math.isfinite(new) and new > 1


def test_psi_merges_repeated_quantile_edges_of_discrete_data() -> None:
    ref = np.array([0] * 70 + [1] * 20 + [5] * 10)
    assert psi(ref, ref.copy(), bins=10) == pytest.approx(0.0, abs=1e-12)
    moved = np.array([0] * 50 + [1] * 20 + [5] * 30)
    hand = (0.5 - 0.7) * math.log(0.5 / 0.7) + (0.3 - 0.1) * math.log(0.3 / 0.1)
    assert psi(ref, moved, bins=10) == pytest.approx(hand)


def test_psi_levels_follow_the_usual_reading() -> None:
    assert [psi_level(v) for v in (0.0, 0.099, 0.1, 0.25, 0.2501, 3.0)] == [
        "stable",
        "stable",
        "moderate",
        "moderate",
        "significant",
        "significant",
    ]


def _leads_for_drift(n: int, rng: np.random.Generator, *, webinar: float, shift: float = 0.0) -> pl.DataFrame:
    other = (1 - webinar) / 2
    return pl.DataFrame(
        {
            "score": np.clip(rng.normal(50, 15, n), 0, 100).round(),
            "lead_source": rng.choice(["Webinar", "Referral", "Ads"], n, p=[webinar, other, other]),
            "company_size": rng.lognormal(3 + shift, 1, n),
            "industry": rng.choice(["Retail", None], n, p=[0.9, 0.1]),
        }
    )


def test_drift_report_ranks_features_by_shift_and_says_it_in_one_line() -> None:
    rng = np.random.default_rng(3)
    reference = _leads_for_drift(5000, rng, webinar=0.2)
    current = _leads_for_drift(5000, rng, webinar=0.4)
    report = drift_report(
        reference,
        current,
        features=["company_size", "lead_source", "industry", "not_there"],
        labels={"company_size": "Company size"},
    )
    json.dumps(report, allow_nan=False)
    assert report["score"]["column"] == "score" and report["score"]["level"] == "stable"
    order = [f["feature"] for f in report["features"]]
    assert order[0] == "lead_source"
    assert set(order) == {"lead_source", "company_size", "industry"}
    values = [f["psi"] for f in report["features"]]
    assert values == sorted(values, reverse=True)
    top = report["features"][0]
    assert top["label"] == "Lead source" and top["kind"] == "categorical" and top["level"] == "moderate"
    assert {f["feature"]: f["kind"] for f in report["features"]}["company_size"] == "numeric"
    assert report["skipped"] == [{"feature": "not_there", "reason": "not in the reference and current frame"}]
    assert report["summary"] == (
        f"Scores are stable (PSI {report['score']['psi']:.2f}); "
        f"the biggest shift is in Lead source (PSI {top['psi']:.2f}, moderate)."
    )


def test_drift_report_sees_a_numeric_shift_and_nulls_appearing() -> None:
    rng = np.random.default_rng(4)
    reference = _leads_for_drift(4000, rng, webinar=0.2)
    current = _leads_for_drift(4000, rng, webinar=0.2, shift=1.0).with_columns(
        pl.when(pl.col("score") > 60).then(None).otherwise(pl.col("score")).alias("score")
    )
    report = drift_report(reference, current, features=["lead_source", "company_size"])
    assert report["score"]["level"] == "significant"
    assert report["features"][0]["feature"] == "company_size"
    assert report["features"][0]["level"] == "significant"
    assert report["summary"].startswith("Scores have shifted significantly")


def test_drift_report_on_empty_current_scores_says_there_is_nothing_yet() -> None:
    rng = np.random.default_rng(5)
    reference = _leads_for_drift(100, rng, webinar=0.2)
    report = drift_report(reference, reference.head(0))
    assert report["score"]["psi"] is None
    assert report["summary"].startswith("No scores to compare yet")
    with pytest.raises(ValueError, match="score column"):
        drift_report(reference, reference.drop("score"))


# --- statistics helpers -----------------------------------------------------------------------------------------


def test_wilson_and_two_proportion_test_match_textbook_values() -> None:
    assert wilson_interval(8, 10) == pytest.approx((0.4902, 0.9433), abs=1e-4)
    lo, hi = wilson_interval(0, 20)
    assert lo == 0.0 and hi == pytest.approx(0.1611, abs=1e-4)
    z, p = two_proportion_test(45, 100, 30, 100)
    assert z == pytest.approx(2.1909, abs=1e-4)
    assert p == pytest.approx(0.02846, abs=1e-4)


def test_delong_matches_pairwise_counting() -> None:
    rng = np.random.default_rng(6)
    p = rng.integers(0, 8, 60) / 8  # many ties
    y = rng.random(60) < 0.4
    auc, var = auc_delong(p, y)
    pos, neg = p[y], p[~y]
    psi_matrix = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    v10, v01 = psi_matrix.mean(axis=1), psi_matrix.mean(axis=0)
    assert auc == pytest.approx(psi_matrix.mean())
    assert auc == pytest.approx(roc_auc_score(y, p))
    assert var == pytest.approx(v10.var(ddof=1) / len(pos) + v01.var(ddof=1) / len(neg))


def test_auc_interval_covers_the_true_auc_at_its_nominal_rate() -> None:
    rng = np.random.default_rng(7)
    d = 1.0
    truth = float(stats.norm.cdf(d / math.sqrt(2)))  # binormal AUC: 0.760
    covered = 0
    reps = 400
    for _ in range(reps):
        y = rng.random(300) < 0.3
        p = rng.normal(size=300) + d * y
        frame = pl.DataFrame({"arm": ["champion"] * 300, "probability": p, "outcome": y.astype(int)})
        lo, hi = ab_report(frame)["arms"]["champion"]["auc_ci"]
        covered += lo <= truth <= hi
    assert 0.92 <= covered / reps <= 0.98


# --- the A/B report -----------------------------------------------------------------------------------------------


def _arm(name: str, n: int, signal: float, rng: np.random.Generator, rate: float = 0.3) -> pl.DataFrame:
    y = rng.random(n) < rate
    latent = rng.normal(size=n) + signal * y
    return pl.DataFrame({"arm": [name] * n, "probability": 1 / (1 + np.exp(-latent)), "outcome": y.astype(int)})


def test_a_clearly_better_challenger_wins_with_a_small_p_value() -> None:
    rng = np.random.default_rng(8)
    frame = pl.concat([_arm("champion", 1500, 0.6, rng), _arm("challenger", 1500, 1.6, rng)])
    report = ab_report(frame)
    json.dumps(report, allow_nan=False)
    champ, chall = report["arms"]["champion"], report["arms"]["challenger"]
    assert chall["auc"] > champ["auc"] + 0.1
    assert report["auc_method"] == "DeLong"
    cmp = report["comparison"]
    assert cmp["auc_p_value"] < 1e-6 and report["significant"] is True
    assert cmp["auc_difference_ci"][0] > 0
    assert cmp["top_decile_difference"] > 0 and cmp["top_decile_p_value"] < 0.05
    assert chall["top_decile"]["n"] == 150
    assert chall["top_decile"]["ci"][0] < chall["top_decile"]["rate"] < chall["top_decile"]["ci"][1]
    assert report["verdict"].startswith(
        f"The challenger ranks leads better: AUC {chall['auc']:.2f} vs {champ['auc']:.2f}"
    )
    assert "p < 0.001" in report["verdict"]


def test_a_better_champion_is_named_as_the_winner() -> None:
    rng = np.random.default_rng(9)
    frame = pl.concat([_arm("champion", 1000, 1.6, rng), _arm("challenger", 1000, 0.4, rng)])
    report = ab_report(frame)
    assert report["significant"] and report["comparison"]["auc_difference"] < 0
    assert report["verdict"].startswith("The champion ranks leads better")


def test_identical_arms_show_no_difference() -> None:
    rng = np.random.default_rng(10)
    same = _arm("champion", 400, 1.0, rng)
    report = ab_report(pl.concat([same, same.with_columns(pl.lit("challenger").alias("arm"))]))
    assert report["comparison"]["auc_p_value"] == pytest.approx(1.0)
    assert report["comparison"]["top_decile_p_value"] == pytest.approx(1.0)
    assert report["significant"] is False
    assert report["verdict"].startswith("No significant difference yet (p = 1); n = 400 resolved leads per arm")
    assert report["more_needed_per_arm"] is None


def test_false_alarms_stay_near_the_chosen_level_for_arms_from_one_model() -> None:
    rng = np.random.default_rng(11)
    alarms = 0
    reps = 200
    for _ in range(reps):
        frame = pl.concat([_arm("champion", 200, 1.0, rng), _arm("challenger", 200, 1.0, rng)])
        alarms += ab_report(frame)["significant"]
    assert alarms / reps <= 0.10  # nominal 5 %


def test_a_small_difference_asks_for_more_leads_and_the_estimate_is_about_right() -> None:
    rng = np.random.default_rng(12)
    frame = pl.concat([_arm("champion", 300, 1.0, rng), _arm("challenger", 300, 1.25, rng)])
    report = ab_report(frame)
    assert report["significant"] is False
    more = report["more_needed_per_arm"]
    assert more is not None and more > 0
    assert f"about {more:,} more per arm needed" in report["verdict"]
    assert "n = 300 resolved leads per arm" in report["verdict"]
    # with that many more leads per arm the same two models are usually told apart (the estimate targets 80 % power)
    hits = 0
    for _ in range(20):
        n = 300 + more
        bigger = pl.concat([_arm("champion", n, 1.0, rng), _arm("challenger", n, 1.25, rng)])
        hits += ab_report(bigger)["significant"]
    assert hits >= 10


def test_too_few_outcomes_say_what_is_missing_instead_of_numbers() -> None:
    rng = np.random.default_rng(13)
    champion = _arm("champion", 300, 1.0, rng)
    challenger = pl.DataFrame(
        {"arm": ["challenger"] * 40, "probability": rng.random(40), "outcome": [1] * 4 + [0] * 36}
    )
    unresolved = pl.DataFrame({"arm": ["challenger"] * 50, "probability": rng.random(50), "outcome": [None] * 50})
    frame = pl.concat([champion, challenger, unresolved.cast({"outcome": pl.Int64})])
    report = ab_report(frame)
    json.dumps(report, allow_nan=False)
    chall = report["arms"]["challenger"]
    assert chall["n"] == 40 and chall["conversions"] == 4 and chall["conversion_rate"] == pytest.approx(0.1)
    assert chall["ready"] is False and chall["auc"] is None and chall["top_decile"] is None
    assert chall["missing"] == "6 more conversions"
    assert report["arms"]["champion"]["ready"] is True
    assert report["comparison"] is None and report["significant"] is False
    assert report["verdict"] == "Not enough resolved leads yet: the challenger needs 6 more conversions."


def test_booleans_other_arms_and_unscored_rows_are_handled_and_bad_outcomes_refused() -> None:
    rng = np.random.default_rng(14)
    frame = pl.concat([_arm("champion", 200, 1.0, rng), _arm("challenger", 200, 1.0, rng), _arm("holdout", 50, 0, rng)])
    as_bool = frame.with_columns(pl.col("outcome").cast(pl.Boolean))
    assert ab_report(as_bool)["arms"] == ab_report(frame)["arms"]
    assert ab_report(frame)["arms"]["champion"]["n"] == 200
    with_gap = frame.with_columns(
        pl.when(pl.int_range(pl.len()) < 5).then(None).otherwise(pl.col("probability")).alias("probability")
    )
    report = ab_report(with_gap.rename({"probability": "p"}), probability="p")
    assert report["unscored"] == 5 and report["arms"]["champion"]["n"] == 195
    with pytest.raises(ValueError, match="0/1"):
        ab_report(frame.with_columns(pl.col("outcome") * 2))
    with pytest.raises(ValueError, match="no column 'arm_name'"):
        ab_report(frame, arm="arm_name")
