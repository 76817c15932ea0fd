"""Albedo's write tools: each one only *proposes*. It validates the request, stores a proposal showing exactly what
would change (core.albedo.proposals.propose: the user's permissions and record scope apply) and returns it; the
record changes only when the user confirms it in the page or by `POST /albedo/proposals/{id}/confirm`.

`draft_email` writes nothing and proposes nothing: it drafts an email from the contact or deal (recipient, account,
deal, last activity) by a template; the user may then ask to log it (`log_activity`, type email).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from ai.albedo.contract import Change, ProposalView, RecordRef, ToolResult
from ai.albedo.tools import ToolContext, tool
from core.accounts import service as accounts
from core.activities import service as activities
from core.albedo import actions, proposals
from core.contacts import service as contacts
from core.deals import service as deals
from core.errors import NotFound, ValidationFailed


def proposal_view(proposal: Any) -> ProposalView:
    """A stored proposal as the reply carries it."""
    view = proposals.to_view(proposal)
    return ProposalView(
        id=view["id"],
        action=view["action"],
        summary=view["summary"],
        changes=[
            Change(
                record=RecordRef(**c["record"]) if c["record"] else None, field=c["field"], old=c["old"], new=c["new"]
            )
            for c in view["changes"]
        ],
        status=view["status"],
    )


def _propose(ctx: ToolContext, action: str, args: BaseModel) -> ToolResult:
    if ctx.conversation_id is None:
        return ToolResult(ok=False, error="Changes are proposed within a conversation; start one first")
    proposal = proposals.propose(
        ctx.session, ctx.actor, ctx.conversation_id, action, args.model_dump(mode="json", exclude_unset=True)
    )
    view = proposal_view(proposal)
    records = {(c.record.type, c.record.id): c.record for c in view.changes if c.record is not None}
    facts = {
        "summary": proposal.summary,
        "action": action,
        "proposal_id": str(proposal.id),
        "records": len(records),
        "changes": len(view.changes),
        "expires_at": proposal.expires_at.isoformat(),
    }
    return ToolResult(facts=facts, records=list(records.values()), proposal=view)


# The write tools: each validates its arguments (the model in core/albedo/actions.py) and proposes.
WRITES: tuple[tuple[str, str, type[BaseModel]], ...] = (
    (
        "create_task",
        "Propose a task (title, due date, priority, assignee, about a contact, account or deal). Nothing is created "
        "until the user confirms.",
        actions.CreateTaskArgs,
    ),
    (
        "log_activity",
        "Propose logging a call, meeting, email or note about a contact, account or deal. Nothing is logged until the "
        "user confirms.",
        actions.LogActivityArgs,
    ),
    (
        "move_deal_stage",
        "Propose moving a deal to another stage of its pipeline (the stage by name or id; a lost stage needs the lost "
        "reason). Nothing moves until the user confirms.",
        actions.MoveDealStageArgs,
    ),
    (
        "update_fields",
        "Propose changing fields (API names, customFields for custom fields) of 1 to 200 contacts, accounts, deals or "
        "tasks; the proposal lists every record and field, old and new. Nothing changes until the user confirms.",
        actions.UpdateFieldsArgs,
    ),
    (
        "assign_owner",
        "Propose a new owner for contacts, accounts or deals (a new assignee for tasks). Nothing changes until the "
        "user confirms.",
        actions.AssignOwnerArgs,
    ),
    (
        "create_record",
        "Propose a new contact, account or deal with the fields of its create form. Nothing is created until the user "
        "confirms.",
        actions.CreateRecordArgs,
    ),
    (
        "delete_records",
        "Propose deleting contacts, accounts, deals or tasks (needs delete permission); the proposal names every "
        "record. Nothing is deleted until the user confirms.",
        actions.DeleteRecordsArgs,
    ),
)


def _write_tool(action: str) -> Callable[[ToolContext, BaseModel], ToolResult]:
    def run(ctx: ToolContext, args: BaseModel) -> ToolResult:
        return _propose(ctx, action, args)

    return run


for _name, _description, _args in WRITES:
    tool(_name, _description, _args, writes=True)(_write_tool(_name))


# draft_email ---------------------------------------------------------------------------------------------


class DraftEmailArgs(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True)

    contact_id: UUID | None = Field(None, description="The recipient.")
    deal_id: UUID | None = Field(None, description="The deal the email is about (its contact is the recipient).")
    topic: str | None = Field(None, max_length=200, description="What the email is about, in a few words.")

    @model_validator(mode="after")
    def _one(self) -> DraftEmailArgs:
        if self.contact_id is None and self.deal_id is None:
            raise ValueError("name the contact or the deal the email is for")
        return self


def _last_activity(ctx: ToolContext, field: str, record_id: UUID) -> dict[str, Any] | None:
    page = activities.list_activities(
        ctx.session, ctx.actor, {field: [str(record_id)], "sort": ["-occurredAt"], "limit": ["1"]}
    )
    return page.items[0] if page.items else None


@tool(
    "draft_email",
    "Draft an email to a contact (or a deal's contact) from a template: greeting, the deal and account, the last "
    "activity. Sends and saves nothing; the user may then ask to log it as an email activity.",
    DraftEmailArgs,
)
def draft_email(ctx: ToolContext, args: DraftEmailArgs) -> ToolResult:
    deal = deals.get(ctx.session, ctx.actor, args.deal_id) if args.deal_id else None
    contact_id = args.contact_id or (deal.contact_id if deal is not None else None)
    if contact_id is None:
        raise ValidationFailed(f"Deal {deal.name if deal else ''} has no contact to write to; name one")
    contact = contacts.get(ctx.session, ctx.actor, contact_id)
    account_id = contact.account_id or (deal.account_id if deal is not None else None)
    account = None
    if account_id is not None:
        try:
            account = accounts.get(ctx.session, ctx.actor, account_id)
        except NotFound:
            account = None
    last = _last_activity(ctx, "dealId", deal.id) if deal is not None else None
    last = last or _last_activity(ctx, "contactId", contact.id)
    topic = args.topic or (deal.name if deal is not None else None)
    subject = f"Following up: {topic}" if topic else "Following up"
    lines = [f"Hi {contact.first_name},", ""]
    if last is not None:
        when = str(last["occurredAt"])[:10]
        lines.append(f"Thank you for our {last['type']} on {when} ({last['subject']}).")
    else:
        lines.append("I hope you are well.")
    if deal is not None:
        company = f" for {account.name}" if account is not None else ""
        lines.append(
            f"I wanted to follow up on {deal.name}{company}" + (f": {deal.next_step}." if deal.next_step else ".")
        )
    elif account is not None:
        lines.append(f"I wanted to follow up on how things are going at {account.name}.")
    lines += ["", "Would you have time for a short call this week?", "", "Best regards,"]
    body = "\n".join(lines)
    records = [RecordRef(type="contact", id=str(contact.id), label=f"{contact.first_name} {contact.last_name}")]
    if deal is not None:
        records.append(RecordRef(type="deal", id=str(deal.id), label=deal.name))
    draft = {"to": contact.email, "subject": subject, "body": body}
    facts = {
        **draft,
        "recipient": f"{contact.first_name} {contact.last_name}",
        "account": account.name if account else None,
        "deal": deal.name if deal else None,
        "contact_id": str(contact.id),
        "deal_id": str(deal.id) if deal else None,
        "has_email": contact.email is not None,
    }
    return ToolResult(facts=facts, value=draft, records=records)
