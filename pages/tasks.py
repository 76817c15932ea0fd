"""Tasks: my tasks and (for a team or all scope) my team's, filtered by status, priority and when they are due;
select rows to complete, reschedule or reassign them; create a task about a contact, account or deal."""

from datetime import datetime, time, timedelta

import streamlit as st

from app.ui import tasks as view
from app.ui import widgets as ui
from app.ui.calls import attempt, load
from core.tasks import service as tasks
from core.tasks.schemas import TaskCreate, TaskUpdate
from core.tenants import calendar

actor = ui.page("tasks.py")
me = str(actor.user_id)
zone = load(actor, calendar.zone)
people = load(actor, tasks.assignees, include_inactive=True)
names = {str(p.id): view.person(p) for p in people}
active = [str(p.id) for p in people if p.is_active]
can_update = actor.can("tasks", "update")
can_reassign = can_update and len(active) > 1

team_label = {"team": "My team's", "all": "Everyone's"}.get(actor.scope)
views = ["My tasks", team_label] if team_label and len(people) > 1 else ["My tasks"]
# One choice is no choice: a rep (own scope) sees their own tasks without a switch that does nothing.
team_view = len(views) > 1 and (
    (st.segmented_control("Show", views, default="My tasks", key="tasks_view") or "My tasks") != "My tasks"
)

filters = iter(st.columns([3, 3, 2, 3, 3] if team_view else [3, 3, 2, 3]))
statuses = next(filters).multiselect(
    "Status", list(view.STATUSES), default=["open", "in_progress"], format_func=view.STATUSES.get, key="tasks_status"
)
priorities = next(filters).multiselect(
    "Priority", list(view.PRIORITIES), format_func=view.PRIORITIES.get, key="tasks_prio"
)
due = next(filters).selectbox("Due", list(view.DUE), format_func=view.DUE.get, key="tasks_due")
if team_view:
    who = next(filters).selectbox(
        "Assignee", ["", *names], format_func=lambda i: names.get(i, "Everyone"), key="tasks_assignee"
    )
    # Everyone: the people of the actor's team (the record scope limits the list to them in any case).
    assignee_ids = [who] if who else ([] if actor.scope == "all" else list(names))
else:
    assignee_ids = [me]
search = next(filters).text_input("Search", key="tasks_search", placeholder="Words of the title")

params = view.list_params(
    statuses=statuses,
    priorities=priorities,
    due=load(actor, tasks.due_window, due) if due != "any" else {},
    assignee_ids=assignee_ids,
    search=search,
)
listed = load(actor, tasks.list_tasks, params)
items = listed.items
overdue = sum(bool(t.get("isOverdue")) for t in items)
total = listed.total or 0

if not items:
    if not team_view and len(views) > 1:
        ui.empty(f"No task of yours matches these filters. Choose {views[1]} above to see the others' tasks.")
    else:
        ui.empty("No task matches these filters.")
