"""A report result as a file: CSV, XLSX (typed cells and a native Excel chart) or PDF (title, filters, the chart,
the table). Each returns the file's bytes (a report holds at most `MAX_LIMIT` rows, so memory stays small).

As in record exports (core/records/export.py): CSV is UTF-8 with a BOM (Excel then reads it as UTF-8); text
that a spreadsheet would take for a formula (= + - @, tab, CR first) gets a leading apostrophe in CSV and XLSX
cells; XLSX numbers are number cells and dates are date cells. Headers are the columns' labels.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape

import xlsxwriter
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Image, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from core.analytics.spec import OutputColumn, describe_filters
from core.records.export import XLSX_MAX_CELL, neutralise
from etl.reports import charts
from etl.reports.builder import ReportResult

MEDIA_TYPES: dict[str, str] = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}
PDF_CELL_CHARS = 60  # longer text is cut with an ellipsis so that the table fits the page
PDF_ROWS_PER_TABLE = 200  # the table goes in blocks: reportlab splits small tables across pages quickly
_BOM = "\ufeff"
_XLSX_CHARTS = {"bar": "column", "line": "line", "pie": "pie", "funnel": "bar"}


def _rows(result: ReportResult) -> list[list[Any]]:
    return [list(row) for row in result.frame.iter_rows()]


def _header(result: ReportResult) -> list[str]:
    return [c.label for c in result.columns]


def _about(result: ReportResult, title: str, description: str | None) -> list[tuple[str, str]]:
    """The facts a reader of an exported file needs: what, filtered how, when, and whether rows were cut."""
    filters = describe_filters(result.spec, result.today)
    shown = f"{result.frame.height:,}"
    if result.truncated:
        shown += f" (the first {result.spec.limit:,}: more rows matched)"
    return [
        ("Report", title),
        *([("Description", description)] if description else []),
        ("Filters", "; ".join(filters) if filters else "none"),
        ("Generated", f"{result.generated_at:%Y-%m-%d %H:%M} UTC (dates in {result.tz}, today {result.today})"),
        ("Rows", shown),
    ]


# CSV -----------------------------------------------------------------------------------------------------------


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, str):
        return neutralise(value)
    return str(value)


def to_csv(result: ReportResult) -> bytes:
    """UTF-8 with a BOM, RFC 4180 quoting; a header of labels, then one line per row."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([neutralise(h) for h in _header(result)])
    for row in _rows(result):
        writer.writerow([_csv_cell(v) for v in row])
    return (_BOM + out.getvalue()).encode()


# XLSX ----------------------------------------------------------------------------------------------------------

_XLSX_FORMATS = {
    "money": "#,##0.00",
    "rate": "0.0%",
    "number": "#,##0.00",
    "integer": "0",
    "date": "yyyy-mm-dd",
    "timestamp": "yyyy-mm-dd hh:mm",
}


