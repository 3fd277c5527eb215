"""The one GitLab client the GitLab collector uses: python-gitlab's ``Gitlab`` for REST v4 and its
``GraphQL`` client, sharing a token from ``GITLAB_TOKEN``, with request counting, rate-limit
headers, conditional GETs and errors that say what to do.

Why ``Gitlab.http_request`` and not python-gitlab's object managers: every field Cadence needs is
in a list response or a GraphQL page, and the list helpers hide the response headers (``ETag``,
``Link``, ``RateLimit-*``) this collector reads. ``http_request`` keeps python-gitlab's retry loop.

Retries (python-gitlab's ``utils.Retry``, the library's own loop, with two additions here):
* 5xx and timeouts: ``retry_transient_errors=True``, exponential backoff (0.1 s, 0.2 s, ...), because
  GitLab's 502/503 bursts during deploys pass within seconds;
* 429: waits ``Retry-After`` (or until ``RateLimit-Reset``), as python-gitlab does;
* added: a wait longer than ``max_rate_limit_wait`` raises ``SourceRateLimitError`` at once (a
  response hook sees the 429 before python-gitlab sleeps: the library would otherwise sleep for
  whatever the server asks), so a scheduled run fails clearly instead of sleeping for an hour;
* added: a ``Retry-After`` given as an HTTP date is turned into seconds (python-gitlab reads an int);
* added: a 5xx loses its ``RateLimit-Reset`` header before python-gitlab sees it: the library waits
  until that reset (GitLab sends it on every response: up to a minute on GitLab.com) for any
  retryable status, where a server error wants the short backoff.

The token never appears in a message: it travels only in request headers (``PRIVATE-TOKEN`` for
REST, ``Authorization: Bearer`` for GraphQL), and every message built here passes ``_scrub``.
"""

from __future__ import annotations

import logging
import time
import urllib.parse
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import gitlab
import httpx
import requests
from gql import GraphQLRequest
from gql.transport.exceptions import TransportError, TransportQueryError
from gitlab.exceptions import GitlabAuthenticationError, GitlabHttpError

from cadence.core.config import secret
from cadence.core.errors import CadenceError, SourceAuthError, SourceError, SourceRateLimitError
from collectors.http import RequestCounts, check_wait, parse_api_time, rate_limit_headers, retry_after_seconds

SOURCE = "gitlab"
PAGE = 100                   # GitLab's largest page, REST and GraphQL
parse_time = parse_api_time   # GitLab's ISO 8601 (``...00.123Z`` or with an offset) → naive UTC


def iso(dt: datetime | None) -> str | None:
    """A cursor: milliseconds kept (GitLab's precision), so ``updated_after`` re-reads nothing older."""
    if dt is None:
        return None
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


log = logging.getLogger(__name__)

TOKEN_ENV = "GITLAB_TOKEN"
USER_AGENT = "cadence-dora-metrics"
AUTH_HELP = (f"set {TOKEN_ENV} to a personal, group or project access token with the read_api scope "
             "(README, \"GitLab\")")


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    data: Any


class GitLabHTTPError(SourceError):
    """An HTTP error GitLab answered for one request (404, 403, 422...)."""

    def __init__(self, status: int, message: str, what: str):
        self.status = status
        self.message = message
        super().__init__(f"GitLab answered {status} ({message or 'no message'}) for {what}.")


class GraphQLRejected(SourceError):
    """GitLab refused a GraphQL query as a whole (a parse, validation or complexity error)."""

    def __init__(self, messages: list[str], what: str):
        self.messages = messages
        super().__init__(f"GitLab rejected Cadence's GraphQL query for {what}: {messages[0][:300]}")

    @property
    def too_complex(self) -> bool:
        return any("complexity" in m.lower() for m in self.messages)


def token_from_env(env=None) -> str:
    """GITLAB_TOKEN, or a SourceAuthError that says how to make one."""
    token = secret(TOKEN_ENV) if env is None else (env.get(TOKEN_ENV) or "").strip()
    if not token:
        raise SourceAuthError(f"{TOKEN_ENV} is not set; {AUTH_HELP}.")
    return token


def _retry_after_seconds(headers) -> float | None:
    """Seconds a 429 asks us to wait: ``Retry-After`` (seconds or an HTTP date), else until
    ``RateLimit-Reset`` (epoch seconds); None when it says nothing."""
    if headers.get("Retry-After") is not None:
        return retry_after_seconds(headers["Retry-After"])
    reset = headers.get("RateLimit-Reset")
    if reset and reset.strip().isdigit():
        return max(0.0, int(reset) - time.time())
    return None


