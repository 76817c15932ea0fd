"""Pipeline: the board's per-stage totals agree with core, moves, won and lost go through core (history
written), a stale version is explained and changes nothing, scope and filters narrow the board."""

from __future__ import annotations

from decimal import Decimal
from uuid import uuid4

import pytest

from app.ui.board import dropped, sortable_board
from core.db import unit_of_work
from core.deals import service as deals
from core.deals.board import Board, BoardCard, StageColumn
from core.deals.schemas import DealCreate, DealPatch
from core.demo.service import SeedResult
from core.pipelines import service as pipelines
from core.users import service as users
from tests.factories import TenantWorld
from tests.ui.conftest import as_role, new_app, open_page, sign_in


def _stage_ids(actor) -> dict[str, object]:
    with unit_of_work(actor) as session:
        pipeline = pipelines.to_read(session, actor, pipelines.default_pipeline(session, actor))
    return {s.name: s.id for s in pipeline.stages}


def _open_per_stage(actor, stages: dict[str, object]) -> dict[str, int]:
    """Open deals per open stage as the deal list (another core path than the board's) counts them."""
    with unit_of_work(actor) as session:
        return {
            name: deals.list_deals(session, actor, {"stageId": [str(sid)], "isClosed": ["false"], "limit": ["1"]}).total
            for name, sid in stages.items()
            if name not in ("Closed Won", "Closed Lost")
        }


def _read(actor, deal_id):
    with unit_of_work(actor) as session:
        return deals.to_read(session, actor, deals.get(session, actor, deal_id))


def _pipeline(at):
    return open_page(at, "pipeline.py")


def _click(at, label: str):
    next(b for b in at.button if b.label == label).click().run()
    return at


@pytest.fixture
def board(tenant: TenantWorld):
    """Three open deals of the admin and one of a rep, in Prospecting; signed in as the admin on the board."""
    admin = tenant.admin
    rep = tenant.add_user("rep")
    with unit_of_work(admin) as session:
        ids = [
            deals.create(session, admin, DealCreate(name=name, amount=Decimal(amount), owner_id=owner)).id
            for name, amount, owner in (
                ("Atlas renewal", "12000", None),
                ("Borealis pilot", "3000", None),
                ("Cobalt upsell", "800", None),
                ("Delta rep deal", "5000", rep),
            )
        ]
    at = _pipeline(sign_in(new_app(), tenant.slug, tenant.admin_email))
    assert not at.exception and not at.error, [e.value for e in at.error]
    return at, ids, rep


def test_the_board_shows_core_totals_for_each_role_and_a_rep_only_their_own(demo_workspace: SeedResult) -> None:
    totals = {}
    for role in ("admin", "manager", "rep"):
        at = _pipeline(as_role(demo_workspace, role))
        assert not at.exception, role
        assert not at.error, [e.value for e in at.error]
        actor = at.session_state["cf_actor"]
        expected = _open_per_stage(actor, _stage_ids(actor))
        metrics = {m.label: m.value for m in at.metric}
        assert {name: metrics[name] for name in expected} == {k: f"{v:,}" for k, v in expected.items()}, role
        assert metrics["Open deals"] == f"{sum(expected.values()):,}"
        totals[role] = sum(expected.values())
    assert totals["rep"] <= totals["manager"] <= totals["admin"] and totals["admin"] > 0


def test_the_quick_move_changes_the_stage_and_writes_history(tenant: TenantWorld, board) -> None:
    at, ids, _ = board
    stages = _stage_ids(tenant.admin)
    at.selectbox(key="pl_quick_deal").select(ids[1])
    at.selectbox(key="pl_to").select(stages["Proposal"])
    _click(at, "Move")
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert _read(tenant.admin, ids[1]).stage_name == "Proposal"
    with unit_of_work(tenant.admin) as session:
        history = deals.stage_history(session, tenant.admin, ids[1])
    assert [h.to_stage_name for h in history] == ["Prospecting", "Proposal"]
    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["Prospecting"], metrics["Proposal"]) == ("3", "1")


def test_lost_needs_a_reason_and_won_and_lost_close_the_deal(tenant: TenantWorld, board) -> None:
    at, ids, _ = board
    at.selectbox(key="pl_quick_deal").select(ids[0])
    _click(at, "Mark lost")
    assert any("reason" in e.value for e in at.error)
    assert not _read(tenant.admin, ids[0]).is_closed

    at.selectbox(key="pl_quick_deal").select(ids[0])
    at.text_input(key="pl_reason").input("Went with a competitor")
    _click(at, "Mark lost")
    lost = _read(tenant.admin, ids[0])
    assert (lost.is_closed, lost.is_won, lost.lost_reason) == (True, False, "Went with a competitor")

    at.selectbox(key="pl_quick_deal").select(ids[2])
    _click(at, "Mark won")
    won = _read(tenant.admin, ids[2])
    assert (won.is_closed, won.is_won, won.stage_name) == (True, True, "Closed Won")
    assert {m.label: m.value for m in at.metric}["Prospecting"] == "2"  # closed deals leave the board


