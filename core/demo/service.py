"""Seeding a demo tenant: `seed()` creates (or fills) a workspace with a generated multi-year sales history and
writes the planted truth beside the data dir's other files (`<data dir>/demo/<slug>.truth.json`).

An operator action (like `migrate`): it runs on the owner connection, in ONE transaction, so a seed that fails
or is interrupted leaves nothing behind (no half-seeded tenant; the truth file is only moved into place after
the commit). The few things people manage (the tenant, its teams, users and custom field definitions) are
created through their services; the records are generated (core/demo/generate.py), validated as the API
validates them and COPYed in batches (core/demo/load.py). The audit trail gets one `bulk_create` row per table
and batch (the owner's summary mode, migration 0010) instead of a copy of millions of generated rows; the people
and settings created through services are audited row by row as usual. No events are emitted (the history is
not news: nothing should react to it as if it just happened).

Refusals: a workspace that already has CRM records is never seeded into. `replace=True` rebuilds a workspace
that an earlier seed created (its `settings.demo` says so): its records are deleted and generated again, its
demo users are kept with the new password (and signed out); any other workspace is refused.
"""

from __future__ import annotations

import contextlib
import csv
import json
import logging
import os
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from core.actor import Actor
from core.auth import passwords, sessions
from core.config import get_settings
from core.custom_fields import service as custom_fields
from core.custom_fields.models import CustomField
from core.custom_fields.schemas import CustomFieldCreate
from core.db import bind_tenant, on_commit, owner_engine, reset_context, set_context, with_context
from core.demo.generate import CUSTOM_FIELDS, Generator, World
from core.demo.load import LOAD_ORDER, ProgressFn, copy_batch, prefetch
from core.demo.truth import DEFAULT_SEED, GENERATOR_VERSION, SCALES, Truth, draw
from core.errors import Conflict, ValidationFailed
from core.pipelines import service as pipelines
from core.pipelines.models import Stage
from core.tenants import service as tenants
from core.tenants.models import Tenant
from core.tenants.schemas import TenantCreate
from core.users import service as users
from core.users.models import User
from core.users.schemas import TeamCreate, TeamUpdate, UserCreate

log = logging.getLogger(__name__)

DEFAULT_SLUG = "acme-demo"
DEFAULT_NAME = "Acme Demo"
RECORD_TABLES = ("accounts", "contacts", "deals", "activities", "tasks", "notes")
_LOCK_CLASS = 7246002  # advisory locks: one seed per slug at a time


@dataclass(frozen=True)
class SeedResult:
    tenant_id: UUID
    slug: str
    name: str
    scale: str
    seed: int
    as_of: date
    created_tenant: bool
    replaced: bool
    admin_email: str
    password: str | None  # every demo user's password when it was generated here: show it once
    users: list[dict[str, Any]]
    counts: dict[str, int]
    truth_path: Path
    seconds: float


def truth_path(slug: str) -> Path:
    """Where the truth file of a demo tenant lives."""
    return get_settings().data_path / "demo" / f"{slug}.truth.json"


def leads_path(slug: str) -> Path:
    """Where the truth's conversion probability of each decided lead is kept (CSV: contact_id, probability,
    converted), the yardstick of lead scoring."""
    return get_settings().data_path / "demo" / f"{slug}.leads.csv"


def read_truth(slug: str) -> dict[str, Any]:
    """The truth file of a seeded tenant (for tests, benchmarks and checks of analytics and models)."""
    return dict(json.loads(truth_path(slug).read_text()))


def _write_leads(path: Path, leads: list[tuple[str, float, int]]) -> None:
    staged = path.with_suffix(f".{os.getpid()}.tmp")
    with staged.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(("contact_id", "probability", "converted"))
        writer.writerows(leads)
    os.replace(staged, path)


