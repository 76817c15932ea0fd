"""Accounts and contacts services on the real database: what a user of the CRM (or a job, or Albedo) relies on."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from pydantic_core import to_json
from sqlalchemy import event, select

from core.accounts import service as accounts
from core.accounts.schemas import AccountCreate, AccountReplace, AccountUpdate, domain_of
from core.contacts import service as contacts
from core.contacts.schemas import ContactConvert, ContactCreate, ContactReplace, ContactUpdate
from core.custom_fields import service as custom_fields
from core.custom_fields.schemas import CustomFieldCreate
from core.db import app_engine, unit_of_work
from core.deals.models import Deal
from core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from core.events.models import Event
from core.ids import new_id
from core.models import Account, Contact, Pipeline, Stage
from core.users import service as users
from core.users.schemas import TeamCreate, UserUpdate
from tests.core.conftest import owner_rows


def q(**params: str) -> dict[str, list[str]]:
    return {k: [v] for k, v in params.items()}


def make_account(world, actor=None, **fields) -> Account:
    actor = actor or world.admin
    with unit_of_work(actor) as session:
        return accounts.create(session, actor, AccountCreate(**{"name": "Acme", **fields}))


def make_contact(world, actor=None, **fields) -> Contact:
    actor = actor or world.admin
    with unit_of_work(actor) as session:
        return contacts.create(
            session, actor, ContactCreate(**{"first_name": "Ada", "last_name": "Lovelace", **fields})
        )


def events_of(world, entity_id) -> list[tuple[str, dict]]:
    with unit_of_work(world.admin) as session:
        rows = session.scalars(select(Event).where(Event.entity_id == entity_id).order_by(Event.created_at, Event.id))
        return [(e.type, e.payload) for e in rows]


# Accounts --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("website", "email", "domain"),
    [
        ("https://www.Acme.com/about?x=1", None, "acme.com"),
        ("acme.io", "sales@other.com", "acme.io"),
        (None, "Sales@Example.CO.UK", "example.co.uk"),
        ("http://user@münchen.de:8080/x", None, "münchen.de"),
        ("not a site", None, None),
    ],
)
def test_domain_is_the_bare_lowercase_host_of_the_website_else_of_the_email(website, email, domain):
    assert domain_of(website, email) == domain


def test_an_account_is_created_with_its_domain_owner_and_event(tenant):
    account = make_account(tenant, website="https://www.ACME.com", annual_revenue=Decimal("1500000.50"))
    assert (account.domain, account.owner_id, account.version) == ("acme.com", tenant.admin_id, 1)
    [(kind, payload)] = events_of(tenant, account.id)
    assert kind == "account.created" and payload["record"]["domain"] == "acme.com"
    assert payload["record"]["annualRevenue"] == "1500000.50"


def test_patch_changes_only_what_is_sent_and_put_replaces_the_rest(tenant):
    account = make_account(tenant, industry="SaaS", website="acme.com", tags=["vip"])
    admin = tenant.admin
    with unit_of_work(admin) as session:
        patched = accounts.update(session, admin, account.id, AccountUpdate(email="Info@Acme.org", version=1))
        assert (patched.industry, patched.email, patched.domain, patched.tags) == (
            "SaaS",
            "info@acme.org",
            "acme.com",
            ["vip"],
        )
        assert patched.version == 2
    with unit_of_work(admin) as session:
        replaced = accounts.replace(session, admin, account.id, AccountReplace(name="Acme Ltd", email="info@acme.org"))
        assert (replaced.name, replaced.industry, replaced.website, replaced.tags) == ("Acme Ltd", None, None, [])
        assert replaced.domain == "acme.org" and replaced.owner_id == tenant.admin_id  # PUT keeps the owner
    kinds = [k for k, _ in events_of(tenant, account.id)]
    assert kinds == ["account.created", "account.updated", "account.updated"]
    changed = events_of(tenant, account.id)[1][1]["changed"]
    assert set(changed) == {"email"}  # the domain comes from the website, which did not change


def test_a_stale_version_is_a_conflict_and_changes_nothing(tenant):
    account = make_account(tenant)
    admin = tenant.admin
    with unit_of_work(admin) as session:
        accounts.update(session, admin, account.id, AccountUpdate(name="Acme 2"))
    with pytest.raises(Conflict) as raised, unit_of_work(admin) as session:
        accounts.update(session, admin, account.id, AccountUpdate(name="Acme 3", version=1))
    assert raised.value.code == "VERSION_CONFLICT" and raised.value.details == {"currentVersion": 2}
    with unit_of_work(admin) as session:
        assert accounts.get(session, admin, account.id).name == "Acme 2"


def test_the_hierarchy_refuses_cycles_foreign_parents_and_lists_children(tenant, other_tenant):
    top = make_account(tenant, name="Top")
    middle = make_account(tenant, name="Middle", parent_id=top.id)
    bottom = make_account(tenant, name="Bottom", parent_id=middle.id)
    foreign = make_account(other_tenant, name="Foreign")
    admin = tenant.admin
    for account_id, parent_id, why in [
        (top.id, bottom.id, "cycle"),
        (top.id, top.id, "own parent"),
        (middle.id, foreign.id, "no such account"),
    ]:
        with pytest.raises(ValidationFailed) as raised, unit_of_work(admin) as session:
            accounts.update(session, admin, account_id, AccountUpdate(parent_id=parent_id))
        assert raised.value.details[0]["field"] == "parentId" and why in raised.value.details[0]["message"]
    with pytest.raises(ValidationFailed), unit_of_work(admin) as session:
        accounts.create(session, admin, AccountCreate(name="Orphan", parent_id=foreign.id))
    with unit_of_work(admin) as session:
        page = accounts.children(session, admin, top.id, {})
        assert [i["name"] for i in page.items] == ["Middle"]
        accounts.update(session, admin, bottom.id, AccountUpdate(parent_id=top.id))  # a move that is no cycle
        assert sorted(i["name"] for i in accounts.children(session, admin, top.id, {}).items) == ["Bottom", "Middle"]
        with pytest.raises(NotFound):
            accounts.children(session, admin, foreign.id, {})


def test_account_lists_filter_sort_and_select(tenant):
    for name, industry, revenue, size, tags in [
        ("Alpha Robotics", "Robotics", "5000000", "51-200", ["vip"]),
        ("Beta Foods", "Food", "120000", "11-50", []),
        ("Gamma Robotics", "Robotics", "900000", "11-50", ["vip", "eu"]),
    ]:
        make_account(
            tenant, name=name, industry=industry, annual_revenue=Decimal(revenue), company_size=size, tags=tags
        )
    admin = tenant.admin
    with unit_of_work(admin) as session:

        def names(**params):
            return [i["name"] for i in accounts.list_accounts(session, admin, q(**params)).items]

        assert names(industry="Robotics", sort="name") == ["Alpha Robotics", "Gamma Robotics"]
        assert names(**{"annualRevenue[gte]": "500000", "sort": "-annualRevenue"}) == [
            "Alpha Robotics",
            "Gamma Robotics",
        ]
        assert names(**{"name[contains]": "foo"}) == ["Beta Foods"]
        assert names(companySize="11-50", tags="vip") == ["Gamma Robotics"]
        assert names(search="robot", sort="-name") == ["Gamma Robotics", "Alpha Robotics"]
        page = accounts.list_accounts(session, admin, q(fields="name,domain", sort="name", limit="1"))
        assert page.items == [{"id": page.items[0]["id"], "name": "Alpha Robotics", "domain": None}]
        assert page.total == 3
        with pytest.raises(ValidationFailed) as raised:
            accounts.list_accounts(session, admin, q(shoeSize="42", sort="-colour"))
        assert {d["field"] for d in raised.value.details} == {"shoeSize", "colour"}


def test_account_deals_are_the_visible_deals_of_the_account(tenant):
    account = make_account(tenant)
    admin = tenant.admin
    with unit_of_work(admin) as session:
        pipeline_id = session.scalar(select(Pipeline.id).where(Pipeline.tenant_id == tenant.tenant_id))
        stage_id = session.scalar(
            select(Stage.id).where(Stage.pipeline_id == pipeline_id).order_by(Stage.display_order)
        )
        for name in ("First", "Second"):
            session.add(
                Deal(
                    id=new_id(),
                    tenant_id=tenant.tenant_id,
                    owner_id=tenant.admin_id,
                    pipeline_id=pipeline_id,
                    stage_id=stage_id,
                    account_id=account.id,
                    name=name,
                )
            )
    with unit_of_work(admin) as session:
        deals, total = accounts.list_deals(session, admin, account.id, page=1, limit=1)
        assert total == 2 and len(deals) == 1 and deals[0].stage_name


# Owners and record scope -----------------------------------------------------------------------------------


@pytest.fixture
def team_world(tenant):
    """A manager and a rep in team A, a rep in team B, and an inactive user."""
    admin = tenant.admin
    with unit_of_work(admin) as session:
        team_a = users.create_team(session, admin, TeamCreate(name="A")).id
        team_b = users.create_team(session, admin, TeamCreate(name="B")).id
    ids = {
        "manager": tenant.add_user("manager", team_id=team_a),
        "rep": tenant.add_user("rep", team_id=team_a),
        "other_rep": tenant.add_user("rep", team_id=team_b),
        "gone": tenant.add_user("rep", team_id=team_a),
    }
    with unit_of_work(admin) as session:
        users.update(session, admin, ids["gone"], UserUpdate(is_active=False))
    actors = {name: tenant.actor(user_id) for name, user_id in ids.items() if name != "gone"}
    return tenant, ids, actors


def test_owners_must_be_active_users_the_actor_may_assign_to(team_world, other_tenant):
    world, ids, actors = team_world
    rep, manager = actors["rep"], actors["manager"]
    assert make_contact(world, rep).owner_id == ids["rep"]  # defaults to the actor
    assert make_contact(world, manager, owner_id=ids["rep"]).owner_id == ids["rep"]  # a team member
    for actor, owner in [
        (rep, ids["manager"]),  # "own" scope: only yourself
        (manager, ids["other_rep"]),  # "team" scope: not another team
        (world.admin, ids["gone"]),  # inactive
        (world.admin, other_tenant.admin_id),  # another tenant
        (world.admin, new_id()),  # nobody
    ]:
        with pytest.raises(ValidationFailed) as raised, unit_of_work(actor) as session:
            contacts.create(session, actor, ContactCreate(first_name="X", last_name="Y", owner_id=owner))
        assert raised.value.details[0]["field"] == "ownerId"


def test_record_scope_own_team_all_for_reads_writes_and_lists(team_world):
    world, ids, actors = team_world
    mine = make_contact(world, actors["rep"], last_name="Mine")
    theirs = make_contact(world, actors["other_rep"], last_name="Theirs")
    bosses = make_contact(world, actors["manager"], last_name="Boss")
    account = make_account(world, actors["other_rep"])

    def visible(actor) -> set[str]:
        with unit_of_work(actor) as session:
            return {i["lastName"] for i in contacts.list_contacts(session, actor, {}).items}

    assert visible(actors["rep"]) == {"Mine"}
    assert visible(actors["manager"]) == {"Mine", "Boss"}
    assert visible(world.admin) == {"Mine", "Theirs", "Boss"}
    rep = actors["rep"]
    for call in (
        lambda s: contacts.get(s, rep, theirs.id),
        lambda s: contacts.update(s, rep, bosses.id, ContactUpdate(lead_score=5)),
        lambda s: accounts.get(s, rep, account.id),
    ):
        with pytest.raises(NotFound), unit_of_work(rep) as session:
            call(session)
    with pytest.raises(ValidationFailed) as raised, unit_of_work(rep) as session:  # linking to an unseen account
        contacts.update(session, rep, mine.id, ContactUpdate(account_id=account.id))
    assert raised.value.details[0]["field"] == "accountId"
    with pytest.raises(PermissionDenied), unit_of_work(rep) as session:  # reps do not delete contacts
        contacts.delete(session, rep, mine.id)


def test_a_list_shape_compiled_once_takes_each_requests_own_values(team_world, other_tenant):
    """The statements of a list shape are compiled once (core/records/query.py, `compiled_page`); every later
    request of the shape brings its own tenant, user and filter values."""
    world, _, actors = team_world
    for actor, name in ((actors["rep"], "Mine"), (actors["other_rep"], "Theirs")):
        for score in (10, 50, 90):
            make_contact(world, actor, last_name=f"{name}{score}", lead_score=score, lead_status="new")
    make_contact(other_tenant, last_name="Elsewhere90", lead_score=90, lead_status="new")

    def names(actor, **params: str) -> list[str]:
        with unit_of_work(actor) as session:
            found = contacts.list_contacts(session, actor, q(leadStatus="new,contacted", sort="-leadScore", **params))
            return [i["lastName"] for i in found.items]

    for _ in range(2):  # the second round runs the compiled statements
        assert names(actors["rep"], **{"leadScore[gte]": "50"}) == ["Mine90", "Mine50"]
        assert names(actors["other_rep"], **{"leadScore[gte]": "50"}) == ["Theirs90", "Theirs50"]
        assert names(actors["other_rep"], **{"leadScore[gte]": "20"}) == ["Theirs90", "Theirs50"]
        assert names(actors["rep"], **{"leadScore[gte]": "0"}) == ["Mine90", "Mine50", "Mine10"]
        assert names(other_tenant.admin, **{"leadScore[gte]": "0"}) == ["Elsewhere90"]
        walked, cursor = [], ""
        while cursor is not None:
            with unit_of_work(world.admin) as session:
                page = contacts.list_contacts(
                    session,
                    world.admin,
                    q(sort="-leadScore,lastName", limit="2", cursor=cursor, **{"leadScore[gte]": "0"}),
                )
            walked += [i["lastName"] for i in page.items]
            cursor = page.next_cursor
        assert walked == ["Mine90", "Theirs90", "Mine50", "Theirs50", "Mine10", "Theirs10"]


# Contacts --------------------------------------------------------------------------------------------------


def test_a_contact_keeps_every_column_and_normalises_only_email_and_tags(tenant):
    account = make_account(tenant)
    contact = make_contact(
        tenant,
        email="Ada.Lovelace@Example.COM",
        phone="+44 (0)20 7946 0958",
        mobile="07700 900123",
        title="Countess",
        department="Analytics",
        company="Analytical Engines Ltd",
        lead_source="Referral",
        lead_status="qualified",
        lifecycle_stage="mql",
        lead_score=88,
        tags=["vip", "math", "vip"],
        address_street="12 St James's Square",
        address_city="London",
        address_state="Greater London",
        address_postal_code="SW1Y 4JH",
        address_country="UK",
        social_linkedin="https://linkedin.com/in/ada",
        social_twitter="@ada",
        social_facebook="ada.l",
        notes="First programmer.\nLikes engines.",
        account_id=account.id,
    )
    with unit_of_work(tenant.admin) as session:
        read = contacts.to_read(session, tenant.admin, contacts.get(session, tenant.admin, contact.id))
    assert read.email == "ada.lovelace@example.com" and read.phone == "+44 (0)20 7946 0958"
    assert read.tags == ["vip", "math"] and read.account_id == account.id and read.last_contacted_at is None
    assert (read.lead_status, read.lifecycle_stage, read.lead_score, read.address_postal_code) == (
        "qualified",
        "mql",
        88,
        "SW1Y 4JH",
    )


def test_contact_put_patch_version_delete_and_events(tenant):
    contact = make_contact(tenant, title="Countess", lead_score=10)
    admin = tenant.admin
    with unit_of_work(admin) as session:
        contacts.update(session, admin, contact.id, ContactUpdate(lead_score=20, version=1))
    with unit_of_work(admin) as session:
        unchanged = contacts.update(session, admin, contact.id, ContactUpdate(lead_score=20))
        assert unchanged.version == 2  # nothing changed: no new version, no event
    with unit_of_work(admin) as session:
        replaced = contacts.replace(session, admin, contact.id, ContactReplace(first_name="Ada", last_name="King"))
        assert (replaced.title, replaced.lead_score, replaced.lead_status, replaced.version) == (None, 0, "new", 3)
    with pytest.raises(Conflict), unit_of_work(admin) as session:
        contacts.replace(session, admin, contact.id, ContactReplace(first_name="A", last_name="B", version=2))
    with unit_of_work(admin) as session:
        contacts.delete(session, admin, contact.id)
    with pytest.raises(NotFound), unit_of_work(admin) as session:
        contacts.get(session, admin, contact.id)
    assert owner_rows("SELECT deleted_at IS NOT NULL FROM contacts WHERE id = :id", id=contact.id)[0][0]
    found = events_of(tenant, contact.id)
    assert [k for k, _ in found] == ["contact.created", "contact.updated", "contact.updated", "contact.deleted"]
    assert found[1][1]["changed"] == ["leadScore"] and found[1][1]["record"]["leadScore"] == 20


def test_custom_fields_are_written_returned_filtered_and_sorted(tenant):
    admin = tenant.admin
    with unit_of_work(admin) as session:
        for name, kind, options in [("tier", "select", ["gold", "silver"]), ("budget", "number", None)]:
            custom_fields.create(
                session,
                admin,
                CustomFieldCreate(
                    entity_type="contacts", field_name=name, field_label=name, field_type=kind, field_options=options
                ),
            )
    gold = make_contact(tenant, last_name="Gold", custom_fields={"tier": "gold", "budget": 900})
    make_contact(tenant, last_name="Silver", custom_fields={"tier": "silver", "budget": 100})
    make_contact(tenant, last_name="None")
    with unit_of_work(admin) as session:

        def names(**params):
            return [i["lastName"] for i in contacts.list_contacts(session, admin, q(**params)).items]

        assert names(**{"cf.tier": "gold"}) == ["Gold"]
        assert names(**{"cf.budget[gte]": "50", "sort": "cf.budget"}) == ["Silver", "Gold"]
        assert names(**{"sort": "-cf.budget", "cursor": "", "limit": "1"}) == ["Gold"]
        page = contacts.list_contacts(session, admin, q(fields="lastName,cf.tier", sort="lastName"))
        assert page.items[0] == {
            "id": gold.id and page.items[0]["id"],
            "lastName": "Gold",
            "customFields": {"tier": "gold"},
        }
        contacts.update(session, admin, gold.id, ContactUpdate(custom_fields={"budget": 1000}))
        read = contacts.to_read(session, admin, contacts.get(session, admin, gold.id))
        assert read.custom_fields == {"tier": "gold", "budget": 1000} and read.version == 2
    with pytest.raises(ValidationFailed) as raised, unit_of_work(admin) as session:
        contacts.update(session, admin, gold.id, ContactUpdate(custom_fields={"tier": "platinum", "shoe": 1}))
    assert {d["field"] for d in raised.value.details} == {"customFields.tier", "customFields.shoe"}


def make_tier_field(world) -> None:
    """A text custom field `tier` on contacts."""
    with unit_of_work(world.admin) as session:
        custom_fields.create(
            session,
            world.admin,
            CustomFieldCreate(entity_type="contacts", field_name="tier", field_label="Tier", field_type="text"),
        )


def test_a_list_page_reads_custom_fields_in_one_query_whatever_its_size(tenant):
    admin = tenant.admin
    make_tier_field(tenant)
    for i in range(12):
        make_contact(tenant, last_name=f"P{i:02}", custom_fields={"tier": f"t{i}"})

    def statements(limit: str) -> int:
        seen: list[str] = []

        def count(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
            seen.append(statement)

        event.listen(app_engine(), "before_cursor_execute", count)
        try:
            with unit_of_work(admin) as session:
                items = contacts.list_contacts(session, admin, q(limit=limit)).items
                assert len(items) == int(limit) and all(i["customFields"] for i in items)
        finally:
            event.remove(app_engine(), "before_cursor_execute", count)
        return len(seen)

    assert statements("2") == statements("12")


def test_a_list_page_for_the_json_encoder_writes_what_the_serializer_does(tenant):
    """The API's page (`json_ready=False`: UUIDs and datetimes left to pydantic-core's encoder) is the same JSON as
    each contact serialized on its own, offset and cursor pages, with tags, custom fields and `fields=` alike."""
    admin = tenant.admin
    make_tier_field(tenant)
    account = make_account(tenant, name="Initech")
    made = [
        make_contact(
            tenant, last_name="Tagged", tags=["vip", "ünïcode"], account_id=account.id, custom_fields={"tier": "a"}
        ),
        make_contact(tenant, last_name="Plain", email="plain@example.com", lead_score=70),
    ]
    with unit_of_work(admin) as session:
        for params in (q(sort="lastName"), q(sort="-leadScore", cursor=""), q(fields="tags,cf.tier", sort="lastName")):
            ready = contacts.list_contacts(session, admin, params)
            raw = contacts.list_contacts(session, admin, params, json_ready=False)
            assert to_json(raw.items) == to_json(ready.items)
            assert (raw.total, raw.next_cursor) == (ready.total, ready.next_cursor)
        expected = {
            str(c.id): contacts.serialize(contacts.get(session, admin, c.id), {"tier": "a"} if c is made[0] else {})
            for c in made
        }
        listed = contacts.list_contacts(session, admin, q(sort="lastName"), json_ready=False).items
    assert [json.loads(to_json(item)) for item in listed] == [expected[str(made[1].id)], expected[str(made[0].id)]]


def test_bulk_create_update_and_delete_report_each_item(team_world):
    world, ids, actors = team_world
    manager = actors["manager"]
    theirs = make_contact(world, actors["other_rep"])  # another team: invisible to the manager
    with unit_of_work(manager) as session:
        created = contacts.bulk_create(
            session,
            manager,
            [
                {"firstName": "Good", "lastName": "One"},
                {"firstName": "Bad", "lastName": "Score", "leadScore": 101},
                {"firstName": "Bad", "lastName": "Field", "shoeSize": 42},
                {"firstName": "Bad", "lastName": "Owner", "ownerId": str(ids["other_rep"])},
                "not an object",
                {"firstName": "Good", "lastName": "Two", "ownerId": str(ids["rep"])},
            ],
        ).summary("created")
    assert (created["created"], created["failed"]) == (2, 4)
    results = created["results"]
    assert [r["success"] for r in results] == [True, False, False, False, False, True]
    assert results[1]["error"]["details"][0]["field"] == "leadScore"
    assert results[2]["error"]["details"][0]["message"] == "unknown field: remove it"
    assert results[3]["error"]["details"][0]["field"] == "ownerId"
    good = [r["id"] for r in results if r["success"]]
    assert len(owner_rows("SELECT id FROM contacts WHERE id = ANY(:ids)", ids=good)) == 2
    assert (
        owner_rows(
            "SELECT count(*) FROM contacts WHERE tenant_id = :t AND last_name IN ('Score', 'Field', 'Owner')",
            t=world.tenant_id,
        )[0][0]
        == 0
    )

    with unit_of_work(manager) as session:
        updated = contacts.bulk_update(
            session, manager, [good[0], theirs.id, good[1]], ContactUpdate(lead_status="qualified", tags=["hot"])
        ).summary("updated")
    assert (updated["updated"], updated["failed"]) == (2, 1)
    assert updated["results"][1] == {
        "index": 1,
        "success": False,
        "id": str(theirs.id),
        "error": {"code": "NOT_FOUND", "message": "Contact not found", "details": None},
    }
    assert owner_rows("SELECT lead_status FROM contacts WHERE id = :id", id=theirs.id)[0][0] == "new"
    with unit_of_work(manager) as session:
        deleted = contacts.bulk_delete(session, manager, [theirs.id, good[0]]).summary("deleted")
    assert (deleted["deleted"], deleted["failed"]) == (1, 1)
    assert owner_rows("SELECT deleted_at IS NULL FROM contacts WHERE id = :id", id=theirs.id)[0][0]
    with pytest.raises(ValidationFailed), unit_of_work(manager) as session:
        contacts.bulk_delete(session, manager, [new_id()] * 101)


# Conversion ------------------------------------------------------------------------------------------------


def test_convert_creates_the_account_moves_the_stage_and_creates_the_deal(tenant):
    contact = make_contact(tenant, email="ada@analytical.io", company="Analytical Engines", lead_source="Web")
    admin = tenant.admin
    with unit_of_work(admin) as session:
        result = contacts.convert(session, admin, contact.id, ContactConvert(amount=Decimal("5000")))
        read = contacts.conversion_read(session, admin, result)
    assert read.account_created and read.account is not None
    assert (read.account.name, read.account.domain, read.account.owner_id) == (
        "Analytical Engines",
        "analytical.io",
        contact.owner_id,
    )
    assert read.contact.account_id == read.account.id and read.contact.lifecycle_stage == "opportunity"
    assert (read.deal.name, read.deal.amount, read.deal.contact_id, read.deal.account_id, read.deal.lead_source) == (
        "Analytical Engines",
        Decimal("5000.00"),
        contact.id,
        read.account.id,
        "Web",
    )
    assert read.deal.stage_name == "Prospecting"
    assert [k for k, _ in events_of(tenant, contact.id)][-1] == "contact.converted"

    colleague = make_contact(tenant, first_name="Charles", last_name="Babbage", email="cb@analytical.io")
    with unit_of_work(admin) as session:  # the same business domain links the existing account
        again = contacts.convert(session, admin, colleague.id, ContactConvert(deal_name="Engine No. 2"))
        assert not again.account_created and again.account is not None and again.account.id == read.account.id
    free = make_contact(tenant, email="someone@gmail.com")
    with unit_of_work(admin) as session:  # nothing to name an account after: a deal without one
        alone = contacts.convert(session, admin, free.id, ContactConvert())
        assert alone.account is None and alone.deal.account_id is None and alone.deal.name == "Ada Lovelace"


def test_convert_is_one_transaction_a_failing_deal_leaves_no_trace(tenant):
    contact = make_contact(tenant, email="grace@navy.example", company="Navy")
    admin = tenant.admin
    accounts_before = owner_rows("SELECT count(*) FROM accounts WHERE tenant_id = :t", t=tenant.tenant_id)[0][0]
    with pytest.raises(ValidationFailed) as raised, unit_of_work(admin) as session:
        contacts.convert(session, admin, contact.id, ContactConvert(stage_id=new_id()))
    assert "stageId" in str(raised.value.details)
    assert owner_rows("SELECT count(*) FROM accounts WHERE tenant_id = :t", t=tenant.tenant_id)[0][0] == accounts_before
    row = owner_rows("SELECT account_id, lifecycle_stage, version FROM contacts WHERE id = :id", id=contact.id)[0]
    assert tuple(row) == (None, "lead", 1)
    assert owner_rows("SELECT count(*) FROM deals WHERE contact_id = :id", id=contact.id)[0][0] == 0
    assert [k for k, _ in events_of(tenant, contact.id)] == ["contact.created"]
