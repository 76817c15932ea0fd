"""The offline engine: no key, no network. Reads the request (ai/albedo/understand), resolves names against the
workspace's records, keeps the conversation's thread (follow-ups, "it", "those", answers to its own questions),
calls one tool, and writes the reply from the tool's result by template.

It never runs text from records: record text reaches it only inside tool results, which it formats, never reads
as a request. Every figure in a reply is a tool's figure.
"""

from __future__ import annotations

import re
from typing import Any

from ai.albedo import render, understand
from ai.albedo.contract import Option, RecordRef, Reply, ToolCall, ToolResult
from ai.albedo.engine import Turn
from ai.albedo.tools import ToolContext, call
from ai.albedo.understand import Reading, clean_name, name_after

KINDS = {"deals": "deal", "contacts": "contact", "accounts": "account", "tasks": "task", "activities": "activity"}
PLURAL = {v: k for k, v in KINDS.items()}
ORDINALS = {
    "first": 0,
    "1st": 0,
    "second": 1,
    "2nd": 1,
    "third": 2,
    "3rd": 2,
    "fourth": 3,
    "4th": 3,
    "fifth": 4,
    "5th": 4,
    "last": -1,
    "top": 0,
    "one": 0,
    "1": 0,
    "2": 1,
    "3": 2,
    "4": 3,
    "5": 4,
}
REFINE = re.compile(
    r"^\s*(and|but|only|just|now|also|then|ok|okay|what about|how about|which of (those|them|these)|"
    r"of (those|them|these)|filter (those|them)|narrow|among (those|them|these)|same for|and for|by|per|"
    r"grouped by|split by|broken down by)\b"
)
PRONOUN = re.compile(
    r"\b(it|its|that one|this one|that deal|this deal|that account|this account|that contact|"
    r"this contact|him|her|them|that|this|the deal|the account|the contact)\b"
)
ORDINAL = re.compile(r"\b(?:the\s+)?(first|second|third|fourth|fifth|last|1st|2nd|3rd|4th|5th)(?:\s+one)?\b")
CLEAR_SCORE = 88.0  # a name match this good (and clearly ahead of the next) is taken without asking
MARGIN = 6.0


class OfflineEngine:
    name = "offline"

    def respond(self, ctx: ToolContext, turn: Turn) -> Reply:
        return Conversation(ctx, turn).answer()


