"""The one GitHub client per host that the GitHub collector uses: PyGithub's ``Requester`` for
authentication (token or GitHub App installation), ``base_url`` (GitHub Enterprise Server too),
connection pooling and retries, plus request counting, ETags and errors that say what to do.

Why the requester and not PyGithub's object model: every field Cadence needs is in a GraphQL page
or a REST list response, and PyGithub objects fetch missing attributes lazily with one extra
request per object. Going through ``requestJson`` also lets us send ``If-None-Match`` (a 304 does
not count against the rate limit) and read GraphQL partial errors, which
``Requester.graphql_query`` turns into a bare exception.

Retries (all in ``CadenceRetry``, a ``GithubRetry``):
* 5xx: retried with exponential backoff, because GitHub's 502/503 bursts pass within seconds;
* 403 secondary rate limit and 429: retried after ``Retry-After`` (GithubRetry waits
  ``secondary_rate_wait`` when the header is absent);
* 403 primary rate limit: wait for ``X-RateLimit-Reset``;
* any wait longer than ``max_rate_limit_wait`` raises instead, so a scheduled run fails clearly
  rather than sleeping for an hour. GithubRetry caps the primary/secondary waits it computes but
  not a server's ``Retry-After`` (urllib3 would sleep up to 6 hours), and retries a 429 only when
  it carries ``Retry-After``: both are added here.
"""

from __future__ import annotations

import json
import logging
import os
import urllib.parse
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import github
import requests
from github import Auth, GithubRetry
from github.GithubException import GithubException, RateLimitExceededExceedsMaxWait

from cadence.core.config import secret
from cadence.core.errors import ConfigError, SourceAuthError, SourceError, SourceRateLimitError
from cadence.core.scrub import scrub
from collectors.http import RequestCounts, rate_limit_headers, retry_after_seconds

log = logging.getLogger(__name__)

TOKEN_ENV = "GITHUB_TOKEN"
APP_ID_ENV = "GITHUB_APP_ID"
APP_KEY_ENV = "GITHUB_APP_PRIVATE_KEY"
APP_KEY_PATH_ENV = "GITHUB_APP_PRIVATE_KEY_PATH"
APP_INSTALLATION_ENV = "GITHUB_APP_INSTALLATION_ID"
USER_AGENT = "cadence-dora-metrics"

AUTH_HELP = (f"set {TOKEN_ENV} to a token that can read the repositories (README, \"GitHub\"), "
             f"or {APP_ID_ENV} with {APP_KEY_PATH_ENV} for a GitHub App")


def auth_help(token_env: str = TOKEN_ENV) -> str:
    """What to do about missing or refused credentials, naming the variable the token is read from
    (``[sources.github] token_env``, default GITHUB_TOKEN)."""
    return AUTH_HELP.replace(TOKEN_ENV, token_env, 1)


