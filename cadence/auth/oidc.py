"""The OpenID Connect provider, from five environment variables (never from the config file):

| variable | what |
|---|---|
| ``CADENCE_OIDC_ISSUER`` | the issuer URL; ``<issuer>/.well-known/openid-configuration`` is read |
| ``CADENCE_OIDC_CLIENT_ID`` | the client (application) id registered with the provider |
| ``CADENCE_OIDC_CLIENT_SECRET`` | its secret |
| ``CADENCE_COOKIE_SECRET`` | at least 32 random characters; signs the session cookie |
| ``CADENCE_PUBLIC_URL`` | the address users type; the redirect URI is ``<public url>/oauth2callback`` |

All five or none: none serves the dashboard without sign-in (loopback only unless ``--no-auth``).
``CADENCE_PUBLIC_URL`` alone does not switch sign-in on: it also gives the address that links in
notifications point to, so a deployment without sign-in may set it.
``streamlit_secrets`` turns them into the ``[auth]`` secrets Streamlit 1.67's ``st.login`` reads
(``redirect_uri``, ``cookie_secret``, ``client_id``, ``client_secret``, ``server_metadata_url``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from cadence.core.settings.auth import AuthConfigError

ISSUER, CLIENT_ID, CLIENT_SECRET, COOKIE_SECRET, PUBLIC_URL = (
    "CADENCE_OIDC_ISSUER", "CADENCE_OIDC_CLIENT_ID", "CADENCE_OIDC_CLIENT_SECRET", "CADENCE_COOKIE_SECRET",
    "CADENCE_PUBLIC_URL")
OIDC_ENV = (ISSUER, CLIENT_ID, CLIENT_SECRET, COOKIE_SECRET, PUBLIC_URL)
SECRET_ENV = (CLIENT_SECRET, COOKIE_SECRET)
# The variables that switch sign-in on: any one of them set asks for all five. CADENCE_PUBLIC_URL is not
# among them (it is also the address links in notifications point to).
SIGN_IN_ENV = (ISSUER, CLIENT_ID, CLIENT_SECRET, COOKIE_SECRET)
MIN_COOKIE_SECRET = 32
SCOPES = "openid email profile"
CALLBACK = "oauth2callback"  # Streamlit's fixed callback route
DISCOVERY = "/.well-known/openid-configuration"


def is_loopback_host(host: str) -> bool:
    """127.0.0.0/8, ::1 and "localhost" (what only this machine can reach)."""
    host = host.strip().strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return address.is_loopback


def _url(name: str, value: str, *, http_needs_loopback: bool) -> str:
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        raise AuthConfigError(f'{name} "{value}" is not a URL; give it as https://HOST[/PATH]') from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise AuthConfigError(f'{name} "{value}" is not an http(s) URL; give it as https://HOST[/PATH]')
    if parts.query or parts.fragment or parts.username or parts.password:
        raise AuthConfigError(f'{name} "{value}" must have no query, fragment or user part; give it as https://HOST[/PATH]')
    if http_needs_loopback and parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise AuthConfigError(f'{name} "{value}" uses http:// on a non-loopback address; use https:// (plain http is '
                              "accepted only on 127.0.0.1, ::1 or localhost, for local testing)")
    return value.rstrip("/")


@dataclass(frozen=True)
class OidcSettings:
    """The provider and the two secrets; ``repr`` never shows a secret."""

    issuer: str
    client_id: str
    public_url: str
    client_secret: str = field(repr=False)
    cookie_secret: str = field(repr=False)

    @property
    def metadata_url(self) -> str:
        return self.issuer + DISCOVERY

    @property
    def redirect_uri(self) -> str:
        return f"{self.public_url}/{CALLBACK}"

    @property
    def base_path(self) -> str:
        """The path the public URL serves Cadence under ("" at the root), for server.baseUrlPath."""
        return urlsplit(self.public_url).path.strip("/")

    def streamlit_secrets(self) -> dict[str, Any]:
        """The secrets document Streamlit's st.login reads: one default provider in ``[auth]``."""
        return {"auth": {
            "redirect_uri": self.redirect_uri,
            "cookie_secret": self.cookie_secret,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "server_metadata_url": self.metadata_url,
            "client_kwargs": {"scope": SCOPES},
        }}


