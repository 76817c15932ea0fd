"""The workspace in a real browser (headless Chromium): sign in, move through the pages a rep and a manager use,
and the screenshots that the docs show (saved under artifacts/screenshots/)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page

from core.demo.service import SeedResult
from tests.factories import PASSWORD
from tests.support.browser import chromium, screenshot, settled, sign_in, streamlit_server
from tests.ui.conftest import demo_email

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ui_url() -> Iterator[str]:
    with streamlit_server() as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    yield context.new_page()
    context.close()


def test_a_rep_signs_in_and_sees_their_day(page: Page, ui_url: str, demo_workspace: SeedResult) -> None:
    sign_in(page, ui_url, demo_workspace.slug, demo_email(demo_workspace, "rep"), PASSWORD)
    settled(page)
    assert page.get_by_text("Tasks due today").is_visible()
    assert page.get_by_role("button", name="Sign out").is_visible()
    screenshot(page, "home")


def test_a_wrong_password_is_refused_in_the_browser(page: Page, ui_url: str, demo_workspace: SeedResult) -> None:
    page.goto(ui_url)
    page.get_by_label("Workspace").fill(demo_workspace.slug)
    page.get_by_label("Email").fill(demo_email(demo_workspace, "rep"))
    page.get_by_label("Password", exact=True).fill("not-the-password-1")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("Invalid email, password or workspace").wait_for(timeout=30_000)
    assert not page.get_by_role("heading", name="My day").is_visible()