class CadenceRetry(GithubRetry):
    """GithubRetry that also retries 429 and refuses any ``Retry-After`` beyond the wait cap."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("status_forcelist", list(range(500, 600)) + [429])
        super().__init__(**kwargs)

    def increment(self, method=None, url=None, response=None, error=None, _pool=None, _stacktrace=None):
        if response is not None and response.status in (403, 429) and "Retry-After" in response.headers:
            # an unparsable header (None) is left to urllib3's own handling
            wait = retry_after_seconds(response.headers["Retry-After"]) or 0.0
            if self.max_rate_limit_wait is not None and wait > self.max_rate_limit_wait:
                body = {"message": f"Retry-After {wait:.0f} s"}
                raise RateLimitExceededExceedsMaxWait(response.status, body, dict(response.headers), wait=wait)
        return super().increment(method, url, response, error, _pool, _stacktrace)


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    data: Any


def _read_key(env) -> str | None:
    key = (env.get(APP_KEY_ENV) or "").strip()
    if key:
        return key.replace("\\n", "\n")
    path = (env.get(APP_KEY_PATH_ENV) or "").strip()
    if path:
        try:
            return Path(path).expanduser().read_text(encoding="utf-8")
        except OSError as exc:
            raise SourceAuthError(f"{APP_KEY_PATH_ENV}={path}: cannot read the GitHub App private key "
                                  f"({exc.strerror}); point it at the .pem file downloaded from the App's settings.") from exc
    return None


def make_auth(base_url: str, *, installation_id: int | None = None, owner: str | None = None,
              env=None, token_env: str = TOKEN_ENV) -> Auth.Auth:
    """Token auth from ``token_env`` (GITHUB_TOKEN unless [sources.github] token_env names another
    variable), else GitHub App installation auth; never logs a secret."""
    env = os.environ if env is None else env
    token = secret(token_env) if env is os.environ else (env.get(token_env) or "").strip()
    if token:
        return Auth.Token(token)
    app_id = (env.get(APP_ID_ENV) or "").strip()
    if app_id:
        key = _read_key(env)
        if not key:
            raise SourceAuthError(f"{APP_ID_ENV} is set but neither {APP_KEY_ENV} nor {APP_KEY_PATH_ENV} is; "
                                  "set one of them to the App's private key.")
        app_auth = Auth.AppAuth(app_id, key)
        inst = installation_id or (env.get(APP_INSTALLATION_ENV) or "").strip()
        if not inst:
            inst = _find_installation(app_auth, base_url, owner)
        return app_auth.get_installation_auth(int(inst))
    raise SourceAuthError(f"{token_env} is not set; {auth_help(token_env)}.")


def _find_installation(app_auth: Auth.AppAuth, base_url: str, owner: str | None) -> int:
    if not owner:
        raise ConfigError("sources.github: set app_installation_id (or GITHUB_APP_INSTALLATION_ID) "
                          "to use a GitHub App without an org or repos to look it up from.")
    integration = github.GithubIntegration(auth=app_auth, base_url=base_url, user_agent=USER_AGENT)
    try:
        try:
            return integration.get_org_installation(owner).id
        except GithubException as exc:
            if exc.status != 404:
                raise
            return integration.get_user_installation(owner).id
    except GithubException as exc:
        raise SourceAuthError(f'The GitHub App {app_auth.app_id} is not installed on "{owner}" '
                              f"(HTTP {exc.status}); install it there or set GITHUB_APP_INSTALLATION_ID.") from exc
    finally:
        integration.close()


class GitHubClient(RequestCounts):
    """Counts every request it sends; turns HTTP and GraphQL failures into Cadence errors."""

    def __init__(self, gh: github.Github, *, base_url: str, token_env: str = TOKEN_ENV):
        super().__init__()
        self.gh = gh
        self.token_env = token_env
        self.requester = gh.requester
        self.base_url = base_url.rstrip("/")
        self.graphql_url = self.requester.graphql_url

    @classmethod
    def create(cls, base_url: str, auth: Auth.Auth, *, max_rate_limit_wait: float = 300,
               parallelism: int = 4, timeout: int = 30, retries: int = 6, backoff_factor: float = 0.5,
               secondary_rate_wait: float = 60, min_request_interval: float | None = 0.25,
               token_env: str = TOKEN_ENV) -> GitHubClient:
        retry = CadenceRetry(total=retries, backoff_factor=backoff_factor,
                             secondary_rate_wait=secondary_rate_wait,
                             max_rate_limit_wait=max_rate_limit_wait)
        # seconds_between_writes=None: Cadence never writes; GraphQL reads are POSTs, and PyGithub
        # would otherwise space every one of them a full second apart.
        gh = github.Github(auth=auth, base_url=base_url, per_page=100, retry=retry, timeout=timeout,
                           pool_size=max(parallelism, 1), user_agent=USER_AGENT,
                           seconds_between_requests=min_request_interval or None,
                           seconds_between_writes=None)
        return cls(gh, base_url=base_url, token_env=token_env)

    def close(self) -> None:
        self.gh.close()

    # -- low level --------------------------------------------------------------------------------
    def _send(self, verb: str, url: str, *, params=None, headers=None, body=None, what: str) -> Response:
        try:
            status, resp_headers, output = self.requester.requestJson(verb, url, params, headers, body)
        except RateLimitExceededExceedsMaxWait as exc:
            raise SourceRateLimitError(_rate_limit_message(exc, what)) from exc
        except GithubException as exc:   # raised from inside the retry for a 403 it cannot retry
            with self._lock:
                self.count_request()
            return self._fail(exc.status, exc.headers or {}, exc.data, what)
        except requests.exceptions.RetryError as exc:
            raise SourceError(f"GitHub kept failing for {what} after retries ({_reason(exc)}); "
                              "GitHub may be degraded (githubstatus.com); re-run later.") from exc
        except requests.exceptions.RequestException as exc:
            raise SourceError(f"Cannot reach GitHub at {self.base_url} for {what}: {_reason(exc)}; "
                              "check base_url and the network.") from exc
        with self._lock:
            if status == 304:
                self.not_modified += 1
            else:
                self.count_request()
            self._note_rate(resp_headers)
        data = None
        if output:
            try:
                data = json.loads(output)
            except ValueError:
                data = {"message": output[:200]}
        if status >= 400:
            return self._fail(status, resp_headers, data, what)
        return Response(status, resp_headers, data)

    def _note_rate(self, headers: dict) -> None:
        remaining, limit, reset = rate_limit_headers(headers, "x-ratelimit-remaining", "x-ratelimit-limit",
                                                     "x-ratelimit-reset")
        self.rate_remaining = remaining if remaining is not None else self.rate_remaining
        self.rate_limit = limit if limit is not None else self.rate_limit
        self.rate_reset = reset or self.rate_reset

    def _fail(self, status: int, headers: dict, data: Any, what: str):
        message = (data or {}).get("message", "") if isinstance(data, dict) else str(data or "")
        lower = message.lower()
        if status == 401:
            raise SourceAuthError(f"GitHub rejected the credentials ({status} {message or 'Unauthorized'}) "
                                  f"for {what}; {auth_help(self.token_env)}.")
        if status in (403, 429) and ("rate limit" in lower or status == 429):
            raise SourceRateLimitError(f"GitHub rate limit hit for {what} ({status}: {message}); "
                                       "re-run later or raise max_rate_limit_wait.")
        raise GitHubHTTPError(status, message, what)

    # -- REST ---------------------------------------------------------------------------------------
    def get(self, path_or_url: str, params: dict | None = None, *, etag: str | None = None,
            what: str) -> Response:
        """GET a REST path (relative to base_url) or an absolute ``Link`` URL; ``etag`` makes it
        conditional (304: nothing changed, free of rate limit)."""
        headers = {"If-None-Match": etag} if etag else None
        return self._send("GET", path_or_url, params=params, headers=headers, what=what)

    # -- GraphQL --------------------------------------------------------------------------------------
    def graphql(self, query: str, variables: dict, *, what: str) -> tuple[dict, list[dict]]:
        """POST one GraphQL query; returns (data, errors). A request-level error raises."""
        resp = self._send("POST", self.graphql_url, body={"query": query, "variables": variables}, what=what)
        body = resp.data or {}
        errors = body.get("errors") or []
        data = body.get("data")
        if data is None and errors:
            types = {e.get("type") for e in errors}
            if "RATE_LIMITED" in types:
                raise SourceRateLimitError(f"GitHub GraphQL rate limit exhausted for {what}; "
                                           f"it resets at {self.reset_text()}; re-run after that.")
            if not types & {"NOT_FOUND", "FORBIDDEN"} and not any(e.get("path") for e in errors):
                # Parse/validation errors: a bug in Cadence's query or an older GitHub Enterprise.
                raise SourceError(f"GitHub rejected Cadence's GraphQL query for {what}: "
                                  f"{errors[0].get('message', '')[:300]}; is this GitHub Enterprise "
                                  "older than 3.9? Please report it.")
        return data or {}, errors

    def reset_text(self) -> str:
        return self.rate_reset.strftime("%H:%M UTC") if self.rate_reset else "the next hour"


class GitHubHTTPError(SourceError):
    """An HTTP error GitHub answered for one request (404, 403 without rate limit, 422...)."""

    def __init__(self, status: int, message: str, what: str):
        self.status = status
        self.message = scrub(message)   # quoted in flags as well as in the error
        super().__init__(f"GitHub answered {status} ({message or 'no message'}) for {what}.")


def _reason(exc: Exception) -> str:
    text = str(exc)
    for marker in ("too many ", "Max retries"):
        if marker in text:
            return text[text.index(marker):][:160]
    return text[:160]


def _rate_limit_message(exc: RateLimitExceededExceedsMaxWait, what: str) -> str:
    wait = getattr(exc, "wait", None)
    headers = {k.lower(): v for k, v in (exc.headers or {}).items()}
    reset = headers.get("x-ratelimit-reset")
    when = ""
    if reset and str(reset).isdigit():
        when = f", resets at {datetime.fromtimestamp(int(reset), UTC):%H:%M} UTC"
    waited = f" would need a {wait:.0f} s wait" if wait else ""
    return (f"GitHub rate limit reached for {what}{when}:{waited} longer than max_rate_limit_wait; "
            "re-run after the reset, or raise [sources.github] max_rate_limit_wait.")


def graphql_url_for(base_url: str) -> str:
    """Where PyGithub sends GraphQL for ``base_url`` (…/api/v3 → …/api/graphql)."""
    o = urllib.parse.urlparse(base_url)
    return urllib.parse.urlunparse(o._replace(path=github.Requester.Requester.get_graphql_prefix(o.path)))