def read_oidc_env(environ: Mapping[str, str]) -> OidcSettings | None:
    """The provider from the environment; None when none of the four sign-in variables is set
    (``CADENCE_PUBLIC_URL`` alone is not sign-in). A partial set, a short cookie secret or a
    plain-http issuer off loopback is an AuthConfigError."""
    values = {name: environ.get(name, "").strip() for name in OIDC_ENV}
    if not any(values[name] for name in SIGN_IN_ENV):
        return None
    missing = [name for name in OIDC_ENV if not values[name]]
    if missing:
        raise AuthConfigError(
            f"sign-in is half configured: {', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set; "
            f"set all of {', '.join(OIDC_ENV)} (docs/operations.md, \"Sign-in\"), or none to serve without sign-in")
    if len(values[COOKIE_SECRET]) < MIN_COOKIE_SECRET:
        raise AuthConfigError(
            f"{COOKIE_SECRET} is {len(values[COOKIE_SECRET])} characters long; it signs every session cookie, so use at "
            f"least {MIN_COOKIE_SECRET} random characters, e.g. the output of "
            "`python3 -c 'import secrets; print(secrets.token_urlsafe(48))'`")
    return OidcSettings(
        issuer=_url(ISSUER, values[ISSUER], http_needs_loopback=True),
        client_id=values[CLIENT_ID],
        public_url=_url(PUBLIC_URL, values[PUBLIC_URL], http_needs_loopback=False),
        client_secret=values[CLIENT_SECRET],
        cookie_secret=values[COOKIE_SECRET])


def sign_in_configured(environ: Mapping[str, str]) -> bool:
    """True when any of CADENCE_OIDC_ISSUER, _CLIENT_ID, _CLIENT_SECRET or CADENCE_COOKIE_SECRET is
    set: the dashboard then demands sign-in (fail closed). CADENCE_PUBLIC_URL alone does not count."""
    return any(environ.get(name, "").strip() for name in SIGN_IN_ENV)


def check_provider(oidc: OidcSettings, *, timeout: float = 10.0, session: Any = None) -> dict[str, Any]:
    """Read the provider's discovery document once at start, so a wrong issuer fails now with a
    clear line instead of at the first sign-in. Returns the document."""
    import requests

    http = session or requests
    url = oidc.metadata_url
    try:
        response = http.get(url, timeout=timeout, headers={"Accept": "application/json"})
    except requests.RequestException as exc:
        raise AuthConfigError(f"cannot read the provider's {url}: {type(exc).__name__}; check {ISSUER} and that "
                              "this machine can reach it") from None
    if response.status_code != 200:
        raise AuthConfigError(f"the provider answered HTTP {response.status_code} for {url}; check {ISSUER} "
                              "(it is the issuer URL, without /.well-known/...)")
    try:
        doc = response.json()
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        raise AuthConfigError(f"{url} is not an OpenID Connect discovery document; check {ISSUER}")
    missing = [k for k in ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri") if not doc.get(k)]
    if missing:
        raise AuthConfigError(f"{url} lacks {', '.join(missing)}; is {ISSUER} an OpenID Connect issuer?")
    if str(doc["issuer"]).rstrip("/") != oidc.issuer:
        raise AuthConfigError(f'{url} names the issuer "{doc["issuer"]}", not "{oidc.issuer}"; set {ISSUER} to '
                              "exactly the issuer the provider names (ID tokens are checked against it)")
    for key in ("authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint"):
        if doc.get(key):
            _url(f"the provider's {key}", str(doc[key]), http_needs_loopback=True)
    return doc
