"""collectors/prometheus against a real Prometheus (tests/support/prometheus.py) over a backfilled,
deterministic series. Expected values are worked out by hand from the scenario's rules (its
docstring), never taken from the collector:

checkout, every hour of 2025-02-01..2025-02-28 that has samples:
* instance a: 60 scrapes an hour (hh:00:17 .. hh:59:17), +10 each: the 60 increments that end in
  the hour (the one from hh-1:59:17 included) = 600 good;
* instance b: 30 scrapes an hour (hh:00:43, hh:02:43 .. hh:58:43), +5 each: 30 x 5 = 150 good;
* so a full hour is good 750, total 750 + the code="500" growth in it.
"""

from __future__ import annotations

import http.server
import json
import threading
from contextlib import contextmanager
from datetime import date, datetime, timedelta

import pytest

from cadence.cli import main
from cadence.core.config import parse_config
from cadence.core.errors import ConfigError, SourceAuthError, SourceRateLimitError
from collectors import prometheus as prom
from collectors.prometheus.client import PrometheusClient, PrometheusQueryError, PrometheusUnreachable
from collectors.prometheus.increments import counter_increase, increment_from_samples
from collectors.prometheus.settings import parse_settings
from collectors.prometheus.sync import iter_chunks
from tests.support.prometheus import (
    BATCH_GOOD,
    BATCH_TOTAL,
    CHECKOUT_GOOD,
    CHECKOUT_TOTAL,
    PASSWORD,
    USERNAME,
)
from warehouse import read_connection

NOW = datetime(2025, 3, 1, 0, 20)        # the last complete hour ends 2025-03-01T00:00
CHECKOUT = {"name": "checkout-availability", "service": "checkout", "objective": 99.9, "window_days": 28,
            "good": CHECKOUT_GOOD, "total": CHECKOUT_TOTAL}
BATCH = {"name": "batch-jobs", "service": "batch", "objective": 99.0, "window_days": 90,
         "good": BATCH_GOOD, "total": BATCH_TOTAL}


def make_config(url, *slos):
    return parse_config({"sources": {"prometheus": {"base_url": url}}, "slos": list(slos or (CHECKOUT, BATCH))})


def client_for(prometheus, **kwargs):
    return PrometheusClient(prometheus.url, username=USERNAME, password=PASSWORD, **kwargs)


def hours(db_path, slo):
    with read_connection(db_path) as con:
        return {h: (g, t) for h, g, t in con.execute(
            "SELECT hour, good, total FROM sli_hours WHERE slo = ? ORDER BY hour", [slo]).fetchall()}


def state(db_path, slo):
    with read_connection(db_path) as con:
        return con.execute("SELECT cursor, last_error FROM sync_state WHERE source = 'prometheus' AND scope = ?",
                           [f"slo:{slo}"]).fetchone()


@pytest.fixture
def creds(monkeypatch, prometheus):
    monkeypatch.setenv("PROMETHEUS_USERNAME", USERNAME)
    monkeypatch.setenv("PROMETHEUS_PASSWORD", PASSWORD)
    return prometheus


# -- why not increase(): measured on the real server ----------------------------------------------

def test_increase_loses_the_straddling_error_and_smears_the_others(prometheus):
    client = client_for(prometheus)
    result = client.query_range(f"sum(increase({CHECKOUT_TOTAL}[1h]))", datetime(2025, 2, 27, 3),
                                datetime(2025, 2, 27, 4), 3600, "increase")
    values = [float(v) for _, v in result[0]["values"]]
    # Hour 02:00-03:00 truly holds 751 events (750 + the error counted between 01:59:17 and
    # 02:00:17); increase() sees only the samples inside [02:00, 03:00], in which code="500" never
    # moves, so the error is gone: 750 (the uniform 200s extrapolate back to exactly 600 + 150).
    assert values[0] == 750
    # Hour 03:00-04:00 holds 753; the +3 inside the window is extrapolated by 60/59: 753.0508...
    assert values[1] == pytest.approx(750 + 3 * 60 / 59) and values[1] != 753


