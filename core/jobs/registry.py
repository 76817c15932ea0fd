"""Job handlers by kind, and the context a handler runs with.

A handler is a plain function `fn(ctx: JobContext) -> dict | None`, registered with `@handler("kind")` in a
domain's `tasks.py`. It runs at least once: a worker may die half-way and the job is then run again from the
last checkpoint. Exactly-once effects come from writing the checkpoint in the same transaction as the effect:

    @handler("imports.contacts")
    def import_contacts(ctx: JobContext) -> dict:
        start = (ctx.checkpoint or {}).get("next", 0)
        for i in range(start, total):
            with ctx.unit_of_work() as session:
                ...  # the effect of row i
                ctx.save(session, checkpoint={"next": i + 1}, progress=100 * (i + 1) // total)
        return {"imported": total}
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import pkgutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy import update
from sqlalchemy.orm import Session

from core.actor import Actor
from core.db import unit_of_work
from core.jobs.models import Job

logger = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 3600.0

HandlerFn = Callable[["JobContext"], dict[str, Any] | None]


class JobSuperseded(Exception):  # noqa: N818 - a state, not an error the user sees
    """A newer attempt of this job has started (this worker was presumed dead); this attempt must stop and
    its open transaction must roll back, so the same effect is never written twice."""


@dataclass(frozen=True)
class HandlerSpec:
    kind: str
    fn: HandlerFn
    max_attempts: int
    backoff_seconds: float

    def retry_in(self, attempt: int) -> float | None:
        """Seconds to wait after failed attempt `attempt` (1-based), or None when it was the last one.

        Exponential: backoff, 2x, 4x, ... capped at an hour."""
        if attempt >= self.max_attempts:
            return None
        return min(self.backoff_seconds * 2 ** (attempt - 1), MAX_BACKOFF_SECONDS)


_handlers: dict[str, HandlerSpec] = {}


def handler(kind: str, *, max_attempts: int = 5, backoff_seconds: float = 2.0) -> Callable[[HandlerFn], HandlerFn]:
    """Register `fn` as the handler of job `kind`; failed attempts are retried with exponential backoff
    (`backoff_seconds`, doubled each time) until `max_attempts` runs have failed."""
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")

    def register(fn: HandlerFn) -> HandlerFn:
        existing = _handlers.get(kind)
        same = existing is not None and (existing.fn.__module__, existing.fn.__qualname__) == (
            fn.__module__,
            fn.__qualname__,
        )
        if existing is not None and not same:
            raise ValueError(f"job kind {kind!r} already has a handler ({existing.fn.__module__})")
        _handlers[kind] = HandlerSpec(kind, fn, max_attempts, backoff_seconds)
        return fn

    return register


@dataclass(frozen=True)
class PeriodicSpec:
    name: str
    fn: Callable[[int], Any]
    every_seconds: Callable[[], int]


_periodic: dict[str, PeriodicSpec] = {}


def periodic(name: str, *, every_seconds: Callable[[], int]) -> Callable[[Callable[[int], Any]], Callable[[int], Any]]:
    """Register `fn(timestamp)` to run in the worker every `every_seconds()` seconds (read when the worker starts,
    so a setting can say how often). Periodic work runs with no tenant and no actor: it should only look for
    what is due and queue jobs (per tenant) for it, which carry the retries, the log and the permissions."""

    def register(fn: Callable[[int], Any]) -> Callable[[int], Any]:
        _periodic[name] = PeriodicSpec(name, fn, every_seconds)
        return fn

    return register


def periodic_specs() -> list[PeriodicSpec]:
    return list(_periodic.values())


def get_handler(kind: str) -> HandlerSpec | None:
    return _handlers.get(kind)


def kinds() -> list[str]:
    return sorted(_handlers)


_load_lock = threading.Lock()
_loaded = False


def load_handler_modules(force: bool = False) -> None:
    """Import every `core.<domain>.tasks` module and the extra `job_modules` from settings, so that their
    `@handler` and `subscribe` registrations exist in this process (worker, or an API process enqueueing)."""
    global _loaded
    from core.config import get_settings

    with _load_lock:
        if _loaded and not force:
            return
        import core

        names = [f"core.{m.name}.tasks" for m in pkgutil.iter_modules(core.__path__) if m.ispkg]
        for name in names:
            if importlib.util.find_spec(name) is not None:
                importlib.import_module(name)
        for name in get_settings().job_modules:
            importlib.import_module(name)
        _loaded = True


@dataclass
class JobContext:
    """One attempt of one job. `attempt` is 1 for the first run; `checkpoint` is what the last committed
    `save` stored (None on a fresh job)."""

    job_id: UUID
    tenant_id: UUID
    kind: str
    params: dict[str, Any]
    attempt: int
    checkpoint: dict[str, Any] | None
    actor: Actor

    @contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        """A transaction as this job's actor: whoever queued it (narrowed to their API key when queued through
        one), or the system for the platform's own jobs."""
        with unit_of_work(self.actor) as session:
            yield session

    def _fenced(self) -> Any:
        # Only the current attempt may write: a newer attempt has incremented `attempts`.
        return update(Job).where(
            Job.id == self.job_id,
            Job.tenant_id == self.tenant_id,
            Job.attempts == self.attempt,
            Job.status == "running",
        )

    def save(
        self,
        session: Session,
        *,
        checkpoint: dict[str, Any] | None = None,
        progress: int | None = None,
        message: str | None = None,
    ) -> None:
        """Write checkpoint/progress/message in `session`'s transaction, i.e. atomically with the handler's
        effects: after a crash the job resumes exactly after the last committed batch.

        Raises JobSuperseded when another attempt took the job over (the caller's transaction then rolls
        back).
        """
        values: dict[str, Any] = {}
        if checkpoint is not None:
            values["checkpoint"] = checkpoint
        if progress is not None:
            values["progress"] = _clamp(progress)
        if message is not None:
            values["message"] = message
        if not values:
            return
        result = session.execute(self._fenced().values(**values).execution_options(synchronize_session=False))
        if result.rowcount == 0:  # type: ignore[attr-defined]
            raise JobSuperseded(f"job {self.job_id} attempt {self.attempt} was superseded")
        if checkpoint is not None:
            self.checkpoint = checkpoint

    def progress(self, pct: int, message: str | None = None) -> None:
        """Report progress in a short transaction of its own (for work with no transaction to join)."""
        with self.unit_of_work() as session:
            self.save(session, progress=pct, message=message)


def _clamp(pct: int | float) -> int:
    return max(0, min(100, int(pct)))
