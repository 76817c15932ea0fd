"""Roles and permissions: the system roles every tenant gets, custom roles, the permission check every
service makes, and record scope (own/team/all) applied by `actor.readable`."""

from __future__ import annotations

import secrets
import threading
import time

import pytest
from sqlalchemy import select, text

from core.actor import Actor
from core.auth import service as auth
from core.auth.models import ApiKey
from core.db import owner_engine, unit_of_work
from core.errors import Conflict, PermissionDenied, ValidationFailed
from core.ids import new_id
from core.jobs.models import Job
from core.rbac import service as rbac
from core.rbac.catalog import ALL_PERMISSIONS, SYSTEM_ROLES
from core.rbac.models import Role
from core.rbac.schemas import RoleCreate, RoleUpdate
from core.users import service as users
from core.users.models import User
from core.users.schemas import TeamCreate, UserCreate, UserUpdate
from tests.factories import PASSWORD


def grants(world) -> dict[str, tuple[str, bool, set[str]]]:
    """Every role of the tenant as stored: name -> (record scope, system?, permissions)."""
    admin = world.admin
    with unit_of_work(admin) as session:
        return {
            r.name: (r.record_scope, r.is_system_role, set(rbac.role_permissions(session, r.id)))
            for r in rbac.list_roles(session, admin)
        }


def test_every_tenant_gets_the_five_system_roles_with_sensible_grants(make_tenant):
    first, second = make_tenant(), make_tenant()
    roles = grants(first)
    assert set(roles) == {"admin", "manager", "rep", "analyst", "read_only"}
    assert {name: (scope, system) for name, (scope, system, _) in roles.items()} == {
        "admin": ("all", True),
        "manager": ("team", True),
        "rep": ("own", True),
        "analyst": ("all", True),
        "read_only": ("all", True),
    }
    for name, (_, _, perms) in roles.items():
        assert perms == set(SYSTEM_ROLES[name][2]), name
    with unit_of_work() as session:
        catalogue = set(auth.permission_catalogue(session))
    assert catalogue == set(ALL_PERMISSIONS)
    assert roles["admin"][2] == catalogue

    rep, manager, analyst, read_only = (roles[n][2] for n in ("rep", "manager", "analyst", "read_only"))
    assert {"contacts:read", "contacts:create", "deals:update", "tasks:delete"} <= rep
    assert not {"users:manage", "roles:manage", "api_keys:manage", "settings:manage", "contacts:delete"} & rep
    assert {"contacts:delete", "deals:delete", "reports:create", "forecasts:manage"} <= manager
    assert not {"users:manage", "roles:manage", "api_keys:manage", "settings:manage"} & manager
    assert {"warehouse:read", "reports:create", "deals:export"} <= analyst
    assert not {"contacts:create", "deals:update", "users:manage"} & analyst
    assert {"contacts:read", "deals:read", "reports:read"} <= read_only
    assert not {p for p in read_only if not p.endswith(":read")}
    assert "contacts:create" not in read_only
    # Each tenant has its own copy of the roles (ids differ, grants agree).
    assert grants(second) == roles
    with unit_of_work(first.admin) as session:
        ids_first = {r.id for r in rbac.list_roles(session, first.admin)}
    with unit_of_work(second.admin) as session:
        ids_second = {r.id for r in rbac.list_roles(session, second.admin)}
    assert not ids_first & ids_second

    rep_actor = first.actor(first.add_user("rep"))
    assert rep_actor.permissions == rep and rep_actor.scope == "own" and rep_actor.role == "rep"


def test_actor_require_names_the_missing_permission_and_services_enforce_it(tenant):
    rep = tenant.actor(tenant.add_user("rep"))
    rep.require("contacts", "create")
    assert rep.can("contacts", "read") and not rep.can("users", "manage")
    with pytest.raises(PermissionDenied) as raised:
        rep.require("users", "manage")
    err = raised.value
    assert (err.code, err.status) == ("FORBIDDEN", 403)
    assert "manage" in err.message and "users" in err.message
    assert err.details == {"required": "users:manage", "role": "rep"}

    with pytest.raises(PermissionDenied, match="manage on users"), unit_of_work(rep) as session:
        users.create(
            session,
            rep,
            UserCreate(
                email=f"sneaky@{tenant.slug}.example.com",
                first_name="S",
                last_name="N",
                password=PASSWORD,
                role="admin",
            ),
        )
    with pytest.raises(PermissionDenied, match="manage on roles"), unit_of_work(rep) as session:
        rbac.create(session, rep, RoleCreate(name="god", permissions=list(ALL_PERMISSIONS)))
    with pytest.raises(PermissionDenied, match="manage on api_keys"), unit_of_work(rep) as session:
        auth.create_api_key(session, rep, name="k", permissions=["contacts:read"])
    with owner_engine().connect() as conn:
        assert (
            conn.execute(text("SELECT count(*) FROM roles WHERE tenant_id = :t"), {"t": tenant.tenant_id}).scalar_one()
            == 5
        )
    system = Actor.system(tenant.tenant_id)
    assert system.kind == "system" and set(system.permissions) == set(ALL_PERMISSIONS)