# -- a first sync -----------------------------------------------------------------------------------

def test_first_sync_reads_exact_hourly_increments(prometheus, db_path):
    report = prom.sync(db_path, make_config(prometheus.url), client_for(prometheus), now=NOW)

    checkout = hours(db_path, "checkout-availability")
    # The first run reads the longest window (90 days) + 3 days: 2024-11-28 .. 2025-03-01.
    # Checkout has samples from 2025-02-01 00:00:17: 28 days x 24 = 672 hours, minus the 3 hours of
    # the scrape gap (10:00, 11:00, 12:00 on 2025-02-24) = 669 rows.
    assert len(checkout) == 669
    # The first hour has no sample before it: a's 60 samples give 59 increments (590), b's 30 give
    # 29 (145): 735.
    assert checkout[datetime(2025, 2, 1, 0)] == (735, 735)
    # b restarts at 06:30:43 (code="200" reads 5, code="500" drops 3 -> 0): the increment over the
    # restart is the 5 counted since, so the hour is a full one.
    assert checkout[datetime(2025, 2, 20, 6)] == (750, 750)
    assert checkout[datetime(2025, 2, 20, 7)] == (750, 750)
    # The gap: 09:00 is complete, 10-12 have no sample (no rows), 13:00 starts without a sample in
    # 12:00, so like the first hour: 590 + 145 = 735 (the growth across the gap is not counted).
    assert checkout[datetime(2025, 2, 24, 9)] == (750, 750)
    assert not {datetime(2025, 2, 24, h) for h in (10, 11, 12)} & set(checkout)
    assert checkout[datetime(2025, 2, 24, 13)] == (735, 735)
    # The errors: +1 between 01:59:17 and 02:00:17 belongs to 02:00; +3 at 03:20:17; +50 at 22:30:17.
    assert checkout[datetime(2025, 2, 27, 2)] == (750, 751)
    assert checkout[datetime(2025, 2, 27, 3)] == (750, 753)
    assert checkout[datetime(2025, 2, 28, 22)] == (750, 800)
    assert checkout[datetime(2025, 2, 28, 23)] == (750, 750)
    # Every other hour is 750/750: 669 - 2 (the 735s) - 3 (the error hours) = 664.
    assert sum(1 for v in checkout.values() if v == (750, 750)) == 664
    # good: 669 x 750 - 2 x 15 = 501,720; total: good + 1 + 3 + 50 = 501,774
    assert sum(g for g, _ in checkout.values()) == 501_720
    assert sum(t for _, t in checkout.values()) == 501_774

    batch = hours(db_path, "batch-jobs")
    # One sample exactly on each hour, ok +100 and failed +1 an hour: every one of the 93 x 24 =
    # 2,232 hours read is 100/101 (a sample at 01:00:00 closes the 00:00 hour).
    assert len(batch) == 2232 and set(batch.values()) == {(100, 101)}

    r = report.slos["checkout-availability"]
    assert r.start == datetime(2024, 11, 28) and r.end == datetime(2025, 3, 1)
    assert r.gaps == [(datetime(2024, 11, 28), datetime(2025, 2, 1)),
                      (datetime(2025, 2, 24, 10), datetime(2025, 2, 24, 13))]
    assert r.series == {"good": 2, "total": 4}          # several series per selector, summed
    assert report.rows == {"sli_hours": 669 + 2232} and report.failed == {}
    assert any("3 h" in line and "2025-02-24T10:00Z" in line for line in report.summary())
    assert state(db_path, "checkout-availability") == ("2025-03-01T00:00:00Z", None)


