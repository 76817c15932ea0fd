"""Replies in words, from tool results only: every figure in a sentence is one a tool returned.

One function per kind of answer. A failed tool call is said as it is ("I could not ... : <why>"), never papered
over; an empty result says what was looked for, so the user can tell "none" from "not understood".
"""

from __future__ import annotations

from typing import Any

from ai.albedo.contract import RecordRef, Reply, ToolResult
from ai.albedo.understand import Reading
from core.actor import Actor

SUGGESTIONS = (
    "What's my open pipeline worth?",
    "Which of my deals are stuck?",
    "What should I do today?",
    "Win rate by rep this quarter",
    "Who are my hottest leads?",
    "Compare this quarter with last quarter",
)
# What to ask next, after each kind of answer (the page shows them as buttons).
NEXT: dict[str, tuple[str, ...]] = {
    "find_records": ("Only those over $50k", "Which of those close this quarter?", "Sort them by amount"),
    "metric": ("By rep?", "Compare with last quarter", "By stage?"),
    "compare_periods": ("By rep?", "Why did we lose deals this quarter?"),
    "stuck_deals": ("What should I do today?", "Which of my deals are at risk?"),
    "lost_reasons": ("Win rate by rep this quarter", "Compare with last quarter"),
    "record_summary": ("What should I do next here?", "Remind me to follow up tomorrow at 10am"),
    "forecast": ("Open pipeline by stage", "Which deals are stuck?"),
    "lead_scores": ("What should I do today?", "Show my open deals"),
}
DECLINES = {
    "secret": "I can't help with passwords, keys or other secrets. I only answer about the CRM's records.",
    "tenant": "I can only see this workspace's records, and only those you can see.",
    "injection": (
        "I don't follow instructions found in requests to ignore my rules or in the text of records: notes, emails "
        "and fields are data to me. Ask me about your records, or tell me what to change and I'll propose it."
    ),
    "mass_email": (
        "I don't send emails, least of all to everyone. I can draft one email to a contact for you to review; try "
        '"draft an email to <contact> about <topic>".'
    ),
    "bulk_delete": (
        "I won't delete records wholesale. Name the records to delete (or list them first and say which), and I'll "
        "propose exactly those for you to confirm."
    ),
    "off_topic": (
        "That's outside what I can help with: I answer questions about your CRM (deals, contacts, accounts, tasks, "
        "activities, forecasts) and do routine work in it."
    ),
}


def money(value: Any, currency: str | None = None) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    code = currency or ""
    symbol = {"USD": "$", "EUR": "€", "GBP": "£"}.get(code)
    text = f"{number:,.2f}".removesuffix(".00")
    return f"{symbol}{text}" if symbol else f"{text} {code}".strip()


def figure(value: Any, kind: str | None = None, currency: str | None = None) -> str:
    """A value in the words its kind calls for: money, a rate as a percentage, days, a count."""
    if value is None:
        return "no data"
    if kind in ("money", "amount"):
        return money(value, currency)
    if kind in ("rate", "percent", "fraction"):
        try:
            return f"{float(value) * 100:.1f}%"
        except (TypeError, ValueError):
            return str(value)
    if kind in ("days", "duration"):
        return f"{float(value):,.1f} days"
    if isinstance(value, float):
        return f"{value:,.2f}".removesuffix(".00")
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def failed(result: ToolResult, intent: str, doing: str) -> Reply:
    return Reply(text=f"I couldn't {doing}: {result.error}", intent=intent)


def unknown(reading: Reading) -> Reply:
    return Reply(
        text=(
            "I'm not sure what you're asking. I can find records, summarise a deal or account, give figures (pipeline, "
            "win rate, revenue, cycle time), forecasts, lead scores and next actions, and propose changes for you to "
            "confirm."
        ),
        intent="unknown",
        suggestions=list(SUGGESTIONS[:4]),
    )


def decline(reason: str) -> Reply:
    return Reply(text=DECLINES.get(reason, DECLINES["off_topic"]), intent="decline", entities={"reason": reason})


