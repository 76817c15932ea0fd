"""Reports run for an actor on a real warehouse (record scope, overrides), and scheduled reports end to end: the
periodic task claims due schedules, the worker runs each as its creator and mails the file to a real local SMTP
server (aiosmtpd on a free port); the attachment is read back with openpyxl / pypdf; failures are recorded."""

from __future__ import annotations

import csv
import dataclasses
import email
import io
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any
from uuid import UUID

import openpyxl
import pypdf
import pytest
from aiosmtpd.controller import Controller

from core.analytics import service as analytics
from core.analytics.schemas import ReportCreate, ReportOverrides, ScheduleCreate
from core.config import reset_settings
from core.db import unit_of_work
from core.deals import service as deals
from core.deals.schemas import DealCreate
from core.errors import Conflict, PermissionDenied
from core.jobs import queue, registry
from core.rbac import service as rbac
from core.rbac.schemas import RoleCreate
from etl import pipeline
from etl.reports import service as reports
from tests.core.conftest import owner_execute, owner_rows
from tests.factories import TenantWorld, create_tenant, quiesce

DRAIN_SECONDS = 10
SPEC = {
    "entity": "deals",
    "columns": ["name", "owner", "amount"],
    "sort": [{"field": "name"}],
}


# A real SMTP server --------------------------------------------------------------------------------------------


@dataclass
class Inbox:
    """What the SMTP server received; `refuse` answers the next DATA commands with a temporary failure."""

    received: list[Any] = field(default_factory=list)
    refuse: int = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook
        if self.refuse:
            self.refuse -= 1
            return "451 4.3.0 Mailbox busy, try again later"
        self.received.append(envelope)
        return "250 OK"

    def messages(self) -> list[EmailMessage]:
        return [email.message_from_bytes(e.content, policy=default_policy) for e in self.received]  # type: ignore[misc]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    for key, value in {
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(port),
        "SMTP_STARTTLS": "false",
        "SMTP_FROM": "ClientForge Reports <reports@clientforge.test>",
    }.items():
        monkeypatch.setenv(key, value)
    reset_settings()
    try:
        yield inbox
    finally:
        controller.stop()
        monkeypatch.undo()
        reset_settings()