def seed(
    *,
    slug: str = DEFAULT_SLUG,
    name: str | None = None,
    scale: str = "medium",
    seed: int = DEFAULT_SEED,
    as_of: date | None = None,
    replace: bool = False,
    password: str | None = None,
    progress: ProgressFn | None = None,
) -> SeedResult:
    """Create workspace `slug` (or fill it while it has no records) with a demo history of `scale`.

    The same `seed`, `scale` and `as_of` (default: today, UTC) give the same history, record ids included;
    the tenant, its users and its custom field definitions are made by their services and get fresh ids.
    Every demo user gets `password` (generated when None and returned once in the result).
    """
    started = time.perf_counter()
    if scale not in SCALES:
        raise ValidationFailed(
            f"Unknown scale {scale!r}: use one of {', '.join(SCALES)}",
            details=[{"field": "scale", "message": f"one of {', '.join(SCALES)}"}],
        )
    slug = slug.strip().lower()
    try:  # the tenant rules for a slug
        TenantCreate(name=name or DEFAULT_NAME, slug=slug, admin_email="admin@example.com")
    except PydanticValidationError as exc:
        raise ValidationFailed(
            f"Invalid workspace slug or name ({slug!r}): a slug is 2-63 lower-case letters, digits and dashes",
            details=[{"field": ".".join(map(str, e["loc"])), "message": e["msg"]} for e in exc.errors()],
        ) from None
    today = datetime.now(UTC).date()
    as_of = as_of or today
    if as_of > today:
        raise ValidationFailed(
            f"The history cannot end in the future ({as_of.isoformat()}): use a date up to {today.isoformat()}",
            details=[{"field": "asOf", "message": "in the future"}],
        )
    truth = draw(seed, SCALES[scale], as_of)
    generated = None
    if password is None:
        password = generated = passwords.generate_password()
    passwords.check_policy(password)
    report = progress or (lambda phase, done, total: None)
    target = truth_path(slug)
    target.parent.mkdir(parents=True, exist_ok=True)
    staged = target.with_suffix(f".{os.getpid()}.tmp")

    token = set_context(with_context(via="cli"))
    session = Session(bind=owner_engine(), expire_on_commit=False)
    try:
        session.execute(text("SELECT pg_advisory_xact_lock(:c, hashtext(:s))"), {"c": _LOCK_CLASS, "s": slug})
        tenant_id, created, replaced = _prepare_tenant(session, slug, name or DEFAULT_NAME, truth, password, replace)
        actor = Actor.system(tenant_id)
        bind_tenant(session, tenant_id)
        report("users", 0, 1)
        people = _create_people(session, actor, truth, password, created_tenant=created)
        world = _world(session, actor, slug, people)
        report("users", 1, 1)
        generator = Generator(truth, world)
        _load(session, generator, report)
        report("finishing", 0, 1)
        realized = generator.realized()
        document = _truth_document(generator.truth, world, people, realized, slug)
        staged.write_text(json.dumps(document, indent=1))
        _write_leads(leads_path(slug), generator.tally.leads)
        tenant = session.get(Tenant, tenant_id)
        assert tenant is not None
        tenant.settings = {
            **(tenant.settings or {}),
            "demo": {
                "seed": seed,
                "scale": scale,
                "asOf": as_of.isoformat(),
                "generatorVersion": GENERATOR_VERSION,
                "truthFile": str(target),
            },
        }
        session.flush()
        session.commit()
    except BaseException:
        with contextlib.suppress(Exception):  # an interrupted COPY may have broken the connection: keep the cause
            session.rollback()
        staged.unlink(missing_ok=True)
        raise
    finally:
        session.close()
        reset_context(token)
    os.replace(staged, target)
    _analyze()
    report("finishing", 1, 1)
    counts = {table: int(realized["counts"].get(table, 0)) for table in LOAD_ORDER}
    counts["duplicate_contacts"] = int(realized["counts"].get("duplicate_contacts", 0))
    return SeedResult(
        tenant_id=tenant_id,
        slug=slug,
        name=name or DEFAULT_NAME,
        scale=scale,
        seed=seed,
        as_of=as_of,
        created_tenant=created,
        replaced=replaced,
        admin_email=truth.people[0].email,
        password=generated,
        users=[{k: v for k, v in p.items() if k != "id"} for p in people],
        counts=counts,
        truth_path=target,
        seconds=round(time.perf_counter() - started, 1),
    )


# Steps -----------------------------------------------------------------------------------------------------


def _prepare_tenant(
    session: Session, slug: str, name: str, truth: Truth, password: str, replace: bool
) -> tuple[UUID, bool, bool]:
    """(tenant id, created here, replaced an earlier demo): refuses a workspace with records unless it is a
    demo workspace and `replace` is set, in which case its records are deleted first (the workspace, its users
    and custom field definitions stay and are reused)."""
    found = tenants.lookup_slug(session, slug)
    if found is None:
        admin = truth.people[0]
        created = tenants.create(
            session,
            TenantCreate(
                name=name,
                slug=slug,
                plan="enterprise",
                admin_email=admin.email,
                admin_first_name=admin.first_name,
                admin_last_name=admin.last_name,
                admin_password=password,
            ),
        )
        return created.tenant.id, True, False
    tenant_id = found[0]
    tenant = session.scalar(select(Tenant).where(Tenant.id == tenant_id))
    assert tenant is not None
    if replace:
        if "demo" not in (tenant.settings or {}):
            raise Conflict(
                f"Workspace '{slug}' was not created by `clientforge seed`: --replace only rebuilds demo workspaces"
            )
        bind_tenant(session, tenant_id)
        _clear_records(session, tenant_id)
        return tenant_id, False, True
    if _has_records(session, tenant_id):
        raise Conflict(
            f"Workspace '{slug}' already has records: seeding only fills empty workspaces "
            "(pass --replace to rebuild a demo workspace, or choose another --tenant)"
        )
    return tenant_id, False, False