class GitLabClient(RequestCounts):
    """Counts every HTTP response (all threads, and per thread for per-project figures), keeps the
    latest ``RateLimit-*`` figures, and turns HTTP and GraphQL failures into Cadence errors."""

    def __init__(self, base_url: str, token: str, *, max_rate_limit_wait: float = 300, timeout: float = 30,
                 retries: int = 6, parallelism: int = 4):
        super().__init__()
        self.base_url = base_url.rstrip("/")
        self.api_url = self.base_url + "/api/v4"
        self.graphql_url = self.base_url + "/api/graphql"
        self.max_rate_limit_wait = max_rate_limit_wait
        self.retries = retries
        self._token = token

        self.session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=2, pool_maxsize=max(parallelism, 1))
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.hooks["response"].append(self._on_rest_response)
        self.gl = gitlab.Gitlab(self.base_url, private_token=token, timeout=timeout, per_page=100,
                                retry_transient_errors=True, session=self.session, user_agent=USER_AGENT,
                                keep_base_url=True)
        self.http = httpx.Client(headers={"Authorization": f"Bearer {token}", "User-Agent": USER_AGENT},
                                 timeout=timeout, event_hooks={"response": [self._on_graphql_response]},
                                 limits=httpx.Limits(max_connections=max(parallelism, 1) + 2))

    def close(self) -> None:
        self.http.close()
        self.session.close()

    # -- counting and rate limits -------------------------------------------------------------------
    def _count(self, status: int, headers) -> None:
        with self._lock:
            self.count_request()
            if status == 304:
                self.not_modified += 1
            remaining, limit, reset = rate_limit_headers(headers, "RateLimit-Remaining", "RateLimit-Limit",
                                                         "RateLimit-Reset")
            self.rate_remaining = remaining if remaining is not None else self.rate_remaining
            self.rate_limit = limit if limit is not None else self.rate_limit
            self.rate_reset = reset or self.rate_reset

    def _check_wait(self, status: int, headers, what: str) -> None:
        """On a 429 (or a 5xx with ``Retry-After``): refuse a wait beyond the cap before the library
        sleeps; make the wait an int. On a 5xx, drop ``RateLimit-Reset``: python-gitlab would sleep
        until the rate-limit window resets (up to a minute on GitLab.com) instead of backing off."""
        if status >= 500:
            for name in ("RateLimit-Reset", "ratelimit-reset"):
                if name in headers:
                    del headers[name]
            if "Retry-After" not in headers:
                return
        elif status != 429:
            return
        wait = _retry_after_seconds(headers)
        check_wait(wait, self.max_rate_limit_wait, lambda w: (
            f"GitLab rate limit reached for {what}: it asks for a {w:.0f} s wait, longer than "
            f"max_rate_limit_wait ({self.max_rate_limit_wait:.0f} s); re-run later, or raise "
            "[sources.gitlab] max_rate_limit_wait."))
        if wait is not None:
            headers["Retry-After"] = str(int(round(wait)))
            log.info("gitlab: 429 for %s; waiting %d s as GitLab asks", what, int(round(wait)))

    def _on_rest_response(self, response: requests.Response, *args, **kwargs) -> None:
        self._count(response.status_code, response.headers)
        self._check_wait(response.status_code, response.headers, _describe(response.request.url))

    def _on_graphql_response(self, response: httpx.Response) -> None:
        self._count(response.status_code, response.headers)
        self._check_wait(response.status_code, response.headers, "a GraphQL query")

    def reset_text(self) -> str:
        return self.rate_reset.strftime("%H:%M UTC") if self.rate_reset else "the next minute"

    def _scrub(self, text: str) -> str:
        return text.replace(self._token, "[GITLAB_TOKEN]") if self._token else text

    # -- REST ---------------------------------------------------------------------------------------
    def url_for(self, path: str) -> str:
        return self.api_url + path

    def get(self, path_or_url: str, params: dict | None = None, *, etag: str | None = None,
            what: str) -> Response:
        """GET a REST path (below /api/v4) or a ``Link`` URL; ``etag`` makes it conditional (a
        304 answers ``Response(304, {}, None)``: nothing changed since)."""
        headers = {"If-None-Match": etag} if etag else None
        url = self._own_url(path_or_url)
        try:
            resp = self.gl.http_request("get", url, query_data=params or {}, extra_headers=headers,
                                        obey_rate_limit=True, retry_transient_errors=True,
                                        max_retries=self.retries)
        except CadenceError:
            raise
        except GitlabAuthenticationError as exc:
            raise SourceAuthError(self._scrub(f"GitLab rejected the token ({exc.response_code} "
                                              f"{_message(exc)}) for {what}; {AUTH_HELP}.")) from None
        except GitlabHttpError as exc:
            if exc.response_code == 304:
                return Response(304, {}, None)
            self._fail(exc.response_code or 0, _message(exc), what)
        except requests.exceptions.RequestException as exc:
            raise SourceError(self._scrub(f"Cannot reach GitLab at {self.base_url} for {what}: "
                                          f"{_reason(exc)}; check base_url and the network.")) from None
        try:
            data = resp.json() if resp.content else None
        except ValueError:
            raise SourceError(f"GitLab answered {what} with something that is not JSON "
                              f"(HTTP {resp.status_code}); is base_url the GitLab instance?") from None
        return Response(resp.status_code, dict(resp.headers), data)

    def pages(self, path: str, params: dict | None = None, *, what: str):
        """Yield each page (a list) of a REST list, following ``Link: rel="next"`` (offset and
        keyset pagination alike: GitLab puts the next page's full URL there)."""
        resp = self.get(path, params, what=what)
        while True:
            yield resp.data or []
            nxt = _next_link(resp.headers.get("Link") or resp.headers.get("link"))
            if not nxt:
                return
            resp = self.get(nxt, what=what)

    def _own_url(self, path_or_url: str) -> str:
        """A path below /api/v4, or a ``Link`` URL moved onto ``base_url``: a GitLab whose
        external_url differs from the address Cadence uses still pages through Cadence's address."""
        if not path_or_url.startswith(("http://", "https://")):
            return path_or_url
        if path_or_url.startswith(self.api_url):
            return path_or_url
        parsed = urllib.parse.urlsplit(path_or_url)
        marker = parsed.path.find("/api/v4")
        if marker < 0:
            return path_or_url
        rest = parsed.path[marker + len("/api/v4"):] + (f"?{parsed.query}" if parsed.query else "")
        return self.api_url + rest

    def _fail(self, status: int, message: str, what: str):
        if status == 429:
            raise SourceRateLimitError(f"GitLab kept answering 429 Too Many Requests for {what}; it resets "
                                       f"at {self.reset_text()}; re-run later.")
        if status >= 500:
            raise SourceError(f"GitLab kept failing for {what} after {self.retries} retries (HTTP {status}); "
                              "the instance may be degraded; re-run later.")
        raise GitLabHTTPError(status, self._scrub(message), what)

    # -- GraphQL ------------------------------------------------------------------------------------
    def _graphql_client(self) -> gitlab.GraphQL:
        gql = getattr(self._local, "gql", None)
        if gql is None:   # one per thread: each keeps the headers of its own last response for retries
            gql = gitlab.GraphQL(self.base_url, client=self.http, max_retries=self.retries,
                                 retry_transient_errors=True, user_agent=USER_AGENT)
            self._local.gql = gql
        return gql

    def graphql(self, query: str, variables: dict, *, what: str) -> tuple[dict, list[dict]]:
        """POST one GraphQL query; returns (data, errors) where errors are field errors beside
        data. A query refused as a whole raises ``GraphQLRejected``."""
        request = GraphQLRequest(query, variable_values=variables)
        try:
            return self._graphql_client().execute(request) or {}, []
        except TransportQueryError as exc:
            errors = list(exc.errors or [])
            if exc.data is None:
                raise GraphQLRejected([self._scrub(str(e.get("message", e))) for e in errors] or [str(exc)],
                                      what) from None
            return exc.data, errors
        except GitlabAuthenticationError as exc:
            raise SourceAuthError(self._scrub(f"GitLab rejected the token ({exc.response_code}) for {what}; "
                                              f"{AUTH_HELP}.")) from None
        except GitlabHttpError as exc:
            self._fail(exc.response_code or 0, _message(exc), what)
        except TransportError as exc:
            cause = exc.__cause__
            if isinstance(cause, CadenceError):   # raised by the response hook (a too-long wait)
                raise cause from None
            raise SourceError(self._scrub(f"Cannot reach GitLab's GraphQL API at {self.graphql_url} for "
                                          f"{what}: {_reason(cause or exc)}; check base_url and the network.")) from None
        except httpx.HTTPError as exc:
            raise SourceError(self._scrub(f"Cannot reach GitLab's GraphQL API at {self.graphql_url} for "
                                          f"{what}: {_reason(exc)}; check base_url and the network.")) from None


def _message(exc: Exception) -> str:
    text = getattr(exc, "error_message", None) or str(exc)
    if isinstance(text, dict):
        text = "; ".join(f"{k} {v}" for k, v in text.items())
    return str(text)[:300]


def _reason(exc: BaseException) -> str:
    text = str(exc)
    for marker in ("Max retries", "Connection refused", "timed out"):
        if marker in text:
            return text[text.index(marker):][:160]
    return text[:160] or type(exc).__name__


def _describe(url: str | None) -> str:
    path = urllib.parse.urlsplit(url or "").path
    return path.split("/api/v4", 1)[-1] or "a request"


def _next_link(link: str | None) -> str | None:
    if not link:
        return None
    for part in link.split(","):
        pieces = part.split(";")
        if len(pieces) >= 2 and any(p.strip() in ('rel="next"', "rel=next") for p in pieces[1:]):
            return pieces[0].strip().strip("<>")
    return None


def encode_path(path: str) -> str:
    """A project or group path as GitLab's REST API takes it in a URL (``group%2Fapp``)."""
    return urllib.parse.quote(path, safe="")
