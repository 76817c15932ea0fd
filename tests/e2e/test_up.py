"""`clientforge up` as a person runs it: a real process with its own embedded PostgreSQL and Redis in a
fresh data dir, the API, UI and worker as children; Ctrl-C stops everything; a second start finds the data
intact. The first start loads the demo workspace at small scale (`--demo-scale small`: the medium default
would cost this test half a minute)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
PASSWORD_LINE = re.compile(r"Password:\s+(\S+)")
READY_TIMEOUT = 90.0
STOP_TIMEOUT = 30.0


def clientforge() -> str:
    beside_python = Path(sys.executable).parent / "clientforge"
    return str(beside_python if beside_python.exists() else ROOT / ".venv" / "bin" / "clientforge")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def user_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a person's shell: none of the test run's servers or settings."""
    ours = ("CLIENTFORGE_", "DATABASE_URL", "APP_DATABASE_URL", "REDIS_URL", "XDG_RUNTIME")
    env = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    env["CLIENTFORGE_DATA_DIR"] = str(data_dir)
    env.update(extra)
    return env


@pytest.fixture
def data_dir() -> Iterator[Path]:
    # Short, so the embedded servers' unix sockets fit in the kernel's path limit.
    path = Path(tempfile.mkdtemp(prefix="cf-e2e-"))
    yield path / "data"
    shutil.rmtree(path, ignore_errors=True)


def processes_of(data_dir: Path) -> list[psutil.Process]:
    """Embedded servers started for this data dir (their command lines name it)."""
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if str(data_dir) in cmdline and proc.info["status"] != psutil.STATUS_ZOMBIE:
            found.append(proc)
    return found


def wait_gone(pids: set[int], timeout: float = 10.0) -> set[int]:
    deadline = time.monotonic() + timeout
    alive = set(pids)
    while alive and time.monotonic() < deadline:
        for pid in list(alive):
            try:
                if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                    alive.discard(pid)
            except psutil.NoSuchProcess:
                alive.discard(pid)
        time.sleep(0.2)
    return alive


class Up:
    """One `clientforge up` run with its output collected as it comes."""

    def __init__(self, data_dir: Path, api_port: int, ui_port: int, *options: str) -> None:
        self.data_dir = data_dir
        self.api = f"http://127.0.0.1:{api_port}"
        self.ui = f"http://127.0.0.1:{ui_port}"
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [clientforge(), "up", "--api-port", str(api_port), "--ui-port", str(ui_port), *options],
            env=user_env(data_dir),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def _answers(self, url: str) -> bool:
        try:
            return httpx.get(url, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"clientforge up exited with {self.process.returncode}:\n{self.output}")
            if (
                self._answers(f"{self.api}/health")
                and self._answers(f"{self.ui}/")
                and "ClientForge is running" in self.output
            ):
                return
            time.sleep(0.5)
        self.kill()
        pytest.fail(f"clientforge up not ready after {READY_TIMEOUT:.0f} s:\n{self.output}")

    def descendants(self) -> set[int]:
        """Children (API, UI, worker and what they spawn) plus the daemonized embedded servers."""
        pids = {p.pid for p in psutil.Process(self.process.pid).children(recursive=True)}
        runtime = json.loads((self.data_dir / "runtime.json").read_text())
        pids.update(pid for pid in (runtime.get("postgres_pid"), runtime.get("redis_pid")) if pid)
        pids.update(runtime.get("children", {}).values())
        pids.update(p.pid for p in processes_of(self.data_dir))
        return pids

    def login(self, email: str, password: str, tenant: str = "default") -> httpx.Response:
        return httpx.post(
            f"{self.api}/api/v1/auth/login",
            json={"email": email, "password": password, "tenant": tenant},
            timeout=30,
        )

    def interrupt(self) -> int:
        self.process.send_signal(signal.SIGINT)
        try:
            code = self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"clientforge up did not stop within {STOP_TIMEOUT:.0f} s of SIGINT:\n{self.output}")
        self._reader.join(timeout=10)
        return code

    def kill(self) -> None:
        try:
            parent = psutil.Process(self.process.pid)
            procs = [parent, *parent.children(recursive=True)]
        except psutil.NoSuchProcess:
            procs = []
        for proc in procs + processes_of(self.data_dir):
            try:
                proc.kill()
            except psutil.NoSuchProcess:
                pass


