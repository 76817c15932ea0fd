"""Quotas (core/forecasts): set, read, change and delete per rep and team and period, under permissions and record
scope; bad input refused naming the field; attainment beside a forecast; forecast periods on a fiscal calendar;
a deal's forecast category set by its owner."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from uuid import UUID

import pytest
from pydantic import ValidationError

from core.actor import Actor
from core.db import unit_of_work
from core.deals import service as deals
from core.deals.schemas import DealCreate
from core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from core.forecasts import service as forecasts
from core.forecasts.models import SalesForecast
from core.forecasts.periods import closed_periods, period_of
from core.forecasts.schemas import DealCategoryUpdate, QuotaCreate, QuotaUpdate
from core.ids import new_id
from core.tenants import service as tenants
from core.tenants.schemas import WorkspaceSettingsUpdate
from core.users import service as users
from core.users.schemas import TeamCreate
from tests.core.conftest import owner_rows
from tests.factories import TenantWorld, create_tenant, quiesce


@dataclass
class Sales:
    world: TenantWorld
    north: UUID
    south: UUID
    manager: UUID  # manages north
    rep: UUID  # in north
    rep_south: UUID


@pytest.fixture(scope="module")
def sales() -> Sales:
    world = create_tenant()
    admin = world.admin
    with unit_of_work(admin) as session:
        north = users.create_team(session, admin, TeamCreate(name="North")).id
        south = users.create_team(session, admin, TeamCreate(name="South")).id
    sales = Sales(
        world,
        north,
        south,
        manager=world.add_user("manager", team_id=north),
        rep=world.add_user("rep", team_id=north),
        rep_south=world.add_user("rep", team_id=south),
    )
    yield sales
    quiesce(world.tenant_id)


def as_user(sales: Sales, user_id: UUID) -> Actor:
    return sales.world.actor(user_id)


def create(actor: Actor, **fields: object):  # noqa: ANN201
    with unit_of_work(actor) as session:
        return forecasts.create_quota(session, actor, QuotaCreate(**fields))


def test_periods_follow_the_fiscal_calendar() -> None:
    assert period_of("month", date(2026, 2, 17)) == period_of("month", date(2026, 2, 1))
    assert period_of("month", date(2024, 2, 17)).end == date(2024, 2, 29)
    q = period_of("quarter", date(2026, 5, 3))
    assert (q.start, q.end, q.label()) == (date(2026, 4, 1), date(2026, 6, 30), "2026 Q2")
    # A fiscal year starting in April: Q1 is April-June, the year ends in March and is named after it.
    fq = period_of("quarter", date(2026, 2, 10), 4)
    assert (fq.start, fq.end, fq.label(4)) == (date(2026, 1, 1), date(2026, 3, 31), "FY2026 Q4")
    fy = period_of("year", date(2026, 4, 1), 4)
    assert (fy.start, fy.end, fy.label(4)) == (date(2026, 4, 1), date(2027, 3, 31), "FY2027")
    last3 = closed_periods("quarter", date(2026, 11, 26), 3)
    assert [p.start for p in last3] == [date(2026, 1, 1), date(2026, 4, 1), date(2026, 7, 1)]


def test_an_admin_sets_changes_and_deletes_quotas_of_reps_and_teams(sales: Sales) -> None:
    admin = sales.world.admin
    rep_quota = create(admin, user_id=sales.rep, period="month", period_start=date(2026, 3, 1), amount="50000")
    assert (rep_quota.period_start_date, rep_quota.period_end_date) == (date(2026, 3, 1), date(2026, 3, 31))
    assert (rep_quota.amount, rep_quota.currency, rep_quota.version) == (Decimal("50000.00"), "USD", 1)
    team_quota = create(admin, team_id=sales.north, period="quarter", period_start=date(2026, 1, 1), amount=400000)
    assert team_quota.period_end_date == date(2026, 3, 31)

    with unit_of_work(admin) as session:
        rows, total = forecasts.list_quotas(session, admin, period="month", user_id=sales.rep)
        assert total == 1 and rows[0].id == rep_quota.id
        changed = forecasts.update_quota(session, admin, rep_quota.id, QuotaUpdate(amount=Decimal("55000"), version=1))
        assert changed.amount == Decimal("55000")
    with unit_of_work(admin) as session, pytest.raises(Conflict):  # a stale version
        forecasts.update_quota(session, admin, rep_quota.id, QuotaUpdate(amount=Decimal("1"), version=1))
    assert owner_rows("SELECT amount, version FROM quotas WHERE id = :i", i=rep_quota.id)[0] == (
        Decimal("55000.00"),
        2,
    )
    # Every change is in the audit trail.
    audited = owner_rows(
        "SELECT action FROM audit_logs WHERE entity_type = 'quotas' AND entity_id = :i ORDER BY created_at",
        i=rep_quota.id,
    )
    assert [a.action for a in audited][:2] == ["create", "update"]

    with unit_of_work(admin) as session:
        forecasts.delete_quota(session, admin, team_quota.id)
    with unit_of_work(admin) as session, pytest.raises(NotFound):
        forecasts.get_quota(session, admin, team_quota.id)


def test_bad_quotas_are_refused_naming_the_field(sales: Sales) -> None:
    admin = sales.world.admin

    def refused(field: str, **fields: object) -> str:
        with pytest.raises(ValidationFailed) as caught:
            create(admin, **fields)
        assert caught.value.details[0]["field"] == field
        return caught.value.message

    message = refused("periodStart", user_id=sales.rep, period="quarter", period_start=date(2026, 2, 1), amount=1)
    assert "2026-01-01" in message  # says where the quarter starts
    refused("currency", user_id=sales.rep, period="month", period_start=date(2026, 5, 1), amount=1, currency="EUR")
    refused("userId", user_id=new_id(), period="month", period_start=date(2026, 5, 1), amount=1)
    refused("teamId", team_id=new_id(), period="month", period_start=date(2026, 5, 1), amount=1)
    for bad in (
        {"user_id": sales.rep, "team_id": sales.north},  # both
        {},  # neither
        {"user_id": sales.rep, "amount": -5},
        {"user_id": sales.rep, "period": "week"},
    ):
        fields = {"period": "month", "period_start": date(2026, 5, 1), "amount": 1, **bad}
        with pytest.raises(ValidationError):
            QuotaCreate(**fields)
    create(admin, user_id=sales.rep, period="year", period_start=date(2026, 1, 1), amount=600000)
    with pytest.raises(Conflict):
        create(admin, user_id=sales.rep, period="year", period_start=date(2026, 1, 1), amount=1)
    assert owner_rows("SELECT count(*) FROM quotas WHERE user_id = :u AND period = 'year'", u=sales.rep)[0][0] == 1


def test_reps_see_their_own_quotas_and_managers_their_teams(sales: Sales) -> None:
    admin = sales.world.admin
    mine = create(admin, user_id=sales.rep, period="month", period_start=date(2026, 7, 1), amount=10)
    south = create(admin, user_id=sales.rep_south, period="month", period_start=date(2026, 7, 1), amount=20)
    north_team = create(admin, team_id=sales.north, period="month", period_start=date(2026, 7, 1), amount=30)
    south_team = create(admin, team_id=sales.south, period="month", period_start=date(2026, 7, 1), amount=40)
    rep, manager = as_user(sales, sales.rep), as_user(sales, sales.manager)

    def seen(actor: Actor) -> set[UUID]:
        with unit_of_work(actor) as session:
            rows, _ = forecasts.list_quotas(session, actor, start_from=date(2026, 7, 1), start_to=date(2026, 7, 1))
            return {q.id for q in rows}

    assert seen(rep) == {mine.id}
    assert seen(manager) == {mine.id, north_team.id}
    assert seen(admin) == {mine.id, south.id, north_team.id, south_team.id}
    with unit_of_work(rep) as session, pytest.raises(NotFound):
        forecasts.get_quota(session, rep, south.id)
    # A rep has no forecasts:manage; a manager manages only their own team and its reps.
    with pytest.raises(PermissionDenied):
        create(rep, user_id=sales.rep, period="month", period_start=date(2026, 8, 1), amount=1)
    with pytest.raises(PermissionDenied):
        create(manager, user_id=sales.rep_south, period="month", period_start=date(2026, 8, 1), amount=1)
    assert create(manager, user_id=sales.rep, period="month", period_start=date(2026, 8, 1), amount=1).id
    with unit_of_work(manager) as session, pytest.raises(NotFound):
        forecasts.update_quota(session, manager, south_team.id, QuotaUpdate(amount=Decimal(1)))
    # Another workspace sees none of it.
    other = create_tenant()
    try:
        with unit_of_work(other.admin) as session, pytest.raises(NotFound):
            forecasts.get_quota(session, other.admin, mine.id)
        with unit_of_work(other.admin) as session:
            assert forecasts.list_quotas(session, other.admin)[1] == 0
    finally:
        quiesce(other.tenant_id)


def test_quarters_and_years_follow_the_workspaces_fiscal_year() -> None:
    world = create_tenant()
    try:
        admin = world.admin
        with unit_of_work(admin) as session:
            tenants.update_settings(session, admin, WorkspaceSettingsUpdate(fiscal_year_start_month=4, currency="EUR"))
            team = users.create_team(session, admin, TeamCreate(name="Fiscal")).id
        quota = create(admin, team_id=team, period="year", period_start=date(2026, 4, 1), amount=1000)
        assert (quota.period_end_date, quota.currency) == (date(2027, 3, 31), "EUR")
        with pytest.raises(ValidationFailed):
            create(admin, team_id=team, period="year", period_start=date(2026, 1, 1), amount=1000)
        assert create(admin, team_id=team, period="quarter", period_start=date(2026, 1, 1), amount=1).id
    finally:
        quiesce(world.tenant_id)


def test_attainment_and_gap_stand_beside_a_forecast(sales: Sales) -> None:
    admin = sales.world.admin
    start, end = date(2027, 1, 1), date(2027, 3, 31)
    create(admin, team_id=sales.north, period="quarter", period_start=start, amount=200000)
    create(admin, team_id=sales.south, period="quarter", period_start=start, amount=100000)
    create(admin, user_id=sales.rep, period="quarter", period_start=start, amount=80000)

    def forecast(level: str, **subject: UUID) -> SalesForecast:
        with unit_of_work(admin) as session:
            row = SalesForecast(
                id=new_id(),
                tenant_id=admin.tenant_id,
                kind="live",
                level=level,
                forecast_period="quarter",
                period_start_date=start,
                period_end_date=end,
                forecast_date=date(2027, 2, 1),
                currency="USD",
                forecasted_revenue=Decimal("90000"),
                booked_revenue=Decimal("40000"),
                **subject,
            )
            session.add(row)
        return row

    with unit_of_work(admin) as session:
        rep = forecasts.attainment(session, admin, forecast("rep", user_id=sales.rep, team_id=sales.north))
        team = forecasts.attainment(session, admin, forecast("team", team_id=sales.north))
        company = forecasts.attainment(session, admin, forecast("company"))
    assert rep == {
        "quota": Decimal("80000.00"),
        "booked": Decimal("40000"),
        "forecast": Decimal("90000"),
        "attainment": 0.5,
        "forecastAttainment": 1.125,
        "gap": Decimal("-10000.00"),
    }
    assert (team["quota"], team["attainment"], team["gap"]) == (Decimal("200000.00"), 0.2, Decimal("110000.00"))
    assert company["quota"] == Decimal("300000.00")  # the teams' quotas added up
    # Without a quota there is nothing to attain.
    with unit_of_work(admin) as session:
        none = forecasts.attainment(session, admin, forecast("rep", user_id=sales.rep_south))
    assert (none["quota"], none["attainment"], none["gap"]) == (None, None, None)


def test_a_deals_owner_sets_its_forecast_category(sales: Sales) -> None:
    admin = sales.world.admin
    with unit_of_work(admin) as session:
        deal = deals.create(session, admin, DealCreate(name="Category deal", amount=Decimal(1000), owner_id=sales.rep))
        won = deals.create(session, admin, DealCreate(name="Won deal", amount=Decimal(5), owner_id=sales.rep))
        deals.mark_won(session, admin, won.id)
    rep, other = as_user(sales, sales.rep), as_user(sales, sales.rep_south)
    with unit_of_work(rep) as session:
        changed = forecasts.set_deal_category(session, rep, deal.id, DealCategoryUpdate(category="commit"))
        assert changed.forecast_category == "commit"
        assert forecasts.owner_categories(session, rep) == {str(deal.id): "commit"}
    with unit_of_work(other) as session, pytest.raises(NotFound):  # not theirs to see
        forecasts.set_deal_category(session, other, deal.id, DealCategoryUpdate(category="omitted"))
    with unit_of_work(rep) as session, pytest.raises(ValidationFailed) as closed:
        forecasts.set_deal_category(session, rep, won.id, DealCategoryUpdate(category="commit"))
    assert closed.value.details[0]["field"] == "category"
    with unit_of_work(rep) as session:
        forecasts.set_deal_category(session, rep, deal.id, DealCategoryUpdate(category=None))
    assert owner_rows("SELECT forecast_category FROM deals WHERE id = :i", i=deal.id)[0][0] is None


def test_stored_forecasts_are_listed_per_period_within_scope(sales: Sales) -> None:
    admin = sales.world.admin
    start, end = date(2028, 4, 1), date(2028, 6, 30)
    days = (date(2028, 4, 1), date(2028, 5, 10), date(2028, 6, 2))
    with unit_of_work(admin) as session:
        for level, subject in (("company", {}), ("rep", {"user_id": sales.rep}), ("rep", {"user_id": sales.rep_south})):
            for i, day in enumerate(days):
                session.add(
                    SalesForecast(
                        id=new_id(),
                        tenant_id=admin.tenant_id,
                        kind="live",
                        level=level,
                        forecast_period="quarter",
                        period_start_date=start,
                        period_end_date=end,
                        forecast_date=day,
                        currency="USD",
                        forecasted_revenue=Decimal(1000 + i),
                        **subject,
                    )
                )

    def listed(actor: Actor, pick: str, **filters: object) -> list[tuple[str, date]]:
        with unit_of_work(actor) as session:
            rows, total = forecasts.list_forecasts(session, actor, period_start=start, pick=pick, **filters)
            assert total == len(rows)
            return [(r.level, r.forecast_date) for r in rows]

    assert listed(admin, "latest", level="company") == [("company", days[2])]
    assert listed(admin, "first", level="company") == [("company", days[0])]
    assert listed(admin, "all", level="company") == [("company", d) for d in reversed(days)]
    assert listed(admin, "latest") == [("company", days[2]), ("rep", days[2]), ("rep", days[2])]
    rep = as_user(sales, sales.rep)
    assert listed(rep, "all") == [("rep", d) for d in reversed(days)]  # only their own
    with unit_of_work(admin) as session:
        company = forecasts.list_forecasts(session, admin, level="company", period_start=start)[0][0].id
    with unit_of_work(rep) as session, pytest.raises(NotFound):
        forecasts.get_forecast(session, rep, company)
    with unit_of_work(admin) as session, pytest.raises(ValidationFailed):
        forecasts.list_forecasts(session, admin, pick="best")