def test_incremental_sync_rereads_a_few_hours_and_ends_where_one_sync_ends(prometheus, db_path, tmp_path):
    config = make_config(prometheus.url, CHECKOUT)
    first = prom.sync(db_path, config, client_for(prometheus), now=datetime(2025, 2, 27, 2, 40))
    assert first.slos["checkout-availability"].end == datetime(2025, 2, 27, 2)
    assert datetime(2025, 2, 27, 2) not in hours(db_path, "checkout-availability")   # not complete then

    second = prom.sync(db_path, config, client_for(prometheus), now=NOW)
    r = second.slos["checkout-availability"]
    # From the cursor (02:00) minus 3 re-read hours: 2025-02-26 23:00 .. 2025-03-01 00:00 = 49 hours.
    assert r.start == datetime(2025, 2, 26, 23) and r.hours_written == 49

    once = tmp_path / "once.duckdb"
    prom.sync(once, config, client_for(prometheus), now=NOW)
    assert hours(db_path, "checkout-availability") == hours(once, "checkout-availability")

    again = prom.sync(db_path, config, client_for(prometheus), now=NOW)     # nothing new: 3 re-read
    assert again.slos["checkout-availability"].hours_written == 3
    assert hours(db_path, "checkout-availability") == hours(once, "checkout-availability")


def test_a_range_beyond_the_points_limit_is_split(prometheus, db_path):
    client = client_for(prometheus)
    start = datetime(2023, 10, 1)
    with pytest.raises(PrometheusQueryError, match="11,000 points"):   # the real server's limit
        client.query_range(BATCH_TOTAL, start, start + timedelta(hours=11_001), 3600, "one query")
    assert len(list(iter_chunks(start, datetime(2025, 3, 1)))) == 2

    report = prom.sync(db_path, make_config(prometheus.url, BATCH), client, now=NOW, since=date(2023, 10, 1))
    batch = hours(db_path, "batch-jobs")
    # 2023-10-01 .. 2025-03-01 is 517 days = 12,408 hours (> 11,000): every one 100/101.
    assert len(batch) == 12_408 and report.rows["sli_hours"] == 12_408
    assert sum(g for g, _ in batch.values()) == 1_240_800
    assert sum(t for _, t in batch.values()) == 1_253_208


# -- bad input ---------------------------------------------------------------------------------------

def test_a_selector_matching_nothing_fails_that_slo_only(prometheus, db_path):
    typo = {**CHECKOUT, "name": "typo", "good": 'http_request_total{service="checkout"}'}
    report = prom.sync(db_path, make_config(prometheus.url, typo, CHECKOUT), client_for(prometheus), now=NOW)
    message = report.failed["slo:typo"]
    assert 'the good selector http_request_total{service="checkout"} matches no series' in message
    assert "Nothing was written" in message
    assert hours(db_path, "typo") == {}
    assert state(db_path, "typo") == (None, message)
    assert len(hours(db_path, "checkout-availability")) == 669      # the other SLO is unaffected


def test_an_expression_instead_of_a_selector_is_refused_with_prometheus_words(prometheus, db_path):
    bad = {**CHECKOUT, "name": "expr", "total": f"sum({CHECKOUT_TOTAL})"}
    report = prom.sync(db_path, make_config(prometheus.url, bad), client_for(prometheus), now=NOW)
    assert "Prometheus refused" in report.failed["slo:expr"]
    assert "ranges only allowed for vector selectors" in report.failed["slo:expr"]


def test_prometheus_down_leaves_the_cursor_and_records_the_error(prometheus, db_path):
    config = make_config(prometheus.url, CHECKOUT)
    prom.sync(db_path, config, client_for(prometheus), now=datetime(2025, 2, 20))
    before = hours(db_path, "checkout-availability")
    import socket
    with socket.socket() as s:      # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    down = PrometheusClient(dead, username=USERNAME, password=PASSWORD, retries=1, backoff_factor=0)
    with pytest.raises(PrometheusUnreachable, match="did not answer") as info:
        prom.sync(db_path, make_config(dead, CHECKOUT), down, now=NOW)
    assert "cursor is unchanged" in str(info.value)
    cursor, error = state(db_path, "checkout-availability")
    assert cursor == "2025-02-20T00:00:00Z" and "did not answer" in error
    assert hours(db_path, "checkout-availability") == before


