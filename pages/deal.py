"""Deal: one deal (reached by `?id=`): its header, stage history timeline, activities, notes and tasks with
quick adds, and an edit form (custom fields included) that refuses to overwrite someone else's change."""

from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

import streamlit as st

from app.ui import actions as action_ui
from app.ui import albedo as albedo_ui
from app.ui import insights as anomaly_ui
from app.ui import records as rec
from app.ui import widgets as ui
from app.ui.board import record_link, show_problem, write_deal
from app.ui.calls import attempt, find, load
from app.ui.pages import by_file
from core.accounts import service as accounts
from core.activities import service as activities
from core.activities.schemas import ActivityCreate
from core.contacts import service as contacts
from core.custom_fields import service as custom_fields
from core.deals import service as deals
from core.deals.schemas import DealPatch
from core.forecasts import service as forecasts
from core.forecasts.schemas import DealCategoryUpdate
from core.notes import service as notes
from core.notes.schemas import NoteCreate
from core.tasks import service as tasks
from core.tenants import calendar
from core.users import service as users

FORECAST_CATEGORIES = {  # "derived": none set (the forecast derives it from the history's odds)
    "derived": "Derived from history",
    "commit": "Commit",
    "best_case": "Best case",
    "pipeline": "Pipeline",
    "omitted": "Omitted",
}

actor = ui.page("deal.py")
raw_id = ui.record_id()
if not raw_id:
    ui.empty("Open a deal from the pipeline, a list or a search to see it here.", icon=":material/handshake:")
    st.page_link(by_file("pipeline.py").path.as_posix(), label="Go to the pipeline", icon=":material/view_kanban:")
    st.stop()
try:
    deal_id = UUID(raw_id)
except ValueError:
    st.error(f"“{raw_id}” is not a deal's id. Check the link you followed.", icon=":material/error:")
    st.stop()

deal = load(actor, lambda s, a: deals.to_read(s, a, deals.get(s, a, deal_id)))
SEEN = f"deal_seen_{deal.id}"  # the version the page showed in its previous run: what an edit is based on
seen = st.session_state.get(SEEN, deal.version)
st.session_state[SEEN] = deal.version
owner = find(actor, users.get, deal.owner_id)
account = find(actor, accounts.get, deal.account_id) if deal.account_id else None
contact = find(actor, contacts.get, deal.contact_id) if deal.contact_id else None

# Header -------------------------------------------------------------------------------------------------
if deal.is_closed:
    status = ":green-badge[Won]" if deal.is_won else ":red-badge[Lost]"
else:
    status = ":red-badge[Rotting]" if deal.is_rotting else ":blue-badge[Open]"
st.subheader(f"{deal.name} {status}")
albedo_ui.ask_button(actor, "deal", deal.id, deal.name)
tiles = st.columns(5)
tiles[0].metric("Amount", ui.money(deal.amount, deal.currency))
tiles[1].metric("Stage", deal.stage_name, help=f"Pipeline {deal.pipeline_name}")
tiles[2].metric("Probability", f"{deal.probability}%")
tiles[3].metric("Weighted", ui.money(deal.weighted_amount, deal.currency))
tiles[4].metric("Days in stage", deal.days_in_stage)
facts = st.columns(4)
with facts[0]:
    st.caption("Owner")
    st.markdown(owner.full_name if owner else "—")
with facts[1]:
    st.caption("Account")
    if account is not None:
        record_link(actor, "account", account.id, account.name)
    else:
        st.markdown("—" if deal.account_id is None else "an account you cannot open")
with facts[2]:
    st.caption("Contact")
    if contact is not None:
        record_link(actor, "contact", contact.id, f"{contact.first_name} {contact.last_name}")
    else:
        st.markdown("—" if deal.contact_id is None else "a contact you cannot open")
with facts[3]:
    st.caption("Expected close" if not deal.is_closed else "Closed on")
    closes = deal.actual_close_date if deal.is_closed else deal.expected_close_date
    passed = not deal.is_closed and closes is not None and closes < load(actor, calendar.today)
    st.markdown(f":red[{ui.when(closes)} · passed]" if passed else ui.when(closes))
