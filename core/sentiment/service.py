"""Sentiment in the CRM: the label of each note and activity (read with `insights:read` and the record's own read
rules), one-click corrections (`notes:update` / `activities:update` on the record), an account's trend by
month, the tenant's model status, and the bulk writes of the worker (`insights:manage`).

Reading text and deciding labels is ai/nlp's job (`ai.nlp.sentiment`, `ai.nlp.sentiment_crm`); this module keeps
what they decide and what people correct.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

from pydantic_core import to_json
from sqlalchemy import Select, and_, case, func, or_, select, text
from sqlalchemy.orm import Session

from core.accounts import service as accounts
from core.activities import service as activities
from core.activities.models import Activity
from core.actor import Actor
from core.contacts.models import Contact
from core.deals.models import Deal
from core.errors import ValidationFailed
from core.forecasts.models import MlModel
from core.ids import new_id
from core.jobs import service as jobs
from core.jobs.models import Job
from core.notes import service as notes
from core.notes.models import Note
from core.sentiment.models import ENTITY_TYPES, LABELS, SentimentExample, TextSentiment
from core.sentiment.schemas import AccountTrend, MonthSentiment, SentimentRead

RESOURCE = "insights"
MODEL_TYPE = "sentiment"
OUT_OF_BOX = "out_of_box"
CORRECTION = "correction"  # model_version of a row a person labelled before any model read it
TRAIN_JOB = "sentiment.train"
RESCORE_JOB = "sentiment.rescore"
MAX_TEXT_CHARS = 5_000
OVERLAP_SECONDS = 60  # rows of transactions that committed after a pass had read past their timestamps
TREND_MONTHS = 12


def _field_error(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"{field} {message}", details=[{"field": field, "message": message}])


def normalise(value: Any) -> str:
    """The text as sentiment reads it: whitespace collapsed within lines, empty lines dropped, at most
    `MAX_TEXT_CHARS` (its hash says whether a record's text changed)."""
    raw = ("" if value is None else str(value)).replace("\x00", " ")
    lines = (" ".join(line.split()) for line in raw.splitlines())
    return "\n".join(line for line in lines if line)[:MAX_TEXT_CHARS]


def content_hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def activity_text(subject: str | None, body: str | None) -> str:
    """What an activity says: its subject, then its body (an email's or a call's notes)."""
    return normalise("\n".join(part for part in (subject, body) if part))


def _entity(entity_type: str) -> str:
    if entity_type not in ENTITY_TYPES:
        raise _field_error("entityType", f"must be one of {', '.join(ENTITY_TYPES)}")
    return entity_type


# Reading -------------------------------------------------------------------------------------------------------


def _readable_ids(session: Session, actor: Actor, entity_type: str, ids: Sequence[UUID]) -> list[UUID]:
    if not ids:
        return []
    if entity_type == "notes":
        actor.require("notes", "read")
        statement: Select[Any] = notes.readable(actor).with_only_columns(Note.id).where(Note.id.in_(ids))
    else:
        statement = actor.readable(Activity, "activities").with_only_columns(Activity.id).where(Activity.id.in_(ids))
    found = set(session.scalars(statement))
    return [i for i in ids if i in found]


def to_read(row: TextSentiment | None, entity_type: str, entity_id: UUID) -> SentimentRead:
    if row is None:
        return SentimentRead(entity_type=entity_type, entity_id=entity_id, label=None, pending=True)
    shown = row.corrected_label or row.label
    corrected = row.corrected_label is not None
    model_read = row.model_version != CORRECTION
    sentence = row.sentence or None
    if corrected:
        reason = f"{shown.title()}: corrected by your team"
    else:
        quote = (sentence or "")[:137] + ("..." if sentence and len(sentence) > 140 else "")
        reason = f"{shown.title()} ({float(row.confidence):.0%} sure): “{quote}”" if quote else shown.title()
    return SentimentRead(
        entity_type=row.entity_type,
        entity_id=row.entity_id,
        label=shown,
        model_label=row.label if model_read else None,
        corrected_label=row.corrected_label,
        score=float(row.score) if model_read else None,
        confidence=float(row.confidence) if model_read else None,
        probabilities={k: float(v) for k, v in (row.probabilities or {}).items()},
        sentence=sentence,
        model=row.model_version,
        computed_at=row.computed_at,
        pending=not model_read,
        reason=reason,
    )


def _rows(session: Session, actor: Actor, entity_type: str, ids: Sequence[UUID]) -> dict[UUID, TextSentiment]:
    if not ids:
        return {}
    found = session.scalars(
        select(TextSentiment).where(
            TextSentiment.tenant_id == actor.tenant_id,
            TextSentiment.entity_type == entity_type,
            TextSentiment.entity_id.in_(ids),
        )
    )
    return {row.entity_id: row for row in found}


def list_for(session: Session, actor: Actor, entity_type: str, ids: Sequence[UUID]) -> list[SentimentRead]:
    """The sentiment of each note or activity in `ids` that the actor may read (in the order asked; those it may
    not read are left out; `pending` for those the worker has not read yet)."""
    actor.require(RESOURCE, "read")
    entity_type = _entity(entity_type)
    readable = _readable_ids(session, actor, entity_type, list(dict.fromkeys(ids)))
    rows = _rows(session, actor, entity_type, readable)
    return [to_read(rows.get(i), entity_type, i) for i in readable]


def get_for(session: Session, actor: Actor, entity_type: str, entity_id: UUID) -> SentimentRead:
    """One note's or activity's sentiment; `NotFound` when the actor may not read the record."""
    actor.require(RESOURCE, "read")
    entity_type = _entity(entity_type)
    if entity_type == "notes":
        notes.get(session, actor, entity_id)
    else:
        activities.get(session, actor, entity_id)
    return to_read(_rows(session, actor, entity_type, [entity_id]).get(entity_id), entity_type, entity_id)


# Corrections ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Correction:
    sentiment: SentimentRead
    example_id: UUID
    train_job: Job | None


def _record_text(session: Session, actor: Actor, entity_type: str, entity_id: UUID) -> tuple[str, datetime]:
    if entity_type == "notes":
        note = notes.get(session, actor, entity_id)
        return normalise(note.body), note.created_at
    activity = activities.get(session, actor, entity_id)
    return activity_text(activity.subject, activity.body), activity.occurred_at


def correct(session: Session, actor: Actor, entity_type: str, entity_id: UUID, label: str) -> Correction:
    """A person's label for a note's or activity's text: it shows at once (and survives rescoring until the text
    changes), becomes one of the tenant's examples and queues the retraining of its classifier."""
    entity_type = _entity(entity_type)
    if label not in LABELS:
        raise _field_error("label", f"must be one of {', '.join(LABELS)}")
    actor.require(entity_type, "update")
    body, occurred_at = _record_text(session, actor, entity_type, entity_id)
    if not body:
        raise _field_error("text", "is empty: there is nothing to label")
    digest = content_hash(body)
    example = session.scalar(
        select(SentimentExample).where(
            SentimentExample.tenant_id == actor.tenant_id, SentimentExample.content_hash == digest
        )
    )
    if example is None:
        example = SentimentExample(
            id=new_id(),
            tenant_id=actor.tenant_id,
            text=body,
            label=label,
            content_hash=digest,
            entity_type=entity_type,
            entity_id=entity_id,
            created_by=actor.user_id,
        )
        session.add(example)
    elif example.label != label or example.entity_id != entity_id:
        example.label = label
        example.entity_type = entity_type
        example.entity_id = entity_id
        example.created_by = actor.user_id
    session.flush()
    row = _rows(session, actor, entity_type, [entity_id]).get(entity_id)
    if row is None:
        row = TextSentiment(
            id=new_id(),
            tenant_id=actor.tenant_id,
            entity_type=entity_type,
            entity_id=entity_id,
            label=label,
            score={"negative": -1, "neutral": 0, "positive": 1}[label],
            confidence=1,
            probabilities={},
            sentence="",
            model_version=CORRECTION,
            content_hash=digest,
            occurred_at=occurred_at,
        )
        session.add(row)
    elif row.content_hash != digest:  # the worker has not read the new text yet: it will, keeping the label
        row.content_hash = digest
        row.model_version = CORRECTION
    row.corrected_label = label
    row.example_id = example.id
    session.flush()
    return Correction(to_read(row, entity_type, entity_id), example.id, queue_training(session, actor))


def list_examples(session: Session, actor: Actor) -> list[tuple[str, str]]:
    """The tenant's labelled texts, (text, label), oldest first (the training set)."""
    actor.require(RESOURCE, "read")
    rows = session.execute(
        select(SentimentExample.text, SentimentExample.label)
        .where(SentimentExample.tenant_id == actor.tenant_id)
        .order_by(SentimentExample.created_at, SentimentExample.id)
    )
    return [(r.text, r.label) for r in rows]


def examples_per_class(session: Session, actor: Actor) -> dict[str, int]:
    actor.require(RESOURCE, "read")
    counts = dict.fromkeys(LABELS, 0)
    rows = session.execute(
        select(SentimentExample.label, func.count())
        .where(SentimentExample.tenant_id == actor.tenant_id)
        .group_by(SentimentExample.label)
    )
    for label, count in rows:
        counts[label] = int(count)
    return counts


# Models and jobs -----------------------------------------------------------------------------------------------


def models(session: Session, actor: Actor, *, limit: int = 20) -> list[MlModel]:
    """The tenant's trained sentiment models, newest first (the active one decides)."""
    actor.require(RESOURCE, "read")
    return list(
        session.scalars(
            select(MlModel)
            .where(MlModel.tenant_id == actor.tenant_id, MlModel.model_type == MODEL_TYPE)
            .order_by(MlModel.trained_at.desc().nulls_last(), MlModel.created_at.desc())
            .limit(limit)
        )
    )


def _waiting(session: Session, actor: Actor, kind: str) -> Job | None:
    return session.scalar(
        select(Job)
        .where(Job.tenant_id == actor.tenant_id, Job.kind == kind, Job.status == "queued")
        .order_by(Job.created_at.desc())
        .limit(1)
    )


def queue_training(session: Session, actor: Actor) -> Job:
    """Queue the retraining of the tenant's classifier on its examples; one still waiting to run is reused (it
    will see every example stored before it starts)."""
    waiting = _waiting(session, actor, TRAIN_JOB)
    return waiting if waiting is not None else jobs.enqueue(session, actor, TRAIN_JOB, {"trigger": "correction"})


def queue_rescore(session: Session, actor: Actor) -> Job:
    """Queue the reading of every note and activity of the tenant (`insights:manage`), with progress."""
    actor.require(RESOURCE, "manage")
    waiting = _waiting(session, actor, RESCORE_JOB)
    return waiting if waiting is not None else jobs.enqueue(session, actor, RESCORE_JOB, {"trigger": "api"})


# The worker's reads and writes ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceText:
    """A note's or activity's text as the worker reads it, with what is stored for it (if anything)."""

    entity_type: str
    entity_id: UUID
    text: str
    occurred_at: datetime
    updated_at: datetime
    deleted: bool
    stored_hash: str | None
    stored_version: str | None

    @property
    def content_hash(self) -> str:
        return content_hash(self.text)


_SOURCES = {
    "notes": (
        "SELECT n.id, n.body AS subject, NULL::text AS body, n.created_at AS occurred_at, n.updated_at,"
        " n.deleted_at IS NOT NULL AS deleted, s.content_hash, s.model_version FROM notes n"
        " LEFT JOIN text_sentiments s ON s.tenant_id = n.tenant_id AND s.entity_type = 'notes'"
        " AND s.entity_id = n.id WHERE n.tenant_id = :tenant"
    ),
    "activities": (
        "SELECT a.id, a.subject, a.body, a.occurred_at, a.updated_at, a.deleted_at IS NOT NULL AS deleted,"
        " s.content_hash, s.model_version FROM activities a"
        " LEFT JOIN text_sentiments s ON s.tenant_id = a.tenant_id AND s.entity_type = 'activities'"
        " AND s.entity_id = a.id WHERE a.tenant_id = :tenant"
    ),
}


def _source(entity_type: str, row: Any) -> SourceText:
    body = normalise(row.subject) if entity_type == "notes" else activity_text(row.subject, row.body)
    return SourceText(
        entity_type,
        row.id,
        body,
        row.occurred_at,
        row.updated_at,
        bool(row.deleted),
        row.content_hash,
        row.model_version,
    )


def changed_texts(session: Session, actor: Actor, entity_type: str, *, limit: int) -> list[SourceText]:
    """The notes (or activities) changed since they were last read, oldest change first, at most `limit`. The scan
    starts at the newest `source_updated_at` stored (less an overlap), so a tenant never read starts from its oldest
    record and catches up `limit` at a time."""
    actor.require(RESOURCE, "manage")
    entity_type = _entity(entity_type)
    watermark = session.scalar(
        select(func.max(TextSentiment.source_updated_at)).where(
            TextSentiment.tenant_id == actor.tenant_id, TextSentiment.entity_type == entity_type
        )
    )
    alias = "n" if entity_type == "notes" else "a"
    # Changed since its own row was read (exact, whatever the overlap: an import's thousands of records share one
    # updated_at); a record deleted before it was ever read has nothing to update.
    sql = _SOURCES[entity_type] + (
        f" AND (s.id IS NULL OR s.source_updated_at IS NULL OR {alias}.updated_at > s.source_updated_at)"
        f" AND ({alias}.deleted_at IS NULL OR s.id IS NOT NULL)"
    )
    params: dict[str, Any] = {"tenant": actor.tenant_id, "limit": limit}
    if watermark is not None:
        sql += f" AND {alias}.updated_at > :since"
        params["since"] = watermark - timedelta(seconds=OVERLAP_SECONDS)
    sql += f" ORDER BY {alias}.updated_at, {alias}.id LIMIT :limit"
    return [_source(entity_type, r) for r in session.execute(text(sql), params)]


def texts_page(session: Session, actor: Actor, entity_type: str, *, after: UUID | None, limit: int) -> list[SourceText]:
    """A page of the tenant's live notes (or activities) by id, after `after` (the bulk pass's keyset)."""
    actor.require(RESOURCE, "manage")
    entity_type = _entity(entity_type)
    alias = "n" if entity_type == "notes" else "a"
    sql = _SOURCES[entity_type] + f" AND {alias}.deleted_at IS NULL"
    params: dict[str, Any] = {"tenant": actor.tenant_id, "limit": limit}
    if after is not None:
        sql += f" AND {alias}.id > :after"
        params["after"] = after
    sql += f" ORDER BY {alias}.id LIMIT :limit"
    return [_source(entity_type, r) for r in session.execute(text(sql), params)]


def texts_of(session: Session, actor: Actor, entity_type: str, ids: Sequence[UUID]) -> list[SourceText]:
    """The given notes (or activities) as the worker reads them (to label a few at once)."""
    actor.require(RESOURCE, "manage")
    entity_type = _entity(entity_type)
    if not ids:
        return []
    alias = "n" if entity_type == "notes" else "a"
    sql = _SOURCES[entity_type] + f" AND {alias}.id = ANY(:ids) ORDER BY {alias}.id"
    return [_source(entity_type, r) for r in session.execute(text(sql), {"tenant": actor.tenant_id, "ids": list(ids)})]


def count_texts(session: Session, actor: Actor) -> int:
    actor.require(RESOURCE, "manage")
    row = session.execute(
        text(
            "SELECT (SELECT count(*) FROM notes WHERE tenant_id = :t AND deleted_at IS NULL)"
            " + (SELECT count(*) FROM activities WHERE tenant_id = :t AND deleted_at IS NULL)"
        ),
        {"t": actor.tenant_id},
    ).scalar_one()
    return int(row)


@dataclass(frozen=True)
class NewSentiment:
    """One label to keep (the model's; a person's correction stays on the row while the text is unchanged)."""

    entity_type: str
    entity_id: UUID
    label: str
    score: float
    confidence: float
    probabilities: dict[str, float]
    sentence: str
    model_version: str
    model_id: UUID | None
    content_hash: str
    occurred_at: datetime
    source_updated_at: datetime | None


# One statement: the rows travel as one JSON parameter. A person's correction is kept while the text is the one
# they labelled, and dropped (with its link to the example, which stays) once the text changes.
_WRITE = text(
    """
INSERT INTO text_sentiments (id, tenant_id, entity_type, entity_id, label, score, confidence, probabilities,
                             sentence, model_version, model_id, content_hash, occurred_at, source_updated_at,
                             computed_at)
SELECT cf_uuid7(), :tenant, v.entity_type, v.entity_id, v.label, round(v.score::numeric, 4),
       round(v.confidence::numeric, 4), v.probabilities, v.sentence, v.model_version, v.model_id, v.content_hash,
       v.occurred_at, v.source_updated_at, :at
  FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS v(entity_type text, entity_id uuid, label text, score float8,
       confidence float8, probabilities jsonb, sentence text, model_version text, model_id uuid, content_hash text,
       occurred_at timestamptz, source_updated_at timestamptz)
ON CONFLICT (tenant_id, entity_type, entity_id) DO UPDATE SET
  label = EXCLUDED.label, score = EXCLUDED.score, confidence = EXCLUDED.confidence,
  probabilities = EXCLUDED.probabilities, sentence = EXCLUDED.sentence, model_version = EXCLUDED.model_version,
  model_id = EXCLUDED.model_id, occurred_at = EXCLUDED.occurred_at,
  source_updated_at = greatest(text_sentiments.source_updated_at, EXCLUDED.source_updated_at),
  corrected_label = CASE WHEN text_sentiments.content_hash = EXCLUDED.content_hash
                         THEN text_sentiments.corrected_label END,
  example_id = CASE WHEN text_sentiments.content_hash = EXCLUDED.content_hash THEN text_sentiments.example_id END,
  content_hash = EXCLUDED.content_hash, computed_at = EXCLUDED.computed_at
"""
)

_TOUCH = text(
    """
UPDATE text_sentiments s SET source_updated_at = greatest(s.source_updated_at, v.source_updated_at)
  FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS v(entity_type text, entity_id uuid, source_updated_at timestamptz)
 WHERE s.tenant_id = :tenant AND s.entity_type = v.entity_type AND s.entity_id = v.entity_id
"""
)


def record_sentiments(session: Session, actor: Actor, rows: Sequence[NewSentiment], *, at: datetime) -> int:
    """Keep new labels (one statement whatever their number). Returns rows written."""
    actor.require(RESOURCE, "manage")
    if not rows:
        return 0
    payload = [
        {
            "entity_type": r.entity_type,
            "entity_id": r.entity_id,
            "label": r.label,
            "score": min(max(float(r.score), -1.0), 1.0),
            "confidence": min(max(float(r.confidence), 0.0), 1.0),
            "probabilities": r.probabilities,
            "sentence": normalise(r.sentence)[:1000],
            "model_version": r.model_version,
            "model_id": r.model_id,
            "content_hash": r.content_hash,
            "occurred_at": r.occurred_at,
            "source_updated_at": r.source_updated_at,
        }
        for r in rows
    ]
    session.execute(_WRITE, {"rows": to_json(payload).decode(), "tenant": actor.tenant_id, "at": at})
    return len(payload)


def mark_read(session: Session, actor: Actor, sources: Sequence[SourceText]) -> int:
    """Move the watermark past records read but not rewritten (text and model unchanged, or deleted). Returns the
    rows touched."""
    actor.require(RESOURCE, "manage")
    if not sources:
        return 0
    payload = [
        {"entity_type": s.entity_type, "entity_id": s.entity_id, "source_updated_at": s.updated_at} for s in sources
    ]
    result = session.execute(_TOUCH, {"rows": to_json(payload).decode(), "tenant": actor.tenant_id})
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


# Account trend -------------------------------------------------------------------------------------------------


def _month_start(day: date, back: int) -> date:
    total = day.year * 12 + day.month - 1 - back
    return date(total // 12, total % 12 + 1, 1)


def account_trend(
    session: Session, actor: Actor, account_id: UUID, *, months: int = TREND_MONTHS, today: date | None = None
) -> AccountTrend:
    """Sentiment per month (UTC) over the last `months` months of an account's customer text: its own notes and
    activities and those of its contacts and deals, as far as the actor may read them. Corrections count as
    corrected. With a one-line summary comparing the last three months with the months before."""
    actor.require(RESOURCE, "read")
    accounts.get(session, actor, account_id)
    today = today or datetime.now(UTC).date()
    start = _month_start(today, months - 1)
    contacts_of = select(Contact.id).where(
        Contact.tenant_id == actor.tenant_id, Contact.account_id == account_id, Contact.deleted_at.is_(None)
    )
    deals_of = select(Deal.id).where(
        Deal.tenant_id == actor.tenant_id, Deal.account_id == account_id, Deal.deleted_at.is_(None)
    )
    sources = []
    if actor.can("notes", "read"):
        note_ids = (
            notes.readable(actor)
            .with_only_columns(Note.id)
            .where(
                or_(
                    and_(Note.entity_type == "accounts", Note.entity_id == account_id),
                    and_(Note.entity_type == "contacts", Note.entity_id.in_(contacts_of)),
                    and_(Note.entity_type == "deals", Note.entity_id.in_(deals_of)),
                )
            )
        )
        sources.append(and_(TextSentiment.entity_type == "notes", TextSentiment.entity_id.in_(note_ids)))
    if actor.can("activities", "read"):
        activity_ids = (
            actor.readable(Activity)
            .with_only_columns(Activity.id)
            .where(
                or_(
                    Activity.account_id == account_id,
                    Activity.contact_id.in_(contacts_of),
                    Activity.deal_id.in_(deals_of),
                )
            )
        )
        sources.append(and_(TextSentiment.entity_type == "activities", TextSentiment.entity_id.in_(activity_ids)))
    found: dict[date, MonthSentiment] = {}
    if sources:
        shown = func.coalesce(TextSentiment.corrected_label, TextSentiment.label)
        value = case(
            (TextSentiment.corrected_label == "negative", -1),
            (TextSentiment.corrected_label == "neutral", 0),
            (TextSentiment.corrected_label == "positive", 1),
            else_=TextSentiment.score,
        )
        month = func.date_trunc("month", func.timezone("UTC", TextSentiment.occurred_at))
        rows = session.execute(
            select(
                month.label("month"),
                func.count().filter(shown == "negative"),
                func.count().filter(shown == "neutral"),
                func.count().filter(shown == "positive"),
                func.count(),
                func.avg(value),
            )
            .where(
                TextSentiment.tenant_id == actor.tenant_id,
                TextSentiment.occurred_at >= datetime(start.year, start.month, 1, tzinfo=UTC),
                or_(*sources),
            )
            .group_by(month)
        )
        for m, negative, neutral, positive, total, mean in rows:
            day = m.date()
            found[day] = MonthSentiment(
                month=day,
                negative=negative,
                neutral=neutral,
                positive=positive,
                total=total,
                mean_score=None if mean is None else round(float(mean), 3),
            )
    series = [
        found.get(_month_start(today, back))
        or MonthSentiment(month=_month_start(today, back), negative=0, neutral=0, positive=0, total=0, mean_score=None)
        for back in range(months - 1, -1, -1)
    ]
    return AccountTrend(account_id=account_id, months=series, summary=_summary(series))


def _summary(series: Sequence[MonthSentiment]) -> str:
    recent, before = series[-3:], series[:-3]
    total = sum(m.total for m in recent)
    if not total:
        return "No customer notes or activities in the last three months."
    negative = sum(m.negative for m in recent)
    positive = sum(m.positive for m in recent)
    line = f"Last three months: {negative} negative and {positive} positive of {total} notes and activities"
    earlier = sum(m.total for m in before)
    if earlier:
        now_share, then_share = negative / total, sum(m.negative for m in before) / earlier
        if now_share - then_share >= 0.1:
            return f"{line}; negative share up from {then_share:.0%} to {now_share:.0%}."
        if then_share - now_share >= 0.1:
            return f"{line}; negative share down from {then_share:.0%} to {now_share:.0%}."
        return f"{line}; about as before ({then_share:.0%} negative)."
    return f"{line}."