class Conversation:
    """One request in its conversation: the reading, the thread it continues, the calls it makes."""

    def __init__(self, ctx: ToolContext, turn: Turn) -> None:
        self.ctx = ctx
        self.turn = turn
        self.calls: list[ToolCall] = []
        self.previous = next((m for m in reversed(turn.history) if m.role == "assistant"), None)
        self.vocab = self._tool("vocabulary", {}, record=False).facts
        self.pinned: dict[str, RecordRef] = {}

    # Tools ------------------------------------------------------------------------------------------------------

    def _tool(self, name: str, arguments: dict[str, Any], *, record: bool = True) -> ToolResult:
        made, result = call(self.ctx, name, arguments)
        if record:
            self.calls.append(made)
        return result

    # The answer ---------------------------------------------------------------------------------------------------

    def answer(self) -> Reply:
        text = self.turn.text
        question = self._clarified(text)
        if question is not None:
            text = question
        reading = understand.read(
            text,
            self.vocab,
            today=self.ctx.today,
            fiscal_start_month=self.ctx.fiscal_start_month,
            tz=self.ctx.tz,
            use_model=False,
        )
        reply = self._continue(reading)
        if reply is None:
            if reading.intent == "unknown":
                understand.classify(reading)
            reply = self._dispatch(reading)
        reply.tool_calls = self.calls + reply.tool_calls
        if not reply.suggestions and reply.intent in render.NEXT and not any(not c.ok for c in reply.tool_calls):
            reply.suggestions = list(render.NEXT[reply.intent])
        entities = reading.slots() | reply.entities
        reply.entities = entities
        if self.turn.on_text is not None:
            self.turn.on_text(reply.text)
        return reply

    def _dispatch(self, reading: Reading) -> Reply:
        handler = getattr(self, f"_{reading.intent}", None)
        if handler is None:
            return render.unknown(reading)
        return handler(reading)

    # The thread ---------------------------------------------------------------------------------------------------

    def _previous_call(self) -> ToolCall | None:
        if self.previous is None or not self.previous.data:
            return None
        calls = [ToolCall.model_validate(c) for c in self.previous.data.get("tool_calls", [])]
        main = [c for c in calls if c.name not in ("vocabulary", "resolve_records") and c.ok]
        return main[-1] if main else None

    def _previous_records(self) -> list[RecordRef]:
        if self.previous is None or not self.previous.data:
            return []
        table = self.previous.data.get("table") or {}
        return [RecordRef.model_validate(r) for r in table.get("records") or []]

    def _clarified(self, text: str) -> str | None:
        """An answer to Albedo's own question ("which Acme?"): the original request with the chosen record."""
        previous = self.previous
        if previous is None or previous.intent != "clarify" or not previous.data:
            return None
        options = [Option.model_validate(o) for o in previous.data.get("options") or []]
        if not options:
            return None
        norm = understand.normalise(text)
        chosen: Option | None = None
        for option in options:
            if norm == understand.normalise(option.reply) or norm == understand.normalise(option.label):
                chosen = option
        if chosen is None:
            ordinal = ORDINAL.search(norm) or re.fullmatch(r"\s*#?(\d)\s*", norm)
            if ordinal:
                index = ORDINALS.get(ordinal.group(1), None)
                if index is not None and -len(options) <= index < len(options):
                    chosen = options[index]
        if chosen is None:
            best = max(options, key=lambda o: understand.similar(norm, o.label))
            if understand.similar(norm, best.label) >= 80:
                chosen = best
        if chosen is None or chosen.record is None:
            return None
        entities = previous.entities or {}
        span = entities.get("ambiguous")
        if span:
            self.pinned[span.lower()] = chosen.record
        return entities.get("question")

    def _continue(self, reading: Reading) -> Reply | None:
        """A follow-up that narrows or re-times the previous answer ("which of those are in software?", "what about
        last quarter?")."""
        before = self._previous_call()
        if before is None or not REFINE.search(reading.norm):
            return None
        if reading.intent not in ("unknown", "find_records", before.name):
            return None  # a request of its own ("and what's the win rate?", "move it to Negotiation")
        if before.name == "find_records":
            return self._find_records(reading, base=before.arguments)
        if before.name in ("metric", "compare_periods", "lost_reasons", "stuck_deals", "forecast"):
            return self._dispatch_again(before, reading)
        return None

    def _dispatch_again(self, before: ToolCall, reading: Reading) -> Reply:
        previous_intent = before.name
        reading.intent = previous_intent
        earlier = understand.read(
            next((m.content for m in reversed(self.turn.history) if m.role == "user"), ""),
            self.vocab,
            today=self.ctx.today,
            fiscal_start_month=self.ctx.fiscal_start_month,
            tz=self.ctx.tz,
            use_model=False,
        )
        for key in ("measure", "group_by", "entity", "status", "owner", "when", "amount_filter"):
            if getattr(reading, key) is None and getattr(earlier, key) is not None:
                setattr(reading, key, getattr(earlier, key))
        for key in ("stages", "sources", "industries", "users"):
            if not getattr(reading, key):
                setattr(reading, key, getattr(earlier, key))
        return self._dispatch(reading)

    def _record_in_context(self, reading: Reading, kinds: tuple[str, ...]) -> RecordRef | None:
        """The record "it", "that deal" or "the second one" means: a row of the last answer, the record the last
        answer was about, or the record the conversation was opened from."""
        records = [r for r in self._previous_records() if r.type in kinds]
        ordinal = ORDINAL.search(reading.norm)
        if ordinal and records:
            index = ORDINALS[ordinal.group(1)]
            if -len(records) <= index < len(records):
                return records[index]
        if PRONOUN.search(reading.norm) or ordinal:
            about = self._previous_about(kinds)
            if about is not None:
                return about
            if len(records) == 1:
                return records[0]
            return self._context_record(kinds)
        return None

    def _previous_about(self, kinds: tuple[str, ...]) -> RecordRef | None:
        """The record the last answer was about (a summary's, a proposal's), if of one of these kinds."""
        if self.previous is not None:
            about = (self.previous.entities or {}).get("record")
            if about and about.get("type") in kinds:
                return RecordRef.model_validate(about)
        return None

    def _context_record(self, kinds: tuple[str, ...]) -> RecordRef | None:
        context = self.turn.context or {}
        kind = KINDS.get(context.get("entityType") or context.get("entity_type") or "")
        if kind in kinds:
            return RecordRef(
                type=kind,
                id=str(context.get("entityId") or context.get("entity_id")),
                label=context.get("label") or kind,
            )  # type: ignore[arg-type]
        return None

    # Names ----------------------------------------------------------------------------------------------------------

    def resolve(self, name: str | None, kinds: tuple[str, ...], reading: Reading) -> RecordRef | Reply | None:
        """The record a name means, or a clarifying question (a Reply) when several match, or None."""
        if not name:
            return None
        pinned = self.pinned.get(name.lower())
        if pinned is not None:
            return pinned
        if kinds == ("task",):
            return self._resolve_task(name, reading)
        types = [PLURAL[k] for k in kinds if k in PLURAL and k in ("deal", "contact", "account")]
        result = self._tool("resolve_records", {"name": name[:200], "types": types, "limit": 5})
        matches = result.facts.get("matches") or [] if result.ok else []
        if not matches:
            return None
        best = matches[0]
        if best["score"] < 60:
            return None
        close = [m for m in matches if m["score"] >= best["score"] - MARGIN and m["score"] >= 70]
        if best["score"] > 100 and sum(1 for m in matches if m["score"] > 100) == 1:
            close = [best]
        if len(close) == 1 and best["score"] >= CLEAR_SCORE - 10 or best["score"] >= CLEAR_SCORE and len(close) == 1:
            return RecordRef(type=best["type"], id=best["id"], label=best["label"])
        options = [
            Option(
                label=f"{m['label']} ({m['type']})",
                reply=f"{m['label']} ({m['type']})",
                record=RecordRef(type=m["type"], id=m["id"], label=m["label"]),
            )
            for m in (close or matches)[:5]
        ]
        return Reply(
            text=f'Which "{name}" do you mean?',
            intent="clarify",
            options=options,
            entities={"question": reading.text, "ambiguous": name.lower(), "wanted": reading.intent},
        )

    def _resolve_task(self, name: str, reading: Reading) -> RecordRef | Reply | None:
        """A task by its title, among the tasks the user can see (tasks are not in the name search)."""
        result = self._tool("find_records", {"entity": "tasks", "text": name[:200], "limit": 5})
        rows = result.table.records if result.ok and result.table else []
        scored = sorted(((understand.similar(name, r.label), r) for r in rows), key=lambda p: -p[0])
        if not scored or scored[0][0] < 70:
            return None
        close = [r for score, r in scored if score >= scored[0][0] - MARGIN]
        if len(close) == 1 or scored[0][0] >= 100 and sum(1 for sc, _ in scored if sc >= 100) == 1:
            return scored[0][1]
        options = [Option(label=f"{r.label} (task)", reply=f"{r.label} (task)", record=r) for r in close[:5]]
        return Reply(
            text=f'Which task "{name}" do you mean?',
            intent="clarify",
            options=options,
            entities={"question": reading.text, "ambiguous": name.lower(), "wanted": reading.intent},
        )

    def target(self, reading: Reading, name: str | None, kinds: tuple[str, ...]) -> RecordRef | Reply | None:
        """A record named in the request, else one referred to ("it", "the first one"), else the page's record."""
        found = self.resolve(name, kinds, reading) if name else None
        if found is None:
            found = self._record_in_context(reading, kinds)
        if found is None and not name:
            found = self._context_record(kinds)
        return found

    # Safety and chat ------------------------------------------------------------------------------------------------

    def _decline(self, reading: Reading) -> Reply:
        return render.decline(reading.reason or "off_topic")

    def _help(self, reading: Reading) -> Reply:
        return render.help_reply(self.ctx.actor)

    # Reads ----------------------------------------------------------------------------------------------------------

    def _scope_probe(self, reading: Reading) -> Reply | None:
        """A rep who may see only their own records asks about someone else's: say so, show nothing of theirs."""
        if self.ctx.actor.scope == "all" or not reading.users:
            return None
        others = [u for u in reading.users if u["id"] != str(self.ctx.actor.user_id)]
        if not others:
            return None
        return render.out_of_scope(others[0]["name"], self.ctx.actor.scope)

    def _owner(self, reading: Reading) -> str | None:
        if reading.users:
            return reading.users[0]["id"]
        return "me" if reading.owner == "me" else None

    def _find_records(self, reading: Reading, base: dict[str, Any] | None = None) -> Reply:
        probe = self._scope_probe(reading)
        if probe is not None:
            return probe
        args = dict(base or {})
        entity = args.get("entity") or reading.entity or "deals"
        if base and reading.entity and reading.entity != entity and reading.entity != "contacts":
            entity = reading.entity
        filters = list(args.get("filters") or [])
        account = None
        if not base:
            opening = re.match(
                r"^\s*(open|pull up|look up)\s+(?!(my|our|all|the)?\s*(deals|tasks|contacts|accounts))", reading.norm
            )
            if (reading.entity is None or opening) and (not has_filters(reading) or opening):
                # "show me Acme renewal", "open Globex": a record, by name
                named = clean_name(re.sub(SHOW_WORDS, "", reading.text, flags=re.IGNORECASE))
                if named:
                    found = self.resolve(named, ("deal", "account", "contact"), reading)
                    if isinstance(found, RecordRef):
                        return self._summarise(found)
            if not reading.users and entity in ("contacts", "deals", "tasks", "activities"):
                found = self._account_named(reading)
                if isinstance(found, Reply):
                    return found
                account = found
            if account is None and re.search(r"\b(it|its|they|their|this account|that account)\b", reading.norm):
                account = self._record_in_context(reading, ("account",))
        if account is not None:  # "deals for Mendez Partners": "Partners" is the name, not the source Partner
            label = account.label.lower()
            reading.sources = [v for v in reading.sources if v.lower() not in label]
            reading.industries = [v for v in reading.industries if v.lower() not in label]
            reading.stages = [v for v in reading.stages if v["name"].lower() not in label]
        filters += find_filters(entity, reading, account)
        filters += self._field_filters(entity, reading)
        args.update(entity=entity, filters=filters)
        owner = self._owner(reading)
        if owner:
            args["owner"] = owner
        if reading.top is not None:
            args["limit"] = reading.top.n or 10
            args["sort"] = sort_for(entity, reading.top)
        elif "sort" not in args:
            default = default_sort(entity, reading)
            if default:
                args["sort"] = default
        args.setdefault("limit", 10)
        result = self._tool("find_records", args)
        return render.found(entity, result, reading)

    def _account_named(self, reading: Reading) -> RecordRef | Reply | None:
        """The account in "deals at Acme", "contacts from Wright, Ball and Alexander": everything after the
        preposition (periods and amounts taken out) first, then the capitalised words right after it."""
        known = {v.lower() for v in reading.industries + reading.sources}
        rest = name_after(r"\b(?:at|for|with|from)\s+(?P<name>.+?)\s*[?.!]?$", strip_slots(reading))
        capitalised = name_after(
            r"\b(?:at|from|for|of|with)\s+(?P<name>(?-i:[A-Z0-9])[\w&.':-]*(?:\s+(?-i:[A-Z0-9])[\w&.':-]*)*)",
            reading.text,
        )
        for name in (rest, capitalised):
            if not name or name.lower() in known or re.search(r"\b(me|us|my|our|this|last|next)\b", name.lower()):
                continue
            found = self.resolve(name, ("account",), reading)
            if found is not None:
                return found
        return None

    def _field_filters(self, entity: str, reading: Reading) -> list[dict[str, Any]]:
        """Tags ("tagged strategic") and the workspace's custom picklist values ("Strategic tier accounts")."""
        filters: list[dict[str, Any]] = []
        tag = re.search(r"\btagged\s+(?:as\s+|with\s+)?[\"']?([\w-]+)", reading.text, re.IGNORECASE)
        if tag:
            filters.append({"field": "tags", "op": "contains", "value": tag.group(1)})
        for field in self.vocab.get("custom_fields") or []:
            if field["entity"] != entity:
                continue
            for option in understand.picks(field.get("options") or [], reading.norm):
                filters.append({"field": f"cf.{field['name']}", "op": "eq", "value": option})
        return filters

    def _summarise(self, record: RecordRef) -> Reply:
        result = self._tool("record_summary", {"entity": record.type, "id": record.id})
        return render.summary(record, result)

    def _record_summary(self, reading: Reading) -> Reply:
        name = name_after(
            r"(?:tell me (?:more )?about|what'?s (?:up|happening|going on|new) with|summar(?:y|ize|ise)(?: of)?|"
            r"(?:summary|overview|rundown|brief) (?:of|on|for)|status of|how(?:'s| is| are)|brief me (?:on|about)|"
            r"overview of|catch me up on|update me on|who is|what do we know about|details (?:of|on|for|about)|"
            r"info on|information (?:on|about)|show me (?:the )?(?:deal|account|contact|record)|"
            r"^(?:account|deal|contact|company|lead) (?:overview|summary|details|status|snapshot)(?: of| for)?)\s+"
            r"(?P<name>.+?)"
            r"(?:\s+doing)?\s*\??$",
            reading.text,
        )
        kinds: tuple[str, ...] = ("deal", "account", "contact")
        if reading.entity in ("deals", "accounts", "contacts"):
            kinds = (KINDS[reading.entity],) + tuple(k for k in kinds if k != KINDS[reading.entity])
        found = self.target(reading, name, kinds)
        if isinstance(found, Reply):
            return found
        if found is None:
            return render.not_found(name, "record")
        return self._summarise(found)

    def _metric(self, reading: Reading) -> Reply:
        probe = self._scope_probe(reading)
        if probe is not None:
            return probe
        args = metric_args(reading, self.ctx)
        result = self._tool("metric", args)
        return render.metric(result, reading)

    def _compare_periods(self, reading: Reading) -> Reply:
        probe = self._scope_probe(reading)
        if probe is not None:
            return probe
        a, b = two_periods(reading, self.ctx)
        args = metric_args(reading, self.ctx)
        args.pop("period", None)
        args.update(period_a=b, period_b=a)  # the tool compares a (of interest, the later) with b
        result = self._tool("compare_periods", args)
        return render.compare(result, reading)

    def _stuck_deals(self, reading: Reading) -> Reply:
        args: dict[str, Any] = {}
        if reading.stages:
            args["stage"] = reading.stages[0]["id"]
        days = re.search(r"\b(\d{1,3})\s*(\+\s*)?(days?|weeks?)\b", reading.norm)
        if days:
            args["min_days"] = int(days.group(1)) * (7 if days.group(3).startswith("week") else 1)
        if re.search(r"\brott", reading.norm):
            args["rotting_only"] = True
        if reading.owner == "me":
            args["owner"] = "me"
        result = self._tool("stuck_deals", args)
        return render.found("deals", result, reading, intent="stuck_deals")

    def _lost_reasons(self, reading: Reading) -> Reply:
        args: dict[str, Any] = {}
        if reading.when:
            args["period"] = period(reading.when)
        result = self._tool("lost_reasons", args)
        return render.lost(result, reading)

    def _forecast(self, reading: Reading) -> Reply:
        args: dict[str, Any] = {}
        if reading.when:
            args["period"] = period(reading.when)
        if reading.users:
            args.update(level="rep", id=reading.users[0]["id"])
        elif re.search(r"\b(team|my team|our team)\b", reading.norm):
            args["level"] = "team"
        elif reading.owner == "me":
            args["level"] = "rep"
        elif re.search(r"\b(company|we|our|us|total|overall)\b", reading.norm) and self.ctx.actor.scope == "all":
            args["level"] = "company"
        result = self._tool("forecast", args)
        return render.forecast(result, reading)

    def _lead_scores(self, reading: Reading) -> Reply:
        name = name_after(
            r"(?:score (?:of|for)|(?:is|was) |how (?:hot|good|warm) is )(?P<name>.+?)(?:'s)?(?:\s+score)?\s*\??$",
            reading.text,
        ) or name_after(r"(?P<name>.+?)'s (?:lead )?score", reading.text)
        args: dict[str, Any] = {}
        if name:
            found = self.target(reading, name, ("contact",))
            if isinstance(found, Reply):
                return found
            if found is None:
                return render.not_found(name, "lead")
            args["contact_id"] = found.id
        else:
            found = self._record_in_context(reading, ("contact",))
            if found is not None:
                args["contact_id"] = found.id
            if reading.top and reading.top.n:
                args["limit"] = reading.top.n
            if reading.owner == "me":
                args["mine"] = True
        result = self._tool("lead_scores", args)
        return render.found("contacts", result, reading, intent="lead_scores")

    def _record_arg(self, reading: Reading) -> dict[str, Any] | Reply | None:
        name = name_after(
            r"\b(?:for|on|about|at|with)\s+(?P<name>(?-i:[A-Z0-9])[\w&.':-]*(?:\s+[\w&.'-]+)*)\s*\??$", reading.text
        )
        if name and name.lower() in ("me", "today", "this week", "my deals", "my accounts", "the pipeline"):
            name = None
        found = (
            self.target(reading, name, ("deal", "account", "contact"))
            if name or PRONOUN.search(reading.norm)
            else self._context_record(("deal", "account", "contact"))
        )
        if isinstance(found, Reply):
            return found
        if found is None:
            return None
        return {"type": found.type, "id": found.id}

    def _about_record(self, reading: Reading, tool: str) -> Reply:
        """A tool that takes an optional record ("next steps for Acme renewal", "anything unusual?")."""
        record = self._record_arg(reading)
        if isinstance(record, Reply):
            return record
        result = self._tool(tool, {"record": record} if record else {})
        return render.found(None, result, reading, intent=tool)

    def _next_actions(self, reading: Reading) -> Reply:
        return self._about_record(reading, "next_actions")

    def _insights(self, reading: Reading) -> Reply:
        return self._about_record(reading, "insights")

    def _semantic_search(self, reading: Reading) -> Reply:
        query = re.sub(
            r"^\s*(please |pls |can you |could you )?(find|show|search( for)?|look for|list|get|any|are "
            r"there)\s+(me\s+)?",
            "",
            reading.text,
            flags=re.IGNORECASE,
        ).strip(" ?")
        types = semantic_types(reading.norm)
        args: dict[str, Any] = {"query": query or reading.text, "limit": 10}
        if types:
            args["types"] = types
        result = self._tool("semantic_search", args)
        return render.found(None, result, reading, intent="semantic_search")

    # Writes: each is a proposal -------------------------------------------------------------------------------------

    def _proposal(self, action: str, args: dict[str, Any], reading: Reading) -> Reply:
        result = self._tool(action, args)
        return render.proposal(action, result, reading)

    def _move_deal_stage(self, reading: Reading) -> Reply:
        norm = reading.norm
        stage_name = None
        outcome = re.search(r"\bas\s+(?:closed[- ])?(won|lost)\b|\b(won|lost)\b", norm)
        if reading.stages:
            stage_name = reading.stages[-1]["name"]
        elif outcome:
            won = (outcome.group(1) or outcome.group(2)) == "won"
            closing = [s for s in self.vocab.get("stages") or [] if s["closed"] and s["won"] == won]
            closing.sort(key=lambda s: not s["default"])
            stage_name = closing[0]["name"] if closing else ("Closed Won" if won else "Closed Lost")
        name = (
            name_after(
                r"(?:move|advance|push|progress|drag|shift|bump|promote|send|mark|close|stage of|stage for)\s+"
                r"(?P<name>.+?)(?:\s+back)?\s+(?:to|into|as)\s+",
                reading.text,
            )
            or name_after(
                r"^\s*(?:we\s+|i\s+)?(?:just\s+)?(?:won|lost)\s+(?:the\s+)?(?:deal\s+)?(?P<name>.+?)\s*(?:deal)?[.!]?$",
                reading.text,
            )
            or name_after(r"^\s*(?:the\s+)?(?:deal\s+)?(?P<name>.+?)\s+(?:is|are)\s+now\s+(?:in|at)\b", reading.text)
        )
        if name and re.fullmatch(
            r"(it|this|that|this one|that one|the first one|the second one|the third one|"
            r"the last one|first|second|third|last|them|the deal)",
            name.lower(),
        ):
            name = None
        found = self.target(reading, name, ("deal",))
        if isinstance(found, Reply):
            return found
        if found is None:
            return render.not_found(name, "deal")
        if stage_name is None:
            target = re.search(
                r"\b(?:to|into)\s+(?:stage\s+)?(?P<stage>[\w &'-]+?)\s*(?:stage)?[.!?]*$", reading.text, re.IGNORECASE
            )
            stage_name = target.group("stage") if target else None
        if stage_name is None:
            return render.ask("Which stage should it move to?", reading)
        args: dict[str, Any] = {"deal_id": found.id, "stage": stage_name}
        reason = re.search(r"\b(?:because|reason:?|due to)\s+(?P<why>.+?)[.!]?$", reading.text, re.IGNORECASE)
        reason = reason or re.search(r"\b(?P<why>lost to .+?)[.!]?$", reading.text, re.IGNORECASE)
        reason = reason or re.search(r"\blost\b[^,]*,\s*(?P<why>[^,]+?)[.!]?$", reading.text, re.IGNORECASE)
        if reason:
            why = reason.group("why").strip()
            args["lost_reason"] = why[0].upper() + why[1:255]
        return reply_about(self._proposal("move_deal_stage", args, reading), found)

    def _create_task(self, reading: Reading) -> Reply:
        text = reading.text
        title = re.sub(
            r"^\s*(please |pls |can you |could you )?((create|add|make|set up|set|schedule|open)\s+(a |an )?(new )?"
            r"(task|reminder|to-?do|follow[- ]?up)\s*(to|for me to|:|for)?\s*|remind me to\s+|remind me\s+)",
            "",
            text,
            flags=re.IGNORECASE,
        ).strip()
        if reading.when is not None:
            title = title.replace(reading.when.text, "").strip()
        title = re.sub(r"\s+(at|on|by|due|for)\s*$", "", title).strip(" ,.") or "Follow up"
        title = title[0].upper() + title[1:]
        args: dict[str, Any] = {"title": title[:255]}
        if reading.when is not None:
            moment = reading.when.at
            if moment is None:
                from datetime import datetime, time
                from zoneinfo import ZoneInfo

                moment = datetime.combine(reading.when.start, time(9, 0), tzinfo=ZoneInfo(self.ctx.tz))
            args["due_at"] = moment.isoformat()
        if re.search(r"\b(urgent|high priority|asap|important)\b", reading.norm):
            args["priority"] = "high"
        if reading.users and self.ctx.actor.scope == "all":
            args["assignee_id"] = reading.users[0]["id"]
        people = {u["name"].lower() for u in reading.users} | {u.get("first", "").lower() for u in reading.users}
        found = self._mentioned(reading, text, ("contact", "deal", "account"), skip=people)
        if isinstance(found, Reply):
            return found
        related = found
        if related is None:
            related = self._record_in_context(reading, ("contact", "deal", "account")) or self._context_record(
                ("contact", "deal", "account")
            )
        if related is not None:
            args[f"{related.type}_id"] = related.id
        return self._proposal("create_task", args, reading)

    def _log_activity(self, reading: Reading) -> Reply:
        text = reading.text
        kind = reading.activity_type or ("note" if re.search(r"\bnotes?\b|\bcomment\b", reading.norm) else "call")
        if re.search(r"\bnotes?\b", reading.norm) and not re.search(
            r"\blog (a |an )?(call|meeting|email)", reading.norm
        ):
            kind = "note"
        head, body, found = self._split_body(reading)
        if isinstance(found, Reply):
            return found
        if found is None:
            return render.ask("Which contact, deal or account is it about?", reading)
        if body and re.fullmatch(r"(please )?(log|record|save|note) (it|that|this)( please)?[.!]?", body, re.I):
            body = None
        split = [head, body] if body else [text]
        subject = re.search(r"\babout\s+(?P<s>.+?)\s*$", split[0] if len(split) == 2 else reading.text, re.IGNORECASE)
        args: dict[str, Any] = {"type": kind, f"{found.type}_id": found.id}
        if kind == "note":
            args["body"] = body or (subject.group("s") if subject else reading.text)
            args["subject"] = args["body"].split("\n")[0][:80]
        else:
            args["subject"] = (subject.group("s") if subject else f"{kind.capitalize()} with {found.label}")[:255]
            if body:
                args["body"] = body
            if reading.when is not None:
                args["occurred_at"] = (reading.when.at or reading.when.start).isoformat()
            outcome = re.search(r"\b(no answer|voicemail|left a message|connected|busy)\b", reading.norm)
            if outcome:
                args["outcome"] = outcome.group(1)
            minutes = re.search(r"\b(\d{1,3})\s*(min|minutes?|mins)\b", reading.norm)
            if minutes:
                args["duration_seconds"] = int(minutes.group(1)) * 60
        return self._proposal("log_activity", args, reading)

    def _mentioned(
        self, reading: Reading, text: str, kinds: tuple[str, ...], *, skip: set[str] | None = None
    ) -> RecordRef | Reply | None:
        """The record a request names somewhere in `text`: quoted words, then runs of capitalised words, longest
        first (the first that resolves wins; several close matches are a question back)."""
        quoted = re.findall(r"[\"\u201c]([^\"\u201d]{2,120})[\"\u201d]", text)
        tried: set[str] = set(skip or ())
        for name in [*quoted, *capitalised_spans(text)]:
            if name.lower() in tried or not re.search(r"[A-Za-z]{2}", name):
                continue
            tried.add(name.lower())
            found = self.resolve(name, kinds, reading)
            if found is not None:
                return found
            if len(tried) > 6:
                break
        return None

    def _split_body(self, reading: Reading) -> tuple[str, str | None, RecordRef | Reply | None]:
        """A note's or call's words and the record they go on: "... saying <body>", "... : <body>", "... - <body>".
        Each split is tried from the last; the first whose head names a record wins; else the record in context."""
        text = reading.text
        kinds = ("contact", "deal", "account")
        said = re.search(r"\s+(?:saying|that says|to say|reading)\s+(?P<body>.+)$", text, re.IGNORECASE)
        if said:
            head = text[: said.start()]
            found = self._mentioned(reading, head, kinds) or self.target(reading, None, kinds)
            return head, said.group("body").strip(), found
        splits = list(re.finditer(r"\s*(?::|\s-|\u2014|,)\s+", text))
        for split in reversed(splits):
            head, body = text[: split.start()], text[split.end() :].strip()
            found = self._mentioned(reading, head, kinds)
            if found is not None:
                return head, body, found
        if splits:  # "add a note: <body>" names no record: the one being talked about
            first = splits[0]
            head, body = text[: first.start()], text[first.end() :].strip()
            return head, body, self._about(kinds) or self._mentioned(reading, text, kinds)
        return text, None, self._mentioned(reading, text, kinds) or self._about(kinds)

    def _about(self, kinds: tuple[str, ...]) -> RecordRef | None:
        """The record the last answer was about, else the one the conversation was opened from."""
        return self._previous_about(kinds) or self._context_record(kinds)

    def _assign_owner(self, reading: Reading) -> Reply:
        if not reading.users:
            return render.ask("Whom should I assign it to? Name a user of this workspace.", reading)
        user = reading.users[-1]
        name = name_after(
            r"(?:re-?assign|assign|hand(?: it)? (?:over|off)|transfer|give)\s+(?P<name>.+?)\s+to\s+", reading.text
        ) or name_after(r"owner of\s+(?P<name>.+?)\s*(?:to\s+.+)?$", reading.text)
        kinds = (
            (KINDS[reading.entity],)
            if reading.entity in ("deals", "contacts", "accounts")
            else ("deal", "account", "contact")
        )
        if name and re.fullmatch(r"(it|this|that|them|this one|that one|the first one|the deal)", name.lower()):
            name = None
        found = self.target(reading, name, kinds)
        if isinstance(found, Reply):
            return found
        if found is None:
            return render.not_found(name, "record")
        args = {"entity": found.type, "ids": [found.id], "owner_id": user["id"]}
        return reply_about(self._proposal("assign_owner", args, reading), found)

    def _update_fields(self, reading: Reading) -> Reply:
        change = parse_change(reading.text)
        if change is None:
            return render.ask('Say what to change, e.g. "set the amount of Acme renewal to $60k".', reading)
        name, field_words, value = change
        kinds = (
            (KINDS[reading.entity],)
            if reading.entity in ("deals", "contacts", "accounts", "tasks")
            else ("deal", "contact", "account")
        )
        if name and re.fullmatch(
            r"(it|its|the|this|that|this one|that one|the deal|the contact|the account|the task)", name.lower()
        ):
            name = None
        found = self.target(reading, name, kinds)
        if isinstance(found, Reply):
            return found
        if found is None:
            return render.not_found(name, "record")
        field, typed = field_value(found.type, field_words, value, reading, self.ctx)
        if field is None:
            return render.ask(f'I do not know a field "{field_words}" on a {found.type}.', reading)
        return reply_about(
            self._proposal(
                "update_fields", {"entity": found.type, "ids": [found.id], "changes": {field: typed}}, reading
            ),
            found,
        )

    def _create_record(self, reading: Reading) -> Reply:
        kind_match = re.search(r"\b(contact|lead|account|company|customer|deal|opportunity)\b", reading.norm)
        kind = (
            {"lead": "contact", "company": "account", "customer": "account", "opportunity": "deal"}.get(
                kind_match.group(1), kind_match.group(1)
            )
            if kind_match
            else "contact"
        )
        fields = new_record_fields(kind, reading)
        if isinstance(fields, str):
            return render.ask(fields, reading)
        if kind in ("deal", "contact"):  # "... for Acme" (a deal), "... at Acme" (a contact): its account
            words = r"for|with|at" if kind == "deal" else r"at|from|of"
            account_name = name_after(
                rf"\b(?:{words})\s+(?P<name>(?-i:[A-Z])[\w&.':-]*(?:\s+(?-i:[A-Z])[\w&.':-]*)*)", reading.text
            )
            found = self.resolve(account_name, ("account",), reading) if account_name else None
            if isinstance(found, Reply):
                return found
            if found is not None:
                fields["account_id"] = found.id
        return self._proposal("create_record", {"entity": kind, "fields": fields}, reading)

    def _delete_records(self, reading: Reading) -> Reply:
        name = name_after(r"(?:delete|remove|trash|erase|get rid of|archive)\s+(?P<name>.+?)\s*[.!?]?$", reading.text)
        if name and re.fullmatch(
            r"(it|this|that|them|those|these|this one|that one|all of them|the first one)", name.lower()
        ):
            name = None
        if name is None and re.search(r"\b(them|those|these|all of them)\b", reading.norm):
            records = self._previous_records()
            if records:
                kind = records[0].type
                return self._proposal(
                    "delete_records", {"entity": kind, "ids": [r.id for r in records if r.type == kind]}, reading
                )
        kinds = (KINDS[reading.entity],) if reading.entity in KINDS else ("deal", "contact", "account")
        found = self.target(reading, name, kinds)
        if isinstance(found, Reply):
            return found
        if found is None:
            return render.not_found(name, "record")
        return self._proposal("delete_records", {"entity": found.type, "ids": [found.id]}, reading)

    def _draft_email(self, reading: Reading) -> Reply:
        name = name_after(
            r"\b(?:to|for)\s+(?P<name>(?-i:[A-Z0-9])[\w&.':-]*(?:\s+(?-i:[A-Z0-9])[\w&.':-]*)*)", reading.text
        )
        kinds = ("contact", "deal")
        found = self.resolve(name, kinds, reading) if name else None
        if found is None:
            found = self._mentioned(reading, reading.text, kinds) or self.target(reading, None, kinds)
        if isinstance(found, Reply):
            return found
        if found is None:
            return render.not_found(name, "contact") if name else render.ask("Whom should the email go to?", reading)
        topic = re.search(r"\babout\s+(?P<t>.+?)\s*[.?!]?$", reading.text, re.IGNORECASE)
        args: dict[str, Any] = {f"{found.type}_id": found.id}
        if topic:
            args["topic"] = topic.group("t")
        result = self._tool("draft_email", args)
        return render.draft(result, found)