def test_admin_creates_a_custom_role_with_permissions_and_scope(tenant):
    admin = tenant.admin
    with unit_of_work(admin) as session:
        role = rbac.create(
            session,
            admin,
            RoleCreate(
                name="sdr",
                description="Books meetings",
                record_scope="team",
                permissions=["contacts:read", "contacts:create", "activities:create", "contacts:read"],
            ),
        )
        read = rbac.to_read(session, role)
    assert read.name == "sdr" and read.record_scope == "team" and not read.is_system_role
    assert read.permissions == ["activities:create", "contacts:create", "contacts:read"]

    with unit_of_work(admin) as session:
        team = users.create_team(session, admin, TeamCreate(name="Outbound"))
    sdr = tenant.actor(tenant.add_user("sdr", team_id=team.id))
    assert sdr.role == "sdr" and sdr.scope == "team" and sdr.team_id == team.id
    assert sdr.permissions == {"activities:create", "contacts:create", "contacts:read"}

    with pytest.raises(ValidationFailed) as raised, unit_of_work(admin) as session:
        rbac.create(session, admin, RoleCreate(name="wizard", permissions=["contacts:read", "spells:cast"]))
    assert "spells:cast" in raised.value.message
    with pytest.raises(Conflict, match="already exists"), unit_of_work(admin) as session:
        rbac.create(session, admin, RoleCreate(name="sdr", permissions=["contacts:read"]))
    with pytest.raises(ValidationFailed), unit_of_work(admin) as session:
        rbac.update(session, admin, role.id, RoleUpdate(permissions=["contacts:fly"]))
    assert set(grants(tenant)) == {"admin", "manager", "rep", "analyst", "read_only", "sdr"}
    assert grants(tenant)["sdr"][2] == {"activities:create", "contacts:create", "contacts:read"}

    with unit_of_work(admin) as session:
        rbac.update(session, admin, role.id, RoleUpdate(record_scope="own", permissions=["contacts:read"]))
    sdr = tenant.actor(sdr.user_id)
    assert sdr.scope == "own" and sdr.permissions == {"contacts:read"}


def test_system_roles_cannot_be_changed_or_deleted(tenant):
    admin = tenant.admin
    before = grants(tenant)
    with unit_of_work(admin) as session:
        system_roles = {r.name: r.id for r in rbac.list_roles(session, admin)}
    for role_id in system_roles.values():
        with pytest.raises(Conflict, match="cannot be changed"), unit_of_work(admin) as session:
            rbac.update(session, admin, role_id, RoleUpdate(permissions=list(ALL_PERMISSIONS)))
        with pytest.raises(Conflict, match="cannot be deleted"), unit_of_work(admin) as session:
            rbac.delete_role(session, admin, role_id)
    assert grants(tenant) == before


def test_a_role_in_use_cannot_be_deleted_until_its_users_move(tenant):
    admin = tenant.admin
    with unit_of_work(admin) as session:
        role = rbac.create(session, admin, RoleCreate(name="partner", permissions=["contacts:read"]))
    member = tenant.add_user("partner")
    with pytest.raises(Conflict) as raised, unit_of_work(admin) as session:
        rbac.delete_role(session, admin, role.id)
    assert "assigned to 1 user" in raised.value.message and "reassign" in raised.value.message
    assert "partner" in grants(tenant)

    with unit_of_work(admin) as session:
        users.update(session, admin, member, UserUpdate(role="read_only"))
    with unit_of_work(admin) as session:
        rbac.delete_role(session, admin, role.id)
    assert "partner" not in grants(tenant)
    with unit_of_work(admin) as session:
        assert session.scalar(select(Role).where(Role.id == role.id)) is None
        assert session.scalar(select(User.role_id).where(User.id == member)) != role.id


