"""Scheduled reports by email: the `reports.send_scheduled` job runs a schedule's report as the schedule's creator,
exports it in the schedule's format and sends one message with the file attached to its recipients over SMTP
(settings SMTP_HOST, SMTP_PORT, SMTP_USERNAME/SMTP_PASSWORD, SMTP_STARTTLS, SMTP_FROM; standard library only).

What a run leaves on the schedule: `last_run_at`, `last_status` (succeeded, retrying, failed), `last_error` (why,
in words) and the next run. A creator who was deactivated, lost `reports:schedule` or can no longer read the
report fails the schedule and switches it off (nobody's data is mailed under a role that no longer allows it);
a mail server or warehouse that is not answering is retried by the job, and recorded.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any
from uuid import UUID

from sqlalchemy import select

from core.actor import Actor
from core.analytics import service as analytics
from core.analytics.models import Report, ReportSchedule
from core.auth import service as auth
from core.config import get_settings
from core.db import unit_of_work
from core.errors import AuthenticationFailed, DomainError, NotFound, PermissionDenied, ValidationFailed
from core.jobs.registry import JobContext, get_handler
from etl.reports import service as reports

log = logging.getLogger(__name__)

SMTP_TIMEOUT_SECONDS = 30


class MailNotConfigured(RuntimeError):
    """No SMTP_HOST: nothing can be sent (the schedule records why)."""


class _ScheduleFailed(Exception):  # noqa: N818 - a failure of the schedule itself: recorded, not retried
    def __init__(self, reason: str, *, deactivate: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.deactivate = deactivate


def compose(
    *, recipients: list[str], subject: str, body: str, attachment: reports.ReportFile, sender: str | None = None
) -> EmailMessage:
    """One message to all recipients with the report file attached."""
    message = EmailMessage()
    message["From"] = sender or get_settings().smtp_from
    message["To"] = ", ".join(recipients)
    message["Subject"] = " ".join(subject.split())  # one line, whatever a report's name holds
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="clientforge")
    message.set_content(body)
    maintype, _, subtype = attachment.media_type.split(";")[0].partition("/")
    message.add_attachment(attachment.content, maintype=maintype, subtype=subtype, filename=attachment.filename)
    return message


def send(message: EmailMessage) -> dict[str, Any]:
    """Hand the message to the SMTP server; returns the recipients it refused (when it accepted some).

    Raises MailNotConfigured without SMTP_HOST, and smtplib's errors (or OSError) when the server does not
    take the message."""
    settings = get_settings()
    if not settings.smtp_host:
        raise MailNotConfigured("Outgoing mail is not configured: set SMTP_HOST (and SMTP_PORT, SMTP_FROM)")
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT_SECONDS) as smtp:
        smtp.ehlo()
        if settings.smtp_starttls:
            smtp.starttls(context=ssl.create_default_context())
            smtp.ehlo()
        if settings.smtp_username:
            password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
            smtp.login(settings.smtp_username, password)
        return dict(smtp.send_message(message))


@dataclass(frozen=True)
class _Due:
    schedule_id: UUID
    report_id: UUID
    report_name: str
    creator_id: UUID | None
    recipients: list[str]
    file_format: str
    subject: str | None
    frequency: str
    time_of_day: str
    timezone: str


def _load(tenant_id: UUID, schedule_id: UUID) -> _Due | None:
    with unit_of_work(Actor.system(tenant_id)) as session:
        row = session.execute(
            select(ReportSchedule, Report.name)
            .join(Report, Report.id == ReportSchedule.report_id)
            .where(
                ReportSchedule.tenant_id == tenant_id,
                ReportSchedule.id == schedule_id,
                ReportSchedule.deleted_at.is_(None),
                ReportSchedule.is_active.is_(True),
            )
        ).first()
        if row is None:
            return None
        schedule, name = row
        return _Due(
            schedule.id,
            schedule.report_id,
            name,
            schedule.created_by,
            list(schedule.recipients),
            schedule.format,
            schedule.subject,
            schedule.frequency,
            schedule.time_of_day,
            schedule.timezone,
        )


def _creator(tenant_id: UUID, due: _Due) -> Actor:
    """The schedule's creator as they are now; _ScheduleFailed when they can no longer send it."""
    if due.creator_id is None:
        raise _ScheduleFailed("The user who created this schedule no longer exists; it was switched off")
    try:
        with unit_of_work(tenant_id=tenant_id) as session:
            creator = auth.load_actor(session, tenant_id=tenant_id, user_id=due.creator_id)
    except AuthenticationFailed:
        raise _ScheduleFailed("The user who created this schedule is no longer active; it was switched off") from None
    if not creator.can("reports", "schedule"):
        raise _ScheduleFailed(
            "The user who created this schedule no longer has the reports:schedule permission; it was switched off"
        )
    return creator


