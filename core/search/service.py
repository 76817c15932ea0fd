"""Search across contacts, accounts, deals and notes, ranked and permission-filtered.

Candidates come from SQL, always bounded: the stored `search` tsvectors (GIN, 'simple' configuration, every
word a prefix) ranked with `ts_rank`, and, for typo tolerance without pg_trgm (PostgreSQL 15+ with no
extensions), contacts and accounts whose names share the first three letters of a query word, or the first two
with a length within one (btree indexes on `(tenant_id, length(name), name)`). rapidfuzz then re-ranks the
union in Python. A misspelling within the first two letters of every word is not found: the price of indexed
candidates.

Performance note: under row-level security PostgreSQL uses the GIN index for `@@` only because migration 0009
marks ts_match_vq LEAKPROOF (it needs a superuser; without one, searches stay correct but scan the tenant's rows,
about 30-60 ms per 100k contacts). The name candidates use leakproof range comparisons and their indexes.

Each type is searched only when the actor may read it, through `actor.readable` (tenant and record scope);
notes only when their parent record is readable.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz import fuzz, utils
from sqlalchemy import ColumnElement, and_, func, literal, or_, select, union
from sqlalchemy.orm import Session

from core.accounts.models import Account
from core.activities.models import Activity
from core.actor import Actor
from core.contacts.models import Contact
from core.deals.models import Deal
from core.errors import PermissionDenied, ValidationFailed
from core.notes.models import Note
from core.search.schemas import MAX_LIMIT, MAX_QUERY_LENGTH, SEARCH_TYPES, SearchHit

EMBED_ALL_JOB = "nlp.embed_all"  # the worker's handler is in ai/nlp/tasks.py
FULLTEXT_CANDIDATES = 50
FUZZY_CANDIDATES = 200
FUZZY_NAMES = 20  # distinct names, closest first, whose records are read as typo candidates
FUZZY_NAME_MIN_RATIO = 60.0
FUZZY_MIN_SCORE = 75.0
MAX_FUZZY_WORDS = 3
_WORD = re.compile(r"[\w@.+-]+")


@dataclass
class _Candidate:
    type: str
    id: Any
    title: str
    subtitle: str | None
    rank: float | None = None
    matched: set[str] = field(default_factory=set)
    names: tuple[str, ...] = ()


def parse_types(raw: str | Sequence[str] | None, known: Sequence[str] = SEARCH_TYPES) -> list[str]:
    """`contacts,deals` (or a list) into known types, in the given order; unknown names are a 400 naming them."""
    if raw is None:
        return list(known)
    items = raw.split(",") if isinstance(raw, str) else [t for part in raw for t in part.split(",")]
    wanted = list(dict.fromkeys(t.strip() for t in items if t.strip()))
    unknown = [t for t in wanted if t not in known]
    if unknown or not wanted:
        raise ValidationFailed(
            f"Unknown search type: {', '.join(unknown) or '(none)'}; use any of {', '.join(known)}",
            details=[{"field": "types", "message": "unknown type", "value": t[:50]} for t in unknown]
            or [{"field": "types", "message": "name at least one type"}],
        )
    return wanted


def validate_query(q: str | None, limit: int) -> str:
    """The query stripped; a 400 naming the field for an empty or over-long query or a limit out of range."""
    query = (q or "").strip()
    if not 1 <= len(query) <= MAX_QUERY_LENGTH:
        raise ValidationFailed(
            f"q must be 1 to {MAX_QUERY_LENGTH} characters",
            details=[{"field": "q", "message": f"1 to {MAX_QUERY_LENGTH} characters"}],
        )
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed(
            f"limit must be between 1 and {MAX_LIMIT}", details=[{"field": "limit", "message": f"1 to {MAX_LIMIT}"}]
        )
    return query


def _words(q: str) -> list[str]:
    return [w for w in _WORD.findall(q.lower()) if re.search(r"[^\W_]", w)]


def _tsquery(words: list[str]) -> Any:
    terms = " & ".join(f"'{w}':*" for w in words)
    return func.to_tsquery("simple", terms)


def prefix_ranges(column: Any, start: str) -> list[ColumnElement[bool]]:
    """`column` starts with `start` in lower, Capitalised or UPPER case, as one range per case: each can bound a
    scan of a `(tenant_id, column)` index by itself.

    Plain columns and range comparisons only: under row-level security PostgreSQL uses an index only for
    leakproof conditions, and neither LIKE nor lower() is leakproof."""
    ranges = []
    for variant in dict.fromkeys((start.lower(), start.capitalize(), start.upper())):
        end = variant[:-1] + chr(ord(variant[-1]) + 1)
        ranges.append(and_(column >= variant, column < end))
    return ranges


def prefix_condition(column: Any, start: str) -> ColumnElement[bool]:
    """`column` starts with `start` in lower, Capitalised or UPPER case (see `prefix_ranges`)."""
    return or_(*prefix_ranges(column, start))


def _fulltext(session: Session, statement: Any, search_column: Any, words: list[str]) -> list[Any]:
    tsq = _tsquery(words)
    rank = func.ts_rank(search_column, tsq).label("rank")
    ranked = statement.add_columns(rank).where(search_column.op("@@")(tsq)).order_by(rank.desc())
    return list(session.execute(ranked.limit(FULLTEXT_CANDIDATES)))


def _reachable_lengths(word: str) -> list[int]:
    """The name lengths that can score `FUZZY_NAME_MIN_RATIO` against `word`. rapidfuzz's ratio is
    2 x (letters in common) / (n + m), at most 2 x min(n, m) / (n + m), so with ratio r a name of m letters can
    reach it only if r / (2 - r) <= m / n <= (2 - r) / r (0.43 to 2.33 for 60). Two more at the top for the
    punctuation around a name that rapidfuzz's processing trims."""
    r, n = FUZZY_NAME_MIN_RATIO / 100, len(word)
    return list(range(max(1, math.ceil(n * r / (2 - r))), math.floor(n * (2 - r) / r) + 3))


