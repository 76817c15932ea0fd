"""Where each tenant's warehouse lives and how it changes without disturbing readers.

`<data dir>/warehouse/<tenant_id>/` holds numbered DuckDB files (`v000042.duckdb`) and `CURRENT`, a small JSON
file naming the one readers open (read-only). A load writes the next version beside it (a copy of the current
one for an incremental load, a fresh file for a full one), then publishes it by replacing `CURRENT` atomically;
a reader that opened the previous file keeps reading it, and a load that crashes leaves `CURRENT` where it was.
One load per tenant at a time: an exclusive `flock` on the directory's lock file.

The notebook API (`connect`, `read`, `sql`) is at the end: analysts reach a warehouse only through a user's or
an API key's credentials with the `warehouse:read` permission, and only their own tenant's.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import duckdb
import polars as pl

from core.config import get_settings

POINTER = "CURRENT"
LOCK = ".lock"
KEEP_VERSIONS = 2  # the current file and the one before it (a reader may have just opened it)


# Readers reach no file beyond their warehouse (ATTACH of another tenant's, read_csv, COPY TO, extensions) and
# cannot switch that back on: reports and notebooks run SQL that users write. (Connections to one file in a
# process share one database instance, hence its configuration: every reader passes the same.)
READER_CONFIG = {"enable_external_access": False, "lock_configuration": True}


class WarehouseNotBuilt(LookupError):
    """The tenant has no warehouse yet: run `clientforge etl run --tenant <slug>` (or wait for the worker)."""


def root() -> Path:
    return get_settings().data_path / "warehouse"


def tenant_dir(tenant_id: UUID) -> Path:
    return root() / str(UUID(str(tenant_id)))


@dataclass(frozen=True)
class Current:
    version: int
    path: Path
    built_at: datetime


def current(tenant_id: UUID) -> Current | None:
    """The published version of the tenant's warehouse, or None when none was built."""
    directory = tenant_dir(tenant_id)
    try:
        raw = json.loads((directory / POINTER).read_text())
    except FileNotFoundError:
        return None
    return Current(int(raw["version"]), directory / raw["file"], datetime.fromisoformat(raw["built_at"]))


def open_tenant(tenant_id: UUID) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the tenant's current warehouse (close it when done)."""
    for _ in range(3):  # a load may retire the file between reading CURRENT and opening it
        published = current(tenant_id)
        if published is None:
            raise WarehouseNotBuilt(f"tenant {tenant_id} has no warehouse yet")
        try:
            con = duckdb.connect(str(published.path), read_only=True, config=READER_CONFIG)
        except duckdb.IOException:
            if published.path.exists():
                raise
            continue
        _hold_reader_lock(con, published.path)
        return con
    raise WarehouseNotBuilt(f"the warehouse of tenant {tenant_id} is being replaced; try again")


def _readers_file(path: Path) -> Path:
    return path.with_name(f"{path.name}.readers")


