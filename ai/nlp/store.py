"""The embeddings of a workspace's records in PostgreSQL (`embeddings`, pgvector): kept current, and searched.

- `refresh(session, tenant_id)`: embeds what changed since the last pass, per record type: the rows whose
  `updated_at` is past the type's watermark (minus an overlap, for transactions that committed late) are read
  with their text (built in SQL); a row whose text hash is unchanged is not embedded again; deleted records
  lose their vectors. `full=True` reads everything and drops vectors of records that no longer exist.
- `nearest(session, actor, entity_type, vector, k)`: the k most similar records of one type, by cosine, through
  the type's HNSW index (pgvector's iterative scan where available, so that filtering by tenant still yields
  k rows; an exact scan when the index yields fewer, as in a small workspace). Permission filtering is the
  caller's (ai/nlp/search.py, through core/search's `describe`).

Where the server has no pgvector the vectors are `real[]` and `nearest` scans them exactly in NumPy (bounded).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import numpy as np
from sqlalchemy import text
from sqlalchemy.orm import Session

from ai.nlp import embeddings
from core.actor import Actor
from core.ids import new_id
from core.search.models import EMBEDDED_TYPES

CHUNK = 512  # records read, embedded and written per step
OVERLAP = timedelta(minutes=10)
EXACT_SCAN_LIMIT = 100_000  # without pgvector, the most vectors of one type that one search scans

# The text each record type is embedded from: what a person would say the record is about. The record's own
# `updated_at` drives the incremental pass: a contact's or deal's vector takes a renamed account or stage into
# account when the contact or deal itself next changes, or at a rebuild (reading every contact of an account at
# each account change would make one rename cost a pass over thousands of records).
_SEP = "' · '"
TEXTS: dict[str, str] = {
    "contacts": f"""
        SELECT c.id, c.updated_at, c.deleted_at IS NOT NULL AS gone,
               concat_ws({_SEP}, c.first_name || ' ' || c.last_name, c.title, c.department, c.company,
                         a.name, a.industry, c.lead_source, c.lifecycle_stage, c.address_city, c.address_country,
                         left(c.notes, 500)) AS text
          FROM contacts c LEFT JOIN accounts a ON a.id = c.account_id AND a.tenant_id = c.tenant_id
         WHERE c.tenant_id = :tenant""",
    "accounts": f"""
        SELECT a.id, a.updated_at, a.deleted_at IS NOT NULL AS gone,
               concat_ws({_SEP}, a.name, a.industry, a.company_size, left(a.description, 1000), a.address_city,
                         a.address_country, a.domain) AS text
          FROM accounts a
         WHERE a.tenant_id = :tenant""",
    "deals": f"""
        SELECT d.id, d.updated_at, d.deleted_at IS NOT NULL AS gone,
               concat_ws({_SEP}, d.name, s.name, a.name, a.industry, left(d.description, 1000), d.next_step,
                         d.lost_reason, d.lead_source) AS text
          FROM deals d
          LEFT JOIN deal_stages s ON s.id = d.stage_id AND s.tenant_id = d.tenant_id
          LEFT JOIN accounts a ON a.id = d.account_id AND a.tenant_id = d.tenant_id
         WHERE d.tenant_id = :tenant""",
    "notes": """
        SELECT n.id, n.updated_at, n.deleted_at IS NOT NULL AS gone, left(n.body, 2000) AS text
          FROM notes n
         WHERE n.tenant_id = :tenant""",
    "activities": f"""
        SELECT t.id, t.updated_at, t.deleted_at IS NOT NULL AS gone,
               concat_ws({_SEP}, t.subject, left(t.body, 2000), t.outcome) AS text
          FROM activities t
         WHERE t.tenant_id = :tenant""",
}
_ALIAS = {"contacts": "c", "accounts": "a", "deals": "d", "notes": "n", "activities": "t"}


@dataclass(frozen=True)
class Backend:
    pgvector: bool
    iterative_scan: bool  # pgvector 0.8+: HNSW keeps scanning until filtered rows fill the LIMIT


_backend: Backend | None = None


def backend(session: Session) -> Backend:
    """Whether the `embedding` column is pgvector's (and which features it has), asked once per process."""
    global _backend
    if _backend is None:
        udt = session.execute(
            text(
                "SELECT udt_name FROM information_schema.columns"
                " WHERE table_name = 'embeddings' AND column_name = 'embedding'"
            )
        ).scalar()
        version = session.execute(text("SELECT extversion FROM pg_extension WHERE extname = 'vector'")).scalar()
        parts = tuple(int(p) for p in (version or "0").split(".")[:2] if p.isdigit())
        _backend = Backend(pgvector=udt == "vector", iterative_scan=udt == "vector" and parts >= (0, 8))
    return _backend


