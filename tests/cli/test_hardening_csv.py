"""Formula injection in every CSV Cadence writes (issue 13, item 4): `cadence metrics --format csv`,
`cadence drilldown ... --format csv` and the dashboard go through the export's one writer
(``metrics.export.to_csv_bytes``), which neutralises text cells starting with = + - @ tab or CR and
leaves numeric cells as numbers. The dashboard's grids offer no built-in CSV download (it cannot be
neutralised); their own "Download CSV" button uses the same writer."""

from __future__ import annotations

import csv
import io
import tomllib
from datetime import date

import pandas as pd
import pytest

from cadence.cli import main
from cadence.commands.metrics import render
from metrics import dora_metrics, drilldown
from metrics.export import FORMULA_TRIGGERS, to_csv_bytes
from tests.support.apptest_support import REPO_ROOT
from tests.support.metrics_rows import chg, dep, inc, load

EVIL_REPO = "=cmd|' /C calc'!A0"
START, END = "2024-01-01", "2024-01-07"


@pytest.fixture
def hostile(db_path, tmp_path):
    """A week whose names all look like formulas: repo, service, ids, a team, a title."""
    from warehouse import connect

    con = connect(db_path)
    load(con, deployments=[dep("=1+2", "2024-01-03T12:00", started="2024-01-03T11:00", repo=EVIL_REPO,
                               service="@svc"),
                           dep("d2", "2024-01-04T12:00", started="2024-01-04T11:00", repo="shop/web")],
         changes=[chg("-2+3", "2024-01-03T10:00", repo=EVIL_REPO, first_commit="2024-01-02T10:00",
                      title='=HYPERLINK("http://x","y")')],
         links=[("=1+2", "-2+3")],
         incidents=[inc("+i1", "2024-01-03T13:00", service="@svc", repo=EVIL_REPO)])
    con.close()
    cfg = tmp_path / "cadence.toml"
    cfg.write_text(f'[teams."@evil"]\nrepos = ["shop/web"]\n[teams."-team"]\nrepos = ["{EVIL_REPO}"]\n',
                   encoding="utf-8")
    return db_path, cfg


def _cli_csv(capsys, hostile, *args) -> str:
    db_path, cfg = hostile
    assert main(["--db", str(db_path), "--config", str(cfg), *args, "--start", START, "--end", END,
                 "--format", "csv"]) == 0
    return capsys.readouterr().out


def _cells(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def _no_formula_cell(rows: list[list[str]]) -> None:
    for row in rows:
        for cell in row:
            assert not cell.startswith(FORMULA_TRIGGERS) or _is_number(cell), f"formula cell {cell!r}"


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("by", ["repo", "team", "service"])
def test_metrics_csv_neutralises_formula_cells(capsys, hostile, by):
    out = _cli_csv(capsys, hostile, "metrics", "--by", by)
    rows = _cells(out)
    _no_formula_cell(rows)
    scopes = {row[0] for row in rows[1:]}
    expected = {"repo": {"'" + EVIL_REPO, "shop/web"}, "team": {"'-team", "'@evil"},
                "service": {"'@svc", "web"}}[by]
    assert scopes == expected


def test_metrics_csv_is_the_export_writer(capsys, hostile):
    """One writer: the command's bytes are to_csv_bytes of the same frame."""
    from cadence.core.config import load_config
    from warehouse import read_connection

    db_path, cfg = hostile
    out = _cli_csv(capsys, hostile, "metrics", "--by", "repo")
    with read_connection(db_path) as con:
        frame = dora_metrics(con, load_config(cfg), date(2024, 1, 1), date(2024, 1, 7), by="repo")
    assert out.encode("utf-8") == to_csv_bytes(frame)


@pytest.mark.parametrize("kind, column, neutralised", [
    ("changes", "change_id", "'-2+3"),
    ("deployments", "deployment_id", "'=1+2"),
    ("incidents", "incident_id", "'+i1"),
])
def test_drilldown_csv_neutralises_formula_cells(capsys, hostile, kind, column, neutralised):
    from cadence.core.config import load_config
    from warehouse import read_connection

    db_path, cfg = hostile
    out = _cli_csv(capsys, hostile, "drilldown", kind)
    rows = _cells(out)
    _no_formula_cell(rows)
    header = rows[0]
    assert neutralised in [row[header.index(column)] for row in rows[1:]]
    with read_connection(db_path) as con:
        frame = drilldown(con, load_config(cfg), kind, date(2024, 1, 1), date(2024, 1, 7))
    assert out.encode("utf-8") == to_csv_bytes(frame)


def test_negative_numbers_stay_numbers_and_text_that_looks_like_one_does_not():
    """As the export: a numeric column's -3.5 is a number; the same characters in a text column are
    text a spreadsheet could evaluate (-3.5 is harmless, but -3+cmd is not), so they get the quote."""
    frame = pd.DataFrame({"scope": ["-3.5", "@x", "\tcmd", "\rcmd", "ok"],
                          "delta_hours": [-3.5, -0.004, 2.0, None, -12.345],
                          "count": pd.array([-2, 0, 3, None, 1], dtype="Int64")})
    rows = _cells(render(frame, "csv"))
    assert rows[0] == ["scope", "delta_hours", "count"]
    assert [r[0] for r in rows[1:]] == ["'-3.5", "'@x", "'\tcmd", "'\rcmd", "ok"]
    # hours: 2 decimals, never "-0.00"; integers as they are
    assert [r[1] for r in rows[1:]] == ["-3.50", "0.00", "2.00", "", "-12.35"]
    assert [r[2] for r in rows[1:]] == ["-2", "0", "3", "", "1"]


def test_dashboard_download_button_uses_the_writer(hostile):
    """The "Download CSV" under every dashboard table: the same bytes as the export writer."""
    from cadence.dashboard import ui

    frame = pd.DataFrame({"scope": [EVIL_REPO, "@svc"], "deployments": [1, -1]})
    data = ui.csv_bytes(frame)
    assert data == to_csv_bytes(frame)
    assert _cells(data.decode()) == [["scope", "deployments"], ["'" + EVIL_REPO, "1"], ["'@svc", "-1"]]


def test_the_dashboard_grid_offers_no_builtin_download(db_path):
    """st.dataframe's toolbar download writes cells raw; Streamlit 1.67 hides it (and the grid's
    clipboard copy) with client.disableDataExport. It is set where every way of starting the app
    reads it: the project's .streamlit/config.toml, `cadence dashboard`'s arguments, and app.py
    itself (for `streamlit run` from another directory). tests/dashboard/test_browser.py checks the toolbar
    in a real browser."""
    from streamlit import config as st_config

    from tests.support.apptest_support import dashboard_env, open_app

    settings = tomllib.loads((REPO_ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert settings["client"]["disableDataExport"] is True
    from cadence.commands import dashboard

    args = dashboard.streamlit_args(8501, "127.0.0.1")
    assert args[args.index("--client.disableDataExport") + 1] == "true"
    st_config.set_option("client.disableDataExport", False)
    try:
        with dashboard_env(db_path):
            open_app()
        assert st_config.get_option("client.disableDataExport") is True
    finally:
        st_config.set_option("client.disableDataExport", False)
