"""Contacts: search and filter the people the user may see, select some to tag, assign or delete together, add
a contact (with the workspace's custom fields), and merge likely duplicates."""

from uuid import UUID

import streamlit as st

from app.ui import records as rec
from app.ui import widgets as ui
from app.ui.calls import attempt, load
from core.contacts import service as contacts
from core.contacts.models import LEAD_STATUSES, LIFECYCLE_STAGES
from core.contacts.schemas import ContactCreate
from core.duplicates import service as duplicates

KIND = rec.CONTACTS
SORTS = {
    "Newest first": "-createdAt",
    "Oldest first": "createdAt",
    "Last name A–Z": "lastName,firstName",
    "Lead score, highest first": "-leadScore",
    "Recently updated": "-updatedAt",
}
CREATED = "contacts_created"

actor = ui.page("contacts.py")
everyone = rec.people(actor)
owners = rec.assignable(actor, everyone)
views = ["All contacts"]
if actor.can("contacts", "create"):
    views.append("Add contact")
views.append("Duplicates")
view = st.segmented_control(
    "View", views, default=views[0], key="contacts_view", required=True, label_visibility="collapsed"
)


def label(value: str) -> str:
    return value.upper() if value in ("mql", "sql") else value.replace("_", " ").title()


if view == "All contacts":
    tag_options = load(actor, contacts.tags_in_use)
    top = st.columns([3, 2, 2])
    search = top[0].text_input("Search", key="contacts_search", placeholder="Name, email, phone or company")
    sort = top[1].selectbox("Sort by", list(SORTS), key="contacts_sort")
    owner_ids: list[str] = []
    if actor.scope != "own":
        owner_ids = top[2].multiselect(
            "Owner",
            sorted(everyone, key=lambda i: everyone[i].name.lower()),
            format_func=lambda i: everyone[i].name,
            key="contacts_owner",
        )
    row = st.columns([2, 2, 2, 1])
    statuses = row[0].multiselect("Lead status", list(LEAD_STATUSES), format_func=label, key="contacts_status")
    stages = row[1].multiselect("Lifecycle stage", list(LIFECYCLE_STAGES), format_func=label, key="contacts_stage")
    tags = row[2].multiselect("Tags (any of)", tag_options, key="contacts_tags")
    min_score = row[3].number_input(
        "Score from",
        min_value=0,
        max_value=100,
        value=None,
        step=5,
        key="contacts_min_score",
        help="Only contacts whose lead score is at least this",
    )
    filters = {
        "search": [search.strip()] if search.strip() else [],
        "ownerId": [",".join(owner_ids)] if owner_ids else [],
        "leadStatus": [",".join(statuses)] if statuses else [],
        "lifecycleStage": [",".join(stages)] if stages else [],
        "tags": [",".join(tags)] if tags else [],
        "leadScore[gte]": [str(int(min_score))] if min_score is not None else [],
        "sort": [SORTS[sort]],
    }
    state = rec.list_state(KIND, filters)
    found = load(actor, contacts.list_contacts, state.params)
    rec.clamp_page(KIND, state, found)
    rec.bulk_failures(KIND)
    if not found.items:
        narrowed = any(v for k, v in filters.items() if k != "sort")
        ui.empty("No contact matches these filters." if narrowed else "No contacts yet: add the first one.")
    else:
        rows = [
            {
                "Name": KIND.label(c),
                "Company": c.get("company") or "",
                "Email": c.get("email") or "",
                "Owner": rec.owner_name(everyone, c.get("ownerId")),
                "Lead status": label(c["leadStatus"]) if c.get("leadStatus") else "",
                "Stage": label(c["lifecycleStage"]) if c.get("lifecycleStage") else "",
                "Score": c.get("leadScore"),
                "Last contacted": (c.get("lastContactedAt") or "")[:10],
                "Tags": c.get("tags") or [],
                "Created": (c.get("createdAt") or "")[:10],
            }
            for c in found.items
        ]
        selected = rec.record_table(
            KIND,
            found.items,
            rows,
            state,
            {
                "Name": st.column_config.TextColumn(width="medium"),
                "Email": st.column_config.TextColumn(width="medium"),
                "Score": st.column_config.ProgressColumn(
                    "Score", min_value=0, max_value=100, format="%d", width="small"
                ),
                "Tags": st.column_config.ListColumn("Tags"),
            },
        )
        rec.pager(KIND, state, found.total or 0)
        rec.bulk_actions(KIND, actor, selected, owners, tag_options)

elif view == "Add contact":
    created = st.session_state.get(CREATED)
    if created:
        new_id, name = created
        with st.container(border=True):
            rec.link("contact", new_id, f"Open {name}")
            matches = load(actor, duplicates.contact_duplicates_of, UUID(new_id))
            if matches:
                st.warning(
                    f"{name} looks like a contact you already have; merge them under Duplicates if so.",
                    icon=":material/content_copy:",
                )
                for match in matches:
                    why = ", ".join(r.replace("_", " ") for r in match.reasons)
                    rec.link("contact", match.record.id, f"{match.record.name} · {why}")
    fields = rec.field_defs(actor, "contacts")
    account = ui.pick_record(actor, "Account (optional)", ("accounts",), key="cc_account")
    box = st.container()
    keys = (
        "cc_first",
        "cc_last",
        "cc_email",
        "cc_phone",
        "cc_title",
        "cc_company",
        "cc_tags",
        *rec.custom_field_keys(fields, "cc"),
    )
    with st.form("contact_create", clear_on_submit=False):
        cols = st.columns(2)
        first = cols[0].text_input("First name *", key="cc_first")
        last = cols[1].text_input("Last name *", key="cc_last")
        email = cols[0].text_input("Email", key="cc_email")
        phone = cols[1].text_input("Phone", key="cc_phone")
        title = cols[0].text_input("Job title", key="cc_title")
        company = cols[1].text_input("Company", key="cc_company")
        status = cols[0].selectbox("Lead status", list(LEAD_STATUSES), format_func=label, key="cc_status")
        stage = cols[1].selectbox(
            "Lifecycle stage",
            list(LIFECYCLE_STAGES),
            index=list(LIFECYCLE_STAGES).index("lead"),
            format_func=label,
            key="cc_stage",
        )
        owner = rec.owner_input("Owner", owners, actor.user_id, key="cc_owner") if len(owners) > 1 else None
        chosen_tags = st.multiselect("Tags", load(actor, contacts.tags_in_use), key="cc_tags", accept_new_options=True)
        values = rec.custom_field_inputs(fields, {}, "cc")
        if st.form_submit_button("Add contact", type="primary", icon=":material/person_add:"):
            made = attempt(
                actor,
                lambda s, a: contacts.create(
                    s,
                    a,
                    ContactCreate(
                        first_name=first,
                        last_name=last,
                        email=email.strip() or None,
                        phone=phone.strip() or None,
                        title=title.strip() or None,
                        company=company.strip() or None,
                        lead_status=status,
                        lifecycle_stage=stage,
                        tags=chosen_tags,
                        owner_id=UUID(owner.id) if owner else None,
                        account_id=account.id if account is not None else None,
                        custom_fields=values,
                    ),
                ),
                done=f"Contact {first} {last} added",
                where=box,
                clear=keys,
            )
            if made is not None:
                st.session_state[CREATED] = (str(made.id), f"{made.first_name} {made.last_name}")
                st.rerun()

else:
    st.caption("Contacts with the same email, or a similar name at the same account or with the same phone.")
    rec.duplicate_pairs(KIND, actor)
