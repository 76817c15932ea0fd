"""Albedo's proposals over HTTP: read one, confirm it (only then does the CRM change), cancel it, undo it.

A proposal is its user's own: anyone else gets a 404. Confirming runs the action through the same services as the
rest of the API, audited via "albedo" with the conversation id. When the services refuse it at that moment (the
record changed since, a permission was withdrawn) nothing is written, the proposal is kept as `failed`, and the
answer is the error with its status (409, 403, 400 ...) and the proposal in `error.details.proposal`.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import CurrentActor, SessionDep, requires
from api.envelope import Envelope, error_body, error_responses, ok
from core.albedo import proposals
from core.albedo.models import Proposal
from core.albedo.schemas import ProposalRead

router = APIRouter(prefix="/albedo/proposals", tags=["albedo"], dependencies=[requires("albedo", "use")])

_EXAMPLE = {
    "success": True,
    "data": {
        "id": "0193a1f2-7c4e-7d2a-9b1e-2f3c4d5e6f70",
        "action": "move_deal_stage",
        "summary": "Move deal Acme renewal from Proposal to Negotiation",
        "changes": [
            {
                "record": {"type": "deal", "id": "0193a1f2-0000-7000-8000-000000000001", "label": "Acme renewal"},
                "field": "stage",
                "old": "Proposal",
                "new": "Negotiation",
            },
            {
                "record": {"type": "deal", "id": "0193a1f2-0000-7000-8000-000000000001", "label": "Acme renewal"},
                "field": "probability",
                "old": 50,
                "new": 75,
            },
        ],
        "status": "confirmed",
        "conversationId": "0193a1f0-1111-7000-8000-000000000002",
        "messageId": None,
        "arguments": {"deal_id": "0193a1f2-0000-7000-8000-000000000001", "stage": "Negotiation"},
        "result": {
            "records": [{"type": "deal", "id": "0193a1f2-0000-7000-8000-000000000001", "label": "Acme renewal"}]
        },
        "error": None,
        "undoable": True,
        "createdAt": "2026-11-27T09:30:00Z",
        "expiresAt": "2026-11-27T10:30:00Z",
        "decidedAt": "2026-11-27T09:31:12Z",
        "undoneAt": None,
    },
    "meta": {"timestamp": "2026-11-27T09:31:12Z", "requestId": "req_5f2c9a0b1d3e4f60"},
}
_CONFLICT = {
    "success": False,
    "error": {"code": "PROPOSAL_EXPIRED", "message": "This proposal expired; ask again", "details": None},
    "meta": {"timestamp": "2026-11-27T11:00:00Z", "requestId": "req_0a1b2c3d4e5f6071"},
}


def _responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    responses = error_responses(401, 403, 404, *statuses)
    responses[200] = {"content": {"application/json": {"example": _EXAMPLE}}}
    if 409 in responses:
        responses[409] = {**responses[409], "content": {"application/json": {"example": _CONFLICT}}}
    return responses


def _read(proposal: Proposal) -> dict[str, Any]:
    return proposals.to_read(proposal).model_dump(mode="json", by_alias=True)


@router.get("/{proposal_id}", response_model=Envelope[ProposalRead], responses=_responses())
def get_proposal(proposal_id: UUID, actor: CurrentActor, session: SessionDep) -> dict:
    """A proposal of yours: what it would change (record, field, old -> new) or did, and its status."""
    return ok(_read(proposals.get(session, actor, proposal_id)))


@router.post("/{proposal_id}/confirm", response_model=Envelope[ProposalRead], responses=_responses(400, 409))
def confirm_proposal(proposal_id: UUID, actor: CurrentActor, session: SessionDep) -> Any:
    """Carry out a pending proposal. 409 when it is not pending (confirming twice does nothing twice) or expired
    (an hour after it was made); when the services refuse it now, the error's status with the failed proposal."""
    proposal = proposals.confirm(session, actor, proposal_id)
    if proposal.status == "failed":
        error = (proposal.result or {}).get("error", {})
        details = {"proposal": _read(proposal), "reason": error.get("details")}
        body = error_body(error.get("code", "CONFLICT"), proposal.error or "The action failed", details)
        return JSONResponse(body, status_code=int(error.get("status", 409)))
    return ok(_read(proposal))


@router.post("/{proposal_id}/cancel", response_model=Envelope[ProposalRead], responses=_responses(409))
def cancel_proposal(proposal_id: UUID, actor: CurrentActor, session: SessionDep) -> dict:
    """Drop a pending proposal: nothing changes."""
    return ok(_read(proposals.cancel(session, actor, proposal_id)))


@router.post("/{proposal_id}/undo", response_model=Envelope[ProposalRead], responses=_responses(409))
def undo_proposal(proposal_id: UUID, actor: CurrentActor, session: SessionDep) -> dict:
    """Take back a confirmed proposal's change (created records deleted, fields, stages and owners restored). 409
    when the records changed since or the action cannot be undone (deletes)."""
    return ok(_read(proposals.undo(session, actor, proposal_id)))
