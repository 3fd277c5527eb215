"""``[pipelines]`` in cadence.toml: which branches are "default" for ingested runs, and what a CI
minute costs per runner (issue 18; docs/configuration.md).

```toml
[pipelines]
default_branches = ["main", "master"]        # for repos whose collector did not report one

[pipelines.rates_usd_per_minute]
linux = 0.008                                 # GitHub-hosted standard runners (GitHub's prices)
windows = 0.016
macos = 0.08
self_hosted = 0.0
"ubuntu-latest-8-cores" = 0.032               # any other key is a runner label (larger runners)
```
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cadence.core.errors import ConfigError

DEFAULT_BRANCHES = ("main", "master")
OS_KEYS = ("linux", "windows", "macos")
SELF_HOSTED = "self_hosted"
# GitHub's published per-minute prices for its hosted runners (USD): standard runners by OS, and the
# macOS larger runners, whose labels GitHub itself names. Linux and Windows larger runners carry
# labels each organisation chooses, so their rates are configured by label.
DEFAULT_RATES: dict[str, float] = {"linux": 0.008, "windows": 0.016, "macos": 0.08, SELF_HOSTED: 0.0,
                                   "macos-latest-large": 0.12, "macos-13-large": 0.12, "macos-14-large": 0.12,
                                   "macos-latest-xlarge": 0.16, "macos-13-xlarge": 0.16,
                                   "macos-14-xlarge": 0.16}
KEYS = {"default_branches", "rates_usd_per_minute"}


@dataclass(frozen=True)
class PipelineSettings:
    default_branches: tuple[str, ...] = DEFAULT_BRANCHES
    rates_usd_per_minute: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_RATES))

    def rate_rows(self) -> list[tuple[str, str, float]]:
        """(kind, name, usd_per_minute): kind 'os', 'self_hosted' or 'label'."""
        out = []
        for name, rate in self.rates_usd_per_minute.items():
            kind = "os" if name in OS_KEYS else SELF_HOSTED if name == SELF_HOSTED else "label"
            out.append((kind, name, float(rate)))
        return out


def parse_pipelines(raw: Any, path: Path | None = None) -> PipelineSettings:
    """Validate ``[pipelines]``; a missing section gives GitHub's prices and main/master."""
    where = str(path) if path else "configuration"
    if raw is None:
        return PipelineSettings()
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: pipelines: must be a table ([pipelines])")
    bad = sorted(set(raw) - KEYS)
    if bad:
        raise ConfigError(f"{where}: pipelines.{bad[0]}: unknown key; expected {', '.join(sorted(KEYS))}")
    branches = raw.get("default_branches", list(DEFAULT_BRANCHES))
    if not isinstance(branches, list) or not branches or not all(isinstance(b, str) and b.strip() for b in branches):
        raise ConfigError(f"{where}: pipelines.default_branches: must be a non-empty list of branch names, "
                          f"e.g. [\"main\", \"trunk\"]")
    rates = dict(DEFAULT_RATES)
    given = raw.get("rates_usd_per_minute", {})
    if not isinstance(given, dict):
        raise ConfigError(f"{where}: pipelines.rates_usd_per_minute: must be a table of runner OS or label = "
                          f"USD per minute")
    for name, value in given.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0 or value != value:
            raise ConfigError(f"{where}: pipelines.rates_usd_per_minute.{name}: must be a number of USD per "
                              f"minute, 0 or more (e.g. 0.008), got {value!r}"[:300])
        rates[str(name).strip().lower() if name.lower() in (*OS_KEYS, SELF_HOSTED) else str(name).strip()] = float(value)
    return PipelineSettings(tuple(b.strip() for b in branches), rates)
