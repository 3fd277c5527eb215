"""[schedule] parsing and the scheduler's time rules (missed runs, overdue sources), on pinned times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cadence.core.config import load_config, parse_config
from cadence.core.errors import ConfigError
from cadence.service.jobs import planned_jobs
from cadence.core.settings.schedule import parse_schedule, trigger
from cadence.service.worker import interval, is_missed, overdue

WED = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)   # a Wednesday


def test_every_key_is_optional_and_sync_alone_is_valid(tmp_path):
    cfg = tmp_path / "cadence.toml"
    cfg.write_text('[sources.github]\nrepos = ["shop/api"]\n[schedule]\nsync = "*/30 * * * *"\n', encoding="utf-8")
    config = load_config(cfg)
    assert config.schedule.sync == "*/30 * * * *" and config.schedule.export is None
    assert config.schedule.timezone == "UTC"
    assert config.schedule.export_dir == tmp_path / "exports"     # relative to the config file
    assert [(j.name, j.cron) for j in planned_jobs(config)] == [("sync:github", "*/30 * * * *")]
    assert parse_config({}).schedule is None and planned_jobs(parse_config({})) == []


def test_per_source_schedules_and_the_export():
    config = parse_config({"sources": {"github": {"repos": ["a/b"]}, "aws": {}, "webhook": {}},
                           "schedule": {"sync": "*/30 * * * *", "export": "0 6 * * MON", "timezone": "Europe/Berlin",
                                        "sources": {"aws-costs": "0 7 * * *"}}})
    assert [(j.name, j.cron) for j in planned_jobs(config)] == [
        ("sync:github", "*/30 * * * *"), ("sync:aws-costs", "0 7 * * *"), ("export", "0 6 * * MON")]
    # "aws" (the [sources.aws] name) is the same source as its command "aws-costs"
    assert parse_schedule({"sources": {"aws": "0 7 * * *"}}).sources == {"aws-costs": "0 7 * * *"}


@pytest.mark.parametrize("schedule, message", [
    ({"sync": "every hour"}, 'schedule.sync: "every hour" is not a cron expression'),
    ({"sync": "61 * * * *"}, "schedule.sync:"),
    ({"export": 5}, "schedule.export: must be a cron expression"),
    ({"timezone": "Mars/Olympus"}, 'schedule.timezone: unknown time zone "Mars/Olympus"'),
    ({"cron": "* * * * *"}, "schedule.cron: unknown key"),
    ({"sources": {"jira": "* * * * *"}}, "schedule.sources.jira: unknown source"),
    ({"export_dir": ""}, "schedule.export_dir: must be a directory path"),
])
def test_a_wrong_schedule_fails_at_start_naming_the_key(tmp_path, schedule, message):
    with pytest.raises(ConfigError) as err:
        parse_config({"schedule": schedule}, tmp_path / "cadence.toml")
    assert message in str(err.value) and str(tmp_path / "cadence.toml") in str(err.value)


def test_crontab_weekdays_count_sunday_as_zero():
    # APScheduler 3 counts 0 as Monday; crontab (and [schedule]) as Sunday. 2026-12-02 is a Wednesday.
    assert trigger("0 6 * * 0", "UTC").get_next_fire_time(None, WED) == datetime(2026, 12, 6, 6, tzinfo=UTC)  # Sun
    assert trigger("0 6 * * 7", "UTC").get_next_fire_time(None, WED) == datetime(2026, 12, 6, 6, tzinfo=UTC)  # Sun
    assert trigger("0 6 * * 1", "UTC").get_next_fire_time(None, WED) == datetime(2026, 12, 7, 6, tzinfo=UTC)  # Mon
    assert trigger("0 6 * * MON", "UTC").get_next_fire_time(None, WED) == datetime(2026, 12, 7, 6, tzinfo=UTC)
    assert trigger("0 6 * * 4-5", "UTC").get_next_fire_time(None, WED) == datetime(2026, 12, 3, 6, tzinfo=UTC)  # Thu


def test_the_timezone_moves_the_firing():
    # 06:00 in Berlin is 05:00 UTC in winter (CET, UTC+1).
    fire = trigger("0 6 * * MON", "Europe/Berlin").get_next_fire_time(None, WED)
    assert fire.astimezone(UTC) == datetime(2026, 12, 7, 5, tzinfo=UTC)


def test_a_run_missed_while_down_is_found():
    every_30 = "*/30 * * * *"
    assert is_missed(every_30, "UTC", None, WED)                                    # never ran
    assert not is_missed(every_30, "UTC", datetime(2026, 12, 2, 10, 0), WED + timedelta(minutes=10))  # ran at 10:00
    assert is_missed(every_30, "UTC", datetime(2026, 12, 2, 9, 30), WED)            # 10:00 was due
    assert is_missed(every_30, "UTC", datetime(2026, 12, 1, 9, 30), WED)            # down a day: still one run


def test_a_source_is_overdue_after_twice_its_interval():
    config = parse_config({"sources": {"github": {"repos": ["a/b"]}}, "schedule": {"sync": "*/30 * * * *"}})
    jobs = planned_jobs(config)
    assert interval("*/30 * * * *", "UTC", WED) == timedelta(minutes=30)
    assert interval("0 6 * * MON", "UTC", WED) == timedelta(days=7)
    started = WED - timedelta(days=1)
    # 60 min is 2 x 30 min: not yet overdue; 61 min is.
    fresh = {"sync:github": {"last_success": (WED - timedelta(minutes=60)).replace(tzinfo=None)}}
    late = {"sync:github": {"last_success": (WED - timedelta(minutes=61)).replace(tzinfo=None)}}
    assert overdue(jobs, config.schedule, fresh, started, WED) == []
    assert overdue(jobs, config.schedule, late, started, WED) == ["sync:github"]
    # never succeeded: counted from the service's start
    assert overdue(jobs, config.schedule, {}, WED - timedelta(minutes=30), WED) == []
    assert overdue(jobs, config.schedule, {}, started, WED) == ["sync:github"]
