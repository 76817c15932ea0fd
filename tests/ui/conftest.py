"""Streamlit pages under `AppTest`: the real entry script, signed in through the real login form."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from core.actor import Actor
from core.auth import service as auth
from core.db import unit_of_work
from core.demo import service as demo
from core.users.models import User
from tests.factories import PASSWORD

ROOT = Path(__file__).resolve().parents[2]
ENTRY = str(ROOT / "app" / "main.py")


def new_app() -> AppTest:
    return AppTest.from_file(ENTRY, default_timeout=60)


def sign_in(at: AppTest, workspace: str, email: str, password: str = PASSWORD) -> AppTest:
    """Fill the login form and submit it, as a user would; returns the app after the rerun."""
    at.run()
    at.text_input(key="login_workspace").input(workspace)
    at.text_input(key="login_email").input(email)
    at.text_input(key="login_password").input(password)
    at.button[0].click().run()
    return at


def open_page(at: AppTest, file: str) -> AppTest:
    at.switch_page(str(ROOT / "pages" / file)).run()
    return at


def shown(at: AppTest) -> str:
    """Every text the page shows (markdown, titles, captions, alerts, metrics labels), for assertions."""
    parts: list[str] = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "error", "warning", "info", "success"):
        parts.extend(str(el.value) for el in getattr(at, kind))
    parts.extend(f"{m.label}: {m.value}" for m in at.metric)
    return "\n".join(parts)


@pytest.fixture
def app() -> AppTest:
    return new_app()


@pytest.fixture(scope="session")
def demo_workspace() -> demo.SeedResult:
    """One small demo workspace for the UI tests of the session (~3 s): 100 accounts, ~500 contacts, ~200 deals,
    ~2,000 activities, users of every role. Tests that change it assert on what they changed, not on totals."""
    return demo.seed(slug=f"ui-{secrets.token_hex(4)}", scale="small", password=PASSWORD)


def demo_email(workspace: demo.SeedResult, role: str) -> str:
    """The first demo user with `role` (admin, manager, rep, analyst ...)."""
    return next(u["email"] for u in workspace.users if u["role"] == role)


def as_role(workspace: demo.SeedResult, role: str) -> AppTest:
    """A fresh app signed in to the demo workspace as its first user with `role`."""
    return sign_in(new_app(), workspace.slug, demo_email(workspace, role))


@pytest.fixture(scope="session")
def loaded(demo_workspace: demo.SeedResult) -> demo.SeedResult:
    """The demo workspace with its analytics warehouse built (once for the session). The manager's team is given
    an open deal of its own when the demo drawn today left it none, so that their dashboards have a pipeline."""
    from decimal import Decimal

    from core.deals import service as deals
    from core.deals.schemas import DealCreate
    from etl import pipeline, warehouse

    manager = actor_of(demo_workspace, "manager")
    with unit_of_work(manager) as session:
        if not deals.list_deals(session, manager, {"isClosed": ["false"], "limit": ["1"]}).total:
            deals.create(session, manager, DealCreate(name="Team pipeline", amount=Decimal("18000")))
    if warehouse.current(demo_workspace.tenant_id) is None:
        pipeline.run(demo_workspace.tenant_id, full=True)
    return demo_workspace


def actor_of(workspace: demo.SeedResult, role: str) -> Actor:
    """The actor of the demo workspace's first user with `role`, loaded as the services see it."""
    with unit_of_work(tenant_id=workspace.tenant_id) as session:
        user_id = session.scalar(select(User.id).where(User.email == demo_email(workspace, role)))
        return auth.load_actor(session, tenant_id=workspace.tenant_id, user_id=user_id)


# The browser tests' server and browser (one per test module; tests/support/browser.py) ----------------------


@pytest.fixture(scope="module")
def ui_url() -> Iterator[str]:
    """The workspace served by a real Streamlit server on a free port."""
    from tests.support.browser import streamlit_server

    with streamlit_server() as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium driven by Playwright."""
    from tests.support.browser import chromium

    with chromium() as launched:
        yield launched
