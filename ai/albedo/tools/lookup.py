"""Albedo tools: the workspace's own words (stages, people, sources, industries) and names resolved to records.

`vocabulary` lists the picklist values a request may name, taken from the tenant's data as the actor sees it, so
"deals in Negotiation from Webinar leads in software" is read with the workspace's own stage, source and industry
names. `resolve_records` turns a name as typed ("acme", "Globex renewal", "jane") into the records it may mean,
best first, with a similarity score: the global search's name matching (trigram + full text, scope-filtered)
re-ranked with rapidfuzz, so a typo still finds the record and two close matches are told apart.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field
from rapidfuzz import fuzz, utils

from ai.albedo.contract import RecordRef, Table, ToolResult
from ai.albedo.tools import ToolContext, tool
from core.accounts import service as accounts
from core.contacts import service as contacts
from core.custom_fields import service as custom_fields
from core.pipelines import service as pipelines
from core.search import service as search
from core.users import service as users

KIND = {"contacts": "contact", "accounts": "account", "deals": "deal"}


class VocabularyArgs(BaseModel):
    pass


@tool(
    "vocabulary",
    "The workspace's pipelines and stages, users, lead sources and industries (the names a request may use).",
    VocabularyArgs,
)
def vocabulary(ctx: ToolContext, args: VocabularyArgs) -> ToolResult:
    cached = ctx.memo.get("vocabulary")
    if cached is not None:
        return cached
    session, actor = ctx.session, ctx.actor
    stages: list[dict[str, object]] = []
    if actor.can("pipelines", "read") or actor.can("deals", "read"):
        found = pipelines.list_pipelines(session, actor)
        by_pipeline = pipelines.stages_by_pipeline(session, actor, [p.id for p in found])
        for pipeline in found:
            for stage in by_pipeline.get(pipeline.id, []):
                stages.append(
                    {
                        "id": str(stage.id),
                        "name": stage.name,
                        "pipeline": pipeline.name,
                        "pipelineId": str(pipeline.id),
                        "default": bool(pipeline.is_default),
                        "closed": bool(stage.is_closed_stage),
                        "won": bool(stage.is_won_stage),
                    }
                )
    people: list[dict[str, str]] = []
    if actor.can("users", "read"):
        rows, _ = users.list_users(session, actor, limit=500)
        people = [
            {"id": str(u.id), "name": f"{u.first_name} {u.last_name}".strip(), "email": u.email, "first": u.first_name}
            for u in rows
        ]
    fields = []
    for entity in ("contacts", "accounts", "deals"):
        if actor.can(entity, "read"):
            for definition in custom_fields.definitions(session, actor, entity):
                fields.append(
                    {
                        "entity": entity,
                        "name": definition.field_name,
                        "label": definition.field_label,
                        "type": definition.field_type,
                        "options": list(definition.field_options or []),
                    }
                )
    facts = {
        "custom_fields": fields,
        "stages": stages,
        "users": people,
        "industries": accounts.industries_in_use(session, actor) if actor.can("accounts", "read") else [],
        "sources": contacts.lead_sources_in_use(session, actor) if actor.can("contacts", "read") else [],
    }
    result = ToolResult(facts=facts)
    ctx.memo["vocabulary"] = result
    return result


Searchable = Literal["contacts", "accounts", "deals"]


def _all_types() -> list[Searchable]:
    return ["accounts", "deals", "contacts"]


class ResolveArgs(BaseModel):
    name: str = Field(min_length=1, max_length=200, description="The name as the user typed it.")
    types: list[Searchable] = Field(default_factory=_all_types, description="Record types it may be.")
    limit: int = Field(5, ge=1, le=20)


@tool(
    "resolve_records",
    "Find the records a name may mean (accounts, deals, contacts the user can see), best first, with a 0-100 score.",
    ResolveArgs,
)
def resolve_records(ctx: ToolContext, args: ResolveArgs) -> ToolResult:
    allowed = [t for t in args.types if ctx.actor.can(t, "read")]
    if not allowed:
        return ToolResult(ok=False, error="You cannot read any of those record types")
    hits = search.search(ctx.session, ctx.actor, args.name, types=allowed, limit=max(10, args.limit * 3))
    scored = []
    for hit in hits:
        similarity = max(
            fuzz.WRatio(args.name, hit.title, processor=utils.default_process),
            fuzz.token_set_ratio(args.name, hit.title, processor=utils.default_process),
        )
        if fuzz.ratio(args.name, hit.title, processor=utils.default_process) == 100:
            similarity = 101.0  # the exact name beats any partial match
        scored.append((similarity, hit))
    scored.sort(key=lambda pair: (-pair[0], len(pair[1].title), pair[1].title.lower()))
    refs = [RecordRef(type=KIND[h.type], id=str(h.id), label=h.title) for _, h in scored[: args.limit]]  # type: ignore[arg-type]
    rows = [[h.title, KIND[h.type], h.subtitle, round(min(s, 100.0), 1)] for s, h in scored[: args.limit]]
    return ToolResult(
        facts={
            "name": args.name,
            "matches": [{"score": round(s, 1), **r.model_dump()} for (s, _), r in zip(scored, refs, strict=False)],
        },
        table=Table(
            columns=["Name", "Type", "Details", "Match"],
            keys=["name", "type", "details", "score"],
            rows=rows,
            records=refs,
        ),
        records=refs,
    )