def _has_records(session: Session, tenant_id: UUID) -> bool:
    checks = " OR ".join(f"EXISTS (SELECT 1 FROM {t} WHERE tenant_id = :t)" for t in RECORD_TABLES)
    return bool(session.execute(text(f"SELECT {checks}"), {"t": tenant_id}).scalar())


def _clear_records(session: Session, tenant_id: UUID) -> None:
    """Every CRM record of the workspace, children first (the audit triggers record the deletions)."""
    for table in reversed(LOAD_ORDER):
        session.execute(text(f"DELETE FROM {table} WHERE tenant_id = :t"), {"t": tenant_id})


def _create_people(
    session: Session, actor: Actor, truth: Truth, password: str, *, created_tenant: bool
) -> list[dict[str, Any]]:
    """Teams and users through their services (a manager heads each team). Demo users that already exist
    (an earlier seed of this workspace) are reused; their password becomes this seed's and they are signed out."""
    existing_teams = {team.name: team for team in users.list_teams(session, actor)}
    teams = []
    for team in truth.teams:
        found = existing_teams.get(team.name) or users.create_team(
            session,
            actor,
            TeamCreate(name=team.name, description=f"Sells to companies of {', '.join(team.company_sizes)} people"),
        )
        teams.append(found)
    people = []
    for person in truth.people:
        team_id = teams[person.team].id if person.team is not None else None
        user = session.scalar(
            select(User).where(
                User.tenant_id == actor.tenant_id,
                User.email == person.email,
                User.deleted_at.is_(None),
                User.is_active.is_(True),
            )
        )
        if user is None:
            user, _ = users.create(
                session,
                actor,
                UserCreate(
                    email=person.email,
                    first_name=person.first_name,
                    last_name=person.last_name,
                    password=password,
                    role=person.role,
                    team_id=team_id,
                ),
            )
        elif not (created_tenant and person.role == "admin"):  # the new tenant's admin has the password already
            _reset_password(session, user, password)
        user.is_verified = True
        people.append(
            {
                "id": str(user.id),
                "email": user.email,
                "name": f"{user.first_name} {user.last_name}",
                "role": person.role,
                "team": truth.teams[person.team].name if person.team is not None else None,
            }
        )
        if person.role == "manager" and person.team is not None:
            users.update_team(session, actor, teams[person.team].id, TeamUpdate(manager_id=user.id))
    session.flush()
    return people


def _reset_password(session: Session, user: User, password: str) -> None:
    """A reused demo user gets this seed's password (hashed as the users service hashes every password)."""
    user.password_hash = passwords.hash_password(password)
    user.password_changed_at = datetime.now(UTC)
    user_id = user.id
    on_commit(session, lambda: sessions.revoke_all(user_id))


def _world(session: Session, actor: Actor, slug: str, people: list[dict[str, Any]]) -> World:
    """The ids the generator refers to: custom fields (made here through their service) and the default
    pipeline's stages, as detached copies the generating thread may read."""
    existing = {(f.entity_type, f.field_name): f for f in custom_fields.list_fields(session, actor)}
    fields = {}
    for order, (entity, field_name, label, kind, options) in enumerate(CUSTOM_FIELDS):
        found = existing.get((entity, field_name))
        if found is None or found.field_type != kind or (options and set(options) - set(found.field_options or [])):
            found = custom_fields.create(
                session,
                actor,
                CustomFieldCreate(
                    entity_type=entity,  # type: ignore[arg-type]
                    field_name=field_name,
                    field_label=label,
                    field_type=kind,  # type: ignore[arg-type]
                    field_options=list(options) if options else None,
                    display_order=order,
                ),
            )
        fields[field_name] = CustomField(
            id=found.id,
            tenant_id=found.tenant_id,
            entity_type=found.entity_type,
            field_name=found.field_name,
            field_label=found.field_label,
            field_type=found.field_type,
            field_options=list(found.field_options) if found.field_options else None,
        )
    pipeline = pipelines.default_pipeline(session, actor)
    if pipeline is None:
        raise Conflict("The workspace has no default pipeline to put demo deals on")
    stages = [_copy_stage(s) for s in pipelines.stages_by_pipeline(session, actor, [pipeline.id])[pipeline.id]]
    open_stages = tuple(s for s in stages if not s.is_closed_stage)
    won = [s for s in stages if s.is_won_stage]
    lost = [s for s in stages if s.is_closed_stage and not s.is_won_stage]
    if not open_stages or not won or not lost:
        raise Conflict(
            f"The default pipeline '{pipeline.name}' needs open stages, a won stage and a lost stage for demo deals"
        )
    return World(
        tenant_id=str(actor.tenant_id),
        slug=slug,
        pipeline_id=str(pipeline.id),
        currency=pipeline.currency,
        open_stages=open_stages,
        won_stage=won[0],
        lost_stage=lost[0],
        user_ids=tuple(p["id"] for p in people),
        fields=fields,
    )


