"""A digest or an alert in each channel's format: plain text (``--dry-run``, e-mail's text part),
HTML (e-mail), Slack Block Kit, a Microsoft Teams Adaptive Card, and the webhook JSON whose schema
is published as ``webhook.schema.json`` (docs/notify.md).

Direction is told by arrows *and* words ("▲ up 20% (better)"), never by colour alone. Every message
links to the dashboard view it summarises. Text from the warehouse (service names, incident ids) is
passed through ``cadence.core.scrub.redact_values`` so a secret pasted into data cannot leave this way.
"""

from __future__ import annotations

import html
import json
from datetime import date, datetime
from typing import Any

from cadence.notify.digest import CostFigure, Digest, ScopeDigest, format_value
from cadence.core.scrub import redact_values

SCHEMA_VERSION = 1
SLACK_TEXT_LIMIT = 2900        # a section's text may hold 3000 characters
SLACK_MAX_BLOCKS = 50
PRODUCT = "Cadence"


def _clean(text: str) -> str:
    return redact_values(str(text))


def _money(v: float | None) -> str:
    return format_value(v, "usd")


def _signed_money(v: float) -> str:
    return ("+" if v >= 0 else "−") + _money(abs(v))


def _cost_line(c: CostFigure) -> str:
    per = (f"; per deployment {_money(c.per_deployment)}, vs last week {c.per_deployment_change.arrow} "
           f"{c.per_deployment_change.words}") if c.per_deployment is not None else "; no deployments to divide by"
    return f"Cloud cost {_money(c.cost)}, vs last week {c.cost_change.arrow} {c.cost_change.words}{per}"


def _key_line(k) -> str:
    band = f" [{k.band}]" if k.band else ""
    return (f"{k.label}: {k.text}{band} · vs last week {k.vs_previous.arrow} {k.vs_previous.words}"
            f" · vs 4-week average {k.vs_average.arrow} {k.vs_average.words}")


def _scope_title(d: Digest, s: ScopeDigest) -> str:
    return "Organisation" if s.scope == "all" else (f"Team {s.scope}" if d.by == "team" else s.scope)


def _mover_line(m: dict) -> str:
    pct = f", {m['change_pct'] * 100:+.0f}%" if m.get("change_pct") is not None else ", new this week"
    arrow = "▲" if m["change"] > 0 else "▼"
    return (f"{_clean(m['service'])}: {_money(m['previous_cost'])} → {_money(m['current_cost'])} "
            f"({arrow} {_signed_money(m['change'])}{pct})")


def _anomaly_line(a: dict) -> str:
    arrow = "▲" if a["direction"] == "up" else "▼"
    return (f"{_clean(a['service'])} on {a['date']:%Y-%m-%d}: {_money(a['actual'])} against an expected "
            f"{_money(a['expected'])} ({arrow} {a['direction']} {_money(abs(a['deviation']))})")


# -- plain text -----------------------------------------------------------------------------------

def digest_text(d: Digest) -> str:
    lines = [d.title, f"Bands: DORA {d.benchmark} benchmark. Open in the dashboard: {d.link}", ""]
    for s in d.scopes:
        lines.append(f"== {_clean(_scope_title(d, s))} ==")
        lines += [_key_line(k) for k in s.keys]
        if s.cost is not None:
            lines.append(_cost_line(s.cost))
        lines.append("Notable:")
        lines += [f"- {_clean(n)}" if not n.startswith("  ") else f"  {_clean(n.strip())}" for n in s.notable]
        lines += [f"View: {s.link}", ""]
    lines.append("== Cloud cost ==")
    lines.append(_cost_line(d.total_cost) if d.total_cost is not None else "No cost data for this week.")
    lines.append("Top cost movers (by service, vs last week):")
    lines += [f"- {_mover_line(m)}" for m in d.movers] or ["- none"]
    lines.append("Cost anomalies this week:")
    lines += [f"- {_anomaly_line(a)}" for a in d.anomalies] or ["- none"]
    lines += ["", "== Data freshness =="]
    lines += [f"- Warning: {_clean(w)}" for w in d.freshness] or ["- All sources synced within the last day."]
    return "\n".join(lines) + "\n"


# -- HTML (e-mail) --------------------------------------------------------------------------------