def test_record_scope_own_team_and_all_decide_which_records_an_actor_reads(tenant):
    admin = tenant.admin
    with unit_of_work(admin) as session:
        east = users.create_team(session, admin, TeamCreate(name="East"))
        west = users.create_team(session, admin, TeamCreate(name="West"))
    people = {
        "rep_east_1": tenant.add_user("rep", team_id=east.id),
        "rep_east_2": tenant.add_user("rep", team_id=east.id),
        "rep_west": tenant.add_user("rep", team_id=west.id),
        "manager_east": tenant.add_user("manager", team_id=east.id),
        "manager_no_team": tenant.add_user("manager"),
        "analyst": tenant.add_user("analyst"),
        "admin": tenant.admin_id,
    }
    job_of: dict[str, object] = {}
    with unit_of_work(admin) as session:
        for who, user_id in people.items():
            job = Job(id=new_id(), tenant_id=tenant.tenant_id, kind=f"report-{who}", created_by=user_id)
            session.add(job)
            job_of[who] = job.id

    def visible(who: str) -> set[str]:
        actor = tenant.actor(people[who])
        with unit_of_work(actor) as session:
            found = set(session.scalars(actor.readable(Job).with_only_columns(Job.id)))
        return {name for name, job_id in job_of.items() if job_id in found}

    everyone = set(people)
    assert visible("rep_east_1") == {"rep_east_1"}
    assert visible("rep_west") == {"rep_west"}
    assert visible("manager_east") == {"rep_east_1", "rep_east_2", "manager_east"}
    assert visible("manager_no_team") == {"manager_no_team"}  # team scope without a team narrows to own
    assert visible("analyst") == everyone
    assert visible("admin") == everyone

    # API keys are owned by their user; the same scope rules apply.
    keys = {}
    with unit_of_work(admin) as session:
        for who in ("rep_east_2", "admin"):
            key = ApiKey(
                id=new_id(),
                tenant_id=tenant.tenant_id,
                name=who,
                prefix=secrets.token_hex(6),  # (a UUIDv7 starts with its millisecond: not unique)
                key_hash="0" * 64,
                user_id=people[who],
                permissions=["contacts:read"],
            )
            session.add(key)
            keys[who] = key.id

    def visible_keys(who: str) -> set:
        actor = tenant.actor(people[who])
        with unit_of_work(actor) as session:
            return set(session.scalars(actor.readable(ApiKey).with_only_columns(ApiKey.id)))

    assert visible_keys("manager_east") == {keys["rep_east_2"]}
    assert visible_keys("rep_east_1") == set()
    assert visible_keys("rep_east_2") == {keys["rep_east_2"]}
    assert visible_keys("admin") == set(keys.values())


def test_nobody_can_hand_out_more_than_they_hold(tenant):
    """A user manager without admin powers cannot promote anyone (themselves included) to admin, and a role
    manager cannot mint a role with permissions they lack."""
    admin = tenant.admin
    with unit_of_work(admin) as session:
        rbac.create(
            session,
            admin,
            RoleCreate(
                name="people_ops",
                record_scope="all",
                permissions=["users:read", "users:manage", "roles:read", "roles:manage"],
            ),
        )
        hr, _ = users.create(
            session,
            admin,
            UserCreate(email="hr@example.com", first_name="H", last_name="R", password=PASSWORD, role="people_ops"),
        )
        rbac.create(session, admin, RoleCreate(name="directory", record_scope="own", permissions=["users:read"]))
    hr_actor = tenant.actor(hr.id)
    rep_id = tenant.add_user("rep")
    clerk_id = tenant.add_user("directory")
    with unit_of_work(hr_actor) as session:
        with pytest.raises(PermissionDenied, match="assign a role with permissions you do not hold"):
            users.update(session, hr_actor, hr.id, UserUpdate(role="admin"))
    with unit_of_work(hr_actor) as session:
        with pytest.raises(PermissionDenied, match="users:manage|contacts"):
            users.create(
                session,
                hr_actor,
                UserCreate(email="boss@example.com", first_name="B", last_name="B", password=PASSWORD, role="admin"),
            )
    with unit_of_work(hr_actor) as session:
        with pytest.raises(PermissionDenied, match="settings:manage"):
            rbac.create(session, hr_actor, RoleCreate(name="sneaky", permissions=["settings:manage"]))
    with unit_of_work(hr_actor) as session:  # a rep holds powers HR lacks (contacts...): not HR's to change
        with pytest.raises(PermissionDenied, match="change a user whose role has permissions you do not hold"):
            users.update(session, hr_actor, rep_id, UserUpdate(role="people_ops"))
    with unit_of_work(hr_actor) as session:  # within their own powers it works
        users.update(session, hr_actor, clerk_id, UserUpdate(role="people_ops"))
    with unit_of_work(admin) as session:
        assert users.to_read(session, users.get(session, admin, hr.id)).role == "people_ops"
        assert users.to_read(session, users.get(session, admin, rep_id)).role == "rep"
        assert users.to_read(session, users.get(session, admin, clerk_id)).role == "people_ops"


