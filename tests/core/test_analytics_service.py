"""core.analytics on the real PostgreSQL: when schedules run (DST, short months), saved reports and who sees them,
dashboards and their widgets' references, schedules' validation, and that bad input changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import pytest
from pydantic import ValidationError

from core.actor import Actor
from core.analytics import service as analytics
from core.analytics.models import Dashboard, DashboardWidget, Report, ReportSchedule
from core.analytics.schedules import next_run
from core.analytics.schemas import (
    DashboardCreate,
    DashboardUpdate,
    ReportCreate,
    ReportUpdate,
    ScheduleCreate,
    ScheduleUpdate,
    WidgetCreate,
    WidgetReorder,
    WidgetUpdate,
)
from core.db import unit_of_work
from core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from tests.core.conftest import owner_rows
from tests.factories import TenantWorld


@pytest.fixture(autouse=True)
def _standard_keys() -> None:
    """Widgets check standard keys against the registered catalogue (etl/reports/service.py registers it)."""
    import etl.reports.service  # noqa: F401


SPEC = {
    "entity": "deals",
    "groupBy": [{"field": "stage"}],
    "aggregations": [{"fn": "count", "name": "deals"}, {"fn": "sum", "field": "amount", "name": "amount"}],
    "chart": {"type": "bar"},
}


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


# When a schedule runs ----------------------------------------------------------------------------------------


def test_a_daily_schedule_keeps_its_local_time_across_daylight_saving() -> None:
    paris = {"frequency": "daily", "time_of_day": "09:00", "timezone": "Europe/Paris"}
    assert next_run(**paris, after=utc(2026, 1, 10, 12)) == utc(2026, 1, 11, 8)  # CET: UTC+1
    assert next_run(**paris, after=utc(2026, 7, 10, 12)) == utc(2026, 7, 11, 7)  # CEST: UTC+2
    # The night clocks go forward (29 March 2026): the run before is at 08:00 UTC, the one after at 07:00.
    assert next_run(**paris, after=utc(2026, 3, 28, 8)) == utc(2026, 3, 29, 7)
    assert next_run(**paris, after=utc(2026, 3, 29, 7)) == utc(2026, 3, 30, 7)  # strictly after


def test_skipped_and_repeated_wall_times_run_once() -> None:
    ny = {"frequency": "daily", "timezone": "America/New_York"}
    # 02:30 does not exist on 8 March 2026: it runs at 03:30 EDT (07:30 UTC), the moment an hour "later".
    assert next_run(**ny, time_of_day="02:30", after=utc(2026, 3, 7, 12)) == utc(2026, 3, 8, 7, 30)
    # 01:30 happens twice on 1 November 2026: the first one (EDT, 05:30 UTC), and not again an hour later.
    assert next_run(**ny, time_of_day="01:30", after=utc(2026, 11, 1, 4)) == utc(2026, 11, 1, 5, 30)
    assert next_run(**ny, time_of_day="01:30", after=utc(2026, 11, 1, 5, 30)) == utc(2026, 11, 2, 6, 30)


def test_monthly_on_the_31st_runs_on_the_last_day_of_shorter_months() -> None:
    monthly = {"frequency": "monthly", "day_of_month": 31, "time_of_day": "18:00", "timezone": "UTC"}
    runs, after = [], utc(2026, 1, 1)
    for _ in range(5):
        after = next_run(**monthly, after=after)
        runs.append(after.date().isoformat())
    assert runs == ["2026-01-31", "2026-02-28", "2026-03-31", "2026-04-30", "2026-05-31"]
    assert next_run(**monthly, after=utc(2028, 2, 1)).date().isoformat() == "2028-02-29"  # leap year


def test_weekly_runs_on_its_weekday_in_its_timezone() -> None:
    # Monday 07:00 in Tokyo is Sunday 22:00 UTC.
    run = next_run(
        frequency="weekly", day_of_week=1, time_of_day="07:00", timezone="Asia/Tokyo", after=utc(2026, 11, 26)
    )
    assert run == utc(2026, 11, 29, 22) and run.astimezone(UTC).isoweekday() == 7


# Saved reports -----------------------------------------------------------------------------------------------


def _report(actor: Actor, *, public: bool = False, name: str = "Deals by stage") -> Report:
    with unit_of_work(actor) as session:
        report = analytics.create_report(session, actor, ReportCreate(name=name, spec=SPEC, is_public=public))
        session.expunge(report)
        return report


def test_a_saved_report_stores_its_validated_spec_and_is_audited(tenant: TenantWorld) -> None:
    report = _report(tenant.admin)
    assert (report.entity_type, report.chart_type, report.report_type) == ("deals", "bar", "chart")
    assert report.spec["chart"] == {"type": "bar", "x": "stage", "y": ["deals", "amount"], "series": None}
    assert report.grouping == [{"field": "stage", "bucket": None, "name": None}]
    audit = owner_rows(
        "SELECT action, user_id FROM audit_logs WHERE tenant_id = :t AND entity_type = 'custom_reports'"
        " AND entity_id = :id",
        t=tenant.tenant_id,
        id=report.id,
    )
    assert [(a.action, a.user_id) for a in audit] == [("create", tenant.admin_id)]


def test_a_bad_spec_is_refused_with_its_path_and_nothing_is_saved(tenant: TenantWorld) -> None:
    actor = tenant.admin
    with pytest.raises(ValidationError) as caught:
        ReportCreate(name="Bad", spec={"entity": "deals", "groupBy": [{"field": "colour"}]})
    assert "groupBy[0].field: 'colour' is not a field of deals" in str(caught.value)
    with pytest.raises(ValidationFailed) as refused, unit_of_work(actor) as session:
        report = analytics.create_report(session, actor, ReportCreate(name="Good", spec=SPEC))
        analytics.update_report(session, actor, report.id, ReportUpdate.model_construct(spec={"entity": "nope"}))
    assert refused.value.details[0]["field"] == "entity"
    assert owner_rows("SELECT count(*) AS n FROM custom_reports WHERE tenant_id = :t", t=tenant.tenant_id)[0].n == 0


def test_private_reports_are_their_creators_and_admins_public_ones_everyones(tenant: TenantWorld) -> None:
    analyst = tenant.actor(tenant.add_user("analyst"))
    other = tenant.actor(tenant.add_user("analyst"))
    rep = tenant.actor(tenant.add_user("rep"))
    private, public = _report(analyst), _report(analyst, public=True, name="Shared")
    with unit_of_work(other) as session:
        with pytest.raises(NotFound):
            analytics.get_report(session, other, private.id)
        assert [r.id for r in analytics.list_reports(session, other)[0]] == [public.id]
        with pytest.raises(PermissionDenied, match="Only the creator"):
            analytics.update_report(session, other, public.id, ReportUpdate(name="Mine now"))
    with unit_of_work(rep) as session:  # reps read reports but do not build them
        assert analytics.get_report(session, rep, public.id).name == "Shared"
        with pytest.raises(PermissionDenied):
            analytics.create_report(session, rep, ReportCreate(name="x", spec=SPEC))
    with unit_of_work(tenant.admin) as session:
        assert {r.id for r in analytics.list_reports(session, tenant.admin)[0]} == {private.id, public.id}
        updated = analytics.update_report(session, tenant.admin, private.id, ReportUpdate(name="Renamed", version=1))
        assert updated.version == 2
        with pytest.raises(Conflict):
            analytics.update_report(session, tenant.admin, private.id, ReportUpdate(name="Stale", version=1))


def test_another_tenants_report_does_not_exist(tenant: TenantWorld, other_tenant: TenantWorld) -> None:
    theirs = _report(other_tenant.admin, public=True)
    with pytest.raises(NotFound), unit_of_work(tenant.admin) as session:
        analytics.get_report(session, tenant.admin, theirs.id)


# Dashboards --------------------------------------------------------------------------------------------------


def test_a_dashboard_holds_widgets_of_saved_and_standard_reports(tenant: TenantWorld) -> None:
    actor = tenant.admin
    report = _report(actor, public=True)
    with unit_of_work(actor) as session:
        dashboard, widgets = analytics.create_dashboard(
            session,
            actor,
            DashboardCreate(
                name="Sales",
                is_public=True,
                is_default=True,
                filters={"period": "this_quarter"},
                widgets=[
                    WidgetCreate(widget_type="chart", report_id=report.id, width=6, height=4),
                    WidgetCreate(widget_type="table", config={"standardKey": "pipeline_by_stage"}),
                ],
            ),
        )
        assert dashboard.filters == {"period": "this_quarter"}
        assert [(w.position_y, w.report_id) for w in widgets] == [(0, report.id), (4, None)]  # stacked
        third = analytics.add_widget(
            session,
            actor,
            dashboard.id,
            WidgetCreate(widget_type="metric", config={"standardKey": "average_deal_size"}),
        )
        assert third.position_y == 8
        order = WidgetReorder(
            widgets=[
                {"id": third.id, "positionX": 0, "positionY": 0},
                {"id": widgets[0].id, "positionX": 0, "positionY": 4},
                {"id": widgets[1].id, "positionX": 6, "positionY": 4, "width": 6},
            ]
        )
        placed = analytics.reorder_widgets(session, actor, dashboard.id, order)
        assert [w.id for w in placed] == [third.id, widgets[0].id, widgets[1].id]
        analytics.update_widget(session, actor, dashboard.id, third.id, WidgetUpdate(title="Average deal"))
        analytics.remove_widget(session, actor, dashboard.id, widgets[1].id)
        assert len(analytics.list_widgets(session, actor, dashboard.id)) == 2
        second, _ = analytics.create_dashboard(
            session, actor, DashboardCreate(name="Mine", is_public=True, is_default=True)
        )
        session.refresh(dashboard)
        assert (dashboard.is_default, second.is_default) == (False, True)  # one default per tenant


def test_a_widget_must_reference_one_report_the_viewer_can_read(tenant: TenantWorld, other_tenant: TenantWorld) -> None:
    actor = tenant.admin
    private, theirs = _report(actor), _report(other_tenant.admin, public=True)
    with unit_of_work(actor) as session:
        dashboard, _ = analytics.create_dashboard(session, actor, DashboardCreate(name="Team", is_public=True))
        dashboard_id = dashboard.id
    cases = [
        (WidgetCreate(widget_type="chart"), ValidationFailed, "give reportId"),
        (
            WidgetCreate(widget_type="chart", report_id=private.id, config={"standardKey": "lost_reasons"}),
            ValidationFailed,
            "one report",
        ),
        (
            WidgetCreate(widget_type="chart", config={"standardKey": "nope"}),
            ValidationFailed,
            "unknown standard report 'nope'",
        ),
        (WidgetCreate(widget_type="chart", report_id=theirs.id), NotFound, "not found"),
        (WidgetCreate(widget_type="chart", report_id=private.id), ValidationFailed, "is private"),
    ]
    for data, error, words in cases:
        with pytest.raises(error, match=words), unit_of_work(actor) as session:
            analytics.add_widget(session, actor, dashboard_id, data)
    with pytest.raises(ValidationFailed, match="missing widgets"), unit_of_work(actor) as session:
        analytics.add_widget(
            session, actor, dashboard_id, WidgetCreate(widget_type="table", config={"standardKey": "lost_reasons"})
        )
        analytics.reorder_widgets(
            session, actor, dashboard_id, WidgetReorder(widgets=[{"id": private.id, "positionX": 0, "positionY": 0}])
        )
    assert owner_rows("SELECT count(*) AS n FROM dashboard_widgets WHERE tenant_id = :t", t=tenant.tenant_id)[0].n == 0


def test_others_dashboards_are_read_only_and_private_ones_invisible(tenant: TenantWorld) -> None:
    manager = tenant.actor(tenant.add_user("manager"))
    rep = tenant.actor(tenant.add_user("rep"))
    with unit_of_work(manager) as session:
        shared, _ = analytics.create_dashboard(session, manager, DashboardCreate(name="Shared", is_public=True))
        mine, _ = analytics.create_dashboard(session, manager, DashboardCreate(name="Mine"))
    with unit_of_work(rep) as session:
        assert [d.id for d in analytics.list_dashboards(session, rep)[0]] == [shared.id]
        with pytest.raises(NotFound):
            analytics.get_dashboard(session, rep, mine.id)
        with pytest.raises(PermissionDenied):
            analytics.update_dashboard(session, rep, shared.id, DashboardUpdate(name="x"))
    with unit_of_work(tenant.admin) as session:
        analytics.delete_dashboard(session, tenant.admin, mine.id)
    assert owner_rows("SELECT deleted_at FROM dashboards WHERE id = :id", id=mine.id)[0].deleted_at is not None


# Schedules ---------------------------------------------------------------------------------------------------


def _schedule(actor: Actor, report_id: UUID, **values: object) -> ReportSchedule:
    data = {"frequency": "weekly", "timeOfDay": "08:00", "dayOfWeek": 1, "recipients": ["a@example.com"]} | values
    with unit_of_work(actor) as session:
        schedule = analytics.create_schedule(session, actor, report_id, ScheduleCreate.model_validate(data))
        session.expunge(schedule)
        return schedule


def test_a_schedule_gets_its_next_run_and_is_recomputed_when_changed(tenant: TenantWorld) -> None:
    actor = tenant.admin
    report = _report(actor)
    schedule = _schedule(actor, report.id, timezone="Europe/Paris", recipients=["A@example.com", "a@example.com"])
    assert schedule.recipients == ["A@example.com"]
    assert schedule.next_run_at > datetime.now(UTC)
    local = schedule.next_run_at.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Paris"))
    assert (local.isoweekday(), local.strftime("%H:%M")) == (1, "08:00")
    with unit_of_work(actor) as session:
        changed = analytics.update_schedule(
            session, actor, report.id, schedule.id, ScheduleUpdate(frequency="monthly", day_of_month=31)
        )
        assert (changed.day_of_week, changed.day_of_month) == (None, 31)  # the weekday no longer applies
        assert changed.next_run_at.astimezone(UTC).day in (1, 28, 29, 30, 31)  # last day of a month (+1h Paris)
    default_zone = _schedule(actor, report.id, frequency="daily", dayOfWeek=None)
    assert default_zone.timezone == owner_rows("SELECT timezone FROM tenants WHERE id = :t", t=tenant.tenant_id)[0][0]


@pytest.mark.parametrize(
    ("values", "field", "words"),
    [
        ({"frequency": "weekly", "dayOfWeek": None}, "dayOfWeek", "a weekly schedule needs dayOfWeek"),
        ({"frequency": "monthly", "dayOfWeek": None}, "dayOfMonth", "a monthly schedule needs dayOfMonth"),
        ({"frequency": "daily", "dayOfWeek": 3}, "dayOfWeek", "applies to weekly schedules only"),
    ],
)
def test_a_schedule_needs_the_day_its_frequency_uses(tenant: TenantWorld, values: dict, field: str, words: str) -> None:
    report = _report(tenant.admin)
    with pytest.raises(ValidationFailed, match=words) as caught:
        _schedule(tenant.admin, report.id, **values)
    assert caught.value.details[0]["field"] == field
    assert owner_rows("SELECT count(*) AS n FROM report_schedules WHERE tenant_id = :t", t=tenant.tenant_id)[0].n == 0


@pytest.mark.parametrize(
    ("values", "words"),
    [
        ({"timeOfDay": "25:00"}, "24-hour time HH:MM"),
        ({"timeOfDay": "8:00"}, "24-hour time HH:MM"),
        ({"timezone": "Mars/Olympus"}, "unknown timezone 'Mars/Olympus'"),
        ({"recipients": []}, "at least 1 item"),
        ({"recipients": [f"r{i}@example.com" for i in range(51)]}, "at most 50 items"),
        ({"recipients": ["not-an-email"]}, "not a valid email address"),
        ({"format": "docx"}, "'csv', 'xlsx' or 'pdf'"),
    ],
)
def test_schedule_input_is_checked_at_the_edge(values: dict, words: str) -> None:
    data = {"frequency": "daily", "timeOfDay": "08:00", "recipients": ["a@example.com"]} | values
    with pytest.raises(ValidationError, match=words):
        ScheduleCreate.model_validate(data)


def test_schedules_need_reports_schedule_and_are_their_creators(tenant: TenantWorld) -> None:
    rep = tenant.actor(tenant.add_user("rep"))
    manager = tenant.actor(tenant.add_user("manager"))
    report = _report(tenant.admin, public=True)
    with pytest.raises(PermissionDenied, match="schedule on reports"):
        _schedule(rep, report.id)
    mine = _schedule(manager, report.id)
    theirs = _schedule(tenant.admin, report.id)
    with unit_of_work(manager) as session:
        assert [s.id for s in analytics.list_schedules(session, manager, report.id)[0]] == [mine.id]
        with pytest.raises(NotFound):
            analytics.get_schedule(session, manager, report.id, theirs.id)
    with unit_of_work(tenant.admin) as session:
        assert len(analytics.list_schedules(session, tenant.admin, report.id)[0]) == 2


def test_deleting_a_report_stops_its_schedules_and_removes_its_widgets(tenant: TenantWorld) -> None:
    actor = tenant.admin
    report = _report(actor, public=True)
    schedule = _schedule(actor, report.id)
    with unit_of_work(actor) as session:
        dashboard, _ = analytics.create_dashboard(
            session, actor, DashboardCreate(name="D", widgets=[WidgetCreate(widget_type="chart", report_id=report.id)])
        )
        analytics.delete_report(session, actor, report.id)
    row = owner_rows("SELECT is_active, deleted_at FROM report_schedules WHERE id = :id", id=schedule.id)[0]
    assert not row.is_active and row.deleted_at is not None
    assert owner_rows("SELECT count(*) AS n FROM dashboard_widgets WHERE dashboard_id = :d", d=dashboard.id)[0].n == 0
    with pytest.raises(NotFound), unit_of_work(actor) as session:
        analytics.get_report(session, actor, report.id)


def test_models_are_tenant_isolated_by_row_level_security(tenant: TenantWorld, other_tenant: TenantWorld) -> None:
    _report(other_tenant.admin, public=True)
    with unit_of_work(tenant.admin) as session:
        from sqlalchemy import select

        for model in (Report, Dashboard, DashboardWidget, ReportSchedule):
            assert session.scalars(select(model)).all() == []  # no tenant filter in the query: RLS alone
