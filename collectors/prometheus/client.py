"""A small client for Prometheus' HTTP API (``/api/v1``): auth, retries, clear errors.

Endpoints: ``POST /api/v1/query_range`` (hourly evaluations), ``POST /api/v1/query`` (raw samples of
a range selector), ``GET /api/v1/series`` (does a selector match anything at all) and
``GET /api/v1/status/buildinfo`` (a first request that says whether Prometheus answers and accepts
the credentials). Queries go as POST form bodies, which Prometheus accepts like GET, so a long
selector never meets a URL length limit; they read only, so retrying them is safe.

Auth: ``PROMETHEUS_TOKEN`` as ``Authorization: Bearer`` (a proxy in front of Prometheus, Grafana
Cloud, Thanos or Mimir gateways), or ``PROMETHEUS_USERNAME`` with ``PROMETHEUS_PASSWORD`` as basic
auth (Prometheus' own ``--web.config.file``). Neither is ever logged or kept; upstream messages are
scrubbed of them before they reach an error.

Retries, the same conventions as the PagerDuty and GitHub clients, through urllib3's ``Retry``:
* connection failures and 500/502/503/504 are retried a few times with exponential backoff (a
  restarting Prometheus or a proxy's brief 502 pass within seconds);
* 429 (a rate-limiting proxy) is retried after its ``Retry-After``, but a wait longer than
  ``MAX_RETRY_AFTER_SECONDS`` stops the run with a message instead of sleeping;
* anything else (400/422 for a bad query, 401/403) is answered at once: retrying cannot help.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from cadence.core.config import secret
from cadence.core.errors import SourceAuthError, SourceError, SourceRateLimitError
from collectors.http import check_wait

log = logging.getLogger(__name__)

TOKEN_ENV = "PROMETHEUS_TOKEN"
USERNAME_ENV = "PROMETHEUS_USERNAME"
PASSWORD_ENV = "PROMETHEUS_PASSWORD"
MAX_RETRY_AFTER_SECONDS = 60.0
USER_AGENT = "cadence-prometheus"

AUTH_HELP = (f"set {USERNAME_ENV} and {PASSWORD_ENV} for basic auth, or {TOKEN_ENV} for a bearer "
             f"token, to credentials that may query Prometheus")


class PrometheusUnreachable(SourceError):
    """Prometheus did not answer at all (refused, timed out, DNS): nothing further can succeed."""


class PrometheusQueryError(SourceError):
    """Prometheus refused one query (HTTP 400/422: a selector it cannot parse, or a limit)."""


class _Retry(Retry):
    """urllib3's Retry, refusing to sleep through a ``Retry-After`` beyond the cap."""

    def get_retry_after(self, response):
        wait = super().get_retry_after(response)
        check_wait(wait, MAX_RETRY_AFTER_SECONDS, lambda w: (
            f"Prometheus (or a proxy in front of it) asks to wait {w:.0f} s before the next "
            f"query (HTTP {response.status}, Retry-After); run `cadence sync prometheus` again "
            f"later, it resumes from its cursor."))
        return wait


