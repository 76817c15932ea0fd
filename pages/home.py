"""My day: what needs the rep today (tasks due and overdue, deals closing this month, rotting deals, their hottest
leads, recent activity) and quick adds for a contact, a task or a note."""

from datetime import time, timedelta

import streamlit as st

from app.ui import actions as action_ui
from app.ui import records as rec
from app.ui import scoring as scores
from app.ui import widgets as ui
from app.ui.calls import attempt, load
from core.activities import service as activities
from core.contacts import service as contacts
from core.contacts.schemas import ContactCreate
from core.deals import service as deals
from core.notes import service as notes
from core.notes.schemas import NoteCreate
from core.tasks import service as tasks
from core.tasks.schemas import TaskUpdate
from core.tenants import calendar

actor = ui.page("home.py")
me = str(actor.user_id)
today = load(actor, calendar.today)
month_start = today.replace(day=1)
month_end = (month_start + timedelta(days=32)).replace(day=1) - timedelta(days=1)
end_of_today = ui.local_moment(actor, today, time.max).isoformat()

due = load(
    actor,
    tasks.list_tasks,
    {
        "assigneeId": [me],
        "status": ["open,in_progress"],
        "dueAt[lte]": [end_of_today],
        "sort": ["dueAt"],
        "limit": ["50"],
    },
)
closing = load(
    actor,
    deals.list_deals,
    {
        "ownerId": [me],
        "isClosed": ["false"],
        "expectedCloseDate[lte]": [month_end.isoformat()],  # with those whose date passed: still to close
        "sort": ["expectedCloseDate"],
        "limit": ["50"],
    },
)
rotting = load(
    actor, deals.list_deals, {"ownerId": [me], "isRotting": ["true"], "sort": ["stageEnteredAt"], "limit": ["20"]}
)
recent = load(actor, activities.list_activities, {"ownerId": [me], "sort": ["-occurredAt"], "limit": ["10"]})

overdue = [t for t in due.items if t.get("isOverdue")]
tiles = st.columns(4)
tiles[0].metric("Tasks due today", len(due.items) - len(overdue))
tiles[1].metric("Overdue tasks", len(overdue))
tiles[2].metric(
    "Closing this month",
    closing.total or 0,
    help=f"Open deals you own expected to close by {month_end}, with those whose close date has passed",
)
tiles[3].metric("Rotting deals", rotting.total or 0, help="Open deals longer in their stage than the stage allows")

left, right = st.columns([3, 2])
with left:
    st.subheader("Tasks due")
    if not due.items:
        ui.empty("Nothing due today. Well done.", icon=":material/celebration:")
    for task in due.items:
        row = st.columns([6, 3, 2])
        flag = ":red[overdue] · " if task.get("isOverdue") else ""
        row[0].markdown(f"**{task['title']}**  \n{flag}{task['priority']} priority")
        row[1].caption(f"due {ui.local_time(actor, task['dueAt'])}" if task.get("dueAt") else "no due date")
        if row[2].button("Done", key=f"done_{task['id']}", icon=":material/check:"):
            attempt(
                actor,
                lambda s, a, t=task: tasks.update(s, a, t["id"], TaskUpdate(status="done", version=t["version"])),
                done=f"Completed: {task['title']}",
                rerun=True,
            )

    st.subheader("Closing this month")
    if not closing.items:
        ui.empty("No open deals of yours close this month.")
    for deal in closing.items:
        closes = deal["expectedCloseDate"]
        passed = closes is not None and str(closes) < today.isoformat()
        ui.detail_link(
            "deal",
            deal["id"],
            f"{deal['name']} · {ui.money(deal['amount'], deal['currency'])} · {deal['stageName']} · "
            + (f":red[close date passed ({closes})]" if passed else f"closes {closes}"),
        )

    st.subheader("Rotting deals")
    if not rotting.items:
        ui.empty("No deal of yours is stuck in its stage.")
    for deal in rotting.items:
        ui.detail_link(
            "deal", deal["id"], f"{deal['name']} · {deal['daysInStage']} days in {deal['stageName']} · :red[rotting]"
        )

    scores.hottest_section(actor)
    action_ui.mine(actor)

with right:
    st.subheader("Quick add")
    kind = st.segmented_control("Add", ["Contact", "Task", "Note"], default="Contact", key="quick_kind")
    box = st.container()
    if kind == "Contact":
        with st.form("quick_contact", clear_on_submit=False):
            first = st.text_input("First name", key="qc_first")
            last = st.text_input("Last name", key="qc_last")
            email = st.text_input("Email", key="qc_email")
            if st.form_submit_button("Add contact", type="primary"):
                attempt(
                    actor,
                    lambda s, a: contacts.create(
                        s, a, ContactCreate(first_name=first, last_name=last, email=email or None)
                    ),
                    done=f"Contact {first} {last} added",
                    where=box,
                    clear=("qc_first", "qc_last", "qc_email"),
                    rerun=True,
                )
    elif kind == "Task":
        rec.task_form(actor, "qt", label="Title", default_day=today)
    else:
        target = ui.pick_record(actor, "On", ("contacts", "accounts", "deals"), key="quick_note_on")
        with st.form("quick_note", clear_on_submit=False):
            body = st.text_area("Note", key="qn_body")
            if st.form_submit_button("Add note", type="primary", disabled=target is None):
                attempt(
                    actor,
                    lambda s, a: notes.create(s, a, target.type, target.id, NoteCreate(body=body)),
                    done=f"Note added to {target.title}",
                    where=box,
                    clear=("qn_body",),
                    rerun=True,
                )

    st.subheader("Recent activity")
    if not recent.items:
        ui.empty("No activity logged yet.")
    for item in recent.items:
        st.markdown(f"**{item['type'].title()}** · {item['subject']}  \n{ui.local_time(actor, item['occurredAt'])}")
