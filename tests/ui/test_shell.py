"""The shell: signing in (and being refused), the menu by role, signing out, and pages kept to their roles."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from core.auth import sessions
from core.db import unit_of_work
from core.users import service as users
from core.users.schemas import UserUpdate
from tests.factories import TenantWorld
from tests.ui.conftest import ROOT, new_app, open_page, shown, sign_in

FORBIDDEN = ("sqlalchemy", "psycopg", "api")


def test_signing_in_shows_the_users_name_role_and_their_day(tenant: TenantWorld) -> None:
    at = sign_in(new_app(), tenant.slug, tenant.admin_email)
    assert not at.exception
    text = shown(at)
    assert "My day" in text
    assert "Admin" in text and tenant.slug in text  # role and workspace in the sidebar
    assert at.session_state["cf_signed_in"].user_id == tenant.admin_id


def test_a_wrong_password_is_refused_with_the_same_message_as_an_unknown_workspace(tenant: TenantWorld) -> None:
    at = sign_in(new_app(), tenant.slug, tenant.admin_email, "wrong-password-1")
    assert [e.value for e in at.error] == ["Invalid email, password or workspace"]
    at = sign_in(new_app(), "no-such-workspace", tenant.admin_email)
    assert [e.value for e in at.error] == ["Invalid email, password or workspace"]
    assert "cf_signed_in" not in at.session_state


def test_five_failures_lock_the_account_and_the_form_says_for_how_long(tenant: TenantWorld) -> None:
    for _ in range(5):
        sign_in(new_app(), tenant.slug, tenant.admin_email, "wrong-password-1")
    at = sign_in(new_app(), tenant.slug, tenant.admin_email)  # the right password, too late
    assert "locked" in at.error[0].value and "minute" in at.error[0].value
    assert "cf_signed_in" not in at.session_state


def test_signing_out_ends_the_session_for_the_api_too(tenant: TenantWorld) -> None:
    at = sign_in(new_app(), tenant.slug, tenant.admin_email)
    session_id = at.session_state["cf_actor"].session_id
    assert sessions.is_active(session_id)
    at.sidebar.button(key="cf_sign_out").click().run()
    assert not sessions.is_active(session_id)
    assert at.text_input(key="login_email")  # back on the login form


def test_a_deactivated_user_is_signed_out_on_the_next_click(tenant: TenantWorld) -> None:
    rep = tenant.add_user("rep")
    with unit_of_work(tenant.admin) as session:
        email = users.get(session, tenant.admin, rep).email
    at = sign_in(new_app(), tenant.slug, email)
    assert "My day" in shown(at)
    with unit_of_work(tenant.admin) as session:
        users.update(session, tenant.admin, rep, UserUpdate(is_active=False))
    at.run()
    assert at.text_input(key="login_email")
    assert "signed out" in shown(at)


def test_a_rep_sees_no_admin_page_and_cannot_open_one_by_its_address(tenant: TenantWorld) -> None:
    rep = tenant.add_user("rep")
    with unit_of_work(tenant.admin) as session:
        email = users.get(session, tenant.admin, rep).email
    at = sign_in(new_app(), tenant.slug, email)
    assert "Rep" in shown(at)
    assert at.session_state["cf_actor"].role == "rep"  # signed in: a failed sign-in is refused the same way
    assert (ROOT / "pages" / "admin.py").exists()
    with pytest.raises(ValueError, match=r"navigation page for '.*/pages/admin\.py'.*Known pages: \[.*/pages/home\.py"):
        open_page(at, "admin.py")


@pytest.mark.parametrize(
    "path", sorted((ROOT / "pages").glob("*.py")) + sorted((ROOT / "app").glob("main.py")), ids=lambda p: p.name
)
def test_ui_scripts_do_not_import_sql_drivers_or_the_api(path: Path) -> None:
    imported = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert not imported & set(FORBIDDEN)