def _scopes(world) -> dict[str, str]:
    return {name: scope for name, (scope, _, _) in grants(world).items()}


def test_record_scope_cannot_be_widened_beyond_the_actors_own(tenant):
    """own < team < all: a role manager with team scope can neither mint nor widen a role to `all`, nor change a
    role that already reads everything, nor assign one to a user (which would let them read everything)."""
    admin = tenant.admin
    with unit_of_work(admin) as session:
        rbac.create(
            session,
            admin,
            RoleCreate(
                name="team_ops",
                record_scope="team",
                permissions=["roles:read", "roles:manage", "users:read", "users:manage", "contacts:read"],
            ),
        )
        wide = rbac.create(
            session, admin, RoleCreate(name="wide_reader", record_scope="all", permissions=["contacts:read"])
        )
    lead = tenant.actor(tenant.add_user("team_ops"))
    assert lead.scope == "team"
    with pytest.raises(PermissionDenied) as raised, unit_of_work(lead) as session:
        rbac.create(session, lead, RoleCreate(name="reader", record_scope="all", permissions=["contacts:read"]))
    assert "record scope 'all'" in raised.value.message and "wider than your own ('team')" in raised.value.message
    assert raised.value.details == {"scope": "all", "yourScope": "team"}
    with unit_of_work(lead) as session:
        narrow = rbac.create(
            session, lead, RoleCreate(name="reader", record_scope="team", permissions=["contacts:read"])
        )
    with pytest.raises(PermissionDenied, match="record scope 'all'"), unit_of_work(lead) as session:
        rbac.update(session, lead, narrow.id, RoleUpdate(record_scope="all"))
    with pytest.raises(PermissionDenied, match="record scope 'all'"), unit_of_work(lead) as session:
        rbac.update(session, lead, wide.id, RoleUpdate(description="harmless?", record_scope="own"))
    with unit_of_work(lead) as session:  # narrowing one's own kind of role is fine
        rbac.update(session, lead, narrow.id, RoleUpdate(record_scope="own"))
    assert _scopes(tenant)["reader"] == "own" and _scopes(tenant)["wide_reader"] == "all"
    assert "reader" in grants(tenant)

    member = tenant.add_user("reader")
    with pytest.raises(PermissionDenied, match="assign a role with record scope 'all'"), unit_of_work(lead) as session:
        users.update(session, lead, member, UserUpdate(role="wide_reader"))
    with pytest.raises(PermissionDenied, match="assign a role with record scope 'all'"), unit_of_work(lead) as session:
        users.create(
            session,
            lead,
            UserCreate(email=f"wide@{tenant.slug}.example.com", first_name="W", last_name="R", role="wide_reader"),
        )
    with unit_of_work(admin) as session:
        assert users.to_read(session, users.get(session, admin, member)).role == "reader"
        assert users.list_users(session, admin)[1] == 3  # admin, lead, member: nobody was added


