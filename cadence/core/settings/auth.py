"""The ``[auth]`` section of cadence.toml: who may enter a signed-in dashboard and who holds a role.

```toml
[auth]
allowed_domains = ["example.com"]          # e-mail domains, compared case-insensitively
allowed_emails  = ["contractor@partner.io"]
require_verified_email = true              # default: an unverified e-mail claim is refused
contact = "platform-lead@example.com"      # whom a refused user should ask (default: the admins)
session_hours = 12                         # a sign-in older than this asks to sign in again
[auth.roles]
cost = ["finance@example.com", "@example.com"]   # e-mails or @domains
admin = ["platform-lead@example.com"]
```

With no ``[auth.roles]`` every allowed user holds every role. The provider itself (issuer, client,
secrets) is never configured here: it comes from the environment (``cadence.auth.oidc``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cadence.core.errors import ConfigError

ROLES = ("cost", "admin")
AUTH_KEYS = ("allowed_domains", "allowed_emails", "require_verified_email", "contact", "session_hours", "roles")
DEFAULT_SESSION_HOURS = 12
MAX_SESSION_HOURS = 24 * 30  # Streamlit's identity cookie lives 30 days; a longer limit would mean nothing

# Deliberately loose: the provider vouches for the address; this only catches typos such as a
# missing "@", a space or a stray comma in the config.
_DOMAIN = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+$")
_LOCAL = re.compile(r"^[^@\s,;<>\"]+$")


class AuthConfigError(ConfigError):
    """Sign-in is configured wrongly: the ``[auth]`` section or the CADENCE_OIDC_* variables."""


@dataclass(frozen=True)
class AuthSettings:
    """The validated ``[auth]`` section. E-mails and domains are lower case."""

    allowed_domains: tuple[str, ...] = ()
    allowed_emails: tuple[str, ...] = ()
    require_verified_email: bool = True
    contact: str | None = None
    session_hours: int = DEFAULT_SESSION_HOURS
    roles: tuple[tuple[str, tuple[str, ...]], ...] | None = None  # None: no [auth.roles] section

    @property
    def has_allow_list(self) -> bool:
        return bool(self.allowed_domains or self.allowed_emails)

    def role_members(self, role: str) -> tuple[str, ...] | None:
        """The e-mails and @domains given ``role``; None when there is no [auth.roles] at all."""
        if self.roles is None:
            return None
        return dict(self.roles).get(role, ())


def _fail(path: Path | None, key: str, problem: str) -> AuthConfigError:
    return AuthConfigError(f"{path or 'configuration'}: {key}: {problem}")


def is_domain(value: str) -> bool:
    return bool(_DOMAIN.match(value))


def is_email(value: str) -> bool:
    local, at, domain = value.rpartition("@")
    return bool(at and _LOCAL.match(local) and is_domain(domain))


def _strings(path: Path | None, key: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise _fail(path, key, f"must be a list of non-empty strings, got {value!r}")
    return [v.strip().lower() for v in value]


def _entries(path: Path | None, key: str, value: Any, problem: Callable[[str], str | None]) -> tuple[str, ...]:
    """The list at ``key``, lower-cased, without repeats; ``problem(entry)`` names a wrong entry (None: fine)."""
    entries = _strings(path, key, value)
    for v in entries:
        if (message := problem(v)) is not None:
            raise _fail(path, key, message)
    return tuple(dict.fromkeys(entries))


def _domain_problem(v: str) -> str | None:
    if v.startswith("@"):
        return f'"{v}": write a domain without "@" ("{v[1:]}"); single addresses go in allowed_emails'
    return None if is_domain(v) else f'"{v}" is not an e-mail domain such as "example.com"'


def _domains(path: Path | None, key: str, value: Any) -> tuple[str, ...]:
    return _entries(path, key, value, _domain_problem)


def _emails(path: Path | None, key: str, value: Any) -> tuple[str, ...]:
    return _entries(path, key, value,
                    lambda v: None if is_email(v) else f'"{v}" is not an e-mail address such as "name@example.com"')


def _members(path: Path | None, key: str, value: Any) -> tuple[str, ...]:
    """Role members: e-mail addresses or "@domain" entries."""
    return _entries(path, key, value, lambda v: None if (is_domain(v[1:]) if v.startswith("@") else is_email(v))
                    else f'"{v}" is neither an e-mail address ("name@example.com") nor a domain ("@example.com")')


def parse_auth(raw: Any, path: Path | None = None) -> AuthSettings:
    """Validate the raw ``[auth]`` table; raises AuthConfigError with "file: key: what is wrong"."""
    if not isinstance(raw, dict):
        raise _fail(path, "auth", "must be a table ([auth])")
    unknown = sorted(set(raw) - set(AUTH_KEYS))
    provider_keys = [k for k in unknown if any(w in k.lower() for w in ("secret", "client", "issuer", "cookie", "url"))]
    if provider_keys:
        raise _fail(path, f"auth.{provider_keys[0]}", "the sign-in provider and its secrets come from the environment "
                    "(CADENCE_OIDC_ISSUER, CADENCE_OIDC_CLIENT_ID, CADENCE_OIDC_CLIENT_SECRET, CADENCE_COOKIE_SECRET, "
                    "CADENCE_PUBLIC_URL), never from cadence.toml")
    if unknown:
        raise _fail(path, f"auth.{unknown[0]}", f"unknown key; expected one of {', '.join(AUTH_KEYS)}")
    domains = _domains(path, "auth.allowed_domains", raw.get("allowed_domains", []))
    emails = _emails(path, "auth.allowed_emails", raw.get("allowed_emails", []))
    if not domains and not emails:
        raise _fail(path, "auth", "names nobody who may enter; set allowed_domains and/or allowed_emails")
    verified = raw.get("require_verified_email", True)
    if not isinstance(verified, bool):
        raise _fail(path, "auth.require_verified_email", f"must be true or false, got {verified!r}")
    contact = raw.get("contact")
    if contact is not None and (not isinstance(contact, str) or not contact.strip() or "\n" in contact):
        raise _fail(path, "auth.contact", f"must be one line of text naming whom to ask for access, got {contact!r}")
    hours = raw.get("session_hours", DEFAULT_SESSION_HOURS)
    if isinstance(hours, bool) or not isinstance(hours, int) or not 1 <= hours <= MAX_SESSION_HOURS:
        raise _fail(path, "auth.session_hours", f"must be a whole number of hours from 1 to {MAX_SESSION_HOURS}, got {hours!r}")

    roles = None
    if "roles" in raw:
        body = raw["roles"]
        if not isinstance(body, dict):
            raise _fail(path, "auth.roles", "must be a table ([auth.roles]) of role = [e-mails or @domains]")
        bad = sorted(set(body) - set(ROLES))
        if bad:
            raise _fail(path, f"auth.roles.{bad[0]}", f"unknown role; the roles are {', '.join(ROLES)}")
        roles = tuple((role, _members(path, f"auth.roles.{role}", body[role])) for role in ROLES if role in body)
        for role, members in roles:
            for member in members:
                if not _admitted(member, domains, emails):
                    raise _fail(path, f"auth.roles.{role}",
                                f'"{member}" is not let in by allowed_domains or allowed_emails; a role does not '
                                "admit anyone by itself, so add it there too")
    return AuthSettings(allowed_domains=domains, allowed_emails=emails, require_verified_email=verified,
                        contact=contact.strip() if contact else None, session_hours=hours, roles=roles)


def _admitted(member: str, domains: tuple[str, ...], emails: tuple[str, ...]) -> bool:
    if member.startswith("@"):
        return member[1:] in domains
    return member in emails or member.rpartition("@")[2] in domains
