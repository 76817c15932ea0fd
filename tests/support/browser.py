"""A real Streamlit server on the test run's PostgreSQL and Redis, and headless Chromium (Debian's package)
driven by Playwright: used by the browser tests and by benchmarks/ui.py."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from app.supervisor import UI_ADDRESS, ui_command

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "screenshots"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((UI_ADDRESS, 0))
        return int(sock.getsockname()[1])


@contextmanager
def streamlit_server(env: dict[str, str] | None = None, timeout: float = 60.0) -> Iterator[str]:
    """`clientforge ui`'s command on a free port, with this process's database, Redis and data dir; yields
    its URL once it answers its health check, and stops it afterwards."""
    port = free_port()
    process = subprocess.Popen(
        ui_command(port),
        env={**os.environ, **(env or {})},
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    url = f"http://{UI_ADDRESS}:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                output = process.stdout.read() if process.stdout else ""
                raise RuntimeError(f"streamlit exited with {process.returncode}:\n{output}")
            try:
                if httpx.get(f"{url}/_stcore/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"streamlit did not answer on {url} within {timeout:.0f} s")
            time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


@contextmanager
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            yield browser
        finally:
            browser.close()


def launch(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


FINISHED = (
    "() => { const app = document.querySelector('[data-testid=\"stApp\"]');"
    " return !!app && app.dataset.testConnectionState === 'CONNECTED'"
    " && app.dataset.testScriptState === 'notRunning'; }"
)


def settled(page: Page, timeout: float = 30_000, *, started_within: float = 300) -> None:
    """Wait until Streamlit has finished the script run an action started, and the page is idle.

    The app root says whether a script run is going on; a run starts a moment after the click that causes it,
    hence the short grace (`started_within` ms) before trusting "not running"."""
    page.wait_for_timeout(started_within)
    page.wait_for_function(FINISHED, timeout=timeout, polling=50)
    page.wait_for_load_state("networkidle", timeout=timeout)


def sign_in(page: Page, url: str, workspace: str, email: str, password: str) -> None:
    page.goto(url)
    page.get_by_label("Workspace").fill(workspace)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="My day").wait_for(timeout=30_000)


def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
