"""Albedo's tools: typed functions over core services, the warehouse and ai/, called with the user's actor.

Both engines reach the CRM only through `call()`: it validates the arguments against the tool's pydantic model
(again, whatever the engine produced), runs the tool with the caller's `ToolContext` (so permissions, record
scope, tenancy and audit are those of the UI and the API), and turns a refused or invalid call into a failed
`ToolCall` with a message instead of an exception. Write tools never write: they return a proposal, and only
its confirmation (core/albedo/proposals) changes anything.

A tool module registers its tools with `@tool(...)`; `TOOLS` is the catalogue the engines bind (the Claude
engine as tool definitions with JSON schemas, the offline engine by name).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, TypeVar
from uuid import UUID

from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from ai.albedo.contract import ToolCall, ToolResult
from core.actor import Actor
from core.errors import DomainError

A = TypeVar("A", bound=BaseModel)

TOOL_MODULES = (
    "ai.albedo.tools.lookup",
    "ai.albedo.tools.records",
    "ai.albedo.tools.metrics",
    "ai.albedo.tools.insights",
    "ai.albedo.tools.actions",
)


@dataclass
class ToolContext:
    """Who asks, when, and in which calendar: every tool call gets one."""

    session: Session
    actor: Actor
    today: date
    now: datetime
    tz: str = "UTC"
    fiscal_start_month: int = 1
    conversation_id: UUID | None = None
    engine: str = "offline"
    memo: dict[str, Any] = field(default_factory=dict)  # per-request cache (picklists, names)


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    args: type[BaseModel]
    run: Callable[[ToolContext, Any], ToolResult]
    writes: bool = False

    def schema(self) -> dict[str, Any]:
        """The tool as an Anthropic tool definition (name, description, JSON schema of the arguments)."""
        return {"name": self.name, "description": self.description, "input_schema": self.args.model_json_schema()}


TOOLS: dict[str, Tool] = {}


def tool(name: str, description: str, args: type[A], *, writes: bool = False) -> Callable[..., Any]:
    def register(fn: Callable[[ToolContext, A], ToolResult]) -> Callable[[ToolContext, A], ToolResult]:
        if name in TOOLS:
            raise RuntimeError(f"tool {name!r} is registered twice")
        TOOLS[name] = Tool(name, description, args, fn, writes)
        return fn

    return register


def load() -> dict[str, Tool]:
    """Import every tool module (once) and return the catalogue."""
    for module in TOOL_MODULES:
        importlib.import_module(module)
    return TOOLS


def _validation_message(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error["loc"]) or "arguments"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


def call(ctx: ToolContext, name: str, arguments: dict[str, Any]) -> tuple[ToolCall, ToolResult]:
    """Run one tool for the context's actor. Bad arguments, refusals and missing records come back as a failed
    result with the reason; anything else is a bug and propagates."""
    found = load().get(name)
    if found is None:
        result = ToolResult(ok=False, error=f"There is no tool named {name!r}")
        return ToolCall(name=name, arguments=arguments, ok=False, error=result.error), result
    try:
        args = found.args.model_validate(arguments)
        with ctx.session.begin_nested():  # a failed tool leaves nothing behind
            result = found.run(ctx, args)
    except ValidationError as exc:
        result = ToolResult(ok=False, error=_validation_message(exc))
    except DomainError as exc:
        result = ToolResult(ok=False, error=exc.message)
    call_ = ToolCall(name=name, arguments=arguments, ok=result.ok, error=result.error, records=result.records[:50])
    return call_, result
