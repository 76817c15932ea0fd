"""The anomalies and churners the demo generator plants (core/demo/generate.py), checked on the generated rows
themselves (no database: a small history is generated in memory, ~1 s): each planted record exists and shows
what the truth file says about it, and the planting is as deterministic as the rest of the history."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from core.demo.generate import Generator
from core.demo.load import COLUMNS
from core.demo.truth import SCALES, draw
from tests.core.test_demo import _world

AS_OF = date(2026, 6, 30)


def _rows(batches: list[Any], table: str) -> list[dict[str, str | None]]:
    """The rows of `table` back from the COPY text (enough unescaping for ids, dates and amounts)."""
    columns = COLUMNS[table]
    out = []
    for batch in batches:
        if batch.table != table:
            continue
        for line in batch.data.decode().split("\n"):
            if line:
                values = [None if v == "\\N" else v for v in line.split("\t")]
                out.append(dict(zip(columns, values, strict=True)))
    return out


def _generate(seed: int, scale: str = "small") -> tuple[Generator, list[Any]]:
    truth = draw(seed, SCALES[scale], AS_OF)
    generator = Generator(truth, _world(len(truth.people)))
    batches = list(generator.accounts())
    for _, chunk in generator.chunks():
        batches += chunk
    return generator, batches


@pytest.fixture(scope="module")
def small() -> dict[str, Any]:
    generator, batches = _generate(5)
    realized = generator.realized()
    tables = {t: _rows(batches, t) for t in ("accounts", "contacts", "deals", "deal_stage_history", "activities")}
    tables["notes"] = _rows(batches, "notes")
    return {"realized": realized, "planted": realized["anomalies"], "churners": realized["churners"], **tables}


def _at(stamp: str | None) -> datetime:
    assert stamp is not None
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def test_the_truth_lists_every_kind_with_records_that_exist(small: dict[str, Any]) -> None:
    planted = small["planted"]
    assert {"amount_outlier", "stage_backwards", "late_discount", "account_engagement_drop"} <= planted.keys()
    assert {"rep_activity_drop", "rep_win_rate_drop"} <= planted.keys()
    deals = {d["id"] for d in small["deals"]}
    accounts = {a["id"] for a in small["accounts"]}
    for kind in ("amount_outlier", "stage_backwards", "late_discount"):
        assert planted[kind] and {p["deal_id"] for p in planted[kind]} <= deals, kind
    assert planted["account_engagement_drop"] and all(
        p["account_id"] in accounts for p in planted["account_engagement_drop"]
    )
    assert planted.get("close_date_pushed", []) == []  # audit rows: not in the small demo (its trail is bulk-only)
    assert small["churners"] and {c["account_id"] for c in small["churners"]} <= accounts
    assert any(c["customer"] for c in small["churners"])


def test_churners_stop_at_their_date_and_warn_before_it(small: dict[str, Any]) -> None:
    churned = {c["account_id"]: datetime.fromisoformat(c["churned_at"]).replace(tzinfo=UTC) for c in small["churners"]}
    for act in small["activities"]:
        if act["account_id"] in churned:
            assert _at(act["occurred_at"]) < churned[act["account_id"]] + timedelta(days=1), act
    for contact in small["contacts"]:
        if contact["account_id"] in churned:
            assert _at(contact["created_at"]) < churned[contact["account_id"]] + timedelta(days=1)
    for deal in small["deals"]:
        if deal["account_id"] in churned and deal["is_won"] == "t":
            assert date.fromisoformat(deal["actual_close_date"] or "") < churned[deal["account_id"]].date()
    unhappy = defaultdict(int)
    for note in small["notes"]:
        if note["entity_type"] == "accounts" and note["entity_id"] in churned:
            unhappy[note["entity_id"]] += 1
            assert _at(note["created_at"]) < churned[note["entity_id"]]
    assert set(unhappy) == set(churned)
    # a customer churner was a buyer before: a won deal closed before its date
    customers = [c["account_id"] for c in small["churners"] if c["customer"]]
    won_before = {d["account_id"] for d in small["deals"] if d["is_won"] == "t"}
    assert set(customers) <= won_before


def test_planted_deal_anomalies_show_in_the_rows(small: dict[str, Any]) -> None:
    planted = small["planted"]
    deals = {d["id"]: d for d in small["deals"]}
    history = defaultdict(list)
    for h in small["deal_stage_history"]:
        history[h["deal_id"]].append(h)
    order = {f"00000000-0000-0000-0000-{10 + i:012x}": i for i in range(4)}  # the test world's open stages
    for p in planted["stage_backwards"]:
        moves = sorted(history[p["deal_id"]], key=lambda h: h["changed_at"] or "")
        steps = [(order.get(h["from_stage_id"] or ""), order.get(h["to_stage_id"] or "")) for h in moves]
        assert any(a is not None and b is not None and b < a for a, b in steps), steps
    for p in planted["late_discount"]:
        moves = sorted(history[p["deal_id"]], key=lambda h: h["changed_at"] or "")
        last, before = float(moves[-1]["amount"] or 0), float(moves[-2]["amount"] or 0)
        assert last <= 0.75 * before and float(deals[p["deal_id"]]["amount"] or 0) == last
    # outliers: far above the amounts of the owner's other deals (an owner sells to one team's segment)
    for p in planted["amount_outlier"]:
        deal = deals[p["deal_id"]]
        others = [
            float(d["amount"] or 0) for d in small["deals"] if d["owner_id"] == deal["owner_id"] and d is not deal
        ]
        assert float(deal["amount"] or 0) >= 3 * float(np.median(others))


def test_the_slumping_rep_logs_far_less_lately(small: dict[str, Any]) -> None:
    rep = small["planted"]["rep_activity_drop"][0]
    since = datetime.fromisoformat(rep["since"]).replace(tzinfo=UTC)
    mine = [_at(a["occurred_at"]) for a in small["activities"] if a["owner_id"] == rep["user_id"]]
    recent = sum(t >= since for t in mine)
    days = (datetime.combine(AS_OF, datetime.min.time(), UTC) - since).days
    usual = sum(since - timedelta(days=180) <= t < since for t in mine) * days / 180
    assert usual > 0 and recent <= 0.5 * usual, (recent, usual)


def test_planting_is_deterministic() -> None:
    first, again = _generate(7)[0].realized(), _generate(7)[0].realized()
    assert first["anomalies"] == again["anomalies"] and first["churners"] == again["churners"]


def test_close_date_pushes_are_audit_rows_ending_at_the_deals_date() -> None:
    for seed in range(1, 20):  # the small demo has few open deals: the first seed that pushes one
        truth = draw(seed, SCALES["small"], AS_OF)
        generator = Generator(truth, _world(len(truth.people)))
        generator.plant_audit = True  # as the medium and large demos do
        batches = list(generator.accounts())
        for _, chunk in generator.chunks():
            batches += chunk
        if generator.planted["close_date_pushed"]:
            break
    audit = _rows(batches, "audit_logs")
    deals = {d["id"]: d for d in _rows(batches, "deals")}
    pushed = generator.planted["close_date_pushed"]
    assert pushed and len(audit) == sum(p["pushes"] for p in pushed)
    by_deal = defaultdict(list)
    for row in audit:
        assert row["entity_type"] == "deals" and row["action"] == "update"
        by_deal[row["entity_id"]].append(json.loads(row["new_values"] or "{}")["expected_close_date"])
    for p in pushed:
        deal = deals[p["deal_id"]]
        assert deal["is_closed"] == "f" and deal["expected_close_date"] == p["last"]
        dates = sorted(by_deal[p["deal_id"]])
        assert len(dates) == p["pushes"] >= 2 and dates[-1] == p["last"] and dates[0] > p["first"]
