"""The sign-in model without a server: the [auth] section's validation, who may enter with which
roles, session age, the refusal sentence, which pages a role sees, and the five OIDC variables."""

from __future__ import annotations

import tomllib

import pytest

from cadence.auth.oidc import OIDC_ENV, is_loopback_host, read_oidc_env, sign_in_configured
from cadence.auth.roles import (ALLOWED, NO_ALLOW_LIST, NO_EMAIL, NOT_LISTED, OPEN_ACCESS, UNVERIFIED, decide,
                                page_visible, refusal_message, session_expired)
from cadence.core.settings.auth import AuthConfigError, parse_auth
from cadence.core.config import load_config, parse_config
from cadence.core.errors import ConfigError

AUTH = {
    "allowed_domains": ["Example.com"],
    "allowed_emails": ["Contractor@Partner.io"],
    "contact": "#cadence-access on Slack",
    "roles": {"cost": ["finance@example.com", "@example.com", "contractor@partner.io"],
              "admin": ["lead@example.com"]},
}


def claims(email, verified=True, **extra):
    return {"email": email, "email_verified": verified, "is_logged_in": True, **extra}


# -- who may enter, with which roles ---------------------------------------------------------------

def test_domain_and_single_addresses_enter_case_insensitively_with_their_roles():
    s = parse_auth(AUTH)
    finance = decide(s, claims("FINANCE@example.COM"))
    assert finance.allowed and finance.reason == ALLOWED
    assert finance.email == "finance@example.com" and finance.roles == {"cost"}
    assert decide(s, claims("lead@example.com")).roles == {"cost", "admin"}  # @example.com gives cost
    assert decide(s, claims("contractor@partner.io")).roles == {"cost"}


def test_roles_are_given_only_to_those_listed():
    s = parse_auth({"allowed_domains": ["example.com", "partner.io"],
                    "roles": {"cost": ["finance@example.com"], "admin": ["@example.com"]}})
    dev = decide(s, claims("dev@example.com"))
    assert dev.allowed and dev.roles == {"admin"} and not dev.can("cost")
    outsider = decide(s, claims("someone@partner.io"))
    assert outsider.allowed and outsider.roles == frozenset()
    # [auth.roles] with only one role listed: nobody holds the other one.
    only_cost = parse_auth({"allowed_domains": ["example.com"], "roles": {"cost": ["@example.com"]}})
    assert decide(only_cost, claims("a@example.com")).roles == {"cost"}


def test_without_roles_section_every_allowed_user_holds_every_role():
    s = parse_auth({"allowed_domains": ["example.com"]})
    assert decide(s, claims("anyone@example.com")).roles == {"cost", "admin"}


@pytest.mark.parametrize("email", ["someone@other.org", "evil@notexample.com", "x@example.com.evil.org",
                                   "x@sub.example.com", "contractor@partner.io.evil"])
def test_addresses_outside_the_allow_list_are_refused(email):
    access = decide(parse_auth(AUTH), claims(email))
    assert not access.allowed and access.reason == NOT_LISTED and access.roles == frozenset()
    assert not access.can("cost")


@pytest.mark.parametrize("verified", [False, None, "false", "no", 1])
def test_an_unverified_email_is_refused_by_default(verified):
    c = claims("dev@example.com", verified)
    if verified is None:
        del c["email_verified"]
    access = decide(parse_auth(AUTH), c)
    assert not access.allowed and access.reason == UNVERIFIED


def test_string_true_counts_as_verified_and_the_check_can_be_turned_off():
    assert decide(parse_auth(AUTH), claims("dev@example.com", "True")).allowed
    relaxed = parse_auth({**AUTH, "require_verified_email": False})
    assert decide(relaxed, claims("dev@example.com", False)).allowed


@pytest.mark.parametrize("email", [None, "", "not-an-address", 42, "dev@"])
def test_no_usable_email_claim_is_refused(email):
    access = decide(parse_auth(AUTH), {"email": email, "email_verified": True})
    assert not access.allowed and access.reason == NO_EMAIL


def test_no_allow_list_refuses_everyone():
    access = decide(None, claims("dev@example.com"))
    assert not access.allowed and access.reason == NO_ALLOW_LIST


def test_the_open_dashboard_has_every_role():
    assert OPEN_ACCESS.can("cost") and OPEN_ACCESS.can("admin")


# -- pages a role sees -----------------------------------------------------------------------------