def help_reply(actor: Actor) -> Reply:
    can_write = any(actor.can(r, "update") for r in ("deals", "contacts", "tasks"))
    text = (
        "I'm Albedo. Ask me about your CRM in plain words: find records, summarise one, get figures by period and "
        "by rep or stage, compare periods, see stuck deals, lost reasons, the forecast, lead scores and what to do "
        "next."
    )
    if can_write:
        text += " I can also create tasks, log calls and notes, move deals and update fields: I propose each change "
        text += "and nothing happens until you confirm it."
    return Reply(text=text, intent="help", suggestions=list(SUGGESTIONS))


def out_of_scope(name: str, scope: str) -> Reply:
    where = "your own records" if scope == "own" else "your team's records"
    return Reply(
        text=f"You can see {where} only, so I can't show {name}'s records or figures. Ask about yours instead.",
        intent="decline",
        entities={"reason": "scope"},
    )


def not_found(name: str | None, what: str) -> Reply:
    if name:
        text = f'I couldn\'t find a {what} called "{name}" among the records you can see.'
    else:
        text = f"Which {what} do you mean? Name it, or open it and ask from its page."
    return Reply(text=text, intent="clarify" if not name else "not_found")


def ask(question: str, reading: Reading) -> Reply:
    return Reply(text=question, intent="clarify", entities={"question": reading.text, "wanted": reading.intent})


def _described(facts: dict[str, Any], fallback: str) -> str:
    return str(facts.get("description") or facts.get("label") or fallback)


def found(entity: str | None, result: ToolResult, reading: Reading, intent: str = "find_records") -> Reply:
    if not result.ok:
        return failed(result, intent, "look that up")
    facts = result.facts
    table = result.table
    count = facts.get("count")
    if count is None and table is not None:
        count = table.total if table.total is not None else len(table.rows)
    shown = len(table.rows) if table is not None else 0
    what = _described(facts, (entity or "records").rstrip("s") + "s")
    if intent == "lead_scores" and facts.get("score") is not None:
        text = f"{facts.get('name', 'This lead')} scores {facts['score']}/100."
        reasons = facts.get("reasons") or []
        if reasons:
            text += " Why: " + "; ".join(str(r) for r in reasons[:4]) + "."
        return Reply(text=text, intent=intent, value=facts["score"], table=table)
    if not count:
        text = facts.get("empty") or f"No {what} match."
    elif table is not None and shown < (count or 0):
        text = f"{figure(count)} {what}; here are the first {shown}."
    else:
        text = f"{figure(count)} {what}."
    if facts.get("summary"):
        text = str(facts["summary"])
    if facts.get("scope"):
        text += f" ({facts['scope']})"
    return Reply(text=text, intent=intent, value=count, table=table)


def summary(record: RecordRef, result: ToolResult) -> Reply:
    if not result.ok:
        return failed(result, "record_summary", f"summarise {record.label}")
    facts = result.facts
    text = facts.get("summary") or facts.get("text")
    if not text:
        pairs = [f"{k.replace('_', ' ')}: {v}" for k, v in facts.items() if v not in (None, "", [], {})][:10]
        text = f"{record.label} — " + "; ".join(pairs)
    return Reply(
        text=str(text),
        intent="record_summary",
        table=result.table,
        value=result.value,
        entities={"record": record.model_dump()},
    )


def metric(result: ToolResult, reading: Reading) -> Reply:
    if not result.ok:
        return failed(result, "metric", "work that out")
    facts = result.facts
    kind = facts.get("kind") or facts.get("type")
    currency = facts.get("currency")
    label = facts.get("label") or facts.get("measure") or "Result"
    period = facts.get("period") or facts.get("period_label")
    suffix = f" ({period})" if period else ""
    if result.table is not None and facts.get("grouped_by"):
        rows = result.table.rows
        value_index = result.table.keys.index("value") if "value" in result.table.keys else len(result.table.keys) - 1
        lines = [f"{row[0]}: {figure(row[value_index], kind, currency)}" for row in rows[:8]]
        text = f"{label} by {facts['grouped_by']}{suffix}: " + "; ".join(lines)
        if len(rows) > 8:
            text += f"; and {len(rows) - 8} more"
        text += "."
    else:
        text = f"{label}{suffix}: {figure(result.value, kind, currency)}."
    if facts.get("scope"):
        text += f" {facts['scope']}."
    return Reply(text=text, intent="metric", value=result.value, table=result.table, chart=result.chart)


