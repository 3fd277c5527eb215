"""``[sources.aws]`` validated, and the Cost Explorer window it asks for."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from cadence.core.config import Config
from cadence.core.errors import ConfigError

SOURCE = "aws-cost-explorer"
PROVIDER = "AWS"
MAX_LOOKBACK_MONTHS = 13


@dataclass(frozen=True)
class AwsSettings:
    team_tag: str | None = None
    lookback_months: int = MAX_LOOKBACK_MONTHS
    cloudwatch_regions: tuple[str, ...] = ("us-east-1",)
    utilization_days: int = 30


def aws_settings(config: Config, lookback_months: int | None = None) -> AwsSettings:
    """``[sources.aws]`` validated; ``lookback_months`` (e.g. from the CLI) overrides the file."""
    raw = config.source("aws")
    where = f"{config.path}: " if config.path else ""
    known = {"team_tag", "lookback_months", "cloudwatch_regions", "utilization_days",
             "athena"}   # athena: [sources.aws.athena], read by collectors/aws_exports/athena.py
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"{where}sources.aws.{unknown[0]}: unknown key; expected {', '.join(sorted(known))}")
    team_tag = raw.get("team_tag")
    if team_tag is not None and (not isinstance(team_tag, str) or not team_tag.strip()):
        raise ConfigError(f"{where}sources.aws.team_tag: must be a tag key such as \"team\", got {team_tag!r}")
    months = lookback_months if lookback_months is not None else raw.get("lookback_months", MAX_LOOKBACK_MONTHS)
    if isinstance(months, bool) or not isinstance(months, int) or months < 0:
        raise ConfigError(f"{where}sources.aws.lookback_months: must be a whole number of months, got {months!r}")
    if months > MAX_LOOKBACK_MONTHS:
        raise ConfigError(
            f"Cost Explorer keeps {MAX_LOOKBACK_MONTHS} months of history plus the current month; "
            f"lookback_months = {months} asks for more. Set it to {MAX_LOOKBACK_MONTHS} or less, and load "
            f"older spend from a CUR or FOCUS export with `cadence ingest costs`.")
    regions = raw.get("cloudwatch_regions", ["us-east-1"])
    if not isinstance(regions, list) or not all(isinstance(r, str) and r for r in regions):
        raise ConfigError(f"{where}sources.aws.cloudwatch_regions: must be a list of region names, got {regions!r}")
    days = raw.get("utilization_days", 30)
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 455:
        raise ConfigError(f"{where}sources.aws.utilization_days: must be 1 to 455 days, got {days!r}")
    return AwsSettings(team_tag=team_tag.strip() if team_tag else None, lookback_months=months,
                       cloudwatch_regions=tuple(regions), utilization_days=days)


def window_start(today: date, lookback_months: int) -> date:
    """The first day Cost Explorer is asked for: the 1st of the month ``lookback_months`` back."""
    index = today.year * 12 + today.month - 1 - lookback_months
    return date(index // 12, index % 12 + 1, 1)