# Arguments from readings ------------------------------------------------------------------------------------------

SHOW_WORDS = r"^\s*(please |can you |could you )?(show|find|get|display|pull up|open|give|look up)( me)?( the)?\s+"


def strip_slots(reading: Reading) -> str:
    """The request without the words already read as a period or an amount."""
    text = reading.text
    for found in (reading.when, reading.amount_filter, reading.top):
        if found is not None and found.text:
            text = text.replace(found.text, " ")
    return re.sub(r"\s+", " ", text).strip()


def has_filters(reading: Reading) -> bool:
    return bool(
        reading.status
        or reading.stages
        or reading.sources
        or reading.industries
        or reading.users
        or reading.when
        or reading.amount_filter
        or reading.top
        or reading.owner
        or reading.overdue
        or re.search(r"\b(tagged|all|every)\b", reading.norm)
    )


NAME_SPAN = re.compile(r"(?-i:[A-Z0-9\"'][\w&.':\"'-]*(?:\s+(?:of|and|&|de|la|the)?\s*[A-Z0-9][\w&.':\"'-]*)*)")


def capitalised_spans(text: str) -> list[str]:
    """Runs of capitalised words (names as typed: "Jane Doe", "Hernandez PLC: Platform"), longest first; the
    request's first word does not count (a verb such as "Remind")."""
    spans = []
    for match in NAME_SPAN.finditer(text):
        span = match.group(0)
        if match.start() == 0 or text[: match.start()].strip() == "":
            span = span.split(" ", 1)[1] if " " in span else ""
        span = clean_name(span) or ""
        if span and len(span) > 1 and span.lower() not in ("i", "i'm", "monday", "friday", "tomorrow", "today"):
            spans.append(span)
    return sorted(spans, key=len, reverse=True)


