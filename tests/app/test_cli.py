"""The `clientforge` CLI, in process, against the run's real PostgreSQL and Redis (the env points at them)."""

from __future__ import annotations

import re
import secrets

import pytest
from typer.testing import CliRunner

from app.cli import app
from core.auth import service as auth
from core.db import unit_of_work
from core.errors import AuthenticationFailed
from core.users import service as users
from core.users.schemas import TeamCreate
from tests.factories import PASSWORD, TenantWorld

PASSWORD_LINE = re.compile(r"Password:\s+(\S+)")

runner = CliRunner()


def invoke(*args: str):  # noqa: ANN201
    return runner.invoke(app, list(args))


def new_slug() -> str:
    return f"cli-{secrets.token_hex(4)}"


def assert_one_line_error(result, *fragments: str) -> str:  # noqa: ANN001
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0]
    return lines[0]


def test_tenant_create_prints_a_generated_password_once_and_it_logs_in() -> None:
    slug = new_slug()
    email = f"boss@{slug}.example.com"
    result = invoke(
        "tenant",
        "create",
        "--name",
        "Acme Ltd",
        "--slug",
        slug,
        "--plan",
        "business",
        "--max-users",
        "7",
        "--admin-email",
        email,
        "--admin-first-name",
        "Ada",
        "--admin-last-name",
        "Lovelace",
    )
    assert result.exit_code == 0, result.output
    assert f"slug {slug}, plan business, up to 7 users" in result.stdout
    passwords = PASSWORD_LINE.findall(result.stdout)
    assert len(passwords) == 1
    pair = auth.login_committing_failures(email=email, password=passwords[0], tenant_slug=slug)
    assert pair.access_token


def test_tenant_create_with_a_chosen_password_prints_no_password() -> None:
    slug = new_slug()
    result = invoke(
        "tenant",
        "create",
        "--name",
        "Chosen",
        "--slug",
        slug,
        "--admin-email",
        f"a@{slug}.io",
        "--admin-password",
        PASSWORD,
    )
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output
    assert not PASSWORD_LINE.search(result.output)
    assert auth.login_committing_failures(email=f"a@{slug}.io", password=PASSWORD, tenant_slug=slug)


def test_duplicate_slug_is_a_one_line_error(tenant: TenantWorld) -> None:
    result = invoke("tenant", "create", "--name", "Again", "--slug", tenant.slug, "--admin-email", "x@example.com")
    assert_one_line_error(result, f"'{tenant.slug}' already exists")


@pytest.mark.parametrize(
    ("option", "value", "fragment"),
    [
        ("--slug", "Not A Slug!", "--slug"),
        ("--plan", "platinum", "--plan"),
        ("--admin-email", "nope", "--admin-email"),
    ],
)
def test_invalid_tenant_input_names_the_option(option: str, value: str, fragment: str) -> None:
    args = {"--name": "Bad", "--slug": new_slug(), "--admin-email": "ok@example.com", option: value}
    result = invoke("tenant", "create", *[x for pair in args.items() for x in pair])
    assert_one_line_error(result, fragment)


def test_weak_admin_password_is_refused() -> None:
    slug = new_slug()
    result = invoke(
        "tenant",
        "create",
        "--name",
        "Weak",
        "--slug",
        slug,
        "--admin-email",
        "a@example.com",
        "--admin-password",
        "password",
    )
    assert_one_line_error(result, "at least 12 characters")
    with unit_of_work() as session:
        from core.tenants import service as tenants

        assert tenants.lookup_slug(session, slug) is None  # nothing was written


def test_user_create_prints_a_generated_password_that_logs_in(tenant: TenantWorld) -> None:
    email = f"rep-{secrets.token_hex(3)}@{tenant.slug}.example.com"
    result = invoke(
        "user",
        "create",
        "--tenant",
        tenant.slug,
        "--email",
        email,
        "--first-name",
        "Rita",
        "--last-name",
        "Rep",
        "--role",
        "manager",
    )
    assert result.exit_code == 0, result.output
    assert f"Created user {email} (manager)" in result.stdout
    passwords = PASSWORD_LINE.findall(result.stdout)
    assert len(passwords) == 1
    pair = auth.login_committing_failures(email=email, password=passwords[0], tenant_slug=tenant.slug)
    actor = tenant.actor(pair.user_id)
    assert actor.role == "manager"