def _literal(vector: np.ndarray, pgvector: bool) -> str:
    values = ",".join(f"{x:.7g}" for x in vector.tolist())
    return f"[{values}]" if pgvector else f"{{{values}}}"


def _cast(pgvector: bool) -> str:
    return "extensions.vector" if pgvector else "real[]"


def content_hash(value: str) -> str:
    return hashlib.sha256(f"{embeddings.MODEL_VERSION}\n{value}".encode()).hexdigest()


def watermark(session: Session, tenant_id: UUID, entity_type: str) -> datetime | None:
    return session.execute(
        text("SELECT max(source_updated_at) FROM embeddings WHERE tenant_id = :t AND entity_type = :e"),
        {"t": tenant_id, "e": entity_type},
    ).scalar()


def _count(session: Session, tenant_id: UUID, entity_type: str, since: datetime | None) -> int:
    alias = _ALIAS[entity_type]
    sql = f"SELECT count(*) FROM ({TEXTS[entity_type]}"
    sql += f" AND {alias}.updated_at > :since) x" if since is not None else ") x"
    return int(session.execute(text(sql), {"tenant": tenant_id, "since": since}).scalar_one())


def _rows(session: Session, tenant_id: UUID, entity_type: str, since: datetime | None) -> Iterable[list[Any]]:
    """Changed rows in (updated_at, id) order, CHUNK at a time (keyset pagination: no long-lived cursor)."""
    alias = _ALIAS[entity_type]
    after: tuple[datetime, UUID] | None = None
    while True:
        sql = TEXTS[entity_type]
        params: dict[str, Any] = {"tenant": tenant_id, "limit": CHUNK}
        if since is not None:
            sql += f" AND {alias}.updated_at > :since"
            params["since"] = since
        if after is not None:
            sql += f" AND ({alias}.updated_at, {alias}.id) > (:after_at, :after_id)"
            params["after_at"], params["after_id"] = after
        sql += f" ORDER BY {alias}.updated_at, {alias}.id LIMIT :limit"
        rows = session.execute(text(sql), params).all()
        if not rows:
            return
        yield rows
        after = (rows[-1].updated_at, rows[-1].id)
        if len(rows) < CHUNK:
            return


def _write(session: Session, tenant_id: UUID, entity_type: str, rows: list[Any], pgvector: bool) -> int:
    """Embed and upsert the rows whose text changed; advance the watermark of the others. Returns how many
    were embedded."""
    live = [r for r in rows if not r.gone]
    gone = [r.id for r in rows if r.gone]
    if gone:
        session.execute(
            text("DELETE FROM embeddings WHERE tenant_id = :t AND entity_type = :e AND entity_id = ANY(:ids)"),
            {"t": tenant_id, "e": entity_type, "ids": gone},
        )
    if not live:
        return 0
    stored = dict(
        session.execute(
            text(
                "SELECT entity_id, content_hash FROM embeddings"
                " WHERE tenant_id = :t AND entity_type = :e AND entity_id = ANY(:ids)"
            ),
            {"t": tenant_id, "e": entity_type, "ids": [r.id for r in live]},
        ).all()
    )
    hashes = {r.id: content_hash(r.text or "") for r in live}
    changed = [r for r in live if stored.get(r.id) != hashes[r.id]]
    same = [r for r in live if stored.get(r.id) == hashes[r.id]]
    if same:
        session.execute(
            text(
                "UPDATE embeddings e SET source_updated_at = s.at"
                " FROM unnest(CAST(:ids AS uuid[]), CAST(:ats AS timestamptz[])) AS s(id, at)"
                " WHERE e.tenant_id = :t AND e.entity_type = :e AND e.entity_id = s.id"
            ),
            {"t": tenant_id, "e": entity_type, "ids": [r.id for r in same], "ats": [r.updated_at for r in same]},
        )
    if not changed:
        return 0
    copied = _copy_known(session, tenant_id, entity_type, changed, hashes)
    todo = [r for r in changed if r.id not in copied]
    if todo:
        _embed_and_store(session, tenant_id, entity_type, todo, hashes, pgvector)
    return len(changed)