if not deal.is_closed and actor.can("forecasts", "read"):
    # How the deal counts in the forecast: the owner's call, or derived from the history's odds when unset.
    category = load(actor, lambda s, a: deals.get(s, a, deal.id).forecast_category) or "derived"
    if actor.can("deals", "update"):
        chosen = st.selectbox(
            "Forecast category",
            list(FORECAST_CATEGORIES),
            index=list(FORECAST_CATEGORIES).index(category),
            format_func=FORECAST_CATEGORIES.get,
            key=f"deal_category_{deal.id}_{category}",  # a fresh widget once the category changed
        )
        if chosen != category:
            attempt(
                actor,
                lambda s, a: forecasts.set_deal_category(
                    s, a, deal.id, DealCategoryUpdate(category=None if chosen == "derived" else chosen)
                ),
                done=f"Forecast category: {FORECAST_CATEGORIES[chosen]}",
                rerun=True,
            )
    else:
        st.caption(f"Forecast category: {FORECAST_CATEGORIES[category]}")
anomaly_ui.badges(actor, "deals", deal.id)
if deal.is_rotting:
    st.warning(f"Rotting: {deal.days_in_stage} days in {deal.stage_name}, longer than the stage allows.")
if deal.is_closed and deal.is_won is False and deal.lost_reason:
    st.caption(f"Lost because: {deal.lost_reason}")
if deal.next_step:
    st.caption(f"Next step: {deal.next_step}")

if not deal.is_closed:
    action_ui.for_record(actor, "deals", deal.id)

history_tab, activity_tab, notes_tab, tasks_tab, edit_tab = st.tabs(
    ["Stage history", "Activities", "Notes", "Tasks", "Edit"]
)

with history_tab:
    history = load(actor, deals.stage_history, deal.id)
    for entry in reversed(history):
        came = f"from {entry.from_stage_name}" if entry.from_stage_name else "created"
        who = f" by {entry.changed_by_name}" if entry.changed_by_name else ""
        now = " · :blue-badge[current]" if entry.is_current else ""
        st.markdown(
            f"**{entry.to_stage_name}** ({came}){now}  \n"
            f"{ui.when(entry.changed_at)}{who} · {entry.days_in_stage} days in stage · "
            f"{ui.money(entry.amount, deal.currency)} at {entry.probability or 0}%"
        )

with activity_tab:
    if actor.can("activities", "read"):
        logged = load(actor, activities.list_activities, {"limit": ["50"]}, parent=("deals", deal.id))
        if not logged.items:
            ui.empty("No activity logged on this deal yet.")
        for item in logged.items:
            st.markdown(
                f"**{item['type'].title()}** · {item['subject']}  \n{ui.local_time(actor, item['occurredAt'])}"
                + (f" · {item['outcome']}" if item.get("outcome") else "")
            )
    if actor.can("activities", "create"):
        box = st.container()
        with st.form("deal_activity", clear_on_submit=False):
            kind = st.selectbox("Type", ["call", "meeting", "email", "note", "other"], key="da_type")
            subject = st.text_input("Subject", key="da_subject")
            body = st.text_area("Details", key="da_body")
            if st.form_submit_button("Log activity", type="primary"):
                attempt(
                    actor,
                    lambda s, a: (
                        activities.create(
                            s,
                            a,
                            ActivityCreate(
                                type=kind,
                                subject=subject,
                                body=body or None,
                                deal_id=deal.id,
                                account_id=deal.account_id if account is not None else None,
                                contact_id=deal.contact_id if contact is not None else None,
                            ),
                        ).id
                    ),
                    done=f"Logged: {subject}",
                    where=box,
                    clear=("da_subject", "da_body"),
                    rerun=True,
                )

with notes_tab:
    if actor.can("notes", "read"):
        written = load(actor, notes.list_notes, "deals", deal.id, {"limit": ["50"]})
        if not written.items:
            ui.empty("No note on this deal yet.")
        for note in written.items:
            pin = ":material/push_pin: " if note.get("isPinned") else ""
            st.markdown(f"{pin}{note['body']}")
            st.caption(ui.local_time(actor, note["createdAt"]))
    if actor.can("notes", "create"):
        box = st.container()
        with st.form("deal_note", clear_on_submit=False):
            text = st.text_area("Note", key="dn_body")
            if st.form_submit_button("Add note", type="primary"):
                attempt(
                    actor,
                    lambda s, a: notes.create(s, a, "deals", deal.id, NoteCreate(body=text)).id,
                    done="Note added",
                    where=box,
                    clear=("dn_body",),
                    rerun=True,
                )

