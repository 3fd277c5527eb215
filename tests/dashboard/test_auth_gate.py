"""The sign-in gate under AppTest, on the demo warehouse: what a signed-out, refused, expired and
allowed user gets, which pages each role reaches, and that the allow-list is re-read at every run.
(The real browser and the real provider: test_auth_browser.py.)"""

from __future__ import annotations

import time

import pytest

from warehouse.meta import effective_config
from cadence.core.config import load_config
from tests.support.apptest_support import dashboard_env, new_app_test, texts
from tests.support.signin import ENV, SECRETS, user

pytestmark = pytest.mark.xdist_group("dashboard")

CONFIG = """
[auth]
allowed_domains = ["example.com"]
contact = "lead@example.com"
[auth.roles]
cost = ["finance@example.com"]
admin = ["lead@example.com"]
"""


@pytest.fixture
def signed_in_app(demo_warehouse, tmp_path, monkeypatch):
    """Sign-in configured (env + Streamlit's [auth] secrets) over the demo, with CONFIG's allow-list.
    (AppTest cannot open a deep link before the first run; the browser test does that.)"""
    config = tmp_path / "cadence.toml"
    config.write_text(CONFIG, encoding="utf-8")
    monkeypatch.setenv("CADENCE_CONFIG", str(config))
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)

    def open_as(user: dict | None, page: str | None = None):
        at = new_app_test()
        at.secrets = SECRETS
        at.user = {} if user is None else user
        at.run()
        if page:
            at.switch_page(page).run()
        return at

    with dashboard_env(demo_warehouse):
        yield open_as, config


def data_words(db) -> list[str]:
    """Team and repository names of the demo: none may appear before someone is let in."""
    cfg = effective_config(load_config(None), db)
    return sorted(set(cfg.teams) | {r for t in cfg.teams.values() for r in t.repos})


def assert_nothing_of_the_data(at, db) -> None:
    assert not at.exception
    assert len(at.metric) == 0 and len(at.dataframe) == 0 and len(at.selectbox) == 0
    assert len(at.sidebar.children) == 0 or all(len(c.children) == 0 for c in at.sidebar.children.values())
    shown = texts(at) + " ".join(str(b.label) for b in at.button)
    leaked = [w for w in data_words(db) if w in shown]
    assert not leaked, leaked
    assert "Demo data" not in shown  # not even the banner


def test_signed_out_gets_only_the_product_name_and_a_sign_in_button(signed_in_app, demo_warehouse):
    open_as, _ = signed_in_app
    at = open_as(None)
    assert [t.value for t in at.title] == ["Cadence"]
    assert [b.label for b in at.button] == ["Sign in"]
    assert_nothing_of_the_data(at, demo_warehouse)


def test_allowed_user_with_the_cost_role_reaches_every_page(signed_in_app):
    open_as, _ = signed_in_app
    at = open_as(user("finance@example.com"))
    assert not at.exception
    assert at.title[0].value == "Overview" and len(at.metric) >= 5
    assert "Signed in as finance@example.com" in [c.value for c in at.sidebar.caption]
    assert "Sign out" in [b.label for b in at.sidebar.button]
    for page, title in (("pages/costs.py", "Costs"), ("pages/capacity.py", "Capacity"),
                        ("pages/data_health.py", "Data health")):
        at.switch_page(page).run()
        assert not at.exception and at.title[0].value == title


def test_allowed_user_without_the_cost_role_has_no_costs_or_capacity_page(signed_in_app):
    open_as, _ = signed_in_app
    at = open_as(user("dev@example.com"))
    assert at.title[0].value == "Overview" and len(at.metric) >= 5
    for page in ("pages/costs.py", "pages/capacity.py"):
        # Not in the navigation at all: AppTest finds no registered page to switch to.
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            at.switch_page(page)
    for page, title in (("pages/delivery.py", "Delivery"), ("pages/teams.py", "Teams"),
                        ("pages/data_health.py", "Data health")):
        at.switch_page(page).run()
        assert not at.exception and at.title[0].value == title


@pytest.mark.parametrize("email, verified, sentence", [
    ("outsider@other.org", True, "You are signed in as outsider@other.org, who is not allowed to see Cadence; "
                                 "ask lead@example.com for access."),
    ("dev@example.com", False, "Your e-mail address dev@example.com is not verified by your sign-in provider, so "
                               "Cadence cannot let you in; ask lead@example.com for help."),
])
def test_a_refused_user_sees_one_sentence_and_nothing_else(signed_in_app, demo_warehouse, email, verified, sentence):
    open_as, _ = signed_in_app
    at = open_as(user(email, verified))
    assert [m.value for m in at.markdown] == [sentence]
    assert [t.value for t in at.title] == ["Cadence"] and [b.label for b in at.button] == ["Sign out"]
    assert_nothing_of_the_data(at, demo_warehouse)


def test_removing_someone_from_the_allow_list_locks_them_out_at_the_next_run(signed_in_app, demo_warehouse):
    open_as, config = signed_in_app
    at = open_as(user("dev@example.com"))
    assert at.title[0].value == "Overview"
    config.write_text(CONFIG.replace('allowed_domains = ["example.com"]', 'allowed_emails = ["finance@example.com"]')
                      .replace('admin = ["lead@example.com"]', ""), encoding="utf-8")
    at.run()
    assert [m.value for m in at.markdown] == [
        "You are signed in as dev@example.com, who is not allowed to see Cadence; ask lead@example.com for access."]
    assert_nothing_of_the_data(at, demo_warehouse)


def test_a_sign_in_older_than_session_hours_is_sent_back_to_sign_in(signed_in_app, demo_warehouse):
    open_as, _ = signed_in_app
    at = open_as(user("finance@example.com", issued=time.time() - 12 * 3600 - 60))
    assert [b.label for b in at.button] == ["Sign in"]
    assert "Your sign-in has expired" in texts(at)
    assert_nothing_of_the_data(at, demo_warehouse)


def test_sign_in_configured_but_not_started_with_it_shows_no_data(signed_in_app, demo_warehouse):
    open_as, _ = signed_in_app
    at = new_app_test()
    at.user = user("finance@example.com")  # even a "signed-in" user: the server has no [auth] secrets
    at.run()
    assert "start it with `cadence dashboard`" in texts(at)
    assert_nothing_of_the_data(at, demo_warehouse)


def _probe():
    """A script that passes the gate, then prints what the page helpers answer."""
    import streamlit as st

    from cadence.dashboard import ui
    from cadence.auth import gate

    gate.gate(ui.auth_settings)
    st.write(f"costs={ui.can_see_costs()} admin={ui.can_see_admin_details()}")


def _probe_without_gate():
    import streamlit as st

    from cadence.dashboard import ui

    st.write(f"costs={ui.can_see_costs()} admin={ui.can_see_admin_details()}")


@pytest.mark.parametrize("email, answer", [("finance@example.com", "costs=True admin=False"),
                                           ("lead@example.com", "costs=False admin=True"),
                                           ("dev@example.com", "costs=False admin=False")])
def test_the_page_helpers_answer_with_the_users_roles(signed_in_app, email, answer):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_probe)
    at.secrets = SECRETS
    at.user = user(email)
    at.run()
    assert [m.value for m in at.markdown] == [answer]


def test_the_page_helpers_fail_closed_when_the_gate_did_not_run(signed_in_app):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_probe_without_gate)
    at.run()
    assert [m.value for m in at.markdown] == ["costs=False admin=False"]


def test_without_sign_in_configured_the_helpers_give_every_role(monkeypatch):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_probe)
    at.run()
    assert [m.value for m in at.markdown] == ["costs=True admin=True"]
