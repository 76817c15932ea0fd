"""Fixtures for core tests: owner-side SQL (sees every tenant; for assertions only) and real workers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

import tests.support.jobs  # noqa: F401  (registers the test-only job handlers in this process)
from core.db import owner_engine

REPO_ROOT = Path(__file__).resolve().parents[2]


def owner_rows(sql: str, **params: Any) -> list[Any]:
    """Rows as the owner sees them (row-level security does not apply): for checking what really exists."""
    with owner_engine().connect() as conn:
        return list(conn.execute(text(sql), params).all())


def owner_execute(sql: str, **params: Any) -> None:
    with owner_engine().begin() as conn:
        conn.execute(text(sql), params)


class WorkerProcess:
    """A `run_worker()` in a real subprocess, with its output in a log file."""

    def __init__(self, name: str, log_dir: Path, env: dict[str, str]) -> None:
        self.name = name
        self.log_path = log_dir / f"worker-{name}.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-c", "from core.jobs.queue import run_worker; run_worker()"],
            cwd=REPO_ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def kill(self) -> None:
        """SIGKILL: no signal handler, no cleanup, no goodbye to the database."""
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._log.close()

    def log_tail(self, lines: int = 40) -> str:
        self._log.flush()
        content = self.log_path.read_text(errors="replace").splitlines()
        return f"--- worker {self.name} ---\n" + "\n".join(content[-lines:])


def module_worker(name: str, log_dir: Path, modules: str) -> WorkerProcess:
    """A worker subprocess that loads the job handlers of `modules` (comma separated), as `clientforge up` does."""
    env = {
        **os.environ,
        "CLIENTFORGE_JOB_MODULES": modules,
        "CLIENTFORGE_LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
    }
    return WorkerProcess(name, log_dir, env)


def wait_for(condition: Callable[[], object], seconds: float) -> float | None:
    """Seconds until `condition()` is true (polled every 0.1 s), None if it was not within `seconds`."""
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        if condition():
            return time.monotonic() - start
        time.sleep(0.1)
    return None


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    """Start worker subprocesses on this run's database, with fast heartbeats; all stopped at teardown."""
    started: list[WorkerProcess] = []
    env = {
        **os.environ,
        "CLIENTFORGE_JOB_MODULES": "tests.support.jobs",
        "CLIENTFORGE_WORKER_HEARTBEAT": "1",
        "CLIENTFORGE_WORKER_STALLED_AFTER": "3",
        "CLIENTFORGE_LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
    }

    def start(name: str) -> WorkerProcess:
        worker = WorkerProcess(name, tmp_path, env)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()