def test_costs_and_capacity_need_the_cost_role_and_other_pages_do_not():
    s = parse_auth(AUTH)
    with_cost = decide(s, claims("finance@example.com"))
    without = decide(parse_auth({"allowed_domains": ["example.com"], "roles": {"admin": ["@example.com"]}}),
                     claims("dev@example.com"))
    pages = ["", "delivery", "stability", "teams", "costs", "capacity", "data_health"]
    assert [p for p in pages if page_visible(p, with_cost)] == pages
    assert [p for p in pages if page_visible(p, without)] == ["", "delivery", "stability", "teams", "data_health"]
    refused = decide(s, claims("x@other.org"))
    assert not any(page_visible(p, refused) for p in pages)


# -- session age -----------------------------------------------------------------------------------

def test_a_sign_in_older_than_session_hours_has_expired():
    s = parse_auth({**AUTH, "session_hours": 8})
    issued = 1_700_000_000
    assert not session_expired({"iat": issued}, s, now=issued + 8 * 3600)       # exactly 8 h: still valid
    assert session_expired({"iat": issued}, s, now=issued + 8 * 3600 + 1)
    assert session_expired({}, s, now=issued)                                    # no iat: cannot tell, so no
    assert session_expired({"iat": "1700000000"}, s, now=issued)
    assert not session_expired({"iat": issued}, None, now=issued + 12 * 3600)   # default 12 h


# -- the refusal sentence --------------------------------------------------------------------------

def test_the_refusal_is_one_sentence_naming_the_address_and_whom_to_ask():
    s = parse_auth(AUTH)
    text = refusal_message(decide(s, claims("someone@other.org")), s)
    assert text == ("You are signed in as someone@other.org, who is not allowed to see Cadence; "
                    "ask #cadence-access on Slack for access.")
    unverified = refusal_message(decide(s, claims("dev@example.com", False)), s)
    assert "dev@example.com is not verified" in unverified and "#cadence-access on Slack" in unverified


def test_without_contact_the_refusal_names_the_admins_then_a_generic_person():
    s = parse_auth({"allowed_domains": ["example.com"],
                    "roles": {"admin": ["lead@example.com", "ops@example.com", "@example.com"]}})
    assert refusal_message(decide(s, claims("x@other.org")), s).endswith(
        "ask lead@example.com or ops@example.com for access.")
    bare = parse_auth({"allowed_domains": ["example.com"]})
    assert "the person who runs Cadence" in refusal_message(decide(bare, claims("x@other.org")), bare)


# -- [auth] validation: one line naming file, key and problem -------------------------------------

@pytest.mark.parametrize("section, key, words", [
    ({"allowed_domains": ["example.com"], "colour": "red"}, "auth.colour", "unknown key"),
    ({"allowed_domains": ["example.com"], "client_secret": "x"}, "auth.client_secret", "environment"),
    ({"allowed_domains": ["example.com"], "issuer": "https://x"}, "auth.issuer", "CADENCE_OIDC_ISSUER"),
    ({}, "auth", "nobody"),
    ({"allowed_domains": "example.com"}, "auth.allowed_domains", "list of non-empty strings"),
    ({"allowed_domains": ["@example.com"]}, "auth.allowed_domains", 'without "@"'),
    ({"allowed_domains": ["example"]}, "auth.allowed_domains", "not an e-mail domain"),
    ({"allowed_emails": ["bob"]}, "auth.allowed_emails", "not an e-mail address"),
    ({"allowed_emails": ["a@b.com, c@d.com"]}, "auth.allowed_emails", "not an e-mail address"),
    ({"allowed_domains": ["example.com"], "require_verified_email": "yes"}, "auth.require_verified_email",
     "true or false"),
    ({"allowed_domains": ["example.com"], "contact": ""}, "auth.contact", "one line"),
    ({"allowed_domains": ["example.com"], "session_hours": 0}, "auth.session_hours", "1 to 720"),
    ({"allowed_domains": ["example.com"], "session_hours": 1000}, "auth.session_hours", "1 to 720"),
    ({"allowed_domains": ["example.com"], "roles": ["cost"]}, "auth.roles", "must be a table"),
    ({"allowed_domains": ["example.com"], "roles": {"finance": ["@example.com"]}}, "auth.roles.finance",
     "unknown role"),
    ({"allowed_domains": ["example.com"], "roles": {"cost": ["example.com"]}}, "auth.roles.cost",
     "neither an e-mail address"),
    ({"allowed_domains": ["example.com"], "roles": {"admin": ["boss@other.org"]}}, "auth.roles.admin",
     "not let in"),
    ({"allowed_emails": ["a@example.com"], "roles": {"cost": ["@example.com"]}}, "auth.roles.cost", "not let in"),
])
def test_a_wrong_auth_section_is_one_line_naming_file_key_and_problem(tmp_path, section, key, words):
    path = tmp_path / "cadence.toml"
    with pytest.raises(ConfigError) as info:
        parse_config({"auth": section}, path)
    message = str(info.value)
    assert message.startswith(f"{path}: {key}: ") and words in message and "\n" not in message
    assert isinstance(info.value, AuthConfigError)


