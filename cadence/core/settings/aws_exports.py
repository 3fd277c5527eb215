"""``[sources.cost_exports]`` (how the local path may use this machine), ``[sources.aws_exports]``
(the S3 prefixes ``cadence sync aws-exports`` reads) and ``[sources.aws.athena]`` (where the
daily aggregation runs when one machine is not enough), validated with one-line errors."""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cadence.core.errors import ConfigError

if TYPE_CHECKING:   # cadence.core.config imports this module to check the sections it reads
    from cadence.core.config import Config

DEFAULT_MEMORY_LIMIT = "1GB"
# DuckDB's memory_limit syntax: a number and a unit (KB, MB, GB, TB, KiB, MiB, GiB, TiB).
MEMORY_LIMIT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(K|M|G|T)(i?)B\s*$", re.I)
ATHENA_FORMATS = ("cur2", "focus")
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
DEFAULT_ATHENA_TIMEOUT = 1800.0


@dataclass(frozen=True)
class ExportSettings:
    """``[sources.cost_exports]``: DuckDB's memory ceiling and where it spills beyond it."""

    memory_limit: str = DEFAULT_MEMORY_LIMIT
    temp_directory: Path | None = None      # None: the system's temporary folder
    threads: int | None = None              # None: DuckDB's default (the machine's cores)

    @property
    def memory_limit_bytes(self) -> int:
        number, unit, binary = MEMORY_LIMIT.match(self.memory_limit).groups()
        power = "KMGT".index(unit.upper()) + 1
        return int(float(number) * (1024 if binary else 1000) ** power)

    def spill_root(self) -> Path:
        return self.temp_directory or Path(tempfile.gettempdir())


@dataclass(frozen=True)
class AthenaSettings:
    database: str
    table: str
    workgroup: str
    output_location: str | None
    format: str
    region: str | None = None
    timeout_seconds: float = DEFAULT_ATHENA_TIMEOUT
    poll_seconds: float = 1.0


def _where(config: Config) -> str:
    return f"{config.path}: " if config.path else ""


def _unknown(config: Config, section: str, raw: dict, known: set[str]) -> None:
    bad = sorted(set(raw) - known)
    if bad:
        raise ConfigError(f"{_where(config)}{section}.{bad[0]}: unknown key; expected {', '.join(sorted(known))}")


def export_settings(config: Config) -> ExportSettings:
    """``[sources.cost_exports]`` validated: ``memory_limit`` ("1GB"), ``temp_directory``, ``threads``."""
    raw = config.source("cost_exports")
    _unknown(config, "sources.cost_exports", raw, {"memory_limit", "temp_directory", "threads"})
    limit = raw.get("memory_limit", DEFAULT_MEMORY_LIMIT)
    if not isinstance(limit, str) or not MEMORY_LIMIT.match(limit):
        raise ConfigError(f'{_where(config)}sources.cost_exports.memory_limit: must be a size such as "1GB" '
                          f'or "512MB", got {limit!r}')
    temp = raw.get("temp_directory")
    if temp is not None and (not isinstance(temp, str) or not temp.strip()):
        raise ConfigError(f"{_where(config)}sources.cost_exports.temp_directory: must be a folder path, got {temp!r}")
    temp_path = Path(temp).expanduser() if temp else None
    if temp_path is not None and not temp_path.is_absolute() and config.path is not None:
        temp_path = config.path.parent / temp_path
    threads = raw.get("threads")
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise ConfigError(f"{_where(config)}sources.cost_exports.threads: must be a whole number ≥ 1, got {threads!r}")
    settings = ExportSettings(memory_limit=limit.replace(" ", ""), temp_directory=temp_path, threads=threads)
    if settings.memory_limit_bytes < 32 * 1024 ** 2:
        raise ConfigError(f"{_where(config)}sources.cost_exports.memory_limit: {limit!r} is below 32MB, too little "
                          f"for DuckDB to work in; give at least 64MB.")
    return settings


def export_locations(config: Config) -> list[str]:
    """``[sources.aws_exports] location`` (or ``locations``): the ``s3://bucket/prefix/`` to sync."""
    raw = config.source("aws_exports")
    _unknown(config, "sources.aws_exports", raw, {"location", "locations"})
    found: list[Any] = ([raw["location"]] if "location" in raw else []) + list(raw.get("locations", []) or [])
    if not found:
        raise ConfigError(f"{_where(config)}sources.aws_exports: set location = \"s3://bucket/prefix/\" (the S3 "
                          f"destination of your AWS Data Export), or give --location.")
    for value in found:
        if not isinstance(value, str) or not re.match(r"^s3://[^/]+(/.*)?$", value):
            raise ConfigError(f"{_where(config)}sources.aws_exports.location: must be s3://bucket/prefix/, got {value!r}")
    return found


def athena_settings(config: Config) -> AthenaSettings:
    """``[sources.aws.athena]`` validated."""
    raw = config.source("aws").get("athena")
    section = "sources.aws.athena"
    if not isinstance(raw, dict):
        raise ConfigError(f"{_where(config)}{section}: add the section with database, table, workgroup, "
                          f"output_location and format to query the export with Athena.")
    _unknown(config, section, raw, {"database", "table", "workgroup", "output_location", "format", "region",
                                    "timeout_seconds", "poll_seconds"})
    for key in ("database", "table"):
        value = raw.get(key)
        if not isinstance(value, str) or not IDENTIFIER.match(value):
            raise ConfigError(f"{_where(config)}{section}.{key}: must be an Athena name (letters, digits, _), "
                              f"got {value!r}")
    fmt = raw.get("format")
    if fmt not in ATHENA_FORMATS:
        raise ConfigError(f"{_where(config)}{section}.format: must be \"cur2\" or \"focus\", got {fmt!r}")
    workgroup = raw.get("workgroup", "primary")
    if not isinstance(workgroup, str) or not workgroup:
        raise ConfigError(f"{_where(config)}{section}.workgroup: must be a workgroup name, got {workgroup!r}")
    output = raw.get("output_location")
    if output is not None and (not isinstance(output, str) or not output.startswith("s3://")):
        raise ConfigError(f"{_where(config)}{section}.output_location: must be s3://bucket/prefix/, got {output!r}")
    region = raw.get("region")
    if region is not None and (not isinstance(region, str) or not region):
        raise ConfigError(f"{_where(config)}{section}.region: must be a region name, got {region!r}")
    numbers = {}
    for key, default in (("timeout_seconds", DEFAULT_ATHENA_TIMEOUT), ("poll_seconds", 1.0)):
        value = raw.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ConfigError(f"{_where(config)}{section}.{key}: must be a number of seconds, got {value!r}")
        numbers[key] = float(value)
    return AthenaSettings(database=raw["database"], table=raw["table"], workgroup=workgroup,
                          output_location=output, format=fmt, region=region, **numbers)


def check_sections(config: Config) -> None:
    """Validate whichever of the three sections the config has (called when the config loads)."""
    if "cost_exports" in config.sources:
        export_settings(config)
    if "aws_exports" in config.sources:
        export_locations(config)
    if "athena" in config.source("aws"):
        athena_settings(config)
