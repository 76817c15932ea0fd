"""Import: upload a CSV or XLSX file, check the suggested column mapping (HubSpot and Salesforce exports are
recognised) on a preview, choose what happens to duplicates and start; the job's progress shows as it runs, and
the rows that were not imported can be downloaded with their reasons. Past imports are listed below."""

from uuid import UUID

import streamlit as st

from app.ui import imports as view
from app.ui import widgets as ui
from app.ui.calls import attempt, load
from core.imports import service as imports
from core.imports.schemas import ImportOptions

actor = ui.page("imports.py", caption="Contacts and accounts from a CSV or XLSX file.")
entities = view.importable_entities(actor)
CURRENT = "imp_current"
REPORT_LIMIT = 100_000

# A new import ----------------------------------------------------------------------------------------------

if not entities:
    st.warning("Your role may not import any record type.", icon=":material/block:")
else:
    st.subheader("New import")
    uploads = st.session_state.setdefault("imp_uploads", 0)  # a new uploader after each start
    upload = st.file_uploader(
        "CSV or XLSX file", type=["csv", "xlsx", "txt"], key=f"imp_file_{uploads}", help="At most 50 MB."
    )
    options = st.columns(2)
    entity = (
        options[0].segmented_control(
            "Import as", entities, default=entities[0], format_func=view.ENTITIES.get, key="imp_entity"
        )
        or entities[0]
    )
    allowed = view.policies(actor, entity)
    policy = options[1].radio(
        "Duplicates",
        allowed,
        format_func=view.POLICIES.get,
        horizontal=True,
        key=f"imp_policy_{'_'.join(allowed)}",
        help=view.POLICY_HELP,
    )
    policy = policy if policy in allowed else allowed[0]

    if upload is None:
        st.caption(
            "The columns are matched to fields by their headers: our own export's, HubSpot's and Salesforce's "
            "are recognised; you can change any of them before starting."
        )
    else:
        data = upload.getvalue()
        checked, problem = view.check_file(actor, upload.file_id, data, entity, policy, None)
        if checked is None:
            st.error(problem or "This file cannot be imported.", icon=":material/error:")
        else:
            file = checked.file
            st.caption(
                f"{file.format.upper()}"
                + (f" · {file.encoding}" if file.encoding else "")
                + (f" · delimiter {file.delimiter!r}" if file.delimiter else "")
                + f" · {checked.total_rows:,} data row{'s' if checked.total_rows != 1 else ''}"
            )
            st.dataframe(
                [dict(zip(view.column_labels(checked.headers), row, strict=False)) for row in checked.rows],
                hide_index=True,
                key="imp_sample",
            )

            st.markdown("**Column mapping**")
            st.caption(
                f"{len(checked.mapping)} of {len(checked.headers)} columns recognised from their headers; "
                "change any of them below."
            )
            fields = load(actor, imports.importable_fields, entity)
            choices = [view.IGNORE, *fields]
            chosen: dict[str, str] = {}
            grid = st.columns(3)
            for position, (index, header) in enumerate(view.distinct_headers(checked.headers)):
                suggested = checked.mapping.get(header, view.IGNORE)
                chosen[header] = grid[position % 3].selectbox(
                    header.strip() or f"(column {index + 1})",
                    choices,
                    index=choices.index(suggested) if suggested in choices else 0,
                    format_func=lambda f: fields.get(f, "— not imported —"),
                    key=f"imp_map_{upload.file_id}_{entity}_{index}",
                )
            mapping = view.overrides(checked, chosen)
            final, problem = (
                (checked, None)
                if mapping is None
                else view.check_file(actor, upload.file_id, data, entity, policy, mapping)
            )
            ready = final is not None
            if final is None:
                st.error(problem or "This mapping does not fit the file.", icon=":material/error:")
            elif not final.mapping:
                ready = False
                st.warning(
                    f"No column of the file was recognised as a {entity[:-1]} field: choose the fields above.",
                    icon=":material/warning:",
                )
            elif final.missing_required and policy != "update":
                ready = False
                missing = ", ".join(fields.get(f, f).removesuffix(" (required)") for f in final.missing_required)
                st.warning(f"Map a column to each required field: {missing}.", icon=":material/warning:")
            elif final.missing_required:
                st.info("Rows can only update existing records: no column holds every required field.")
            unmapped = [h for h, f in chosen.items() if not f]
            if unmapped and ready:
                st.caption(f"Not imported: {', '.join(unmapped)}")

            box = st.container()
            if st.button(
                f"Import {checked.total_rows:,} row{'s' if checked.total_rows != 1 else ''}",
                type="primary",
                icon=":material/upload:",
                disabled=not ready,
                key="imp_start",
            ):
                started = attempt(
                    actor,
                    lambda s, a: imports.create(
                        s,
                        a,
                        data,
                        ImportOptions(entity_type=entity, duplicate_policy=policy, mapping=mapping),  # type: ignore[arg-type]
                        file_name=upload.name,
                    ),
                    done=f"Import of {upload.name} started",
                    where=box,
                )
                if started is not None:
                    st.session_state[CURRENT] = str(started.id)
                    st.session_state["imp_uploads"] = uploads + 1
                    st.rerun()

