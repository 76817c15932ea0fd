"""Accounts: search and filter the companies the user may see, select some to tag, assign or delete together,
add an account (with the workspace's custom fields), and merge likely duplicates."""

from decimal import Decimal
from uuid import UUID

import streamlit as st

from app.ui import records as rec
from app.ui import widgets as ui
from app.ui.calls import attempt, load
from core.accounts import service as accounts
from core.accounts.schemas import AccountCreate
from core.duplicates import service as duplicates

KIND = rec.ACCOUNTS
SORTS = {
    "Newest first": "-createdAt",
    "Name A–Z": "name",
    "Annual revenue, highest first": "-annualRevenue",
    "Recently updated": "-updatedAt",
    "Oldest first": "createdAt",
}
CREATED = "accounts_created"

actor = ui.page("accounts.py")
everyone = rec.people(actor)
owners = rec.assignable(actor, everyone)
views = ["All accounts"]
if actor.can("accounts", "create"):
    views.append("Add account")
views.append("Duplicates")
view = st.segmented_control(
    "View", views, default=views[0], key="accounts_view", required=True, label_visibility="collapsed"
)

if view == "All accounts":
    industries = load(actor, accounts.industries_in_use)
    tag_options = load(actor, accounts.tags_in_use)
    top = st.columns([3, 2, 2, 2])
    search = top[0].text_input("Search", key="accounts_search", placeholder="Name, domain or city")
    sort = top[1].selectbox("Sort by", list(SORTS), key="accounts_sort")
    chosen_industries = top[2].multiselect("Industry", industries, key="accounts_industry")
    owner_ids: list[str] = []
    if actor.scope != "own":
        owner_ids = top[3].multiselect(
            "Owner",
            sorted(everyone, key=lambda i: everyone[i].name.lower()),
            format_func=lambda i: everyone[i].name,
            key="accounts_owner",
        )
    filters = {
        "search": [search.strip()] if search.strip() else [],
        "industry": [",".join(chosen_industries)] if chosen_industries else [],
        "ownerId": [",".join(owner_ids)] if owner_ids else [],
        "sort": [SORTS[sort]],
    }
    state = rec.list_state(KIND, filters)
    found = load(actor, accounts.list_accounts, state.params)
    rec.clamp_page(KIND, state, found)
    rec.bulk_failures(KIND)
    if not found.items:
        narrowed = any(v for k, v in filters.items() if k != "sort")
        ui.empty("No account matches these filters." if narrowed else "No accounts yet: add the first one.")
    else:
        rows = [
            {
                "Name": a["name"],
                "Owner": rec.owner_name(everyone, a.get("ownerId")),
                "Industry": a.get("industry") or "",
                "Size": a.get("companySize") or "",
                "Annual revenue": float(a["annualRevenue"]) if a.get("annualRevenue") is not None else None,
                "City": a.get("addressCity") or "",
                "Domain": a.get("domain") or "",
                "Tags": a.get("tags") or [],
                "Created": (a.get("createdAt") or "")[:10],
            }
            for a in found.items
        ]
        selected = rec.record_table(
            KIND,
            found.items,
            rows,
            state,
            {
                "Annual revenue": st.column_config.NumberColumn("Annual revenue (USD)", format="compact"),
                "Tags": st.column_config.ListColumn("Tags"),
            },
        )
        rec.pager(KIND, state, found.total or 0)
        rec.bulk_actions(KIND, actor, selected, owners, tag_options)

elif view == "Add account":
    created = st.session_state.get(CREATED)
    if created:
        new_id, name = created
        with st.container(border=True):
            rec.link("account", new_id, f"Open {name}")
            matches = load(actor, duplicates.account_duplicates_of, UUID(new_id))
            if matches:
                st.warning(
                    f"{name} looks like an account you already have; merge them under Duplicates if so.",
                    icon=":material/content_copy:",
                )
                for match in matches:
                    why = ", ".join(r.replace("_", " ") for r in match.reasons)
                    rec.link("account", match.record.id, f"{match.record.name} · {why}")
    fields = rec.field_defs(actor, "accounts")
    box = st.container()
    keys = (
        "ca_name",
        "ca_website",
        "ca_industry",
        "ca_size",
        "ca_revenue",
        "ca_phone",
        "ca_email",
        "ca_tags",
        *rec.custom_field_keys(fields, "ca"),
    )
    with st.form("account_create", clear_on_submit=False):
        cols = st.columns(2)
        name = cols[0].text_input("Name *", key="ca_name")
        website = cols[1].text_input("Website", key="ca_website", placeholder="https://example.com")
        industry = cols[0].selectbox(
            "Industry",
            load(actor, accounts.industries_in_use),
            index=None,
            accept_new_options=True,
            key="ca_industry",
            placeholder="Choose or type an industry",
        )
        size = cols[1].selectbox("Company size", rec.COMPANY_SIZES, index=None, key="ca_size", placeholder="Employees")
        revenue = cols[0].number_input("Annual revenue", min_value=0.0, value=None, step=1000.0, key="ca_revenue")
        phone = cols[1].text_input("Phone", key="ca_phone")
        email = cols[0].text_input("Email", key="ca_email")
        owner = rec.owner_input("Owner", owners, actor.user_id, key="ca_owner") if len(owners) > 1 else None
        chosen_tags = st.multiselect("Tags", load(actor, accounts.tags_in_use), key="ca_tags", accept_new_options=True)
        values = rec.custom_field_inputs(fields, {}, "ca")
        if st.form_submit_button("Add account", type="primary", icon=":material/add_business:"):
            made = attempt(
                actor,
                lambda s, a: accounts.create(
                    s,
                    a,
                    AccountCreate(
                        name=name,
                        website=website.strip() or None,
                        industry=(industry or "").strip() or None,
                        company_size=size,
                        annual_revenue=Decimal(str(revenue)) if revenue is not None else None,
                        phone=phone.strip() or None,
                        email=email.strip() or None,
                        tags=chosen_tags,
                        owner_id=UUID(owner.id) if owner else None,
                        custom_fields=values,
                    ),
                ),
                done=f"Account {name} added",
                where=box,
                clear=keys,
            )
            if made is not None:
                st.session_state[CREATED] = (str(made.id), made.name)
                st.rerun()

else:
    st.caption("Accounts with the same web domain, or a similar name once legal suffixes are dropped.")
    rec.duplicate_pairs(KIND, actor)
