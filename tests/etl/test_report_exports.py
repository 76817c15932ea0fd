"""Report charts (etl/reports/charts.py) and exports (etl/reports/export.py) on a real in-memory DuckDB warehouse:
the files are read back with the csv module, openpyxl and pypdf."""

from __future__ import annotations

import csv
import io
import uuid
import zipfile
from datetime import date, datetime
from typing import Any

import duckdb
import openpyxl
import pypdf
import pytest

from etl import schema
from etl.reports import builder, charts, export, views
from etl.reports.standard import STANDARD_REPORTS

TODAY = date(2026, 3, 31)
STAGES = [("Prospecting", 1, False, False), ("Proposal", 2, False, False), ("Closed Won", 3, True, True)]
EVIL = '=HYPERLINK("http://evil.example","click")'


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    """600 deals: enough rows for a PDF table over several pages; one named like a spreadsheet formula."""
    con = duckdb.connect()
    for statement in schema.create_statements() + views.statements():
        con.execute(statement)
    pipeline = uuid.UUID(int=1)
    for i, (name, order, closed, won) in enumerate(STAGES):
        con.execute(
            "INSERT INTO dim_pipeline_stage (stage_id, pipeline_id, pipeline_name, stage_name, display_order,"
            " probability, is_closed, is_won) VALUES ($id, $p, 'Sales', $name, $order, 50, $closed, $won)",
            {"id": uuid.UUID(int=10 + i), "p": pipeline, "name": name, "order": order, "closed": closed, "won": won},
        )
    con.execute(
        "INSERT INTO dim_user (user_id, full_name, team_name) VALUES ($a, 'Zoë Ångström', 'North'),"
        " ($b, 'Bob Rep', 'South')",
        {"a": uuid.UUID(int=100), "b": uuid.UUID(int=101)},
    )
    con.execute(
        """
        INSERT INTO fact_deals (deal_id, name, pipeline_id, stage_id, owner_id, amount, probability, weighted_amount,
                                status, is_closed, is_won, actual_close_date, created_at, created_date, lead_source)
        SELECT uuid(), CASE WHEN i = 0 THEN $evil ELSE 'Deal ' || i END, $p,
               CASE WHEN i % 3 = 2 THEN $won WHEN i % 3 = 1 THEN $proposal ELSE $prospecting END,
               CASE WHEN i % 2 = 0 THEN $a ELSE $b END,
               CAST(1000 + i * 10.25 AS DECIMAL(18,2)), 50, CAST((1000 + i * 10.25) / 2 AS DECIMAL(18,2)),
               CASE WHEN i % 3 = 2 THEN 'won' ELSE 'open' END, i % 3 = 2, i % 3 = 2,
               CASE WHEN i % 3 = 2 THEN DATE '2025-10-01' + CAST(i % 180 AS INTEGER) END,
               TIMESTAMPTZ '2025-06-01 09:00:00+00' + to_days(CAST(i % 200 AS INTEGER)),
               DATE '2025-06-01' + CAST(i % 200 AS INTEGER),
               CASE WHEN i % 4 = 0 THEN 'Website' ELSE 'Referral' END
        FROM range(600) r(i)
        """,
        {
            "evil": EVIL,
            "p": pipeline,
            "prospecting": uuid.UUID(int=10),
            "proposal": uuid.UUID(int=11),
            "won": uuid.UUID(int=12),
            "a": uuid.UUID(int=100),
            "b": uuid.UUID(int=101),
        },
    )
    views.refresh(con)  # what the loader derives after a load: activity counts, the funnel
    return con


def result_of(con: duckdb.DuckDBPyConnection, spec: Any) -> builder.ReportResult:
    return builder.run(con, spec, today=TODAY, tz="UTC")


LISTING = {
    "entity": "deals",
    "columns": ["name", "owner", "stage", "amount", "is_won", "created_date", "created_at", "probability"],
    "filters": [{"field": "amount", "op": "gte", "value": 1000}, {"field": "created_date", "value": "last_year"}],
    "sort": [{"field": "amount"}],
    "limit": 10_000,
}
BY_OWNER = {
    "entity": "deals",
    "groupBy": [{"field": "owner"}],
    "aggregations": [
        {"fn": "count", "name": "deals", "label": "Deals"},
        {"fn": "sum", "field": "amount", "name": "amount", "label": "Amount"},
        {"fn": "avg", "field": "is_won", "name": "win_rate", "label": "Win rate"},
    ],
    "chart": {"type": "bar", "x": "owner", "y": ["amount"]},
}


