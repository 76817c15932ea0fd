"""Report builder: a form over the report spec (entity, columns or groups and aggregations, filters, sort, limit,
chart) checked as you type by the spec's own validation, a preview from the warehouse, saving as a custom
report; and the saved reports, run, drilled into, exported or opened in the builder."""

import json
from typing import Any
from uuid import UUID

import streamlit as st

from app.ui import analytics as view
from app.ui import widgets as ui
from app.ui.calls import attempt, load, problem_text
from core.analytics import service as analytics
from core.analytics.schemas import ReportCreate
from core.analytics.spec import ENTITIES, MAX_LIMIT, TEMPORAL, ReportSpec, parse_spec
from core.errors import ValidationFailed
from etl.reports import service as reports
from etl.reports import standard

FUNCTIONS = ("count", "count_distinct", "sum", "avg", "median", "min", "max")
OPS = ("eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "between", "contains", "is_null", "not_null")
OP_WORDS = {
    "eq": "is",
    "ne": "is not",
    "in": "is one of",
    "not_in": "is none of",
    "gt": "above / after",
    "gte": "at least / on or after",
    "lt": "below / before",
    "lte": "at most / on or before",
    "between": "between",
    "contains": "contains",
    "is_null": "is empty",
    "not_null": "is not empty",
}
CHARTS = ("table", "bar", "line", "pie", "funnel", "metric")
BUCKETS = ("day", "week", "month", "quarter", "year")


def word(value: str) -> str:
    """A spec keyword as the choosers show it: "count_distinct" -> "Count distinct", "avg" -> "Average"."""
    return {"avg": "Average"}.get(value, value.replace("_", " ").capitalize())


MAX_ROWS = 10

actor = ui.page("report_builder.py", "Build a report over the warehouse, preview it, save it for later.")


def _apply(data: dict[str, Any]) -> None:
    """Put a spec into the builder's widgets (a callback: runs before they are drawn)."""
    spec = parse_spec(data)
    entity = spec.entity
    state = st.session_state
    # groups have no name field here: their columns take the default names, and what pointed at them follows
    renamed = {g.output(): (f"{g.field}_{g.bucket}" if g.bucket else g.field) for g in spec.group_by}

    def new(name: str | None) -> str | None:
        return renamed.get(name, name) if name else name

    state["rb_template"] = None
    state["rb_entity"] = entity
    state["rb_mode"] = "listing" if spec.is_listing else "summary"
    state[f"rb_columns_{entity}"] = list(spec.columns)
    state[f"rb_groups_{entity}"] = [g.field for g in spec.group_by]
    state["rb_bucket"] = next((g.bucket for g in spec.group_by if g.bucket), "month")
    state["rb_naggs"] = max(1, len(spec.aggregations))
    for i, agg in enumerate(spec.aggregations):
        state[f"rb_agg_fn_{i}"] = agg.fn
        state[f"rb_agg_field_{entity}_{i}"] = agg.field
        state[f"rb_agg_label_{i}"] = agg.label or ""
        state[f"rb_agg_name_{i}"] = agg.name or ""
    state["rb_nfilters"] = len(spec.filters)
    for i, flt in enumerate(spec.filters):
        state[f"rb_f_field_{entity}_{i}"] = flt.field
        state[f"rb_f_op_{i}"] = flt.op
        value = flt.value
        text = ", ".join(str(v) for v in value) if isinstance(value, list) else ("" if value is None else str(value))
        state[f"rb_f_value_{i}"] = text.lower() if isinstance(value, bool) else text
    state["rb_sort"] = new(spec.sort[0].field) if spec.sort else None
    state["rb_dir"] = spec.sort[0].direction if spec.sort else "asc"
    state["rb_limit"] = spec.limit
    state["rb_chart"] = spec.chart.type
    state["rb_x"] = new(spec.chart.x)
    state["rb_y"] = [new(y) for y in spec.chart.y]
    state["rb_preview"] = True


def _value(kind: str, op: str, text: str) -> Any:
    """A filter's typed-in value as the spec takes it: lists split on commas, yes/no as booleans; the spec's
    validation says what is wrong with anything else."""
    if op in ("is_null", "not_null"):
        return None
    parts = [p.strip() for p in text.split(",")] if op in ("in", "not_in", "between") else [text.strip()]
    if kind == "boolean":
        words = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
        parts = [words.get(p.lower(), p) for p in parts]
    if op == "between" and len(parts) == 1:
        return parts[0]  # a period such as this_quarter
    return parts if op in ("in", "not_in", "between") else parts[0]


STANDARD = {key: report.name for key, report in standard.STANDARD_REPORTS.items()}
saved = load(actor, lambda s, a: reports.list_reports(s, a, kind="saved", limit=200)[0])
saved_names = {str(r["id"]): r["name"] for r in saved}

build, library = st.tabs(["Build", "Saved reports"])

with build:
    templates = {f"standard:{k}": f"{name} (standard)" for k, name in STANDARD.items()} | {
        f"saved:{rid}": f"{name} (saved)" for rid, name in saved_names.items()
    }

    def _start_from() -> None:
        choice = st.session_state.get("rb_template")
        if not choice:
            return
        kind, ref = choice.split(":", 1)
        if kind == "standard":
            _apply(standard.get(ref).spec.model_dump(mode="json", by_alias=True))
        else:
            _apply(load(actor, lambda s, a: analytics.get_report(s, a, UUID(ref)).spec))

    st.selectbox(
        "Start from",
        [None, *templates],
        format_func=lambda t: "A blank report" if t is None else templates[t],
        key="rb_template",
        on_change=_start_from,
    )
    top = st.columns([2, 3])
    entity = top[0].selectbox("Entity", list(ENTITIES), format_func=lambda e: ENTITIES[e].label, key="rb_entity")
    mode = top[1].radio(
        "Kind",
        ["summary", "listing"],
        format_func={"summary": "Summary: group and aggregate", "listing": "Listing: one row per record"}.get,
        horizontal=True,
        key="rb_mode",
    )
    fields = ENTITIES[entity].fields
    # defaults live in the session state (not in the widgets), so that a loaded spec may set them
    for state_key, default in (
        (f"rb_columns_{entity}", list(ENTITIES[entity].default_columns)),
        ("rb_bucket", "month"),
        ("rb_naggs", 1),
        ("rb_nfilters", 0),
        ("rb_limit", 1000),
    ):
        st.session_state.setdefault(state_key, default)

    def label(name: str | None) -> str:
        return "—" if name is None else f"{fields[name].label} ({name})"

    draft: dict[str, Any] = {"entity": entity}
    outputs: list[str] = []
    if mode == "listing":
        columns = st.multiselect(
            "Columns",
            list(fields),
            format_func=label,
            key=f"rb_columns_{entity}",
        )
        draft["columns"] = columns
        outputs = list(columns)
    else:
        cols = st.columns([3, 1])
        groups = cols[0].multiselect(
            "Group by", [f for f in fields if fields[f].groupable], format_func=label, key=f"rb_groups_{entity}"
        )
        bucket = cols[1].selectbox("Dates by", BUCKETS, format_func=word, key="rb_bucket")
        draft["groupBy"] = [{"field": g, "bucket": bucket if fields[g].type in TEMPORAL else None} for g in groups]
        count = st.columns([1, 4])[0].number_input("Aggregations", min_value=1, max_value=MAX_ROWS, key="rb_naggs")
        aggregations = []
        for i in range(int(count)):
            row = st.columns([2, 3, 2, 3])
            shown = "visible" if i == 0 else "collapsed"  # the first row names the columns
            fn = row[0].selectbox("Function", FUNCTIONS, format_func=word, key=f"rb_agg_fn_{i}", label_visibility=shown)
            of = row[1].selectbox(
                "Of",
                [None, *fields],
                format_func=lambda f: "rows" if f is None else label(f),
                key=f"rb_agg_field_{entity}_{i}",
                label_visibility=shown,
            )
            out = row[2].text_input(
                "Column name", key=f"rb_agg_name_{i}", placeholder="optional, e.g. total_amount", label_visibility=shown
            )
            text = row[3].text_input("Label", key=f"rb_agg_label_{i}", placeholder="optional", label_visibility=shown)
            aggregations.append({"fn": fn, "field": of, "name": out.strip() or None, "label": text or None})
        draft["aggregations"] = aggregations
    if mode == "summary":
        try:  # output names as the spec derives them (for the sort and chart choices)
            outputs = [c.name for c in parse_spec({**draft, "chart": {"type": "table"}}).output_columns()]
        except ValidationFailed:
            outputs = [g["field"] for g in draft["groupBy"]] + [
                a["name"] or (f"{a['fn']}_{a['field']}" if a["field"] else a["fn"]) for a in draft["aggregations"]
            ]

    count = st.columns([1, 4])[0].number_input("Filters", min_value=0, max_value=MAX_ROWS, key="rb_nfilters")
    filters = []
    filterable = [f for f in fields if fields[f].filterable]
    for i in range(int(count)):
        row = st.columns([3, 2, 3])
        shown = "visible" if i == 0 else "collapsed"  # the first row names the columns
        name = row[0].selectbox(
            "Field", filterable, format_func=label, key=f"rb_f_field_{entity}_{i}", label_visibility=shown
        )
        op = row[1].selectbox("Operator", OPS, format_func=OP_WORDS.get, key=f"rb_f_op_{i}", label_visibility=shown)
        text = row[2].text_input(
            "Value",
            key=f"rb_f_value_{i}",
            placeholder="lists: a, b; dates: 2026-01-31 or this_quarter",
            label_visibility=shown,
        )
        filters.append({"field": name, "op": op, "value": _value(fields[name].type, op, text)})
    draft["filters"] = filters

    row = st.columns([3, 2, 2])
    sort_options = list(dict.fromkeys([*outputs, *(fields if mode == "listing" else [])]))
    sort_by = row[0].selectbox(
        "Sort by", [None, *sort_options], format_func=lambda f: "—" if f is None else f, key="rb_sort"
    )
    direction = row[1].radio(
        "Order",
        ["asc", "desc"],
        format_func={"asc": "Ascending", "desc": "Descending"}.get,
        horizontal=True,
        key="rb_dir",
    )
    limit = row[2].number_input("Limit", min_value=1, max_value=MAX_LIMIT, key="rb_limit")
    draft["sort"] = [{"field": sort_by, "direction": direction}] if sort_by else []
    draft["limit"] = int(limit)

    row = st.columns([2, 2, 3])
    chart_type = row[0].selectbox("Chart", CHARTS, format_func=word, key="rb_chart")
    x = row[1].selectbox(
        "Along (x)", [None, *outputs], format_func=lambda f: "automatic" if f is None else f, key="rb_x"
    )
    y = row[2].multiselect("Values (y)", outputs, key="rb_y", placeholder="automatic")
    draft["chart"] = {"type": chart_type, "x": x, "y": y}

    spec: ReportSpec | None = None
    try:
        spec = parse_spec(draft)
    except ValidationFailed as exc:
        st.error(problem_text(exc), icon=":material/rule:")
    spec_json = spec.model_dump(mode="json", by_alias=True) if spec else draft
    with st.expander("The spec (JSON)"):
        st.json(spec_json)

    if st.button("Preview", icon=":material/visibility:", key="rb_preview_button", disabled=spec is None):
        st.session_state["rb_preview"] = True
    if spec is not None and st.session_state.get("rb_preview"):
        if view.warehouse_state(actor, key="rb") is not None:
            view.report_block(actor, view.Query("spec", json.dumps(spec_json, sort_keys=True)), key="rb_result")

    st.subheader("Save as a report")
    box = st.container()
    with st.form("rb_save", clear_on_submit=False):
        name = st.text_input("Name", key="rb_name")
        description = st.text_area("Description", key="rb_description")
        public = st.checkbox("Everyone in the workspace may run it", key="rb_public")
        if st.form_submit_button("Save report", type="primary", icon=":material/save:"):
            made = attempt(
                actor,
                lambda s, a: (
                    analytics.create_report(
                        s,
                        a,
                        ReportCreate(
                            name=name, description=description or None, spec=parse_spec(draft), is_public=public
                        ),
                    ).id
                ),
                done=f"Report {name} saved",
                where=box,
                clear=("rb_name", "rb_description"),
            )
            if made is not None:
                st.session_state["rb_saved_next"] = str(made)
                st.rerun()

with library:
    if not saved:
        ui.empty("No saved reports yet: build one and save it.")
    else:
        if "rb_saved_next" in st.session_state:
            st.session_state["rb_saved"] = st.session_state.pop("rb_saved_next")
        chosen = st.selectbox(
            "Saved report",
            [None, *saved_names],
            format_func=lambda r: "(choose a report)" if r is None else saved_names[r],
            key="rb_saved",
        )
        if chosen is not None:
            summary = next(r for r in saved if str(r["id"]) == chosen)
            if view.warehouse_state(actor, key="rb_lib") is not None:
                view.report_block(
                    actor,
                    view.Query("saved", chosen),
                    key=f"rb_saved_{chosen}",
                    drill_query=lambda point: view.Query("drill_saved", chosen, None, point),
                )
            actions = st.columns(2)
            actions[0].button(
                "Open in the builder",
                key="rb_open",
                icon=":material/edit:",
                on_click=lambda: _apply(load(actor, lambda s, a: analytics.get_report(s, a, UUID(chosen)).spec)),
            )
            if actor.can("reports", "delete") and (analytics.is_admin(actor) or summary["created_by"] == actor.user_id):
                if actions[1].button("Delete", key="rb_delete", icon=":material/delete:"):
                    gone = attempt(
                        actor,
                        lambda s, a: analytics.delete_report(s, a, UUID(chosen)) or True,
                        done=f"Report {saved_names[chosen]} deleted",
                    )
                    if gone:
                        st.session_state.pop("rb_saved", None)
                        st.rerun()
