"""Process plumbing shared by the CLI and the supervisor: where PostgreSQL and Redis are, free ports,
and errors that a person can act on.

With DATABASE_URL / REDIS_URL set, those servers are checked and used. Unset, the embedded servers of the
data dir are used: the ones a running `clientforge up` recorded in `<data_dir>/runtime.json`, else started
here (and stopped again when the command ends). Either way the URLs end up in `os.environ`, so the settings
object and any child process see the same servers.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.embedded import EmbeddedServices, _pid_alive

RUNTIME_FILE = "runtime.json"


class CliError(Exception):
    """An expected failure: its message is one line that says what to do; the CLI prints it and exits 1."""


# URLs and reasons ----------------------------------------------------------------------------------------


def masked_url(url: str) -> str:
    """The URL with its password replaced by ***, for messages; never fails, whatever the input."""
    return re.sub(r"(?<=://)([^:/@?#]*):([^@/?#]*)@", lambda m: f"{m.group(1)}:***@" if m.group(2) else m.group(0), url)


def one_line(exc: BaseException, *, hide: str | None = None) -> str:
    """A short one-line reason from an exception (driver errors carry hints on later lines)."""
    from sqlalchemy.exc import DBAPIError

    source: BaseException = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    lines = [line.strip() for line in str(source).splitlines() if line.strip()]
    reason = lines[0] if lines else type(source).__name__
    if hide:
        reason = reason.replace(hide, "***")
    return reason


def _password_of(url: str) -> str | None:
    match = re.search(r"://[^:/@?#]*:([^@/?#]+)@", url)
    return match.group(1) if match else None


def database_error(url: str, exc: BaseException) -> CliError:
    reason = one_line(exc, hide=_password_of(url))
    return CliError(
        f"cannot reach PostgreSQL at DATABASE_URL={masked_url(url)}: {reason}; "
        "fix DATABASE_URL or unset it to use the embedded server"
    )


def redis_error(url: str, exc: BaseException) -> CliError:
    reason = one_line(exc, hide=_password_of(url))
    return CliError(
        f"cannot reach Redis at REDIS_URL={masked_url(url)}: {reason}; "
        "fix REDIS_URL or unset it to use the embedded server"
    )


def check_database(url: str, *, timeout: int = 5) -> str:
    """Connect once and return the server version; a CliError naming the (masked) URL when that fails."""
    from sqlalchemy import create_engine, pool, text

    from core.db import to_psycopg_url

    try:
        engine = create_engine(to_psycopg_url(url), poolclass=pool.NullPool, connect_args={"connect_timeout": timeout})
        try:
            with engine.connect() as conn:
                return str(conn.execute(text("SHOW server_version")).scalar_one())
        finally:
            engine.dispose()
    except Exception as exc:  # any failure here means "cannot use this URL": say why, in one line
        raise database_error(url, exc) from None


def check_redis(url: str, *, timeout: float = 5) -> str:
    """PING once and return the server version."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    try:
        client = redis.Redis.from_url(
            url, socket_connect_timeout=timeout, socket_timeout=timeout, retry=Retry(NoBackoff(), 0)
        )
        try:
            client.ping()
            info: Any = client.info("server")
            return str(info.get("redis_version", "?"))
        finally:
            client.close()
    except Exception as exc:
        raise redis_error(url, exc) from None


# Ports ----------------------------------------------------------------------------------------------------


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # The servers we start set SO_REUSEADDR too, so a port in TIME_WAIT counts as free, as it is for them.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return True
            raise CliError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    return False


def ensure_port_free(host: str, port: int, option: str) -> None:
    if not 0 < port < 65536:
        raise CliError(f"port {port} is not a valid port: pass {option} with a number between 1 and 65535")
    if port_in_use(host, port):
        raise CliError(f"port {port} is in use: stop the other process or pass {option}")


# runtime.json ---------------------------------------------------------------------------------------------


def runtime_path(data_dir: Path) -> Path:
    return data_dir / RUNTIME_FILE