def test_a_deal_changed_meanwhile_is_explained_and_not_moved(tenant: TenantWorld, board) -> None:
    at, ids, _ = board
    with unit_of_work(tenant.admin) as session:  # someone else edits the deal the board shows
        deals.update(session, tenant.admin, ids[0], DealPatch(next_step="Call the CFO"))
    at.selectbox(key="pl_quick_deal").select(ids[0])
    at.selectbox(key="pl_to").select(_stage_ids(tenant.admin)["Negotiation"])
    _click(at, "Move")
    assert any("Someone else changed this deal" in w.value for w in at.warning)
    assert _read(tenant.admin, ids[0]).stage_name == "Prospecting"
    _click(at, "Move")  # after the reload (this run showed the new version), the same move goes through
    assert _read(tenant.admin, ids[0]).stage_name == "Negotiation"


def test_filters_narrow_the_board_and_a_bad_range_is_explained(tenant: TenantWorld, board) -> None:
    at, ids, rep = board
    assert {m.label: m.value for m in at.metric}["Open deals"] == "4"
    at.multiselect(key="pl_owners").select(rep).run()
    assert {m.label: m.value for m in at.metric}["Open deals"] == "1"
    at.multiselect(key="pl_owners").unselect(rep).run()
    at.number_input(key="pl_amount_min").set_value(2000.0).run()
    assert {m.label: m.value for m in at.metric}["Open deals"] == "3"
    at.number_input(key="pl_amount_max").set_value(1000.0).run()
    assert any("amount" in e.value for e in at.error)
    assert "Open deals" not in {m.label for m in at.metric}


def test_a_rep_sees_only_their_own_deals(tenant: TenantWorld, board) -> None:
    _, ids, rep = board
    with unit_of_work(tenant.admin) as session:
        email = users.get(session, tenant.admin, rep).email
    at = _pipeline(sign_in(new_app(), tenant.slug, email))
    assert not at.exception and not at.error
    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["Open deals"], metrics["Prospecting"]) == ("1", "1")
    assert at.selectbox(key="pl_quick_deal").options == ["Delta rep deal (Prospecting)"]
    assert not at.multiselect  # no owner or team filter for someone who sees only their own deals


def test_the_table_view_lists_the_deals_with_links(tenant: TenantWorld, board) -> None:
    at, ids, _ = board
    at.segmented_control(key="pl_view").set_value("Table").run()
    assert not at.exception and not at.error
    frame = at.dataframe[0].value
    assert list(frame["Deal"]) == ["Atlas renewal", "Delta rep deal", "Borealis pilot", "Cobalt upsell"]
    assert frame["Open"][0] == f"/deal?id={ids[0]}"


def _card(name: str, stage_id, **extra) -> BoardCard:
    values = {
        "id": uuid4(),
        "name": name,
        "stage_id": stage_id,
        "stage_name": "",
        "account_id": None,
        "account_name": "Acme",
        "amount": Decimal(1000),
        "currency": "USD",
        "probability": 10,
        "weighted_amount": Decimal(100),
        "owner_id": uuid4(),
        "owner_name": "Ann Lee",
        "expected_close_date": None,
        "days_in_stage": 3,
        "is_rotting": False,
        "version": 1,
        **extra,
    }
    return BoardCard(**values)


def test_a_card_dragged_to_another_column_is_read_as_a_move_and_reordering_is_not() -> None:
    first, second = uuid4(), uuid4()
    twin_a, twin_b = _card("Twin", first), _card("Twin", first)
    rotting = _card("Old", second, is_rotting=True, days_in_stage=40)
    board = Board(
        pipeline_id=uuid4(),
        pipeline_name="Sales",
        currency="USD",
        columns=[
            StageColumn(first, "Prospecting", 1, 10, 14, count=2, cards=[twin_a, twin_b]),
            StageColumn(second, "Proposal", 2, 50, 21, count=1, cards=[rotting]),
        ],
        has_won_stage=True,
        has_lost_stage=True,
    )
    sortable = sortable_board(board)
    a, b = sortable.containers[0]["items"]
    assert a != b and sortable.cards[a] is twin_a and sortable.cards[b] is twin_b  # same label, told apart
    assert sortable.containers[1]["items"] == ["Old · $1,000 · 40d in stage ⚠ rotting · Acme · Ann Lee"]
    own = sortable_board(board, owner=False)  # a rep's board: their own name is not repeated on every card
    assert own.containers[1]["items"] == ["Old · $1,000 · 40d in stage ⚠ rotting · Acme"]
    assert sortable.containers[0]["header"] == "Prospecting (2)"
    reordered = [{"header": "x", "items": [b, a]}, sortable.containers[1]]
    assert dropped(sortable, reordered) == []
    moved = [{"header": "x", "items": [a]}, {"header": "y", "items": [b, *sortable.containers[1]["items"]]}]
    assert dropped(sortable, moved) == [(twin_b, second)]
    assert dropped(sortable, None) == [] and dropped(sortable, [{"items": ["unknown"]}, {"items": []}]) == []
