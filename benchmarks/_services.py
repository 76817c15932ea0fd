"""Shared benchmark plumbing: embedded PostgreSQL + Redis in a temp dir (or DATABASE_URL / REDIS_URL),
a fresh migrated database, and a uvicorn server as a real subprocess."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def services() -> Iterator[dict[str, str]]:
    """Start (or reuse) PostgreSQL and Redis, migrate a fresh database, yield the environment to use."""
    from sqlalchemy import create_engine, text

    from app.embedded import EmbeddedServices

    tmp = Path(tempfile.mkdtemp(prefix="cf-bench-"))
    embedded = EmbeddedServices(tmp / "services")
    base = os.environ.get("DATABASE_URL") or embedded.start_postgres("postgres")
    redis_url = os.environ.get("REDIS_URL") or embedded.start_redis()
    name = f"cf_bench_{os.getpid()}"
    url = base.replace("postgresql://", "postgresql+psycopg://", 1) if "+" not in base.split("://")[0] else base
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    from sqlalchemy.engine import make_url

    db_url = make_url(url).set(database=name).render_as_string(hide_password=False)
    env = {
        "DATABASE_URL": db_url,
        "REDIS_URL": redis_url,
        "CLIENTFORGE_DATA_DIR": str(tmp / "data"),
        "CLIENTFORGE_ENV": "production",
        # Production refuses generated secrets: a benchmark run brings its own, as a deployment would.
        **{name: secrets.token_urlsafe(48) for name in ("JWT_SECRET", "FIELD_ENCRYPTION_KEY", "API_KEY_PEPPER")},
        "CLIENTFORGE_LOG_LEVEL": "WARNING",
    }
    os.environ.update(env)
    from core.config import reset_settings
    from core.database_admin import migrate

    reset_settings()
    migrate()
    try:
        yield env
    finally:
        from core.db import dispose_engines

        dispose_engines()
        embedded.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def api_server(env: dict[str, str], extra: dict[str, str] | None = None, app: str = "api.main:app") -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            app,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        env={**os.environ, **env, **(extra or {})},
        cwd=ROOT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise RuntimeError("API server did not start")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=20)