def _fuzzy(
    session: Session, actor: Actor, statement: Any, model: Any, columns: list[Any], words: list[str]
) -> list[Any]:
    """Records whose name is close to a query word. Distinct names come first, from the `(tenant_id,
    length(name), name)` indexes alone: those sharing a word's first three letters (of a length that can reach
    the minimum ratio), and those sharing its first two letters with a length within one of it (a typo in the
    third letter). rapidfuzz keeps the `FUZZY_NAMES` closest, and only then are records read: in a large
    workspace thousands of people share each first name, and reading all of them to compare the same name again
    cost 100-200 ms a search."""
    long_words = [w for w in words if len(w) >= 3][:MAX_FUZZY_WORDS]
    if not long_words:
        return []
    # each range one bounded scan of a `(tenant_id, length(name), name)` index: one descent per length
    # (an OR of ranges would be a filter over every name of a length)
    reachable = sorted({m for w in long_words for m in _reachable_lengths(w)})  # a name is kept for any word
    ranges: list[tuple[Any, ColumnElement[bool]]] = []
    for column in columns:
        for w in long_words:
            near = func.length(column).in_(reachable)
            ranges.extend((column, and_(near, start)) for start in prefix_ranges(column, w[:3]))
            typo = func.length(column).in_([len(w) - 1, len(w), len(w) + 1])
            ranges.extend((column, and_(typo, start)) for start in prefix_ranges(column, w[:2]))
    live = (model.tenant_id == actor.tenant_id, model.deleted_at.is_(None))
    found = union(*[select(column.label("name")).where(*live, condition) for column, condition in ranges])
    names = [name for name in session.scalars(select(found.subquery().c.name)) if name]
    closest = sorted(
        ((max(fuzz.ratio(w, name, processor=utils.default_process) for w in long_words), name) for name in names),
        reverse=True,
    )
    wanted = [name for score, name in closest[:FUZZY_NAMES] if score >= FUZZY_NAME_MIN_RATIO]
    if not wanted:
        return []
    # their lengths too, so that the same indexes find the records (first names have no index of their own)
    lengths = sorted({len(name) for name in wanted})
    named = [and_(func.length(column).in_(lengths), column.in_(wanted)) for column in columns]
    return list(session.execute(statement.where(or_(*named)).limit(FUZZY_CANDIDATES)))


def _contacts(session: Session, actor: Actor, words: list[str], found: dict[tuple[str, Any], _Candidate]) -> None:
    base = actor.readable(Contact).with_only_columns(
        Contact.id, Contact.first_name, Contact.last_name, Contact.email, Contact.company
    )
    for row, how in [(r, "fulltext") for r in _fulltext(session, base, Contact.search, words)] + [
        (r, "fuzzy") for r in _fuzzy(session, actor, base, Contact, [Contact.last_name, Contact.first_name], words)
    ]:
        key = ("contacts", row.id)
        hit = found.setdefault(
            key,
            _Candidate(
                "contacts",
                row.id,
                f"{row.first_name} {row.last_name}",
                row.email or row.company,
                names=(row.first_name, row.last_name),
            ),
        )
        hit.matched.add(how)
        if how == "fulltext":
            hit.rank = float(row.rank)


def _accounts(session: Session, actor: Actor, words: list[str], found: dict[tuple[str, Any], _Candidate]) -> None:
    base = actor.readable(Account).with_only_columns(Account.id, Account.name, Account.domain)
    for row, how in [(r, "fulltext") for r in _fulltext(session, base, Account.search, words)] + [
        (r, "fuzzy") for r in _fuzzy(session, actor, base, Account, [Account.name], words)
    ]:
        hit = found.setdefault(("accounts", row.id), _Candidate("accounts", row.id, row.name, row.domain))
        hit.matched.add(how)
        if how == "fulltext":
            hit.rank = float(row.rank)


