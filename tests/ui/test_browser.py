"""The workspace in a real browser (headless Chromium): sign in and stay signed in across a reload and a new tab,
move a deal on the pipeline, create a contact, open the dashboards; screenshots of each step are saved under
artifacts/screenshots/ (the docs show the best of them)."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import UUID

import pytest
from playwright.sync_api import Browser, BrowserContext, Page
from sqlalchemy import select

from app.ui.session import COOKIE
from core.auth import service as auth
from core.contacts import service as contacts
from core.db import unit_of_work
from core.deals import service as deals
from core.deals.schemas import DealCreate
from core.demo.service import SeedResult
from core.pipelines import service as pipelines
from core.users.models import User
from etl import pipeline as etl
from tests.factories import PASSWORD, TenantWorld
from tests.support.browser import screenshot, settled, sign_in
from tests.ui.conftest import demo_email

pytestmark = pytest.mark.slow
TIMEOUT = 30_000


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


def open_menu(page: Page, title: str) -> None:
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=title, exact=True).click()
    page.get_by_role("heading", name=title, exact=True).wait_for(timeout=TIMEOUT)
    settled(page)


def choose(page: Page, label: str, option: str) -> None:
    """Pick `option` in the Streamlit selectbox labelled `label` (typed into its search, as a user may)."""
    box = page.get_by_test_id("stSelectbox").filter(has=page.get_by_text(label, exact=True))
    box.locator("input").click()
    box.locator("input").fill(option)
    page.get_by_test_id("stSelectboxVirtualDropdown").get_by_text(option, exact=True).click()
    settled(page)


def test_a_rep_signs_in_and_sees_their_day(page: Page, ui_url: str, demo_workspace: SeedResult) -> None:
    sign_in(page, ui_url, demo_workspace.slug, demo_email(demo_workspace, "rep"), PASSWORD)
    settled(page)
    page.get_by_text("Tasks due today").wait_for(timeout=TIMEOUT)
    assert page.get_by_role("button", name="Sign out").is_visible()
    assert not page.get_by_label("Password", exact=True).is_visible()
    screenshot(page, "home")


def test_a_wrong_password_is_refused_in_the_browser(page: Page, ui_url: str, demo_workspace: SeedResult) -> None:
    page.goto(ui_url)
    page.get_by_label("Workspace").fill(demo_workspace.slug)
    page.get_by_label("Email").fill(demo_email(demo_workspace, "rep"))
    page.get_by_label("Password", exact=True).fill("not-the-password-1")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("Invalid email, password or workspace").wait_for(timeout=TIMEOUT)
    assert not page.get_by_role("heading", name="My day").is_visible()


def test_the_session_survives_a_reload_and_a_record_opened_in_a_new_tab_until_sign_out(
    context: BrowserContext, page: Page, ui_url: str, tenant: TenantWorld
) -> None:
    admin = tenant.admin
    with unit_of_work(admin) as session:
        deal_id = deals.create(session, admin, DealCreate(name="Globex renewal", amount=12_000)).id
    sign_in(page, ui_url, tenant.slug, tenant.admin_email, PASSWORD)
    # The "stay signed in" cookie is written by the page's next render, a moment after "My day" shows: reloading
    # before it lands would test the race, not the session.
    page.wait_for_function(f"() => document.cookie.includes('{COOKIE}=')", timeout=TIMEOUT)
    page.reload()
    page.get_by_role("heading", name="My day").wait_for(timeout=TIMEOUT)

    tab = context.new_page()
    tab.goto(f"{ui_url}/deal?id={deal_id}")
    tab.get_by_text("Globex renewal").first.wait_for(timeout=TIMEOUT)
    settled(tab)
    assert not tab.get_by_label("Password", exact=True).is_visible()

    page.get_by_role("button", name="Sign out").click()
    page.get_by_label("Password", exact=True).wait_for(timeout=TIMEOUT)
    settled(page)
    page.reload()
    page.get_by_label("Password", exact=True).wait_for(timeout=TIMEOUT)
    fresh = context.new_page()
    fresh.goto(f"{ui_url}/deal?id={deal_id}")
    fresh.get_by_label("Password", exact=True).wait_for(timeout=TIMEOUT)  # the cookie no longer resumes anything


def test_a_deal_moved_on_the_pipeline_page_changes_stage_with_history(
    page: Page, ui_url: str, tenant: TenantWorld
) -> None:
    admin = tenant.admin
    with unit_of_work(admin) as session:
        deal = deals.create(session, admin, DealCreate(name="Initech expansion", amount=48_000))
        default = pipelines.default_pipeline(session, admin)
        assert default is not None
        stages = pipelines.stages_by_pipeline(session, admin, [default.id])[default.id]
        target = next(s for s in stages if not s.is_closed_stage and s.id != deal.stage_id)
        deal_id, target_id, target_name = deal.id, target.id, target.name
    sign_in(page, ui_url, tenant.slug, tenant.admin_email, PASSWORD)
    open_menu(page, "Pipeline")
    board = page.frame_locator('iframe[title*="sortable"]')
    board.get_by_text("Initech expansion").first.wait_for(timeout=TIMEOUT)
    screenshot(page, "pipeline-before-move")
    choose(page, "Deal", f"Initech expansion ({stages[0].name})")
    choose(page, "To stage", target_name)
    page.get_by_role("button", name="Move").click()
    page.get_by_text(f"Moved Initech expansion to {target_name}").wait_for(timeout=TIMEOUT)
    settled(page)
    with unit_of_work(admin) as session:
        assert deals.get(session, admin, deal_id).stage_id == target_id
        history = deals.stage_history(session, admin, deal_id)
    assert [h.to_stage_name for h in history][-1] == target_name


def test_a_contact_created_in_the_browser_is_stored(page: Page, ui_url: str, tenant: TenantWorld) -> None:
    sign_in(page, ui_url, tenant.slug, tenant.admin_email, PASSWORD)
    open_menu(page, "Contacts")
    page.get_by_text("Add contact", exact=True).first.click()
    settled(page)
    page.get_by_label("First name *").fill("Grace")
    page.get_by_label("Last name *").fill("Hopper")
    page.get_by_label("Email").fill("grace@navy.example.com")
    page.get_by_role("button", name="Add contact").click()
    page.get_by_text("Open Grace Hopper").wait_for(timeout=TIMEOUT)
    with unit_of_work(tenant.admin) as session:
        found = contacts.list_contacts(session, tenant.admin, {"email": ["grace@navy.example.com"]})
    assert found.total == 1 and found.items[0]["firstName"] == "Grace"


def test_a_manager_opens_the_dashboards_and_every_chart_is_drawn(
    page: Page, ui_url: str, demo_workspace: SeedResult
) -> None:
    # The small demo's history ends today, and on some days a team has no open deal or no win in the last 90
    # days (its charts then say "No rows"): the manager wins one deal and opens another, so every chart has rows.
    tenant_id = UUID(str(demo_workspace.tenant_id))
    email = demo_email(demo_workspace, "manager")
    with unit_of_work(tenant_id=tenant_id) as session:
        manager_id = session.scalar(select(User.id).where(User.tenant_id == tenant_id, User.email == email))
        manager = auth.load_actor(session, tenant_id=tenant_id, user_id=manager_id)
    with unit_of_work(manager) as session:
        pipeline = pipelines.default_pipeline(session, manager)
        assert pipeline is not None
        won = pipelines.outcome_stage(session, manager, pipeline.id, won=True)
        assert won is not None
        deals.create(session, manager, DealCreate(name="Dashboard check: open", amount=30_000))
        deals.create(session, manager, DealCreate(name="Dashboard check: won", amount=20_000, stage_id=won.id))
    etl.run(tenant_id, full=True, trigger="manual")
    sign_in(page, ui_url, demo_workspace.slug, email, PASSWORD)
    open_menu(page, "Dashboards")
    page.wait_for_function(
        "() => { const charts = [...document.querySelectorAll('[data-testid=\"stVegaLiteChart\"]')];"
        " return charts.length >= 4 && charts.every(c => c.querySelector('canvas, svg')); }",
        timeout=60_000,
    )
    page.get_by_text("Win rate").first.wait_for(timeout=TIMEOUT)
    assert page.get_by_test_id("stVegaLiteChart").count() >= 4
    assert page.get_by_test_id("stMetric").count() == 6  # the KPI tiles
    screenshot(page, "dashboards")
