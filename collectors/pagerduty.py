"""PagerDuty incidents → ``incidents`` (id ``pagerduty:<id>``), incremental on a cursor.

API: PagerDuty REST API v2, ``GET /incidents`` (classic offset pagination) and
``GET /incidents/{id}``, authenticated by a REST API key from ``PAGERDUTY_TOKEN``
(``Authorization: Token token=...``; ``[sources.pagerduty] token_env`` names another variable); the
key is never stored, logged or put in an error message (``cadence.core.scrub`` removes it from any
upstream answer that quotes it).

Two limits of that endpoint shape the walk:

* a ``since``/``until`` range may span at most 6 months, so a longer history is read window by
  window (``MAX_WINDOW``, 180 days: the shortest 6-month span is 181 days);
* ``offset + limit`` may not pass 10,000 (``OFFSET_CAP``), so a window holding more incidents is
  split in two halves, recursively, before or while paging through it.

Incremental: ``sync_state`` (source ``pagerduty``, scope ``incidents`` or
``incidents:<service ids>``) keeps as cursor the ``until`` of the last window written, and in its
details the incidents that were still open then. A run reads incidents created since the cursor
(minus ``OVERLAP`` for incidents that become visible late), and re-reads the open ones: one listing
of still-open incidents over the range where tracked ones were created, plus a single
``GET /incidents/{id}`` for each tracked incident missing from it (resolved since, usually few).
Rows and cursor are written in one short transaction per window, so a killed run resumes where it
stopped and a second run changes nothing.

Mapping: ``resolved_at`` falls back to ``last_status_change_at`` for resolved incidents that lack
it; ``severity`` is the incident's priority name when it has one (P1…), else its urgency
(high/low); the PagerDuty service becomes a Cadence service through ``[sources.pagerduty.services]``
(service id → name), else the PagerDuty service's own name.

Why plain ``requests`` and not the maintained ``pagerduty`` package (7.x): its clients accept
only ``https://`` base URLs (no local fake server, no plain-HTTP proxy), retry HTTP 429 without
limit on their own backoff rather than the server's ``Retry-After``, and its ``iter_all`` stops
(with a warning) at the 10,000 offset cap instead of splitting the window.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from cadence.core.clock import utcnow
from cadence.core.config import Config, secret
from cadence.core.errors import ConfigError, SourceAuthError, SourceError
from collectors.http import RateLimited, call_with_rate_limit, parse_api_time, retry_after_seconds
from warehouse import read_cursor, record_sync_error, upsert_rows, write_connection, write_cursor
from warehouse.state import read_details

log = logging.getLogger(__name__)

SOURCE = "pagerduty"
DEFAULT_BASE_URL = "https://api.pagerduty.com"
TOKEN_ENV = "PAGERDUTY_TOKEN"
MAX_WINDOW = timedelta(days=180)      # the API rejects since/until ranges over 6 months
OFFSET_CAP = 10_000                   # the API rejects offset + limit above this
PAGE_LIMIT = 100                      # the largest page the API serves
OVERLAP = timedelta(hours=1)          # re-read this much before the cursor (late-indexed incidents)
DEFAULT_LOOKBACK = timedelta(days=180)  # first run without `since`: this far back
MAX_RETRY_AFTER_SECONDS = 60.0        # wait at most this long for one 429; longer → stop, say so
MAX_RATE_LIMIT_RETRIES = 5
OPEN_STATUSES = ("triggered", "acknowledged")
CONFIG_KEYS = {"base_url", "service_ids", "services", "since", "token_env"}

AUTH_HELP = (f"{TOKEN_ENV} is missing or invalid; create a read-only REST API key in PagerDuty "
             f"(Integrations → API Access Keys) and export it as {TOKEN_ENV}.")


def auth_help(token_env: str = TOKEN_ENV) -> str:
    """What to do about a missing or refused key, naming the variable it is read from
    (``[sources.pagerduty] token_env``, default PAGERDUTY_TOKEN)."""
    return AUTH_HELP.replace(TOKEN_ENV, token_env)


# -- configuration ------------------------------------------------------------------------------

@dataclass(frozen=True)
class PagerDutySettings:
    """``[sources.pagerduty]`` validated: where to read and how services map."""

    base_url: str = DEFAULT_BASE_URL
    service_ids: tuple[str, ...] = ()
    services: dict[str, str] = field(default_factory=dict)
    since: date | None = None
    token_env: str = TOKEN_ENV            # the variable holding the key (never the key itself)

    @property
    def scope(self) -> str:
        return "incidents" + (":" + ",".join(sorted(self.service_ids)) if self.service_ids else "")


def read_settings(config: Config) -> PagerDutySettings:
    """Validate ``[sources.pagerduty]``; a wrong key fails with the file and key named."""
    raw = config.source(SOURCE)
    where = f"{config.path}: " if config.path else ""

    def fail(key: str, problem: str) -> ConfigError:
        return ConfigError(f"{where}sources.pagerduty.{key}: {problem}")

    unknown = sorted(set(raw) - CONFIG_KEYS)
    if unknown:
        raise fail(unknown[0], f"unknown key; expected one of {', '.join(sorted(CONFIG_KEYS))}")
    base_url = raw.get("base_url", DEFAULT_BASE_URL)
    if not isinstance(base_url, str) or not base_url.startswith(("https://", "http://")):
        raise fail("base_url", f"must be an http(s) URL, got {base_url!r}")
    ids = raw.get("service_ids", [])
    if not isinstance(ids, list) or not all(isinstance(i, str) and i.strip() for i in ids):
        raise fail("service_ids", f"must be a list of PagerDuty service ids, got {ids!r}")
    services = raw.get("services", {})
    if not isinstance(services, dict) or not all(isinstance(v, str) and v.strip()
                                                 for v in services.values()):
        raise fail("services", "must map PagerDuty service ids to Cadence service names "
                               '(e.g. PABC123 = "api")')
    since = raw.get("since")
    if since is not None:
        if isinstance(since, datetime):
            since = since.date()
        elif isinstance(since, str):
            try:
                since = date.fromisoformat(since)
            except ValueError:
                raise fail("since", f"must be a date YYYY-MM-DD, got {since!r}") from None
        elif not isinstance(since, date):
            raise fail("since", f"must be a date YYYY-MM-DD, got {since!r}")
    token_env = str(raw.get("token_env", TOKEN_ENV))   # checked (and registered as a secret) by cadence.core.config
    return PagerDutySettings(base_url=base_url.rstrip("/"),
                             service_ids=tuple(i.strip() for i in ids),
                             services={k: v.strip() for k, v in services.items()}, since=since,
                             token_env=token_env)


# -- HTTP -----------------------------------------------------------------------------------------

class PagerDutyClient:
    """A small REST API v2 client: auth header, retries, 429 with Retry-After, clear errors."""

    def __init__(self, base_url: str = DEFAULT_BASE_URL, token: str | None = None, *,
                 session: requests.Session | None = None, timeout: float = 30.0,
                 max_retry_after: float = MAX_RETRY_AFTER_SECONDS,
                 sleep=time.sleep, token_env: str = TOKEN_ENV) -> None:
        token = token if token is not None else secret(token_env)
        self.token_env = token_env
        if not token:
            raise SourceAuthError(auth_help(token_env))
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.max_retry_after = max_retry_after
        self.sleep = sleep
        self.requests_made = 0
        self.session = session or requests.Session()
        # Connection failures and 5xx are transient on PagerDuty's side: a few backed-off retries.
        # 429 is left to `get` below, which honours Retry-After with a bound (urllib3 would
        # otherwise retry any 429 carrying Retry-After itself, waiting without limit).
        retry = Retry(total=4, connect=3, read=2, status=3, backoff_factor=0.5,
                      status_forcelist=(500, 502, 503, 504), allowed_methods=frozenset({"GET"}),
                      respect_retry_after_header=False, raise_on_status=False)
        adapter = HTTPAdapter(max_retries=retry)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers.update({
            "Authorization": f"Token token={token}",
            "Accept": "application/vnd.pagerduty+json;version=2",
            "User-Agent": "cadence-pagerduty",
        })

    def get(self, path: str, params: list[tuple[str, str]] | None = None) -> dict | None:
        """GET a JSON document; None for 404. The one place where statuses are handled. A 429 is
        waited out as the server asks (Retry-After, 1 s when absent), within a bound, a few times."""
        url = f"{self.base_url}{path}"

        def too_long(wait: float, times: int) -> str:
            return (f"PagerDuty rate limit: asked to wait {wait:.0f} s (after {times} rate-limited requests); "
                    f"run `cadence sync pagerduty` again later, it resumes from its cursor.")

        return call_with_rate_limit(lambda: self._get_once(url, path, params), max_wait=self.max_retry_after,
                                    max_retries=MAX_RATE_LIMIT_RETRIES, message=too_long,
                                    sleep=lambda seconds: self.sleep(seconds), what="pagerduty")

    def _get_once(self, url: str, path: str, params) -> dict | None:
        try:
            response = self.session.get(url, params=params, timeout=self.timeout)
        except requests.RequestException as exc:
            raise SourceError(f"PagerDuty at {self.base_url} did not answer ({type(exc).__name__}); "
                              f"check sources.pagerduty.base_url and the network, then re-run "
                              f"`cadence sync pagerduty`.") from None
        self.requests_made += 1
        status = response.status_code
        if status == 429:
            wait = retry_after_seconds(response.headers.get("Retry-After"))
            raise RateLimited(1.0 if wait is None else wait)
        if status == 401:
            raise SourceAuthError(auth_help(self.token_env))
        if status == 403:
            raise SourceAuthError(f"PagerDuty refused {path} (HTTP 403): the key in {self.token_env} "
                                  f"lacks access; use a REST API key that can read incidents.")
        if status == 404:
            return None
        if status >= 400:
            raise SourceError(f"PagerDuty {path} answered HTTP {status}: {_error_text(response)}")
        try:
            return response.json()
        except ValueError:
            raise SourceError(f"PagerDuty {path} answered HTTP {status} with a body that is not "
                              f"JSON; check sources.pagerduty.base_url.") from None


def _error_text(response: requests.Response) -> str:
    try:
        err = response.json().get("error", {})
        text = err.get("message", "")
        if err.get("errors"):
            text += ": " + "; ".join(map(str, err["errors"]))
        return text or response.text[:200]
    except (ValueError, AttributeError):
        return response.text[:200]


# -- reading incidents --------------------------------------------------------------------------

def _iso(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


_parse_ts = parse_api_time   # an API timestamp as naive UTC


def iter_windows(start: datetime, end: datetime, size: timedelta = None) -> Iterator[tuple[datetime, datetime]]:
    """Consecutive [since, until) windows covering start..end, none longer than the API allows."""
    size = size or MAX_WINDOW
    since = start
    while since < end:
        until = min(since + size, end)
        yield since, until
        since = until


def iter_incident_pages(client: PagerDutyClient, since: datetime, until: datetime, *,
                        service_ids: tuple[str, ...] = (),
                        statuses: tuple[str, ...] = ()) -> Iterator[tuple[datetime, datetime, list[dict]]]:
    """Yield ``(since, until, incidents)`` for each complete leaf window inside one API window.

    A window holding more than ``OFFSET_CAP`` incidents is cut in halves (recursively), known
    either from the first page's ``total`` or when ``more`` would page past the cap; the pages
    already read from it are dropped and re-read through the halves.
    """
    base: list[tuple[str, str]] = [("since", _iso(since)), ("until", _iso(until)),
                                   ("time_zone", "UTC"), ("sort_by", "created_at:asc"),
                                   ("limit", str(PAGE_LIMIT))]
    base += [("service_ids[]", s) for s in service_ids]
    base += [("statuses[]", s) for s in statuses]
    rows: list[dict] = []
    offset = 0
    pages = 0
    while True:
        params = base + [("offset", str(offset)), ("total", "true" if offset == 0 else "false")]
        body = client.get("/incidents", params) or {}
        pages += 1
        page = body.get("incidents") or []
        rows.extend(page)
        total = body.get("total")
        more = bool(body.get("more"))
        over_cap = (isinstance(total, int) and total > OFFSET_CAP) or (
            more and offset + 2 * PAGE_LIMIT > OFFSET_CAP)
        if over_cap:
            span = until - since
            if span <= timedelta(seconds=1):
                raise SourceError(
                    f"PagerDuty holds more than {OFFSET_CAP} incidents created between "
                    f"{_iso(since)} and {_iso(until)}; the API cannot page past that. Narrow "
                    f"sources.pagerduty.service_ids.")
            mid = since + timedelta(seconds=int(span.total_seconds()) // 2)
            log.info("pagerduty: %s..%s holds over %d incidents; splitting at %s",
                     _iso(since), _iso(until), OFFSET_CAP, _iso(mid))
            yield from iter_incident_pages(client, since, mid, service_ids=service_ids,
                                           statuses=statuses)
            yield from iter_incident_pages(client, mid, until, service_ids=service_ids,
                                           statuses=statuses)
            return
        if not more or not page:
            log.debug("pagerduty: %s..%s: %d pages, %d incidents", _iso(since), _iso(until),
                      pages, len(rows))
            yield since, until, rows
            return
        offset += len(page)


def incident_row(incident: dict, services: dict[str, str]) -> dict:
    """One API incident as an ``incidents`` row."""
    service = incident.get("service") or {}
    service_id = service.get("id")
    service_name = services.get(service_id) if service_id else None
    if service_name is None:
        service_name = service.get("summary") or service_id
    status = incident.get("status")
    resolved_at = None
    if status == "resolved":
        resolved_at = _parse_ts(incident.get("resolved_at") or incident.get("last_status_change_at"))
    priority = incident.get("priority") or {}
    severity = priority.get("summary") or priority.get("name") or incident.get("urgency")
    created_at = _parse_ts(incident.get("created_at"))
    if created_at is None:
        raise SourceError(f"PagerDuty incident {incident.get('id')} has no created_at; "
                          f"check sources.pagerduty.base_url points at the REST API.")
    return {
        "id": f"pagerduty:{incident['id']}",
        "service": service_name,
        "repo": None,
        "title": incident.get("title") or incident.get("summary"),
        "severity": severity,
        "created_at": created_at,
        "resolved_at": resolved_at,
        "caused_by_deployment_id": None,
        "url": incident.get("html_url"),
        "source": SOURCE,
    }


# -- sync ---------------------------------------------------------------------------------------

def _apply(open_ids: dict[str, str], incidents: list[dict]) -> None:
    """Track which incidents are open (id → created_at) after reading ``incidents``."""
    for inc in incidents:
        if inc.get("status") in OPEN_STATUSES:
            open_ids[inc["id"]] = inc.get("created_at") or ""
        else:
            open_ids.pop(inc["id"], None)


def _write(db_path, settings: PagerDutySettings, incidents: list[dict], cursor: str | None,
           open_ids: dict[str, str], now: datetime) -> int:
    rows = [incident_row(inc, settings.services) for inc in incidents]
    with write_connection(db_path) as con:
        written = upsert_rows(con, "incidents", rows)
        write_cursor(con, SOURCE, settings.scope, cursor, rows_written=written,
                     details={"open": dict(sorted(open_ids.items()))}, now=now)
    return written


def sync(db_path: str | os.PathLike, config: Config, client: PagerDutyClient | None = None, *,
         now: datetime | None = None, since: date | None = None) -> dict[str, Any]:
    """Read PagerDuty incidents into the warehouse; returns counts. Safe to re-run.

    ``since`` (or ``sources.pagerduty.since``) sets where the first run starts, and re-reads from
    there when given again; later runs continue from the cursor. ``now`` fixes the end of the
    range (tests); the client is a parameter so tests can point it at a local server.
    """
    settings = read_settings(config)
    client = client or PagerDutyClient(settings.base_url, token_env=settings.token_env)
    now = (now or utcnow()).replace(microsecond=0)   # CADENCE_NOW pins it
    scope = settings.scope
    with write_connection(db_path) as con:
        cursor = read_cursor(con, SOURCE, scope)
        details = read_details(con, SOURCE, scope)
    open_ids: dict[str, str] = dict(details.get("open") or {})
    if since is not None:
        start = datetime.combine(since, datetime.min.time())
    elif cursor:
        start = _parse_ts(cursor) - OVERLAP
    elif settings.since is not None:
        start = datetime.combine(settings.since, datetime.min.time())
    else:
        start = now - DEFAULT_LOOKBACK
    result = {"incidents": 0, "windows": 0, "reopened_checked": len(open_ids), "requests": 0}
    try:
        if open_ids and cursor:
            result["incidents"] += _refresh_open(db_path, settings, client, open_ids, cursor, now)
        for w_since, w_until in iter_windows(start, now):
            for leaf_since, leaf_until, incidents in iter_incident_pages(
                    client, w_since, w_until, service_ids=settings.service_ids):
                _apply(open_ids, incidents)
                # The cursor never moves back (a --since re-read of old history keeps it).
                new_cursor = _iso(leaf_until)
                if cursor and _parse_ts(cursor) > leaf_until:
                    new_cursor = cursor
                result["incidents"] += _write(db_path, settings, incidents, new_cursor, open_ids, now)
                cursor = new_cursor
                result["windows"] += 1
    except Exception as exc:
        with write_connection(db_path) as con:
            record_sync_error(con, SOURCE, scope, str(exc), now=now)
        raise
    result["open"] = len(open_ids)
    result["requests"] = client.requests_made
    result["cursor"] = cursor
    log.info("pagerduty %s: %d requests, %d windows, %d incidents written, %d open, cursor now %s",
             scope, result["requests"], result["windows"], result["incidents"], result["open"], cursor)
    return result


def _refresh_open(db_path, settings: PagerDutySettings, client: PagerDutyClient,
                  open_ids: dict[str, str], cursor: str, now: datetime) -> int:
    """Re-read incidents that were open at the last run; write what changed (cursor unchanged)."""
    earliest = min((_parse_ts(c) for c in open_ids.values() if c), default=None)
    end = _parse_ts(cursor)
    seen: list[dict] = []
    if earliest is not None and earliest < end:
        for w_since, w_until in iter_windows(earliest, end + timedelta(seconds=1)):
            for _s, _u, incidents in iter_incident_pages(client, w_since, w_until,
                                                         service_ids=settings.service_ids,
                                                         statuses=OPEN_STATUSES):
                seen.extend(incidents)
    still_open = {inc["id"] for inc in seen}
    # Tracked incidents missing from the open listing were resolved since: fetch each one.
    for pd_id in sorted(set(open_ids) - still_open):
        body = client.get(f"/incidents/{pd_id}")
        if body is None or "incident" not in body:
            log.warning("pagerduty: incident %s is gone (404); keeping its last known row", pd_id)
            open_ids.pop(pd_id, None)
            continue
        seen.append(body["incident"])
    _apply(open_ids, seen)
    return _write(db_path, settings, seen, cursor, open_ids, now)