def test_the_auth_section_loads_from_a_toml_file(tmp_path):
    path = tmp_path / "cadence.toml"
    path.write_text('[auth]\nallowed_domains = ["example.com"]\nrequire_verified_email = false\n'
                    'session_hours = 24\n[auth.roles]\ncost = ["@example.com"]\n', encoding="utf-8")
    auth = load_config(path).auth
    assert auth.allowed_domains == ("example.com",) and auth.require_verified_email is False
    assert auth.session_hours == 24 and auth.role_members("cost") == ("@example.com",)
    assert auth.role_members("admin") == ()
    assert parse_config({}).auth is None  # no [auth]: None (sign-in then admits nobody)


# -- the five environment variables ----------------------------------------------------------------

GOOD_ENV = {"CADENCE_OIDC_ISSUER": "https://login.example.com/realms/acme/",
            "CADENCE_OIDC_CLIENT_ID": "cadence",
            "CADENCE_OIDC_CLIENT_SECRET": "s3cr3t-client",
            "CADENCE_COOKIE_SECRET": "k" * 32,
            "CADENCE_PUBLIC_URL": "https://cadence.example.com/"}


def test_no_variable_means_no_sign_in_and_all_five_give_streamlits_auth_section():
    assert read_oidc_env({}) is None
    assert read_oidc_env({name: "  " for name in OIDC_ENV}) is None
    oidc = read_oidc_env(GOOD_ENV)
    assert oidc.streamlit_secrets() == {"auth": {
        "redirect_uri": "https://cadence.example.com/oauth2callback",
        "cookie_secret": "k" * 32,
        "client_id": "cadence",
        "client_secret": "s3cr3t-client",
        "server_metadata_url": "https://login.example.com/realms/acme/.well-known/openid-configuration",
        "client_kwargs": {"scope": "openid email profile"},
    }}
    assert "s3cr3t-client" not in repr(oidc) and "k" * 32 not in repr(oidc)
    assert read_oidc_env({**GOOD_ENV, "CADENCE_PUBLIC_URL": "https://x.example.com/cadence"}).base_path == "cadence"


def test_the_public_url_alone_does_not_switch_sign_in_on():
    # CADENCE_PUBLIC_URL also gives notification links their address; on its own it is not sign-in.
    alone = {"CADENCE_PUBLIC_URL": "https://cadence.example.com/"}
    assert read_oidc_env(alone) is None
    assert not sign_in_configured(alone)
    # Any one of the other four does switch it on (and then all five are asked for).
    for name in OIDC_ENV:
        if name == "CADENCE_PUBLIC_URL":
            continue
        env = {**alone, name: GOOD_ENV[name]}
        assert sign_in_configured(env), name
        with pytest.raises(AuthConfigError, match="half configured"):
            read_oidc_env(env)


def test_partly_set_variables_name_the_missing_ones():
    env = {k: v for k, v in GOOD_ENV.items() if k not in ("CADENCE_OIDC_CLIENT_SECRET", "CADENCE_PUBLIC_URL")}
    with pytest.raises(AuthConfigError) as info:
        read_oidc_env(env)
    message = str(info.value)
    assert "CADENCE_OIDC_CLIENT_SECRET, CADENCE_PUBLIC_URL are not set" in message
    assert "s3cr3t" not in message and "k" * 32 not in message


def test_a_short_cookie_secret_is_refused_without_showing_it():
    with pytest.raises(AuthConfigError) as info:
        read_oidc_env({**GOOD_ENV, "CADENCE_COOKIE_SECRET": "x" * 31})
    assert "31 characters" in str(info.value) and "at least 32" in str(info.value)
    assert "x" * 31 not in str(info.value)


