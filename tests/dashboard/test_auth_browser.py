"""Sign-in end to end: `cadence dashboard` with the five CADENCE_OIDC_* variables against the real
OpenID provider on 127.0.0.1 (tests/support/oidc_provider.py), driven by headless Chromium through the
provider's own form, over the demo warehouse.

Four users: (a) an allowed user with the cost role, (b) an allowed user without it, (c) a user
outside the allow-list, (d) a user whose e-mail is not verified. For each: what the page shows, which
pages the navigation offers, and what never reaches the browser — checked in the DOM *and* in every
websocket frame (Streamlit sends protobuf deltas; a string in a frame reached the browser even if
nothing drew it). Then: signing out, a tampered cookie, expired cookies, removal from the allow-list,
the audit lines, and that no token or secret is ever logged or sent.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from itsdangerous import URLSafeTimedSerializer

from cadence.dashboard import ui
from warehouse.meta import effective_config
from cadence.core.config import load_config
from tests.support.apptest_support import DEMO_TODAY
from tests.support.browser import chromium, require_browser
from tests.support.clock import now_text
from tests.support.demo import DEFAULT_END, DEFAULT_START, expected_dora, shared_demo
from tests.support.net import free_port, stop, wait_for_health

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(900)]   # a deadline for a busy machine

CADENCE = str(Path(sys.executable).with_name("cadence"))
CLIENT_SECRET = "client-secret-b81e5d2a"
COOKIE_SECRET = "cookie-secret-" + "z7" * 20
CONFIG = """
[auth]
allowed_domains = ["example.com"]
allowed_emails = ["contractor@partner.io"]
contact = "lead@example.com"
[auth.roles]
cost = ["finance@example.com"]
admin = ["lead@example.com"]
"""
USERS = {  # sub -> claims, set on the provider through its HTTP API
    "finance": {"email": "finance@example.com", "email_verified": True, "name": "Fin Ance"},
    "dev": {"email": "dev@example.com", "email_verified": True, "name": "Dev Eloper"},
    "outsider": {"email": "outsider@other.org", "email_verified": True, "name": "Out Sider"},
    "unverified": {"email": "unverified@example.com", "email_verified": False, "name": "Un Verified"},
    "contractor": {"email": "contractor@partner.io", "email_verified": True, "name": "Con Tractor"},
}
SPOOF_HEADERS = {"X-Spoof-Email": "email", "X-Spoof-Login": "is_logged_in", "X-Spoof-Verified": "email_verified",
                 "X-Spoof-Iat": "iat"}
REFUSED_OUTSIDER = ("You are signed in as outsider@other.org, who is not allowed to see Cadence; "
                    "ask lead@example.com for access.")
REFUSED_UNVERIFIED = ("Your e-mail address unverified@example.com is not verified by your sign-in provider, so "
                      "Cadence cannot let you in; ask lead@example.com for help.")


@pytest.fixture(scope="module")
def site(oidc_provider, tmp_path_factory):
    chromium_path = require_browser()
    root = tmp_path_factory.mktemp("auth-browser")
    db = shared_demo(tmp_path_factory)
    config = root / "cadence.toml"
    config.write_text(CONFIG, encoding="utf-8")
    for sub, claims in USERS.items():
        oidc_provider.set_user(sub, **claims)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if k not in ("CADENCE_CONFIG", "CADENCE_DB")}
    env.update(CADENCE_NOW=now_text(DEMO_TODAY), STREAMLIT_SERVER_FILE_WATCHER_TYPE="none",
               CADENCE_OIDC_ISSUER=oidc_provider.issuer, CADENCE_OIDC_CLIENT_ID="cadence",
               CADENCE_OIDC_CLIENT_SECRET=CLIENT_SECRET, CADENCE_COOKIE_SECRET=COOKIE_SECRET,
               CADENCE_PUBLIC_URL=base)
    # A Streamlit config in the working directory that would take the identity from request headers;
    # `cadence dashboard` must override it (test_spoofed_identity_headers_get_nothing).
    (root / ".streamlit").mkdir()
    (root / ".streamlit" / "config.toml").write_text(
        "[server]\ntrustedUserHeaders = " + json.dumps(SPOOF_HEADERS).replace(":", " =") + "\n", encoding="utf-8")
    log = (root / "dashboard.log").open("w+")
    proc = subprocess.Popen([CADENCE, "--db", str(db), "--config", str(config), "dashboard", "--port", str(port)],
                            cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    wait_for_health(base, proc, log)
    yield {"base": base, "db": db, "config": config, "log": log, "chromium": chromium_path,
           "issuer": oidc_provider.issuer, "tokens": []}
    stop(proc)
    log.close()


@pytest.fixture(scope="module")
def browser(site):
    with chromium(site["chromium"]) as b:
        yield b


@pytest.fixture(scope="module")
def secrets_words(site) -> list[str]:
    """Team and repository names of the demo and the Overview's default figures: what must not
    reach a browser before its user is let in."""
    cfg = effective_config(load_config(site["config"]), site["db"])
    row = expected_dora(site["db"], DEFAULT_START, DEFAULT_END, by="org")
    figures = [ui.fmt_per_week(row["deploys_per_week"]), ui.fmt_hours(row["lead_time_p50_hours"]),
               ui.fmt_pct(row["change_failure_rate"]), ui.fmt_hours(row["recovery_time_p50_hours"])]
    return sorted(set(cfg.teams) | {r for t in cfg.teams.values() for r in t.repos} | set(figures)
                  | {"Deployment frequency", "Demo data"})


def found(words: list[str], blob: str) -> list[str]:
    """Which words occur in blob as whole words ("data" the team, not "data-testid"). The demo has a
    team called "data", and the page *names* (not data) travel with the navigation, so "data
    health" / "data_health" are taken out first."""
    blob = re.sub(r"(?i)data[ _]health", "", blob)
    return [w for w in words if re.search(rf"(?<![\w/-]){re.escape(w)}(?![\w/-])", blob)]