def digest_html(d: Digest) -> str:
    e = lambda t: html.escape(_clean(str(t)))  # noqa: E731
    parts = [f"<html><body style=\"font-family: sans-serif\"><h2>{e(d.title)}</h2>",
             f"<p>Bands: DORA {e(d.benchmark)} benchmark. <a href=\"{e(d.link)}\">Open in the dashboard</a></p>"]
    for s in d.scopes:
        parts.append(f"<h3>{e(_scope_title(d, s))}</h3><table border=\"1\" cellpadding=\"4\" "
                     "style=\"border-collapse: collapse\"><tr><th>Key</th><th>This week</th><th>Band</th>"
                     "<th>vs last week</th><th>vs 4-week average</th></tr>")
        for k in s.keys:
            parts.append(f"<tr><td>{e(k.label)}</td><td>{e(k.text)}</td><td>{e(k.band or '')}</td>"
                         f"<td>{e(k.vs_previous.arrow)} {e(k.vs_previous.words)}</td>"
                         f"<td>{e(k.vs_average.arrow)} {e(k.vs_average.words)}</td></tr>")
        parts.append("</table>")
        if s.cost is not None:
            parts.append(f"<p>{e(_cost_line(s.cost))}</p>")
        parts.append("<ul>" + "".join(f"<li>{e(n.strip())}</li>" for n in s.notable) + "</ul>")
        parts.append(f"<p><a href=\"{e(s.link)}\">View {e(_scope_title(d, s))} in the dashboard</a></p>")
    parts.append("<h3>Cloud cost</h3>")
    parts.append(f"<p>{e(_cost_line(d.total_cost)) if d.total_cost else 'No cost data for this week.'}</p>")
    parts.append("<p>Top cost movers (by service, vs last week):</p><ul>"
                 + ("".join(f"<li>{e(_mover_line(m))}</li>" for m in d.movers) or "<li>none</li>") + "</ul>")
    parts.append("<p>Cost anomalies this week:</p><ul>"
                 + ("".join(f"<li>{e(_anomaly_line(a))}</li>" for a in d.anomalies) or "<li>none</li>") + "</ul>")
    parts.append("<h3>Data freshness</h3><ul>"
                 + ("".join(f"<li>Warning: {e(w)}</li>" for w in d.freshness)
                    or "<li>All sources synced within the last day.</li>") + "</ul>")
    parts.append("<p>The week's export CSVs are attached (columns: docs/export.md).</p></body></html>")
    return "".join(parts)


# -- Slack Block Kit ------------------------------------------------------------------------------

def _mrkdwn(text: str) -> dict:
    if len(text) > SLACK_TEXT_LIMIT:
        text = text[:SLACK_TEXT_LIMIT - 1] + "…"
    return {"type": "mrkdwn", "text": text}


