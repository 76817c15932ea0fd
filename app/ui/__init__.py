"""Shared pieces of the Streamlit workspace: the signed-in session, calls into core/ with errors shown as
messages, the page registry and small widgets. Pages import from here; nothing here knows a page."""
