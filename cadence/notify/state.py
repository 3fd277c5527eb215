"""The notifier's tables (migration 006): alert state per key, what each channel has been told,
and the delivery log. Writes go through ``warehouse.upsert_rows`` in short ``write_connection``
transactions, never held while a message is being sent (a send can take a minute of retries)."""

from __future__ import annotations

import uuid
from datetime import datetime

import duckdb
import pandas as pd

from cadence.core.scrub import scrub

ALERT_COLUMNS = ["alert_key", "rule", "scope", "status", "title", "detail", "link", "first_seen_at",
                 "last_seen_at", "resolved_at"]
DELIVERY_COLUMNS = ["attempted_at", "kind", "subject", "channel", "channel_kind", "status", "attempts", "error"]


def read_alerts(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return con.execute(f"SELECT {', '.join(ALERT_COLUMNS)} FROM notify_alerts ORDER BY alert_key").df()


def read_alert_channels(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], str | None]:
    """(alert key, channel) -> the state last delivered to it (firing / resolved / None)."""
    rows = con.execute("SELECT alert_key, channel, notified FROM notify_alert_channels").fetchall()
    return {(k, c): n for k, c, n in rows}


def new_delivery_id() -> str:
    return uuid.uuid4().hex


def delivery_row(delivery_id: str, at: datetime, kind: str, subject: str, channel: str, channel_kind: str,
                 status: str, attempts: int = 0, error: str | None = None) -> dict:
    return {"id": delivery_id, "attempted_at": at, "kind": kind, "subject": subject[:500], "channel": channel,
            "channel_kind": channel_kind, "status": status, "attempts": attempts,
            "error": scrub(error)[:2000] if error else None}


def recent_deliveries(con: duckdb.DuckDBPyConnection, config=None, limit: int = 50) -> pd.DataFrame:
    """The last ``limit`` delivery attempts, newest first (Data health). Errors are scrubbed again
    on the way out."""
    df = con.execute(f"SELECT {', '.join(DELIVERY_COLUMNS)} FROM notify_deliveries "
                     "ORDER BY attempted_at DESC, id LIMIT ?", [int(limit)]).df()
    df["error"] = [scrub(v) if isinstance(v, str) else None for v in df["error"]]
    return df


def alert_states(con: duckdb.DuckDBPyConnection, config=None) -> pd.DataFrame:
    """Every alert key with its status and episode times (Data health, ``cadence notify status``)."""
    return con.execute("SELECT alert_key, rule, status, title, first_seen_at, last_seen_at, resolved_at "
                       "FROM notify_alerts ORDER BY status, last_seen_at DESC, alert_key").df()