class Visit:
    """A browser context (its own cookies) with every websocket frame it received."""

    def __init__(self, browser, site):
        self.site = site
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.page = self.context.new_page()
        self.frames: list[bytes] = []
        self.page.on("websocket", lambda ws: ws.on("framereceived", self._frame))

    def _frame(self, payload) -> None:
        self.frames.append(payload if isinstance(payload, bytes) else payload.encode())

    def frames_text(self) -> str:
        return b"\n".join(self.frames).decode("latin-1")

    def settle(self) -> None:
        self.page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=60_000)
        self.page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')",
                                    timeout=30_000)

    def sign_in(self, sub: str) -> None:
        """From the sign-in screen through the provider's form, back to Cadence."""
        base = self.site["base"]
        self.page.goto(base)
        self.page.get_by_role("button", name="Sign in", exact=True).click()
        self.page.wait_for_url(f"{self.site['issuer']}/oauth2/authorize**", timeout=30_000)
        self.page.fill('input[name="sub"]', sub)
        self.page.get_by_role("button", name="Authorize", exact=True).click()
        self.page.wait_for_url(f"{base}/**", timeout=30_000)
        self.page.wait_for_selector('[data-testid="stApp"]', timeout=30_000)
        self.settle()

    def nav_links(self) -> list[str]:
        # Each link's text is its icon's ligature name, then its title.
        return [t.strip().splitlines()[-1] for t in self.page.locator('[data-testid="stTopNavLink"]').all_inner_texts()]

    def body(self) -> str:
        return self.page.inner_text("body")

    def main_lines(self) -> list[str]:
        """The lines of the main area (the body also holds a hidden "Skip to main content" link)."""
        text = self.page.locator('[data-testid="stMain"]').inner_text()
        return [line.strip() for line in text.splitlines() if line.strip()]

    def cookie(self, name: str) -> str | None:
        return next((c["value"] for c in self.context.cookies() if c["name"] == name), None)

    def close(self) -> None:
        self.context.close()


def signed_cookie(name: str, payload: dict, *, at: float | None = None) -> str:
    """A cookie as Streamlit signs it (itsdangerous, salted by the cookie name), optionally dated."""
    serializer = URLSafeTimedSerializer(COOKIE_SECRET, salt=name)
    if at is None:
        return serializer.dumps(json.dumps(payload))
    import itsdangerous.timed as timed

    real = timed.time.time
    timed.time.time = lambda: at
    try:
        return serializer.dumps(json.dumps(payload))
    finally:
        timed.time.time = real


def assert_refused_screen(visit: Visit, sentence: str, words: list[str]) -> None:
    visit.page.get_by_text(sentence).wait_for(timeout=30_000)
    visit.settle()
    assert visit.main_lines() == ["Cadence", sentence, "Sign out"]
    assert visit.nav_links() == [] and visit.page.locator('[data-testid="stSidebar"]').count() == 0
    assert not found(words, visit.page.content()), found(words, visit.page.content())
    assert not found(words, visit.frames_text()), found(words, visit.frames_text())


