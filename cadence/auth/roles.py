"""Who may enter and with which roles, decided from the ``[auth]`` settings and the claims of the
signed-in user's ID token (what ``st.user`` holds). Pure functions: no Streamlit, no I/O.

- ``cost``: sees money — the Costs and Capacity pages and every cost figure elsewhere.
- ``admin``: sees Data health's cursors and errors and any button that starts a sync.

The allow-list is read from the config at every decision (never stored in the cookie), so a user
removed from it is refused at their next page load.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cadence.core.settings.auth import ROLES, AuthSettings, is_email

# Why a user is (not) let in; the refusal sentence and the audit line both name it.
OPEN = "open"                    # sign-in not configured: a local dashboard, every role
ALLOWED = "allowed"
NOT_LISTED = "not on the allow-list"
UNVERIFIED = "e-mail not verified"
NO_EMAIL = "no e-mail claim"
NO_ALLOW_LIST = "no allow-list configured"

# Pages (by st.Page url path, i.e. the file name in pages/) that need a role to appear at all.
PAGE_ROLES = {"costs": "cost", "capacity": "cost"}


@dataclass(frozen=True)
class Access:
    """What one signed-in user (or the open, local dashboard) may see."""

    allowed: bool
    reason: str
    email: str | None = None
    roles: frozenset[str] = frozenset()

    def can(self, role: str) -> bool:
        return self.allowed and role in self.roles


OPEN_ACCESS = Access(allowed=True, reason=OPEN, roles=frozenset(ROLES))
NO_ACCESS = Access(allowed=False, reason="signed out")


def _matches(email: str, entries: tuple[str, ...]) -> bool:
    domain = email.rpartition("@")[2]
    return any(email == e or (e.startswith("@") and domain == e[1:]) for e in entries)


def _verified(claims: Mapping[str, Any]) -> bool:
    # Providers send a JSON boolean; a few (older Cognito pools, some proxies) send the string "true".
    value = claims.get("email_verified")
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def roles_of(settings: AuthSettings, email: str) -> frozenset[str]:
    """The roles ``email`` holds: every role without [auth.roles], else those listing it or its @domain."""
    if settings.roles is None:
        return frozenset(ROLES)
    return frozenset(role for role in ROLES if _matches(email, settings.role_members(role) or ()))


def decide(settings: AuthSettings | None, claims: Mapping[str, Any]) -> Access:
    """May the user with these ID-token claims enter, and with which roles? Fails closed: no
    settings, no e-mail, an unverified e-mail (unless allowed by config) or an unlisted one refuse."""
    raw = claims.get("email")
    email = raw.strip().lower() if isinstance(raw, str) else ""
    if not is_email(email):
        return Access(allowed=False, reason=NO_EMAIL, email=email or None)
    if settings is None or not settings.has_allow_list:
        return Access(allowed=False, reason=NO_ALLOW_LIST, email=email)
    if settings.require_verified_email and not _verified(claims):
        return Access(allowed=False, reason=UNVERIFIED, email=email)
    if email not in settings.allowed_emails and email.rpartition("@")[2] not in settings.allowed_domains:
        return Access(allowed=False, reason=NOT_LISTED, email=email)
    return Access(allowed=True, reason=ALLOWED, email=email, roles=roles_of(settings, email))


def session_expired(claims: Mapping[str, Any], settings: AuthSettings | None, now: float) -> bool:
    """True when the sign-in (the ID token's ``iat``, seconds since the epoch) is older than
    ``session_hours``, or carries no usable ``iat`` (OpenID Connect requires one)."""
    hours = settings.session_hours if settings is not None else AuthSettings.session_hours
    issued = claims.get("iat")
    if isinstance(issued, bool) or not isinstance(issued, (int, float)):
        return True
    return now - float(issued) > hours * 3600


def contact_of(settings: AuthSettings | None) -> str:
    """Whom a refused user should ask: ``contact``, else the admins' e-mail addresses."""
    if settings is not None and settings.contact:
        return settings.contact
    admins = [m for m in (settings.role_members("admin") or ()) if not m.startswith("@")] if settings else []
    if admins:
        return " or ".join(admins)
    return "the person who runs Cadence for your organisation"


def refusal_message(access: Access, settings: AuthSettings | None) -> str:
    """The one sentence a refused user sees: why, and whom to ask."""
    who = contact_of(settings)
    if access.reason == NO_EMAIL:
        return (f"Your sign-in did not share an e-mail address, so Cadence cannot tell whether you may enter; "
                f"ask {who} for access.")
    if access.reason == UNVERIFIED:
        return (f"Your e-mail address {access.email} is not verified by your sign-in provider, so Cadence cannot "
                f"let you in; ask {who} for help.")
    if access.reason == NO_ALLOW_LIST:
        return f"Cadence has no list of who may enter yet, so nobody can; ask {who} to set one up."
    return f"You are signed in as {access.email}, who is not allowed to see Cadence; ask {who} for access."


def page_visible(url_path: str, access: Access) -> bool:
    """Whether a page appears in the navigation at all (Costs and Capacity need ``cost``)."""
    role = PAGE_ROLES.get(url_path)
    return access.allowed and (role is None or access.can(role))