def period(when: Any) -> dict[str, str]:
    return {"start": when.start.isoformat(), "end": when.end.isoformat()}


def find_filters(entity: str, reading: Reading, account: RecordRef | None) -> list[dict[str, Any]]:
    filters: list[dict[str, Any]] = []
    norm = reading.norm
    if account is not None:
        filters.append({"field": "accountId", "op": "eq", "value": account.id})
    if entity == "deals":
        status = reading.status
        if status is None and reading.when is not None and re.search(r"\b(close|closing|expected)\b", norm):
            status = "open"  # "expected to close next quarter": deals still open
        if status in ("open", "won", "lost"):
            filters.append({"field": "status", "op": "eq", "value": status})
        elif status == "closed":
            filters.append({"field": "isClosed", "op": "eq", "value": True})
        if reading.stages:
            filters.append({"field": "stageId", "op": "in", "value": [s["id"] for s in reading.stages]})
        if reading.sources:
            filters.append({"field": "leadSource", "op": "in", "value": reading.sources})
        if reading.industries:
            filters.append({"field": "industry", "op": "in", "value": reading.industries})
        if reading.amount_filter is not None:
            filters.append(amount_filter("amount", reading.amount_filter))
        if reading.when is not None:
            if status in ("won", "lost", "closed"):
                date_field = "actualCloseDate"
            elif re.search(r"\b(created|new|added|opened|came in)\b", norm):
                date_field = "createdAt"
            else:
                date_field = "expectedCloseDate"
            filters.append(between(date_field, reading.when))
        if re.search(r"\brott", norm):
            filters.append({"field": "isRotting", "op": "eq", "value": True})
    elif entity == "contacts":
        if reading.sources:
            filters.append({"field": "leadSource", "op": "in", "value": reading.sources})
        stage = re.search(r"\b(mqls?|sqls?|subscribers?|customers?|evangelists?)\b", norm)
        if stage:
            value = stage.group(1).rstrip("s")
            filters.append({"field": "lifecycleStage", "op": "eq", "value": value})
        if reading.industries:
            filters.append({"field": "industry", "op": "in", "value": reading.industries})
        if reading.when is not None:
            filters.append(between("createdAt", reading.when))
        score = re.search(r"\bscore\s*(?:over|above|>|of at least|>=)\s*(\d{1,3})", norm)
        if score:
            filters.append({"field": "leadScore", "op": "gte", "value": int(score.group(1))})
    elif entity == "accounts":
        if reading.industries:
            filters.append({"field": "industry", "op": "in", "value": reading.industries})
        if reading.when is not None:
            filters.append(between("createdAt", reading.when))
    elif entity == "tasks":
        if reading.overdue:
            filters.append({"field": "overdue", "op": "eq", "value": True})
        elif re.search(r"\b(open|pending|to do|outstanding|not done)\b", norm):
            filters.append({"field": "status", "op": "in", "value": ["open", "in_progress"]})
        elif re.search(r"\b(done|completed|finished)\b", norm):
            filters.append({"field": "status", "op": "eq", "value": "completed"})
        if reading.when is not None:
            filters.append(between("dueAt", reading.when))
    elif entity == "activities":
        if reading.activity_type:
            filters.append({"field": "type", "op": "eq", "value": reading.activity_type})
        if reading.when is not None:
            filters.append(between("occurredAt", reading.when))
    return filters