def _hold_reader_lock(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """A shared flock on the version's `.readers` file for as long as the connection object lives, so that a load
    never reuses a file someone reads. (DuckDB's own lock is an fcntl lock, which does not exclude a writer in
    the same process, such as a worker running a report while another thread loads.)"""
    handle = open(_readers_file(path), "a+")  # noqa: SIM115 - closed when the connection is collected
    fcntl.flock(handle, fcntl.LOCK_SH)
    weakref.finalize(con, handle.close)


def _unread(path: Path) -> bool:
    """Whether no connection reads `path` now (and none can start: it is no longer current)."""
    with open(_readers_file(path), "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(handle, fcntl.LOCK_UN)
        return True


@contextlib.contextmanager
def locked(tenant_id: UUID) -> Iterator[Path]:
    """Hold the tenant's load lock (waits for a running load to finish)."""
    directory = tenant_dir(tenant_id)
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / LOCK, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield directory
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


class NextVersion:
    """The file a load writes (under the lock): `start()` gives its path, `publish()` makes it current.

    An incremental load does not copy the current file (1.4 GB at the large demo scale: most of a load's time).
    It takes the version before it, which nobody should be reading any more, and brings it up to date: that
    file's own watermarks make the load read what changed since *its* load, i.e. during the last two loads.
    Snapshot days it missed are taken from the current version (`donor`). Only when that older file is gone or
    still open by a reader is the current one copied instead."""

    def __init__(self, tenant_id: UUID, *, fresh: bool) -> None:
        self.tenant_id = tenant_id
        self.directory = tenant_dir(tenant_id)
        self.previous = current(tenant_id)
        self.fresh = fresh or self.previous is None or not self.previous.path.exists()
        self.version = (self.previous.version if self.previous else 0) + 1
        self.path = self.directory / f"v{self.version:06d}.duckdb"
        self.work = self.directory / f"v{self.version:06d}.duckdb.tmp"
        self.donor: Path | None = None  # the current version, when the work file started from an older one

    def start(self) -> Path:
        """Clear what a crashed load left, then lay the working file down and return its path: nothing when
        fresh, else the version before the current one (renamed), else a copy of the current one."""
        for leftover in self.directory.glob("*.tmp*"):
            leftover.unlink(missing_ok=True)
        if self.fresh:
            return self.work
        assert self.previous is not None
        older = [p for p in sorted(self.directory.glob("v*.duckdb")) if p != self.previous.path]
        if older and _unread(older[-1]):
            os.replace(older[-1], self.work)
            self.donor = self.previous.path
        else:
            self.copy_current()
        return self.work

    def copy_current(self) -> None:
        """Start from a copy of the current version (the older file is in use, or there is none)."""
        assert self.previous is not None
        self.work.unlink(missing_ok=True)
        shutil.copyfile(self.previous.path, self.work)
        self.donor = None

    def publish(self) -> None:
        os.replace(self.work, self.path)
        pointer = self.directory / f"{POINTER}.tmp"
        body = {"version": self.version, "file": self.path.name, "built_at": datetime.now(UTC).isoformat()}
        with open(pointer, "w") as fh:
            json.dump(body, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(pointer, self.directory / POINTER)
        self._retire()

    def _retire(self) -> None:
        versions = sorted(self.directory.glob("v*.duckdb"))
        for old in versions[:-KEEP_VERSIONS]:
            old.unlink(missing_ok=True)
            Path(f"{old}.wal").unlink(missing_ok=True)
        kept = {p.name for p in versions[-KEEP_VERSIONS:]}
        for readers in self.directory.glob("v*.duckdb.readers"):
            if readers.name.removesuffix(".readers") not in kept:
                readers.unlink(missing_ok=True)


# The notebook API --------------------------------------------------------------------------------------------


class Warehouse:
    """An analyst's read-only view of one workspace's warehouse (see `connect`)."""

    def __init__(self, tenant_id: UUID, slug: str, actor: Any) -> None:
        self.tenant_id = tenant_id
        self.slug = slug
        self.actor = actor

    def _open(self) -> duckdb.DuckDBPyConnection:
        return open_tenant(self.tenant_id)

    def tables(self) -> list[str]:
        """The tables and views analysts may read."""
        from etl import schema

        with contextlib.closing(self._open()) as con:
            names = [row[0] for row in con.execute("SELECT table_name FROM information_schema.tables").fetchall()]
        return sorted(name for name in names if name != schema.STATE_TABLE)

    def sql(self, query: str, params: list[Any] | dict[str, Any] | None = None, *, pandas: bool = False) -> Any:
        """Run a read-only query (DuckDB SQL; `?` or `$name` parameters) and return a Polars frame (pandas with
        `pandas=True`). The connection is read-only: statements that write fail."""
        with contextlib.closing(self._open()) as con:
            relation = con.sql(query, params=params)
            frame = relation.pl() if relation is not None else pl.DataFrame()
        return frame.to_pandas() if pandas else frame

    def read(self, table: str, *, pandas: bool = False) -> Any:
        """A whole table or view as a frame."""
        if table not in self.tables():
            raise KeyError(f"no table {table!r} in the warehouse; tables: {', '.join(self.tables())}")
        return self.sql(f'SELECT * FROM "{table}"', pandas=pandas)

    def __repr__(self) -> str:
        published = current(self.tenant_id)
        built = (
            f"version {published.version}, built {published.built_at:%Y-%m-%d %H:%M} UTC" if published else "not built"
        )
        return f"<Warehouse {self.slug}: {built}>"


_connected: Warehouse | None = None


def connect(
    tenant: str,
    *,
    api_key: str | None = None,
    email: str | None = None,
    password: str | None = None,
) -> Warehouse:
    """Sign in to workspace `tenant` (its slug) and open its warehouse for analysis.

    Credentials: an API key (`api_key`, or the CLIENTFORGE_API_KEY environment variable), else `email` and
    `password` of a user. Their role needs `warehouse:read` and the record scope `all` (admin, analyst): the
    warehouse holds every record of the workspace. Later `read()` and `sql()` calls use this connection.
    """
    global _connected
    from core.auth import service as auth
    from core.db import unit_of_work
    from core.errors import AuthenticationFailed, PermissionDenied
    from core.tenants.service import lookup_slug

    api_key = api_key or os.environ.get("CLIENTFORGE_API_KEY")
    with unit_of_work() as session:
        found = lookup_slug(session, tenant)
    if found is None or not found[1]:
        raise AuthenticationFailed(f"No active workspace '{tenant}'")
    tenant_id = found[0]
    if api_key:
        with unit_of_work() as session:
            actor = auth.authenticate_api_key(session, api_key)
    elif email and password:
        pair = auth.login_committing_failures(email=email, password=password, tenant_slug=tenant)
        with unit_of_work(tenant_id=tenant_id) as session:
            actor = auth.load_actor(session, tenant_id=tenant_id, user_id=pair.user_id)
    else:
        raise AuthenticationFailed("Pass api_key= (or set CLIENTFORGE_API_KEY), or email= and password=")
    if actor.tenant_id != tenant_id:
        raise AuthenticationFailed(f"These credentials are not for workspace '{tenant}'")
    actor.require("warehouse", "read")
    if actor.scope != "all":
        raise PermissionDenied(
            "The warehouse holds every record of the workspace; your role sees only "
            f"{'your own' if actor.scope == 'own' else 'your team'}'s records. Ask for the analyst role.",
            details={"required": "record scope all", "role": actor.role},
        )
    _connected = Warehouse(tenant_id, tenant, actor)
    return _connected


def _require_connected() -> Warehouse:
    if _connected is None:
        raise RuntimeError('Connect first: warehouse.connect("<workspace slug>", api_key=...)')
    return _connected


def read(table: str, *, pandas: bool = False) -> Any:
    """`Warehouse.read` on the last `connect`ed warehouse."""
    return _require_connected().read(table, pandas=pandas)


def sql(query: str, params: list[Any] | dict[str, Any] | None = None, *, pandas: bool = False) -> Any:
    """`Warehouse.sql` on the last `connect`ed warehouse."""
    return _require_connected().sql(query, params, pandas=pandas)


def tables() -> list[str]:
    return _require_connected().tables()
