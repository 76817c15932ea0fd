"""`clientforge up`: one command that brings up everything on one machine, and takes it down again cleanly.

Order: free ports are checked first (nothing heavy has started, so a busy port costs nothing); then the
embedded PostgreSQL and Redis of the data dir start (unless DATABASE_URL / REDIS_URL point elsewhere), the
schema is migrated, an empty database gets its first workspace and admin (and, unless `--no-demo`, the demo
workspace `acme-demo` with generated sales history), and three children start with the same environment:
the API (uvicorn), the UI (streamlit) and the job worker. Each child is the leader of its own process group,
so a Ctrl-C in the terminal reaches only the supervisor, which then stops the children in order (SIGTERM,
then SIGKILL after a grace period) and the embedded servers after them.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from app.console import password_box
from app.runtime import (
    CliError,
    Services,
    connect_services,
    ensure_port_free,
    one_line,
    read_runtime,
    remove_runtime,
)
from app.runtime import write_runtime as _write_runtime

UI_ENTRY = Path(__file__).resolve().parent / "main.py"
UI_ADDRESS = "127.0.0.1"
API_DOCS_PATH = "/api/v1/docs"
FIRST_TENANT = {"name": "My Company", "slug": "default", "plan": "professional"}
STOP_GRACE_SECONDS = 15.0
READY_TIMEOUT_SECONDS = 120.0


def api_command(host: str, port: int) -> list[str]:
    return [sys.executable, "-m", "uvicorn", "api.main:app", "--host", host, "--port", str(port)]


def ui_command(port: int) -> list[str]:
    from core.config import get_settings

    upload_mb = max(1, -(-get_settings().import_max_bytes // (1024 * 1024)))  # the uploader's cap = the import limit
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(UI_ENTRY),
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--server.address",
        UI_ADDRESS,
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
        "--client.showErrorDetails",
        "none",
        "--client.toolbarMode",
        "minimal",
        "--server.maxUploadSize",
        str(upload_mb),
    ]


def worker_command() -> list[str]:
    return [sys.executable, "-m", "app.cli", "worker"]


def _say(text: str = "") -> None:
    print(text, flush=True)


def _http_ok(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (our own loopback URL)
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _parent_death_signal() -> Callable[[], None] | None:
    """Linux: a callable for the forked child that asks the kernel to SIGTERM it when the supervisor dies
    without stopping it (kill -9, OOM), so no orphaned API/UI/worker keeps the ports. libc is loaded here,
    in the parent: the child only makes one system call between fork and exec."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1

    def set_signal() -> None:
        prctl(pr_set_pdeathsig, signal.SIGTERM)

    return set_signal


class _Stop(Exception):
    """Raised by the signal handler while starting up, so the `finally` blocks tear down what exists."""


@dataclass
class Child:
    name: str
    argv: list[str]
    process: subprocess.Popen[bytes] | None = None

    def start(self, env: dict[str, str]) -> None:
        # process_group=0: the child leads its own group, out of the terminal's foreground group.
        self.process = subprocess.Popen(
            self.argv, env=env, stdin=subprocess.DEVNULL, process_group=0, preexec_fn=_parent_death_signal()
        )

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def exited(self) -> int | None:
        return self.process.poll() if self.process else None

    def signal_group(self, sig: int) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, sig)


def _report_death(child: Child) -> None:
    print(
        f"error: the {child.name} process exited unexpectedly (exit code {child.exited()}); "
        "stopping everything. Its output above says why.",
        file=sys.stderr,
        flush=True,
    )