def test_a_user_manager_cannot_change_or_deactivate_users_above_them(tenant):
    """The target's current role must lie within the actor's own powers: permissions and record scope."""
    admin = tenant.admin
    with unit_of_work(admin) as session:
        rbac.create(
            session,
            admin,
            RoleCreate(name="people_ops", record_scope="all", permissions=["users:read", "users:manage", "roles:read"]),
        )
        rbac.create(
            session, admin, RoleCreate(name="team_hr", record_scope="team", permissions=["users:read", "users:manage"])
        )
        rbac.create(session, admin, RoleCreate(name="directory", record_scope="all", permissions=["users:read"]))
    hr = tenant.actor(tenant.add_user("people_ops"))
    team_hr = tenant.actor(tenant.add_user("team_hr"))
    clerk = tenant.add_user("directory")
    for change in (UserUpdate(role="read_only"), UserUpdate(is_active=False), UserUpdate(first_name="Demoted")):
        with pytest.raises(PermissionDenied, match="change a user whose role has permissions you do not hold"):
            with unit_of_work(hr) as session:
                users.update(session, hr, tenant.admin_id, change)
    with pytest.raises(PermissionDenied, match="deactivate a user whose role has"), unit_of_work(hr) as session:
        users.deactivate(session, hr, tenant.admin_id)
    # Same permissions as the clerk's role and more, but a narrower scope than the clerk's `all`.
    with pytest.raises(PermissionDenied, match="record scope 'all'"), unit_of_work(team_hr) as session:
        users.deactivate(session, team_hr, clerk)
    with unit_of_work(admin) as session:
        target = users.get(session, admin, tenant.admin_id)
        assert (target.is_active, target.first_name, users.to_read(session, target).role) == (True, "Admin", "admin")
        assert users.get(session, admin, clerk).is_active
    with unit_of_work(hr) as session:  # below them it works
        users.deactivate(session, hr, clerk)


def test_the_last_admin_cannot_be_demoted_or_deactivated_by_anyone(tenant):
    admin = tenant.admin
    with unit_of_work(admin) as session:
        rbac.create(session, admin, RoleCreate(name="root", record_scope="all", permissions=list(ALL_PERMISSIONS)))
    root = tenant.actor(tenant.add_user("root"))  # every power, yet not an admin
    attempts = [
        lambda session: users.update(session, root, tenant.admin_id, UserUpdate(role="root")),
        lambda session: users.update(session, root, tenant.admin_id, UserUpdate(is_active=False)),
        lambda session: users.deactivate(session, root, tenant.admin_id),
    ]
    for attempt in attempts:
        with pytest.raises(Conflict, match="is the last admin; make someone else admin first"):
            with unit_of_work(root) as session:
                attempt(session)
    with pytest.raises(Conflict, match="You are the last admin"), unit_of_work(admin) as session:
        users.update(session, admin, tenant.admin_id, UserUpdate(role="root"))
    with unit_of_work(admin) as session:
        assert users.to_read(session, users.get(session, admin, tenant.admin_id)).role == "admin"

    second = tenant.add_user("admin")  # with another active admin, either may step down
    with unit_of_work(root) as session:
        users.update(session, root, tenant.admin_id, UserUpdate(role="root"))
    with pytest.raises(Conflict, match="is the last admin"), unit_of_work(root) as session:
        users.deactivate(session, root, second)


def test_two_admins_demoting_each_other_at_once_leave_one_admin(tenant):
    """The last-admin check is serialised per tenant: the second demotion waits for the first and is refused."""
    first, second = tenant.admin, tenant.actor(tenant.add_user("admin"))
    outcome: dict[str, object] = {}

    def demote_first() -> None:
        try:
            with unit_of_work(second) as session:
                users.update(session, second, first.user_id, UserUpdate(role="manager"))
            outcome["result"] = "demoted"
        except Exception as exc:  # noqa: BLE001 - reported to the main thread
            outcome["result"] = exc

    with unit_of_work(first) as session:
        users.update(session, first, second.user_id, UserUpdate(role="manager"))
        thread = threading.Thread(target=demote_first)
        thread.start()
        _wait_for_lock_waiter()
    thread.join(timeout=30)
    assert isinstance(outcome["result"], Conflict), outcome
    with unit_of_work(first) as session:
        assert users.to_read(session, users.get(session, first, first.user_id)).role == "admin"
        assert users.to_read(session, users.get(session, first, second.user_id)).role == "manager"


def _wait_for_lock_waiter(timeout: float = 10.0) -> None:
    """Until some backend of this database waits on a lock (the second transaction reached the tenant lock)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with owner_engine().connect() as conn:  # a new transaction each time: activity stats are snapshots
            waiting = conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                    " AND datname = current_database()"
                )
            ).scalar_one()
        if waiting:
            return
        time.sleep(0.05)
    raise AssertionError("the second transaction never waited for the tenant lock")