def log_text(site) -> str:
    site["log"].flush()
    return Path(site["log"].name).read_text(encoding="utf-8", errors="replace")


# -- before sign-in --------------------------------------------------------------------------------

def test_a_visitor_gets_only_the_sign_in_screen_and_no_data_reaches_the_browser(site, browser, secrets_words):
    visit = Visit(browser, site)
    try:
        for path in ("", "delivery", "costs", "teams?team=checkout"):  # deep links too
            visit.page.goto(f"{site['base']}/{path}")
            visit.page.get_by_role("button", name="Sign in", exact=True).wait_for(timeout=30_000)
            visit.settle()
            assert visit.main_lines() == ["Cadence", "DORA delivery metrics beside cloud cost", "Sign in"]
            assert not re.search(r"\d", visit.body()), "a number on the sign-in screen"
            assert visit.page.get_by_role("button").all_inner_texts() == ["Sign in"]
            assert visit.nav_links() == [] and visit.page.locator('[data-testid="stSidebar"]').count() == 0
            assert visit.page.get_by_text("Page not found").count() == 0
        assert len(visit.frames) > 5  # the websocket was listened to
        assert not found(secrets_words, visit.page.content())
        assert not found(secrets_words, visit.frames_text()), found(secrets_words, visit.frames_text())
    finally:
        visit.close()


def test_spoofed_identity_headers_get_nothing(site, browser, secrets_words):
    visit = Visit(browser, site)
    try:
        visit.context.set_extra_http_headers({"X-Spoof-Email": "finance@example.com", "X-Spoof-Login": "true",
                                              "X-Spoof-Verified": "true", "X-Spoof-Iat": str(int(time.time()))})
        visit.page.goto(site["base"])
        visit.page.get_by_role("button", name="Sign in", exact=True).wait_for(timeout=30_000)
        visit.settle()
        assert visit.main_lines() == ["Cadence", "DORA delivery metrics beside cloud cost", "Sign in"]
        assert not found(secrets_words, visit.frames_text())
    finally:
        visit.close()


# -- (a) allowed, with the cost role ---------------------------------------------------------------

def test_an_allowed_user_with_the_cost_role_signs_in_sees_every_page_and_signs_out(site, browser, secrets_words):
    visit = Visit(browser, site)
    try:
        visit.sign_in("finance")
        visit.page.get_by_role("heading", name="Overview", exact=True).wait_for(timeout=60_000)
        assert visit.nav_links() == ["Overview", "Delivery", "Stability", "Reliability", "Pipelines", "Teams", "Costs",
                                     "Capacity", "Data health"]
        sidebar = visit.page.locator('[data-testid="stSidebar"]')
        assert "Signed in as finance@example.com" in sidebar.inner_text()
        # The frame search does find data once someone is let in (the check below is not vacuous).
        assert found(secrets_words, visit.frames_text())
        # The cost role sees the Overview's cost tile: the cost-word search finds it (so its empty result
        # for a user without the role, below, means something).
        visit.settle()
        assert "Cloud cost" in cost_words_in(visit)
        visit.page.goto(f"{site['base']}/costs")
        visit.page.get_by_role("heading", name="Costs", exact=True).wait_for(timeout=60_000)
        visit.settle()

        # Tokens live in the signed cookie only: never sent in a frame, drawn, or logged.
        raw = URLSafeTimedSerializer(COOKIE_SECRET, salt="_streamlit_user_tokens").loads(
            visit.cookie("_streamlit_user_tokens"))
        tokens = [t for t in json.loads(raw).values() if t]
        assert len(tokens) == 2  # id_token and access_token
        site["tokens"].extend(tokens)
        for token in tokens:
            assert token not in visit.frames_text() and token not in visit.page.content()

        # Sign out: the provider's end-session page, then back to Cadence's sign-in screen.
        sidebar.get_by_role("button", name="Sign out", exact=True).click()
        visit.page.wait_for_url(f"{site['issuer']}/oauth2/end_session**", timeout=30_000)
        visit.page.get_by_role("button", name="End session").click()
        visit.page.get_by_role("button", name="Sign in", exact=True).wait_for(timeout=30_000)
        assert visit.cookie("_streamlit_user") is None and visit.cookie("_streamlit_user_tokens") is None
        visit.page.goto(f"{site['base']}/costs")
        visit.page.get_by_role("button", name="Sign in", exact=True).wait_for(timeout=30_000)
        assert visit.page.get_by_role("heading", name="Costs").count() == 0
    finally:
        visit.close()
    log = log_text(site)
    assert len(re.findall(r"^cadence\.audit: sign-in finance@example\.com at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ "
                          r"\(roles: cost\)$", log, re.M)) == 1  # two page loads, one sign-in
    assert re.search(r"^cadence\.audit: sign-out finance@example\.com at \S+Z$", log, re.M)


