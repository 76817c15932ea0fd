"""The pipeline board query: totals over every matching open deal, capped cards, record scope and filters,
in a fixed number of queries."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import event

from core.accounts import service as accounts
from core.accounts.schemas import AccountCreate
from core.db import app_engine, unit_of_work
from core.deals import service as deals
from core.deals.board import BoardFilters, board_rows, pipeline_board
from core.deals.schemas import DealCreate
from core.errors import ValidationFailed
from core.pipelines import service as pipelines
from core.users import service as users
from core.users.schemas import TeamCreate


def _stages(world):
    with unit_of_work(world.admin) as session:
        pipeline = pipelines.default_pipeline(session, world.admin)
        read = pipelines.to_read(session, world.admin, pipeline)
    return {s.name: s.id for s in read.stages}


@pytest.fixture
def world(tenant):
    """Two teams with a rep each; deals of both reps over the open stages, one won deal, one in no team."""
    admin = tenant.admin
    with unit_of_work(admin) as session:
        east = users.create_team(session, admin, TeamCreate(name="East")).id
        west = users.create_team(session, admin, TeamCreate(name="West")).id
    rep_east = tenant.add_user("rep", team_id=east)
    rep_west = tenant.add_user("rep", team_id=west)
    stages = _stages(tenant)
    plan = [
        (rep_east, "Prospecting", "1000.00", date(2030, 1, 10)),
        (rep_east, "Prospecting", "3000.00", date(2030, 2, 10)),
        (rep_east, "Proposal", "5000.00", date(2030, 3, 10)),
        (rep_west, "Prospecting", "2000.00", date(2030, 1, 20)),
        (rep_west, "Negotiation", "7000.00", None),
        (rep_west, "Qualification", None, date(2030, 2, 1)),
        (tenant.admin_id, "Proposal", "400.00", date(2030, 1, 1)),
    ]
    with unit_of_work(admin) as session:
        account = accounts.create(session, admin, AccountCreate(name="Admin Account Co")).id
        ids = [
            deals.create(
                session,
                admin,
                DealCreate(
                    name=f"Deal {i}",
                    owner_id=owner,
                    stage_id=stages[stage],
                    amount=Decimal(amount) if amount else None,
                    expected_close_date=close,
                    account_id=account if owner == rep_west else None,
                ),
            ).id
            for i, (owner, stage, amount, close) in enumerate(plan)
        ]
        deals.mark_won(session, admin, deals.create(session, admin, DealCreate(name="Won", amount=Decimal(9))).id)
    return {"tenant": tenant, "east": east, "west": west, "rep_east": rep_east, "rep_west": rep_west, "ids": ids}


def _by_stage(board):
    return {c.name: c for c in board.columns}


def test_totals_cover_every_matching_open_deal_and_agree_with_the_deal_list(world):
    admin = world["tenant"].admin
    with unit_of_work(admin) as session:
        board = pipeline_board(session, admin, cards_per_stage=1)
        listed = deals.list_deals(session, admin, {"isClosed": ["false"], "limit": ["100"]})
    assert [c.name for c in board.columns] == ["Prospecting", "Qualification", "Proposal", "Negotiation"]
    expected: dict[str, list] = defaultdict(lambda: [0, Decimal(0), Decimal(0)])
    for item in listed.items:
        row = expected[item["stageName"]]
        row[0] += 1
        row[1] += Decimal(item["amount"] or 0)
        row[2] += Decimal(item["weightedAmount"] or 0)
    for column in board.columns:
        assert [column.count, column.amount, column.weighted_amount] == expected[column.name], column.name
    prospecting = _by_stage(board)["Prospecting"]
    assert (prospecting.count, len(prospecting.cards), prospecting.more) == (3, 1, 2)
    assert prospecting.cards[0].amount == Decimal("3000.00")  # largest first
    assert board.count == 7 and board.amount == Decimal("18400.00")  # the won deal is not on the board


def test_cards_carry_names_and_age_order_puts_the_oldest_first(world):
    admin = world["tenant"].admin
    with unit_of_work(admin) as session:
        board = pipeline_board(session, admin, order="age")
    cards = _by_stage(board)["Prospecting"].cards
    assert [c.name for c in cards] == ["Deal 0", "Deal 1", "Deal 3"]
    west = next(c for c in cards if c.owner_id == world["rep_west"])
    assert west.owner_name == "Rep Tester" and west.account_name == "Admin Account Co"
    assert (west.days_in_stage, west.is_rotting, west.version) == (0, False, 1)


def test_a_rep_sees_only_their_own_deals_and_no_account_they_cannot_read(world):
    tenant = world["tenant"]
    rep = tenant.actor(world["rep_west"])
    with unit_of_work(rep) as session:
        board = pipeline_board(session, rep)
        rows = board_rows(session, rep)
    assert board.count == 3 and {c.owner_id for c in rows} == {world["rep_west"]}
    assert all(c.account_name is None and c.account_id is None for c in rows)  # the account is the admin's


def test_filters_narrow_totals_and_cards(world):
    admin = world["tenant"].admin

    def count(**kwargs):
        with unit_of_work(admin) as session:
            board = pipeline_board(session, admin, filters=BoardFilters(**kwargs))
            rows = board_rows(session, admin, filters=BoardFilters(**kwargs))
        assert len(rows) == board.count
        return board.count

    assert count(owner_ids=(world["rep_east"],)) == 3
    assert count(team_ids=(world["west"],)) == 3
    assert count(team_ids=(world["west"],), owner_ids=(world["rep_east"],)) == 0
    assert count(close_from=date(2030, 1, 15), close_to=date(2030, 2, 28)) == 3
    assert count(amount_min=Decimal(2000), amount_max=Decimal(5000)) == 3
    with unit_of_work(admin) as session, pytest.raises(ValidationFailed) as bad:
        pipeline_board(session, admin, filters=BoardFilters(amount_min=Decimal(5), amount_max=Decimal(1)))
    assert bad.value.details[0]["field"] == "amount"


def test_the_board_takes_the_same_number_of_queries_for_any_number_of_deals(world):
    admin = world["tenant"].admin
    statements: list[str] = []

    def count(*args, **kwargs):
        statements.append(args[2])

    event.listen(app_engine(), "before_cursor_execute", count)
    try:
        with unit_of_work(admin) as session:
            before = len(statements)
            pipeline_board(session, admin)
            queries = len(statements) - before
    finally:
        event.remove(app_engine(), "before_cursor_execute", count)
    assert queries <= 5, statements


def test_cards_sort_and_filter_by_the_lead_score_of_the_deals_contact(world):
    from core.contacts import service as contacts
    from core.contacts.schemas import ContactCreate

    tenant = world["tenant"]
    admin = tenant.admin
    stages = _stages(tenant)
    with unit_of_work(admin) as session:
        for name, score, amount in (("Cool", 20, "9000.00"), ("Hot", 90, "100.00"), ("Warm", 55, "500.00")):
            contact = contacts.create(
                session, admin, ContactCreate(first_name=name, last_name="Lead", lead_score=score)
            )
            deals.create(
                session,
                admin,
                DealCreate(
                    name=f"{name} deal", stage_id=stages["Qualification"], amount=Decimal(amount), contact_id=contact.id
                ),
            )
        board = pipeline_board(session, admin, order="score")
        hot_only = board_rows(session, admin, filters=BoardFilters(min_score=50), order="score")
    cards = _by_stage(board)["Qualification"].cards
    assert [(c.name, c.lead_score) for c in cards[:3]] == [("Hot deal", 90), ("Warm deal", 55), ("Cool deal", 20)]
    assert cards[3].lead_score is None  # a deal without a contact comes last
    assert [(c.name, c.lead_score) for c in hot_only] == [("Hot deal", 90), ("Warm deal", 55)]
    with pytest.raises(ValidationFailed):
        with unit_of_work(admin) as session:
            pipeline_board(session, admin, filters=BoardFilters(min_score=101))