def between(field: str, when: Any) -> dict[str, Any]:
    return {"field": field, "op": "between", "value": [when.start.isoformat(), when.end.isoformat()]}


def amount_filter(field: str, found: Any) -> dict[str, Any]:
    if found.op == "between":
        return {"field": field, "op": "between", "value": [float(found.value), float(found.upper)]}
    return {"field": field, "op": found.op, "value": float(found.value)}


def sort_for(entity: str, top: Any) -> str:
    sign = "-" if top.descending else ""
    if top.by == "date":
        field = {"deals": "createdAt", "tasks": "dueAt", "activities": "occurredAt"}.get(entity, "createdAt")
    else:
        field = {"deals": "amount", "accounts": "annualRevenue", "contacts": "leadScore"}.get(entity, "createdAt")
    return sign + field


def default_sort(entity: str, reading: Reading) -> str | None:
    if entity == "deals":
        return "-amount"
    if entity == "contacts" and re.search(r"\b(hot|score|best)\b", reading.norm):
        return "-leadScore"
    if entity == "activities":
        return "-occurredAt"
    return None


def metric_args(reading: Reading, ctx: ToolContext) -> dict[str, Any]:
    """The metric tool's arguments: the measure, the period and the date it applies to, grouping, filters, owner."""
    measure = reading.measure or "count"
    if reading.measure is None and reading.entity is None and reading.status in ("won", "lost"):
        measure = f"{reading.status}_amount"  # "this year's won vs last year's": amounts; "deals won ...": a count
    entity = reading.entity
    filters: list[dict[str, Any]] = []
    if measure == "count":
        measure = {
            "activities": "count_activities",
            "contacts": "count_contacts",
            "tasks": "count_tasks",
            "accounts": "count_accounts",
        }.get(entity or "", "count_deals")
        if measure == "count_deals" and reading.status in ("open", "won", "lost"):
            filters.append({"field": "status", "op": "eq", "value": reading.status})
        if measure == "count_tasks" and reading.status == "open":
            filters.append({"field": "status", "op": "in", "value": ["open", "in_progress"]})
        if measure == "count_tasks" and reading.overdue:
            filters.append({"field": "is_overdue", "op": "eq", "value": True})
    elif measure == "pipeline_amount" and reading.status == "won":
        measure = "won_amount"
    elif measure == "pipeline_amount" and reading.status == "lost":
        measure = "lost_amount"
    args: dict[str, Any] = {"measure": measure}
    if reading.when is not None:
        args["period"] = period(reading.when)
        if measure == "count_deals" and reading.status in ("won", "lost", "closed"):
            args["date_field"] = "closed"
        elif measure in ("count_deals", "count_contacts", "count_accounts") and re.search(
            r"\b(created|new|added|came in)\b", reading.norm
        ):
            args["date_field"] = "created"
    if reading.group_by:
        args["group_by"] = "activity_type" if reading.group_by == "type" else reading.group_by
    if reading.stages:
        filters.append({"field": "stage", "op": "in", "value": [s["name"] for s in reading.stages]})
    if reading.sources:
        filters.append({"field": "lead_source", "op": "in", "value": reading.sources})
    if reading.industries:
        filters.append({"field": "industry", "op": "in", "value": reading.industries})
    if reading.activity_type and measure == "count_activities":
        filters.append({"field": "type", "op": "eq", "value": reading.activity_type})
    if reading.amount_filter is not None:
        filters.append(amount_filter("amount", reading.amount_filter))
    if reading.users:
        args["owner"] = reading.users[0]["id"]
    elif reading.owner == "me":
        args["owner"] = "me"
    if filters:
        args["filters"] = filters
    return args


