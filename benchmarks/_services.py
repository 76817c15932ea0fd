"""Shared benchmark plumbing: embedded PostgreSQL + Redis in a temp dir (or DATABASE_URL / REDIS_URL),
a fresh migrated database, and a uvicorn server as a real subprocess.

With a `data_dir`, the cluster, the data dir and the secrets live there and survive the run, so a benchmark
that seeds a large data set once can reuse it next time (`fresh=False` keeps an existing database).
"""

from __future__ import annotations

import json
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


SHARED_SECRETS = ("JWT_SECRET", "FIELD_ENCRYPTION_KEY", "API_KEY_PEPPER")


def _secrets(data_dir: Path | None) -> dict[str, str]:
    """Production refuses generated secrets: a benchmark run brings its own, as a deployment would. With a
    kept data dir they are kept too (encrypted columns of a reused database must stay readable)."""
    if data_dir is None:
        return {name: secrets.token_urlsafe(48) for name in SHARED_SECRETS}
    path = data_dir / "bench-secrets.json"
    stored = json.loads(path.read_text()) if path.exists() else {}
    if not all(name in stored for name in SHARED_SECRETS):
        stored = {name: stored.get(name) or secrets.token_urlsafe(48) for name in SHARED_SECRETS}
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(stored, fh)
    return stored


@contextmanager
def services(
    data_dir: Path | None = None, database: str | None = None, *, fresh: bool = True
) -> Iterator[dict[str, str]]:
    """Start (or reuse) PostgreSQL and Redis, migrate the database, yield the environment to use.

    Without `data_dir`: everything in a new temp dir and a new database. With it: the embedded cluster, the
    app's data dir and the secrets under `data_dir`, kept after the run; the database (`database`, default
    `cf_bench`) is dropped and created again only when `fresh`, and otherwise reused (migrated to head).
    """
    from sqlalchemy import create_engine, text

    from app.embedded import EmbeddedServices

    root = data_dir.resolve() if data_dir is not None else Path(tempfile.mkdtemp(prefix="cf-bench-"))
    embedded = EmbeddedServices(root / "services")
    base = os.environ.get("DATABASE_URL") or embedded.start_postgres("postgres")
    redis_url = os.environ.get("REDIS_URL") or embedded.start_redis()
    name = database or (f"cf_bench_{os.getpid()}" if data_dir is None else "cf_bench")
    url = base.replace("postgresql://", "postgresql+psycopg://", 1) if "+" not in base.split("://")[0] else base
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if fresh:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        if not conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).scalar():
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    from sqlalchemy.engine import make_url

    db_url = make_url(url).set(database=name).render_as_string(hide_password=False)
    env = {
        "DATABASE_URL": db_url,
        "REDIS_URL": redis_url,
        "CLIENTFORGE_DATA_DIR": str(root / "data"),
        "CLIENTFORGE_ENV": "production",
        **_secrets(root if data_dir is not None else None),
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
def api_server(
    env: dict[str, str], extra: dict[str, str] | None = None, app: str = "api.main:app", *, workers: int = 1
) -> Iterator[str]:
    """A uvicorn server on a free port (with `workers` > 1, that many processes sharing the socket)."""
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
            *(["--workers", str(workers)] if workers > 1 else []),
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


WRK_LUA = """
local auth = os.getenv("CF_TOKEN")
if auth and auth ~= "" then wrk.headers["Authorization"] = "Bearer " .. auth end
done = function(summary, latency, requests)
  io.write(string.format('{"p50": %f, "p95": %f, "p99": %f, "rps": %f, "requests": %d, "errors": %d, "non2xx": %d}\\n',
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    summary.requests / (summary.duration / 1e6), summary.requests,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
end
"""


def wrk(url: str, token: str | None, seconds: float, connections: int) -> dict:
    """One wrk run (one thread, `connections` connections): latency percentiles in ms, requests/s, errors."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(WRK_LUA)
    try:
        out = subprocess.run(
            ["wrk", "-t", "1", "-c", str(connections), "-d", f"{seconds}s", "-s", fh.name, url],
            capture_output=True,
            text=True,
            env={"CF_TOKEN": token or "", "PATH": "/usr/bin:/bin"},
            check=True,
        ).stdout
    finally:
        os.unlink(fh.name)
    return json.loads(out.strip().splitlines()[-1])