def test_missing_or_wrong_credentials_say_which_variables(prometheus, db_path):
    config = make_config(prometheus.url, CHECKOUT)
    with pytest.raises(SourceAuthError, match="PROMETHEUS_USERNAME and PROMETHEUS_PASSWORD"):
        prom.sync(db_path, config, PrometheusClient(prometheus.url), now=NOW)
    wrong = PrometheusClient(prometheus.url, username=USERNAME, password="not-the-password-123")
    with pytest.raises(SourceAuthError, match="HTTP 401") as info:
        prom.sync(db_path, config, wrong, now=NOW)
    assert "not-the-password-123" not in str(info.value)
    assert state(db_path, "checkout-availability")[0] is None


# -- the command ---------------------------------------------------------------------------------

def test_cli_sync_with_pinned_clock_and_env_credentials(creds, db_path, tmp_path, capsys, monkeypatch):
    cfg = tmp_path / "cadence.toml"
    cfg.write_text(f'[sources.prometheus]\nbase_url = "{creds.url}"\n\n'
                   f"[[slos]]\nname = \"checkout-availability\"\nservice = \"checkout\"\nobjective = 99.9\n"
                   f"window_days = 28\ngood = '{CHECKOUT_GOOD}'\ntotal = '{CHECKOUT_TOTAL}'\n\n"
                   f'[[slos]]\nname = "from-datadog"\nservice = "search"\nobjective = 99.5\nwindow_days = 7\n',
                   encoding="utf-8")
    monkeypatch.setenv("CADENCE_NOW", "2025-03-01T01:20:00+01:00")     # = 00:20 UTC
    assert main(["--db", str(db_path), "--config", str(cfg), "sync", "prometheus"]) == 0
    err = capsys.readouterr().err
    assert "checkout-availability: 669 hours written" in err and "cursor 2025-03-01T00:00Z" in err
    assert "from-datadog: skipped" in err
    assert PASSWORD not in err

    cfg.write_text(cfg.read_text(encoding="utf-8").replace("http_requests_total{service", "nope_total{service", 1),
                   encoding="utf-8")
    assert main(["--db", str(db_path), "--config", str(cfg), "sync", "prometheus"]) == 1
    err = capsys.readouterr().err
    assert "Error: 1 SLO(s) failed" in err and "matches no series" in err


