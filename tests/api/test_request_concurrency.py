"""More concurrent requests than worker threads and database connections: every one is answered.

A route's transaction used to be committed in a second trip to the thread pool after the route returned, with
its connection still checked out. With more requests than connections, threads then blocked on the empty pool
while the requests holding the connections waited for a thread to commit: nothing moved until the pool's
timeout. Routes now commit in their own thread (api.deps.committing).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import anyio
import httpx
import pytest
from fastapi import FastAPI

from core.config import reset_settings
from core.db import dispose_engines
from tests.api.conftest import API, login_headers, make_client
from tests.factories import TenantWorld


@pytest.fixture
def small_pool(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Three connections in all (pool 1 + overflow 2) for the app, for this test only."""
    monkeypatch.setenv("CLIENTFORGE_DB_POOL_SIZE", "1")
    reset_settings()
    dispose_engines()
    yield
    monkeypatch.undo()
    reset_settings()
    dispose_engines()


def test_requests_beyond_threads_and_connections_are_all_answered(
    api_app: FastAPI, tenant: TenantWorld, small_pool: None
) -> None:
    headers = login_headers(make_client(api_app), tenant.admin_email, tenant.slug)
    requests = 12

    async def burst() -> list[httpx.Response]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = 2
        transport = httpx.ASGITransport(app=api_app, client=("10.250.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            calls = [client.get(f"{API}/contacts?limit=5", headers=headers) for _ in range(requests)]
            # Far below the pool's 30 s timeout: a stalled pool fails here rather than after it.
            return await asyncio.wait_for(asyncio.gather(*calls), timeout=20)

    answers = asyncio.run(burst())
    assert [a.status_code for a in answers] == [200] * requests, answers[0].text
