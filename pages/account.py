"""One account (`?id=`): the company, its timeline of activities and notes, its contacts, deals, child accounts
and tasks; edit it (custom fields included), add a note, log a call, meeting or email, add a task."""

from decimal import Decimal
from uuid import UUID

import streamlit as st

from app.ui import albedo as albedo_ui
from app.ui import churn as churn_ui
from app.ui import insights as anomaly_ui
from app.ui import records as rec
from app.ui import sentiment as sentiment_ui
from app.ui import suggestions as suggestion_ui
from app.ui import widgets as ui
from app.ui.calls import attempt, find, load
from core.accounts import service as accounts
from core.accounts.schemas import AccountUpdate
from core.contacts import service as contacts
from core.deals import service as deals
from core.duplicates import service as duplicates
from core.tenants import calendar

EDIT_FIELDS = (
    "name",
    "website",
    "industry",
    "size",
    "revenue",
    "phone",
    "email",
    "city",
    "country",
    "description",
    "tags",
    "owner",
)

actor = ui.page("account.py")
account_id = rec.parse_id("account")
account = load(actor, lambda s, a: accounts.to_read(s, a, accounts.get(s, a, account_id)))


parent = find(actor, accounts.get, account.parent_id) if account.parent_id else None
everyone = rec.people(actor)
fields = rec.field_defs(actor, "accounts")
today = load(actor, calendar.today)
form = f"ae_{account_id}"
edit_keys = [f"{form}_{n}" for n in EDIT_FIELDS] + list(rec.custom_field_keys(fields, form))
people_here = (
    load(actor, contacts.list_contacts, {"sort": ["lastName,firstName"], "limit": ["100"]}, account_id=account_id)
    if actor.can("contacts", "read")
    else None
)
children = load(actor, accounts.children, account_id, {"sort": ["name"], "limit": ["100"]})
open_deals = (
    load(actor, deals.list_deals, {"accountId": [str(account_id)], "isClosed": ["false"], "limit": ["100"]})
    if actor.can("deals", "read")
    else None
)

st.header(account.name)
albedo_ui.ask_button(actor, "account", account_id, account.name)
about = [v for v in (account.domain, account.industry, account.company_size and f"{account.company_size} people") if v]
st.caption(" · ".join([*about, f"Owner: {rec.owner_name(everyone, account.owner_id)}"]))
if parent is not None:
    rec.link("account", parent.id, f"Part of {parent.name}")
if account.tags:
    st.markdown(" ".join(f":blue-badge[{t}]" for t in account.tags))
anomaly_ui.badges(actor, "accounts", account_id)

tiles = st.columns(4)
tiles[0].metric("Annual revenue", ui.money(account.annual_revenue))
tiles[1].metric("Contacts", (people_here.total or 0) if people_here is not None else rec.NONE)
tiles[2].metric("Open deals", (open_deals.total or 0) if open_deals is not None else rec.NONE)
tiles[3].metric(
    "Open pipeline",
    ui.money(sum(float(d.get("amount") or 0) for d in open_deals.items)) if open_deals is not None else rec.NONE,
)

churn_ui.risk_badge(actor, account_id)
suggestion_ui.for_record(actor, "accounts", account_id)

timeline_tab, details_tab, contacts_tab, deals_tab, children_tab, tasks_tab = st.tabs(
    ["Timeline", "Details", "Contacts", "Deals", "Child accounts", "Tasks"]
)

with timeline_tab:
    left, right = st.columns([3, 2])
    with right:
        adding = st.segmented_control("Add", ["Note", "Activity"], default="Note", key=f"{form}_add", required=True)
        if adding == "Note":
            rec.add_note(actor, "accounts", account_id, key=form)
        else:
            rec.log_activity(actor, {"account_id": account_id}, today, key=form)
    with left:
        rec.timeline(actor, "accounts", account_id, everyone)
    with right:
        sentiment_ui.account_trend(actor, account_id)