def read_runtime(data_dir: Path) -> dict[str, Any] | None:
    """What a live `clientforge up` of this data dir recorded, or None (no file, or its process is gone)."""
    try:
        info = json.loads(runtime_path(data_dir).read_text())
    except (OSError, ValueError):
        return None
    pid = info.get("pid")
    if not isinstance(pid, int) or not _pid_alive(pid):
        return None
    return info


def write_runtime(data_dir: Path, info: dict[str, Any]) -> None:
    """Written with 0600: it holds connection URLs (the embedded ones carry no password, but external may)."""
    path = runtime_path(data_dir)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(info, fh, indent=2)
    os.replace(tmp, path)


def remove_runtime(data_dir: Path) -> None:
    path = runtime_path(data_dir)
    with contextlib.suppress(OSError, ValueError):
        if json.loads(path.read_text()).get("pid") == os.getpid():
            path.unlink()


# Services -------------------------------------------------------------------------------------------------


@dataclass
class Services:
    """The PostgreSQL and Redis a command talks to, and whether they are the data dir's embedded ones."""

    data_dir: Path
    database_url: str | None = None
    redis_url: str | None = None
    database_version: str | None = None
    redis_version: str | None = None
    embedded_database: bool = False
    embedded_redis: bool = False
    started_here: list[str] = field(default_factory=list)
    embedded: EmbeddedServices | None = None

    def stop(self) -> None:
        if self.embedded is not None:
            self.embedded.stop()
            self.embedded = None


def _refresh_settings() -> None:
    from core.config import reset_settings
    from core.db import dispose_engines
    from core.redis import reset_redis

    reset_settings()
    dispose_engines()
    reset_redis()


def _export(name: str, value: str) -> bool:
    """Put a URL into the environment (settings and child processes read it there); True when it changed."""
    if os.environ.get(name) == value:
        return False
    os.environ[name] = value
    return True


def connect_services(*, database: bool = True, redis: bool = False, adopt: bool = False) -> Services:
    """Find (or start) the servers a command needs and export their URLs; see the module docstring.

    `adopt` (the supervisor): embedded servers found running are treated as started here and stopped by
    `Services.stop()`.
    """
    from core.config import get_settings

    settings = get_settings()
    data_dir = settings.data_path
    services = Services(data_dir=data_dir)
    running = None if adopt else read_runtime(data_dir)
    embedded = EmbeddedServices(data_dir)
    changed = False
    try:
        if database:
            if settings.database_url is not None:
                services.database_url = settings.database_url
            elif running and running.get("database_url"):
                services.database_url = running["database_url"]
                services.embedded_database = True
            else:
                try:
                    services.database_url = embedded.start_postgres()
                except Exception as exc:
                    raise CliError(
                        f"cannot start the embedded PostgreSQL in {embedded.pgdata}: "
                        f"{one_line(exc)}; see its log there, or set DATABASE_URL"
                    ) from None
                services.embedded_database = True
                services.started_here.append("postgres")
            services.database_version = check_database(services.database_url)
            changed |= _export("DATABASE_URL", services.database_url)
        if redis:
            if settings.redis_url is not None:
                services.redis_url = settings.redis_url
            elif running and running.get("redis_url"):
                services.redis_url = running["redis_url"]
                services.embedded_redis = True
            else:
                try:
                    services.redis_url = embedded.start_redis(adopt=adopt)
                except Exception as exc:
                    raise CliError(
                        f"cannot start the embedded Redis in {embedded.redis_socket.parent}: "
                        f"{one_line(exc)}; or set REDIS_URL"
                    ) from None
                services.embedded_redis = True
                services.started_here.append("redis")
            services.redis_version = check_redis(services.redis_url)
            changed |= _export("REDIS_URL", services.redis_url)
    except BaseException:
        embedded.stop()
        raise
    if services.started_here:
        services.embedded = embedded
    if changed:
        _refresh_settings()
    return services


@contextlib.contextmanager
def services_for_command(*, database: bool = True, redis: bool = False) -> Iterator[Services]:
    """`connect_services` for one CLI command: what it started is stopped when the command ends."""
    services = connect_services(database=database, redis=redis)
    try:
        yield services
    finally:
        services.stop()
