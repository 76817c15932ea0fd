"""Report builder: the spec's validation messages, a preview from the warehouse, saving a custom report (read
back through core/analytics), starting from a standard report, running a saved one, and who may open it."""

from __future__ import annotations

from typing import Any

import pytest

from app.ui.pages import permitted
from core.actor import Actor
from core.analytics import service as analytics
from core.db import unit_of_work
from core.demo.service import SeedResult
from etl.reports import service as reports
from tests.ui.conftest import actor_of, as_role, open_page, shown


def builder(workspace: SeedResult, role: str) -> Any:
    at = open_page(as_role(workspace, role), "report_builder.py")
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    return at


def saved_names(actor: Actor) -> list[str]:
    with unit_of_work(actor) as session:
        return [r.name for r in analytics.list_reports(session, actor, limit=500)[0]]


def click(at: Any, label: str) -> Any:
    next(b for b in at.button if b.label == label).click().run()
    assert not at.exception, at.exception
    return at


def test_a_rep_cannot_open_the_builder(loaded: SeedResult) -> None:
    assert "report_builder.py" not in {p.file for p in permitted(actor_of(loaded, "rep"))}
    with pytest.raises(Exception):  # noqa: B017 - AppTest refuses a page that is not registered for the role
        open_page(as_role(loaded, "rep"), "report_builder.py")


def test_an_invalid_spec_is_explained_and_not_saved(loaded: SeedResult) -> None:
    at = builder(loaded, "manager")
    manager = actor_of(loaded, "manager")
    before = saved_names(manager)
    at.multiselect(key="rb_groups_deals").select("stage").run()
    at.selectbox(key="rb_agg_fn_0").select("sum").run()
    at.selectbox(key="rb_agg_field_deals_0").select("name").run()
    assert any("'name' cannot be aggregated with sum" in e.value for e in at.error)
    at.text_input(key="rb_name").input("Broken report")
    click(at, "Save report")
    assert any("aggregations[0]" in e.value and "cannot be aggregated" in e.value for e in at.error)
    assert saved_names(manager) == before

    at.selectbox(key="rb_agg_field_deals_0").select("amount")
    at.number_input(key="rb_nfilters").set_value(1).run()
    at.selectbox(key="rb_f_field_deals_0").select("amount")
    at.selectbox(key="rb_f_op_0").select("gt")
    at.text_input(key="rb_f_value_0").input("lots").run()
    assert any("filters[0].value" in e.value and "expected an amount" in e.value for e in at.error)


def test_a_valid_spec_previews_the_warehouse_numbers_and_is_saved(loaded: SeedResult) -> None:
    at = builder(loaded, "manager")
    manager = actor_of(loaded, "manager")
    at.multiselect(key="rb_groups_deals").select("status").run()
    at.number_input(key="rb_naggs").set_value(2).run()
    at.selectbox(key="rb_agg_fn_1").select("sum")
    at.selectbox(key="rb_agg_field_deals_1").select("amount")
    at.text_input(key="rb_agg_name_1").input("total").run()
    assert not at.error, [e.value for e in at.error]
    click(at, "Preview")
    assert not at.error, [e.value for e in at.error]
    spec = {
        "entity": "deals",
        "groupBy": [{"field": "status"}],
        "aggregations": [{"fn": "count"}, {"fn": "sum", "field": "amount", "name": "total"}],
    }
    with unit_of_work(manager) as session:
        expected = reports.run_ad_hoc(session, manager, spec).result.frame
    table = next(d.value for d in at.dataframe if "total" in d.value.columns)
    assert list(table["status"]) == list(expected["status"])
    assert [round(float(v), 2) for v in table["total"]] == [float(v) for v in expected["total"]]
    assert "Records of your team only" in shown(at)

    at.text_input(key="rb_name").input("Deals by status")
    at.checkbox(key="rb_public").check()
    click(at, "Save report")
    assert not at.error, [e.value for e in at.error]
    with unit_of_work(manager) as session:
        report = next(r for r in analytics.list_reports(session, manager, limit=500)[0] if r.name == "Deals by status")
        assert report.is_public and report.entity_type == "deals"
        assert report.spec["groupBy"] == [{"field": "status", "bucket": None, "name": None}]
        assert [a["fn"] for a in report.spec["aggregations"]] == ["count", "sum"]
    # the saved report opens in the library, run from the warehouse
    assert at.selectbox(key="rb_saved").value == str(report.id)
    assert any("total" in d.value.columns for d in at.dataframe)


def test_starting_from_a_standard_report_gives_its_numbers(loaded: SeedResult) -> None:
    at = builder(loaded, "admin")
    admin = actor_of(loaded, "admin")
    at.selectbox(key="rb_template").select("standard:win_rate_by_rep").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.selectbox(key="rb_chart").value == "bar"
    with unit_of_work(admin) as session:
        expected = reports.run_standard(session, admin, "win_rate_by_rep").result.frame
    table = next(d.value for d in at.dataframe if "win_rate" in d.value.columns)
    assert list(table["owner"]) == list(expected["owner"])
    assert list(table["won"]) == list(expected["won"])
    # a listing loads too: its columns, filters and sort
    at.selectbox(key="rb_template").select("standard:stale_deals").run()
    assert not at.exception and not at.error and not at.warning, [e.value for e in [*at.error, *at.warning]]
    assert at.radio(key="rb_mode").value == "listing"
    assert at.multiselect(key="rb_columns_deals").value[:3] == ["name", "owner", "stage"]
    assert at.text_input(key="rb_f_value_0").value == "true"
    assert at.selectbox(key="rb_sort").value == "days_in_stage"