def _slack_escape(text: str) -> str:
    return _clean(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _button(label: str, url: str) -> dict:
    return {"type": "button", "text": {"type": "plain_text", "text": label}, "url": url}


def digest_slack(d: Digest) -> dict:
    """``{"text": fallback, "blocks": [...]}`` for slack_sdk's WebhookClient.send."""
    blocks: list[dict] = [
        {"type": "header", "text": {"type": "plain_text", "text": f"Cadence weekly digest {d.week}"}},
        {"type": "context", "elements": [_mrkdwn(f"{d.start:%d %b} – {d.end:%d %b %Y} · bands: DORA {d.benchmark} "
                                                 f"benchmark · <{d.link}|open in the dashboard>")]},
    ]
    for s in d.scopes:
        keys = "\n".join(f"• {_slack_escape(_key_line(k))}" for k in s.keys)
        cost = f"\n• {_slack_escape(_cost_line(s.cost))}" if s.cost else ""
        notes = "\n".join(f"  _{_slack_escape(n.strip())}_" for n in s.notable)
        blocks.append({"type": "section", "text": _mrkdwn(f"*{_slack_escape(_scope_title(d, s))}*\n{keys}{cost}\n{notes}"),
                       "accessory": _button("Open", s.link)})
        blocks.append({"type": "divider"})
    cost_lines = [_cost_line(d.total_cost) if d.total_cost else "No cost data for this week.",
                  "Top cost movers:"] + [f"• {_mover_line(m)}" for m in d.movers] + \
        ["Cost anomalies:"] + ([f"• {_anomaly_line(a)}" for a in d.anomalies] or ["• none"])
    blocks.append({"type": "section", "text": _mrkdwn("*Cloud cost*\n" + _slack_escape("\n".join(cost_lines)))})
    fresh = [f"⚠ {w}" for w in d.freshness] or ["All sources synced within the last day."]
    blocks.append({"type": "section", "text": _mrkdwn("*Data freshness*\n" + _slack_escape("\n".join(fresh)))})
    if len(blocks) > SLACK_MAX_BLOCKS:   # many teams: keep the first ones and say where the rest is
        blocks = blocks[:SLACK_MAX_BLOCKS - 1] + [{"type": "section", "text": _mrkdwn(
            f"More teams than one Slack message holds: <{d.link}|see them all in the dashboard>")}]
    return {"text": d.title, "blocks": blocks}


def alert_slack(a) -> dict:
    icon = "🔴 Firing" if a.event == "firing" else "✅ Resolved"
    blocks = [
        {"type": "section", "text": _mrkdwn(f"*{icon}: {_slack_escape(a.title)}*\n{_slack_escape(a.detail)}"),
         "accessory": _button("Open", a.link)},
        {"type": "context", "elements": [_mrkdwn(f"rule `{a.rule}` · key `{_slack_escape(a.key)}` · "
                                                 f"first seen {a.first_seen_at:%Y-%m-%d %H:%M} UTC")]},
    ]
    return {"text": f"{icon}: {_clean(a.title)}", "blocks": blocks}


# -- Microsoft Teams Adaptive Card ----------------------------------------------------------------

def _card(body: list[dict], link: str) -> dict:
    return {"type": "message", "attachments": [{
        "contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None,
        "content": {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard",
                    "version": "1.4", "body": body,
                    "actions": [{"type": "Action.OpenUrl", "title": "Open in the dashboard", "url": link}]}}]}


def _tb(text: str, **kw) -> dict:
    return {"type": "TextBlock", "text": _clean(text), "wrap": True, **kw}


def digest_teams(d: Digest) -> dict:
    body: list[dict] = [_tb(d.title, size="Large", weight="Bolder"),
                        _tb(f"Bands: DORA {d.benchmark} benchmark.", isSubtle=True)]
    for s in d.scopes:
        body.append(_tb(_scope_title(d, s), size="Medium", weight="Bolder", separator=True))
        body.append({"type": "FactSet", "facts": [
            {"title": k.label, "value": _clean(f"{k.text}{' [' + k.band + ']' if k.band else ''} · last week "
                                               f"{k.vs_previous.arrow} {k.vs_previous.words} · 4-week average "
                                               f"{k.vs_average.arrow} {k.vs_average.words}")} for k in s.keys]})
        if s.cost:
            body.append(_tb(_cost_line(s.cost)))
        body.append(_tb("\n".join(f"- {n.strip()}" for n in s.notable)))
        body.append(_tb(f"[View {_scope_title(d, s)}]({s.link})"))
    body.append(_tb("Cloud cost", size="Medium", weight="Bolder", separator=True))
    body.append(_tb(_cost_line(d.total_cost) if d.total_cost else "No cost data for this week."))
    if d.movers:
        body.append(_tb("Top cost movers:\n" + "\n".join(f"- {_mover_line(m)}" for m in d.movers)))
    body.append(_tb("Cost anomalies:\n" + ("\n".join(f"- {_anomaly_line(a)}" for a in d.anomalies) or "- none")))
    body.append(_tb("Data freshness", size="Medium", weight="Bolder", separator=True))
    body.append(_tb("\n".join(f"- Warning: {w}" for w in d.freshness) or "All sources synced within the last day."))
    return _card(body, d.link)


def alert_teams(a) -> dict:
    head = ("Firing: " if a.event == "firing" else "Resolved: ") + a.title
    return _card([_tb(head, size="Medium", weight="Bolder", color="Attention" if a.event == "firing" else "Good"),
                  _tb(a.detail),
                  _tb(f"Rule {a.rule} · key {a.key} · first seen {a.first_seen_at:%Y-%m-%d %H:%M} UTC", isSubtle=True)],
                 a.link)


# -- the webhook JSON (webhook.schema.json) -------------------------------------------------------

def _iso(v) -> str | None:
    if v is None:
        return None
    if isinstance(v, datetime):
        return v.replace(microsecond=0).isoformat() + "Z"
    if isinstance(v, date):
        return v.isoformat()
    return str(v)


def _cmp(c) -> dict:
    return {"arrow": c.arrow, "words": c.words, "verdict": c.verdict}


def _cost_json(c: CostFigure | None) -> dict | None:
    if c is None:
        return None
    return {"cost_usd": c.cost, "previous_cost_usd": c.previous_cost, "vs_previous": _cmp(c.cost_change),
            "cost_per_deployment_usd": c.per_deployment,
            "previous_cost_per_deployment_usd": c.previous_per_deployment,
            "cost_per_deployment_vs_previous": _cmp(c.per_deployment_change)}


def digest_json(d: Digest) -> dict[str, Any]:
    return {
        "type": "digest", "version": SCHEMA_VERSION, "week": d.week, "start": _iso(d.start), "end": _iso(d.end),
        "by": d.by, "team": d.team, "benchmark": d.benchmark, "generated_at": _iso(d.generated_at),
        "link": d.link, "title": d.title,
        "scopes": [{
            "scope": _clean(s.scope), "link": s.link,
            "keys": [{"key": k.column, "label": k.label, "value": k.value, "text": k.text, "band": k.band,
                      "previous": k.previous, "four_week_average": k.average, "vs_previous": _cmp(k.vs_previous),
                      "vs_four_week_average": _cmp(k.vs_average)} for k in s.keys],
            "notable": [_clean(n.strip()) for n in s.notable],
            "cost": _cost_json(s.cost)} for s in d.scopes],
        "total_cost": _cost_json(d.total_cost),
        "cost_movers": [{"service": _clean(m["service"]), "previous_cost_usd": m["previous_cost"],
                         "current_cost_usd": m["current_cost"], "change_usd": m["change"],
                         "change_pct": m["change_pct"]} for m in d.movers],
        "cost_anomalies": [{"service": _clean(a["service"]), "date": _iso(a["date"]), "actual_usd": a["actual"],
                            "expected_usd": a["expected"], "deviation_usd": a["deviation"],
                            "direction": a["direction"]} for a in d.anomalies],
        "freshness": [_clean(w) for w in d.freshness],
        "text": digest_text(d),
    }


def alert_json(a) -> dict[str, Any]:
    return {"type": "alert", "version": SCHEMA_VERSION, "event": a.event, "key": _clean(a.key), "rule": a.rule,
            "scope": _clean(a.scope) if a.scope else None, "title": _clean(a.title), "detail": _clean(a.detail),
            "link": a.link, "first_seen_at": _iso(a.first_seen_at), "last_seen_at": _iso(a.last_seen_at),
            "resolved_at": _iso(a.resolved_at)}


def alert_text(a) -> str:
    head = "FIRING" if a.event == "firing" else "RESOLVED"
    when = (f"first seen {a.first_seen_at:%Y-%m-%d %H:%M} UTC" +
            (f", resolved {a.resolved_at:%Y-%m-%d %H:%M} UTC" if a.resolved_at else ""))
    return f"[{head}] {_clean(a.title)}\n{_clean(a.detail)}\nRule {a.rule}, {when}.\nView: {a.link}\n"


def alert_html(a) -> str:
    e = lambda t: html.escape(_clean(str(t)))  # noqa: E731
    head = "Firing" if a.event == "firing" else "Resolved"
    return (f"<html><body style=\"font-family: sans-serif\"><h3>{head}: {e(a.title)}</h3><p>{e(a.detail)}</p>"
            f"<p>Rule {e(a.rule)}, first seen {a.first_seen_at:%Y-%m-%d %H:%M} UTC.</p>"
            f"<p><a href=\"{e(a.link)}\">Open in the dashboard</a></p></body></html>")


def dumps(payload: dict) -> bytes:
    """The exact bytes posted (and signed): compact, UTF-8, keys in a fixed order."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")
