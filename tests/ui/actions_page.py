"""A test page for the next best actions sections (until the record, My day and Insights pages show them): the
record's actions (`nba_entity`: entity type and id in the session), the actor's own, and the taken/ignored rates.
The record pages are registered (hidden) so that the sections' links to them resolve as in the app."""

from uuid import UUID

import streamlit as st

from app.ui import actions
from app.ui.pages import by_file


def sections() -> None:
    actor = st.session_state["cf_actor"]
    entity_type, entity_id = st.session_state["nba_entity"]
    actions.for_record(actor, entity_type, UUID(entity_id))
    actions.mine(actor, limit=5)
    actions.stats(actor)


records = [by_file(f) for f in ("deal.py", "contact.py")]
st.navigation(
    [
        st.Page(sections, title="Actions", default=True),
        *(st.Page(d.path, title=d.title, url_path=d.url_path, visibility="hidden") for d in records),
    ]
).run()