def credentials_from_env(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """``{"token": ...}`` or ``{"username": ..., "password": ...}`` or ``{}`` from the environment."""
    if env is None:
        token, user, password = secret(TOKEN_ENV), secret(USERNAME_ENV), secret(PASSWORD_ENV)
    else:
        token, user, password = ((env.get(k) or "").strip() or None
                                 for k in (TOKEN_ENV, USERNAME_ENV, PASSWORD_ENV))
    if token and (user or password):
        raise SourceAuthError(f"both {TOKEN_ENV} and {USERNAME_ENV}/{PASSWORD_ENV} are set; keep the "
                              f"one your Prometheus expects and unset the other.")
    if token:
        return {"token": token}
    if user or password:
        if not (user and password):
            missing = PASSWORD_ENV if user else USERNAME_ENV
            raise SourceAuthError(f"{missing} is not set; basic auth needs both {USERNAME_ENV} and "
                                  f"{PASSWORD_ENV}.")
        return {"username": user, "password": password}
    return {}


def epoch(ts: datetime) -> int:
    """A naive UTC datetime as Unix seconds."""
    return int(ts.replace(tzinfo=UTC).timestamp())


class PrometheusClient:
    """Counts its requests; turns HTTP and API failures into Cadence errors."""

    def __init__(self, base_url: str, *, token: str | None = None, username: str | None = None,
                 password: str | None = None, timeout: float = 60.0, retries: int = 3,
                 backoff_factor: float = 0.5, session: requests.Session | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.requests_made = 0
        self._secrets = [s for s in (token, password) if s]
        self.session = session or requests.Session()
        retry = _Retry(total=retries + 1, connect=retries, read=retries, status=retries,
                       backoff_factor=backoff_factor, status_forcelist=(429, 500, 502, 503, 504),
                       allowed_methods=frozenset({"GET", "POST"}), respect_retry_after_header=True,
                       raise_on_status=False)
        adapter = HTTPAdapter(max_retries=retry)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"
        elif username:
            self.session.auth = (username, password or "")

    @classmethod
    def from_env(cls, base_url: str, *, timeout: float = 60.0, **kwargs) -> PrometheusClient:
        return cls(base_url, timeout=timeout, **credentials_from_env(), **kwargs)

    # -- the one place where statuses are handled ------------------------------------------------
    def _call(self, method: str, path: str, params: dict[str, Any], what: str) -> Any:
        url = f"{self.base_url}{path}"
        try:
            if method == "GET":
                response = self.session.get(url, params=params, timeout=self.timeout)
            else:
                response = self.session.post(url, data=params, timeout=self.timeout)
        except requests.RequestException as exc:
            raise PrometheusUnreachable(
                f"Prometheus at {self.base_url} did not answer ({type(exc).__name__}) for {what}; "
                f"check sources.prometheus.base_url and that Prometheus runs, then re-run "
                f"`cadence sync prometheus` (the cursor is unchanged).") from None
        self.requests_made += 1
        status = response.status_code
        body: Any = None
        try:
            body = response.json()
        except ValueError:
            pass
        if status == 401:
            raise SourceAuthError(f"Prometheus at {self.base_url} refused the credentials (HTTP 401) "
                                  f"for {what}; {AUTH_HELP}.")
        if status == 403:
            raise SourceAuthError(f"Prometheus at {self.base_url} forbids {what} (HTTP 403); {AUTH_HELP}.")
        if status == 429:
            raise SourceRateLimitError(f"Prometheus at {self.base_url} kept answering 429 (rate limited) "
                                       f"for {what}; run `cadence sync prometheus` again later.")
        if not isinstance(body, dict):
            raise SourceError(f"{self.base_url}{path} answered HTTP {status} with a body that is not "
                              f"Prometheus JSON for {what}; check sources.prometheus.base_url "
                              f"(it should be the server's root, e.g. http://prometheus:9090).")
        if status in (400, 422) or (body.get("status") == "error" and status < 500):
            raise PrometheusQueryError(f"Prometheus refused {what}: {self._scrub(str(body.get('error', '')))}"
                                       f" ({body.get('errorType', 'HTTP ' + str(status))})")
        if status >= 400 or body.get("status") != "success":
            raise SourceError(f"Prometheus at {self.base_url} answered HTTP {status} for {what}: "
                              f"{self._scrub(str(body.get('error', '')))[:300]}; re-run later.")
        return body.get("data")

    def _scrub(self, text: str) -> str:
        for value in self._secrets:
            text = text.replace(value, "***")
        return text

    # -- endpoints ---------------------------------------------------------------------------------
    def check(self) -> str | None:
        """One cheap request: raises when Prometheus does not answer or refuses the credentials.
        Returns the server's version when it reports one (servers speaking the API without the
        buildinfo endpoint answer 404: fine)."""
        try:
            data = self._call("GET", "/api/v1/status/buildinfo", {}, "its build information")
        except SourceError as exc:
            if isinstance(exc, PrometheusUnreachable | SourceAuthError | SourceRateLimitError):
                raise
            return None
        return (data or {}).get("version")

    def query_range(self, query: str, start: datetime, end: datetime, step_seconds: int,
                    what: str) -> list[dict]:
        """A matrix: ``[{"metric": {...}, "values": [[t, "v"], ...]}, ...]``."""
        data = self._call("POST", "/api/v1/query_range",
                          {"query": query, "start": epoch(start), "end": epoch(end), "step": step_seconds},
                          what)
        return (data or {}).get("result") or []

    def query_raw(self, selector: str, hours: int, at: datetime, what: str) -> list[dict]:
        """Every raw sample of ``selector`` in the ``hours`` before ``at`` (a range-vector query)."""
        data = self._call("POST", "/api/v1/query", {"query": f"{selector}[{hours}h]", "time": epoch(at)},
                          what)
        if (data or {}).get("resultType") != "matrix":
            raise PrometheusQueryError(f"Prometheus did not return raw samples for {what}; is the "
                                       f"selector a plain series selector?")
        return data.get("result") or []

    def series_exist(self, selector: str, what: str) -> bool:
        """Whether ``selector`` matches any series Prometheus holds, at any time."""
        data = self._call("GET", "/api/v1/series", {"match[]": selector}, what)
        return bool(data)


def series_key(metric: dict[str, str]) -> tuple[tuple[str, str], ...]:
    """A series' identity across queries: its labels without ``__name__`` (functions drop it)."""
    return tuple(sorted((k, v) for k, v in metric.items() if k != "__name__"))


def sample_value(raw: str) -> float | None:
    """A sample value; None for NaN and infinities (not a counter reading)."""
    value = float(raw)
    return value if math.isfinite(value) else None


