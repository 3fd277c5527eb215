"""metrics.export.export_changes_table on the demo warehouse: each row's details (number, title,
author, labels, merged_at, url) and deployed_at are those of its change and deployment in the
warehouse, looked up here independently of the join the function uses; an empty range gives the
same columns and types with no rows."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from cadence.core.config import Config
from metrics import drilldown
from metrics import export as ex
from tests.support.demo import DEFAULT_END as END, DEFAULT_START as START   # the default 12 weeks
from warehouse import read_connection


@pytest.fixture(scope="module")
def tables(demo_warehouse):
    """The changes table of the 12 weeks, an empty range's, and the warehouse's changes and
    deployments read whole."""
    with read_connection(demo_warehouse) as con:
        full = ex.export_changes_table(con, Config(), START, END, by="repo")
        empty = ex.export_changes_table(con, Config(), date(2019, 1, 7), date(2019, 1, 13), by="repo")
        rows = drilldown(con, Config(), "changes", START, END, by="repo")
        changes = con.execute("SELECT id, number, title, author, labels, merged_at, url FROM changes").df()
        deployments = con.execute("SELECT id, finished_at FROM deployments").df()
    return full, empty, rows, changes, deployments


def test_every_row_carries_its_change_and_deployment(tables):
    full, _, rows, changes, deployments = tables
    assert len(full) == len(rows) > 100          # one row per drill-down row, none lost or doubled
    assert full["deployment_id"].notna().any() and full["deployment_id"].isna().any()
    by_id = changes.set_index("id")
    for col in ("number", "title", "author", "merged_at", "url"):
        expect = full["change_id"].map(by_id[col])
        got = full[col].astype(object).where(full[col].notna(), None)
        assert list(got) == list(expect.astype(object).where(expect.notna(), None)), col
    assert [list(x) for x in full["labels"]] == [list(by_id.at[c, "labels"]) for c in full["change_id"]]
    finished = full["deployment_id"].map(deployments.set_index("id")["finished_at"])
    pd.testing.assert_series_equal(full["deployed_at"], finished, check_names=False)


def test_an_empty_range_keeps_columns_and_types(tables):
    full, empty, *_ = tables
    assert len(empty) == 0
    assert list(empty.columns) == ex.CHANGE_NAMES
    assert ex.to_csv_bytes(empty).decode().splitlines() == [",".join(ex.CHANGE_NAMES)]
    # the join's results keep the types of the warehouse's columns whether or not any id matched
    for col in ("number", "merged_at", "deployed_at"):
        assert empty[col].dtype == full[col].dtype, col
