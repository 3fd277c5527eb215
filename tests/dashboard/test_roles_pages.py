"""Role filtering on every page (AppTest over the demo warehouse, sign-in configured): a user without
the ``cost`` role gets no cost figure in any element — metric, text, chart, table, table column,
expander — on any page, every expander opened; a user with it does. Without ``admin`` there are no
sync cursors or errors on Data health. (The real browser and provider: test_auth_browser.py.)

"Any element" means the protobuf of every node Streamlit would send for the run (what reaches the
browser, not only what is drawn), plus every dataframe's columns and values."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from google.protobuf import text_format

from cadence.dashboard import ui
from cadence.auth.gate import TAGLINE
from tests.support.apptest_support import REPO_ROOT, dashboard_env, new_app_test
from tests.support.signin import ENV, SECRETS, user

pytestmark = pytest.mark.xdist_group("dashboard")

CONFIG = """
[auth]
allowed_domains = ["example.com"]
[auth.roles]
cost = ["finance@example.com"]
admin = ["lead@example.com"]
"""
# The expanders of each page (ui.rows_expander / ui.drilldown keys); the tests open every one.
EXPANDERS = {
    "overview": ("ov-table", "ov-drill-deployments", "ov-drill-changes", "ov-drill-incidents"),
    "delivery": ("dl-changes", "dl-drill-deployments", "dl-table"),
    "stability": ("st-incidents", "st-table"),
    "reliability": ("rel-incidents", "rel-deployments", "rel-availability-incidents"),
    "teams": (),
    "pipelines": ("pl-runs",),
    "data_health": (),
    "costs": ("co-summary",),
    "capacity": (),
}
# The tabs besides the default one (st.tabs bound to ?tab=: only the open tab is drawn); the tests open each.
TABS = {page: ui.TABS[page][1:] for page in ("delivery", "stability")}
EVERYONE = ("overview", "delivery", "stability", "reliability", "pipelines", "teams", "data_health")
# Words only a cost figure brings: money signs and units, and the names of money figures and columns.
COST_MARKS = re.compile(r"\$|USD|cloud cost|cost per|cost ?/|cost of idle|effective[_ ]cost|billed[_ ]cost|"
                        r"cost_per|untagged|unallocated|per deployment\b", re.I)


@pytest.fixture(scope="module")
def config_file(tmp_path_factory):
    config = tmp_path_factory.mktemp("roles-config") / "cadence.toml"
    config.write_text(CONFIG, encoding="utf-8")
    return config


@pytest.fixture
def open_as(demo_warehouse, config_file, monkeypatch):
    """Open a page of the signed-in dashboard as ``email``, every expander of it opened."""
    monkeypatch.setenv("CADENCE_CONFIG", str(config_file))
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)

    def run(email: str, page: str, tab: str | None = None):
        at = new_app_test()
        at.secrets = SECRETS
        at.user = user(email)
        if tab:
            at.query_params[ui.KEY_TAB] = tab
        at.run()
        if page != "overview":
            at.switch_page(f"pages/{page}.py").run()
        for key in EXPANDERS[page]:
            at.session_state[key] = True
        if EXPANDERS[page]:
            at.run()
        assert not at.exception, at.exception
        return at

    with dashboard_env(demo_warehouse):
        yield run


def _walk(node):
    yield node
    children = getattr(node, "children", None)
    if isinstance(children, dict):
        for child in children.values():
            yield from _walk(child)


def _without_bytes(proto):
    """A copy without its binary fields (a table's Arrow bytes; its columns and values are checked as
    DataFrames by ``frames``), so a money sign is not found in the middle of a float's bytes."""
    from google.protobuf.descriptor import FieldDescriptor

    copy = type(proto)()
    copy.CopyFrom(proto)
    stack = [copy]
    while stack:
        message = stack.pop()
        for field, value in message.ListFields():
            if field.type == FieldDescriptor.TYPE_BYTES:
                message.ClearField(field.name)
            elif field.type == FieldDescriptor.TYPE_MESSAGE:
                if hasattr(value, "ListFields"):
                    stack.append(value)
                else:  # repeated (or a map's values)
                    stack.extend(v for v in (value.values() if hasattr(value, "values") else value)
                                 if hasattr(v, "ListFields"))
    return copy


def sent(at) -> str:
    """Everything the run would send to a browser: every node's protobuf as text (markdown, metric
    labels, values and help, chart specs, table bytes, button and expander labels), sidebar too."""
    parts = []
    for node in _walk(at._tree):
        proto = getattr(node, "proto", None)
        if proto is not None and hasattr(proto, "DESCRIPTOR"):
            parts.append(text_format.MessageToString(_without_bytes(proto), as_utf8=True))
    # Element ids start "$$ID-" (not a money sign); the sidebar's tagline names the product, not a figure.
    return "\n".join(parts).replace("$$ID-", "ID-").replace(TAGLINE, "")


def frames(at) -> list[pd.DataFrame]:
    return [d.value for d in at.dataframe]


def cost_findings(at) -> list[str]:
    """What of a cost figure reached this run: marks in the sent elements, cost columns in tables."""
    found = sorted({m.group(0) for m in COST_MARKS.finditer(sent(at))})
    for df in frames(at):
        found += [f"column {c}" for c in df.columns if ui.is_cost_column(c)]
    return found


