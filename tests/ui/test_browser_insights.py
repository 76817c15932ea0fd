"""The manager's Insights page in a real browser (headless Chromium): deals at risk, anomalies this week, accounts
by churn risk and actions taken vs ignored, drawn from insights the workspace's own refreshes computed. Its
screenshot goes to artifacts/screenshots (docs/images/ui-insights.png is a copy)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page

from ai.insights import actions, anomalies, churn
from core.actor import Actor
from core.db import unit_of_work
from core.demo import service as demo
from core.demo.service import SeedResult
from tests.factories import PASSWORD, quiesce
from tests.support.browser import screenshot, settled, sign_in
from tests.ui.conftest import demo_email

pytestmark = pytest.mark.slow
TIMEOUT = 30_000


@pytest.fixture(scope="module")
def refreshed() -> Iterator[SeedResult]:
    """A small demo workspace of its own (the session's shared one must not gain actions and risks other tests do
    not expect) after the passes the worker runs nightly: anomalies, churn risks, next best actions."""
    seeded = demo.seed(slug=f"bi-{secrets.token_hex(4)}", scale="small", seed=4, password=PASSWORD)
    system = Actor.system(seeded.tenant_id)
    with unit_of_work(system) as session:
        anomalies.refresh(session, system)
        churn.refresh(session, system)
        actions.refresh(session, system)
    yield seeded
    quiesce(seeded.tenant_id)


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1440, "height": 1100})
    yield context.new_page()
    context.close()


def test_a_manager_opens_insights_and_sees_risks_anomalies_and_actions(
    page: Page, ui_url: str, refreshed: SeedResult
) -> None:
    sign_in(page, ui_url, refreshed.slug, demo_email(refreshed, "manager"), PASSWORD)
    settled(page)
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Insights", exact=True).click()
    page.get_by_role("heading", name="Insights", exact=True).wait_for(timeout=TIMEOUT)
    settled(page)
    for section in ("Deals at risk", "Anomalies this week", "Accounts by churn risk"):
        page.get_by_role("heading", name=section).wait_for(timeout=TIMEOUT)
    page.get_by_test_id("stDataFrame").first.wait_for(timeout=TIMEOUT)  # at least the deals at risk are listed
    assert not page.get_by_test_id("stException").count()
    screenshot(page, "insights")  # artifacts/screenshots/insights.png; docs/images/ui-insights.png is a copy
