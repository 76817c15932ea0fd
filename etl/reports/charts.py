"""The chart of a report result, as an Altair (Vega-Lite) chart: the one the Streamlit pages show and the one
PDF exports render to PNG offline (vl-convert, no browser, no network).

One function per chart type of the spec (bar, line, pie, funnel, metric); a table has no chart (None). The
data are embedded as JSON values (money as numbers, dates as ISO strings), rows in the report's order; axis
titles are the columns' labels, rates are shown as percentages.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

import altair as alt
import vl_convert

from core.analytics.spec import OutputColumn
from etl.reports.builder import ReportResult

WIDTH = 640
HEIGHT = 320
MEASURE = "__measure"  # long-format columns when several y columns share one chart
VALUE = "__value"


def json_value(value: Any) -> Any:
    """A cell as Vega-Lite data: numbers as floats, dates and times as ISO strings."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _values(result: ReportResult) -> list[dict[str, Any]]:
    return [{k: json_value(v) for k, v in row.items()} for row in result.frame.iter_rows(named=True)]


Kind = Literal["quantitative", "ordinal", "temporal", "nominal"]


def _kind(column: OutputColumn) -> Kind:
    if column.type in ("date", "timestamp"):
        return "temporal"
    if column.type in ("number", "money", "rate"):
        return "quantitative"
    if column.type == "integer":
        return "ordinal"
    return "nominal"


def _number_format(column: OutputColumn | None) -> str:
    if column is None:
        return ",.2f"
    return {"rate": ".1%", "money": ",.0f", "integer": ",d"}.get(column.type, ",.2f")


def _tooltip(columns: list[OutputColumn]) -> list[alt.Tooltip]:
    out = []
    for c in columns:
        kind: Kind = "quantitative" if c.type in ("number", "money", "rate", "integer") else _kind(c)
        fmt = _number_format(c) if kind == "quantitative" else alt.Undefined
        out.append(alt.Tooltip(c.name, type=kind, title=c.label, format=fmt))
    return out


def chart(result: ReportResult, *, width: int = WIDTH, height: int = HEIGHT) -> alt.TopLevelMixin | None:
    """The report's chart by its spec's chart type; None for a table (or when there is nothing to plot)."""
    spec = result.spec.chart
    if spec.type == "table" or not spec.y:
        return None
    columns = {c.name: c for c in result.columns}
    if spec.type == "metric":
        return _metric(result, columns[spec.y[0]], width=width)
    if spec.x is None:
        return None
    x, ys = columns[spec.x], [columns[name] for name in spec.y]
    series = columns[spec.series] if spec.series else None
    values = _values(result)
    if spec.type == "pie":
        return _pie(values, x, ys[0], list(columns.values()), width=width, height=height)
    if spec.type == "funnel":
        return _funnel(values, x, ys[0], list(columns.values()), width=width, height=height)
    return _bar_or_line(spec.type, values, x, ys, series, list(columns.values()), width=width, height=height)


def _bar_or_line(
    kind: str,
    values: list[dict[str, Any]],
    x: OutputColumn,
    ys: list[OutputColumn],
    series: OutputColumn | None,
    columns: list[OutputColumn],
    *,
    width: int,
    height: int,
) -> alt.Chart:
    x_encoding = alt.X(x.name, type=_kind(x), title=x.label, sort=None)
    tooltip: list[alt.Tooltip] = _tooltip(columns)
    color: Any = alt.Undefined
    if len(ys) > 1:  # long format: one row per x and measure, the measure's label as the colour
        values = [{**row, MEASURE: y.label, VALUE: row[y.name]} for row in values for y in ys]
        y_encoding = alt.Y(VALUE, type="quantitative", title=None, axis=alt.Axis(format=_number_format(ys[0])))
        color = alt.Color(MEASURE, type="nominal", title=None, sort=[y.label for y in ys])
        tooltip = [*tooltip, alt.Tooltip(MEASURE, type="nominal", title="Measure")]
    else:
        y = ys[0]
        y_encoding = alt.Y(y.name, type="quantitative", title=y.label, axis=alt.Axis(format=_number_format(y)))
        if series is not None:
            color = alt.Color(series.name, type="nominal", title=series.label)
    base = alt.Chart(alt.Data(values=values)).properties(width=width, height=height)
    if kind == "line":
        return base.mark_line(point=True).encode(x=x_encoding, y=y_encoding, color=color, tooltip=tooltip)
    offset = (
        alt.XOffset(MEASURE, type="nominal")
        if len(ys) > 1
        else (alt.XOffset(series.name, type="nominal") if series else alt.Undefined)
    )
    return base.mark_bar().encode(x=x_encoding, y=y_encoding, color=color, xOffset=offset, tooltip=tooltip)


def _pie(
    values: list[dict[str, Any]],
    x: OutputColumn,
    y: OutputColumn,
    columns: list[OutputColumn],
    *,
    width: int,
    height: int,
) -> alt.Chart:
    size = min(width, height)
    return (
        alt.Chart(alt.Data(values=values))
        .mark_arc(innerRadius=size // 6)
        .encode(
            theta=alt.Theta(y.name, type="quantitative", title=y.label, stack=True),
            color=alt.Color(x.name, type="nominal", title=x.label, sort=None),
            order=alt.Order(y.name, type="quantitative", sort="descending"),
            tooltip=_tooltip(columns),
        )
        .properties(width=size, height=size)
    )


def _funnel(
    values: list[dict[str, Any]],
    x: OutputColumn,
    y: OutputColumn,
    columns: list[OutputColumn],
    *,
    width: int,
    height: int,
) -> alt.TopLevelMixin:
    """Horizontal bars in the report's order (a pipeline's stages top down), each labelled with its value."""
    base = alt.Chart(alt.Data(values=values)).encode(
        y=alt.Y(x.name, type="nominal", title=x.label, sort=None),
        x=alt.X(y.name, type="quantitative", title=y.label, axis=alt.Axis(format=_number_format(y))),
        tooltip=_tooltip(columns),
    )
    bars = base.mark_bar()
    labels = base.mark_text(align="left", dx=4).encode(
        text=alt.Text(y.name, type="quantitative", format=_number_format(y))
    )
    return alt.layer(bars, labels).properties(width=width, height=height)


def _metric(result: ReportResult, y: OutputColumn, *, width: int) -> alt.TopLevelMixin:
    """One big number (the first row's value) under its label."""
    value = json_value(result.frame[y.name][0]) if result.frame.height else None
    data = alt.Data(values=[{"value": value, "label": y.label}])
    base = alt.Chart(data).properties(width=min(width, 320), height=120)
    number = base.mark_text(fontSize=44, fontWeight="bold", dy=-10).encode(
        text=alt.Text("value", type="quantitative", format=_number_format(y))
    )
    label = base.mark_text(fontSize=14, dy=36, color="#555").encode(text=alt.Text("label", type="nominal"))
    return alt.layer(number, label).configure_view(strokeWidth=0)


def to_png(result: ReportResult, *, scale: float = 2.0, width: int = WIDTH, height: int = HEIGHT) -> bytes | None:
    """The chart as PNG bytes, rendered offline by vl-convert; None when the report has no chart."""
    figure = chart(result, width=width, height=height)
    if figure is None:
        return None
    return bytes(vl_convert.vegalite_to_png(vl_spec=figure.to_dict(), scale=scale))