@pytest.mark.parametrize("page", EVERYONE)
def test_without_the_cost_role_no_cost_figure_reaches_any_element(open_as, page):
    at = open_as("dev@example.com", page)
    assert at.title[0].value != "Not available"
    assert len(sent(at)) > 2000  # the page did draw (the check below is not vacuous)
    assert cost_findings(at) == []


@pytest.mark.parametrize(("page", "tab"), [(p, t) for p, tabs in TABS.items() for t in tabs])
def test_without_the_cost_role_no_cost_figure_reaches_any_tab(open_as, page, tab):
    at = open_as("dev@example.com", page, tab)
    assert at.session_state[ui.KEY_TAB] == tab   # that tab was drawn
    assert len(sent(at)) > 2000
    assert cost_findings(at) == []


@pytest.mark.parametrize("page", EVERYONE)
def test_with_the_cost_role_the_same_pages_do_show_cost(open_as, page):
    at = open_as("finance@example.com", page)
    if page in ("delivery", "stability", "reliability"):
        # No cost figure of their own; the opened metrics table (the export's columns) carries cost columns
        # (cost is allocated to teams, so at the organisation's scope it holds the figures).
        if page == "reliability":
            assert cost_findings(at) == []
            return
    assert cost_findings(at), f"{page}: no cost figure shown to a user with the cost role"


def test_the_overview_cost_tile_is_there_only_with_the_cost_role(open_as, demo_warehouse):
    with_role = open_as("finance@example.com", "overview")
    without = open_as("dev@example.com", "overview")
    assert "Cloud cost" in [m.label for m in with_role.metric]
    assert "Cloud cost" not in [m.label for m in without.metric]
    # Both keep the five DORA keys and the SLO tile.
    assert [m.label for m in without.metric] == [m.label for m in with_role.metric if m.label != "Cloud cost"]
    assert "SLOs met" in [m.label for m in without.metric]


def test_teams_has_money_columns_only_with_the_cost_role(open_as):
    board = open_as("finance@example.com", "teams").dataframe[0].value
    assert {"effective_cost", "cost_per_deployment"} <= set(board.columns)
    board = open_as("dev@example.com", "teams").dataframe[0].value
    assert "effective_cost" not in board.columns and "cost_per_deployment" not in board.columns
    assert {"team", "deploys_per_week", "lead_time_p50_hours"} <= set(board.columns)


def test_the_metrics_table_drops_cost_columns_without_the_role(open_as):
    def metrics_table(at):
        return next(df for df in frames(at) if "band_benchmark" in df.columns)

    full = metrics_table(open_as("finance@example.com", "overview"))
    assert full["effective_cost"].notna().any()  # the organisation's cost per week
    cut = metrics_table(open_as("dev@example.com", "overview"))
    assert [c for c in cut.columns if ui.is_cost_column(c)] == []
    assert list(cut.columns) == [c for c in full.columns if not ui.is_cost_column(c)]
    assert cut["deployments"].tolist() == full["deployments"].tolist()


def test_costs_and_capacity_stop_even_if_reached_without_the_role(open_as):
    """The navigation does not offer them (test_auth_gate.py); run as scripts anyway, they show nothing."""
    from streamlit.testing.v1 import AppTest

    at = open_as("dev@example.com", "overview")
    for page in ("costs", "capacity"):
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            at.switch_page(f"pages/{page}.py")
    for page in ("costs", "capacity"):
        script = AppTest.from_file(str(REPO_ROOT / "pages" / f"{page}.py"),
                                   default_timeout=120)
        script.secrets = SECRETS
        script.user = user("dev@example.com")
        script.run()  # no gate ran in this script: the page helpers fail closed
        assert [t.value for t in script.title] == ["Not available"]
        assert cost_findings(script) == [] and len(script.metric) == 0


def test_data_health_cursors_and_errors_only_for_admins(open_as):
    lead = open_as("lead@example.com", "data_health")
    assert any("last_success_at" in df.columns for df in frames(lead))  # the demo's own sync state row
    for email in ("dev@example.com", "finance@example.com"):
        at = open_as(email, "data_health")
        assert not any("last_success_at" in df.columns or "last_error" in df.columns for df in frames(at))
        assert "sync state (cursors, last success, errors) is shown to Cadence" in sent(at)
    # Cost coverage rows are money: the cost role sees them, the admin without it does not.
    assert "cost with no team tag" in sent(open_as("finance@example.com", "data_health"))
    assert "cost with no team tag" not in sent(lead)


def test_no_page_has_a_button_that_starts_a_sync(open_as):
    for page in EVERYONE:
        at = open_as("dev@example.com", page)
        assert not [b.label for b in at.button if "sync" in str(b.label).lower()]



def test_csv_downloads_hold_no_cost_column_without_the_role(open_as, monkeypatch):
    """What each "Download CSV" button would hand the browser: every CSV built in the run, recorded."""
    built: list[bytes] = []
    real = ui.csv_bytes

    def record(df):
        data = real(df)
        built.append(data)
        return data

    monkeypatch.setattr(ui, "csv_bytes", record)

    def headers(email: str) -> set[str]:
        built.clear()
        for page in ("overview", "delivery", "stability", "teams", "data_health"):
            open_as(email, page)
        assert len(built) >= 8  # the tables of those pages, their expanders open
        return {name for data in built for name in data.decode("utf-8").splitlines()[0].split(",")}

    with_role = headers("finance@example.com")
    assert {"effective_cost", "cost_per_deployment"} <= with_role
    without = headers("dev@example.com")
    assert [c for c in without if ui.is_cost_column(c)] == []
    assert {"deployments", "deploys_per_week"} <= without