# -- (b) allowed, without the cost role ------------------------------------------------------------

# What only a cost figure brings to a page or a websocket frame: tile and chart names, money columns,
# the charts' unit. (test_roles_pages.py checks every element of every page under AppTest.)
COST_WORDS = ["Cloud cost", "cost per deployment", "per deployment", "effective_cost", "billed_cost",
              "cost_per_deployment", "cost / deployment", "USD", "untagged", "unallocated"]


def cost_words_in(visit: Visit) -> list[str]:
    blob = visit.page.content() + "\n" + visit.frames_text()
    return [w for w in COST_WORDS if w in blob]


def test_an_allowed_user_without_the_cost_role_has_no_costs_or_capacity(site, browser):
    visit = Visit(browser, site)
    try:
        visit.sign_in("dev")
        visit.page.get_by_role("heading", name="Overview", exact=True).wait_for(timeout=60_000)
        # Pipelines stays (its CI cost figures are left out for this role)
        assert visit.nav_links() == ["Overview", "Delivery", "Stability", "Reliability", "Pipelines", "Teams",
                                     "Data health"]
        # No cost figure reaches the browser: not on the Overview (no cost tile), not on Teams (no money
        # columns), not on Data health (no cost coverage rows), in the DOM or in any websocket frame.
        visit.settle()
        # The SLO tile itself is the condition (a settled state can be read mid-rerun on a busy machine).
        visit.page.locator('[data-testid="stMetricLabel"]', has_text="SLOs met").first.wait_for(timeout=60_000)
        assert "SLOs met" in visit.body() and "Cloud cost" not in visit.body()
        for path, title in (("teams", "Teams"), ("data_health", "Data health")):
            visit.page.goto(f"{site['base']}/{path}")
            visit.page.get_by_role("heading", name=title, exact=True).wait_for(timeout=60_000)
            visit.settle()
        assert len(visit.frames) > 5
        assert cost_words_in(visit) == []
        # ... and no sync cursors or errors without admin
        assert "shown to Cadence's admins" in visit.body() and "last success (UTC)" not in visit.body()
        for path in ("costs", "capacity"):
            visit.page.goto(f"{site['base']}/{path}")
            visit.page.get_by_role("heading", name="Overview", exact=True).wait_for(timeout=60_000)
            visit.settle()
            assert visit.page.get_by_role("heading", name=path.capitalize(), exact=True).count() == 0
        visit.page.goto(f"{site['base']}/data_health")
        visit.page.get_by_role("heading", name="Data health", exact=True).wait_for(timeout=60_000)
    finally:
        visit.close()
    assert re.search(r"^cadence\.audit: sign-in dev@example\.com at \S+Z \(roles: none\)$", log_text(site), re.M)


# -- (c) outside the allow-list, (d) unverified e-mail ---------------------------------------------

@pytest.mark.parametrize("sub, sentence, reason", [("outsider", REFUSED_OUTSIDER, "not on the allow-list"),
                                                   ("unverified", REFUSED_UNVERIFIED, "e-mail not verified")])
def test_a_refused_user_sees_one_sentence_and_nothing_of_the_data(site, browser, secrets_words, sub, sentence,
                                                                  reason):
    visit = Visit(browser, site)
    try:
        visit.sign_in(sub)
        assert_refused_screen(visit, sentence, secrets_words)
        visit.page.goto(f"{site['base']}/teams?team=checkout")  # a deep link changes nothing
        assert_refused_screen(visit, sentence, secrets_words)
        assert not re.search(r"\d", visit.body())
    finally:
        visit.close()
    email = USERS[sub]["email"]
    assert len(re.findall(rf"^cadence\.audit: refused {re.escape(email)} at \S+Z \({reason}\)$",
                          log_text(site), re.M)) == 1


# -- sessions: tampered and expired cookies, removal from the allow-list ---------------------------