# Charts ------------------------------------------------------------------------------------------------------


def _marks(spec: dict[str, Any]) -> list[Any]:
    if "layer" in spec:
        return [layer["mark"]["type"] if isinstance(layer["mark"], dict) else layer["mark"] for layer in spec["layer"]]
    mark = spec["mark"]
    return [mark["type"] if isinstance(mark, dict) else mark]


@pytest.mark.parametrize(
    ("key", "marks"),
    [
        ("pipeline_by_stage", ["bar"]),
        ("revenue_by_month", ["line"]),
        ("lost_reasons", ["arc"]),
        ("funnel_conversion", ["bar", "text"]),
        ("average_deal_size", ["text", "text"]),
        ("win_rate_by_rep", ["bar"]),
    ],
)
def test_each_chart_type_is_an_altair_chart_that_renders_offline(
    con: duckdb.DuckDBPyConnection, key: str, marks: list[str]
) -> None:
    result = result_of(con, STANDARD_REPORTS[key].spec)
    figure = charts.chart(result)
    assert figure is not None
    spec = figure.to_dict()
    assert _marks(spec) == marks
    png = charts.to_png(result, scale=1)
    assert png is not None and png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 1000


def test_chart_data_and_titles_come_from_the_result(con: duckdb.DuckDBPyConnection) -> None:
    result = result_of(con, BY_OWNER)
    spec = charts.chart(result).to_dict()  # type: ignore[union-attr]
    data = spec["data"]["values"]
    assert data == [
        {"owner": "Bob Rep", "deals": 300, "amount": pytest.approx(300 * 1000 + 10.25 * 300 * 300), "win_rate": 1 / 3},
        {"owner": "Zoë Ångström", "deals": 300, "amount": pytest.approx(300 * 1000 + 10.25 * 299 * 300),
         "win_rate": 1 / 3},
    ]  # fmt: skip
    assert spec["encoding"]["x"]["title"] == "Owner" and spec["encoding"]["y"]["title"] == "Amount"
    several = result_of(con, {**BY_OWNER, "chart": {"type": "bar", "x": "owner", "y": ["deals", "amount"]}})
    long = charts.chart(several).to_dict()  # type: ignore[union-attr]
    assert len(long["data"]["values"]) == 4 and long["encoding"]["xOffset"]["field"] == charts.MEASURE
    assert charts.chart(result_of(con, LISTING)) is None  # a table
    assert charts.to_png(result_of(con, LISTING)) is None


# CSV -----------------------------------------------------------------------------------------------------------


def test_csv_has_a_bom_labels_typed_text_and_no_formulas(con: duckdb.DuckDBPyConnection) -> None:
    result = result_of(con, LISTING)
    data = export.to_csv(result)
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == ["Deal", "Owner", "Stage", "Amount", "Won", "Created", "Created at", "Probability (%)"]
    assert len(rows) == 1 + result.frame.height == 601
    first = rows[1]
    assert first == ["'" + EVIL, "Zoë Ångström", "Prospecting", "1000.00", "false", "2025-06-01",
                     "2025-06-01T09:00:00", "50"]  # fmt: skip
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)


# XLSX ----------------------------------------------------------------------------------------------------------


def test_xlsx_has_typed_cells_an_about_sheet_and_a_native_chart(con: duckdb.DuckDBPyConnection) -> None:
    result = result_of(con, LISTING)
    data = export.to_xlsx(result, title="All deals", description="Every deal of last year")
    book = openpyxl.load_workbook(io.BytesIO(data))
    assert book.sheetnames == ["Report", "About"]
    sheet = book["Report"]
    assert [c.value for c in sheet[1]] == ["Deal", "Owner", "Stage", "Amount", "Won", "Created", "Created at",
                                           "Probability (%)"]  # fmt: skip
    name, owner, _, amount, won, created, created_at, probability = (c for c in sheet[2])
    assert name.value == "'" + EVIL and name.data_type == "s"
    assert owner.value == "Zoë Ångström"
    assert amount.value == 1000 and amount.number_format == "#,##0.00"
    assert won.value is False
    assert created.value == datetime(2025, 6, 1) and created.is_date
    assert created_at.value == datetime(2025, 6, 1, 9, 0)
    assert probability.value == 50 and isinstance(probability.value, int | float)
    assert sheet.max_row == 601
    about = {row[0].value: row[1].value for row in book["About"].iter_rows()}
    assert about["Report"] == "All deals" and about["Description"] == "Every deal of last year"
    assert about["Filters"] == "Amount is at least 1000; Created: last year (2025-01-01 to 2025-12-31)"
    assert about["Rows"] == "600"
    assert not [n for n in zipfile.ZipFile(io.BytesIO(data)).namelist() if n.startswith("xl/charts/")]  # a table

    grouped = export.to_xlsx(result_of(con, BY_OWNER), title="By owner")
    rows = list(openpyxl.load_workbook(io.BytesIO(grouped))["Report"].iter_rows(values_only=True))
    assert rows[0] == ("Owner", "Deals", "Amount", "Win rate")
    assert rows[1][:2] == ("Bob Rep", 300) and rows[1][3] == pytest.approx(1 / 3)
    archive = zipfile.ZipFile(io.BytesIO(grouped))
    chart_xml = archive.read("xl/charts/chart1.xml").decode()
    assert "<c:barChart>" in chart_xml and "Report!$C$2:$C$3" in chart_xml and "Report!$A$2:$A$3" in chart_xml


