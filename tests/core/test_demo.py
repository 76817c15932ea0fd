"""The demo generator (core/demo) on the real PostgreSQL, at small scale: counts, determinism, the invariants the
services keep, the truth file against the data, reads under row-level security, refusals and atomicity."""

from __future__ import annotations

import calendar
import secrets
import uuid
from collections import Counter, defaultdict
from datetime import UTC, date, datetime
from typing import Any

import pytest

from core.actor import Actor
from core.auth import service as auth
from core.contacts import service as contacts
from core.contacts.schemas import ContactCreate
from core.custom_fields.models import CustomField
from core.db import unit_of_work
from core.deals import service as deals
from core.demo import service as demo
from core.demo.generate import CUSTOM_FIELDS, Generator, World
from core.demo.truth import SCALES, draw, note_label
from core.duplicates import service as duplicates
from core.errors import Conflict, ValidationFailed
from core.pipelines.models import Stage
from core.pipelines.service import DEFAULT_STAGES
from core.tenants import service as tenants
from tests.core.conftest import owner_rows
from tests.factories import PASSWORD, create_tenant

AS_OF = datetime.now(UTC).date()
SEED = 7


def new_slug() -> str:
    return f"demo-{secrets.token_hex(4)}"


@pytest.fixture(scope="module")
def seeded() -> demo.SeedResult:
    return demo.seed(slug=new_slug(), scale="small", seed=SEED, as_of=AS_OF, password=PASSWORD)


@pytest.fixture(scope="module")
def truth(seeded: demo.SeedResult) -> dict[str, Any]:
    return demo.read_truth(seeded.slug)


def actor_for(seeded: demo.SeedResult, email: str) -> Actor:
    user_id = owner_rows("SELECT id FROM users WHERE tenant_id = :t AND email = :e", t=seeded.tenant_id, e=email)[0].id
    with unit_of_work(tenant_id=seeded.tenant_id) as session:
        return auth.load_actor(session, tenant_id=seeded.tenant_id, user_id=user_id)


def table_counts(tenant_id: uuid.UUID) -> dict[str, int]:
    tables = ("accounts", "contacts", "deals", "deal_stage_history", "activities", "tasks", "notes")
    return {t: owner_rows(f"SELECT count(*) AS n FROM {t} WHERE tenant_id = :t", t=tenant_id)[0].n for t in tables}


# Size and determinism ----------------------------------------------------------------------------------------


def test_counts_land_near_the_scale_targets(seeded: demo.SeedResult, truth: dict[str, Any]) -> None:
    scale = SCALES["small"]
    counts = table_counts(seeded.tenant_id)
    assert counts["accounts"] == scale.accounts
    assert scale.contacts <= counts["contacts"] <= scale.contacts * 1.05  # plus the planted duplicates
    assert abs(counts["deals"] - scale.deals) <= 0.2 * scale.deals
    assert abs(counts["activities"] - scale.activities) <= 0.2 * scale.activities
    assert counts["tasks"] > 0 and counts["notes"] > 0 and counts["deal_stage_history"] > counts["deals"]
    assert {k: v for k, v in truth["realized"]["counts"].items() if k in counts} == counts
    assert counts == {k: seeded.counts[k] for k in counts}
    users = owner_rows("SELECT role_id FROM users WHERE tenant_id = :t", t=seeded.tenant_id)
    assert len(users) == 1 + 3 + sum(scale.reps_per_team) == len(truth["users"])


def _world(seed_users: int, slug: str = "determinism") -> World:
    ids = uuid.UUID(int=1)
    stages = [
        Stage(id=uuid.UUID(int=10 + i), name=n, probability=p, is_closed_stage=c, is_won_stage=w, rotting_days=r)
        for i, (n, p, c, w, r) in enumerate(DEFAULT_STAGES)
    ]
    fields = {
        name: CustomField(
            id=uuid.UUID(int=100 + i),
            entity_type=entity,
            field_name=name,
            field_label=label,
            field_type=kind,
            field_options=list(options) if options else None,
        )
        for i, (entity, name, label, kind, options) in enumerate(CUSTOM_FIELDS)
    }
    return World(
        tenant_id=str(ids),
        slug=slug,
        pipeline_id=str(uuid.UUID(int=2)),
        currency="USD",
        open_stages=tuple(stages[:4]),
        won_stage=stages[4],
        lost_stage=stages[5],
        user_ids=tuple(str(uuid.UUID(int=1000 + i)) for i in range(seed_users)),
        fields=fields,
    )