def test_tampered_and_expired_cookies_send_the_user_back_to_sign_in(site, browser, secrets_words):
    visit = Visit(browser, site)
    try:
        visit.sign_in("dev")
        visit.page.get_by_role("heading", name="Overview", exact=True).wait_for(timeout=60_000)
        good = visit.cookie("_streamlit_user")
        payload = json.loads(URLSafeTimedSerializer(COOKIE_SECRET, salt="_streamlit_user").loads(good))
        assert payload["email"] == "dev@example.com"

        def back_to_sign_in(cookie_value: str) -> str:
            visit.context.add_cookies([{"name": "_streamlit_user", "value": cookie_value, "url": site["base"]}])
            visit.frames.clear()
            visit.page.goto(site["base"])
            visit.page.get_by_role("button", name="Sign in", exact=True).wait_for(timeout=30_000)
            visit.settle()
            assert not found(secrets_words, visit.frames_text()), found(secrets_words, visit.frames_text())
            assert visit.page.get_by_role("heading", name="Overview").count() == 0
            return visit.body()

        # Tampered: the e-mail changed to one with the cost role, the original timestamp and signature kept;
        # then the same claims signed with a secret that is not the server's.
        serializer = URLSafeTimedSerializer(COOKIE_SECRET, salt="_streamlit_user")
        _, stamp, signature = good.rsplit(".", 2)
        forged = dict(payload, email="finance@example.com")
        back_to_sign_in(f"{serializer.dump_payload(json.dumps(forged)).decode()}.{stamp}.{signature}")
        wrong_key = URLSafeTimedSerializer("not-the-server-secret-" * 3, salt="_streamlit_user")
        back_to_sign_in(wrong_key.dumps(json.dumps(forged)))
        back_to_sign_in(good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB"))  # a broken signature
        # Validly signed, but the sign-in is 13 hours old (session_hours defaults to 12).
        old = dict(payload, iat=int(time.time()) - 13 * 3600)
        assert "Your sign-in has expired" in back_to_sign_in(signed_cookie("_streamlit_user", old))
        # Validly signed, but the cookie itself is 40 days old (Streamlit honours 30 days and a grace day).
        back_to_sign_in(signed_cookie("_streamlit_user", payload, at=time.time() - 40 * 86400))
        # The untouched cookie still works: nothing else changed.
        visit.context.add_cookies([{"name": "_streamlit_user", "value": good, "url": site["base"]}])
        visit.page.goto(site["base"])
        visit.page.get_by_role("heading", name="Overview", exact=True).wait_for(timeout=60_000)
    finally:
        visit.close()


def test_a_user_removed_from_the_allow_list_is_refused_at_the_next_page_load(site, browser, secrets_words):
    visit = Visit(browser, site)
    config = site["config"]
    try:
        visit.sign_in("contractor")
        visit.page.get_by_role("heading", name="Overview", exact=True).wait_for(timeout=60_000)
        config.write_text(CONFIG.replace('allowed_emails = ["contractor@partner.io"]\n', ""), encoding="utf-8")
        visit.frames.clear()
        visit.page.reload()
        assert_refused_screen(visit, "You are signed in as contractor@partner.io, who is not allowed to see Cadence; "
                                     "ask lead@example.com for access.", secrets_words)
    finally:
        config.write_text(CONFIG, encoding="utf-8")
        visit.close()


# -- what is logged --------------------------------------------------------------------------------

def test_no_token_or_secret_is_ever_logged(site, browser):
    if not site["tokens"]:  # this module's sign-in test collects them; run it alone to get them here
        visit = Visit(browser, site)
        try:
            visit.sign_in("finance")
            raw = URLSafeTimedSerializer(COOKIE_SECRET, salt="_streamlit_user_tokens").loads(
                visit.cookie("_streamlit_user_tokens"))
            site["tokens"].extend(t for t in json.loads(raw).values() if t)
        finally:
            visit.close()
    log = log_text(site)
    assert "cadence.audit: sign-in" in log
    for secret in (CLIENT_SECRET, COOKIE_SECRET, *site["tokens"]):
        assert secret not in log
    audit = [line for line in log.splitlines() if line.startswith("cadence.audit:")]
    assert audit and all(re.fullmatch(r"cadence\.audit: (sign-in|refused|sign-out|sign-in expired) \S+@\S+ at "
                                      r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ( \(.*\))?", line) for line in audit), audit
