"""The audit trail of sign-in: one line per sign-in, refusal and sign-out, with the e-mail and the
time (UTC), on the ``cadence.audit`` logger (the dashboard's stderr unless logging is configured).

Only an e-mail address, an event and a reason are ever logged: never an ID token, an access token,
a cookie or a secret. Streamlit starts a new session for every tab and page load, so a sign-in is
logged once per sign-in (the ID token's ``iat``) per server process, not once per page load.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections import OrderedDict
from datetime import UTC, datetime

log = logging.getLogger("cadence.audit")

SIGN_IN, REFUSED, SIGN_OUT, EXPIRED = "sign-in", "refused", "sign-out", "sign-in expired"
_SEEN_MAX = 10_000
_seen: OrderedDict[tuple, None] = OrderedDict()
_lock = threading.Lock()


def _printable(text: str) -> str:
    # An e-mail comes from the provider; never let it forge a second log line.
    return "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in text)


def audit_line(event: str, email: str | None, when: datetime, detail: str = "") -> str:
    """``sign-in alice@example.com at 2026-03-02T09:15:04Z (roles: admin, cost)``."""
    stamp = when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    tail = f" ({_printable(detail)})" if detail else ""
    return f"{event} {_printable(email or '(no e-mail)')} at {stamp}{tail}"


def _ensure_handler() -> None:
    # Inside `streamlit run` nothing configures the root logger, so INFO lines would vanish.
    if not log.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("cadence.audit: %(message)s"))
        log.addHandler(handler)
        log.propagate = False
    if log.getEffectiveLevel() > logging.INFO:
        log.setLevel(logging.INFO)


def record(event: str, email: str | None, detail: str = "", *, once_per: object = None,
           when: datetime | None = None) -> bool:
    """Log one audit line; with ``once_per`` (e.g. the sign-in's ``iat``) only the first time this
    event is seen for that e-mail and key in this process. Returns whether a line was written."""
    if once_per is not None:
        key = (event, email, once_per)
        with _lock:
            if key in _seen:
                return False
            _seen[key] = None
            while len(_seen) > _SEEN_MAX:
                _seen.popitem(last=False)
    _ensure_handler()
    log.info(audit_line(event, email, when or datetime.now(UTC), detail))
    return True
