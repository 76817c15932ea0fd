"""Streamlit entry: the router (`streamlit run app/main.py`, or `clientforge ui` / `clientforge up`).

Pages are short scripts in pages/; they call core/ (never SQL, drivers or the API) and are registered here.
"""

from pathlib import Path

import streamlit as st

PAGES = Path(__file__).resolve().parent.parent / "pages"

st.set_page_config(page_title="ClientForge", page_icon=":material/handshake:", layout="wide")

page = st.navigation(
    [
        st.Page(PAGES / "home.py", title="Home", icon=":material/home:", default=True),
    ]
)
page.run()
