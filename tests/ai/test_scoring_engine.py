"""The generic lead-scoring engine (ai.scoring) on synthetic leads with a planted signal."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

from ai.scoring import ScoringInputError, load, stratified_split, train

FAST = {"lightgbm_grid": [{"num_leaves": 7, "min_data_in_leaf": 20}]}


def _leads(n: int = 3000, seed: int = 1) -> tuple[pl.DataFrame, np.ndarray]:
    """Leads whose conversion depends on source (additively) and on an interaction of region × plan."""
    rng = np.random.default_rng(seed)
    source = rng.choice(["Webinar", "Referral", "Cold call", "Ads"], n)
    region = rng.choice(["north", "south"], n)
    plan = rng.choice(["basic", "pro"], n)
    days_idle = rng.integers(0, 120, n)
    noise = rng.normal(size=n)
    logit = (
        -1.2
        + np.select([source == "Webinar", source == "Referral", source == "Cold call"], [1.2, 0.8, -1.0], 0.0)
        # non-additive: pro converts in the north, basic in the south (no marginal effect of either alone)
        + np.where((region == "north") == (plan == "pro"), 1.3, -1.3)
        - 0.02 * days_idle
    )
    p = 1 / (1 + np.exp(-logit))
    y = rng.random(n) < p
    last = [date(2026, 6, 30) - timedelta(days=int(d)) for d in days_idle]
    frame = pl.DataFrame(
        {
            "lead_id": np.arange(n),
            "lead_source": source,
            "region": region,
            "plan": plan,
            "last_activity": last,
            "noise": noise,
            "tenant": ["acme"] * n,
            "outcome": np.where(y, "Won", "Lost"),
        }
    )
    return frame, p


@pytest.fixture(scope="module")
def trained() -> tuple[object, pl.DataFrame, pl.DataFrame, np.ndarray]:
    frame, p = _leads()
    frame = frame.with_columns(pl.Series("truth", p))
    tr, te = stratified_split(frame, "outcome", test_size=0.3, seed=0)
    model = train(tr.drop("truth"), target="outcome", seed=0, **FAST)
    return model, tr, te, te["truth"].to_numpy()


def test_planted_drivers_rank_first_and_ids_constants_are_dropped(trained) -> None:
    model, *_ = trained
    top = model.feature_importance["feature"].head(4).to_list()
    assert set(top) == {"lead_source", "region", "plan", "last_activity"}
    assert model.feature_importance["feature"].to_list()[-1] == "noise"
    dropped = model.metrics["dropped"]
    assert "identifier" in dropped["lead_id"] and dropped["tenant"] == "one value only"
    assert model.metrics["positive"] == "won"


def test_model_beats_baseline_on_non_additive_signal_and_is_calibrated(trained) -> None:
    model, _, te, truth = trained
    m = model.metrics
    assert m["chosen"] == "lightgbm"
    assert m["roc_auc"] > m["baseline_roc_auc"] + 0.03
    held = model.evaluate(te.drop("truth"))
    y = (te["outcome"] == "Won").to_numpy()
    from ai.scoring.engine import roc_auc

    truth_auc = roc_auc(y.astype(float), truth)
    print(f"held-out AUC {held['roc_auc']:.3f}, truth {truth_auc:.3f}, baseline {held['baseline_roc_auc']:.3f}")
    assert held["roc_auc"] > held["baseline_roc_auc"] + 0.03
    assert held["roc_auc"] > truth_auc - 0.07
    assert held["calibration_error"] < 0.05
    assert set(held["calibration"].columns) == {"bin", "leads", "predicted", "observed"}


def test_scores_carry_plain_reasons_in_points(trained) -> None:
    model, _, te, _ = trained
    out = model.score(te.drop("truth", "outcome"))
    assert out.height == te.height
    assert out["score"].min() >= 0 and out["score"].max() <= 100
    assert (out["score"] == (out["probability"] * 100).round().cast(pl.Int64)).all()
    assert out.select("score", "confidence").equals(model.score(te, reasons=False).select("score", "confidence"))
    # a webinar lead idle for long: the source pushes up, the idleness pulls down
    lead = te.filter((pl.col("lead_source") == "Webinar") & (pl.col("last_activity") < date(2026, 3, 15))).head(1)
    factors = model.score(lead)["factors"][0].to_list()
    assert any(f.startswith("Lead source is Webinar: +") for f in factors), factors
    assert any(f.startswith("Last activity ") and "days ago: \u2212" in f for f in factors), factors
    # points add up to the score's distance from the average lead
    details = model.score(te.head(50))["factor_details"].to_list()
    assert all(isinstance(d["points"], float) for row in details for d in row)


def test_artefact_round_trip_is_identical_and_hash_checked(trained) -> None:
    model, _, te, _ = trained
    art = model.to_artefact()
    assert b"pickle" not in art.content and art.content.startswith(b"{")
    again = load(art.content, art.sha256)
    a, b = model.score(te), again.score(te)
    assert a.equals(b)
    with pytest.raises(ScoringInputError, match="hash"):
        load(art.content.replace(b'"seed":0', b'"seed":1'), art.sha256)


def test_reproducible_for_a_seed() -> None:
    frame, _ = _leads(800, seed=3)
    one = train(frame, "outcome", seed=5, **FAST)
    two = train(frame, "outcome", seed=5, **FAST)
    assert one.score(frame).equals(two.score(frame))
    assert one.metrics["candidates"]["lightgbm"]["roc_auc"] == two.metrics["candidates"]["lightgbm"]["roc_auc"]
    assert one.feature_importance.equals(two.feature_importance)


def test_baseline_chosen_and_stated_when_nothing_beats_it() -> None:
    rng = np.random.default_rng(0)
    n = 600
    frame = pl.DataFrame({"colour": rng.choice(["red", "blue", "green"], n), "y": rng.integers(0, 2, n)})
    model = train(frame, "y", candidates=("logistic",))
    m = model.metrics
    if m["chosen"] == "baseline":
        assert "no candidate beat" in m["choice"]
    else:
        assert m["roc_auc"] > m["baseline_roc_auc"]


@pytest.mark.parametrize(
    ("values", "positive", "expected"),
    [
        ([1, 0], None, "1"),
        ([True, False], None, "true"),
        (["Yes", "no"], None, "yes"),
        (["WON", "lost"], None, "won"),
        (["gold", "silver"], "gold", "gold"),
    ],
)
def test_positive_class_inferred_or_given(values, positive, expected) -> None:
    rng = np.random.default_rng(0)
    n = 200
    pick = rng.integers(0, 2, n)
    frame = pl.DataFrame({"x": rng.normal(size=n) + pick, "t": [values[1 - k] for k in pick]})
    model = train(frame, "t", positive=positive, candidates=("logistic",))
    assert model.positive == expected
    assert model.metrics["roc_auc"] > 0.65  # x is higher for the positive class: the direction is right


def test_bad_input_says_what_to_fix() -> None:
    frame, _ = _leads(200)
    with pytest.raises(ScoringInputError, match="Unknown target column 'converted'"):
        train(frame, "converted")
    with pytest.raises(ScoringInputError, match="one class"):
        train(frame.with_columns(pl.lit("Won").alias("outcome")), "outcome")
    with pytest.raises(ScoringInputError, match="No usable features"):
        train(frame.select("lead_id", "tenant", "outcome"), "outcome")
    with pytest.raises(ScoringInputError, match="Cannot tell which value"):
        train(frame.with_columns(pl.col("outcome").replace({"Won": "gold", "Lost": "silver"})), "outcome")


def test_time_ordered_split_validates_on_latest_outcomes() -> None:
    frame, _ = _leads(1000, seed=4)
    frame = frame.with_columns(pl.Series("closed", [date(2025, 1, 1) + timedelta(days=i) for i in range(1000)]))
    model = train(frame, "outcome", time_column="closed", **FAST)
    assert model.metrics["split"] == "time-ordered" and "closed" not in model.metrics["features"]


def test_cli_evaluate(tmp_path) -> None:
    from typer.testing import CliRunner

    from app.cli import app

    frame, _ = _leads(1500)
    path = tmp_path / "leads.csv"
    frame.write_csv(path)
    runner = CliRunner()
    ok = runner.invoke(app, ["scoring", "evaluate", str(path), "--target", "outcome", "--exclude", "noise"])
    assert ok.exit_code == 0, ok.output
    assert "ROC AUC" in ok.output and "Brier" in ok.output and "Baseline" in ok.output
    bad = runner.invoke(app, ["scoring", "evaluate", str(path), "--target", "nope"])
    assert bad.exit_code == 1 and "Unknown target column 'nope'" in bad.output
    junk = tmp_path / "junk.csv"
    junk.write_bytes(b'a,b\n1,"2\n3,4,5,6\n\x00\x00')
    bad = runner.invoke(app, ["scoring", "evaluate", str(junk), "--target", "b"])
    assert bad.exit_code == 1 and "error:" in bad.output


def _said(detail: dict) -> str:
    whole = round(detail["points"])
    return f"{detail['text']}: {'+' if whole > 0 else chr(0x2212)}{abs(whole)}"


@pytest.mark.parametrize("method", ["treeshap", "path"])
def test_reasons_are_ordered_worded_and_add_up(trained, method) -> None:
    from ai.scoring.engine import _contributions, _raw

    model, _, te, _ = trained
    te = te.drop("truth", "outcome")
    for top in (1, 3):
        out = model.score(te, top=top, contributions=method)
        for said, details in zip(out["factors"].to_list(), out["factor_details"].to_list(), strict=True):
            points = [d["points"] for d in details]
            ups = [p for p in points if round(p) > 0]
            downs = [p for p in points if round(p) < 0]
            assert points == ups + downs and len(ups) <= top and len(downs) <= top
            assert ups == sorted(ups, reverse=True) and downs == sorted(downs)
            assert said == [_said(d) for d in details]
    # the contributions add up to the model's log-odds exactly, whichever method
    x = model.features.matrix(te)
    base, parts = _contributions(model.kind, model._payload, model.features, x, method=method)
    assert np.allclose(base + parts.sum(axis=1), _raw(model.kind, model._payload, model.features, x), atol=1e-9)
    # so score − Σ points is the same average-lead score for every lead (up to the unlisted points, each < 0.5)
    every = model.score(te, top=len(model.features.features), contributions=method)
    unlisted = len(model.features.features) - every["factor_details"].list.len().to_numpy()
    average = 100 * every["probability"].to_numpy() - np.array(
        [sum(d["points"] for d in row) for row in every["factor_details"].to_list()]
    )
    assert np.all(np.abs(average - np.median(average)) <= 0.5 * (unlisted + unlisted.max()) + 1e-6)


def test_path_reasons_agree_with_treeshap_on_planted_drivers(trained) -> None:
    model, _, te, _ = trained
    te = te.drop("truth", "outcome")
    exact, path = model.score(te), model.score(te, contributions="path")
    assert exact.select("score", "confidence").equals(path.select("score", "confidence"))
    assert np.allclose(exact["probability"].to_numpy(), path["probability"].to_numpy(), rtol=0, atol=1e-12)
    lead = te.filter((pl.col("lead_source") == "Webinar") & (pl.col("last_activity") < date(2026, 3, 15))).head(1)
    factors = model.score(lead, contributions="path")["factors"][0].to_list()
    assert any(f.startswith("Lead source is Webinar: +") for f in factors), factors
    assert model.score(te.head(0), contributions="path").height == 0
    with pytest.raises(ScoringInputError, match="contributions method"):
        model.score(te.head(5), contributions="lime")


def test_logistic_bends_with_a_number_that_is_not_linear() -> None:
    # conversion peaks at mid ages: a straight line in age cannot rank it, the decile indicators can
    rng = np.random.default_rng(2)
    n = 3000
    age = rng.uniform(20, 70, n)
    p = 1 / (1 + np.exp(-(1.5 - ((age - 45) / 8) ** 2)))
    frame = pl.DataFrame({"age": age, "won": rng.random(n) < p})
    model = train(frame, "won", candidates=("logistic",))
    # a linear term alone ranks this at ~0.5
    assert model.metrics["candidates"]["logistic"]["roc_auc"] > 0.75