def two_periods(reading: Reading, ctx: ToolContext) -> tuple[dict[str, str], dict[str, str]]:
    """ "this quarter vs last quarter": both named; "vs last month": this month against last; one named: it against
    the one before it of the same length."""
    from ai.albedo import timeexpr

    text = reading.text
    first = timeexpr.find(text, today=ctx.today, fiscal_start_month=ctx.fiscal_start_month, tz=ctx.tz)
    if first is None:
        first = timeexpr.find("this quarter", today=ctx.today, fiscal_start_month=ctx.fiscal_start_month, tz=ctx.tz)
    assert first is not None
    rest = text.replace(first.text, " ", 1)
    second = timeexpr.find(rest, today=ctx.today, fiscal_start_month=ctx.fiscal_start_month, tz=ctx.tz)
    if second is None:
        unit = re.search(r"\b(week|month|quarter|year)\b", first.text.lower())
        word = unit.group(1) if unit else None
        if word and re.search(r"\blast\b|\bprevious\b", first.text.lower()):
            second = timeexpr.find(
                f"this {word}", today=ctx.today, fiscal_start_month=ctx.fiscal_start_month, tz=ctx.tz
            )
            first, second = second, first  # "vs last quarter": this quarter is the one being compared
        else:
            length = (first.end - first.start).days + 1
            from datetime import timedelta

            second = timeexpr.When(first.start - timedelta(days=length), first.start - timedelta(days=1), "before")
            if word:
                second = (
                    timeexpr.find(f"last {word}", today=ctx.today, fiscal_start_month=ctx.fiscal_start_month, tz=ctx.tz)
                    or second
                )
    assert first is not None and second is not None
    a, b = sorted([first, second], key=lambda w: w.start)
    return period(a), period(b)


