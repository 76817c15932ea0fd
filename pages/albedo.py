"""Albedo: ask the CRM in plain words and get the figure, the table or the chart, with the records behind them;
ask it to do routine work and confirm exactly what will change. Conversations are kept in the sidebar.

`?conversation=<id>` opens one of the user's conversations; `?record=deal:<id>` (or account:, contact:) starts one
about that record, as the "Ask Albedo" button of a record page does."""

import streamlit as st

from app.ui import albedo as view
from app.ui import widgets as ui
from app.ui.calls import find
from core.albedo import service as conversations

actor = ui.page("albedo.py", "Ask about your deals, contacts, accounts and tasks. Nothing changes until you confirm.")
view.from_record_param(actor)
typed = st.chat_input("Ask Albedo about your CRM…", key="albedo_ask", max_chars=2000)
question = ((typed if isinstance(typed, str) else None) or view.pending() or "").strip()

conversation_id = view.current_id()
conversation = find(actor, conversations.get, conversation_id) if conversation_id is not None else None
if conversation_id is not None and conversation is None:
    st.warning("That conversation is not one of yours, or it was deleted. Ask away to start a new one.")
    view.open_conversation(None)
about = view.about(actor, conversation) if conversation is not None else None
messages = view.history(actor, conversation.id) if conversation is not None else []
view.show(actor, messages, asking=bool(question))

if question:
    sent = view.send(actor, conversation.id if conversation is not None else None, question)
    if sent is not None and conversation is None:
        conversation = find(actor, conversations.get, sent[0])
elif not messages:
    with st.chat_message("assistant"):
        where = f"this {about[0]}" if about else "your pipeline, deals, contacts, accounts and tasks"
        st.markdown(f"Hello! Ask me about {where}, or tell me what to do. Some ideas:")
        view.suggestions(view.starters(about[0] if about else None), key="start")

view.sidebar(actor, conversation)