def test_xlsx_chart_kinds_follow_the_spec(con: duckdb.DuckDBPyConnection) -> None:
    kinds = (
        ("revenue_by_month", "<c:lineChart>"),
        ("funnel_conversion", '<c:barDir val="bar"/>'),
        ("lost_reasons", None),
    )
    for key, tag in kinds:
        data = export.to_xlsx(result_of(con, STANDARD_REPORTS[key].spec), title=key)
        names = zipfile.ZipFile(io.BytesIO(data)).namelist()
        if tag:
            assert tag in zipfile.ZipFile(io.BytesIO(data)).read("xl/charts/chart1.xml").decode()
        else:  # no lost deals here: no rows, no chart
            assert "xl/charts/chart1.xml" not in names
    pie = export.to_xlsx(result_of(con, {**BY_OWNER, "chart": {"type": "pie", "y": ["deals"]}}), title="Pie")
    assert "<c:pieChart>" in zipfile.ZipFile(io.BytesIO(pie)).read("xl/charts/chart1.xml").decode()


# PDF -----------------------------------------------------------------------------------------------------------


def test_pdf_has_title_filters_chart_and_figures(con: duckdb.DuckDBPyConnection) -> None:
    result = result_of(con, {**BY_OWNER, "filters": [{"field": "lead_source", "op": "ne", "value": "Website"}]})
    data = export.to_pdf(result, title="Pipeline by owner", description="Open and won deals")
    reader = pypdf.PdfReader(io.BytesIO(data))
    assert len(reader.pages) == 1 and reader.metadata.title == "Pipeline by owner"
    text = reader.pages[0].extract_text()
    assert "Pipeline by owner" in text and "Open and won deals" in text
    assert "Lead source is not Website" in text and "Generated" in text
    amounts = {r["owner"]: r["amount"] for r in result.frame.to_dicts()}
    for owner, amount in amounts.items():
        assert f"{amount:,.2f}" in text, owner
    assert "33.3%" in text and "\n150\n" in text and "\n300\n" in text  # win rate and deals per owner
    assert len(reader.pages[0].images) == 1  # the chart


def test_pdf_of_many_rows_paginates_with_the_header_on_each_page(con: duckdb.DuckDBPyConnection) -> None:
    result = result_of(con, LISTING)
    reader = pypdf.PdfReader(io.BytesIO(export.to_pdf(result, title="All deals")))
    assert len(reader.pages) > 5
    texts = [page.extract_text() for page in reader.pages]
    assert all("Amount" in t and "Stage" in t for t in texts)
    assert "Deal 599" in texts[-1] and "7,139.75" in texts[-1]  # the last row: 1000 + 599 x 10.25
    assert "'=HYPERLINK" not in texts[0]  # not a spreadsheet: shown as it is, cut to fit
    assert "All deals" in texts[0] and "Rows: 600" in texts[0]


def test_pdf_and_files_of_an_empty_result(con: duckdb.DuckDBPyConnection) -> None:
    empty = result_of(con, {**BY_OWNER, "filters": [{"field": "amount", "op": "lt", "value": 0}]})
    text = pypdf.PdfReader(io.BytesIO(export.to_pdf(empty, title="Nothing"))).pages[0].extract_text()
    assert "No rows matched." in text
    assert export.to_csv(empty).decode("utf-8-sig").splitlines() == ["Owner,Deals,Amount,Win rate"]
    assert openpyxl.load_workbook(io.BytesIO(export.to_xlsx(empty, title="Nothing")))["Report"].max_row == 1