def _payload(seed: int, slug: str = "determinism") -> list[tuple[str, bytes]]:
    truth = draw(seed, SCALES["small"], date(2026, 6, 30))
    generator = Generator(truth, _world(len(truth.people), slug))
    batches = list(generator.accounts())
    for _, chunk in generator.chunks():
        batches += chunk
    return [(b.table, b.data) for b in batches]


def test_the_same_seed_generates_identical_rows_ids_included_and_another_seed_other_rows() -> None:
    first = _payload(3)
    assert first == _payload(3)
    assert first != _payload(4)
    other_tenant = _payload(3, slug="elsewhere")  # same content, other ids: two demo tenants never collide
    assert [t for t, _ in other_tenant] == [t for t, _ in first]
    assert other_tenant != first
    assert b"\n" in first[0][1] and all(t for t, _ in first)


def test_replacing_a_demo_workspace_with_the_same_seed_rebuilds_the_same_records() -> None:
    slug = new_slug()
    query = (
        "SELECT c.id, c.email, c.created_at, c.last_contacted_at, u.email AS owner FROM contacts c"
        " JOIN users u ON u.id = c.owner_id WHERE c.tenant_id = :t ORDER BY c.id"
    )
    deals_query = (
        "SELECT d.id, d.name, d.amount, s.name AS stage, d.actual_close_date, d.lost_reason FROM deals d"
        " JOIN deal_stages s ON s.id = d.stage_id WHERE d.tenant_id = :t ORDER BY d.id"
    )
    first = demo.seed(slug=slug, scale="small", seed=11, as_of=AS_OF, password=PASSWORD)
    before = owner_rows(query, t=first.tenant_id), owner_rows(deals_query, t=first.tenant_id)
    again = demo.seed(slug=slug, scale="small", seed=11, as_of=AS_OF, password=PASSWORD + "!", replace=True)
    assert again.replaced and again.tenant_id == first.tenant_id and again.password is None
    assert (owner_rows(query, t=again.tenant_id), owner_rows(deals_query, t=again.tenant_id)) == before
    assert len(owner_rows("SELECT id FROM users WHERE tenant_id = :t", t=first.tenant_id)) == len(first.users)
    pair = auth.login_committing_failures(email=first.admin_email, password=PASSWORD + "!", tenant_slug=slug)
    assert pair.access_token


# Invariants ----------------------------------------------------------------------------------------------------


def test_the_generated_records_are_audited_as_bulk_loads_not_row_by_row(seeded: demo.SeedResult) -> None:
    counts = table_counts(seeded.tenant_id)
    audited = owner_rows(
        "SELECT entity_type, action, sum(coalesce((new_values->>'rows')::int, 1)) AS n FROM audit_logs"
        " WHERE tenant_id = :t AND entity_type IN ('contacts', 'deals', 'activities')"
        " GROUP BY entity_type, action",
        t=seeded.tenant_id,
    )
    assert {(r.entity_type, r.action): r.n for r in audited} == {
        (table, "bulk_create"): counts[table] for table in ("contacts", "deals", "activities")
    }


def test_every_stage_history_is_ordered_chained_and_ends_at_the_deals_stage(seeded: demo.SeedResult) -> None:
    rows = owner_rows(
        "SELECT h.deal_id, h.from_stage_id, h.to_stage_id, h.changed_at, h.probability, d.stage_id,"
        " d.stage_entered_at, d.version, h.changed_by, d.owner_id FROM deal_stage_history h"
        " JOIN deals d ON d.id = h.deal_id WHERE h.tenant_id = :t ORDER BY h.deal_id, h.changed_at, h.id",
        t=seeded.tenant_id,
    )
    histories: dict[Any, list[Any]] = defaultdict(list)
    for row in rows:
        histories[row.deal_id].append(row)
    assert len(histories) == seeded.counts["deals"]
    for history in histories.values():
        last = history[-1]
        assert history[0].from_stage_id is None
        assert all(b.from_stage_id == a.to_stage_id for a, b in zip(history, history[1:], strict=False))
        assert last.to_stage_id == last.stage_id and last.changed_at == last.stage_entered_at
        assert last.version == len(history)
        assert all(h.changed_by == h.owner_id for h in history)


