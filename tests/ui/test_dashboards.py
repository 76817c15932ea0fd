"""Dashboards: KPI tiles and standard reports from the warehouse, filters, drill-down, exports, saved dashboards,
and the empty state of a workspace whose warehouse was never loaded."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

from app.ui import widgets as ui
from app.ui.pages import permitted
from core.actor import Actor
from core.analytics import service as analytics
from core.analytics.schemas import ReportOverrides
from core.analytics.spec import resolve_period, today_in
from core.db import unit_of_work
from core.deals import service as deals
from core.deals.schemas import DealCreate
from core.demo.service import SeedResult
from etl import pipeline, warehouse
from etl.reports import service as reports
from tests.factories import TenantWorld
from tests.ui.conftest import actor_of, as_role, new_app, open_page, shown, sign_in


def dashboards(workspace: SeedResult, role: str) -> Any:
    at = open_page(as_role(workspace, role), "dashboards.py")
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    return at


def metric(at: Any, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def period() -> tuple[date, date]:
    return resolve_period("last_90_days", today_in("UTC"))


def expected_tiles(actor: Actor, **overrides: Any) -> tuple[str, str]:
    """Open pipeline (the pipeline-by-stage report) and won amount (revenue by month over the period's close
    dates) as the report service computes them for `actor`."""
    start, end = period()
    with unit_of_work(actor) as session:
        pipe = reports.run_standard(session, actor, "pipeline_by_stage", ReportOverrides(**overrides) or None)
        won = reports.run_standard(
            session,
            actor,
            "revenue_by_month",
            ReportOverrides(date_from=start, date_to=end, date_field="actual_close_date", **overrides),
        )
    open_amount = sum((r["amount"] for r in pipe.result.frame.iter_rows(named=True)), Decimal(0))
    won_amount = sum((r["revenue"] for r in won.result.frame.iter_rows(named=True)), Decimal(0))
    return ui.money(open_amount), ui.money(won_amount)


@pytest.mark.parametrize("role", ["admin", "manager"])
def test_tiles_and_charts_show_the_report_services_numbers(loaded: SeedResult, role: str) -> None:
    at = dashboards(loaded, role)
    actor = actor_of(loaded, role)
    text = shown(at)
    assert "Warehouse loaded" in text
    labels = {m.label for m in at.metric}
    assert {"Open pipeline", "Weighted pipeline", "Won this period", "Win rate", "Average deal size"} <= labels
    assert "Sales cycle" in labels
    open_amount, won_amount = expected_tiles(actor)
    assert metric(at, "Open pipeline") == open_amount
    assert metric(at, "Won this period") == won_amount
    if role == "manager":
        assert "Records of your team only" in text
    # the explored report's table is the report service's result
    with unit_of_work(actor) as session:
        run = reports.run_standard(session, actor, "pipeline_by_stage")
    table = at.dataframe[-1].value
    assert list(table["stage"]) == list(run.result.frame["stage"])
    assert list(table["deals"]) == list(run.result.frame["deals"])


def test_a_rep_cannot_open_dashboards(loaded: SeedResult) -> None:
    at = as_role(loaded, "rep")
    assert "dashboards.py" not in {p.file for p in permitted(actor_of(loaded, "rep"))}
    with pytest.raises(Exception):  # noqa: B017 - AppTest refuses a page that is not registered for the role
        open_page(at, "dashboards.py")


def test_a_rep_filter_narrows_the_numbers(loaded: SeedResult) -> None:
    at = dashboards(loaded, "admin")
    admin = actor_of(loaded, "admin")
    everyone = metric(at, "Open pipeline")
    assert everyone == expected_tiles(admin)[0]
    with unit_of_work(admin) as session:  # the rep with the most open pipeline: less than everyone's
        run = reports.run_spec(
            session,
            admin,
            {
                "entity": "deals",
                "filters": [{"field": "status", "value": "open"}],
                "groupBy": [{"field": "owner_id"}],
                "aggregations": [{"fn": "sum", "field": "amount", "name": "amount"}],
                "sort": [{"field": "amount", "direction": "desc"}],
            },
        )
    rep_id = UUID(run.result.frame["owner_id"][0])
    at.multiselect(key="dash_reps").select(str(rep_id)).run()
    assert not at.exception and not at.error
    expected_open, expected_won = expected_tiles(admin, owner_ids=[rep_id])
    assert metric(at, "Open pipeline") == expected_open != everyone
    assert metric(at, "Won this period") == expected_won
    assert "Owner is one of 1 people" in shown(at)


def test_drilling_into_a_bar_lists_the_deals_behind_it_with_links(loaded: SeedResult) -> None:
    at = dashboards(loaded, "admin")
    admin = actor_of(loaded, "admin")
    with unit_of_work(admin) as session:
        run = reports.run_standard(session, admin, "pipeline_by_stage")
    row = run.result.frame.row(0, named=True)
    chooser = at.selectbox(key="dash_std_pipeline_by_stage_drill")
    chooser.select(f"{row['pipeline']} · {row['stage']}").run()
    assert not at.exception and not at.error
    behind = next(d.value for d in at.dataframe if "deal_id" in d.value.columns)
    assert len(behind) == row["deals"]
    assert set(behind["stage"]) == {row["stage"]}
    assert set(behind["status"]) == {"open"}
    assert all(str(link).startswith("/deal?id=") for link in behind["deal_id"])
    assert f"{row['deals']} records" in shown(at)


@pytest.fixture
def files(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, bytes]]:
    """The files the page's download buttons serve, by file name."""
    served: dict[str, bytes] = {}
    original = MemoryMediaFileStorage.load_and_get_id

    def keep(self: Any, path_or_data: Any, mimetype: str, kind: Any, filename: str | None = None) -> str:
        if filename and isinstance(path_or_data, bytes):
            served[filename] = path_or_data
        return original(self, path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", keep)
    yield served


def test_export_buttons_serve_the_report_as_csv_xlsx_and_pdf(loaded: SeedResult, files: dict[str, bytes]) -> None:
    at = dashboards(loaded, "manager")
    labels = {b.label for b in at.get("download_button")}
    assert {"CSV", "XLSX", "PDF"} <= labels
    by_type = {name.rsplit(".", 1)[1]: content for name, content in files.items() if "pipeline-by-stage" in name}
    assert by_type["csv"].decode("utf-8-sig").startswith("Pipeline,Stage order,Stage,Deals,Amount")
    assert by_type["xlsx"][:2] == b"PK" and len(by_type["xlsx"]) > 1000
    assert by_type["pdf"][:5] == b"%PDF-" and len(by_type["pdf"]) > 1000


def test_a_manager_creates_a_dashboard_adds_and_removes_widgets(loaded: SeedResult) -> None:
    at = dashboards(loaded, "manager")
    manager = actor_of(loaded, "manager")
    at.text_input(key="dash_new_name").input("Team weekly")
    at.multiselect(key="dash_new_reports").select("win_rate_by_rep")
    next(b for b in at.button if b.label == "Create dashboard").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    with unit_of_work(manager) as session:
        board = next(d for d in analytics.list_dashboards(session, manager)[0] if d.name == "Team weekly")
        widgets = analytics.list_widgets(session, manager, board.id)
    assert [w.config for w in widgets] == [{"standardKey": "win_rate_by_rep"}]
    assert at.selectbox(key="dash_board").value == str(board.id)
    assert "Win rate by rep" in shown(at)

    at.selectbox(key="dash_add_source").select("standard:lost_reasons")
    next(b for b in at.button if b.label == "Add widget").click().run()
    assert not at.exception and not at.error
    with unit_of_work(manager) as session:
        widgets = analytics.list_widgets(session, manager, board.id)
    assert [w.config["standardKey"] for w in widgets] == ["win_rate_by_rep", "lost_reasons"]
    assert "Lost reasons" in shown(at)

    at.button(key=f"dash_remove_{widgets[0].id}").click().run()
    assert not at.exception and not at.error
    with unit_of_work(manager) as session:
        left = analytics.list_widgets(session, manager, board.id)
    assert [w.config["standardKey"] for w in left] == ["lost_reasons"]


def test_a_dashboard_without_a_name_is_refused_with_a_message(loaded: SeedResult) -> None:
    at = dashboards(loaded, "manager")
    manager = actor_of(loaded, "manager")
    with unit_of_work(manager) as session:
        before = analytics.list_dashboards(session, manager)[1]
    next(b for b in at.button if b.label == "Create dashboard").click().run()
    assert any("name" in e.value.lower() for e in at.error)
    with unit_of_work(manager) as session:
        assert analytics.list_dashboards(session, manager)[1] == before


def test_without_a_warehouse_the_page_says_so_and_load_now_builds_it(tenant: TenantWorld) -> None:
    at = open_page(sign_in(new_app(), tenant.slug, tenant.admin_email), "dashboards.py")
    assert not at.exception and not at.error
    assert "has not been loaded yet" in shown(at) and "within a few minutes" in shown(at)
    assert not at.metric
    next(b for b in at.button if b.label == "Load now").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert warehouse.current(tenant.tenant_id) is not None
    assert "Warehouse loaded" in shown(at)
    assert metric(at, "Open pipeline") == "$0"
    assert next(m.delta for m in at.metric if m.label == "Open pipeline") == "no change"  # not a green "+$0"

    # a new deal shows after the next load, not before: reads are cached per warehouse version
    with unit_of_work(tenant.admin) as session:
        deals.create(session, tenant.admin, DealCreate(name="Big one", amount=Decimal("25000")))
    at.run()
    assert metric(at, "Open pipeline") == "$0"
    pipeline.run(tenant.tenant_id)
    at.run()
    assert metric(at, "Open pipeline") == "$25k"
