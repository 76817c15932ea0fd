"""Calling core/ from a page: one unit of work per call, as the signed-in actor, with failures shown as
messages (never a traceback) and caches cleared after every write, so users always see their own change."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import streamlit as st
from pydantic import ValidationError as SchemaError

from app.ui.session import request_context
from core.actor import Actor
from core.db import reset_context, set_context, unit_of_work
from core.errors import DomainError, NotFound, PermissionDenied

T = TypeVar("T")


def problem_text(exc: DomainError) -> str:
    """The error's message, with the fields to fix when the service named them."""
    lines = [exc.message]
    if isinstance(exc.details, list):
        for item in exc.details:
            if isinstance(item, dict) and item.get("message"):
                field = item.get("field")
                lines.append(f"- {field}: {item['message']}" if field else f"- {item['message']}")
    return "\n".join(lines)


def schema_problems(exc: SchemaError) -> str:
    """A pydantic error (a form's values did not fit the schema) in the words of the form's fields."""
    lines = ["Check these fields:"]
    for err in exc.errors():
        field = ".".join(str(p) for p in err.get("loc", ())) or "form"
        lines.append(f"- {field.replace('_', ' ')}: {err.get('msg', 'invalid')}")
    return "\n".join(lines)


def _run(actor: Actor, fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]) -> T:
    token = set_context(request_context())
    try:
        with unit_of_work(actor) as session:
            return fn(session, actor, *args, **kwargs)
    finally:
        reset_context(token)


def load(actor: Actor, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """A read the page cannot go on without: on a domain error (not found, no permission) the message is shown
    and the page stops there."""
    try:
        return _run(actor, fn, args, kwargs)
    except DomainError as exc:
        st.error(problem_text(exc), icon=":material/error:")
        st.stop()
        raise  # unreachable: st.stop() raises


def find(actor: Actor, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
    """A read that may find nothing the actor can see (a linked account out of their scope): None, with no
    message and the page going on."""
    try:
        return _run(actor, fn, args, kwargs)
    except (NotFound, PermissionDenied):
        return None


def attempt(
    actor: Actor,
    fn: Callable[..., T],
    *args: Any,
    done: str | None = None,
    where: Any = None,
    clear: tuple[str, ...] = (),
    rerun: bool = False,
    **kwargs: Any,
) -> T | None:
    """A write: its own transaction; on success the caches are cleared and `done` is toasted; on a domain
    error, or a schema the form's values do not fit (build it inside `fn`), the message is shown (in `where`,
    e.g. a form's container) and None is returned, with nothing written and the form's values kept. `clear`
    names the widget keys to empty after a success (forms must not `clear_on_submit`, which loses a failed
    submission's input). With `rerun`, a success starts the page again (showing the change and the toast)."""
    try:
        result = _run(actor, fn, args, kwargs)
    except DomainError as exc:
        (where or st).error(problem_text(exc), icon=":material/error:")
        return None
    except SchemaError as exc:
        (where or st).error(schema_problems(exc), icon=":material/error:")
        return None
    changed()
    for key in clear:
        st.session_state.pop(key, None)
    if done:
        remember_toast(done)
    if rerun:
        st.rerun()
    return result


def changed() -> None:
    """After a write: forget every cached read, so the next run shows the change."""
    st.cache_data.clear()


TOAST = "cf_toast"


def remember_toast(message: str) -> None:
    """A toast that survives the rerun a write usually triggers (shown by the shell on the next run)."""
    st.session_state[TOAST] = message


def show_pending_toast() -> None:
    message = st.session_state.pop(TOAST, None)
    if message:
        st.toast(message, icon=":material/check_circle:")
