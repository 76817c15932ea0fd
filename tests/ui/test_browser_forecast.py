"""The forecast page in a real browser (headless Chromium): a manager signs in, opens Forecast and sees the chart
of history, forecast and bands drawn and the accuracy card. Its screenshot goes to artifacts/screenshots (a test
run never rewrites docs/; docs/images/ui-forecast.png was copied from it)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from playwright.sync_api import Browser, Page

import ai.forecasting.tasks  # noqa: F401  (the forecasts.revenue job)
from ai.forecasting import revenue
from core.db import unit_of_work
from core.demo.service import SeedResult
from core.forecasts import service as forecasts
from core.forecasts.schemas import ForecastRunRequest
from core.jobs import queue
from tests.factories import PASSWORD
from tests.support.browser import screenshot, settled, sign_in
from tests.ui.conftest import actor_of, demo_email

pytestmark = pytest.mark.slow
TIMEOUT = 30_000


@pytest.fixture(scope="module")
def forecasted(loaded: SeedResult) -> SeedResult:
    """The demo workspace with its forecasts computed (by the real job; a short back-test of quarters)."""
    admin = actor_of(loaded, "admin")
    with unit_of_work(admin) as session:
        if forecasts.list_forecasts(session, admin, limit=1)[1]:
            return loaded
        forecasts.queue_run(session, admin, ForecastRunRequest())
    with pytest.MonkeyPatch.context() as patch:
        for kind, count in {"month": 0, "quarter": 2, "year": 0}.items():
            patch.setitem(revenue.DEFAULT_BACKTEST, kind, count)
        # In a thread of its own: Playwright's sync API keeps an event loop running in this one.
        with ThreadPoolExecutor(1) as pool:
            assert pool.submit(queue.drain, 240).result() == 0
    return loaded


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    yield context.new_page()
    context.close()


def test_a_manager_opens_the_forecast_and_sees_the_chart_and_how_far_to_trust_it(
    page: Page, ui_url: str, forecasted: SeedResult
) -> None:
    sign_in(page, ui_url, forecasted.slug, demo_email(forecasted, "manager"), PASSWORD)
    settled(page)
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Forecast", exact=True).click()
    page.get_by_role("heading", name="Forecast", exact=True).wait_for(timeout=TIMEOUT)
    settled(page)
    page.wait_for_function(
        "() => { const c = document.querySelector('[data-testid=\"stVegaLiteChart\"]');"
        " return !!c && !!c.querySelector('canvas, svg'); }",
        timeout=60_000,
    )
    page.get_by_text("How far to trust it").wait_for(timeout=TIMEOUT)
    card = page.get_by_text("Over the last").or_(page.get_by_text("Not enough history"))
    assert card.first.is_visible()
    assert page.get_by_test_id("stMetric").filter(has_text="Commit").count() == 1
    assert not page.get_by_test_id("stException").count()
    screenshot(page, "forecast")  # artifacts/screenshots/forecast.png; docs/images/ui-forecast.png is a copy