def to_xlsx(result: ReportResult, *, title: str, description: str | None = None) -> bytes:
    """Sheet "Report": the table with typed cells (a filter on the header, the header frozen) and, for bar, line,
    pie and funnel charts without a series, a native Excel chart beside it; sheet "About": title, filters,
    when it was generated."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(
        buffer, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}
    )
    bold = book.add_format({"bold": True, "bg_color": "#EEEEEE", "bottom": 1})
    formats = {kind: book.add_format({"num_format": fmt}) for kind, fmt in _XLSX_FORMATS.items()}
    sheet = book.add_worksheet("Report")
    rows = _rows(result)
    widths = [len(label) for label in _header(result)]
    for col, label in enumerate(_header(result)):
        sheet.write_string(0, col, neutralise(label), bold)
    for r, row in enumerate(rows, start=1):
        for col, (value, column) in enumerate(zip(row, result.columns, strict=True)):
            _xlsx_cell(sheet, r, col, value, column, formats)
            widths[col] = max(widths[col], min(len(_csv_cell(value)), 60))
    for col, width in enumerate(widths):
        sheet.set_column(col, col, width + 2)
    sheet.freeze_panes(1, 0)
    if result.columns:
        sheet.autofilter(0, 0, max(len(rows), 1), len(result.columns) - 1)
    _xlsx_chart(book, sheet, result, len(rows), title)

    about = book.add_worksheet("About")
    about.set_column(0, 0, 14)
    about.set_column(1, 1, 100)
    for r, (key, value) in enumerate(_about(result, title, description)):
        about.write_string(r, 0, key, bold)
        about.write_string(r, 1, neutralise(value)[:XLSX_MAX_CELL])
    book.close()
    return buffer.getvalue()


def _xlsx_cell(sheet: Any, r: int, col: int, value: Any, column: OutputColumn, formats: dict[str, Any]) -> None:
    if value is None:
        sheet.write_blank(r, col, None)
    elif isinstance(value, bool):
        sheet.write_boolean(r, col, value)
    elif isinstance(value, int | float | Decimal):
        sheet.write_number(r, col, float(value), formats.get(column.type))
    elif isinstance(value, datetime | date):
        if isinstance(value, datetime) and value.tzinfo is not None:
            value = value.replace(tzinfo=None)
        sheet.write_datetime(r, col, value, formats["timestamp" if isinstance(value, datetime) else "date"])
    else:
        sheet.write_string(r, col, neutralise(str(value))[:XLSX_MAX_CELL])


def _xlsx_chart(book: Any, sheet: Any, result: ReportResult, n: int, title: str) -> None:
    spec = result.spec.chart
    kind = _XLSX_CHARTS.get(spec.type)
    if kind is None or spec.x is None or not spec.y or spec.series is not None or n == 0:
        return
    names = [c.name for c in result.columns]
    x = names.index(spec.x)
    figure = book.add_chart({"type": kind})
    for name in spec.y[: 1 if spec.type in ("pie", "funnel") else None]:
        col = names.index(name)
        figure.add_series(
            {
                "name": ["Report", 0, col],
                "categories": ["Report", 1, x, n, x],
                "values": ["Report", 1, col, n, col],
                **({"marker": {"type": "circle"}} if kind == "line" else {}),
            }
        )
    figure.set_title({"name": title})
    if spec.type == "funnel":
        figure.set_y_axis({"reverse": True})  # the first stage on top
        figure.set_legend({"none": True})
    figure.set_size({"width": 720, "height": 400})
    sheet.insert_chart(1, len(names) + 1, figure)


# PDF -----------------------------------------------------------------------------------------------------------


def format_cell(value: Any, column: OutputColumn) -> str:
    """A cell as people read it: amounts with thousands separators, rates as percentages, dates in ISO."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if column.type == "rate":
        return f"{float(value):.1%}"
    if column.type == "money":
        return f"{Decimal(str(value)):,.2f}"
    if column.type == "number":
        return f"{float(value):,.2f}"
    if column.type == "integer" and isinstance(value, int | float | Decimal):
        return f"{int(value):,}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    text = str(value)
    return text if len(text) <= PDF_CELL_CHARS else text[: PDF_CELL_CHARS - 1] + "…"


def to_pdf(result: ReportResult, *, title: str, description: str | None = None) -> bytes:
    """Title, description, filters and when it was generated; the chart (a PNG rendered offline from the same
    Vega-Lite spec the pages show); then the table, its header repeated on every page."""
    wide = len(result.columns) > 6
    pagesize = landscape(A4) if wide else A4
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=pagesize,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
        title=title,
        author="ClientForge",
    )
    styles = getSampleStyleSheet()
    story: list[Any] = [Paragraph(escape(title), styles["Title"])]
    for key, value in _about(result, title, description)[1:]:
        story.append(Paragraph(f"<b>{escape(key)}:</b> {escape(value)}", styles["Normal"]))
    story.append(Spacer(1, 6 * mm))

    png = charts.to_png(result, scale=2)
    if png is not None:
        image = Image(io.BytesIO(png))
        ratio = min(doc.width / image.imageWidth, (doc.height * 0.55) / image.imageHeight)
        image.drawWidth, image.drawHeight = image.imageWidth * ratio, image.imageHeight * ratio
        story += [image, Spacer(1, 6 * mm)]

    header = _header(result)
    body = [[format_cell(v, c) for v, c in zip(row, result.columns, strict=True)] for row in _rows(result)]
    numeric = [i for i, c in enumerate(result.columns) if c.type in ("number", "money", "integer", "rate")]
    style = TableStyle(
        [
            ("FONT", (0, 0), (-1, -1), "Helvetica", 8),
            ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 8),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#EEEEEE")),
            ("LINEBELOW", (0, 0), (-1, 0), 0.5, colors.grey),
            ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#F7F7F7")]),
            *[("ALIGN", (i, 0), (i, -1), "RIGHT") for i in numeric],
        ]
    )
    widths = [doc.width / max(len(header), 1)] * len(header)
    if not body:
        story.append(Paragraph("No rows matched.", styles["Italic"]))
    for start in range(0, len(body), PDF_ROWS_PER_TABLE):
        table = Table([header, *body[start : start + PDF_ROWS_PER_TABLE]], colWidths=widths, repeatRows=1)
        table.setStyle(style)
        story.append(table)
    doc.build(story)
    return buffer.getvalue()
