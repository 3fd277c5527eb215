"""Config documents and checks shared by the notification tests."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import jsonschema

from cadence.core.config import parse_config

ROOT = Path(__file__).resolve().parents[2]
WEBHOOK_SCHEMA = json.loads((ROOT / "cadence" / "notify" / "webhook.schema.json").read_text(encoding="utf-8"))
SLACK_SCHEMA = json.loads((Path(__file__).parent / "schemas" / "slack_blocks.schema.json").read_text(encoding="utf-8"))
TEAMS_SCHEMA = json.loads((Path(__file__).parent / "schemas" / "teams_card.schema.json").read_text(encoding="utf-8"))
FORMATS = jsonschema.Draft202012Validator.FORMAT_CHECKER


def validate(doc, schema) -> None:
    jsonschema.Draft202012Validator(schema, format_checker=FORMATS).validate(doc)


def check_signature(body: bytes, header: str, key: str) -> None:
    expected = "sha256=" + hmac.new(key.encode(), body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(header, expected), (header, expected)


def channels_doc(tag: str, monkeypatch, receiver, *, kinds=("slack", "teams", "webhook", "email"),
                 to="leads@example.com") -> tuple[dict, dict[str, str]]:
    """[notify.channels] with one channel per kind, URLs in variables pointing at the receiver under
    paths unique to ``tag``; returns the document and each channel's path."""
    channels, paths = {}, {}
    for kind in kinds:
        name = f"{kind}-ch"
        if kind == "email":
            channels[name] = {"kind": "email", "to": [to]}
            continue
        var = f"NOTIFY_TEST_{kind.upper()}_{tag.upper()}"
        path = f"/{tag}/{kind}/T0001/B0001/{'x' * 8}{tag[-6:]}"
        monkeypatch.setenv(var, receiver.base + path)
        key = "webhook_url_env" if kind != "webhook" else "url_env"
        channels[name] = {"kind": kind, key: var}
        paths[name] = path
    return {"channels": channels}, paths


def config_with(notify: dict, teams: dict | None = None, slos=None):
    doc = {"notify": {"retry_wait_seconds": 0.01, **notify}}
    if teams is not None:
        doc["teams"] = teams
    if slos is not None:
        doc["slos"] = slos
    return parse_config(doc)