def semantic_types(norm: str) -> list[str]:
    types = []
    for word, kind in (
        ("note", "notes"),
        ("compan", "accounts"),
        ("account", "accounts"),
        ("customer", "accounts"),
        ("deal", "deals"),
        ("opportunit", "deals"),
        ("contact", "contacts"),
        ("people", "contacts"),
        ("lead", "contacts"),
        ("call", "activities"),
        ("meeting", "activities"),
        ("email", "activities"),
        ("activit", "activities"),
    ):
        if word in norm and kind not in types:
            types.append(kind)
    return types


FIELD_WORDS: dict[str, dict[str, str]] = {
    "deal": {
        "amount": "amount",
        "value": "amount",
        "size": "amount",
        "close date": "expectedCloseDate",
        "expected close date": "expectedCloseDate",
        "closing date": "expectedCloseDate",
        "name": "name",
        "probability": "probability",
        "next step": "nextStep",
        "source": "leadSource",
        "lead source": "leadSource",
        "currency": "currency",
        "description": "description",
    },
    "contact": {
        "title": "title",
        "job title": "title",
        "email": "email",
        "phone": "phone",
        "mobile": "mobile",
        "lead status": "leadStatus",
        "status": "leadStatus",
        "lifecycle stage": "lifecycleStage",
        "stage": "lifecycleStage",
        "first name": "firstName",
        "last name": "lastName",
        "department": "department",
        "source": "leadSource",
        "lead source": "leadSource",
        "company": "company",
        "city": "addressCity",
        "country": "addressCountry",
    },
    "account": {
        "industry": "industry",
        "website": "website",
        "domain": "domain",
        "phone": "phone",
        "name": "name",
        "size": "companySize",
        "company size": "companySize",
        "employees": "companySize",
        "annual revenue": "annualRevenue",
        "revenue": "annualRevenue",
        "city": "addressCity",
        "country": "addressCountry",
        "description": "description",
    },
    "task": {"title": "title", "due date": "dueAt", "due": "dueAt", "priority": "priority", "status": "status"},
}