def _copy_stage(stage: Stage) -> Stage:
    return Stage(
        id=stage.id,
        tenant_id=stage.tenant_id,
        pipeline_id=stage.pipeline_id,
        name=stage.name,
        display_order=stage.display_order,
        probability=stage.probability,
        is_closed_stage=stage.is_closed_stage,
        is_won_stage=stage.is_won_stage,
        rotting_days=stage.rotting_days,
    )


def _load(session: Session, generator: Generator, report: ProgressFn) -> None:
    """Stream the generated batches into the transaction with COPY, generation running one chunk ahead."""
    session.flush()
    session.execute(text("SET LOCAL work_mem = '64MB'"))  # the audit triggers' transition tables stay in memory
    session.execute(text("SET LOCAL app.audit_mode = 'summary'"))  # one audit row per batch (migration 0010)
    raw = session.connection().connection.driver_connection
    scale = generator.truth.scale

    def work() -> Any:
        done = 0
        for batch in generator.accounts():
            done += batch.rows if batch.table == "accounts" else 0
            yield "accounts", done, scale.accounts, [batch]
        yield "contacts", 0, scale.contacts, []
        for contacts, batches in generator.chunks():
            yield "contacts", contacts, scale.contacts, batches

    report("accounts", 0, scale.accounts)
    for phase, done, total, batches in prefetch(work()):
        for batch in batches:
            copy_batch(raw, batch)
        report(phase, done, total)


def _analyze() -> None:
    """Fresh planner statistics for the loaded tables (autovacuum gets there too, later): the seed is committed
    already, so a failure here is only logged."""
    try:
        with owner_engine().begin() as conn:
            conn.execute(text(f"ANALYZE {', '.join(LOAD_ORDER)}"))
    except SQLAlchemyError:
        log.warning("ANALYZE after seeding failed; autovacuum will refresh the statistics", exc_info=True)


def _truth_document(
    truth: Truth, world: World, people: list[dict[str, Any]], realized: dict[str, Any], slug: str
) -> dict[str, Any]:
    planted = truth.to_json()
    expected_cycle = sum(world_stage_days(truth, world))
    roster = []
    for person, user in zip(truth.people, people, strict=True):
        entry = {**user, "id": user["id"]}
        if person.role == "rep":
            team = truth.teams[person.team] if person.team is not None else None
            entry.update(
                win_effect=person.win,
                speed=person.speed,
                activity=person.activity,
                expected_cycle_days=round(expected_cycle * person.speed * (team.cycle_factor if team else 1), 1),
                realized=realized["win_rate_by_rep"].get(person.email),
            )
        roster.append(entry)
    return {
        "format": 1,
        "generator_version": GENERATOR_VERSION,
        "tenant": {"id": world.tenant_id, "slug": slug},
        "seed": truth.seed,
        "scale": truth.scale.name,
        "as_of": truth.as_of.isoformat(),
        "period": {"start": truth.start.isoformat(), "end": truth.as_of.isoformat()},
        "stages": [
            {"id": str(s.id), "name": s.name, "mean_days": d}
            for s, d in zip(world.open_stages, world_stage_days(truth, world), strict=True)
        ]
        + [{"id": str(s.id), "name": s.name} for s in (world.won_stage, world.lost_stage)],
        "custom_fields": {name: str(f.id) for name, f in world.fields.items()},
        "users": roster,
        "planted": planted,
        "realized": realized,
    }


def world_stage_days(truth: Truth, world: World) -> list[float]:
    k = len(world.open_stages)
    return list(truth.stage_days) if k == len(truth.stage_days) else [10.0] * k