@pytest.fixture
def ups() -> Iterator[list[Up]]:
    """Runs started by a test; whatever a failed assertion left running is killed."""
    started: list[Up] = []
    yield started
    for up in started:
        if up.process.poll() is None:
            up.kill()
            up.process.wait(timeout=30)


def two_free_ports() -> tuple[int, int]:
    while True:
        first, second = free_port(), free_port()
        if first != second:
            return first, second


def test_up_first_run_then_restart_keeps_the_data(data_dir: Path, ups: list[Up]) -> None:
    api_port, ui_port = two_free_ports()

    first = Up(data_dir, api_port, ui_port, "--demo-scale", "small")
    ups.append(first)
    first.wait_ready()
    passwords = PASSWORD_LINE.findall(first.output)
    assert len(passwords) == 2, first.output  # the first workspace's admin, then the demo users'
    assert "admin@example.com" in first.output
    assert f"http://127.0.0.1:{ui_port}" in first.output
    assert f"http://127.0.0.1:{api_port}/api/v1/docs" in first.output
    response = first.login("admin@example.com", passwords[0])
    assert response.status_code == 200, response.text
    assert "demo workspace 'Acme Demo' (slug acme-demo, small" in first.output
    truth = json.loads((data_dir / "demo" / "acme-demo.truth.json").read_text())
    assert "Loaded the demo workspace's warehouse" in first.output  # dashboards have data from the start
    assert (data_dir / "warehouse" / truth["tenant"]["id"] / "CURRENT").exists()
    rep = next(user for user in truth["users"] if user["role"] == "rep")
    response = first.login(rep["email"], passwords[1], tenant="acme-demo")
    assert response.status_code == 200, response.text
    token = response.json()["data"]["accessToken"]
    contacts = httpx.get(
        f"{first.api}/api/v1/contacts", headers={"Authorization": f"Bearer {token}"}, params={"limit": 5}, timeout=30
    )
    assert contacts.status_code == 200, contacts.text
    assert {c["ownerId"] for c in contacts.json()["data"]} == {rep["id"]}
    pids = first.descendants()
    assert len(pids) >= 5  # API, UI, worker, postgres, redis-server

    assert first.interrupt() == 0, first.output
    assert not wait_gone(pids), f"left running: {wait_gone(pids)}\n{first.output}"
    assert not processes_of(data_dir)
    assert not (data_dir / "runtime.json").exists()
    assert passwords[0] not in (data_dir / "secrets.json").read_text()

    second = Up(data_dir, api_port, ui_port)
    ups.append(second)
    second.wait_ready()
    assert not PASSWORD_LINE.search(second.output), second.output
    assert "demo workspace" not in second.output  # the demo is loaded on the first run only
    response = second.login("admin@example.com", passwords[0])
    assert response.status_code == 200, response.text
    assert second.login(rep["email"], passwords[1], tenant="acme-demo").status_code == 200
    pids = second.descendants()
    assert second.interrupt() == 0, second.output
    assert not wait_gone(pids), second.output
    assert not processes_of(data_dir)


def test_up_refuses_a_busy_api_port_before_starting_anything(data_dir: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [clientforge(), "up", "--api-port", str(port), "--ui-port", str(free_port())],
            env=user_env(data_dir),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"port {port} is in use" in lines[0] and "--api-port" in lines[0]
    assert not (data_dir / "pgdata").exists() and not (data_dir / "redis").exists()
    assert not processes_of(data_dir)


@pytest.mark.parametrize("command", [["status"], ["migrate"]])
def test_unreachable_database_url_is_one_line_without_password(data_dir: Path, command: list[str]) -> None:
    env = user_env(data_dir, DATABASE_URL="postgresql://nobody:pw@127.0.0.1:1/x", REDIS_URL=os.environ["REDIS_URL"])
    result = subprocess.run([clientforge(), *command], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "cannot reach PostgreSQL at DATABASE_URL=postgresql://nobody:***@127.0.0.1:1/x" in lines[0]
    assert "pw" not in result.stderr
    assert "pw" not in result.stdout.replace(str(data_dir), "")  # the random temp path may hold "pw"
    assert "Traceback" not in result.stderr
