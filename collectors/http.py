"""HTTP behaviour every collector shares, written once: how long a server asks us to wait, the bound
on that wait, the backed-off retry loop around a rate-limited call (tenacity), the rate-limit
headers, and API timestamps as the warehouse stores them (naive UTC).

Why bounded: a scheduled sync must fail with a clear line ("re-run later") rather than sleep for
the hour a rate-limited API may ask for; a short wait is honoured, because that is what the server
wants and it costs little.
"""

from __future__ import annotations

import email.utils
import logging
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt

from cadence.core.clock import parse_utc
from cadence.core.errors import SourceRateLimitError

log = logging.getLogger(__name__)

T = TypeVar("T")


# An API's ISO 8601 timestamp (``Z`` or an offset, any fraction) → naive UTC; None for none.
parse_api_time = parse_utc


def retry_after_seconds(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds a ``Retry-After`` value asks for: delta-seconds or an HTTP date (RFC 9110);
    None when absent or unreadable."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def check_wait(wait: float | None, cap: float, message: Callable[[float], str]) -> None:
    """Refuse a wait beyond ``cap`` seconds with ``SourceRateLimitError(message(wait))``."""
    if wait is not None and wait > cap:
        raise SourceRateLimitError(message(wait))


def rate_limit_headers(headers: Mapping[str, str], remaining: str, limit: str,
                       reset: str) -> tuple[int | None, int | None, datetime | None]:
    """(requests remaining, the limit, when it resets) from a response's rate-limit headers, each
    None when the header is missing or not a number (GitHub: x-ratelimit-*, GitLab: RateLimit-*)."""
    def number(name: str) -> int | None:
        value = headers.get(name)
        return int(value) if value is not None and value.isdigit() else None

    when = number(reset)
    return number(remaining), number(limit), (datetime.fromtimestamp(when, UTC) if when is not None else None)


class RequestCounts:
    """What an API client has asked and what the API last said of its rate limit (the sync copies
    them onto its report), with the lock that guards them across the sync's threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._local = threading.local()
        self.requests = 0
        self.not_modified = 0
        self.rate_remaining: int | None = None
        self.rate_limit: int | None = None
        self.rate_reset: datetime | None = None

    @property
    def thread_requests(self) -> int:
        """Requests counted for the calling thread: a repo or project is read by one thread while
        others read theirs, so its own count is a difference of this, never of ``requests``."""
        return getattr(self._local, "requests", 0)

    def count_request(self) -> None:
        """One more request, for the client and for the calling thread (call it holding ``_lock``)."""
        self._local.requests = self.thread_requests + 1
        self.requests += 1


class RateLimited(Exception):
    """Raised inside ``call_with_rate_limit`` by a call the server rate-limited (HTTP 429)."""

    def __init__(self, wait: float) -> None:
        super().__init__(f"rate limited, asked to wait {wait:.1f} s")
        self.wait = wait


def call_with_rate_limit(call: Callable[[], T], *, max_wait: float, max_retries: int,
                         message: Callable[[float, int], str], sleep: Callable[[float], None] = time.sleep,
                         what: str = "request") -> T:
    """Run ``call``; while it raises ``RateLimited(wait)``, sleep ``wait`` (as the server asks) and
    run it again, at most ``max_retries`` times. A wait beyond ``max_wait``, or one rate limit too
    many, raises ``SourceRateLimitError(message(wait, times_limited))`` instead of sleeping."""

    def wait_as_asked(state: RetryCallState) -> float:
        exc = state.outcome.exception()
        if exc.wait > max_wait:
            raise SourceRateLimitError(message(exc.wait, state.attempt_number)) from None
        log.info("%s: rate limited, waiting %.1f s (Retry-After)", what, exc.wait)
        return exc.wait

    def give_up(state: RetryCallState):
        exc = state.outcome.exception()
        raise SourceRateLimitError(message(exc.wait, state.attempt_number)) from None

    retrying = Retrying(retry=retry_if_exception_type(RateLimited), stop=stop_after_attempt(max_retries + 1),
                        wait=wait_as_asked, sleep=sleep, retry_error_callback=give_up, reraise=False)
    return retrying(call)


__all__ = ["RateLimited", "RequestCounts", "call_with_rate_limit", "check_wait", "parse_api_time", "rate_limit_headers",
           "retry_after_seconds"]
