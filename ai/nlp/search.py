"""One search for the global search box, the API and Albedo: full text, meaning, or both fused.

- `text`: core/search (stored tsvectors with prefixes, typo-tolerant names), as before.
- `semantic`: the query embedded with the same model as the records (ai/nlp/embeddings.py) and the nearest
  records of each type by cosine (ai/nlp/store.py, pgvector HNSW). "Notes about pricing complaints" finds a
  note that says "they found the quote far too expensive", which shares no word with the query.
- `hybrid` (default): both lists fused by reciprocal rank fusion, score = sum over lists of 1 / (60 + rank):
  a record ranked well by either list comes first, and one found by both comes before either alone. RRF needs
  no calibration between a ts_rank and a cosine, which is why it is the usual choice (Cormack et al., 2009).

"Companies like Acme" (also "accounts similar to Acme", "deals like Big Renewal") searches by example: the
named record is found by text search among the named type, and its own stored vector is the query (the record
itself is left out). Every hit is permission-filtered and titled by core/search's `describe`, exactly as
full-text hits are; semantic candidates below `MIN_SIMILARITY` are dropped, so nonsense finds nothing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Literal
from uuid import UUID

from sqlalchemy.orm import Session

from ai.nlp import embeddings, store
from core.actor import Actor
from core.errors import PermissionDenied, ValidationFailed
from core.search import service as text_search
from core.search.schemas import MAX_LIMIT, SEARCH_TYPES, SEMANTIC_TYPES, SearchHit

Mode = Literal["hybrid", "text", "semantic"]
MODES: tuple[str, ...] = ("hybrid", "text", "semantic")
RRF_K = 60
SEMANTIC_CANDIDATES = 30
MAX_CANDIDATES = 1000
# Cosine below which a record is not offered as a meaning match (MiniLM: unrelated texts sit around 0.0-0.2).
MIN_SIMILARITY = 0.25
_TYPE_WORDS = {
    "companies": "accounts",
    "company": "accounts",
    "accounts": "accounts",
    "account": "accounts",
    "contacts": "contacts",
    "contact": "contacts",
    "people": "contacts",
    "leads": "contacts",
    "deals": "deals",
    "deal": "deals",
    "opportunities": "deals",
}
_LIKE = re.compile(r"^\s*(?:(?P<kind>[a-z]+)\s+)?(?:like|similar\s+to)\s+(?P<name>.+?)\s*$", re.IGNORECASE)


def parse_mode(raw: str | None) -> str:
    mode = (raw or "hybrid").strip().lower()
    if mode not in MODES:
        raise ValidationFailed(
            f"Unknown search mode: {raw}; use one of {', '.join(MODES)}",
            details=[{"field": "mode", "message": f"one of {', '.join(MODES)}", "value": str(raw)[:50]}],
        )
    return mode


def _by_example(session: Session, actor: Actor, query: str, allowed: list[str]) -> tuple[Any, list[str]] | None:
    """("companies like Acme") -> (Acme's vector, Acme's key to leave out, the types to search), or None."""
    match = _LIKE.match(query)
    if not match:
        return None
    kind = _TYPE_WORDS.get((match.group("kind") or "").lower())
    if match.group("kind") and kind is None:
        return None
    types = [kind] if kind else [t for t in allowed if t in SEARCH_TYPES]
    types = [t for t in types if t in allowed]
    if not types:
        return None
    for hit in text_search.search(session, actor, match.group("name"), types=types, limit=5):
        vector = store.vector_of(session, actor, hit.type, hit.id)
        if vector is not None:
            return (vector, (hit.type, hit.id)), types
    return None


def _query_vector(
    session: Session, actor: Actor, query: str, types: list[str]
) -> tuple[Any, list[UUID], list[str], bool]:
    """(the vector to search with, ids to leave out, the types to search, whether it is a search by example)."""
    example = _by_example(session, actor, query, types)
    if example is None:
        return embeddings.embed([query])[0], [], types, False
    (vector, (_, own_id)), example_types = example
    return vector, [own_id], example_types, True


def _readable_semantic(
    session: Session, actor: Actor, query: str, types: list[str], limit: int
) -> tuple[list[tuple[str, UUID, float]], dict[tuple[str, Any], tuple[str, str | None]], bool]:
    """Meaning matches (most similar first, at least `MIN_SIMILARITY`) with the titles of those the actor may
    read, and whether the query was a search by example. The nearest records are taken across the workspace,
    then filtered by record scope; a rep who sees only their own or their team's records may find few of theirs
    among them, so the search widens (4 times the candidates, up to `MAX_CANDIDATES` per type) while fewer than
    `limit` are readable and some type still had more matches above `MIN_SIMILARITY`."""
    vector, exclude, types, by_example = _query_vector(session, actor, query, types)
    depth = max(limit, SEMANTIC_CANDIDATES)
    while True:
        nearest = store.nearest_many(session, actor, types, vector, depth, exclude=exclude)
        semantic = sorted((row for row in nearest if row[2] >= MIN_SIMILARITY), key=lambda row: -row[2])
        titles: dict[tuple[str, Any], tuple[str, str | None]] = {}
        for entity_type in types:
            ids = [entity_id for t, entity_id, _ in semantic if t == entity_type]
            described = text_search.describe(session, actor, entity_type, ids)
            titles.update({(entity_type, i): v for i, v in described.items()})
        more = any(sum(1 for t, _, _ in semantic if t == entity_type) >= depth for entity_type in types)
        if len(titles) >= limit or not more or depth >= MAX_CANDIDATES:
            return semantic, titles, by_example
        depth = min(MAX_CANDIDATES, depth * 4)


def search(
    session: Session,
    actor: Actor,
    q: str,
    *,
    mode: str = "hybrid",
    types: Sequence[str] | None = None,
    limit: int = 20,
) -> list[SearchHit]:
    """The best `limit` hits for `q` among the record types asked for (all by default) that the actor may
    read. 400 (`ValidationFailed`) for a bad query, mode, type or limit; 403 when none of the types is readable.
    """
    mode = parse_mode(mode)
    query = text_search.validate_query(q, limit)
    known = SEARCH_TYPES if mode == "text" else SEMANTIC_TYPES
    wanted = text_search.parse_types(list(types) if types is not None else None, known)
    allowed = [t for t in wanted if actor.can(t, "read")]
    if not allowed:
        raise PermissionDenied(
            f"Permission denied: read on {wanted[0]}", details={"required": f"{wanted[0]}:read", "role": actor.role}
        )
    if mode == "text":
        return text_search.search(session, actor, query, types=allowed, limit=limit)

    semantic, titles, by_example = _readable_semantic(session, actor, query, allowed, limit)
    readable = [(t, i, s) for t, i, s in semantic if (t, i) in titles]
    text_hits: list[SearchHit] = []
    if mode == "hybrid" and not by_example:  # by example, the words name the example itself: not a result
        text_types = [t for t in allowed if t in SEARCH_TYPES]
        if text_types:
            text_hits = text_search.search(session, actor, query, types=text_types, limit=MAX_LIMIT)

    fused: dict[tuple[str, Any], dict[str, Any]] = {}
    for rank, hit in enumerate(text_hits, start=1):
        entry = fused.setdefault((hit.type, hit.id), {"title": hit.title, "subtitle": hit.subtitle, "matched": set()})
        entry["score"] = entry.get("score", 0.0) + 1.0 / (RRF_K + rank)
        entry["matched"].update(hit.matched)
    for rank, (entity_type, entity_id, similarity) in enumerate(readable, start=1):
        title, subtitle = titles[(entity_type, entity_id)]
        entry = fused.setdefault((entity_type, entity_id), {"title": title, "subtitle": subtitle, "matched": set()})
        entry["score"] = entry.get("score", 0.0) + 1.0 / (RRF_K + rank)
        entry["matched"].add("semantic")
        entry["similarity"] = similarity
    if mode == "semantic":  # one list: its own order, with the cosine as the score
        for entry in fused.values():
            entry["score"] = entry["similarity"]
    ranked = sorted(fused.items(), key=lambda kv: (-kv[1]["score"], kv[1]["title"].lower(), str(kv[0][1])))
    return [
        SearchHit(
            type=entity_type,  # type: ignore[arg-type]
            id=entity_id,
            title=entry["title"],
            subtitle=entry["subtitle"],
            score=round(entry["score"], 6),
            matched=sorted(entry["matched"]),
        )
        for (entity_type, entity_id), entry in ranked[:limit]
    ]