CHANGE_VERBS = r"(?:set|change|update|edit|modify|correct|fix|bump|raise|lower|increase|decrease|reduce|make|move)"


def _field_words() -> str:
    words = sorted({w for fields in FIELD_WORDS.values() for w in fields}, key=len, reverse=True)
    return "|".join(re.escape(w) for w in words)


def parse_change(text: str) -> tuple[str | None, str, str] | None:
    """(record name, field words, value) from "set the amount of Acme renewal to $60k", "change Jane's title to
    VP Sales", "update its close date to next Friday", "bump Acme renewal amount to 12000", "mark task X as
    done"."""
    known = _field_words()
    value = r"\s+(?:to|as|=)\s+(?P<value>.+?)\s*[.!?]?$"
    patterns = (
        rf"{CHANGE_VERBS}\s+(?:the\s+)?(?P<field>[\w ]+?)\s+(?:of|for|on)\s+(?P<name>.+?){value}",
        rf"{CHANGE_VERBS}\s+(?P<name>.+?)'s\s+(?P<field>[\w ]+?){value}",
        rf"{CHANGE_VERBS}\s+(?P<name>its|it)\s+(?P<field>[\w ]+?){value}",
        rf"{CHANGE_VERBS}\s+(?P<name>.+?)\s+(?P<field>{known}){value}",
        rf"{CHANGE_VERBS}\s+(?:the\s+)?(?P<field>[\w ]+?){value}",
        r"mark\s+(?:the\s+)?(?:task\s+)?(?P<name>.+?)\s+as\s+(?P<value>done|completed|complete|finished|cancelled)"
        r"\s*[.!?]?$",
        r"rename\s+(?P<name>.+?)\s+to\s+(?P<value>.+?)\s*[.!?]?$",
    )
    for index, pattern in enumerate(patterns):
        match = re.search(pattern, text, re.IGNORECASE)
        if match is None:
            continue
        groups = match.groupdict()
        name = clean_name(groups.get("name") or "") if groups.get("name") else None
        found = groups["value"].strip().strip("\"'\u201c\u201d\u2018\u2019")
        if index == 5:
            return name, "status", found
        if index == 6:
            return name, "name", found
        return name, groups["field"].strip().lower(), found
    return None


def field_value(kind: str, words: str, value: str, reading: Reading, ctx: ToolContext) -> tuple[str | None, Any]:
    from ai.albedo import slots, timeexpr

    fields = FIELD_WORDS.get(kind, {})
    field = fields.get(words) or next((f for w, f in fields.items() if words.endswith(w)), None)
    if field is None:
        return None, None
    if field in ("amount", "annualRevenue"):
        found = slots.amount(value) or slots.amount(f"${value}") if value else None
        return field, float(found.value) if found else value
    if field in ("expectedCloseDate", "dueAt"):
        when = timeexpr.find(value, today=ctx.today, fiscal_start_month=ctx.fiscal_start_month, tz=ctx.tz)
        if when is None:
            return field, value
        if field == "dueAt":
            return field, (when.at.isoformat() if when.at else f"{when.start.isoformat()}T09:00:00")
        return field, when.start.isoformat()
    if field == "probability":
        number = re.search(r"\d{1,3}", value)
        return field, int(number.group(0)) if number else value
    if field == "status" and kind == "task":
        return field, "completed" if re.match(r"(done|complete|completed|finished)", value, re.I) else value.lower()
    if field in ("leadStatus", "lifecycleStage", "priority"):
        return field, value.lower().replace(" ", "_")
    return field, value


def new_record_fields(kind: str, reading: Reading) -> dict[str, Any] | str:
    text = reading.text
    fields: dict[str, Any] = {}
    email = re.search(r"[\w.+-]+@[\w-]+\.[\w.-]+", text)
    phone = re.search(r"\+?\d[\d\s().-]{6,}\d", text)
    named = re.search(
        r"\b(?:contact|lead|account|company|customer|deal|opportunity)\s*[:\s]\s*(?:called\s+|named\s+)?"
        r"(?P<name>[^,:;(]+?)(?:\s*[,;(]|\s+(?:at|from|of|for|with|worth|email|phone|in)\s|\s*$)",
        text,
        re.IGNORECASE,
    )
    name = named.group("name").strip(" \"'") if named else None
    if kind == "contact":
        if not name:
            return 'Give the contact\'s name, e.g. "add a contact Jane Doe at Acme, jane@acme.com".'
        parts = name.split()
        fields["first_name"] = parts[0]
        if len(parts) > 1:
            fields["last_name"] = " ".join(parts[1:])
        if email:
            fields["email"] = email.group(0)
        if phone:
            fields["phone"] = phone.group(0)
        if reading.sources:
            fields["lead_source"] = reading.sources[0]
    elif kind == "account":
        if not name:
            return 'Give the company\'s name, e.g. "create an account Initech in software".'
        fields["name"] = name
        if reading.industries:
            fields["industry"] = reading.industries[0]
        domain = re.search(r"\b([a-z0-9-]+\.(?:com|io|org|net|co|ai|de|fr|uk))\b", text, re.IGNORECASE)
        if domain:
            fields["domain"] = domain.group(1)
    else:
        if not name:
            return 'Give the deal\'s name, e.g. "create a deal Acme expansion for Acme worth $40k".'
        fields["name"] = name
        if reading.amount is not None:
            fields["amount"] = float(reading.amount.value)
            if reading.amount.currency:
                fields["currency"] = reading.amount.currency
        if reading.when is not None:
            fields["expected_close_date"] = reading.when.end.isoformat()
        if reading.stages:
            fields["stage_id"] = reading.stages[0]["id"]
    return fields


def reply_about(reply: Reply, record: RecordRef) -> Reply:
    """Note the record a reply is about, so "it" in the next question means it."""
    reply.entities = reply.entities | {"record": record.model_dump()}
    return reply