def test_closed_deals_have_dates_lost_ones_reasons_and_open_ones_neither(seeded: demo.SeedResult) -> None:
    rows = owner_rows(
        "SELECT d.is_closed, d.is_won, d.actual_close_date, d.lost_reason, d.probability, s.probability AS stage_p,"
        " s.is_closed_stage, s.is_won_stage, d.created_at, d.stage_entered_at FROM deals d"
        " JOIN deal_stages s ON s.id = d.stage_id WHERE d.tenant_id = :t",
        t=seeded.tenant_id,
    )
    outcomes = Counter()
    for d in rows:
        assert d.is_closed == d.is_closed_stage and d.probability == d.stage_p
        if d.is_closed:
            assert d.actual_close_date == d.stage_entered_at.date() <= AS_OF
            assert d.is_won == d.is_won_stage
            assert (d.lost_reason is None) == d.is_won
        else:
            assert d.is_won is None and d.actual_close_date is None and d.lost_reason is None
        assert d.created_at <= d.stage_entered_at
        outcomes["won" if d.is_won else "lost" if d.is_closed else "open"] += 1
    assert min(outcomes.values()) > 0, outcomes


def test_owners_and_assignees_are_the_tenants_users(seeded: demo.SeedResult) -> None:
    for table, column in (
        ("accounts", "owner_id"),
        ("contacts", "owner_id"),
        ("deals", "owner_id"),
        ("activities", "owner_id"),
        ("tasks", "assignee_id"),
        ("notes", "author_id"),
    ):
        strays = owner_rows(
            f"SELECT count(*) AS n FROM {table} r LEFT JOIN users u ON u.id = r.{column} AND u.tenant_id = r.tenant_id"
            f" AND u.is_active WHERE r.tenant_id = :t AND u.id IS NULL",
            t=seeded.tenant_id,
        )
        assert strays[0].n == 0, table


def test_last_contacted_at_is_the_latest_call_meeting_or_email(seeded: demo.SeedResult) -> None:
    mismatched = owner_rows(
        "SELECT c.id FROM contacts c LEFT JOIN LATERAL (SELECT max(a.occurred_at) AS latest FROM activities a"
        "  WHERE a.contact_id = c.id AND a.deleted_at IS NULL AND a.type IN ('call', 'meeting', 'email')) x ON true"
        " WHERE c.tenant_id = :t AND c.last_contacted_at IS DISTINCT FROM x.latest",
        t=seeded.tenant_id,
    )
    assert mismatched == []
    assert (
        owner_rows(
            "SELECT count(*) AS n FROM contacts WHERE tenant_id = :t AND last_contacted_at IS NOT NULL",
            t=seeded.tenant_id,
        )[0].n
        > seeded.counts["contacts"] / 2
    )


def test_history_stays_in_its_window_and_search_vectors_are_filled(seeded: demo.SeedResult, truth: dict) -> None:
    start = datetime.fromisoformat(truth["period"]["start"]).replace(tzinfo=UTC)
    end = datetime.combine(AS_OF, datetime.min.time(), UTC)
    for table, column in (("contacts", "created_at"), ("deals", "created_at"), ("activities", "occurred_at")):
        sql = f"SELECT min({column}) AS lo, max({column}) AS hi FROM {table} WHERE tenant_id = :t"
        row = owner_rows(sql, t=seeded.tenant_id)[0]
        assert start <= row.lo and row.hi <= end, table
    unsearchable = owner_rows(
        "SELECT count(*) AS n FROM contacts WHERE tenant_id = :t"
        " AND NOT search @@ plainto_tsquery('simple', last_name)",
        t=seeded.tenant_id,
    )
    assert unsearchable[0].n == 0


def test_tasks_include_overdue_done_and_cancelled_ones(seeded: demo.SeedResult, truth: dict) -> None:
    rows = owner_rows(
        "SELECT status, (status IN ('open', 'in_progress') AND due_at < now()) AS overdue,"
        " (status IN ('open', 'in_progress') AND due_at < :as_of) AS overdue_then,"
        " (completed_at IS NOT NULL) AS completed FROM tasks WHERE tenant_id = :t",
        t=seeded.tenant_id,
        as_of=datetime.combine(AS_OF, datetime.min.time(), UTC),
    )
    assert sum(r.overdue for r in rows) > 0
    assert {r.status for r in rows} >= {"open", "done", "cancelled"}
    assert all(r.completed == (r.status == "done") for r in rows)
    assert truth["realized"]["tasks"]["overdue"] == sum(r.overdue_then for r in rows)