def _deals(session: Session, actor: Actor, words: list[str], found: dict[tuple[str, Any], _Candidate]) -> None:
    base = actor.readable(Deal).with_only_columns(Deal.id, Deal.name, Deal.amount, Deal.currency)
    for row in _fulltext(session, base, Deal.search, words):
        subtitle = f"{row.amount} {row.currency}" if row.amount is not None else None
        hit = found.setdefault(("deals", row.id), _Candidate("deals", row.id, row.name, subtitle))
        hit.matched.add("fulltext")
        hit.rank = float(row.rank)


def _readable_notes(actor: Actor) -> Any:
    """Notes the actor may read: their own scope, and only on parent records they may read (None: none)."""
    parents = []
    for entity_type, model in (("contacts", Contact), ("accounts", Account), ("deals", Deal)):
        if actor.can(entity_type, "read"):
            visible = actor.readable(model).with_only_columns(literal(1)).where(model.id == Note.entity_id)
            parents.append(and_(Note.entity_type == entity_type, visible.exists()))
    if not parents:
        return None
    return actor.readable(Note).with_only_columns(Note.id, Note.body, Note.entity_type).where(or_(*parents))


def _note_title(body: str) -> str:
    title = " ".join(body.split())
    return title if len(title) <= 80 else title[:79] + "…"


def _notes(session: Session, actor: Actor, words: list[str], found: dict[tuple[str, Any], _Candidate]) -> None:
    base = _readable_notes(actor)
    if base is None:
        return
    for row in _fulltext(session, base, Note.search, words):
        title = _note_title(row.body)
        hit = found.setdefault(("notes", row.id), _Candidate("notes", row.id, title, f"Note on {row.entity_type}"))
        hit.matched.add("fulltext")
        hit.rank = float(row.rank)


_SEARCHERS = {"contacts": _contacts, "accounts": _accounts, "deals": _deals, "notes": _notes}


def _score(query: str, hit: _Candidate) -> float:
    """Similarity of the title (or of a contact's first or last name) to the query (0-1), plus a bonus for a
    full-text match and its rank."""
    ratios = [fuzz.WRatio(query, hit.title, processor=utils.default_process)]
    ratios += [fuzz.ratio(query, name, processor=utils.default_process) for name in hit.names]
    similarity = max(ratios) / 100
    score = similarity
    if "fulltext" in hit.matched:
        score += 0.5 + min(hit.rank or 0.0, 0.5)
    return round(score, 4)


def search(
    session: Session, actor: Actor, q: str, *, types: Sequence[str] | None = None, limit: int = 20
) -> list[SearchHit]:
    """The best `limit` hits for `q` among the types asked for (all by default) that the actor may read.

    Raises `ValidationFailed` for an empty or over-long query, an unknown type or a bad limit, and
    `PermissionDenied` when the actor may read none of the types asked for.
    """
    query = validate_query(q, limit)
    wanted = parse_types(list(types) if types is not None else None)
    allowed = [t for t in wanted if actor.can(t, "read")]
    if not allowed:
        raise PermissionDenied(
            f"Permission denied: read on {wanted[0]}", details={"required": f"{wanted[0]}:read", "role": actor.role}
        )
    words = _words(query)
    if not words:
        return []
    found: dict[tuple[str, Any], _Candidate] = {}
    for entity_type in allowed:
        _SEARCHERS[entity_type](session, actor, words, found)
    scored = []
    for hit in found.values():
        score = _score(query, hit)
        if hit.matched == {"fuzzy"} and score * 100 < FUZZY_MIN_SCORE:
            continue
        scored.append((score, hit))
    scored.sort(key=lambda pair: (-pair[0], pair[1].title.lower(), str(pair[1].id)))
    return [
        SearchHit(
            type=hit.type,  # type: ignore[arg-type]
            id=hit.id,
            title=hit.title,
            subtitle=hit.subtitle,
            score=score,
            matched=sorted(hit.matched),
        )
        for score, hit in scored[:limit]
    ]


