"""Search: every record type at once, by words, by meaning or both (the same service as the API and Albedo).

"notes about pricing complaints" or "companies like Acme" find records that share no word with the query;
each hit says how it was found, and links to its record (a note or an activity to the record it is on)."""

import streamlit as st

from ai.nlp import search as hybrid
from app.ui import widgets as ui
from app.ui.calls import attempt, load
from core.jobs.service import TERMINAL_STATUSES
from core.search import service as search_service
from core.search.schemas import SEMANTIC_TYPES

MODES = {"Words and meaning": "hybrid", "Meaning": "semantic", "Words": "text"}
HOW = {"fulltext": "words", "fuzzy": "name", "semantic": "meaning"}

actor = ui.page("search.py", "Words find exact names and terms; meaning finds what is said another way.")
readable = [t for t in SEMANTIC_TYPES if actor.can(t, "read")]
if not readable:
    ui.empty("Your role can read no records to search.")
    st.stop()

if actor.can("settings", "manage"):
    with st.expander("Search index (admins)"):
        coverage = load(actor, search_service.embedding_coverage)
        tiles = st.columns(len(coverage))
        for tile, (kind, (embedded, total)) in zip(tiles, coverage.items(), strict=True):
            tile.metric(kind.capitalize(), f"{embedded:,} / {total:,}", help="records searchable by meaning / all")
        st.caption("The worker embeds every change within seconds; a rebuild embeds everything again.")
        job = load(actor, search_service.latest_rebuild)
        if job is not None and job.status not in TERMINAL_STATUSES:
            st.progress(job.progress / 100, text=f"Rebuilding: {job.message or job.status} ({job.progress}%)")
        elif st.button("Rebuild the index", key="search_rebuild", icon=":material/refresh:"):
            attempt(
                actor, search_service.queue_embedding_rebuild, done="Rebuild queued: the worker is on it.", rerun=True
            )

left, right = st.columns([3, 2])
query = left.text_input("Search", value=st.query_params.get("q", ""), key="search_q", placeholder="Search anything")
mode_label = right.segmented_control("Match", list(MODES), default="Words and meaning", key="search_mode")
mode = MODES[mode_label or "Words and meaning"]
choices = [t for t in readable if mode != "text" or t != "activities"]
types = st.pills("Record types", choices, selection_mode="multi", default=choices, key="search_types")
if not query.strip():
    ui.empty('Type what you are looking for: a name, a phrase, or "companies like Acme".', ":material/search:")
    st.stop()
if not types:
    ui.empty("Choose at least one record type.")
    st.stop()
st.query_params["q"] = query

hits = load(actor, hybrid.search, query, mode=mode, types=list(types), limit=30)
if not hits:
    ui.empty(f"Nothing found for “{query}”.")
    st.stop()
owners = {
    kind: load(actor, search_service.parents, kind, [h.id for h in hits if h.type == kind])
    for kind in ("notes", "activities")
    if any(h.type == kind for h in hits)
}
st.caption(f"{len(hits)} best matches")
for hit in hits:
    with st.container(border=True):
        how = ", ".join(HOW.get(m, m) for m in hit.matched)
        kind = hit.type.removesuffix("s")
        if hit.type in ("contacts", "accounts", "deals"):
            ui.detail_link(kind, hit.id, hit.title)
        elif hit.id in owners.get(hit.type, {}):
            parent_kind, parent_id = owners[hit.type][hit.id]
            ui.detail_link(parent_kind, parent_id, hit.title)
        else:
            st.markdown(hit.title)
        st.caption(" · ".join(part for part in (kind.capitalize(), hit.subtitle, f"matched by {how}") if part))
