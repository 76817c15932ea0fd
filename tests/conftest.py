"""Test infrastructure: one real PostgreSQL and Redis for the run (embedded, or DATABASE_URL / REDIS_URL),
a fresh database migrated once, and per-test isolation by giving every test its own tenants."""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ["CLIENTFORGE_ENV"] = "test"
os.environ["ANTHROPIC_API_KEY"] = ""  # a developer's key in .env must not send tests to the real Claude
_RUN_DIR = Path(tempfile.mkdtemp(prefix="cf-test-"))
os.environ.setdefault("CLIENTFORGE_DATA_DIR", str(_RUN_DIR / "data"))
# The warehouse's handlers (etl.tasks) react to every change; tests of other features must not wait for loads.
# The warehouse tests import etl.tasks themselves.
os.environ.setdefault("CLIENTFORGE_JOB_MODULES", "")


def _start_services() -> tuple[str, str, object | None]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    embedded = None
    base_url = os.environ.get("DATABASE_URL")
    redis_url = os.environ.get("REDIS_URL")
    if base_url is None or redis_url is None:
        from app.embedded import EmbeddedServices

        embedded = EmbeddedServices(_RUN_DIR / "services")
        if base_url is None:
            base_url = embedded.start_postgres("postgres")
        if redis_url is None:
            redis_url = embedded.start_redis()
    # A database of our own on whatever server, so a shared server is never polluted.
    name = f"cf_test_{secrets.token_hex(4)}"
    url = make_url(base_url if "+" in base_url.split("://")[0] else base_url.replace("://", "+psycopg://", 1))
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False), redis_url, embedded


def _worker_redis(url: str) -> str:
    """Under pytest-xdist every worker has a database of its own on the shared server (above) and a Redis
    database number of its own (1, 2, ...), so that one worker's rate-limit counters, sessions and token
    versions are not another's."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker.startswith("gw"):
        return url
    db = int(worker[2:]) + 1
    if url.startswith("unix://"):
        return f"{url.split('?')[0]}?db={db}"
    return f"{url.rsplit('/', 1)[0] if url.count('/') > 2 else url}/{db}"


DATABASE_URL, REDIS_URL, _EMBEDDED = _start_services()
REDIS_URL = _worker_redis(REDIS_URL)
os.environ["DATABASE_URL"] = DATABASE_URL
os.environ["REDIS_URL"] = REDIS_URL


def pytest_sessionstart(session: pytest.Session) -> None:
    import fcntl

    from core.config import reset_settings
    from core.database_admin import migrate

    reset_settings()
    # Under pytest-xdist the workers migrate their own databases on one server, but the runtime role is the
    # server's: one worker at a time (a file lock in the data dir they share), or ALTER ROLE collides.
    lock_path = Path(os.environ["CLIENTFORGE_DATA_DIR"]).parent / "migrate.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        migrate()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    from core.db import dispose_engines

    dispose_engines()
    if _EMBEDDED is not None:
        _EMBEDDED.stop()  # type: ignore[attr-defined]
    if exitstatus == 0:  # a failed run keeps its server logs and data for a look
        shutil.rmtree(_RUN_DIR, ignore_errors=True)


@pytest.fixture(autouse=True)
def _no_reactions_to_every_change() -> Iterator[None]:
    """A test that imports etl.tasks or ai/ task modules (for their job handlers) must not leave every later test's
    events queueing warehouse loads, rescoring, embedding and insight passes that their `drain()` then waits for;
    the tests that want them subscribe themselves."""
    yield
    from core.events.service import subscribers, unsubscribe

    for kind in set(subscribers("*")):
        unsubscribe("*", kind)


@pytest.fixture(autouse=True)
def _clean_redis() -> Iterator[None]:
    """Rate-limit and lockout counters must not leak between tests."""
    yield
    from core.redis import get_redis

    r = get_redis()
    for key in r.scan_iter("LIMITS*"):
        r.delete(key)


from tests.factories import *  # noqa: E402,F401,F403