def _body(run: reports.ReportRun, due: _Due, creator: Actor, attachment: reports.ReportFile) -> str:
    result = run.result
    rows = f"{result.frame.height:,}" + (" (more matched: the first ones are attached)" if result.truncated else "")
    lines = [
        run.name,
        *([run.description] if run.description else []),
        "",
        f"Filters: {'; '.join(run.filters) if run.filters else 'none'}",
        f"Rows: {rows}",
        f"Generated: {result.generated_at:%Y-%m-%d %H:%M} UTC (dates in {result.tz})",
        f"Attached: {attachment.filename}",
        "",
        f"Sent by ClientForge: a {due.frequency} schedule at {due.time_of_day} ({due.timezone})"
        f" set up by {creator.email or 'a user'}.",
    ]
    return "\n".join(lines) + "\n"


def _record(
    ctx: JobContext,
    due: _Due,
    due_at: datetime,
    *,
    status: str,
    error: str | None = None,
    deactivate: bool = False,
    sent: bool = False,
) -> None:
    """What the attempt did, on the schedule, with its next run (missed runs are not caught up)."""
    now = datetime.now(UTC)
    with unit_of_work(Actor.system(ctx.tenant_id)) as session:
        schedule = session.scalar(
            select(ReportSchedule).where(
                ReportSchedule.tenant_id == ctx.tenant_id, ReportSchedule.id == due.schedule_id
            )
        )
        if schedule is None:
            return
        schedule.last_run_at = now
        schedule.last_status = status
        schedule.last_error = error[:2000] if error else None
        if deactivate:
            schedule.is_active = False
        schedule.next_run_at = analytics.schedule_next_run(schedule, max(now, due_at))
        if sent:
            ctx.save(session, checkpoint={"sent": due_at.isoformat()})


def send_scheduled(ctx: JobContext) -> dict[str, Any]:
    """The `reports.send_scheduled` job: params `schedule_id` and `due_at` (the run it stands for)."""
    schedule_id = UUID(str(ctx.params["schedule_id"]))
    due_at = datetime.fromisoformat(str(ctx.params["due_at"]))
    if (ctx.checkpoint or {}).get("sent"):
        return {"status": "succeeded", "note": "already sent"}
    due = _load(ctx.tenant_id, schedule_id)
    if due is None:
        return {"status": "skipped", "reason": "the schedule was deleted or switched off"}
    try:
        creator = _creator(ctx.tenant_id, due)
        try:
            with unit_of_work(creator) as session:
                run = reports.run_saved(session, creator, due.report_id)
                attachment = reports.to_file(run, due.file_format)
        except (NotFound, PermissionDenied) as exc:
            raise _ScheduleFailed(
                f"The user who created this schedule can no longer run its report ({exc.message}); it was switched off"
            ) from None
        except ValidationFailed as exc:
            raise _ScheduleFailed(f"The report cannot run: {exc.message}", deactivate=False) from None
        subject = due.subject or f"{due.report_name} ({run.result.today.isoformat()})"
        message = compose(
            recipients=due.recipients, subject=subject, body=_body(run, due, creator, attachment), attachment=attachment
        )
        refused = send(message)
    except _ScheduleFailed as failed:
        log.warning("report schedule %s failed: %s", schedule_id, failed.reason)
        _record(ctx, due, due_at, status="failed", error=failed.reason, deactivate=failed.deactivate)
        return {"status": "failed", "reason": failed.reason}
    except MailNotConfigured as exc:
        _record(ctx, due, due_at, status="failed", error=str(exc))
        return {"status": "failed", "reason": str(exc)}
    except Exception as exc:  # the mail server, the warehouse, or a fault of ours: retried, and recorded
        spec = get_handler(ctx.kind)
        final = spec is None or spec.retry_in(ctx.attempt) is None
        reason = _reason(exc)
        _record(ctx, due, due_at, status="failed" if final else "retrying", error=reason)
        raise
    note = f"refused by the mail server: {', '.join(sorted(refused))}" if refused else None
    _record(ctx, due, due_at, status="succeeded", error=note, sent=True)
    return {"status": "succeeded", "recipients": len(due.recipients) - len(refused), "file": attachment.filename}


def _reason(exc: BaseException) -> str:
    if isinstance(exc, DomainError):
        return exc.message
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        return f"The mail server refused the message: {exc.smtp_code} {text}"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return f"The mail server refused every recipient: {', '.join(sorted(exc.recipients))}"
    if isinstance(exc, smtplib.SMTPException | OSError):
        return f"Could not send through the mail server: {type(exc).__name__}: {exc}"
    return "The report could not be produced because of an error on our side; the worker's log has the details"