with details_tab:
    shown = {
        "Website": account.website,
        "Domain": account.domain,
        "Industry": account.industry,
        "Company size": account.company_size,
        "Annual revenue": ui.money(account.annual_revenue) if account.annual_revenue is not None else None,
        "Phone": account.phone,
        "Email": account.email,
        "City": account.address_city,
        "Country": account.address_country,
        "Created": ui.when(account.created_at),
    }
    cols = st.columns(2)
    for index, (title, value) in enumerate(shown.items()):
        cols[index % 2].markdown(f"**{title}:** {value or rec.NONE}")
    if account.description:
        st.markdown(f"**Description:** {account.description}")
    rec.show_custom_values(fields, account.custom_fields)
    matches = load(actor, duplicates.account_duplicates_of, account_id)
    if matches:
        with st.expander(f"Possible duplicates ({len(matches)})", icon=":material/content_copy:"):
            for match in matches:
                why = ", ".join(r.replace("_", " ") for r in match.reasons)
                rec.link("account", match.record.id, f"{match.record.name} · {why}")
            st.caption("Merge them from the Accounts page, under Duplicates.")

    if actor.can("accounts", "update"):
        st.subheader("Edit")
        seen = rec.seen_version(form, account.version)
        rec.stale_notice(form, edit_keys, seen, account.version, "account")
        owners = rec.assignable(actor, everyone)
        if str(account.owner_id) not in {p.id for p in owners} and str(account.owner_id) in everyone:
            owners = [everyone[str(account.owner_id)], *owners]
        box = st.container()
        with st.form(f"{form}_edit", clear_on_submit=False):
            cols = st.columns(2)
            name = cols[0].text_input("Name *", value=account.name, key=f"{form}_name")
            website = cols[1].text_input("Website", value=account.website or "", key=f"{form}_website")
            industry = cols[0].text_input("Industry", value=account.industry or "", key=f"{form}_industry")
            sizes = [None, *rec.COMPANY_SIZES] + (
                [account.company_size] if account.company_size not in (None, *rec.COMPANY_SIZES) else []
            )
            size = cols[1].selectbox(
                "Company size",
                sizes,
                index=sizes.index(account.company_size),
                format_func=lambda v: rec.NONE if v is None else v,
                key=f"{form}_size",
            )
            revenue = cols[0].number_input(
                "Annual revenue",
                min_value=0.0,
                value=float(account.annual_revenue) if account.annual_revenue is not None else None,
                step=1000.0,
                key=f"{form}_revenue",
            )
            phone = cols[1].text_input("Phone", value=account.phone or "", key=f"{form}_phone")
            email = cols[0].text_input("Email", value=account.email or "", key=f"{form}_email")
            city = cols[1].text_input("City", value=account.address_city or "", key=f"{form}_city")
            country = cols[0].text_input("Country", value=account.address_country or "", key=f"{form}_country")
            owner = rec.owner_input("Owner", owners, account.owner_id, key=f"{form}_owner")
            description = st.text_area("Description", value=account.description or "", key=f"{form}_description")
            tags = st.multiselect(
                "Tags",
                sorted({*account.tags, *load(actor, accounts.tags_in_use)}),
                default=account.tags,
                accept_new_options=True,
                key=f"{form}_tags",
            )
            values = rec.custom_field_inputs(fields, account.custom_fields, form)
            if st.form_submit_button("Save changes", type="primary", icon=":material/save:"):
                saved = attempt(
                    actor,
                    lambda s, a: accounts.update(
                        s,
                        a,
                        account_id,
                        AccountUpdate(
                            name=name,
                            website=website.strip() or None,
                            industry=industry.strip() or None,
                            company_size=size,
                            annual_revenue=Decimal(str(revenue)) if revenue is not None else None,
                            phone=phone.strip() or None,
                            email=email.strip() or None,
                            address_city=city.strip() or None,
                            address_country=country.strip() or None,
                            description=description.strip() or None,
                            owner_id=UUID(owner.id) if owner else account.owner_id,
                            tags=tags,
                            custom_fields=values,
                            version=seen,
                        ),
                    ),
                    done=f"Saved {name}",
                    where=box,
                )
                if saved is not None:
                    rec.forget_form(form, edit_keys)
                    st.rerun()

with contacts_tab:
    if people_here is None:
        ui.empty("Your role cannot see contacts.")
    elif not people_here.items:
        ui.empty("No contacts at this account yet.")
    for person in people_here.items if people_here is not None else []:
        extra = " · ".join(v for v in (person.get("title"), person.get("email")) if v)
        rec.link("contact", person["id"], f"{rec.CONTACTS.label(person)}" + (f" · {extra}" if extra else ""))
    if people_here is not None and (people_here.total or 0) > len(people_here.items):
        st.caption(f"The first {len(people_here.items)} of {people_here.total} contacts.")

with deals_tab:
    rec.deal_rows(actor, {"accountId": [str(account_id)]}, everyone)

with children_tab:
    if not children.items:
        ui.empty("No child accounts.")
    for child in children.items:
        rec.link("account", child["id"], " · ".join(v for v in (child["name"], child.get("industry")) if v))

with tasks_tab:
    rec.record_tasks(actor, "accounts", account_id, today, key=form)
