"""collectors/pagerduty.py over real HTTP against the fake PagerDuty in tests/support/fake_pagerduty.py."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from cadence.cli import main
from cadence.core.config import parse_config
from cadence.core.errors import ConfigError, SourceAuthError, SourceRateLimitError
from collectors import pagerduty
from tests.support.fake_pagerduty import running
from warehouse import read_connection

NOW = datetime(2026, 3, 1, 12, 0, 0)


@pytest.fixture
def fake():
    with running() as fake:
        yield fake


def make_config(fake, **extra):
    return parse_config({"sources": {"pagerduty": {"base_url": fake.url, **extra}}})


def client_for(fake, token=None, sleeps=None):
    kwargs = {"sleep": sleeps.append} if sleeps is not None else {}
    return pagerduty.PagerDutyClient(fake.url, token or fake.token, **kwargs)


def rows(db_path, sql="SELECT id, service, severity, created_at, resolved_at, url, source "
                      "FROM incidents ORDER BY id"):
    with read_connection(db_path) as con:
        return con.execute(sql).fetchall()


def iso(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_pagination_and_mapping(fake, db_path):
    base = datetime(2026, 2, 1)
    for n in range(250):  # 250 incidents → pages at offsets 0, 100, 200
        fake.add(f"Q{n:03d}", iso(base + timedelta(minutes=10 * n)), status="resolved",
                 resolved_at=iso(base + timedelta(minutes=10 * n + 30)))
    fake.add("PRIO1", "2026-02-20T08:00:00+01:00", priority="P1", service="PSVC2",
             service_name="Billing Worker")                           # offset → UTC
    fake.add("NORES", "2026-02-21T10:00:00Z", status="resolved", urgency="low",
             last_status_change_at="2026-02-21T12:30:00Z")            # no resolved_at
    config = make_config(fake, services={"PSVC1": "api"}, since="2026-01-15")
    result = pagerduty.sync(db_path, config, client_for(fake), now=NOW)

    assert result["incidents"] == 252 and result["open"] == 1
    offsets = [q["offset"][0] for q in fake.list_requests()]
    assert offsets == ["0", "100", "200"]
    assert all(q["limit"] == ["100"] for q in fake.list_requests())
    got = {r[0]: r for r in rows(db_path)}
    assert len(got) == 252
    assert got["pagerduty:Q000"][1:5] == ("api", "high", base, base + timedelta(minutes=30))
    # priority wins over urgency; an unmapped service keeps its PagerDuty name; 08:00+01:00 = 07:00Z
    assert got["pagerduty:PRIO1"][1:5] == ("Billing Worker", "P1", datetime(2026, 2, 20, 7), None)
    # resolved without resolved_at: last_status_change_at
    assert got["pagerduty:NORES"][2:5] == ("low", datetime(2026, 2, 21, 10), datetime(2026, 2, 21, 12, 30))
    assert got["pagerduty:PRIO1"][5:] == ("https://acme.pagerduty.com/incidents/PRIO1", "pagerduty")


def test_long_history_is_walked_in_six_month_windows(fake, db_path):
    # 2025-01-01 .. 2026-03-01 12:00 is 424.5 days → windows of 180 + 180 + 64.5 days.
    for pd_id, created in [("A", "2025-01-02T00:00:00Z"), ("B", "2025-06-30T00:00:00Z"),
                           ("C", "2025-07-01T00:00:00Z"), ("D", "2026-02-28T00:00:00Z")]:
        fake.add(pd_id, created, status="resolved", resolved_at=created)
    result = pagerduty.sync(db_path, make_config(fake, since="2025-01-01"), client_for(fake), now=NOW)
    spans = [pagerduty._parse_ts(q["until"][0]) - pagerduty._parse_ts(q["since"][0])
             for q in fake.list_requests()]
    assert len(spans) == 3 and max(spans) == timedelta(days=180)
    assert result["windows"] == 3
    assert [r[0] for r in rows(db_path)] == [f"pagerduty:{x}" for x in "ABCD"]


@pytest.mark.parametrize("report_total", [True, False])
def test_window_over_offset_cap_is_split(fake, db_path, monkeypatch, report_total):
    # Cap 300 instead of 10,000 (same rule, smaller numbers): 700 incidents in one window must
    # be read through halves, quarters… each holding at most 300.
    monkeypatch.setattr(pagerduty, "OFFSET_CAP", 300)
    fake.offset_cap, fake.report_total = 300, report_total
    base = datetime(2026, 2, 1)
    for n in range(700):
        fake.add(f"S{n:03d}", iso(base + timedelta(minutes=n)), status="resolved",
                 resolved_at=iso(base + timedelta(minutes=n + 1)))
    result = pagerduty.sync(db_path, make_config(fake, since="2026-01-31"), client_for(fake), now=NOW)
    assert rows(db_path, "SELECT count(*), count(DISTINCT id) FROM incidents") == [(700, 700)]
    assert result["windows"] >= 3  # 700 / 300 → at least three leaves
    assert all(int(q["offset"][0]) + int(q["limit"][0]) <= 300 for q in fake.list_requests())


def test_rate_limit_honours_retry_after(fake, db_path):
    fake.add("R1", "2026-02-10T00:00:00Z")
    fake.rate_limits = ["2", "1"]
    sleeps = []
    pagerduty.sync(db_path, make_config(fake, since="2026-02-01"), client_for(fake, sleeps=sleeps),
                   now=NOW)
    assert sleeps == [2.0, 1.0]
    assert rows(db_path, "SELECT id FROM incidents") == [("pagerduty:R1",)]


def test_rate_limit_longer_than_bound_stops_and_writes_nothing(fake, db_path):
    fake.add("R1", "2026-02-10T00:00:00Z")
    fake.rate_limits = ["3600"]
    sleeps = []
    with pytest.raises(SourceRateLimitError, match="asked to wait 3600 s"):
        pagerduty.sync(db_path, make_config(fake, since="2026-02-01"),
                       client_for(fake, sleeps=sleeps), now=NOW)
    assert sleeps == []
    assert rows(db_path, "SELECT count(*) FROM incidents") == [(0,)]
    assert "rate limit" in rows(db_path, "SELECT last_error FROM sync_state")[0][0]


def test_wrong_token_gives_clear_message_without_the_token(fake, db_path):
    fake.add("X1", "2026-02-10T00:00:00Z")
    with pytest.raises(SourceAuthError) as err:
        pagerduty.sync(db_path, make_config(fake), client_for(fake, token="wrong-secret-123"), now=NOW)
    assert str(err.value).startswith("PAGERDUTY_TOKEN is missing or invalid")
    assert "wrong-secret-123" not in str(err.value)
    (last_error,) = rows(db_path, "SELECT last_error FROM sync_state WHERE source = 'pagerduty'")[0]
    assert "PAGERDUTY_TOKEN" in last_error and "wrong-secret" not in last_error
    assert rows(db_path, "SELECT count(*) FROM incidents") == [(0,)]


def test_open_incidents_are_updated_on_resync(fake, db_path):
    fake.add("O1", "2026-02-01T09:00:00Z")                             # stays open
    fake.add("O2", "2026-02-02T09:00:00Z", status="acknowledged")      # resolved later
    fake.add("O3", "2026-02-03T09:00:00Z")                             # resolved, no resolved_at
    fake.add("C1", "2026-02-04T09:00:00Z", status="resolved", resolved_at="2026-02-04T10:00:00Z")
    config = make_config(fake, since="2026-01-20")
    first = pagerduty.sync(db_path, config, client_for(fake), now=NOW)
    assert first["open"] == 3
    assert rows(db_path, "SELECT count(*) FROM incidents WHERE resolved_at IS NULL") == [(3,)]

    fake.resolve("O2", "2026-03-02T10:00:00Z")
    fake.resolve("O3", "2026-03-02T11:00:00Z", with_resolved_at=False)
    fake.add("N1", "2026-03-03T09:00:00Z")                             # new since the cursor
    fake.requests.clear()
    second = pagerduty.sync(db_path, config, client_for(fake), now=datetime(2026, 3, 5))
    got = {r[0]: r[4] for r in rows(db_path)}
    assert got == {"pagerduty:O1": None, "pagerduty:O2": datetime(2026, 3, 2, 10),
                   "pagerduty:O3": datetime(2026, 3, 2, 11),
                   "pagerduty:C1": datetime(2026, 2, 4, 10), "pagerduty:N1": None}
    assert second["open"] == 2  # O1 and N1
    paths = [p for p, _ in fake.requests]
    assert sorted(p for p in paths if p != "/incidents") == ["/incidents/O2", "/incidents/O3"]
    # the second run read only from the cursor (minus the overlap), not from `since` again
    new_since = [q["since"][0] for q in fake.list_requests() if "statuses[]" not in q]
    assert new_since == ["2026-03-01T11:00:00Z"]


def test_rerun_is_idempotent(fake, db_path):
    for n in range(5):
        fake.add(f"I{n}", f"2026-02-0{n + 1}T00:00:00Z", status="resolved" if n % 2 else "triggered",
                 resolved_at=f"2026-02-0{n + 1}T05:00:00Z" if n % 2 else None)
    config = make_config(fake, since="2026-01-25")
    pagerduty.sync(db_path, config, client_for(fake), now=NOW)
    before = rows(db_path, "SELECT * FROM incidents ORDER BY id")
    cursor = rows(db_path, "SELECT cursor, details FROM sync_state")
    pagerduty.sync(db_path, config, client_for(fake), now=NOW)
    assert rows(db_path, "SELECT * FROM incidents ORDER BY id") == before
    assert rows(db_path, "SELECT cursor, details FROM sync_state") == cursor
    assert len(before) == 5


def test_config_errors_name_the_key(fake):
    with pytest.raises(ConfigError, match="sources.pagerduty.service_ids"):
        pagerduty.read_settings(make_config(fake, service_ids="PABC"))
    with pytest.raises(ConfigError, match="sources.pagerduty.since"):
        pagerduty.read_settings(make_config(fake, since="last year"))


def test_cli_sync_uses_env_token_and_reports_missing_one(fake, tmp_path, monkeypatch, pin_now, capsys):
    fake.add("CLI1", "2026-02-10T00:00:00Z", service="PABC123")
    cfg = tmp_path / "cadence.toml"
    cfg.write_text(f'[sources.pagerduty]\nbase_url = "{fake.url}"\nservice_ids = ["PABC123"]\n'
                   f'[sources.pagerduty.services]\nPABC123 = "api"\n')
    db = tmp_path / "cli.duckdb"
    args = ["--db", str(db), "--config", str(cfg), "sync", "pagerduty", "--since", "2026-02-01"]
    assert main(args) == 1
    assert "PAGERDUTY_TOKEN is missing or invalid" in capsys.readouterr().err

    monkeypatch.setenv("PAGERDUTY_TOKEN", fake.token)
    pin_now(NOW)
    assert main(args) == 0
    assert "1 incident rows written" in capsys.readouterr().err
    assert rows(db, "SELECT id, service FROM incidents") == [("pagerduty:CLI1", "api")]
    assert fake.list_requests()[0]["service_ids[]"] == ["PABC123"]


# -- a killed sync resumes ----------------------------------------------------------------------

PIN_NOW_AND_RUN = ("import sys, datetime; from collectors import pagerduty; "
                   "pagerduty._utcnow = lambda: datetime.datetime(2026, 3, 1, 12); "   # = NOW
                   "from cadence.cli import main; sys.exit(main())")


def year_of_incidents(fake):
    """600 incidents, one every 14 h from 2025-03-01 03:00Z (the last on 2026-02-14), plus three
    after 2026-02-24: about a ninth triggered, a thirteenth acknowledged, the rest resolved."""
    base = datetime(2025, 3, 1, 3)
    for n in range(603):
        created = base + timedelta(hours=14 * n) if n < 600 else datetime(2026, 2, 25) + timedelta(hours=n - 600)
        status = "triggered" if n % 9 == 0 else "acknowledged" if n % 13 == 0 else "resolved"
        resolved = iso(created + timedelta(hours=n % 5 + 1)) if status == "resolved" else None
        fake.add(f"Y{n:03d}", iso(created), status=status, urgency="low" if n % 4 else "high",
                 priority="P1" if n % 50 == 0 else None, service="PSVC1" if n % 3 else "PSVC2",
                 service_name="Checkout API" if n % 3 else "Billing Worker",
                 resolved_at=None if n % 17 == 0 else resolved, last_status_change_at=resolved)


@pytest.mark.slow
def test_a_killed_sync_resumes_without_loss_or_duplicates(fake, tmp_path, monkeypatch, pin_now):
    """`cadence sync pagerduty` in its own process, killed (SIGKILL) while a page of its second
    6-month window hangs; incidents change before the next run, which resumes from the cursor and
    ends with exactly the rows and state of one clean sync of what PagerDuty then holds."""
    import threading

    from tests.support.kill_support import kill_while_held

    year_of_incidents(fake)
    cfg = tmp_path / "cadence.toml"
    cfg.write_text(f'[sources.pagerduty]\nbase_url = "{fake.url}"\nsince = "2025-03-01"\n'
                   f'[sources.pagerduty.services]\nPSVC1 = "api"\n', encoding="utf-8")
    monkeypatch.setenv("PAGERDUTY_TOKEN", fake.token)
    pin_now(NOW)

    def snapshot(db):
        return {"incidents": rows(db, "SELECT * FROM incidents ORDER BY id"),
                "state": rows(db, "SELECT scope, cursor, details, last_error FROM sync_state "
                                  "WHERE source = 'pagerduty'")}

    def sync_cli(db):
        return main(["--db", str(db), "--config", str(cfg), "sync", "pagerduty"])

    # 2025-03-01 .. 2026-03-01 12:00: windows split at 2025-08-28 and 2026-02-24. Incidents every
    # 14 h: 309 in the first window (4 pages), 291 in the second (3 pages), 3 in the last (1 page).
    before = tmp_path / "before.duckdb"
    assert sync_cli(before) == 0
    clean_before = snapshot(before)
    listings = [(q["since"][0], q["offset"][0]) for q in fake.list_requests()]
    assert listings == [("2025-03-01T00:00:00Z", o) for o in ("0", "100", "200", "300")] + [
        ("2025-08-28T00:00:00Z", o) for o in ("0", "100", "200")] + [("2026-02-24T00:00:00Z", "0")]

    # Let the first window's 4 pages and the second window's first page through; hold its second.
    fake.requests.clear()
    release = threading.Event()
    fake.hold("/incidents", release, after=5)
    db = tmp_path / "killed.duckdb"
    kill_while_held(PIN_NOW_AND_RUN, ["--db", str(db), "--config", str(cfg), "sync", "pagerduty"],
                    lambda: fake.held, release)

    # Committed: the first window whole, with its cursor and open set; nothing of the second.
    partial = snapshot(db)
    window_end = datetime(2025, 8, 28)
    first_window = [r for r in clean_before["incidents"] if r[5] < window_end]
    # 2025-03-01 03:00 + 14 h × n < 2025-08-28 00:00 (180 d × 24 − 3 = 4317 h): n = 0..308, 309 rows.
    assert len(first_window) == 309
    assert partial["incidents"] == first_window
    (scope, cursor, details, error), = partial["state"]
    assert (scope, cursor, error) == ("incidents", "2025-08-28T00:00:00Z", None)
    open_ids = {r[0].removeprefix("pagerduty:") for r in first_window if r[6] is None}
    # open among n = 0..308: triggered n % 9 == 0 → 35; acknowledged n % 13 == 0 → 24, less the 3
    # that are also multiples of 9 (0, 117, 234) → 21; 35 + 21 = 56.
    assert set(json.loads(details)["open"]) == open_ids and len(open_ids) == 56

    # Meanwhile: two incidents of the committed window and one of the unread one are resolved (one
    # without resolved_at), and a new one is opened.
    fake.resolve("Y000", "2026-02-26T10:00:00Z")
    fake.resolve("Y009", "2026-02-26T11:00:00Z", with_resolved_at=False)
    fake.resolve("Y450", "2026-02-26T12:00:00Z")
    fake.add("NEW", "2026-02-28T09:00:00Z", urgency="high")
    fake.requests.clear()
    assert sync_cli(db) == 0
    # It resumed: the history before the cursor was not listed again (only open incidents were).
    full = [(q["since"][0], q["offset"][0]) for q in fake.list_requests() if "statuses[]" not in q]
    assert full[0] == ("2025-08-27T23:00:00Z", "0")                  # cursor − 1 h overlap

    reference = tmp_path / "reference.duckdb"
    assert sync_cli(reference) == 0
    expected = snapshot(reference)
    assert len(expected["incidents"]) == 604                            # 603 + NEW, each once
    got = snapshot(db)
    assert got == expected
    resolved = {r[0]: r[6] for r in got["incidents"] if r[0] in ("pagerduty:Y000", "pagerduty:Y009",
                                                                 "pagerduty:Y450")}
    assert resolved == {"pagerduty:Y000": datetime(2026, 2, 26, 10), "pagerduty:Y009": datetime(2026, 2, 26, 11),
                        "pagerduty:Y450": datetime(2026, 2, 26, 12)}