def test_user_create_with_a_password_and_a_team(tenant: TenantWorld) -> None:
    with unit_of_work(tenant.admin) as session:
        team = users.create_team(session, tenant.admin, TeamCreate(name="North"))
        team_id = team.id
    email = f"north@{tenant.slug}.example.com"
    result = invoke(
        "user",
        "create",
        "--tenant",
        tenant.slug,
        "--email",
        email,
        "--first-name",
        "Nora",
        "--last-name",
        "North",
        "--team",
        "North",
        "--password",
        PASSWORD,
    )
    assert result.exit_code == 0, result.output
    assert not PASSWORD_LINE.search(result.output)
    pair = auth.login_committing_failures(email=email, password=PASSWORD, tenant_slug=tenant.slug)
    assert tenant.actor(pair.user_id).team_id == team_id


def test_user_create_with_an_unknown_role_is_a_one_line_error(tenant: TenantWorld) -> None:
    email = f"wiz@{tenant.slug}.example.com"
    result = invoke(
        "user",
        "create",
        "--tenant",
        tenant.slug,
        "--email",
        email,
        "--first-name",
        "W",
        "--last-name",
        "Izard",
        "--role",
        "wizard",
    )
    assert_one_line_error(result, "Unknown role 'wizard'")
    with pytest.raises(AuthenticationFailed):
        auth.login_committing_failures(email=email, password=PASSWORD, tenant_slug=tenant.slug)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--tenant", "no-such-workspace"], "no workspace with slug 'no-such-workspace'"),
        (["--team", "Nowhere"], "no team 'Nowhere'"),
        (["--email", "not-an-email"], "--email"),
    ],
)
def test_user_create_errors(tenant: TenantWorld, args: list[str], fragment: str) -> None:
    options = {
        "--tenant": tenant.slug,
        "--email": f"u@{tenant.slug}.example.com",
        "--first-name": "U",
        "--last-name": "Ser",
    }
    options.update(dict(zip(args[::2], args[1::2], strict=True)))
    result = invoke("user", "create", *[x for pair in options.items() for x in pair])
    assert_one_line_error(result, fragment)


def test_plan_limit_is_reported(make_tenant) -> None:  # noqa: ANN001
    small = make_tenant(plan="starter", max_users=1)
    result = invoke(
        "user",
        "create",
        "--tenant",
        small.slug,
        "--email",
        f"two@{small.slug}.example.com",
        "--first-name",
        "Two",
        "--last-name",
        "Many",
    )
    assert_one_line_error(result, "allows 1 active users")


def test_migrate_is_idempotent() -> None:
    first = invoke("migrate")
    second = invoke("migrate")
    assert first.exit_code == 0, first.output
    assert second.exit_code == 0, second.output
    assert "at head" in first.stdout
    assert first.stdout == second.stdout


def test_status_reports_database_redis_and_tenants(tenant: TenantWorld) -> None:
    result = invoke("status", "--api-port", "1")
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line for line in result.stdout.splitlines() if line.strip()}
    assert re.search(r"ok\s+PostgreSQL \d+", rows["database"])
    assert re.search(r"ok\s+Redis \d+", rows["redis"])
    assert re.search(r"ok\s+at head", rows["migrations"])
    assert int(rows["tenants"].split()[-1]) >= 1
    assert "down" in rows["api"]  # nothing listens on port 1; not fatal
    assert "worker" in rows


@pytest.mark.parametrize("command", ["api", "ui"])
def test_a_busy_port_is_a_one_line_error(command: str) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = invoke(command, "--port", str(port))
    assert_one_line_error(result, f"port {port} is in use: stop the other process or pass --port")


def test_no_command_shows_help() -> None:
    result = invoke()
    assert "tenant" in result.output and "status" in result.output
