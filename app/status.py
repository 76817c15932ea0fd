"""`clientforge status`: one line per component, each check independent of the others."""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass, field

from app.runtime import CliError, Services, connect_services, masked_url, one_line, read_runtime


@dataclass
class Check:
    name: str
    ok: bool | None  # None: informational
    summary: str
    critical: bool = True  # a critical failure makes `status` exit 1


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # one line each, for stderr

    def add(self, name: str, ok: bool | None, summary: str, *, critical: bool = True) -> None:
        self.checks.append(Check(name, ok, summary, critical))

    @property
    def healthy(self) -> bool:
        return not self.errors

    def render(self) -> str:
        width = max(len(c.name) for c in self.checks) + 2

        def mark(check: Check) -> str:
            if check.ok is None:
                return ""
            return "ok" if check.ok else ("FAIL" if check.critical else "down")

        return "\n".join(f"{c.name:<{width}}{mark(c):<6}{c.summary}" for c in self.checks)


def _where(embedded: bool, url: str | None, started_here: bool) -> str:
    if not embedded:
        return masked_url(url or "")
    return "embedded, started for this check" if started_here else "embedded, running"


def schema_revisions() -> tuple[set[str], set[str]]:
    """(current revisions in the database, head revisions of the code)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from core.database_admin import alembic_config
    from core.db import owner_engine

    heads = set(ScriptDirectory.from_config(alembic_config()).get_heads())
    with owner_engine().connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
    return current, heads


def _worker_heartbeats(stalled_after: float) -> tuple[int, float | None]:
    """(workers with a heartbeat newer than `stalled_after` seconds, age in seconds of the newest one)."""
    from sqlalchemy import text

    from core.db import owner_engine

    with owner_engine().connect() as conn:
        row = conn.execute(
            text(
                "SELECT count(*) FILTER (WHERE last_heartbeat > now() - make_interval(secs => :s)) AS fresh,"
                " extract(epoch FROM now() - max(last_heartbeat)) AS age FROM procrastinate_workers"
            ),
            {"s": stalled_after},
        ).one()
    return int(row.fresh), (float(row.age) if row.age is not None else None)


def _count_tenants() -> int:
    from sqlalchemy.orm import Session

    from core.db import owner_engine
    from core.tenants import service as tenants

    with Session(owner_engine()) as session:
        return tenants.count_tenants(session)


def _api_answers(url: str) -> tuple[bool, str]:
    try:
        with urllib.request.urlopen(url, timeout=3) as response:  # noqa: S310 (loopback URL we built)
            return response.status == 200, f"HTTP {response.status} from {url}"
    except urllib.error.HTTPError as exc:
        return False, f"HTTP {exc.code} from {url}"
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return False, f"nothing answers at {url} ({reason})"


def collect(api_port: int | None = None) -> Report:
    from core.config import get_settings

    settings = get_settings()
    report = Report()
    running = read_runtime(settings.data_path)
    report.add(
        "data dir",
        None,
        f"{settings.data_path}" + (f" (clientforge up running, pid {running['pid']})" if running else ""),
    )
    started: list[Services] = []
    # Report an embedded server that was never set up instead of creating one just to look at it.
    fresh_database = (
        settings.database_url is None and not running and not (settings.data_path / "pgdata" / "PG_VERSION").exists()
    )
    fresh_redis = settings.redis_url is None and not running and not settings.data_path.exists()
    try:
        database_ok = False
        try:
            if fresh_database:
                raise CliError(
                    f"no embedded database in {settings.data_path} yet: run `clientforge up` "
                    "(or `clientforge migrate`), or set DATABASE_URL"
                )
            db = connect_services(database=True, redis=False)
            started.append(db)
            database_ok = True
            where = _where(db.embedded_database, db.database_url, "postgres" in db.started_here)
            report.add("database", True, f"PostgreSQL {db.database_version} ({where})")
        except CliError as exc:
            report.add("database", False, "not set up" if fresh_database else "unreachable")
            report.errors.append(str(exc))
        try:
            if fresh_redis:
                raise CliError(f"no data dir at {settings.data_path} yet: run `clientforge up`, or set REDIS_URL")
            rd = connect_services(database=False, redis=True)
            started.append(rd)
            where = _where(rd.embedded_redis, rd.redis_url, "redis" in rd.started_here)
            report.add("redis", True, f"Redis {rd.redis_version} ({where})")
        except CliError as exc:
            report.add("redis", False, "not set up" if fresh_redis else "unreachable")
            report.errors.append(str(exc))
        if database_ok:
            _database_details(report, settings.worker_stalled_seconds)
        host = settings.api_host if settings.api_host not in ("0.0.0.0", "") else "127.0.0.1"
        port = api_port or (running or {}).get("api_port") or settings.api_port
        ok, summary = _api_answers(f"http://{host}:{port}/health")
        report.add("api", ok, summary, critical=False)
    finally:
        for services in started:
            services.stop()
    return report


def _database_details(report: Report, stalled_after: float) -> None:
    try:
        current, heads = schema_revisions()
    except Exception as exc:
        report.add("migrations", False, f"cannot read the schema version: {one_line(exc)}")
        return
    at_head = bool(current) and current == heads
    if at_head:
        report.add("migrations", True, f"at head ({', '.join(sorted(heads))})")
    else:
        now = ", ".join(sorted(current)) or "empty database"
        report.add(
            "migrations",
            False,
            f"not at head ({now}; head is {', '.join(sorted(heads))}): run `clientforge migrate`",
        )
        return
    try:
        report.add("tenants", None, str(_count_tenants()))
    except Exception as exc:
        report.add("tenants", False, f"cannot count: {one_line(exc)}")
    try:
        fresh, age = _worker_heartbeats(stalled_after)
    except Exception as exc:
        report.add("worker", False, f"cannot read heartbeats: {one_line(exc)}")
        return
    if fresh:
        report.add("worker", True, f"{fresh} worker(s) with a heartbeat in the last {stalled_after:.0f} s")
    elif age is None:
        report.add(
            "worker",
            False,
            "no worker has run yet: start `clientforge worker` (or `clientforge up`)",
            critical=False,
        )
    else:
        report.add("worker", False, f"no heartbeat for {age:.0f} s: start `clientforge worker`", critical=False)
