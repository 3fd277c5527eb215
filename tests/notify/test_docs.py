"""The notification docs cover what the code accepts: every rule and parameter, every variable,
the README section, and an example block that parses."""

from __future__ import annotations

import tomllib
from pathlib import Path

from cadence.core.config import parse_config
from cadence.core.settings.notify import CHANNEL_KEYS, RULES, SMTP_ENV

ROOT = Path(__file__).resolve().parents[2]


def test_docs_notify_names_every_rule_parameter_key_and_variable():
    text = (ROOT / "docs" / "notify.md").read_text(encoding="utf-8")
    for rule, params in RULES.items():
        assert f"`{rule}`" in text, rule
        for param in params:
            assert f"`{param}`" in text, (rule, param)
    for key in CHANNEL_KEYS:
        assert f"`{key}`" in text, key
    for name in (*SMTP_ENV, "CADENCE_NOTIFY_SIGNING_KEY", "CADENCE_PUBLIC_URL", "X-Cadence-Signature"):
        assert f"`{name}`" in text, name


def test_readme_has_a_notifications_section_with_the_dry_run():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Notifications"):]
    assert "notify digest --last-week --dry-run" in section and "docs/notify.md" in section


def test_the_example_config_notify_block_is_valid_once_uncommented():
    text = (ROOT / "cadence.example.toml").read_text(encoding="utf-8")
    start = text.index("# [notify.channels.eng-leads]")
    block = text[start:text.index("\n\n", start)]   # the notify block ends at the next blank line
    notify = parse_config(tomllib.loads("\n".join(line[2:] for line in block.splitlines()
                                                  if line.startswith("# ")))).notify
    assert sorted(notify.channels) == ["eng-leads", "finance"] and notify.alerts[0].rule == "stale_source"