def test_custom_fields_are_defined_and_in_use(seeded: demo.SeedResult) -> None:
    used = owner_rows(
        "SELECT f.entity_type, f.field_name, count(v.id) AS n FROM custom_fields f"
        " LEFT JOIN custom_field_values v ON v.custom_field_id = f.id WHERE f.tenant_id = :t"
        " GROUP BY f.entity_type, f.field_name",
        t=seeded.tenant_id,
    )
    assert {(r.entity_type, r.field_name) for r in used} == {(e, n) for e, n, *_ in CUSTOM_FIELDS}
    assert all(r.n > 0 for r in used)
    admin = actor_for(seeded, seeded.admin_email)
    contact_id = owner_rows(
        "SELECT v.entity_id FROM custom_field_values v JOIN custom_fields f ON f.id = v.custom_field_id"
        " WHERE v.tenant_id = :t AND f.field_name = 'newsletter_opt_in' LIMIT 1",
        t=seeded.tenant_id,
    )[0].entity_id
    with unit_of_work(admin) as session:
        read = contacts.to_read(session, admin, contacts.get(session, admin, contact_id))
    assert isinstance(read.custom_fields["newsletter_opt_in"], bool)


# The truth file against the data ------------------------------------------------------------------------------


def test_the_truth_file_holds_the_planted_parameters_and_the_realised_figures(
    seeded: demo.SeedResult, truth: dict
) -> None:
    assert seeded.truth_path.exists() and not list(seeded.truth_path.parent.glob("*.tmp"))
    assert truth["seed"] == SEED and truth["scale"] == "small" and truth["as_of"] == AS_OF.isoformat()
    planted = truth["planted"]
    assert list(planted["month_factors"]) == [calendar.month_abbr[m] for m in range(1, 13)]
    assert planted["month_factors"]["Aug"] < planted["month_factors"]["Jul"] < planted["month_factors"]["May"]
    assert 0 < planted["annual_growth"] < 1 and 0 < planted["quarter_end_pull_won"] < 1
    for source in planted["sources"]:
        assert {"name", "share", "conversion", "win"} <= source.keys()
    reps = [u for u in truth["users"] if u["role"] == "rep"]
    assert reps and all({"win_effect", "speed", "expected_cycle_days", "realized"} <= r.keys() for r in reps)
    # The realised win rate of every rep is what the data say.
    rows = owner_rows(
        "SELECT u.email, count(*) FILTER (WHERE d.is_closed) AS closed, count(*) FILTER (WHERE d.is_won) AS won"
        " FROM deals d JOIN users u ON u.id = d.owner_id WHERE d.tenant_id = :t GROUP BY u.email",
        t=seeded.tenant_id,
    )
    for row in rows:
        realized = truth["realized"]["win_rate_by_rep"][row.email]
        assert (realized["closed"], realized["won"]) == (row.closed, row.won)


def test_the_data_show_the_planted_patterns(truth: dict) -> None:
    reps = sorted((u for u in truth["users"] if u["role"] == "rep"), key=lambda u: u["win_effect"])
    assert reps[-1]["realized"]["win_rate"] > reps[0]["realized"]["win_rate"]
    won = Counter()
    for month, figures in truth["realized"]["monthly"].items():
        won[int(month[5:])] += figures.get("won", 0)
    quarter_ends = sum(won[m] for m in (3, 6, 9, 12)) / 4
    other_months = sum(won[m] for m in (1, 2, 4, 5, 7, 8, 10, 11)) / 8
    assert quarter_ends > 1.3 * other_months, won
    sources = truth["realized"]["by_source"]
    assert sources["Referral"]["conversion_rate"] > sources["Cold Call"]["conversion_rate"]
    engagement = truth["realized"]["conversion_by_lead_activities"]
    assert engagement["3-4"]["conversion_rate"] > engagement["0"]["conversion_rate"]


def test_every_note_reads_back_with_the_tone_it_was_written_in(seeded: demo.SeedResult, truth: dict) -> None:
    bodies = owner_rows("SELECT body FROM notes WHERE tenant_id = :t", t=seeded.tenant_id)
    tones = Counter(note_label(row.body) for row in bodies)
    assert None not in tones
    assert dict(tones) == truth["realized"]["notes_by_tone"]
    assert note_label("Call me maybe") is None