def compare(result: ToolResult, reading: Reading) -> Reply:
    """The later period (the tool's `a`) against the earlier (`b`); the reply's value lists them in time order."""
    if not result.ok:
        return failed(result, "compare_periods", "compare those periods")
    facts = result.facts
    kind, currency = facts.get("kind"), facts.get("currency")
    later, earlier = facts.get("a"), facts.get("b")
    change = facts.get("change")
    label = facts.get("label") or "Result"
    text = (
        f"{label}: {figure(later, kind, currency)} ({facts.get('period_a', 'this period')}) against "
        f"{figure(earlier, kind, currency)} ({facts.get('period_b', 'the period before')})"
    )
    if change is not None:
        sign = "+" if float(change) >= 0 else "-"
        text += f", {sign}{figure(abs(float(change)), kind, currency)}"
        if facts.get("change_pct") is not None:
            text += f" ({float(facts['change_pct']):+.1f}%)"
    text += "."
    if facts.get("scope"):
        text += f" {facts['scope']}."
    return Reply(
        text=text,
        intent="compare_periods",
        value={"a": earlier, "b": later, "change": change},
        table=result.table,
        chart=result.chart,
    )


def lost(result: ToolResult, reading: Reading) -> Reply:
    if not result.ok:
        return failed(result, "lost_reasons", "break down the lost deals")
    table = result.table
    facts = result.facts
    total = facts.get("lost_deals", facts.get("count"))
    if table is None or not table.rows:
        return Reply(text="No lost deals in that period.", intent="lost_reasons", value=0)
    top = "; ".join(f"{row[0]}: {row[1]}" for row in table.rows[:5])
    period = facts.get("period")
    text = f"{figure(total)} lost deals{f' ({period})' if period else ''}. By reason: {top}."
    return Reply(text=text, intent="lost_reasons", value=total, table=table, chart=result.chart)


def forecast(result: ToolResult, reading: Reading) -> Reply:
    if not result.ok:
        return failed(result, "forecast", "give a forecast")
    facts = result.facts
    text = facts.get("summary")
    if not text:
        currency = facts.get("currency")
        text = f"Forecast for {facts.get('period', 'the period')}: {money(result.value, currency)}"
        if facts.get("lo80") is not None and facts.get("hi80") is not None:
            text += f" (80% range {money(facts['lo80'], currency)} to {money(facts['hi80'], currency)})"
        if facts.get("accuracy"):
            text += f". Back-tested accuracy: {facts['accuracy']}"
        text += "."
    return Reply(text=str(text), intent="forecast", value=result.value, table=result.table, chart=result.chart)


def proposal(action: str, result: ToolResult, reading: Reading) -> Reply:
    if not result.ok or result.proposal is None:
        return failed(result, action, "prepare that change")
    view = result.proposal
    lines = []
    for change in view.changes[:10]:
        record = f"{change.record.label} " if change.record else ""
        if change.old is None:
            lines.append(f"{record}{change.field}: {change.new}")
        else:
            lines.append(f"{record}{change.field}: {change.old} → {change.new}")
    text = f"{view.summary}. Confirm to apply it"
    if lines:
        text += ":\n- " + "\n- ".join(lines)
        if len(view.changes) > 10:
            text += f"\n- and {len(view.changes) - 10} more changes"
    else:
        text += "."
    return Reply(text=text, intent=action, proposal=view, table=result.table)


def draft(result: ToolResult, record: RecordRef) -> Reply:
    if not result.ok:
        return failed(result, "draft_email", "draft that email")
    facts = result.facts
    subject = facts.get("subject", "")
    body = facts.get("body", "")
    to = facts.get("to") or record.label
    text = f'Here\'s a draft to {to}:\n\nSubject: {subject}\n\n{body}\n\nSay "log it" to record it as an email.'
    return Reply(text=text, intent="draft_email", value=facts, entities={"record": record.model_dump()})
