"""Data health: coverage figures counted from the same facts as the metrics."""

from __future__ import annotations

import math
from datetime import date

from metrics.health import HEALTH_COLUMNS, data_health
from tests.support.metrics_rows import chg, dep, inc, load

JAN = (date(2024, 1, 1), date(2024, 1, 31))


def test_empty_warehouse_has_every_check_with_no_share(con, config):
    df = data_health(con, config, *JAN)
    assert list(df.columns) == list(HEALTH_COLUMNS) and len(df) == 19
    assert (df.value == 0).all() and df.share.isna().all() and df.what_to_do.notna().all()


def test_coverage_figures(con, config):
    load(con,
         deployments=[dep("d1", "2024-01-03T12:00", started="2024-01-03T11:00", sha="s1"),
                      dep("d2", "2024-01-05T12:00", started="2024-01-05T11:00"),          # no sha
                      dep("d3", "2024-01-06T12:00", started="2024-01-06T11:00", repo="shop/other"),
                      dep("d4", None, started="2024-01-07T11:00")],                     # unfinished
         changes=[chg("c1", "2024-01-03T10:00", sha="s1"),                              # sha
                  chg("c2", "2024-01-03T10:30", first_commit="2024-01-04T00:00",
                      opened="2024-01-03T08:00"),                                       # inferred; coding < 0
                  chg("c3", "2024-01-04T10:00"),                                        # explicit to d2
                  chg("c4", "2024-01-20T10:00")],                                       # never deployed
         links=[("d2", "c3")],
         incidents=[inc("i1", "2024-01-03T13:00", resolved="2024-01-03T12:00"),          # by service; negative
                    inc("i2", "2024-01-20T13:00", caused_by="d1", resolved="2024-01-20T14:00"),
                    inc("i3", "2024-01-25T13:00", service="zzz", repo="shop/zzz")])      # none, no team
    df = data_health(con, config, *JAN).set_index("check")
    got = {k: (int(v), int(t)) for k, v, t in zip(df.index, df.value, df.total)}
    assert got["merged changes with no deployment"] == (1, 4)                  # c4 of c1..c4
    assert got["deployed changes linked explicitly"] == (1, 3)                 # c3
    assert got["deployed changes linked by merge sha"] == (1, 3)               # c1
    assert got["deployed changes linked by inference (first deployment after merge)"] == (1, 3)  # c2
    assert got["deployments with no changes"] == (1, 3)                        # d3
    assert got["deployed changes with unknown coding time (negative)"] == (1, 3)   # c2: 08:00 - 00:00 next day
    # c2 ships in d1 (first start at/after 10:30 is 11:00): 01-03 12:00 - 01-04 00:00 = -12 h
    assert got["deployed changes with unknown lead time (negative)"] == (1, 3)
    assert got["incidents attributed explicitly"] == (1, 3)                    # i2
    assert got["incidents attributed by inference (service or repo)"] == (1, 3)    # i1 -> d1
    assert got["incidents attributed to no deployment"] == (1, 3)              # i3
    assert got["incidents resolved before they were created"] == (1, 3)       # i1
    assert got["successful production deployments with no finished_at"] == (1, 4)   # d4 of d1..d4
    assert got["deployments with no sha"] == (2, 3)                            # d2, d3
    assert got["deployments no team owns"] == (1, 3)                           # d3 (shop/other, other)
    assert got["incidents no team owns"] == (1, 3)                             # i3
    assert math.isclose(df.share["deployments with no sha"], 2 / 3)
