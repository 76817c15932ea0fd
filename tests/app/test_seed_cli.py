"""`clientforge seed`, in process, against the run's real PostgreSQL and Redis."""

from __future__ import annotations

import json
import re
import secrets
from pathlib import Path

from typer.testing import CliRunner

from app.cli import app
from core.auth import service as auth
from tests.factories import create_tenant

PASSWORD_LINE = re.compile(r"Password:\s+(\S+)")
TRUTH_LINE = re.compile(r"Truth file: (\S+)")

runner = CliRunner()


def invoke(*args: str):  # noqa: ANN201
    return runner.invoke(app, list(args))


def assert_one_line_error(result, *fragments: str) -> None:  # noqa: ANN001
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0]


def test_seed_creates_a_demo_workspace_prints_its_password_once_and_refuses_to_seed_it_again() -> None:
    slug = f"seed-{secrets.token_hex(4)}"
    result = invoke("seed", "--tenant", slug, "--scale", "small", "--seed", "3", "--as-of", "2026-06-30")
    assert result.exit_code == 0, result.output
    assert f"demo workspace 'Acme Demo' (slug {slug}, small, seed 3, history to 2026-06-30)" in result.stdout
    assert re.search(r"with 10 users, 100 accounts, 5\d\d contacts, \d+ deals, [\d,]+ activities", result.stdout)
    passwords = PASSWORD_LINE.findall(result.stdout)
    assert len(passwords) == 1
    truth = json.loads(Path(TRUTH_LINE.search(result.stdout).group(1)).read_text())  # type: ignore[union-attr]
    assert truth["tenant"]["slug"] == slug and truth["seed"] == 3
    rep = next(user for user in truth["users"] if user["role"] == "rep")
    for email in ("admin@acme-demo.example.com", rep["email"]):
        assert auth.login_committing_failures(email=email, password=passwords[0], tenant_slug=slug).access_token

    again = invoke("seed", "--tenant", slug, "--scale", "small")
    assert_one_line_error(again, f"Workspace '{slug}' already has records", "--replace")


def test_seed_refuses_to_replace_a_workspace_it_did_not_create() -> None:
    world = create_tenant()
    result = invoke("seed", "--tenant", world.slug, "--scale", "small", "--replace")
    assert_one_line_error(result, "not created by `clientforge seed`")


def test_seed_rejects_an_unknown_scale_and_a_weak_password_without_touching_the_database() -> None:
    result = invoke("seed", "--scale", "huge")
    assert result.exit_code == 2
    assert "huge" in result.output
    slug = f"seed-{secrets.token_hex(4)}"
    weak = invoke("seed", "--tenant", slug, "--scale", "small", "--password", "password")
    assert_one_line_error(weak, "Password must be at least 12 characters")
    bad_slug = invoke("seed", "--tenant", "Not A Slug!", "--scale", "small")
    assert_one_line_error(bad_slug, "Invalid workspace slug", "'not a slug!'")