@pytest.fixture
def report_worker(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The scheduled-report task and job in this process, retrying after a fraction of a second. Warehouse loads
    that changes ask for wait for the longest debounce window, so that draining the queue does not wait for them."""
    import etl.tasks

    monkeypatch.setenv("CLIENTFORGE_ETL_DEBOUNCE", "50")
    reset_settings()

    spec = registry.get_handler(etl.tasks.SEND_REPORT)
    assert spec is not None
    monkeypatch.setitem(registry._handlers, spec.kind, dataclasses.replace(spec, backoff_seconds=0.2))
    return etl.tasks


# A tenant with two reps' deals and a built warehouse ------------------------------------------------------------


@dataclass
class World:
    tenant: TenantWorld
    reporter: UUID  # may read, export and schedule reports; sees own records only
    other_rep: UUID
    report_id: UUID


@pytest.fixture
def world() -> Iterator[World]:
    tenant = create_tenant()
    admin = tenant.admin
    with unit_of_work(admin) as session:
        rbac.create(
            session,
            admin,
            RoleCreate(
                name="reporter",
                record_scope="own",
                permissions=["reports:read", "reports:export", "reports:schedule", "deals:read"],
            ),
        )
    reporter, other = tenant.add_user("reporter"), tenant.add_user("rep")
    with unit_of_work(admin) as session:
        for name, owner, amount in (
            ("Alpha", reporter, "1200.50"),
            ("Bravo", reporter, "800"),
            ("Zulu", other, "5000"),
        ):
            deals.create(session, admin, DealCreate(name=name, amount=Decimal(amount), owner_id=owner))
        report = analytics.create_report(
            session, admin, ReportCreate(name="Deal list", spec=SPEC, description="Every deal", is_public=True)
        )
    pipeline.run(tenant.tenant_id, full=True)
    yield World(tenant, reporter, other, report.id)
    quiesce(tenant.tenant_id)


# Running for an actor -----------------------------------------------------------------------------------------


def _names(run: reports.ReportRun) -> list[str]:
    return list(run.result.frame["name"])


def test_a_report_runs_within_the_actors_record_scope(world: World) -> None:
    reporter = world.tenant.actor(world.reporter)
    with unit_of_work(world.tenant.admin) as session:
        assert _names(reports.run_saved(session, world.tenant.admin, world.report_id)) == ["Alpha", "Bravo", "Zulu"]
    with unit_of_work(reporter) as session:
        run = reports.run_saved(session, reporter, world.report_id)
        assert _names(run) == ["Alpha", "Bravo"] and "Your records only" in run.filters
        standard = reports.run_standard(session, reporter, "pipeline_by_stage")
        assert standard.result.frame["deals"].sum() == 2 and standard.result.frame["amount"].sum() == Decimal("2000.50")


def test_overrides_narrow_a_report_and_never_widen_it(world: World) -> None:
    admin = world.tenant.admin
    with unit_of_work(admin) as session:
        only_other = ReportOverrides(owner_ids=[world.other_rep])
        assert _names(reports.run_saved(session, admin, world.report_id, only_other)) == ["Zulu"]
        future = ReportOverrides(date_from=datetime.now(UTC).date() + timedelta(days=30))
        assert _names(reports.run_saved(session, admin, world.report_id, future)) == []
        this_year = reports.run_saved(session, admin, world.report_id, ReportOverrides(period="this_year"))
        assert len(_names(this_year)) == 3 and any(line.startswith("Created: this year") for line in this_year.filters)
    reporter = world.tenant.actor(world.reporter)
    with unit_of_work(reporter) as session:
        assert _names(reports.run_saved(session, reporter, world.report_id, only_other)) == []  # scope still holds


def test_a_manager_sees_the_team_and_a_team_override_narrows_to_it(world: World) -> None:
    from core.users import service as users
    from core.users.schemas import TeamCreate

    tenant, admin = world.tenant, world.tenant.admin
    with unit_of_work(admin) as session:
        team = users.create_team(session, admin, TeamCreate(name="North"))
        team_id = team.id
    owner_execute("UPDATE users SET team_id = :team WHERE id = :id", team=team_id, id=world.other_rep)
    manager = tenant.actor(tenant.add_user("manager", team_id=team_id))
    pipeline.run(tenant.tenant_id)
    with unit_of_work(manager) as session:
        run = reports.run_saved(session, manager, world.report_id)
        assert _names(run) == ["Zulu"] and "Records of your team only" in run.filters
    with unit_of_work(admin) as session:
        assert _names(reports.run_saved(session, admin, world.report_id, ReportOverrides(team_id=team_id))) == ["Zulu"]


def test_exports_need_reports_export_and_read_back(world: World) -> None:
    admin = world.tenant.admin
    with unit_of_work(admin) as session:
        found = reports.export_saved(session, admin, world.report_id, "csv")
    assert found.filename.startswith("deal-list-") and found.media_type.startswith("text/csv")
    rows = list(csv.reader(io.StringIO(found.content.decode("utf-8-sig"))))
    assert rows[0] == ["Deal", "Owner", "Amount"] and [r[0] for r in rows[1:]] == ["Alpha", "Bravo", "Zulu"]
    rep = world.tenant.actor(world.other_rep)
    with pytest.raises(PermissionDenied), unit_of_work(rep) as session:
        reports.export_saved(session, rep, world.report_id, "xlsx")


def test_a_tenant_without_a_warehouse_is_told_to_wait(tenant: TenantWorld) -> None:
    with pytest.raises(Conflict, match="not built yet") as caught, unit_of_work(tenant.admin) as session:
        reports.run_standard(session, tenant.admin, "pipeline_by_stage")
    assert caught.value.code == "WAREHOUSE_NOT_BUILT"


# Scheduled reports ---------------------------------------------------------------------------------------------


def _schedule(world: World, creator: UUID, **values: Any) -> UUID:
    actor = world.tenant.actor(creator)
    data = {
        "frequency": "weekly",
        "timeOfDay": "07:30",
        "dayOfWeek": 1,
        "timezone": "Europe/Paris",
        "recipients": ["boss@example.com", "team@example.com"],
        "format": "xlsx",
        "subject": "Weekly deal list",
    } | values
    with unit_of_work(actor) as session:
        schedule = analytics.create_schedule(session, actor, world.report_id, ScheduleCreate.model_validate(data))
        schedule_id = schedule.id
    # Due a minute ago.
    owner_execute(
        "UPDATE report_schedules SET next_run_at = now() - interval '1 minute' WHERE id = :id", id=schedule_id
    )
    return schedule_id


def _state(schedule_id: UUID) -> Any:
    return owner_rows(
        "SELECT is_active, next_run_at, last_run_at, last_status, last_error FROM report_schedules WHERE id = :id",
        id=schedule_id,
    )[0]


def _jobs(world: World) -> list[Any]:
    return owner_rows(
        "SELECT status, attempts, error, result FROM jobs WHERE tenant_id = :t AND kind = 'reports.send_scheduled'",
        t=world.tenant.tenant_id,
    )


def _attachment(message: EmailMessage) -> tuple[str, bytes]:
    parts = list(message.iter_attachments())
    assert len(parts) == 1
    return parts[0].get_filename(), parts[0].get_content()


def test_a_due_schedule_is_mailed_once_as_its_creator_with_the_file_attached(
    world: World, smtp: Inbox, report_worker: Any
) -> None:
    schedule_id = _schedule(world, world.reporter)
    stamp = int(time.time())
    assert report_worker.report_schedules(stamp) >= 1
    report_worker.report_schedules(stamp + 60)  # another worker's minute: the schedule is claimed already
    assert len(_jobs(world)) == 1
    queue.drain(DRAIN_SECONDS)
    assert len(smtp.received) == 1
    envelope, message = smtp.received[0], smtp.messages()[0]
    assert sorted(envelope.rcpt_tos) == ["boss@example.com", "team@example.com"]
    assert envelope.mail_from == "reports@clientforge.test"
    assert message["Subject"] == "Weekly deal list"
    assert "Your records only" in message.get_body(("plain",)).get_content()
    filename, content = _attachment(message)
    assert filename.startswith("deal-list-") and filename.endswith(".xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(content)).worksheets[0]
    cells = [str(c) for row in sheet.iter_rows(values_only=True) for c in row if c is not None]
    assert "Alpha" in cells and "Bravo" in cells and "Zulu" not in cells  # the creator's records only
    workbook_text = " ".join(
        str(c)
        for ws in openpyxl.load_workbook(io.BytesIO(content)).worksheets
        for r in ws.iter_rows(values_only=True)
        for c in r
    )
    assert "Your records only" in workbook_text and str(world.reporter) not in workbook_text
    state = _state(schedule_id)
    assert (state.is_active, state.last_status, state.last_error) == (True, "succeeded", None)
    assert state.next_run_at > datetime.now(UTC)
    with unit_of_work(world.tenant.admin) as session:
        schedule = analytics.get_schedule(session, world.tenant.admin, world.report_id, schedule_id)
        assert schedule.next_run_at == analytics.schedule_next_run(schedule, state.last_run_at)
    assert [(j.status, j.attempts) for j in _jobs(world)] == [("succeeded", 1)]


def test_a_pdf_schedule_sends_a_readable_pdf(world: World, smtp: Inbox, report_worker: Any) -> None:
    _schedule(world, world.tenant.admin_id, format="pdf", subject=None, recipients=["cfo@example.com"])
    report_worker.report_schedules(int(time.time()))
    queue.drain(DRAIN_SECONDS)
    message = smtp.messages()[0]
    assert message["Subject"].startswith("Deal list (")  # default subject: the report's name and the day
    filename, content = _attachment(message)
    text = "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(content)).pages)
    assert filename.endswith(".pdf") and "Deal list" in text and "Zulu" in text


def test_an_smtp_failure_is_retried_and_recorded(world: World, smtp: Inbox, report_worker: Any) -> None:
    schedule_id = _schedule(world, world.reporter, format="csv")
    smtp.refuse = 1  # the first attempt is refused, the retry goes through
    report_worker.report_schedules(int(time.time()))
    queue.drain(DRAIN_SECONDS)
    assert len(smtp.received) == 1
    assert [(j.status, j.attempts) for j in _jobs(world)] == [("succeeded", 2)]
    assert _state(schedule_id).last_status == "succeeded"

    smtp.refuse = 99  # refused every time: the job gives up and the schedule says why
    owner_execute(
        "UPDATE report_schedules SET next_run_at = now() - interval '1 minute' WHERE id = :id", id=schedule_id
    )
    report_worker.report_schedules(int(time.time()))
    queue.drain(DRAIN_SECONDS)
    state = _state(schedule_id)
    assert state.last_status == "failed" and "451" in state.last_error and "Mailbox busy" in state.last_error
    assert state.is_active and state.next_run_at > datetime.now(UTC)  # it tries again at its next run
    assert sorted((j.status, j.attempts) for j in _jobs(world)) == [("failed", 3), ("succeeded", 2)]


@pytest.mark.parametrize("change", ["deactivated", "lost_permission"])
def test_a_creator_who_can_no_longer_schedule_fails_the_schedule(
    world: World, smtp: Inbox, report_worker: Any, change: str
) -> None:
    schedule_id = _schedule(world, world.reporter)
    if change == "deactivated":
        owner_execute("UPDATE users SET is_active = false WHERE id = :id", id=world.reporter)
        reason = "no longer active"
    else:
        owner_execute(
            "UPDATE users SET role_id = (SELECT id FROM roles WHERE tenant_id = :t AND name = 'rep') WHERE id = :id",
            t=world.tenant.tenant_id,
            id=world.reporter,
        )
        reason = "no longer has the reports:schedule permission"
    report_worker.report_schedules(int(time.time()))
    queue.drain(DRAIN_SECONDS)
    assert smtp.received == []
    state = _state(schedule_id)
    assert (state.is_active, state.last_status) == (False, "failed") and reason in state.last_error


def test_without_an_smtp_server_configured_the_schedule_says_so(world: World, report_worker: Any) -> None:
    schedule_id = _schedule(world, world.tenant.admin_id)
    report_worker.report_schedules(int(time.time()))
    queue.drain(DRAIN_SECONDS)
    state = _state(schedule_id)
    assert state.last_status == "failed" and "SMTP_HOST" in state.last_error