def _copy_known(
    session: Session, tenant_id: UUID, entity_type: str, rows: list[Any], hashes: dict[UUID, str]
) -> set[UUID]:
    """Give each row whose text the workspace has embedded before (the same content hash: same model, same text)
    that vector, copied in SQL; returns the ids so served. Templated texts repeat a lot: in the large demo 4.9
    million records hold 2.4 million distinct texts, and a copy costs a fraction of running the model."""
    copied = session.execute(
        text(
            "INSERT INTO embeddings (id, tenant_id, entity_type, entity_id, model, content_hash, embedding,"
            " source_updated_at, embedded_at)"
            " SELECT x.id, :t, :e, x.entity_id, known.model, x.hash, known.embedding, x.at, now()"
            " FROM unnest(CAST(:ids AS uuid[]), CAST(:entity_ids AS uuid[]), CAST(:hashes AS varchar[]),"
            "             CAST(:ats AS timestamptz[])) AS x(id, entity_id, hash, at)"
            " CROSS JOIN LATERAL (SELECT k.model, k.embedding FROM embeddings k"
            "                      WHERE k.tenant_id = :t AND k.content_hash = x.hash LIMIT 1) AS known"
            " ON CONFLICT (tenant_id, entity_type, entity_id) DO UPDATE SET model = EXCLUDED.model,"
            " content_hash = EXCLUDED.content_hash, embedding = EXCLUDED.embedding,"
            " source_updated_at = EXCLUDED.source_updated_at, embedded_at = now()"
            " RETURNING entity_id"
        ),
        {
            "t": tenant_id,
            "e": entity_type,
            "ids": [new_id() for _ in rows],
            "entity_ids": [r.id for r in rows],
            "hashes": [hashes[r.id] for r in rows],
            "ats": [r.updated_at for r in rows],
        },
    ).scalars()
    return set(copied)


def _embed_and_store(
    session: Session, tenant_id: UUID, entity_type: str, changed: list[Any], hashes: dict[UUID, str], pgvector: bool
) -> None:
    vectors = embeddings.embed([r.text or "" for r in changed])
    session.execute(
        text(
            "INSERT INTO embeddings (id, tenant_id, entity_type, entity_id, model, content_hash, embedding,"
            " source_updated_at, embedded_at)"
            f" VALUES (:id, :t, :e, :entity_id, :model, :hash, CAST(:vector AS {_cast(pgvector)}), :at, now())"
            " ON CONFLICT (tenant_id, entity_type, entity_id) DO UPDATE SET model = EXCLUDED.model,"
            " content_hash = EXCLUDED.content_hash, embedding = EXCLUDED.embedding,"
            " source_updated_at = EXCLUDED.source_updated_at, embedded_at = now()"
        ),
        [
            {
                "id": new_id(),
                "t": tenant_id,
                "e": entity_type,
                "entity_id": r.id,
                "model": embeddings.MODEL_VERSION,
                "hash": hashes[r.id],
                "vector": _literal(v, pgvector),
                "at": r.updated_at,
            }
            for r, v in zip(changed, vectors, strict=True)
        ],
    )


