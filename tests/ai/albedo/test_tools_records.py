"""Albedo's read tools over records, called as the engines call them (`call(ctx, name, arguments)`), on a small
hand-built workspace where every right answer is known: filters on any field (custom ones too), a rep's own scope,
sort, limit and total, follow-ups by ids, stages by name, record summaries with their timeline, stuck deals, lead
scores with reasons, and search by meaning."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest

from ai.albedo.contract import ToolResult
from ai.albedo.tools import ToolContext, call, load
from ai.nlp import sentiment_crm, store
from ai.scoring import crm
from core.accounts import service as accounts
from core.accounts.schemas import AccountCreate
from core.activities import service as activities
from core.activities.schemas import ActivityCreate
from core.actor import Actor
from core.contacts import service as contacts
from core.contacts.schemas import ContactCreate
from core.custom_fields import service as custom_fields
from core.custom_fields.schemas import CustomFieldCreate
from core.db import unit_of_work
from core.deals import service as deals
from core.deals.schemas import DealCreate
from core.notes import service as notes
from core.notes.schemas import NoteCreate
from core.pipelines import service as pipelines
from core.scoring import service as scoring
from core.scoring.schemas import RuleCreate
from core.tasks import service as tasks
from core.tasks.schemas import TaskCreate
from tests.core.conftest import owner_execute
from tests.factories import TenantWorld, create_tenant, quiesce

PRICING = "Call recap: they said our quote is far too expensive and they are unhappy with what we charge per seat."


@pytest.fixture(scope="module")
def world() -> Iterator[dict[str, Any]]:
    """Two reps; five deals over two accounts (one won), a custom 'Region' on deals, a deal with calls, a note and
    two open tasks (one overdue), three contacts, a points rule for referrals, and embeddings for search."""
    tenant = create_tenant()
    rep1, rep2 = tenant.add_user("rep"), tenant.add_user("rep")
    admin = tenant.admin
    ids: dict[str, UUID] = {"rep1": rep1, "rep2": rep2}
    now = datetime.now(UTC)
    with unit_of_work(admin) as session:
        custom_fields.create(
            session,
            admin,
            CustomFieldCreate(
                entity_type="deals",
                field_name="region",
                field_label="Region",
                field_type="select",
                field_options=["EMEA", "AMER"],
            ),
        )
        pipeline = pipelines.default_pipeline(session, admin)
        assert pipeline is not None
        stages = {s.name: s.id for s in pipelines.stages_by_pipeline(session, admin, [pipeline.id])[pipeline.id]}
        ids["initech"] = accounts.create(
            session, admin, AccountCreate(name="Initech", industry="Software", owner_id=rep1)
        ).id
        ids["umbrella"] = accounts.create(
            session, admin, AccountCreate(name="Umbrella Bakery", industry="Food", owner_id=rep2)
        ).id
        for key, name, amount, stage, owner, account, region in (
            ("big", "Big Renewal", 120000, "Proposal", rep1, "initech", "EMEA"),
            ("pilot", "Small Pilot", 15000, "Prospecting", rep1, None, "AMER"),
            ("mid", "Mid Expansion", 60000, "Negotiation", rep2, "initech", "EMEA"),
            ("pos", "Bakery POS", 40000, "Proposal", rep2, "umbrella", "AMER"),
            ("won", "Old Won", 80000, "Closed Won", rep1, "initech", None),
        ):
            ids[key] = deals.create(
                session,
                admin,
                DealCreate(
                    name=name,
                    amount=Decimal(amount),
                    stage_id=stages[stage],
                    owner_id=owner,
                    account_id=ids[account] if account else None,
                    expected_close_date=date(2026, 12, 15),
                    custom_fields={"region": region} if region else {},
                ),
            ).id
        ids["ada"] = contacts.create(
            session,
            admin,
            ContactCreate(
                first_name="Ada",
                last_name="Lovelace",
                title="CTO",
                account_id=ids["initech"],
                lead_source="Referral",
                owner_id=rep1,
            ),
        ).id
        ids["bob"] = contacts.create(
            session, admin, ContactCreate(first_name="Bob", last_name="Baker", lead_source="Webinar", owner_id=rep2)
        ).id
        ids["cy"] = contacts.create(
            session, admin, ContactCreate(first_name="Cy", last_name="Young", lead_source="Webinar", owner_id=rep1)
        ).id
        ids["call"] = activities.create(
            session,
            admin,
            ActivityCreate(
                type="call",
                subject="Pricing call",
                body="Great call, they love the product and want to expand quickly.",
                deal_id=ids["big"],
                occurred_at=now - timedelta(days=3),
                owner_id=rep1,
            ),
        ).id
        ids["email"] = activities.create(
            session,
            admin,
            ActivityCreate(
                type="email",
                subject="Contract sent",
                deal_id=ids["big"],
                occurred_at=now - timedelta(days=1),
                owner_id=rep1,
            ),
        ).id
        ids["note"] = notes.create(session, admin, "deals", ids["big"], NoteCreate(body="Legal review next week")).id
        ids["overdue"] = tasks.create(
            session,
            admin,
            TaskCreate(title="Chase signature", due_at=now - timedelta(days=2), deal_id=ids["big"], assignee_id=rep1),
        ).id
        ids["later"] = tasks.create(
            session,
            admin,
            TaskCreate(title="Plan kickoff", due_at=now + timedelta(days=5), deal_id=ids["big"], assignee_id=rep1),
        ).id
        ids["done"] = tasks.create(
            session, admin, TaskCreate(title="Send welcome pack", status="done", assignee_id=rep2)
        ).id
        ids["pricing"] = notes.create(session, admin, "accounts", ids["umbrella"], NoteCreate(body=PRICING)).id
        scoring.create_rule(
            session, admin, RuleCreate(field="lead_source", operator="equals", value="Referral", points=30)
        )
    for key, days in (("big", 30), ("mid", 20), ("pilot", 5)):
        owner_execute(
            "UPDATE deals SET stage_entered_at = now() - make_interval(days => :days) WHERE id = :d",
            days=days,
            d=ids[key],
        )
    system = Actor.system(tenant.tenant_id)
    with unit_of_work(system) as session:
        crm.rescore(session, system)
        sentiment_crm.read_changed(session, system)
        store.refresh(session, tenant.tenant_id)
    yield {"tenant": tenant, "ids": ids, "call_day": (now - timedelta(days=3)).date()}
    quiesce(tenant.tenant_id)


def run(actor: Actor, name: str, **arguments: Any) -> ToolResult:
    with unit_of_work(actor) as session:
        now = datetime.now(UTC)
        ctx = ToolContext(session=session, actor=actor, today=now.date(), now=now)
        made, result = call(ctx, name, arguments)
        assert made.ok == result.ok and made.name == name
        return result


def names(result: ToolResult) -> list[str]:
    assert result.ok, result.error
    assert result.table is not None
    return [r.label for r in result.table.records]


def column(result: ToolResult, key: str) -> list[Any]:
    assert result.table is not None
    at = result.table.keys.index(key)
    return [row[at] for row in result.table.rows]


def actor_of(world: dict[str, Any], who: str) -> Actor:
    tenant: TenantWorld = world["tenant"]
    return tenant.admin if who == "admin" else tenant.actor(world["ids"][who])


# find_records ---------------------------------------------------------------------------------------------


def test_the_tools_are_registered_with_schemas_an_llm_can_read() -> None:
    tools = load()
    for name in ("find_records", "record_summary", "stuck_deals", "lead_scores", "semantic_search"):
        schema = tools[name].schema()
        assert schema["name"] == name and schema["description"]
        assert schema["input_schema"]["type"] == "object" and schema["input_schema"]["properties"]
    filters = tools["find_records"].schema()["input_schema"]["$defs"]["RecordFilter"]["properties"]
    assert filters["field"]["description"] and filters["op"]["description"]


def test_a_custom_field_filters_by_its_name_or_its_label_in_any_case(world: dict[str, Any]) -> None:
    admin = actor_of(world, "admin")
    by_name = run(admin, "find_records", entity="deals", filters=[{"field": "cf.region", "value": "EMEA"}])
    by_label = run(admin, "find_records", entity="deals", filters=[{"field": "Region", "value": "emea"}])
    assert sorted(names(by_name)) == sorted(names(by_label)) == ["Big Renewal", "Mid Expansion"]
    assert by_name.facts == {"count": 2, "entity": "deals", "shown": 2}
    assert by_label.table is not None and "Region" in by_label.table.columns
    assert set(column(by_label, "cf.region")) == {"EMEA"}


def test_a_rep_sees_only_their_own_deals_and_counts_only_theirs(world: dict[str, Any]) -> None:
    rep1 = actor_of(world, "rep1")
    everything = run(rep1, "find_records", entity="deals", limit=50)
    assert sorted(names(everything)) == ["Big Renewal", "Old Won", "Small Pilot"]
    assert everything.facts["count"] == 3
    mine = run(rep1, "find_records", entity="deals", owner="me")
    assert sorted(names(mine)) == sorted(names(everything))
    emea = run(rep1, "find_records", entity="deals", filters=[{"field": "region", "value": "EMEA"}])
    assert names(emea) == ["Big Renewal"] and emea.facts["count"] == 1  # rep2's EMEA deal stays invisible
    theirs = run(rep1, "find_records", entity="deals", owner=str(world["ids"]["rep2"]))
    assert theirs.ok and theirs.facts["count"] == 0


def test_owner_me_for_the_admin_means_the_admins_own_records(world: dict[str, Any]) -> None:
    admin = actor_of(world, "admin")
    assert run(admin, "find_records", entity="deals", owner="me").facts["count"] == 0
    assert run(admin, "find_records", entity="deals").facts["count"] == 5


def test_sort_and_limit_show_the_top_rows_and_the_total_counts_all(world: dict[str, Any]) -> None:
    admin = actor_of(world, "admin")
    top = run(admin, "find_records", entity="deals", sort="-amount", limit=2)
    assert names(top) == ["Big Renewal", "Old Won"]
    assert column(top, "amount") == [120000.0, 80000.0]
    assert top.facts == {"count": 5, "entity": "deals", "shown": 2}
    assert top.table is not None and top.table.total == 5
    open_by_size = run(
        admin, "find_records", entity="deals", filters=[{"field": "status", "value": "open"}], sort="amount"
    )
    assert names(open_by_size) == ["Small Pilot", "Bakery POS", "Mid Expansion", "Big Renewal"]


def test_amount_between_and_comparisons(world: dict[str, Any]) -> None:
    admin = actor_of(world, "admin")
    middle = run(
        admin, "find_records", entity="deals", filters=[{"field": "amount", "op": "between", "value": [40000, 60000]}]
    )
    assert sorted(names(middle)) == ["Bakery POS", "Mid Expansion"]
    big = run(admin, "find_records", entity="deals", filters=[{"field": "amount", "op": "gt", "value": "$50k"}])
    assert not big.ok and "amount" in (big.error or "")  # a value the API would refuse is refused, naming the field
    big = run(admin, "find_records", entity="deals", filters=[{"field": "amount", "op": "gt", "value": 50000}])
    assert sorted(names(big)) == ["Big Renewal", "Mid Expansion", "Old Won"]


def test_a_follow_up_restricts_to_the_previous_ids(world: dict[str, Any]) -> None:
    ids, admin = world["ids"], actor_of(world, "admin")
    first = run(admin, "find_records", entity="deals", filters=[{"field": "region", "value": "AMER"}])
    previous = [r.id for r in first.records]
    assert sorted(names(first)) == ["Bakery POS", "Small Pilot"]
    in_food = run(admin, "find_records", entity="deals", ids=previous, filters=[{"field": "industry", "value": "food"}])
    assert names(in_food) == ["Bakery POS"] and in_food.records[0].id == str(ids["pos"])
    in_software = run(
        admin, "find_records", entity="deals", ids=previous, filters=[{"field": "industry", "value": "Software"}]
    )
    assert in_software.ok and in_software.facts["count"] == 0
    assert run(admin, "find_records", entity="deals", ids=[]).facts["count"] == 0


def test_a_stage_by_name_in_any_case(world: dict[str, Any]) -> None:
    admin = actor_of(world, "admin")
    proposal = run(admin, "find_records", entity="deals", filters=[{"field": "stage", "value": "proposal"}])
    assert sorted(names(proposal)) == ["Bakery POS", "Big Renewal"] and set(column(proposal, "stageName")) == {
        "Proposal"
    }
    unknown = run(admin, "find_records", entity="deals", filters=[{"field": "stage", "value": "Haggling"}])
    assert not unknown.ok and "Haggling" in (unknown.error or "") and "Negotiation" in (unknown.error or "")


def test_an_unknown_field_is_a_failed_result_that_names_it(world: dict[str, Any]) -> None:
    admin = actor_of(world, "admin")
    result = run(admin, "find_records", entity="deals", filters=[{"field": "colour", "value": "red"}])
    assert not result.ok and "colour" in (result.error or "")
    bad_sort = run(admin, "find_records", entity="contacts", sort="-shoeSize")
    assert not bad_sort.ok and "shoeSize" in (bad_sort.error or "")
    bad_entity = run(admin, "find_records", entity="invoices")
    assert not bad_entity.ok and "entity" in (bad_entity.error or "")


def test_contacts_accounts_tasks_and_activities_are_found_too(world: dict[str, Any]) -> None:
    ids, admin, rep1 = world["ids"], actor_of(world, "admin"), actor_of(world, "rep1")
    webinar = run(admin, "find_records", entity="contacts", filters=[{"field": "source", "value": "Webinar"}])
    assert sorted(names(webinar)) == ["Bob Baker", "Cy Young"]
    in_software = run(admin, "find_records", entity="contacts", filters=[{"field": "industry", "value": "software"}])
    assert names(in_software) == ["Ada Lovelace"]
    by_text = run(admin, "find_records", entity="contacts", text="lovel")
    assert names(by_text) == ["Ada Lovelace"] and by_text.records[0].type == "contact"
    food = run(admin, "find_records", entity="accounts", filters=[{"field": "industry", "value": "FOOD"}])
    assert names(food) == ["Umbrella Bakery"]
    overdue = run(rep1, "find_records", entity="tasks", owner="me", filters=[{"field": "overdue", "value": True}])
    assert names(overdue) == ["Chase signature"] and column(overdue, "isOverdue") == [True]
    done = run(admin, "find_records", entity="tasks", filters=[{"field": "status", "value": "completed"}])
    assert names(done) == ["Send welcome pack"]
    still_open = run(rep1, "find_records", entity="tasks", filters=[{"field": "status", "value": "To do"}])
    assert sorted(names(still_open)) == ["Chase signature", "Plan kickoff"]
    calls = run(rep1, "find_records", entity="activities", filters=[{"field": "type", "value": "Calls"}])
    assert names(calls) == ["Pricing call"] and calls.records[0].id == str(ids["call"])
    recent = run(
        rep1,
        "find_records",
        entity="activities",
        filters=[{"field": "when", "op": "gte", "value": (date.today() - timedelta(days=2)).isoformat()}],
    )
    assert names(recent) == ["Contract sent"]
    assert run(actor_of(world, "rep2"), "find_records", entity="activities").facts["count"] == 0


# record_summary -------------------------------------------------------------------------------------------


def test_a_deal_summary_has_its_key_fields_and_timeline(world: dict[str, Any]) -> None:
    ids, rep1 = world["ids"], actor_of(world, "rep1")
    result = run(rep1, "record_summary", entity="deal", id=str(ids["big"]))
    assert result.ok, result.error
    facts = result.facts
    assert facts["name"] == "Big Renewal" and facts["amount"] == 120000.0 and facts["currency"] == "USD"
    assert facts["stage"] == "Proposal" and facts["pipeline"] == "Sales" and facts["status"] == "open"
    assert facts["owner"] == "Rep Tester" and facts["account"] == "Initech"
    assert facts["days_in_stage"] == 30 and facts["rotting"] is True and facts["probability"] == 50
    assert facts["expected_close_date"] == "2026-12-15" and facts["custom_fields"] == {"region": "EMEA"}
    assert [e["type"] for e in facts["recent"]] == ["note", "email", "call"]  # newest first
    assert facts["recent"][2]["sentiment"] == "positive"
    assert facts["open_tasks"][0] == {
        "title": "Chase signature",
        "due": facts["open_tasks"][0]["due"],
        "overdue": True,
    }
    assert [t["overdue"] for t in facts["open_tasks"]] == [True, False] and facts["overdue_task_count"] == 1
    assert facts["summary"].startswith("Big Renewal: $120,000, open, in Proposal (Sales) for 30 days, rotting.")
    assert "2 open tasks, 1 overdue" in facts["summary"]
    assert column(result, "type") == ["note", "email", "call", "task", "task"]
    assert column(result, "status")[3:] == ["overdue", "open"]
    assert result.records[0].id == str(ids["big"]) and {r.type for r in result.records} == {
        "deal",
        "note",
        "activity",
        "task",
    }


def test_an_account_summary_totals_its_open_and_won_deals_within_scope(world: dict[str, Any]) -> None:
    ids = world["ids"]
    admin_view = run(actor_of(world, "admin"), "record_summary", entity="account", id=str(ids["initech"]))
    assert admin_view.ok, admin_view.error
    facts = admin_view.facts
    assert facts["name"] == "Initech" and facts["industry"] == "Software"
    assert facts["open_deals"] == 2 and facts["open_amount"] == 180000.0 and facts["open_currency"] == "USD"
    assert facts["won_deals"] == 1 and facts["won_amount"] == 80000.0 and facts["contacts"] == 1
    assert "2 open deals worth $180,000; 1 won worth $80,000" in facts["summary"]
    rep_view = run(actor_of(world, "rep1"), "record_summary", entity="account", id=str(ids["initech"]))
    assert rep_view.facts["open_deals"] == 1 and rep_view.facts["open_amount"] == 120000.0


def test_a_contact_summary_and_a_record_out_of_scope(world: dict[str, Any]) -> None:
    ids = world["ids"]
    ada = run(actor_of(world, "rep1"), "record_summary", entity="contact", id=str(ids["ada"]))
    assert ada.ok, ada.error
    assert ada.facts["name"] == "Ada Lovelace" and ada.facts["title"] == "CTO" and ada.facts["account"] == "Initech"
    assert ada.facts["lead_status"] == "new" and ada.facts["lifecycle_stage"] == "lead"
    assert ada.facts["lead_score"] > 0 and any("Referral" in r for r in ada.facts["score_reasons"])
    hidden = run(actor_of(world, "rep2"), "record_summary", entity="deal", id=str(ids["big"]))
    assert not hidden.ok and "not found" in (hidden.error or "").lower()


# stuck_deals ----------------------------------------------------------------------------------------------


def test_stuck_deals_default_to_each_stages_rotting_setting(world: dict[str, Any]) -> None:
    admin = actor_of(world, "admin")
    stuck = run(admin, "stuck_deals")
    assert names(stuck) == ["Big Renewal", "Mid Expansion"]  # longest in stage first
    assert column(stuck, "daysInStage") == [30, 20]
    assert stuck.facts["count"] == 2 and stuck.facts["total_amount"] == 180000.0
    assert stuck.facts["longest"] == {"name": "Big Renewal", "days_in_stage": 30}
    negotiation = run(admin, "stuck_deals", stage="negotiation")
    assert names(negotiation) == ["Mid Expansion"] and negotiation.facts["rotting_days"] == 14
    long = run(admin, "stuck_deals", min_days=25)
    assert names(long) == ["Big Renewal"]
    wide = run(admin, "stuck_deals", min_days=3)  # the pilot (5 days) is not past Prospecting's 14
    assert names(wide) == ["Big Renewal", "Mid Expansion", "Small Pilot"]
    assert names(run(admin, "stuck_deals", min_days=3, rotting_only=True)) == ["Big Renewal", "Mid Expansion"]
    assert names(run(actor_of(world, "rep1"), "stuck_deals")) == ["Big Renewal"]
    won = run(admin, "stuck_deals", stage="Closed Won")
    assert not won.ok and "Closed Won" in (won.error or "") and "rotting" in (won.error or "")
    assert names(run(admin, "stuck_deals", stage="Closed Won", min_days=0)) == []  # closed deals are never stuck


# lead_scores ----------------------------------------------------------------------------------------------


def test_a_leads_score_comes_with_its_reasons(world: dict[str, Any]) -> None:
    ids = world["ids"]
    ada = run(actor_of(world, "rep1"), "lead_scores", contact_id=str(ids["ada"]))
    assert ada.ok, ada.error
    with unit_of_work(actor_of(world, "admin")) as session:
        stored = contacts.get(session, actor_of(world, "admin"), ids["ada"]).lead_score
    assert ada.value == ada.facts["score"] == stored
    assert ada.facts["method"] == "rules" and any("Referral" in r for r in ada.facts["reasons"])
    assert column(ada, "points")[0] == 30.0
    hidden = run(actor_of(world, "rep2"), "lead_scores", contact_id=str(ids["ada"]))
    assert not hidden.ok


def test_the_top_leads_come_highest_first_with_their_reasons(world: dict[str, Any]) -> None:
    top = run(actor_of(world, "admin"), "lead_scores", limit=3)
    assert names(top)[0] == "Ada Lovelace" and top.facts["top"][0]["name"] == "Ada Lovelace"
    assert "Referral" in column(top, "reasons")[0]
    scores = column(top, "leadScore")
    assert scores == sorted(scores, reverse=True)
    mine = run(actor_of(world, "rep2"), "lead_scores", mine=True)
    assert names(mine) == ["Bob Baker"]


# semantic_search ------------------------------------------------------------------------------------------


def test_semantic_search_finds_a_note_by_meaning(world: dict[str, Any]) -> None:
    ids, admin = world["ids"], actor_of(world, "admin")
    words = run(admin, "semantic_search", query="pricing complaints", mode="text", types=["notes"])
    assert words.ok and str(ids["pricing"]) not in [r.id for r in words.records]
    meaning = run(admin, "semantic_search", query="notes about pricing complaints", types=["notes"], mode="semantic")
    assert meaning.ok, meaning.error
    assert meaning.records[0].id == str(ids["pricing"]) and meaning.records[0].type == "note"
    assert column(meaning, "matched")[0] == "meaning" and meaning.facts["count"] >= 1
    hybrid = run(admin, "semantic_search", query="pricing complaints")
    assert str(ids["pricing"]) in [r.id for r in hybrid.records]
    rep1 = run(actor_of(world, "rep1"), "semantic_search", query="pricing complaints", mode="semantic")
    assert rep1.ok and str(ids["pricing"]) not in [r.id for r in rep1.records]  # rep2's account's note


def test_owner_and_dates_as_filters(world: dict[str, Any]) -> None:
    rep1, admin = actor_of(world, "rep1"), actor_of(world, "admin")
    mine = run(rep1, "find_records", entity="deals", filters=[{"field": "owner", "value": "me"}])
    assert mine.facts["count"] == 3
    their_tasks = run(
        admin, "find_records", entity="tasks", filters=[{"field": "owner", "value": str(world["ids"]["rep1"])}]
    )
    assert sorted(names(their_tasks)) == ["Chase signature", "Plan kickoff"]
    ambiguous = run(admin, "find_records", entity="deals", owner="Rep Tester")  # both reps have that name
    assert not ambiguous.ok and "Rep Tester" in (ambiguous.error or "")
    closing = run(
        admin,
        "find_records",
        entity="deals",
        filters=[{"field": "close_date", "op": "between", "value": ["2026-12-01", "2026-12-31"]}],
    )
    assert closing.facts["count"] == 5 and set(column(closing, "expectedCloseDate")) == {"2026-12-15"}
    before = run(
        admin, "find_records", entity="deals", filters=[{"field": "close_date", "op": "lt", "value": "2026-12-15"}]
    )
    assert before.ok and before.facts["count"] == 0
    on_the_day = run(
        rep1, "find_records", entity="activities", filters=[{"field": "date", "value": world["call_day"].isoformat()}]
    )
    assert names(on_the_day) == ["Pricing call"]
    won = run(admin, "find_records", entity="deals", filters=[{"field": "status", "value": "won"}])
    assert names(won) == ["Old Won"]
    lost = run(admin, "find_records", entity="deals", filters=[{"field": "status", "value": "lost"}])
    assert lost.ok and lost.facts["count"] == 0


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        ({"filters": [{"field": "amount", "op": "gt", "value": []}]}, "amount"),
        ({"filters": [{"field": "close_date", "op": "gte", "value": "2026-13-45"}]}, "expectedCloseDate"),
        ({"filters": [{"field": "amount", "op": "between", "value": [1]}]}, "amount"),
        ({"filters": [{"field": "status", "value": "pending"}]}, "status"),
        ({"filters": [{"field": "amount", "op": "like", "value": 1}]}, "op"),
        ({"owner": "Nobody Atall"}, "Nobody Atall"),
        ({"sort": "-colour"}, "colour"),
        ({"limit": 0}, "limit"),
        ({"ids": ["not-an-id"]}, "ids"),
    ],
)
def test_bad_arguments_are_failed_results_that_say_what_is_wrong(
    world: dict[str, Any], arguments: dict[str, Any], named: str
) -> None:
    result = run(actor_of(world, "admin"), "find_records", entity="deals", **arguments)
    assert not result.ok and named in (result.error or ""), result.error