def test_cli_prometheus_down_is_one_clear_line(db_path, tmp_path, capsys):
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    cfg = tmp_path / "cadence.toml"
    cfg.write_text(f'[sources.prometheus]\nbase_url = "{dead}"\n[[slos]]\nname = "a"\nservice = "a"\n'
                   f"objective = 99\nwindow_days = 7\ngood = 'x_total'\ntotal = 'y_total'\n", encoding="utf-8")
    assert main(["--db", str(db_path), "--config", str(cfg), "sync", "prometheus"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(f"Error: Prometheus at {dead} did not answer")


# -- client behaviour against a scripted server ------------------------------------------------------

@contextmanager
def scripted(responses):
    """A local HTTP server answering from ``responses`` (status, headers, body) in turn, recording
    each request's path and headers."""
    seen = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            seen.append({"path": self.path, "headers": dict(self.headers), "body": body})
            status, headers, payload = responses.pop(0) if len(responses) > 1 else responses[0]
            data = json.dumps(payload).encode()
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _answer

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


OK = (200, {}, {"status": "success", "data": {"version": "9.9.9"}})


def test_bearer_token_is_sent_and_scrubbed_from_errors():
    token = "secret-bearer-token-123"
    echo = (400, {}, {"status": "error", "errorType": "bad_data", "error": f"bad header Bearer {token}"})
    with scripted([OK, echo]) as (url, seen):
        client = PrometheusClient(url, token=token)
        assert client.check() == "9.9.9"
        with pytest.raises(PrometheusQueryError) as info:
            client.query_range("x_total", datetime(2025, 1, 1), datetime(2025, 1, 2), 3600, "a query")
    assert seen[0]["headers"]["Authorization"] == f"Bearer {token}"
    assert token not in str(info.value) and "***" in str(info.value)
    assert "query=x_total" in seen[1]["body"] and "step=3600" in seen[1]["body"]


def test_5xx_is_retried_and_a_long_retry_after_stops_at_once():
    with scripted([(503, {}, {"status": "error", "error": "busy"}), OK]) as (url, seen):
        assert PrometheusClient(url, backoff_factor=0).check() == "9.9.9"
        assert len(seen) == 2
    with scripted([(429, {"Retry-After": "3600"}, {"status": "error", "error": "slow down"})]) as (url, seen):
        with pytest.raises(SourceRateLimitError, match="wait 3600 s"):
            PrometheusClient(url).check()
        assert len(seen) == 1


def test_credentials_come_from_the_environment_only(monkeypatch):
    from collectors.prometheus.client import credentials_from_env

    assert credentials_from_env({}) == {}
    assert credentials_from_env({"PROMETHEUS_TOKEN": " t "}) == {"token": "t"}
    assert credentials_from_env({"PROMETHEUS_USERNAME": "u", "PROMETHEUS_PASSWORD": "p"}) == {
        "username": "u", "password": "p"}
    with pytest.raises(SourceAuthError, match="PROMETHEUS_PASSWORD is not set"):
        credentials_from_env({"PROMETHEUS_USERNAME": "u"})
    with pytest.raises(SourceAuthError, match="both"):
        credentials_from_env({"PROMETHEUS_TOKEN": "t", "PROMETHEUS_USERNAME": "u", "PROMETHEUS_PASSWORD": "p"})


@pytest.mark.parametrize(("raw", "problem"), [
    ({}, "sources.prometheus.base_url: not set"),
    ({"base_url": "prometheus:9090"}, "must be an http(s) URL"),
    ({"base_url": "http://u:p@prometheus:9090"}, "must not carry credentials"),
    ({"base_url": "http://p:9090", "timeout_seconds": 0}, "timeout_seconds: must be a number of seconds"),
    ({"base_url": "http://p:9090", "step": "1h"}, "sources.prometheus.step: unknown key"),
])
def test_settings_errors_name_the_key(raw, problem):
    with pytest.raises(ConfigError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        parse_settings(raw)


def test_a_secret_in_the_source_section_is_refused():
    with pytest.raises(ConfigError, match="sources.prometheus.password: secrets do not belong"):
        parse_config({"sources": {"prometheus": {"base_url": "http://p:9090", "password": "x"}}})


# -- the increment rule on its own ---------------------------------------------------------------------

def test_counter_increase_counts_a_drop_as_a_restart():
    # 10 -> 15 (+5) -> 2 (restart: +2) -> 9 (+7) = 14
    assert counter_increase([10, 15, 2, 9]) == 14
    assert counter_increase([4]) == 0 and counter_increase([]) == 0


def test_increment_from_samples_takes_the_previous_hours_last_sample():
    hour = datetime(2025, 1, 1, 10)
    base = 1735725600   # 2025-01-01T10:00:00Z
    samples = [(base - 7200, 1.0),      # two hours before: ignored
               (base - 60, 100.0),      # the previous hour's last sample
               (base - 30, 104.0),
               (base + 30, 110.0),      # 104 -> 110: +6
               (base + 1800, 3.0),      # restart: +3
               (base + 3600, 8.0),      # hh+1:00:00 belongs to this hour: +5
               (base + 3601, 50.0)]     # the next hour: ignored
    # 100 -> 104 is in the previous hour (its later sample is there): 6 + 3 + 5 = 14
    assert increment_from_samples(samples, hour) == 14
