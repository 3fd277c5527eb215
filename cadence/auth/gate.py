"""The dashboard's door (Streamlit): app.py calls ``gate`` first in every run, before anything that
reads the warehouse or the config's teams is drawn.

- Sign-in not configured (no CADENCE_OIDC_* variable, no ``[auth]`` secrets): the local dashboard,
  every role, no sign-in.
- Configured: a signed-out user gets only the sign-in screen (the product name and a **Sign in**
  button); a signed-in user outside the allow-list gets one sentence saying whom to ask; a sign-in
  older than ``session_hours`` is sent back to sign in. The run then stops, so no number, team or
  repository name is ever sent to that browser.
- Allowed: the user's ``Access`` is kept for this session's run; pages ask ``current_access()``
  (through ``cadence.dashboard.ui.can_see_costs`` / ``can_see_admin_details``), which fails closed.

Streamlit reads the identity cookie when the browser connects (every page load), and this module
re-reads the allow-list from the config at every run, so removing someone from ``[auth]`` locks
them out at their next page load without a restart.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NoReturn

import streamlit as st

from cadence.auth import audit
from cadence.auth.oidc import sign_in_configured
from cadence.auth.roles import NO_ACCESS, OPEN, OPEN_ACCESS, Access, decide, refusal_message, session_expired
from cadence.core.settings.auth import AuthSettings
from cadence.core.errors import CadenceError

KEY_ACCESS = "_cadence_access"
PRODUCT = "Cadence"
TAGLINE = "DORA delivery metrics beside cloud cost"
SIGN_IN_LABEL = "Sign in"
SIGN_OUT_LABEL = "Sign out"
_STREAMLIT_AUTH_KEYS = ("redirect_uri", "cookie_secret", "client_id", "client_secret", "server_metadata_url")


def _auth_secrets() -> Mapping[str, Any] | None:
    try:
        section = st.secrets.get("auth")
    except Exception:  # no secrets file at all: Streamlit raises rather than returning nothing
        return None
    return section if isinstance(section, Mapping) else None


def sign_in_required() -> bool:
    """Sign-in is demanded when any CADENCE_OIDC_* variable is set or Streamlit has [auth] secrets."""
    return sign_in_configured(os.environ) or _auth_secrets() is not None


def current_access() -> Access:
    """This session's access as the gate decided it in this run; refused when the gate has not run."""
    access = st.session_state.get(KEY_ACCESS)
    return access if isinstance(access, Access) else NO_ACCESS


def _alone(render: Callable[[], None], aliases: Sequence[str]) -> NoReturn:
    """Show only ``render`` (no navigation, no sidebar) and end the run. Every page path of the app
    is an alias of it, so a bookmarked /delivery shows this screen rather than "page not found"."""
    pages = [st.Page(render, title=PRODUCT, default=True)]
    pages += [st.Page(render, title=PRODUCT, url_path=path) for path in aliases if path and path != render.__name__]
    st.navigation(pages, position="hidden").run()
    st.stop()


def _sign_out(email: str | None, *, key: str, container: Any = st) -> None:
    if container.button(SIGN_OUT_LABEL, key=key):
        audit.record(audit.SIGN_OUT, email)
        st.logout()
        st.stop()


def gate(load_settings: Callable[[], AuthSettings | None], page_paths: Sequence[str] = ()) -> Access:
    """Decide who is at the door; draw the sign-in or refusal screen and stop the run unless they
    may enter. ``load_settings`` returns the config's ``[auth]`` (re-read when the file changes);
    ``page_paths`` are the app's page URL paths (aliased to the screen shown instead)."""
    if not sign_in_required():
        st.session_state[KEY_ACCESS] = OPEN_ACCESS
        return OPEN_ACCESS
    st.session_state[KEY_ACCESS] = NO_ACCESS  # fail closed until decided below

    secrets = _auth_secrets() or {}
    if not all(secrets.get(k) for k in _STREAMLIT_AUTH_KEYS):
        def not_started_with_sign_in() -> None:
            st.title(PRODUCT)
            st.error("Sign-in is configured for this dashboard (CADENCE_OIDC_* variables are set) but the server was "
                     "started without it; start it with `cadence dashboard` (docs/operations.md, \"Sign-in\").")
        _alone(not_started_with_sign_in, page_paths)

    claims = st.user.to_dict()
    if not claims.get("is_logged_in"):
        _alone(sign_in, page_paths)

    try:
        settings = load_settings()
    except CadenceError as exc:
        message = str(exc)

        def config_error() -> None:
            st.title(PRODUCT)
            st.error(message, icon=":material/error:")
        _alone(config_error, page_paths)

    issued = repr(claims.get("iat"))  # one sign-in: the same ID token "iat" in every tab and page load
    if session_expired(claims, settings, time.time()):
        audit.record(audit.EXPIRED, _email(claims), once_per=issued)

        def sign_in_again() -> None:
            sign_in(note="Your sign-in has expired; sign in again to continue.")
        _alone(sign_in_again, page_paths)

    access = decide(settings, claims)
    if not access.allowed:
        audit.record(audit.REFUSED, access.email, access.reason, once_per=issued)
        sentence = refusal_message(access, settings)

        def refused() -> None:
            st.title(PRODUCT)
            st.write(sentence)
            _sign_out(access.email, key="cadence-refused-sign-out")
        _alone(refused, page_paths)

    audit.record(audit.SIGN_IN, access.email, f"roles: {', '.join(sorted(access.roles)) or 'none'}", once_per=issued)
    st.session_state[KEY_ACCESS] = access
    return access


def _email(claims: Mapping[str, Any]) -> str | None:
    value = claims.get("email")
    return value if isinstance(value, str) else None


def sign_in(note: str | None = None) -> None:
    """The sign-in screen: the product name and a button labelled exactly "Sign in"."""
    st.title(PRODUCT)
    st.caption(TAGLINE)
    if note:
        st.info(note, icon=":material/schedule:")
    if st.button(SIGN_IN_LABEL, type="primary", key="cadence-sign-in"):
        st.login()


def sidebar_account(access: Access) -> None:
    """Who is signed in and the "Sign out" button, in the sidebar (nothing on an open dashboard)."""
    if access.reason == OPEN or not access.email:
        return
    st.sidebar.caption(f"Signed in as {access.email}")
    _sign_out(access.email, key="cadence-sign-out", container=st.sidebar)