def test_the_planted_duplicates_are_found_by_the_duplicate_finder(seeded: demo.SeedResult, truth: dict) -> None:
    planted = {frozenset((d["original"], d["duplicate"])) for d in truth["realized"]["duplicates"]}
    assert planted and {d["kind"] for d in truth["realized"]["duplicates"]} >= {"same_email"}
    admin = actor_for(seeded, seeded.admin_email)
    with unit_of_work(admin) as session:
        found = duplicates.find_contact_duplicates(session, admin, limit=100)
        for pair in truth["realized"]["duplicates"][:3]:
            matches = duplicates.contact_duplicates_of(session, admin, uuid.UUID(pair["duplicate"]))
            assert pair["original"] in {str(m.record.id) for m in matches}
    pairs = {frozenset(str(r.id) for r in p.records) for p in found}
    assert planted <= pairs
    assert len(pairs - planted) <= max(2, len(planted) // 5)  # namesakes may look alike; the plant dominates


# Reading it as the tenant's users ------------------------------------------------------------------------------


def test_demo_users_sign_in_and_read_under_their_record_scope(seeded: demo.SeedResult, truth: dict) -> None:
    rep = next(u for u in truth["users"] if u["role"] == "rep" and u["realized"]["deals"] > 0)
    pair = auth.login_committing_failures(email=rep["email"], password=PASSWORD, tenant_slug=seeded.slug)
    assert pair.access_token
    actor = actor_for(seeded, rep["email"])
    assert actor.scope == "own"
    with unit_of_work(actor) as session:
        page = contacts.list_contacts(session, actor, {"limit": ["100"]})
        deal_page = deals.list_deals(session, actor, {"limit": ["100"]})
    assert page.items and {item["ownerId"] for item in page.items} == {rep["id"]}
    assert (
        page.total
        == owner_rows(
            "SELECT count(*) AS n FROM contacts WHERE tenant_id = :t AND owner_id = :o", t=seeded.tenant_id, o=rep["id"]
        )[0].n
    )
    assert {item["ownerId"] for item in deal_page.items} == {rep["id"]}
    assert deal_page.total == rep["realized"]["deals"]
    manager = next(u for u in truth["users"] if u["role"] == "manager" and u["team"] == rep["team"])
    team_ids = {u["id"] for u in truth["users"] if u["team"] == rep["team"]}
    actor = actor_for(seeded, manager["email"])
    with unit_of_work(actor) as session:
        page = deals.list_deals(session, actor, {"limit": ["100"]})
    assert page.items and {item["ownerId"] for item in page.items} <= team_ids


# Refusals and atomicity -----------------------------------------------------------------------------------------


def test_a_workspace_with_records_is_refused_and_left_as_it_was(seeded: demo.SeedResult) -> None:
    before = table_counts(seeded.tenant_id)
    with pytest.raises(Conflict, match="already has records"):
        demo.seed(slug=seeded.slug, scale="small", seed=SEED + 1, as_of=AS_OF, password=PASSWORD)
    assert table_counts(seeded.tenant_id) == before

    world = create_tenant()
    with unit_of_work(world.admin) as session:
        contacts.create(session, world.admin, ContactCreate(first_name="Real", last_name="Customer"))
    with pytest.raises(Conflict, match="not created by `clientforge seed`"):
        demo.seed(slug=world.slug, scale="small", password=PASSWORD, replace=True)
    assert table_counts(world.tenant_id)["contacts"] == 1


def test_an_empty_workspace_is_filled_beside_its_own_admin() -> None:
    world = create_tenant()
    result = demo.seed(slug=world.slug, scale="small", seed=5, as_of=AS_OF, password=PASSWORD)
    assert not result.created_tenant and result.tenant_id == world.tenant_id
    emails = {r.email for r in owner_rows("SELECT email FROM users WHERE tenant_id = :t", t=world.tenant_id)}
    assert world.admin_email in emails and result.admin_email in emails
    assert table_counts(world.tenant_id)["contacts"] == result.counts["contacts"]


def test_a_seed_that_fails_midway_leaves_nothing_behind() -> None:
    slug = new_slug()

    def interrupt(phase: str, done: int, total: int) -> None:
        if phase == "contacts":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        demo.seed(slug=slug, scale="small", seed=SEED, as_of=AS_OF, password=PASSWORD, progress=interrupt)
    with unit_of_work() as session:
        assert tenants.lookup_slug(session, slug) is None
    path = demo.truth_path(slug)
    assert not path.exists() and not list(path.parent.glob(f"{slug}*"))


def test_bad_options_are_refused_before_anything_is_written() -> None:
    with pytest.raises(ValidationFailed, match="Unknown scale"):
        demo.seed(slug=new_slug(), scale="huge")
    with pytest.raises(ValidationFailed, match="Password"):
        demo.seed(slug=new_slug(), scale="small", password="short")
    with pytest.raises(ValidationFailed, match="cannot end in the future"):
        demo.seed(slug=new_slug(), scale="small", as_of=date(2999, 1, 1))
