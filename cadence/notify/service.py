"""What ``cadence notify digest|check|test`` run, as library functions (a scheduler calls these).

Digest: compute the week's digest on a read-only connection, render it once per destination
(``[notify.digest] channels`` get the whole digest, a team's ``notify`` channels their team's),
send each with retries, and log every delivery in ``notify_deliveries``.

Check: evaluate every rule on a read-only connection, then in one short write transaction record
which alerts started, still fire, or stopped; then tell each channel what it has not been told yet
(``notify_alert_channels``), recording each outcome as it lands. So an alert is sent once when it
starts firing and once when it resolves; a re-run sends nothing new; a failed send is retried at
the next check (its state is kept, nothing is lost), and a resolved alert is never sent again. An
alert that resolves before any channel heard of it firing is not announced as resolved either. A
channel in its quiet hours gets its alerts at the first check after they end.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from cadence.core.config import Config
from cadence.core.errors import NotifyError
from cadence.notify import render
from cadence.notify.alerts import Alert, AlertEvent, evaluate
from cadence.notify.channels import DeliveryError, Message, send
from cadence.notify.digest import Digest, build_digest
from cadence.core.settings.notify import Channel, NotifySettings
from cadence.notify.state import delivery_row, new_delivery_id, read_alert_channels, read_alerts
from cadence.core.scrub import scrub

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    channel: str
    kind: str               # channel kind
    subject: str
    status: str             # sent / failed / deferred / dry-run
    attempts: int = 0
    error: str | None = None
    text: str = ""          # what was (or would be) sent, as plain text


@dataclass
class CheckReport:
    firing: list[Alert] = field(default_factory=list)
    started: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    failed_rules: set[str] = field(default_factory=set)

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == "failed"]


def _settings(config: Config) -> NotifySettings:
    return config.notify or NotifySettings()


# -- messages -------------------------------------------------------------------------------------

def digest_message(d: Digest, attachments: dict[str, bytes] | None = None) -> Message:
    return Message(kind="digest", subject=d.title, text=render.digest_text(d), html=render.digest_html(d),
                   slack=render.digest_slack(d), teams=render.digest_teams(d), payload=render.digest_json(d),
                   attachments=attachments or {})


def alert_message(a: AlertEvent) -> Message:
    prefix = "[Cadence alert]" if a.event == "firing" else "[Cadence resolved]"
    return Message(kind="alert", subject=f"{prefix} {scrub(a.title)}", text=render.alert_text(a),
                   html=render.alert_html(a), slack=render.alert_slack(a), teams=render.alert_teams(a),
                   payload=render.alert_json(a))


def test_message(now: datetime) -> Message:
    from cadence.notify.links import dashboard_url

    link = dashboard_url("data_health")
    text = f"Cadence test message, sent {now:%Y-%m-%d %H:%M} UTC: this channel is set up.\nView: {link}\n"
    return Message(kind="test", subject="[Cadence] test message", text=text,
                   html=f"<html><body><p>{text.splitlines()[0]}</p><p><a href=\"{link}\">Open Cadence</a></p></body></html>",
                   slack={"text": text.splitlines()[0], "blocks": [
                       {"type": "section", "text": {"type": "mrkdwn", "text": text.splitlines()[0]},
                        "accessory": render._button("Open", link)}]},
                   teams=render._card([render._tb(text.splitlines()[0])], link),
                   payload={"type": "test", "version": render.SCHEMA_VERSION, "sent_at": render._iso(now),
                            "text": text.splitlines()[0], "link": link})


# -- recording ------------------------------------------------------------------------------------

def _record(db_path, rows: list[dict], channel_rows: list[dict] | None = None) -> None:
    from warehouse import write_connection
    from warehouse.upsert import upsert_rows

    with write_connection(db_path) as con:
        if rows:
            upsert_rows(con, "notify_deliveries", rows)
        if channel_rows:
            upsert_rows(con, "notify_alert_channels", channel_rows)


def _deliver(db_path, channel: Channel, message: Message, settings: NotifySettings, subject: str,
             now: datetime, *, channel_row: dict | None = None) -> Outcome:
    """Send with retries and log the outcome (with ``channel_row`` marking it delivered on success)."""
    delivery_id = new_delivery_id()
    try:
        attempts = send(channel, message, settings, delivery_id)
    except DeliveryError as exc:
        outcome = Outcome(channel.name, channel.kind, subject, "failed", exc.attempts, str(exc), message.text)
    except NotifyError as exc:   # not set up: nothing was attempted
        outcome = Outcome(channel.name, channel.kind, subject, "failed", 0, str(exc), message.text)
    else:
        outcome = Outcome(channel.name, channel.kind, subject, "sent", attempts, None, message.text)
    if outcome.status == "failed":
        log.error("notify: %s", outcome.error)
    _record(db_path, [delivery_row(delivery_id, now, message.kind, subject, channel.name, channel.kind,
                                   outcome.status, outcome.attempts, outcome.error)],
            [channel_row] if channel_row is not None and outcome.status == "sent" else None)
    return outcome


# -- digest ---------------------------------------------------------------------------------------

def _export_attachments(con, config: Config, week: str, team: str | None) -> dict[str, bytes]:
    from metrics.export import build_export, to_csv_bytes

    result = build_export(con, config, week, by="team")
    names = result.file_names()
    out = {}
    for table in ("metrics", "changes"):
        df = result.tables[table]
        if team is not None:
            df = df[df["scope"] == team]
            out[names[table]] = to_csv_bytes(df.reset_index(drop=True))
        else:
            out[names[table]] = result.payloads[table]
    return out


def digest_routes(config: Config, by: str | None, channel: str | None) -> list[tuple[Channel | None, str, str | None]]:
    """(channel, by, team) per destination. ``channel`` picks one: its routing if it has one, else
    the whole digest. No channel configured at all: one route with no channel (a dry run prints it)."""
    settings = _settings(config)
    routes: list[tuple[Channel | None, str, str | None]] = []
    whole_by = by or settings.digest_by
    for name in settings.digest_channels:
        routes.append((settings.channel(name), whole_by, None))
    if by != "org":
        for team in sorted(config.teams.values(), key=lambda t: t.name):
            routes += [(settings.channel(name), "team", team.name) for name in team.notify]
    if channel is not None:
        target = settings.channel(channel)
        picked = [r for r in routes if r[0] is not None and r[0].name == channel]
        routes = picked or [(target, whole_by, None)]
    return routes


def run_digest(db_path, config: Config, week: str, *, by: str | None = None, channel: str | None = None,
               dry_run: bool = False, now: datetime | None = None) -> list[Outcome]:
    """Build and send (or, with ``dry_run``, only render) the digest of ``week`` to every route."""
    from cadence.core.clock import utcnow
    from warehouse import read_connection

    now = now or utcnow()
    settings = _settings(config)
    routes = digest_routes(config, by, channel)
    if not routes:
        if not dry_run:
            where = f" in {config.path}" if config.path else ""
            raise NotifyError(f"No channel receives the digest{where}; add [notify.digest] channels = [\"NAME\"] "
                              "(and [notify.channels.NAME]), or use --dry-run to see it.")
        routes = [(None, by or settings.digest_by, None)]
    built: dict[tuple[str, str | None], Message] = {}
    with read_connection(db_path) as con:
        for ch, route_by, team in routes:
            if (route_by, team) not in built:
                d = build_digest(con, config, week, by=route_by, team=team, now=now)
                wants_csv = any(c is not None and c.kind == "email" for c, b, t in routes if (b, t) == (route_by, team))
                attachments = _export_attachments(con, config, d.week, team) if wants_csv else {}
                built[(route_by, team)] = digest_message(d, attachments)
    outcomes = []
    for ch, route_by, team in routes:
        message = built[(route_by, team)]
        subject = f"digest {message.payload['week']} " + (f"team {team}" if team else f"by {route_by}")
        if dry_run or ch is None:
            outcomes.append(Outcome(ch.name if ch else "(none)", ch.kind if ch else "-", subject, "dry-run",
                                    text=message.text))
            continue
        outcomes.append(_deliver(db_path, ch, message, settings, subject, now))
    return outcomes


# -- check ----------------------------------------------------------------------------------------

def _ts(v) -> datetime | None:
    import pandas as pd

    return None if v is None or pd.isna(v) else pd.Timestamp(v).to_pydatetime()


def run_check(db_path, config: Config, *, dry_run: bool = False, now: datetime | None = None) -> CheckReport:
    """Evaluate every alert rule now and tell each channel what changed (see the module's doc)."""
    from cadence.core.clock import utcnow
    from warehouse import read_connection, write_connection
    from warehouse.upsert import upsert_rows

    now = (now or utcnow()).replace(microsecond=0)
    settings = _settings(config)
    report = CheckReport()
    with read_connection(db_path) as con:
        firing, report.notes = evaluate(con, config, settings, now, report.failed_rules)
        previous = read_alerts(con)
        told = read_alert_channels(con)
    report.firing = firing
    before = {r.alert_key: r for r in previous.itertuples()}
    now_firing = {a.key: a for a in firing}

    alert_rows, channel_rows, events = [], [], []   # events: (event, channel names)
    for key, a in now_firing.items():
        old = before.get(key)
        new_episode = old is None or old.status != "firing"
        first = now if new_episode else _ts(old.first_seen_at)
        if new_episode:
            report.started.append(key)
        alert_rows.append({"alert_key": key, "rule": a.rule, "scope": a.scope, "status": "firing", "title": a.title,
                           "detail": a.detail, "link": a.link, "first_seen_at": first, "last_seen_at": now,
                           "resolved_at": None})
        event = AlertEvent(key, a.rule, a.scope, "firing", a.title, a.detail, a.link, first, now)
        names = list(a.channels)
        for name in names:
            if new_episode or (key, name) not in told:
                # a new episode: this channel has not been told of it yet, whatever it heard before
                channel_rows.append({"alert_key": key, "channel": name,
                                     "notified": None if new_episode else told.get((key, name))})
        events.append((event, [n for n in names if new_episode or told.get((key, n)) != "firing"]))
    for key, old in before.items():
        if key in now_firing or old.status != "firing" or old.rule in report.failed_rules:
            continue
        report.resolved.append(key)
        first, last = _ts(old.first_seen_at), _ts(old.last_seen_at)
        alert_rows.append({"alert_key": key, "rule": old.rule, "scope": old.scope, "status": "resolved",
                           "title": old.title, "detail": old.detail, "link": old.link, "first_seen_at": first,
                           "last_seen_at": last, "resolved_at": now})
        event = AlertEvent(key, old.rule, old.scope, "resolved", old.title, old.detail, old.link, first, last, now)
        heard = [c for (k, c), n in told.items() if k == key and n == "firing"]
        never = [c for (k, c), n in told.items() if k == key and n is None]
        # Never told it was firing (a failed or deferred send): nothing to take back, say nothing.
        channel_rows += [{"alert_key": key, "channel": c, "notified": "resolved", "notified_at": now} for c in never]
        events.append((event, sorted(heard)))
    # Resolved alerts whose resolution a channel has not heard yet (the send failed last time).
    for key, old in before.items():
        if old.status == "resolved" and key not in now_firing:
            pending = sorted(c for (k, c), n in told.items() if k == key and n == "firing")
            if pending:
                events.append((AlertEvent(key, old.rule, old.scope, "resolved", old.title, old.detail, old.link,
                                          _ts(old.first_seen_at), _ts(old.last_seen_at), _ts(old.resolved_at)),
                               pending))

    if dry_run:
        for event, names in events:
            for name in names:
                ch = settings.channels.get(name)
                report.outcomes.append(Outcome(name, ch.kind if ch else "?", f"alert {event.key} {event.event}",
                                               "dry-run", text=render.alert_text(event)))
        return report
    if alert_rows or channel_rows:
        with write_connection(db_path) as con:
            if alert_rows:
                upsert_rows(con, "notify_alerts", alert_rows)
            if channel_rows:
                upsert_rows(con, "notify_alert_channels",
                            [{"notified_at": None, **r} for r in channel_rows])
    for event, names in events:
        message = alert_message(event)
        subject = f"alert {event.key} {event.event}"
        for name in names:
            ch = settings.channels.get(name)
            if ch is None:   # the channel was removed from the config since: nobody to tell
                _record(db_path, [], [{"alert_key": event.key, "channel": name, "notified": event.event,
                                       "notified_at": now}])
                continue
            if ch.in_quiet_hours(now):
                # Held back, not logged: a check every few minutes would fill the log all night. The
                # channel's state still says what it has not been told, so the first check after
                # the quiet hours sends it.
                report.outcomes.append(Outcome(name, ch.kind, subject, "deferred"))
                continue
            report.outcomes.append(_deliver(db_path, ch, message, settings, subject, now, channel_row={
                "alert_key": event.key, "channel": name, "notified": event.event, "notified_at": now}))
    return report


def run_test(db_path, config: Config, channel: str, *, now: datetime | None = None) -> Outcome:
    """Send a short test message to ``channel`` (and log it), to check its set-up."""
    from cadence.core.clock import utcnow

    now = now or utcnow()
    ch = _settings(config).channel(channel)
    return _deliver(Path(db_path), ch, test_message(now), _settings(config), "test message", now)


# -- for a scheduler (`cadence serve`) -------------------------------------------------------------

def scheduled_digest(db_path, config: Config, *, now: datetime | None = None) -> list[Outcome]:
    """The weekly job: last complete ISO week's digest to every route (what cron's
    ``cadence notify digest --last-week`` does). A scheduler runs it on Mondays."""
    from cadence.core.clock import utcnow
    from metrics.export import last_complete_week

    now = now or utcnow()
    return run_digest(db_path, config, last_complete_week(now.date()), now=now)


def scheduled_check(db_path, config: Config, *, now: datetime | None = None) -> CheckReport | None:
    """The every-few-minutes job: ``cadence notify check``; None when no rule is configured."""
    if config.notify is None or not config.notify.alerts:
        return None
    return run_check(db_path, config, now=now)