# Imports and their reports ---------------------------------------------------------------------------------


def show_report(import_id: str, was_running: bool) -> None:
    """One import: progress while it runs (this part reruns by itself), counts and the row report when done."""
    record = load(actor, lambda s, a: imports.to_read(s, imports.get(s, a, UUID(import_id))))
    running = record.status not in imports.TERMINAL
    if was_running and not running:
        st.rerun()  # the whole page: the list shows the final status too
    name = record.file_name or "the file"
    st.markdown(f"**{name}** · {view.ENTITIES[record.entity_type].lower()} · {view.STATUS[record.status]}")
    progress = record.progress
    if running:
        st.progress(progress.percent / 100, text=f"{progress.done:,} of {progress.total:,} rows")
        return
    counts = record.counts
    tiles = st.columns(4)
    tiles[0].metric("Created", f"{counts.created:,}")
    tiles[1].metric("Updated", f"{counts.updated:,}")
    tiles[2].metric("Skipped", f"{counts.skipped:,}")
    tiles[3].metric("Failed", f"{counts.failed:,}")
    if record.error:
        st.error(f"The import stopped: {record.error}", icon=":material/error:")
    if not counts.failed and not counts.skipped:
        if record.status == "completed":
            st.success("Every row was imported.", icon=":material/check_circle:")
        return
    failed, _ = load(actor, imports.list_rows, record.id, outcome="failed", limit=REPORT_LIMIT)
    skipped, _ = load(actor, imports.list_rows, record.id, outcome="skipped", limit=REPORT_LIMIT)
    if failed:
        st.markdown(f"**Rows not imported** ({counts.failed:,})")
        st.dataframe(
            [{"Row": r.row, "Column": r.column or "", "Problem": r.message} for r in failed[:200]],
            hide_index=True,
            key=f"imp_errors_{record.id}",
        )
    st.download_button(
        "Download the row report (CSV)",
        data=view.row_report_csv(failed, skipped),
        file_name=f"{name.rsplit('.', 1)[0]}-rows-not-imported.csv",
        mime="text/csv",
        icon=":material/download:",
        on_click="ignore",
        key=f"imp_report_{record.id}",
    )


st.subheader("Imports")
reads, total = load(actor, view.recent_imports, limit=20)
if not reads:
    ui.empty("No import yet.")
else:
    listing = st.dataframe(
        [
            {
                "Started": ui.when(r.created_at),
                "File": r.file_name or "",
                "As": view.ENTITIES[r.entity_type],
                "Duplicates": view.POLICIES[r.duplicate_policy],
                "Status": view.STATUS[r.status],
                "Rows": f"{r.progress.done:,} / {r.progress.total:,}",
                "Created": r.counts.created,
                "Updated": r.counts.updated,
                "Skipped": r.counts.skipped,
                "Failed": r.counts.failed,
            }
            for r in reads
        ],
        hide_index=True,
        on_select="rerun",
        selection_mode="single-row",
        key="imp_list",
    )
    if total > len(reads):
        st.caption(f"The latest {len(reads)} of {total} imports.")
    rows = listing.selection.rows
    shown_id = str(reads[rows[0]].id) if rows else st.session_state.get(CURRENT) or str(reads[0].id)
    current = next((r for r in reads if str(r.id) == shown_id), reads[0])
    running = current.status not in imports.TERMINAL
    with st.container(border=True):
        st.fragment(run_every=1.5 if running else None)(show_report)(str(current.id), running)
