"""Admin: every tab renders on the demo data for an admin, tabs follow permissions (a manager and a rep cannot
open the page), and the main actions write through core/: users (generated password shown once, the new user
signs in; the last admin is kept), teams, roles, pipelines, custom fields, API keys (secret shown once, core
authenticates it), webhooks and the workspace's settings. Bad input shows a message and writes nothing."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from app.ui.admin import TABS
from core.auth import service as auth
from core.custom_fields import service as custom_fields
from core.db import unit_of_work
from core.demo.service import SeedResult
from core.errors import AuthenticationFailed
from core.pipelines import service as pipelines
from core.rbac import service as rbac
from core.rbac.schemas import RoleCreate
from core.tenants import service as tenants
from core.users import service as users
from core.users.schemas import UserCreate
from core.webhooks import service as webhooks
from tests.factories import PASSWORD, TenantWorld
from tests.ui.conftest import ROOT, as_role, new_app, open_page, shown, sign_in

ALL_TABS = [t.title for t in TABS]


def admin_page(tenant: TenantWorld) -> AppTest:
    return open_page(sign_in(new_app(), tenant.slug, tenant.admin_email), "admin.py")


def clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def button(at: AppTest, label: str):  # noqa: ANN201
    return next(b for b in at.button if b.label == label)


def errors(at: AppTest) -> str:
    return "\n".join(e.value for e in at.error)


def table(at: AppTest, *columns: str) -> list[dict]:
    """The rows of the first table with these columns."""
    frame = next(d.value for d in at.dataframe if set(columns) <= set(d.value.columns))
    return frame.to_dict("records")


def test_an_admin_sees_every_tab_with_the_demo_data(demo_workspace: SeedResult) -> None:
    at = open_page(as_role(demo_workspace, "admin"), "admin.py")
    clean(at)
    assert [t.label for t in at.tabs] == ALL_TABS
    emails = {row["Email"] for row in table(at, "Email")}
    assert {u["email"] for u in demo_workspace.users} <= emails
    assert len(table(at, "Team", "Members")) >= 3
    assert {"admin", "manager", "rep"} <= {row["Role"] for row in table(at, "Role", "Kind")}
    assert table(at, "Pipeline")[0]["Default"]
    # the detail forms render too
    at.selectbox(key="adm_user_pick").select_index(0).run()
    at.selectbox(key="adm_team_pick").select_index(0).run()
    at.selectbox(key="adm_role_pick").select_index(0).run()
    clean(at)
    assert any(d.key and d.key.startswith("adm_role_matrix_") for d in at.dataframe)  # the permission matrix
    assert any(d.key and d.key.startswith("adm_stages_") for d in at.dataframe)  # the default pipeline's stages


def test_a_manager_and_a_rep_cannot_open_the_admin_page(demo_workspace: SeedResult) -> None:
    for role in ("manager", "rep"):
        at = as_role(demo_workspace, role)
        assert at.session_state["cf_actor"].role == role  # signed in: the refusal below is not a failed sign-in
        with pytest.raises(
            ValueError, match=r"navigation page for '.*/pages/admin\.py'.*Known pages: \[.*/pages/home\.py"
        ):
            open_page(at, "admin.py")
        # the page's own guard, for the script run any other way
        page = AppTest.from_file(str(ROOT / "pages" / "admin.py"), default_timeout=30)
        page.session_state["cf_actor"] = at.session_state["cf_actor"]
        page.run()
        assert [e.value for e in page.error] == [f"Your role ({role}) cannot open Admin."]
        assert not page.tabs


def test_a_role_with_one_admin_permission_sees_only_its_tab(tenant: TenantWorld) -> None:
    admin = tenant.admin
    with unit_of_work(admin) as session:
        rbac.create(
            session,
            admin,
            RoleCreate(
                name="field_keeper",
                permissions=["custom_fields:read", "custom_fields:create", "contacts:read", "users:read"],
            ),
        )
        keeper, _ = users.create(
            session,
            admin,
            UserCreate(
                email="keeper@example.com", first_name="Kim", last_name="Keeper", role="field_keeper", password=PASSWORD
            ),
        )
    at = open_page(sign_in(new_app(), tenant.slug, "keeper@example.com"), "admin.py")
    clean(at)
    assert [t.label for t in at.tabs] == ["Custom fields"]


def test_adding_a_user_shows_the_generated_password_once_and_the_user_signs_in(tenant: TenantWorld) -> None:
    at = admin_page(tenant)
    at.text_input(key="adm_user_email").input("Grace@Example.com")
    at.text_input(key="adm_user_first").input("Grace")
    at.text_input(key="adm_user_last").input("Hopper")
    at.selectbox(key="adm_user_role").select("manager")
    button(at, "Add user").click().run()
    clean(at)
    assert "generated password of grace@example.com" in shown(at)
    password = at.code[0].value
    at.run()  # any next click: the password is gone
    assert not at.code and "generated password" not in shown(at)
    with unit_of_work(tenant.admin) as session:
        rows, _ = users.list_users(session, tenant.admin)
        grace = next(u for u in users.to_reads(session, rows) if u.email == "grace@example.com")
    assert grace.role == "manager"
    signed_in = sign_in(new_app(), tenant.slug, "grace@example.com", password)
    assert signed_in.session_state["cf_signed_in"].user_id == grace.id


def test_the_last_admin_cannot_step_down_and_a_bad_email_writes_nothing(tenant: TenantWorld) -> None:
    at = admin_page(tenant)
    at.selectbox(key="adm_user_pick").select(str(tenant.admin_id)).run()
    role = next(s for s in at.selectbox if s.key and s.key.startswith(f"adm_user_role_{tenant.admin_id}"))
    role.select("rep")
    button(at, "Save user").click().run()
    assert "You are the last admin; make someone else admin first" in errors(at)
    assert tenant.admin.role == "admin"
    at.text_input(key="adm_user_email").input("not-an-email")
    at.text_input(key="adm_user_first").input("No")
    at.text_input(key="adm_user_last").input("Body")
    button(at, "Add user").click().run()
    assert "email" in errors(at).lower()
    with unit_of_work(tenant.admin) as session:
        assert users.list_users(session, tenant.admin)[1] == 1


def test_a_team_is_created_once_and_a_duplicate_name_is_refused(tenant: TenantWorld) -> None:
    at = admin_page(tenant)
    for _ in range(2):
        at.text_input(key="adm_team_name").input("North")
        button(at, "Create team").click().run()
    assert "A team named 'North' already exists" in errors(at)
    assert [row["Team"] for row in table(at, "Team", "Members")] == ["North"]
    with unit_of_work(tenant.admin) as session:
        assert [t.name for t in users.list_teams(session, tenant.admin)] == ["North"]


def test_a_custom_role_is_created_from_another_and_its_grants_change_in_the_matrix(tenant: TenantWorld) -> None:
    at = admin_page(tenant)
    at.text_input(key="adm_role_name").input("senior_rep")
    with unit_of_work(tenant.admin) as session:
        rep = rbac.to_read(session, rbac.get_by_name(session, tenant.admin, "rep"))
    at.selectbox(key="adm_role_source").select(str(rep.id))
    button(at, "Create role").click().run()
    clean(at)
    with unit_of_work(tenant.admin) as session:
        role = rbac.to_read(session, rbac.get_by_name(session, tenant.admin, "senior_rep"))
    assert role.permissions == rep.permissions and "contacts:delete" not in role.permissions
    # the new role is selected; tick contacts:delete in its matrix (row 0 is contacts) and save
    matrix = next(d for d in at.dataframe if d.key and d.key.startswith(f"adm_role_matrix_{role.id}"))
    at.session_state[matrix.key] = {"edited_rows": {0: {"delete": True}}, "added_rows": [], "deleted_rows": []}
    at.run()
    button(at, "Save role").click().run()
    clean(at)
    with unit_of_work(tenant.admin) as session:
        changed = rbac.role_permissions(session, role.id)
    assert set(changed) == set(rep.permissions) | {"contacts:delete"}


def test_a_stage_is_added_then_renamed_reordered_and_closed_in_the_stage_table(tenant: TenantWorld) -> None:
    at = admin_page(tenant)
    pipeline_id = at.selectbox(key="adm_pipe_pick").value
    at.text_input(key=f"adm_stage_name_{pipeline_id}").input("Demo booked")
    at.number_input(key=f"adm_stage_position_{pipeline_id}").set_value(2)
    at.number_input(key=f"adm_stage_rotting_{pipeline_id}").set_value(7)
    button(at, "Add stage").click().run()
    clean(at)
    with unit_of_work(tenant.admin) as session:
        stages = pipelines.to_reads(session, tenant.admin, pipelines.list_pipelines(session, tenant.admin))[0].stages
    assert [s.name for s in stages][:3] == ["Prospecting", "Demo booked", "Qualification"]
    assert stages[1].rotting_days == 7
    editor = next(d for d in at.dataframe if d.key and d.key.startswith(f"adm_stages_{pipeline_id}"))
    edits = {0: {"Position": 2}, 1: {"Stage": "Demo held", "Position": 1, "Outcome": "lost", "Probability %": 5}}
    at.session_state[editor.key] = {"edited_rows": edits, "added_rows": [], "deleted_rows": []}
    at.run()
    button(at, "Save stages").click().run()
    clean(at)
    with unit_of_work(tenant.admin) as session:
        stages = pipelines.to_reads(session, tenant.admin, pipelines.list_pipelines(session, tenant.admin))[0].stages
    assert [s.name for s in stages][:3] == ["Demo held", "Prospecting", "Qualification"]
    held = stages[0]
    assert (held.is_closed, held.is_won, held.probability, held.rotting_days) == (True, False, 5, None)


def test_a_select_field_needs_options_and_a_created_field_appears(tenant: TenantWorld) -> None:
    at = admin_page(tenant)
    at.text_input(key="adm_cf_label").input("Segment")
    at.text_input(key="adm_cf_name").input("segment")
    at.selectbox(key="adm_cf_type").select("select")
    button(at, "Add field").click().run()
    assert "Invalid options: give at least one option" in errors(at)
    with unit_of_work(tenant.admin) as session:
        assert custom_fields.list_fields(session, tenant.admin) == []
    at.text_area(key="adm_cf_options").input("SMB\nMid-market\nEnterprise")
    button(at, "Add field").click().run()
    clean(at)
    assert table(at, "Label", "Options") == [
        {
            "Label": "Segment",
            "Name": "segment",
            "Type": "Select (one option)",
            "Options": "SMB, Mid-market, Enterprise",
            "Required": False,
            "Order": 0,
            "Description": "",
        }
    ]
    with unit_of_work(tenant.admin) as session:
        (field,) = custom_fields.list_fields(session, tenant.admin, entity_type="contacts")
    assert (field.field_name, field.field_type, field.field_options) == (
        "segment",
        "select",
        ["SMB", "Mid-market", "Enterprise"],
    )


def test_an_api_key_secret_is_shown_once_core_accepts_it_and_revoking_ends_it(tenant: TenantWorld) -> None:
    at = admin_page(tenant)
    at.text_input(key="adm_key_name").input("Warehouse sync")
    at.multiselect(key="adm_key_permissions").select("contacts:read")
    button(at, "Create key").click().run()
    clean(at)
    assert "The API key Warehouse sync" in shown(at)
    secret = at.code[0].value
    assert secret.startswith("cf_")
    with unit_of_work() as session:
        key_actor = auth.authenticate_api_key(session, secret)
    assert key_actor.permissions == frozenset({"contacts:read"}) and key_actor.tenant_id == tenant.tenant_id
    at.run()
    assert not at.code and secret not in shown(at)
    assert [row["Status"] for row in table(at, "Key", "Status")] == ["active"]
    at.selectbox(key="adm_key_pick").select_index(0).run()
    button(at, "Revoke key").click().run()
    assert [row["Status"] for row in table(at, "Key", "Status")] == ["revoked"]
    with pytest.raises(AuthenticationFailed), unit_of_work() as session:
        auth.authenticate_api_key(session, secret)


def test_a_webhook_is_added_pinged_and_disabled(tenant: TenantWorld) -> None:
    at = admin_page(tenant)
    at.text_input(key="adm_hook_url").input("ftp://example.com/hook")
    at.multiselect(key="adm_hook_events").select("deal.won")
    button(at, "Add webhook").click().run()
    assert "Invalid webhook URL" in errors(at)
    at.text_input(key="adm_hook_url").input("http://localhost:9/hook")
    button(at, "Add webhook").click().run()
    clean(at)
    assert "signing secret of http://localhost:9/hook" in shown(at)
    assert at.code[0].value.startswith("whsec_")
    button(at, "Send test ping").click().run()
    clean(at)
    (row,) = table(at, "Event", "Attempts")
    assert (row["Event"], row["Status"], row["Attempts"]) == ("webhook.ping", "pending", 0)
    button(at, "Disable").click().run()
    with unit_of_work(tenant.admin) as session:
        (hook,), _ = webhooks.list_webhooks(session, tenant.admin)
    assert hook.event_types == ["deal.won"] and not hook.is_active
    assert button(at, "Enable")


def test_workspace_settings_are_saved(tenant: TenantWorld) -> None:
    at = admin_page(tenant)

    def field(prefix: str):  # noqa: ANN202
        return next(w for w in [*at.text_input, *at.selectbox] if w.key and w.key.startswith(prefix))

    field("adm_set_name_").input("Acme Europe")
    field("adm_set_timezone_").select("Europe/Paris")
    field("adm_set_currency_").select("EUR")
    field("adm_set_fiscal_").select(4)
    button(at, "Save settings").click().run()
    clean(at)
    with unit_of_work(tenant.admin) as session:
        saved = tenants.workspace_settings(session, tenant.admin)
    assert (saved.name, saved.timezone, saved.currency, saved.fiscal_year_start_month) == (
        "Acme Europe",
        "Europe/Paris",
        "EUR",
        4,
    )
    assert field("adm_set_currency_").value == "EUR"  # the form shows what was saved