with tasks_tab:
    if actor.can("tasks", "read"):
        todo = load(actor, tasks.list_tasks, {"limit": ["50"]}, parent=("deals", deal.id))
        if not todo.items:
            ui.empty("No task on this deal yet.")
        for task in todo.items:
            due = f"due {ui.local_time(actor, task['dueAt'])}" if task.get("dueAt") else "no due date"
            flag = " · :red[overdue]" if task.get("isOverdue") else ""
            st.markdown(f"**{task['title']}** · {task['status'].replace('_', ' ')} · {due}{flag}")
    rec.task_form(actor, "dt", label="Task", default_day=None, parent=("deals", deal.id))

with edit_tab:
    if not actor.can("deals", "update"):
        ui.empty("Your role can read this deal but not change it.", icon=":material/lock:")
    else:
        fields = load(actor, custom_fields.list_fields, entity_type="deals")
        people, _ = load(actor, users.list_users, limit=500, include_inactive=False)
        assignable = {
            u.id: u.full_name
            for u in people
            if actor.scope == "all"
            or u.id == actor.user_id
            or (actor.scope == "team" and actor.team_id is not None and u.team_id == actor.team_id)
        }
        assignable.setdefault(deal.owner_id, owner.full_name if owner else "current owner")
        box = st.container()
        v = f"{deal.id}_{seen}"  # widgets start again from the deal after a save or a reload
        with st.form("deal_edit", clear_on_submit=False):
            name = st.text_input("Name", value=deal.name, key=f"de_name_{v}")
            row = st.columns(3)
            amount = row[0].number_input(
                "Amount",
                min_value=0.0,
                value=None if deal.amount is None else float(deal.amount),
                step=100.0,
                key=f"de_amount_{v}",
            )
            currency = row[1].text_input("Currency", value=deal.currency, max_chars=3, key=f"de_currency_{v}")
            close = row[2].date_input("Expected close", value=deal.expected_close_date, key=f"de_close_{v}")
            owner_id = st.selectbox(
                "Owner",
                list(assignable),
                index=list(assignable).index(deal.owner_id),
                format_func=assignable.__getitem__,
                key=f"de_owner_{v}",
                disabled=actor.scope == "own",
            )
            next_step = st.text_area("Next step", value=deal.next_step or "", key=f"de_next_{v}")
            values: dict[str, Any] = {}
            for cf in fields:
                label = cf.field_label + (" *" if cf.is_required else "")
                current = deal.custom_fields.get(cf.field_name)
                key = f"de_cf_{cf.field_name}_{v}"
                if cf.field_type == "select":
                    options = [None, *(cf.field_options or [])]
                    values[cf.field_name] = st.selectbox(
                        label,
                        options,
                        index=options.index(current) if current in options else 0,
                        format_func=lambda o: "—" if o is None else str(o),
                        key=key,
                        help=cf.description,
                    )
                elif cf.field_type == "multi_select":
                    values[cf.field_name] = st.multiselect(
                        label, cf.field_options or [], default=current or [], key=key, help=cf.description
                    )
                elif cf.field_type == "number":
                    picked = st.number_input(
                        label, value=None if current is None else float(current), key=key, help=cf.description
                    )
                    values[cf.field_name] = None if picked is None else Decimal(str(picked))
                elif cf.field_type == "date":
                    values[cf.field_name] = st.date_input(
                        label,
                        value=date.fromisoformat(current) if isinstance(current, str) else current,
                        key=key,
                        help=cf.description,
                    )
                elif cf.field_type == "boolean":
                    values[cf.field_name] = st.selectbox(
                        label,
                        [None, True, False],
                        index=[None, True, False].index(current) if current in (None, True, False) else 0,
                        format_func=lambda o: {None: "—", True: "Yes", False: "No"}[o],
                        key=key,
                        help=cf.description,
                    )
                else:
                    values[cf.field_name] = (
                        st.text_input(label, value=current or "", key=key, help=cf.description) or None
                    )
            saved = st.form_submit_button("Save changes", type="primary")
        if saved:
            outcome = write_deal(
                actor,
                lambda s, a: (
                    deals.update(
                        s,
                        a,
                        deal.id,
                        DealPatch(
                            name=name,
                            amount=None if amount is None else Decimal(str(amount)).quantize(Decimal("0.01")),
                            currency=(currency or "").strip().upper(),
                            expected_close_date=close,
                            next_step=next_step.strip() or None,
                            owner_id=owner_id,
                            custom_fields=values,
                            version=seen,
                        ),
                    ).version
                ),
                done=f"Saved {name}",
            )
            if outcome.ok:
                st.session_state[SEEN] = outcome.result
                st.rerun()
            show_problem(outcome, box, reload_key="deal_reload")