else:
    st.caption(
        f"{total} task{'s' if total != 1 else ''}"
        + (f" · :red[{overdue} overdue]" if overdue else "")
        + (f" · showing the first {len(items)}: narrow the filters to see the others" if total > len(items) else "")
    )
    names_of_records = view.related_names(actor, items)
    table_key = view.selection_key(params)
    chosen = st.dataframe(
        view.table(items, names_of_records, names, zone, with_assignee=team_view),
        key=table_key,
        on_select="rerun",
        selection_mode="multi-row",
        hide_index=True,
        column_config={
            "Title": st.column_config.TextColumn(width="medium"),
            "Open": st.column_config.LinkColumn("Open", display_text="Open ↗", width="small"),
        },
    )

    selected = [items[i] for i in chosen.selection.rows if i < len(items)]
    if not selected:
        st.caption("Select rows to complete, reschedule or reassign them.")
    else:
        st.subheader(f"{len(selected)} selected")
        for task in selected:
            record = view.about(task, names_of_records)
            if record:
                ui.detail_link(record[0], record[1], f"{task['title']} → {record[2]}")
        if not can_update:
            st.caption("Your role cannot change tasks.")
        else:
            box = st.container()
            actions = st.columns(3 if can_reassign else 2)
            open_ones = [t for t in selected if t["status"] != "done"]
            if actions[0].button(
                "Complete", key="tasks_complete", icon=":material/check:", type="primary", disabled=not open_ones
            ):

                def complete(s, a):  # noqa: ANN001, ANN202
                    for t in open_ones:
                        tasks.update(s, a, t["id"], TaskUpdate(status="done", version=t["version"]))
                    return len(open_ones)

                if attempt(actor, complete, done=f"Completed {len(open_ones)} task(s)", where=box, clear=(table_key,)):
                    st.rerun()
            with actions[1].form("tasks_reschedule", border=False):
                first_due = view.due_at(selected[0], zone)
                today = datetime.now(zone).date()
                day = st.date_input(
                    "New due date", value=max(first_due.date(), today) if first_due else today, key="tasks_new_day"
                )
                at = st.time_input("At", value=first_due.time() if first_due else time(9, 0), key="tasks_new_time")
                if st.form_submit_button("Reschedule", icon=":material/event:"):
                    new_due = datetime.combine(day, at, tzinfo=zone)

                    def reschedule(s, a):  # noqa: ANN001, ANN202
                        for t in selected:
                            tasks.update(s, a, t["id"], TaskUpdate(due_at=new_due, version=t["version"]))
                        return len(selected)

                    if attempt(
                        actor,
                        reschedule,
                        done=f"Rescheduled {len(selected)} task(s) to {new_due:%a %d %b %H:%M}",
                        where=box,
                        clear=(table_key, "tasks_new_day", "tasks_new_time"),
                    ):
                        st.rerun()
            if can_reassign:
                with actions[2].form("tasks_reassign", border=False):
                    to = st.selectbox("Assign to", active, format_func=names.get, key="tasks_assign_to")
                    if st.form_submit_button("Reassign", icon=":material/person_add:"):

                        def reassign(s, a):  # noqa: ANN001, ANN202
                            for t in selected:
                                tasks.update(s, a, t["id"], TaskUpdate(assignee_id=to, version=t["version"]))
                            return len(selected)

                        if attempt(
                            actor,
                            reassign,
                            done=f"Assigned {len(selected)} task(s) to {names.get(to)}",
                            where=box,
                            clear=(table_key,),
                        ):
                            st.rerun()

if actor.can("tasks", "create"):
    with st.expander("New task", icon=":material/add_task:"):
        box = st.container()
        target = ui.pick_record(actor, "About (optional)", ("contacts", "accounts", "deals"), key="tasks_new_about")
        with st.form("tasks_new", clear_on_submit=False):
            title = st.text_input("Title", key="tasks_new_title")
            description = st.text_area("Description", key="tasks_new_description", height=80)
            cols = st.columns(3)
            no_date = cols[0].checkbox("No due date", key="tasks_new_no_date")
            day = cols[1].date_input("Due", value=datetime.now(zone).date() + timedelta(days=1), key="tasks_new_due")
            at = cols[2].time_input("At", value=time(9, 0), key="tasks_new_at")
            cols = st.columns(2)
            priority = cols[0].selectbox(
                "Priority", list(view.PRIORITIES), index=2, format_func=view.PRIORITIES.get, key="tasks_new_prio"
            )
            assignee = (
                cols[1].selectbox(
                    "Assignee", active, index=active.index(me) if me in active else 0, format_func=names.get
                )
                if can_reassign
                else me
            )
            if st.form_submit_button("Create task", type="primary"):
                link = {f"{target.type[:-1]}_id": target.id} if target is not None else {}
                attempt(
                    actor,
                    lambda s, a: tasks.create(
                        s,
                        a,
                        TaskCreate(
                            title=title,
                            description=description or None,
                            due_at=None if no_date else datetime.combine(day, at, tzinfo=zone),
                            priority=priority,
                            assignee_id=assignee,
                            **link,
                        ),
                    ),
                    done=f"Task created: {title}",
                    where=box,
                    clear=("tasks_new_title", "tasks_new_description", "tasks_new_about_q"),
                    rerun=True,
                )