class Supervisor:
    def __init__(
        self,
        *,
        api_port: int | None,
        ui_port: int | None,
        data_dir: Path | None,
        admin_email: str | None,
        demo: bool,
        demo_scale: str = "medium",
    ) -> None:
        self.api_port_option = api_port
        self.ui_port_option = ui_port
        self.data_dir_option = data_dir
        self.admin_email_option = admin_email
        self.demo = demo
        self.demo_scale = demo_scale
        self.children: list[Child] = []
        self.services: Services | None = None
        self.stop_requested = threading.Event()
        self._raise_on_signal = True
        self._runtime: dict[str, object] = {}

    # Signals ----------------------------------------------------------------------------------------------

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        first = not self.stop_requested.is_set()
        self.stop_requested.set()
        if first:
            _say(f"\n{signal.Signals(signum).name} received: stopping ClientForge...")
        if self._raise_on_signal:
            self._raise_on_signal = False
            raise _Stop()

    def _install_signal_handlers(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, self._on_signal)

    # Steps ------------------------------------------------------------------------------------------------

    def _prepare_environment(self) -> tuple[str, int, int, Path]:
        from core.config import get_settings, reset_settings

        if self.data_dir_option is not None:
            os.environ["CLIENTFORGE_DATA_DIR"] = str(self.data_dir_option.expanduser().resolve())
            reset_settings()
        settings = get_settings()
        data_dir = settings.data_path
        # Children resolve the same data dir whatever their working directory.
        os.environ["CLIENTFORGE_DATA_DIR"] = str(data_dir)
        api_port = self.api_port_option or settings.api_port
        ui_port = self.ui_port_option or settings.ui_port
        if api_port == ui_port:
            raise CliError(f"the API and the UI cannot share port {api_port}: pass different --api-port and --ui-port")
        ensure_port_free(settings.api_host, api_port, "--api-port")
        ensure_port_free(UI_ADDRESS, ui_port, "--ui-port")
        running = read_runtime(data_dir)
        if running is not None:
            raise CliError(
                f"ClientForge is already running from {data_dir} (pid {running['pid']}): "
                "stop it first, or pass another --data-dir"
            )
        data_dir.mkdir(parents=True, exist_ok=True)
        os.environ["CLIENTFORGE_API_PORT"] = str(api_port)
        os.environ["CLIENTFORGE_UI_PORT"] = str(ui_port)
        reset_settings()
        settings = get_settings()
        settings.secret("jwt_secret")  # create secrets.json once here, before several children race for it
        return settings.api_host, api_port, ui_port, data_dir

    def _write_runtime(self, **changes: object) -> None:
        self._runtime.update(changes)
        _write_runtime(Path(str(self._runtime["data_dir"])), self._runtime)

    def _first_run(self) -> None:
        from core.config import get_settings
        from core.db import unit_of_work
        from core.tenants import service as tenants
        from core.tenants.schemas import TenantCreate

        email = self.admin_email_option or get_settings().first_admin_email
        with unit_of_work() as session:
            if tenants.count_tenants(session) > 0:
                return
            created = tenants.create(session, TenantCreate(**FIRST_TENANT, admin_email=email))
            workspace, admin_email = created.tenant.slug, created.admin.email
            password = created.admin_password
        _say(f"Created the first workspace '{FIRST_TENANT['name']}' and its admin.")
        if password:
            _say(password_box(workspace=workspace, email=admin_email, password=password))
        if self.demo:
            self._load_demo()

    def _load_demo(self) -> None:
        """The demo workspace, on the first run only. Optional: a failure is reported and `up` goes on (the seed
        is one transaction, so nothing half-loaded stays); Ctrl-C stops `up` as anywhere else."""
        from app.cli import demo_credentials, run_seed, seed_summary

        _say(f"Loading the demo workspace ({self.demo_scale}; `clientforge up --no-demo` skips this)...")
        try:
            result = run_seed(scale=self.demo_scale)
        except (_Stop, KeyboardInterrupt):
            raise
        except Exception as exc:
            _say(f"warning: the demo workspace was not loaded ({one_line(exc)}); load it with `clientforge seed`")
            return
        _say(seed_summary(result))
        if result.password:
            _say(demo_credentials(result))
        try:  # its dashboards need the warehouse now, not at the worker's next periodic load
            from etl import pipeline

            load = pipeline.run(result.tenant_id, full=True, trigger="manual")
            _say(f"Loaded the demo workspace's warehouse ({load.rows_out:,} rows in {load.seconds:.1f} s).")
        except (_Stop, KeyboardInterrupt):
            raise
        except Exception as exc:
            _say(f"warning: the demo warehouse was not loaded ({one_line(exc)}); the worker loads it within 5 minutes")

    def _wait_ready(self, api_url: str, ui_url: str) -> bool:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        pending = {"API": f"{api_url}/health", "UI": f"{ui_url}/_stcore/health"}
        while pending and time.monotonic() < deadline:
            if self.stop_requested.is_set() or self._dead_child() is not None:
                return False
            for name, url in list(pending.items()):
                if _http_ok(url):
                    del pending[name]
            if pending:
                self.stop_requested.wait(0.3)
        if pending:
            _say(f"warning: {' and '.join(pending)} not answering after {READY_TIMEOUT_SECONDS:.0f} s; still waiting")
        return True

    def _dead_child(self) -> Child | None:
        for child in self.children:
            if child.exited() is not None:
                return child
        return None

    def _supervise(self) -> int:
        while not self.stop_requested.wait(0.5):
            dead = self._dead_child()
            if dead is not None:
                _report_death(dead)
                return 1
        return 0

    def _stop_children(self) -> None:
        alive = [c for c in self.children if c.process is not None and c.exited() is None]
        for child in alive:
            child.signal_group(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for child in alive:
            assert child.process is not None
            try:
                child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _say(f"the {child.name} process did not stop within {STOP_GRACE_SECONDS:.0f} s: killing it")
                child.signal_group(signal.SIGKILL)
                child.process.wait(timeout=5)
        for child in self.children:  # anything its group left behind
            child.signal_group(signal.SIGKILL)

    # The whole run -----------------------------------------------------------------------------------------

    def run(self) -> int:
        from core.database_admin import migrate

        self._install_signal_handlers()
        data_dir: Path | None = None
        status = 0
        try:
            api_host, api_port, ui_port, data_dir = self._prepare_environment()
            api_url = f"http://{'127.0.0.1' if api_host in ('0.0.0.0', '') else api_host}:{api_port}"
            ui_url = f"http://{UI_ADDRESS}:{ui_port}"
            _say(f"Starting ClientForge (data dir {data_dir})")
            self.services = connect_services(database=True, redis=True, adopt=True)
            services = self.services
            self._write_runtime(
                pid=os.getpid(),
                started_at=datetime.now(UTC).isoformat(),
                data_dir=str(data_dir),
                database_url=services.database_url if services.embedded_database else None,
                redis_url=services.redis_url if services.embedded_redis else None,
                postgres_pid=services.embedded.postgres_pid if services.embedded else None,
                redis_pid=services.embedded.redis_pid if services.embedded else None,
                api_port=api_port,
                ui_port=ui_port,
                api_url=api_url,
                ui_url=ui_url,
            )
            where_db = "embedded" if services.embedded_database else "DATABASE_URL"
            where_redis = "embedded" if services.embedded_redis else "REDIS_URL"
            _say(f"PostgreSQL {services.database_version} ({where_db}), Redis {services.redis_version} ({where_redis})")
            migrate()
            _say("Database schema is current.")
            self._first_run()
            if self.stop_requested.is_set():
                raise _Stop()
            self._raise_on_signal = False
            env = dict(os.environ)
            env.setdefault("PYTHONUNBUFFERED", "1")
            self.children = [
                Child("API", api_command(api_host, api_port)),
                Child("UI", ui_command(ui_port)),
                Child("worker", worker_command()),
            ]
            for child in self.children:
                if self.stop_requested.is_set():
                    break
                child.start(env)
            self._write_runtime(children={c.name: c.pid for c in self.children if c.pid})
            if not self.stop_requested.is_set() and self._wait_ready(api_url, ui_url):
                _say("")
                _say("ClientForge is running:")
                _say(f"  UI        {ui_url}")
                _say(f"  API       {api_url}/api/v1")
                _say(f"  API docs  {api_url}{API_DOCS_PATH}")
                _say("Press Ctrl-C to stop.")
            dead = self._dead_child()
            if dead is not None and not self.stop_requested.is_set():
                _report_death(dead)
                status = 1
            else:
                status = self._supervise()
        except _Stop:
            status = 0
        finally:
            self._raise_on_signal = False
            self._stop_children()
            if self.services is not None:
                self.services.stop()
            if data_dir is not None:
                remove_runtime(data_dir)
        if status == 0:
            _say("ClientForge stopped.")
        return status


def run(
    *,
    api_port: int | None = None,
    ui_port: int | None = None,
    data_dir: Path | None = None,
    admin_email: str | None = None,
    demo: bool = True,
    demo_scale: str = "medium",
) -> int:
    """Run until Ctrl-C / SIGTERM (exit status 0) or until a child dies (1)."""
    return Supervisor(
        api_port=api_port,
        ui_port=ui_port,
        data_dir=data_dir,
        admin_email=admin_email,
        demo=demo,
        demo_scale=demo_scale,
    ).run()
