"""One contact (`?id=`): who they are, their timeline of activities and notes, their deals and tasks; edit
them (custom fields included), add a note, log a call, meeting or email, add a task, convert the lead to a deal."""

from datetime import timedelta
from decimal import Decimal
from uuid import UUID

import streamlit as st

from app.ui import actions as action_ui
from app.ui import albedo as albedo_ui
from app.ui import records as rec
from app.ui import scoring as scores
from app.ui import suggestions as suggestion_ui
from app.ui import widgets as ui
from app.ui.calls import attempt, find, load
from core.accounts import service as accounts
from core.contacts import service as contacts
from core.contacts.models import LEAD_STATUSES, LIFECYCLE_STAGES
from core.contacts.schemas import ContactConvert, ContactUpdate
from core.duplicates import service as duplicates
from core.pipelines import service as pipelines
from core.tenants import calendar

actor = ui.page("contact.py")
contact_id = rec.parse_id("contact")
contact = load(actor, lambda s, a: contacts.to_read(s, a, contacts.get(s, a, contact_id)))


account = find(actor, accounts.get, contact.account_id) if contact.account_id else None
everyone = rec.people(actor)
fields = rec.field_defs(actor, "contacts")
today = load(actor, calendar.today)
name = f"{contact.first_name} {contact.last_name}"
form = f"ce_{contact_id}"
converted_key = f"contact_{contact_id}_converted"
EDIT_FIELDS = (
    "first",
    "last",
    "email",
    "phone",
    "mobile",
    "title",
    "department",
    "company",
    "source",
    "status",
    "stage",
    "city",
    "country",
    "tags",
    "owner",
)
edit_keys = [f"{form}_{n}" for n in EDIT_FIELDS] + list(rec.custom_field_keys(fields, form))


def label(value: str | None) -> str:
    if not value:
        return rec.NONE
    return value.upper() if value in ("mql", "sql") else value.replace("_", " ").title()


st.header(name)
albedo_ui.ask_button(actor, "contact", contact_id, name)
about = [v for v in (contact.title, contact.company, contact.email, contact.phone or contact.mobile) if v]
st.caption(" · ".join([*about, f"Owner: {rec.owner_name(everyone, contact.owner_id)}"]))
if account is not None:
    rec.link("account", account.id, f"Account: {account.name}")
if contact.tags:
    st.markdown(" ".join(f":blue-badge[{t}]" for t in contact.tags))

converted = st.session_state.pop(converted_key, None)
if converted:
    deal_id, deal_name, made_account = converted
    st.success(f"Converted to the deal {deal_name}" + (f" (new account {made_account})" if made_account else ""))
    rec.link("deal", deal_id, f"Open deal {deal_name}")

tiles = st.columns(4)
tiles[0].metric("Lead status", label(contact.lead_status))
tiles[1].metric("Lifecycle stage", label(contact.lifecycle_stage))
tiles[2].metric("Lead score", contact.lead_score, help=f"{scores.temperature(contact.lead_score)[0]}; see why below")
tiles[3].metric("Last contacted", ui.when(contact.last_contacted_at)[:10])
scores.score_panel(actor, contact_id)
suggestion_ui.for_record(actor, "contacts", contact_id)
action_ui.for_record(actor, "contacts", contact_id)

timeline_tab, details_tab, deals_tab, tasks_tab = st.tabs(["Timeline", "Details", "Deals", "Tasks"])

with timeline_tab:
    left, right = st.columns([3, 2])
    with right:
        adding = st.segmented_control("Add", ["Note", "Activity"], default="Note", key=f"{form}_add", required=True)
        if adding == "Note":
            rec.add_note(actor, "contacts", contact_id, key=form)
        else:
            links = {"contact_id": contact_id, "account_id": account.id if account is not None else None}
            rec.log_activity(actor, links, today, key=form)
    with left:
        rec.timeline(actor, "contacts", contact_id, everyone)

