"""The Albedo page in a real browser (headless Chromium): a rep opens it from the menu, types a question, and reads
the reply computed from the workspace's own data; a second question draws its chart and table. Its screenshot goes
to artifacts/screenshots (docs/images/ui-albedo.png is a copy)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from decimal import Decimal

import pytest
from playwright.sync_api import Browser, Page, expect

from core.db import unit_of_work
from core.deals import service as deals
from core.deals.schemas import DealCreate
from core.demo import service as demo
from core.demo.service import SeedResult
from etl import pipeline
from tests.factories import PASSWORD, quiesce
from tests.support.browser import screenshot, settled, sign_in
from tests.ui.conftest import actor_of, demo_email

pytestmark = pytest.mark.slow
TIMEOUT = 30_000


@pytest.fixture(scope="module")
def workspace() -> Iterator[tuple[SeedResult, int]]:
    """A small demo workspace of its own whose first rep has two more open deals, with its warehouse loaded (where
    Albedo's figures come from); and how many open deals that rep has, as the deals service counts them."""
    seeded = demo.seed(slug=f"ba-{secrets.token_hex(4)}", scale="small", seed=5, password=PASSWORD)
    rep = actor_of(seeded, "rep")
    with unit_of_work(rep) as session:
        for name, amount in (("Northwind renewal", "24000"), ("Contoso pilot", "9500")):
            deals.create(session, rep, DealCreate(name=name, amount=Decimal(amount)))
        open_deals = deals.list_deals(session, rep, {"isClosed": ["false"], "limit": ["1"]}).total
    pipeline.run(seeded.tenant_id, full=True)
    yield seeded, int(open_deals or 0)
    quiesce(seeded.tenant_id)


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1440, "height": 1500})
    yield context.new_page()
    context.close()


def ask(page: Page, text: str) -> None:
    box = page.get_by_test_id("stChatInputTextArea")
    box.fill(text)
    box.press("Enter")
    settled(page)


def test_a_rep_asks_albedo_how_many_open_deals_they_have(
    page: Page, ui_url: str, workspace: tuple[SeedResult, int]
) -> None:
    seeded, open_deals = workspace
    sign_in(page, ui_url, seeded.slug, demo_email(seeded, "rep"), PASSWORD)
    settled(page)
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Albedo", exact=True).click()
    page.get_by_role("heading", name="Albedo", exact=True).wait_for(timeout=TIMEOUT)
    settled(page)
    page.get_by_role("button", name="How many open deals do I have?").wait_for(timeout=TIMEOUT)  # starters

    ask(page, "how many open deals do I have")
    messages = page.get_by_test_id("stChatMessage")
    expect(messages).to_have_count(2, timeout=TIMEOUT)
    expect(messages.nth(0)).to_contain_text("how many open deals do I have")
    expect(messages.nth(1)).to_contain_text(f": {open_deals}")  # "Deals (…): N"
    expect(page.get_by_test_id("stMetricValue")).to_have_text(str(open_deals))
    assert "conversation=" in page.url  # a reload opens the same conversation

    ask(page, "what is my pipeline by stage?")
    expect(messages).to_have_count(4, timeout=TIMEOUT)
    page.get_by_test_id("stVegaLiteChart").first.wait_for(timeout=TIMEOUT)
    page.get_by_test_id("stDataFrame").first.wait_for(timeout=TIMEOUT)
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar.get_by_role("button", name="how many open deals do I have")).to_be_visible()
    assert not page.get_by_test_id("stException").count()
    screenshot(page, "albedo")  # artifacts/screenshots/albedo.png; docs/images/ui-albedo.png is a copy