def describe(session: Session, actor: Actor, entity_type: str, ids: Sequence[Any]) -> dict[Any, tuple[str, str | None]]:
    """Title and subtitle of each of `ids` (of one type) that the actor may read, as search shows them; ids the
    actor may not read (or deleted, or of another tenant) are left out. For hits found by other means
    (semantic search), so that they are shown and permission-filtered exactly as full-text hits are."""
    if not ids or not actor.can(entity_type, "read"):
        return {}
    wanted = list(ids)
    if entity_type == "contacts":
        rows = session.execute(
            actor.readable(Contact)
            .with_only_columns(Contact.id, Contact.first_name, Contact.last_name, Contact.email, Contact.company)
            .where(Contact.id.in_(wanted))
        )
        return {r.id: (f"{r.first_name} {r.last_name}", r.email or r.company) for r in rows}
    if entity_type == "accounts":
        rows = session.execute(
            actor.readable(Account)
            .with_only_columns(Account.id, Account.name, Account.domain)
            .where(Account.id.in_(wanted))
        )
        return {r.id: (r.name, r.domain) for r in rows}
    if entity_type == "deals":
        rows = session.execute(
            actor.readable(Deal)
            .with_only_columns(Deal.id, Deal.name, Deal.amount, Deal.currency)
            .where(Deal.id.in_(wanted))
        )
        return {r.id: (r.name, f"{r.amount} {r.currency}" if r.amount is not None else None) for r in rows}
    if entity_type == "notes":
        base = _readable_notes(actor)
        if base is None:
            return {}
        rows = session.execute(base.where(Note.id.in_(wanted)))
        return {r.id: (_note_title(r.body), f"Note on {r.entity_type}") for r in rows}
    if entity_type == "activities":
        rows = session.execute(
            actor.readable(Activity)
            .with_only_columns(Activity.id, Activity.type, Activity.subject, Activity.occurred_at)
            .where(Activity.id.in_(wanted))
        )
        return {r.id: (r.subject, f"{r.type.capitalize()} on {r.occurred_at:%Y-%m-%d}") for r in rows}
    raise ValidationFailed(f"Unknown record type: {entity_type}")


def queue_embedding_rebuild(session: Session, actor: Actor) -> Any:
    """Queue the embedding of every record of the workspace (`settings:manage`), e.g. after an upgrade of the
    model; follow it at /jobs/{id}. Asking again within the same minute returns the same job."""
    from datetime import UTC, datetime

    from core.jobs import service as jobs

    actor.require("settings", "manage")
    minute = int(datetime.now(UTC).timestamp()) // 60
    return jobs.enqueue(session, actor, EMBED_ALL_JOB, {"trigger": "manual"}, dedupe_key=f"{EMBED_ALL_JOB}:{minute}")


def parents(session: Session, actor: Actor, entity_type: str, ids: Sequence[Any]) -> dict[Any, tuple[str, Any]]:
    """The record page each note or activity belongs on: id -> ("contact" | "account" | "deal", parent id), for
    links from search hits (readable ones only; an activity's deal first, then its account, then its contact)."""
    if not ids:
        return {}
    if entity_type == "notes":
        base = _readable_notes(actor)
        if base is None:
            return {}
        rows = session.execute(base.add_columns(Note.entity_id).where(Note.id.in_(list(ids))))
        return {r.id: (r.entity_type.removesuffix("s"), r.entity_id) for r in rows}
    if entity_type == "activities" and actor.can("activities", "read"):
        rows = session.execute(
            actor.readable(Activity)
            .with_only_columns(Activity.id, Activity.deal_id, Activity.account_id, Activity.contact_id)
            .where(Activity.id.in_(list(ids)))
        )
        found: dict[Any, tuple[str, Any]] = {}
        for r in rows:
            for kind, parent in (("deal", r.deal_id), ("account", r.account_id), ("contact", r.contact_id)):
                if parent is not None:
                    found[r.id] = (kind, parent)
                    break
        return found
    return {}


def embedding_coverage(session: Session, actor: Actor) -> dict[str, tuple[int, int]]:
    """Per record type: (records with a current vector, live records), for the admin's view of the index."""
    from sqlalchemy import text

    from core.search.models import EMBEDDED_TYPES

    actor.require("settings", "manage")
    found: dict[str, tuple[int, int]] = {}
    for entity_type in EMBEDDED_TYPES:  # fixed table names, never input
        row = session.execute(
            text(
                f"SELECT count(*) AS total, count(e.entity_id) AS embedded FROM {entity_type} r"
                " LEFT JOIN embeddings e ON e.tenant_id = r.tenant_id AND e.entity_type = :e AND e.entity_id = r.id"
                " WHERE r.tenant_id = :t AND r.deleted_at IS NULL"
            ),
            {"e": entity_type, "t": actor.tenant_id},
        ).one()
        found[entity_type] = (int(row.embedded), int(row.total))
    return found


def latest_rebuild(session: Session, actor: Actor) -> Any:
    """The newest embedding rebuild job of the workspace (None if there was none)."""
    from sqlalchemy import select

    from core.jobs.models import Job

    actor.require("settings", "manage")
    return session.scalar(
        select(Job)
        .where(Job.tenant_id == actor.tenant_id, Job.kind == EMBED_ALL_JOB)
        .order_by(Job.created_at.desc())
        .limit(1)
    )