def refresh(
    session: Session,
    tenant_id: UUID,
    *,
    full: bool = False,
    types: Iterable[str] = EMBEDDED_TYPES,
    progress: Callable[[int, str], None] | None = None,
    commit: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Bring the tenant's embeddings up to date (see the module docstring). `commit`, if given, is called after
    each chunk, so that a bulk run's work survives an interruption and readers see it as it goes; `progress`
    gets (percent, message). Returns counts per type: read, embedded."""
    pgvector = backend(session).pgvector
    wanted = list(types)
    plan: dict[str, datetime | None] = {}
    for entity_type in wanted:
        mark = None if full else watermark(session, tenant_id, entity_type)
        plan[entity_type] = mark - OVERLAP if mark is not None else None
    total = sum(_count(session, tenant_id, t, since) for t, since in plan.items()) if progress else 0
    done = 0
    result: dict[str, Any] = {"read": {}, "embedded": {}, "removed": 0}
    for entity_type, since in plan.items():
        read = embedded = 0
        for rows in _rows(session, tenant_id, entity_type, since):
            embedded += _write(session, tenant_id, entity_type, rows, pgvector)
            read += len(rows)
            done += len(rows)
            if commit is not None:
                commit()
            if progress is not None and total:
                progress(min(99, int(100 * done / total)), f"{done:,} of {total:,} records embedded or checked")
        result["read"][entity_type] = read
        result["embedded"][entity_type] = embedded
    if full:
        result["removed"] = _remove_orphans(session, tenant_id, wanted)
    return result


def _remove_orphans(session: Session, tenant_id: UUID, types: list[str]) -> int:
    removed = 0
    for entity_type in types:
        removed += session.execute(
            text(
                f"DELETE FROM embeddings e WHERE e.tenant_id = :t AND e.entity_type = :e AND NOT EXISTS"
                f" (SELECT 1 FROM {entity_type} r WHERE r.id = e.entity_id AND r.deleted_at IS NULL)"
            ),
            {"t": tenant_id, "e": entity_type},
        ).rowcount
    return removed


def vector_of(session: Session, actor: Actor, entity_type: str, entity_id: UUID) -> np.ndarray | None:
    """A record's stored vector (for "records like this one"), or None when it has none yet."""
    _check_type(entity_type)
    raw = session.execute(
        text("SELECT embedding FROM embeddings WHERE tenant_id = :t AND entity_type = :e AND entity_id = :id"),
        {"t": actor.tenant_id, "e": entity_type, "id": entity_id},
    ).scalar()
    return None if raw is None else _parse(raw)


def _parse(raw: Any) -> np.ndarray:
    if isinstance(raw, str):
        return np.array(raw.strip("[]{}").split(","), dtype=np.float32)
    return np.asarray(raw, dtype=np.float32)


def _check_type(entity_type: str) -> None:
    if entity_type not in EMBEDDED_TYPES:
        raise ValueError(f"not an embedded record type: {entity_type}")


def nearest(
    session: Session,
    actor: Actor,
    entity_type: str,
    vector: np.ndarray,
    k: int = 50,
    *,
    exclude: Iterable[UUID] = (),
) -> list[tuple[UUID, float]]:
    """The `k` records of `entity_type` (in the actor's tenant) whose vectors are closest to `vector`, with
    their cosine similarity, most similar first. Not filtered by record scope: see the module docstring."""
    return [
        (entity_id, sim)
        for _, entity_id, sim in nearest_many(session, actor, [entity_type], vector, k, exclude=exclude)
    ]


def nearest_many(
    session: Session,
    actor: Actor,
    types: Iterable[str],
    vector: np.ndarray,
    k: int = 50,
    *,
    exclude: Iterable[UUID] = (),
) -> list[tuple[str, UUID, float]]:
    """`nearest` for several record types in one round trip: up to `k` of each, as (type, id, similarity),
    each type's most similar first."""
    wanted_types = list(dict.fromkeys(types))
    for entity_type in wanted_types:
        _check_type(entity_type)
    excluded = set(exclude)
    wanted = k + len(excluded)
    kind = backend(session)
    found: dict[str, list[tuple[UUID, float]]] = {}
    if not kind.pgvector:
        for entity_type in wanted_types:
            found[entity_type] = _exact_numpy(session, actor.tenant_id, entity_type, vector, wanted, excluded)
    else:
        # Types are EMBEDDED_TYPES (checked), written inline so that the planner matches each partial index.
        distance = "(embedding OPERATOR(extensions.<=>) CAST(:q AS extensions.vector))"

        def per_type(entity_type: str, extra: str = "") -> str:
            return (
                f"(SELECT '{entity_type}' AS entity_type, entity_id, 1 - {distance} AS similarity FROM embeddings"
                f" WHERE tenant_id = :t AND entity_type = '{entity_type}' ORDER BY {distance}{extra} LIMIT :k)"
            )

        params = {"q": _literal(vector, True), "t": actor.tenant_id, "k": wanted}
        settings = f"SELECT set_config('hnsw.ef_search', '{max(40, min(1000, 2 * wanted))}', true)"
        if kind.iterative_scan:
            settings += ", set_config('hnsw.iterative_scan', 'relaxed_order', true)"
        session.execute(text(settings))
        rows = session.execute(text(" UNION ALL ".join(per_type(t) for t in wanted_types)), params).all()
        for entity_type in wanted_types:
            found[entity_type] = [(r.entity_id, float(r.similarity)) for r in rows if r.entity_type == entity_type]
        for entity_type in wanted_types:
            if len(found[entity_type]) < wanted:
                # Fewer rows than asked: the workspace has fewer, or the graph walk ran out before the tenant
                # filter let enough through. An exact scan (the `+ 0` keeps the index out) settles it.
                exact = session.execute(text(per_type(entity_type, " + 0")), params).all()
                found[entity_type] = [(r.entity_id, float(r.similarity)) for r in exact]
    result: list[tuple[str, UUID, float]] = []
    for entity_type in wanted_types:
        ranked = sorted(found[entity_type], key=lambda pair: -pair[1])  # relaxed order: sort the few rows exactly
        result.extend((entity_type, i, sim) for i, sim in ranked if i not in excluded)
    return [row for t in wanted_types for row in [r for r in result if r[0] == t][:k]]


def _exact_numpy(
    session: Session, tenant_id: UUID, entity_type: str, vector: np.ndarray, k: int, excluded: set[UUID]
) -> list[tuple[UUID, float]]:
    rows = session.execute(
        text(
            "SELECT entity_id, embedding FROM embeddings WHERE tenant_id = :t AND entity_type = :e"
            " ORDER BY source_updated_at DESC LIMIT :n"
        ),
        {"t": tenant_id, "e": entity_type, "n": EXACT_SCAN_LIMIT},
    ).all()
    if not rows:
        return []
    matrix = np.vstack([_parse(r.embedding) for r in rows])
    similarity = matrix @ np.asarray(vector, dtype=np.float32)
    order = np.argsort(-similarity)[: k + len(excluded)]
    found = [(rows[i].entity_id, float(similarity[i])) for i in order]
    return [pair for pair in found if pair[0] not in excluded][:k]
