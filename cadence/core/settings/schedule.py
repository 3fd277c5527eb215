"""``[schedule]`` in ``cadence.toml``: when ``cadence serve`` syncs and exports.

```toml
[schedule]
sync = "*/30 * * * *"      # every configured source (cron syntax, in `timezone`, UTC by default)
export = "0 6 * * MON"     # cadence export --last-week into export_dir
export_dir = "exports"     # relative to the config file
timezone = "Europe/Berlin"
[schedule.sources]
aws-costs = "0 7 * * *"    # a source on its own schedule instead of `sync`
notify_digest = "0 8 * * MON"   # cadence notify digest --last-week (issue 19)
notify_check = "*/10 * * * *"   # cadence notify check: the alert rules
```

Every key is optional. A cron expression has five fields (minute hour day month weekday);
weekdays are 0-7 or SUN-SAT as in crontab (0 and 7 are Sunday). Validated at start like the rest
of the file: a wrong key fails with one line naming the file, the key and what is wrong.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cadence.core.errors import ConfigError

SCHEDULE_KEYS = ("sync", "export", "export_dir", "timezone", "sources", "notify_digest", "notify_check")
# [sources.X] section -> the `cadence sync` command that collects it (its job is "sync:<command>"):
# the config's vocabulary for [schedule.sources]. The source registry (collectors/registry.py) is the
# truth; config parsing sits below it and cannot import it, so a test keeps the two equal.
SYNC_COMMANDS = {"github": "github", "gitlab": "gitlab", "pagerduty": "pagerduty", "aws": "aws-costs",
                 "prometheus": "prometheus", "aws_exports": "aws-exports"}
DEFAULT_EXPORT_DIR = "exports"
_DOW_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


@dataclass(frozen=True)
class Schedule:
    sync: str | None = None
    export: str | None = None
    export_dir: Path = Path(DEFAULT_EXPORT_DIR)
    timezone: str = "UTC"
    sources: dict[str, str] = field(default_factory=dict)   # sync command name -> cron
    notify_digest: str | None = None   # the weekly digest ([notify], cadence.notify)
    notify_check: str | None = None    # the alert rules' check

    def cron_for(self, command: str) -> str | None:
        """The cron expression of the source synced by ``cadence sync <command>`` (None: not scheduled)."""
        return self.sources.get(command, self.sync)


def _fail(path: Path | None, key: str, problem: str) -> ConfigError:
    return ConfigError(f"{path or 'configuration'}: schedule.{key}: {problem}")


def _crontab_weekdays(field_text: str) -> str:
    """A crontab weekday field in APScheduler's words: APScheduler 3 counts 0 as Monday, crontab
    as Sunday, so numbers become names (0 and 7 → sun, 1 → mon ...); names and * pass through."""
    def name(match: re.Match) -> str:
        return _DOW_NAMES[int(match.group(0)) % 7]

    parts = []
    for part in field_text.split(","):
        base, slash, step = part.partition("/")
        if base != "*" and slash and "-" not in base:   # "1/2": from Monday every second day
            base = f"{base}-sat" if base not in ("0", "7") else "sun-sat"
        parts.append(re.sub(r"\d+", name, base) + (slash + step if slash else ""))
    return ",".join(parts)


def trigger(expr: str, timezone: str):
    """The APScheduler CronTrigger of a five-field crontab expression in ``timezone``."""
    from apscheduler.triggers.cron import CronTrigger

    fields = expr.split()
    if len(fields) != 5:
        raise ValueError(f"needs five fields (minute hour day month weekday), got {len(fields)}")
    minute, hour, day, month, dow = fields
    return CronTrigger(minute=minute, hour=hour, day=day, month=month,
                       day_of_week=_crontab_weekdays(dow.lower()), timezone=ZoneInfo(timezone))


def _cron(path: Path | None, key: str, value: Any, timezone: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _fail(path, key, f'must be a cron expression such as "*/30 * * * *", got {value!r}')
    try:
        trigger(value.strip(), timezone)
    except (ValueError, TypeError) as exc:
        raise _fail(path, key, f'"{value}" is not a cron expression: {exc}; five fields, minute hour day month '
                               'weekday, e.g. "*/30 * * * *" or "0 6 * * MON"') from None
    return value.strip()


def parse_schedule(data: Any, path: Path | None = None) -> Schedule | None:
    """Validate a ``[schedule]`` table (None when absent)."""
    if data is None:
        return None
    if not isinstance(data, dict):
        raise ConfigError(f"{path or 'configuration'}: schedule: must be a table ([schedule])")
    unknown = sorted(set(data) - set(SCHEDULE_KEYS))
    if unknown:
        raise _fail(path, unknown[0], f"unknown key; expected one of {', '.join(SCHEDULE_KEYS)}")
    timezone = data.get("timezone", "UTC")
    if not isinstance(timezone, str) or not timezone:
        raise _fail(path, "timezone", f'must be an IANA time zone name such as "Europe/Berlin", got {timezone!r}')
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise _fail(path, "timezone", f'unknown time zone "{timezone}"; use an IANA name such as "UTC" or '
                                      '"Europe/Berlin"') from None
    kwargs: dict[str, Any] = {"timezone": timezone}
    for key in ("sync", "export", "notify_digest", "notify_check"):
        if key in data:
            kwargs[key] = _cron(path, key, data[key], timezone)
    if "export_dir" in data:
        value = data["export_dir"]
        if not isinstance(value, str) or not value.strip():
            raise _fail(path, "export_dir", f"must be a directory path, got {value!r}")
        out = Path(os.path.expanduser(value))
        kwargs["export_dir"] = out if out.is_absolute() or path is None else path.parent / out
    elif path is not None:
        kwargs["export_dir"] = path.parent / DEFAULT_EXPORT_DIR
    sources = data.get("sources", {})
    if not isinstance(sources, dict):
        raise _fail(path, "sources", 'must be a table: [schedule.sources] aws-costs = "0 7 * * *"')
    known = {**{c: c for c in SYNC_COMMANDS.values()}, **SYNC_COMMANDS}   # "aws" and "aws-costs" alike
    parsed = {}
    for name, expr in sources.items():
        if name not in known:
            raise _fail(path, f"sources.{name}", f"unknown source; expected one of "
                                                 f"{', '.join(sorted(set(SYNC_COMMANDS.values())))}")
        parsed[known[name]] = _cron(path, f"sources.{name}", expr, timezone)
    kwargs["sources"] = parsed
    return Schedule(**kwargs)
