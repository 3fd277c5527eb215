"""``[sources.prometheus]`` validated: where Prometheus answers, and how long a query may take.
Credentials never live here: ``PROMETHEUS_TOKEN`` (bearer) or ``PROMETHEUS_USERNAME`` and
``PROMETHEUS_PASSWORD`` (basic auth) come from the environment."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from cadence.core.config import Config
from cadence.core.errors import ConfigError

SOURCE = "prometheus"
CONFIG_KEYS = ("base_url", "timeout_seconds")
DEFAULT_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True)
class PrometheusSettings:
    base_url: str
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS


def parse_settings(raw: dict[str, Any], path: Path | None = None) -> PrometheusSettings:
    """Validate the raw ``[sources.prometheus]`` table; a wrong key fails naming file and key."""
    where = f"{path}: " if path else ""

    def fail(key: str, problem: str) -> ConfigError:
        return ConfigError(f"{where}sources.prometheus.{key}: {problem}")

    unknown = sorted(set(raw) - set(CONFIG_KEYS))
    if unknown:
        raise fail(unknown[0], f"unknown key; expected {', '.join(CONFIG_KEYS)}")
    base_url = raw.get("base_url")
    if base_url is None:
        raise fail("base_url", 'not set; add base_url = "http://prometheus.example:9090" under '
                               "[sources.prometheus]")
    if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
        raise fail("base_url", f"must be an http(s) URL such as http://prometheus.example:9090, got {base_url!r}")
    parsed = urlparse(base_url)
    if parsed.username or parsed.password:
        raise fail("base_url", "must not carry credentials; set PROMETHEUS_USERNAME and "
                               "PROMETHEUS_PASSWORD (or PROMETHEUS_TOKEN) in the environment instead")
    if not parsed.hostname:
        raise fail("base_url", f"has no host name, got {base_url!r}")
    timeout = raw.get("timeout_seconds", DEFAULT_TIMEOUT_SECONDS)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 1 <= timeout <= 600:
        raise fail("timeout_seconds", f"must be a number of seconds from 1 to 600, got {timeout!r}")
    return PrometheusSettings(base_url=base_url.rstrip("/"), timeout_seconds=float(timeout))


def read_settings(config: Config) -> PrometheusSettings:
    """The validated ``[sources.prometheus]`` section of ``config``."""
    return parse_settings(config.source(SOURCE), config.path)