with details_tab:
    shown = {
        "Email": contact.email,
        "Phone": contact.phone,
        "Mobile": contact.mobile,
        "Job title": contact.title,
        "Department": contact.department,
        "Company": contact.company,
        "Lead source": contact.lead_source,
        "City": contact.address_city,
        "Country": contact.address_country,
        "LinkedIn": contact.social_linkedin,
        "Created": ui.when(contact.created_at),
    }
    cols = st.columns(2)
    for index, (title, value) in enumerate(shown.items()):
        cols[index % 2].markdown(f"**{title}:** {value or rec.NONE}")
    rec.show_custom_values(fields, contact.custom_fields)
    matches = load(actor, duplicates.contact_duplicates_of, contact_id)
    if matches:
        with st.expander(f"Possible duplicates ({len(matches)})", icon=":material/content_copy:"):
            for match in matches:
                why = ", ".join(r.replace("_", " ") for r in match.reasons)
                rec.link("contact", match.record.id, f"{match.record.name} · {why}")
            st.caption("Merge them from the Contacts page, under Duplicates.")

    if actor.can("contacts", "update"):
        st.subheader("Edit")
        seen = rec.seen_version(form, contact.version)
        rec.stale_notice(form, edit_keys, seen, contact.version, "contact")
        owners = rec.assignable(actor, everyone)
        if str(contact.owner_id) not in {p.id for p in owners} and str(contact.owner_id) in everyone:
            owners = [everyone[str(contact.owner_id)], *owners]
        moved_to = ui.pick_record(actor, "Move to another account (optional)", ("accounts",), key=f"{form}_account")
        box = st.container()
        with st.form(f"{form}_edit", clear_on_submit=False):
            cols = st.columns(2)
            first = cols[0].text_input("First name *", value=contact.first_name, key=f"{form}_first")
            last = cols[1].text_input("Last name *", value=contact.last_name, key=f"{form}_last")
            email = cols[0].text_input("Email", value=contact.email or "", key=f"{form}_email")
            phone = cols[1].text_input("Phone", value=contact.phone or "", key=f"{form}_phone")
            mobile = cols[0].text_input("Mobile", value=contact.mobile or "", key=f"{form}_mobile")
            title = cols[1].text_input("Job title", value=contact.title or "", key=f"{form}_title")
            department = cols[0].text_input("Department", value=contact.department or "", key=f"{form}_department")
            company = cols[1].text_input("Company", value=contact.company or "", key=f"{form}_company")
            source = cols[0].text_input("Lead source", value=contact.lead_source or "", key=f"{form}_source")
            statuses = [None, *LEAD_STATUSES]
            status = cols[1].selectbox(
                "Lead status",
                statuses,
                index=statuses.index(contact.lead_status),
                format_func=label,
                key=f"{form}_status",
            )
            stages = [None, *LIFECYCLE_STAGES]
            stage = cols[0].selectbox(
                "Lifecycle stage",
                stages,
                index=stages.index(contact.lifecycle_stage),
                format_func=label,
                key=f"{form}_stage",
            )
            city = cols[1].text_input("City", value=contact.address_city or "", key=f"{form}_city")
            country = cols[0].text_input("Country", value=contact.address_country or "", key=f"{form}_country")
            owner = rec.owner_input("Owner", owners, contact.owner_id, key=f"{form}_owner")
            tags = st.multiselect(
                "Tags",
                sorted({*contact.tags, *load(actor, contacts.tags_in_use)}),
                default=contact.tags,
                accept_new_options=True,
                key=f"{form}_tags",
            )
            values = rec.custom_field_inputs(fields, contact.custom_fields, form)
            if st.form_submit_button("Save changes", type="primary", icon=":material/save:"):
                saved = attempt(
                    actor,
                    lambda s, a: contacts.update(
                        s,
                        a,
                        contact_id,
                        ContactUpdate(
                            first_name=first,
                            last_name=last,
                            email=email.strip() or None,
                            phone=phone.strip() or None,
                            mobile=mobile.strip() or None,
                            title=title.strip() or None,
                            department=department.strip() or None,
                            company=company.strip() or None,
                            lead_source=source.strip() or None,
                            lead_status=status,
                            lifecycle_stage=stage,
                            address_city=city.strip() or None,
                            address_country=country.strip() or None,
                            owner_id=UUID(owner.id) if owner else contact.owner_id,
                            tags=tags,
                            custom_fields=values,
                            version=seen,
                            **({"account_id": moved_to.id} if moved_to is not None else {}),
                        ),
                    ),
                    done=f"Saved {first} {last}",
                    where=box,
                )
                if saved is not None:
                    rec.forget_form(form, [*edit_keys, f"{form}_account_q"])
                    st.rerun()

with deals_tab:
    rec.deal_rows(actor, {"contactId": [str(contact_id)]}, everyone)
    if actor.can("contacts", "update") and actor.can("deals", "create"):
        st.subheader("Convert to deal")
        st.caption(
            "Creates the deal"
            + (
                ""
                if contact.account_id
                else " and, when the contact has none, its account (by email domain or company)"
            )
            + ", and moves the contact to the opportunity stage, all at once."
        )
        found_pipelines = load(actor, lambda s, a: pipelines.to_reads(s, a, pipelines.list_pipelines(s, a)))
        box = st.container()
        with st.form(f"{form}_convert", clear_on_submit=False):
            cols = st.columns(2)
            deal_name = cols[0].text_input(
                "Deal name",
                key=f"{form}_deal_name",
                placeholder=account.name if account is not None else contact.company or name,
            )
            amount = cols[1].number_input("Amount", min_value=0.0, value=None, step=1000.0, key=f"{form}_deal_amount")
            pipeline = cols[0].selectbox(
                "Pipeline",
                found_pipelines,
                index=next((i for i, p in enumerate(found_pipelines) if p.is_default), 0) if found_pipelines else None,
                format_func=lambda p: p.name,
                key=f"{form}_deal_pipeline",
            )
            closes = cols[1].date_input("Expected close", value=today + timedelta(days=30), key=f"{form}_deal_close")
            make_account = True
            if contact.account_id is None:
                make_account = st.checkbox("Create or link an account", value=True, key=f"{form}_deal_account")
            if st.form_submit_button("Convert to deal", type="primary", icon=":material/handshake:"):
                seen = rec.seen_version(form, contact.version)
                result = attempt(
                    actor,
                    lambda s, a: contacts.convert(
                        s,
                        a,
                        contact_id,
                        ContactConvert(
                            deal_name=deal_name.strip() or None,
                            amount=Decimal(str(amount)) if amount is not None else None,
                            pipeline_id=pipeline.id if pipeline is not None else None,
                            expected_close_date=closes,
                            create_account=make_account,
                            version=seen,
                        ),
                    ),
                    done=f"{name} converted to a deal",
                    where=box,
                    clear=(f"{form}_deal_name", f"{form}_deal_amount"),
                )
                if result is not None:
                    made = result.account.name if result.account_created and result.account is not None else None
                    st.session_state[converted_key] = (str(result.deal.id), result.deal.name, made)
                    rec.forget_form(form, edit_keys)
                    st.rerun()

with tasks_tab:
    rec.record_tasks(actor, "contacts", contact_id, today, key=form)