@pytest.mark.parametrize("issuer, ok", [
    ("http://127.0.0.1:5555", True), ("http://localhost:5555/realms/x", True), ("http://[::1]:80", True),
    ("http://127.9.9.9", True), ("https://idp.example.com", True),
    ("http://idp.example.com", False), ("http://10.0.0.5:8080", False), ("http://0.0.0.0", False),
    ("ftp://idp.example.com", False), ("idp.example.com", False), ("https://idp.example.com/?x=1", False),
])
def test_a_plain_http_issuer_is_accepted_only_on_loopback(issuer, ok):
    env = {**GOOD_ENV, "CADENCE_OIDC_ISSUER": issuer}
    if ok:
        assert read_oidc_env(env).issuer == issuer.rstrip("/")
    else:
        with pytest.raises(AuthConfigError, match="CADENCE_OIDC_ISSUER"):
            read_oidc_env(env)


@pytest.mark.parametrize("host, loopback", [("127.0.0.1", True), ("localhost", True), ("::1", True),
                                            ("127.0.0.2", True), ("0.0.0.0", False), ("::", False),
                                            ("192.168.1.10", False), ("cadence.example.com", False), ("", False)])
def test_loopback_hosts(host, loopback):
    assert is_loopback_host(host) is loopback


def test_the_generated_secrets_document_is_what_streamlit_reads_back():
    from cadence.auth.launch import to_toml

    tricky = {**GOOD_ENV, "CADENCE_OIDC_CLIENT_SECRET": 'a"b\\c\td\u007fé😀', "CADENCE_COOKIE_SECRET": "é" * 40}
    doc = read_oidc_env(tricky).streamlit_secrets()
    assert tomllib.loads(to_toml(doc)) == doc


def test_docs_name_every_auth_key_and_variable():
    from pathlib import Path

    from cadence.core.settings.auth import AUTH_KEYS, ROLES

    root = Path(__file__).resolve().parents[2]
    configuration = (root / "docs" / "configuration.md").read_text(encoding="utf-8")
    operations = (root / "docs" / "operations.md").read_text(encoding="utf-8")
    readme = (root / "README.md").read_text(encoding="utf-8")
    assert "`auth`" in configuration and "[auth.roles]" in configuration
    for key in (*(k for k in AUTH_KEYS if k != "roles"), *ROLES):  # roles: the [auth.roles] table
        assert f"`{key}`" in configuration, key
    for name in OIDC_ENV:
        assert f"`{name}`" in configuration and f"`{name}`" in operations and name in readme, name
    assert "## Sign-in" in operations and "/oauth2callback" in operations and "`openid email profile`" in operations
    for provider in ("Google", "Entra ID", "Okta", "Keycloak"):
        assert f"**{provider}" in operations or f"**Microsoft {provider}" in operations, provider


def test_the_example_config_auth_block_is_valid_once_uncommented():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "cadence.example.toml").read_text(encoding="utf-8")
    block = text[text.index("# [auth]"):]
    uncommented = "\n".join(line[2:] for line in block.splitlines() if line.startswith("# "))
    auth = parse_config(tomllib.loads(uncommented)).auth
    assert auth.allowed_domains == ("example.com",) and auth.role_members("cost") == ("finance@example.com",)


# -- audit lines -----------------------------------------------------------------------------------

def test_an_audit_line_is_one_line_with_the_email_and_utc_time():
    from datetime import datetime, timedelta, timezone

    from cadence.auth.audit import audit_line

    when = datetime(2026, 3, 2, 10, 15, 4, tzinfo=timezone(timedelta(hours=1)))
    assert audit_line("sign-in", "a@example.com", when, "roles: cost") == \
        "sign-in a@example.com at 2026-03-02T09:15:04Z (roles: cost)"
    forged = audit_line("refused", "x@example.com\ncadence.audit: sign-in boss@example.com", when)
    assert "\n" not in forged and forged.startswith("refused x@example.com\\x0acadence.audit")


def test_a_sign_in_is_recorded_once_however_many_page_loads(caplog):
    from cadence.auth import audit

    caplog.set_level("INFO", logger="cadence.audit")
    for _ in range(3):  # three tabs or page loads of the same sign-in
        audit.record(audit.SIGN_IN, "once@example.com", "roles: cost", once_per=1_700_000_000)
    audit.record(audit.SIGN_IN, "once@example.com", "roles: cost", once_per=1_700_009_999)  # a new sign-in
    audit.record(audit.SIGN_OUT, "once@example.com")
    lines = [r.getMessage() for r in caplog.records if r.name == "cadence.audit"]
    assert [line.split(" at ")[0] for line in lines] == ["sign-in once@example.com", "sign-in once@example.com",
                                                         "sign-out once@example.com"]
