"""Albedo's insight tools: the next best actions and the insights (anomalies, deals at risk, churn risk), as the
worker computed and stored them, read through the services behind the Insights page, so the user sees exactly
what they would see there (their record scope, `insights:read`), each with the reason it carries.
"""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from ai.albedo.contract import RecordRef, Table, ToolResult
from ai.albedo.tools import ToolContext, tool
from core.actions import service as actions
from core.actions.schemas import KIND_LABELS
from core.churn import service as churn
from core.insights import service as insights


class Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RecordArg(Args):
    type: Literal["deal", "contact", "account"] = Field(description="The record's type.")
    id: UUID = Field(description="The record's id.")


def _money(value: Any) -> float | None:
    return None if value is None else round(float(value), 2)


# Next best actions ---------------------------------------------------------------------------------------------


class NextActionsArgs(Args):
    record: RecordArg | None = Field(
        None, description="A deal or contact: its open actions. None: the user's own top actions."
    )
    limit: int = Field(5, ge=1, le=50, description="At most this many actions (highest expected value first).")


@tool(
    "next_actions",
    "The next best actions: what to do next on a deal or lead, or the user's own top actions, highest expected "
    "value first, each with its reason and figures.",
    NextActionsArgs,
)
def next_actions(ctx: ToolContext, args: NextActionsArgs) -> ToolResult:
    if args.record is not None:
        if args.record.type == "account":
            return ToolResult(ok=False, error="Next best actions are kept for deals and contacts, not accounts")
        entity = "deals" if args.record.type == "deal" else "contacts"
        rows = actions.list_actions(
            ctx.session, ctx.actor, entity_type=entity, entity_id=args.record.id, limit=args.limit
        )
        whose = f"this {args.record.type}"
    else:
        mine = ctx.actor.user_id is not None
        rows = actions.list_actions(ctx.session, ctx.actor, mine=mine, limit=args.limit)
        whose = "you" if mine else "the workspace"
    refs: list[RecordRef] = []
    table_rows = []
    for a in rows:
        deal = a.deal_id is not None
        ref = RecordRef(type="deal" if deal else "contact", id=str(a.entity_id), label=a.title)
        refs.append(ref)
        table_rows.append(
            [
                a.title,
                KIND_LABELS[a.kind],
                a.reason,
                _money(a.expected_value),
                _money(a.amount),
                a.currency,
                ref.type,
                ref.id,
            ]
        )
    facts = {
        "label": "Next best actions",
        "for": whose,
        "count": len(rows),
        "top": rows[0].title if rows else None,
        "top_reason": rows[0].reason if rows else None,
        "top_expected_value": _money(rows[0].expected_value) if rows else None,
    }
    table = Table(
        columns=["Action", "Kind", "Why", "Expected value", "Amount", "Currency", "Record type", "Record id"],
        keys=["title", "kind", "reason", "expected_value", "amount", "currency", "record_type", "record_id"],
        rows=table_rows,
        records=refs,
    )
    return ToolResult(facts=facts, table=table, records=refs)


# Insights ---------------------------------------------------------------------------------------------------------

Part = Literal["anomalies", "deals_at_risk", "churn"]
ALL_PARTS: tuple[Part, ...] = ("anomalies", "deals_at_risk", "churn")
_TYPES = {"deals": "deal", "accounts": "account", "users": "user"}


class InsightsArgs(Args):
    record: RecordArg | None = Field(
        None, description="A deal or account: what is unusual or at risk about it. None: the user's top insights."
    )
    kinds: list[Part] = Field(
        default_factory=lambda: list(ALL_PARTS),
        description="Which insights: anomalies (unusual changes), deals_at_risk (anomalies or rotting), churn "
        "(accounts likely to stop buying).",
    )
    limit: int = Field(10, ge=1, le=50, description="At most this many of each kind.")


def _row(kind: str, ref: RecordRef, severity: str, reason: str, extra: Any = None) -> list[Any]:
    return [kind, ref.label, ref.type, severity, reason, extra]


@tool(
    "insights",
    "Insights on the CRM: anomalies (amount outliers, pushed close dates, stage jumps, activity drops...), deals at "
    "risk and accounts at risk of churn, for one deal or account or the user's top ones, each with its reason.",
    InsightsArgs,
)
def insights_tool(ctx: ToolContext, args: InsightsArgs) -> ToolResult:
    session, actor = ctx.session, ctx.actor
    kinds = set(args.kinds)
    record = args.record
    if record is not None and record.type == "contact":
        return ToolResult(ok=False, error="Insights are kept for deals and accounts; ask about the contact's account")
    rows: list[list[Any]] = []
    refs: list[RecordRef] = []
    facts: dict[str, Any] = {"label": "Insights"}
    if "anomalies" in kinds:
        found = insights.list_anomalies(
            session,
            actor,
            entity_type=None if record is None else f"{record.type}s",
            entity_id=None if record is None else record.id,
            limit=args.limit,
        )
        for a in found:
            ref = RecordRef(type=_TYPES[a.entity_type], id=str(a.entity_id), label=a.entity_name or str(a.entity_id))  # type: ignore[arg-type]
            refs.append(ref)
            rows.append(_row(f"anomaly: {a.code}", ref, a.severity, a.reason))
        facts["anomalies"] = len(found)
        facts["anomaly_reasons"] = [a.reason for a in found]
    if "deals_at_risk" in kinds and (record is None or record.type == "deal"):
        at_risk = insights.deals_at_risk(session, actor, limit=10_000 if record is not None else args.limit)
        if record is not None:
            at_risk = [d for d in at_risk if d.deal_id == record.id]
        for d in at_risk:
            ref = RecordRef(type="deal", id=str(d.deal_id), label=d.name)
            refs.append(ref)
            rows.append(_row("deal at risk", ref, d.worst, "; ".join(d.reasons), _money(d.amount)))
        facts["deals_at_risk"] = len(at_risk)
        facts["at_risk_reasons"] = {d.name: d.reasons for d in at_risk}
    if "churn" in kinds and (record is None or record.type == "account"):
        if record is not None:
            one = churn.account_risk(session, actor, record.id)
            risks = [one] if one is not None else []
        else:
            risks = churn.list_risks(session, actor, limit=args.limit, min_score=churn.MEDIUM)
        for r in risks:
            ref = RecordRef(type="account", id=str(r.account_id), label=r.account_name)
            refs.append(ref)
            reasons = "; ".join(reason.text for reason in r.reasons[:3])
            rows.append(_row("churn risk", ref, r.level, reasons, r.score))
        facts["churn_risks"] = len(risks)
        if record is not None:
            facts["churn"] = (
                None
                if not risks
                else {
                    "score": risks[0].score,
                    "level": risks[0].level,
                    "probability": float(risks[0].probability),
                    "method": risks[0].method,
                    "reasons": [reason.text for reason in risks[0].reasons],
                    "roc_auc": risks[0].measured.roc_auc,
                }
            )
    facts["count"] = len(rows)
    table = Table(
        columns=["Insight", "Record", "Record type", "Severity", "Why", "Amount / score"],
        keys=["kind", "record", "record_type", "severity", "reason", "figure"],
        rows=rows,
        records=refs,
    )
    return ToolResult(facts=facts, table=table, records=refs)
