"""Cadence dashboard entry: `streamlit run app.py` (or `cadence dashboard`, `make run`).

Sign-in first (cadence.auth.gate: with sign-in configured, nothing else runs for someone who may not
enter), then navigation over the pages in pages/ the user's roles allow, the shared sidebar filters
(kept in the URL), and the demo banner. Every page reads the view from `cadence.dashboard.ui.filters()` and
its numbers from `metrics/`.
"""

import streamlit as st

from cadence.dashboard import ui
from cadence.auth import gate
from cadence.auth.roles import page_visible

st.set_page_config(page_title="Cadence", page_icon=":material/monitoring:", layout="wide",
                   initial_sidebar_state="expanded")
# No grid toolbar download: it writes formula cells raw (.streamlit/config.toml and `cadence dashboard`
# set this before the first page; here it also holds for `streamlit run` started from elsewhere).
st.set_option("client.disableDataExport", True)

PAGES = [
    st.Page("pages/overview.py", title="Overview", icon=":material/dashboard:", default=True),
    st.Page("pages/delivery.py", title="Delivery", icon=":material/rocket_launch:"),
    st.Page("pages/stability.py", title="Stability", icon=":material/health_and_safety:"),
    st.Page("pages/reliability.py", title="Reliability", icon=":material/monitor_heart:"),
    st.Page("pages/pipelines.py", title="Pipelines", icon=":material/conveyor_belt:"),
    st.Page("pages/teams.py", title="Teams", icon=":material/groups:"),
    st.Page("pages/costs.py", title="Costs", icon=":material/payments:"),
    st.Page("pages/capacity.py", title="Capacity", icon=":material/insights:"),
    st.Page("pages/data_health.py", title="Data health", icon=":material/fact_check:"),
]
access = gate.gate(ui.auth_settings, [p.url_path for p in PAGES])
page = st.navigation([p for p in PAGES if page_visible(p.url_path, access)], position="top")

st.sidebar.markdown("## :material/monitoring: Cadence")
st.sidebar.caption("DORA delivery metrics beside cloud cost")
gate.sidebar_account(access)
with ui.one_connection_per_run():
    if ui.start():
        ui.demo_banner()
        page.run()
