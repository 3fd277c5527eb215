"""The quarterly capacity review (issue 21): investment rules, bots left out everywhere they count,
active contributors, the scenario forecast and right-sizing, each on hand-written rows with the
arithmetic beside the assertion."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pandas as pd
import pytest

from cadence.core.settings.capacity import (DEFAULT_EXCLUDE_AUTHORS, InvestmentSettings, author_pattern, is_bot,
                                       parse_review)
from cadence.core.config import parse_config
from cadence.core.errors import ConfigError
from metrics import dora_metrics
from metrics.capacity_review import (ReviewError, bot_changes, capacity_with_scenario, classify, contributors,
                                     investment_balance, next_quarter_forecast, parse_quarter, review_changes,
                                     right_sizing, right_sizing_arithmetic, scenario_arithmetic)
from tests.support.metrics_rows import chg, dep, inc, load
from warehouse import read_connection, upsert_rows, write_connection

RULES = parse_review({"investment": {"rules": [
    {"category": "unplanned", "labels": ["bug"], "title_prefixes": ["fix:"]},
    {"category": "maintenance", "labels": ["chore"], "title_prefixes": ["chore:"]},
    {"category": "feature", "labels": ["feature"], "title_prefixes": ["feat:"]},
], "default": "other"}}).investment


# -- classification ---------------------------------------------------------------------------------

def test_the_first_matching_rule_wins_and_says_why():
    # "bug" label (rule 1) beats the "feat:" prefix (rule 3): rules are ordered.
    assert classify(["Bug"], "feat: add x", rework=False, incident=False, settings=RULES) == (
        "unplanned", "rule 1", 'label "bug"')
    # No label of any rule: rule 2's title prefix, compared without case.
    assert classify([], "CHORE: bump ci image", rework=False, incident=False, settings=RULES) == (
        "maintenance", "rule 2", 'title starts with "chore:"')
    assert classify(["feature"], "Add wishlist", rework=False, incident=False, settings=RULES) == (
        "feature", "rule 3", 'label "feature"')


def test_a_change_no_rule_matches_takes_the_default():
    assert classify(["docs"], "Update README", rework=False, incident=False, settings=RULES) == (
        "other", "default", "no rule matched")
    custom = InvestmentSettings(RULES.rules, default="feature", configured=True)
    assert classify(None, None, rework=False, incident=False, settings=custom)[0] == "feature"


def test_rework_and_incident_follow_ups_are_unplanned_whatever_their_label():
    assert classify(["feature"], "feat: new checkout", rework=True, incident=False, settings=RULES,
                    rework_labels=("hotfix", "revert")) == ("unplanned", "rework", 'title starts with "revert"')
    assert classify(["feature", "hotfix"], "feat: x", rework=True, incident=False, settings=RULES,
                    rework_labels=("hotfix",)) == ("unplanned", "rework", 'rework label "hotfix"')
    assert classify(["feature"], "feat: x", rework=False, incident=True, settings=RULES)[:2] == (
        "unplanned", "incident")


def test_defaults_apply_without_the_section_and_bad_rules_are_refused():
    review = parse_config({}).review
    assert not review.investment.configured and review.exclude_authors == DEFAULT_EXCLUDE_AUTHORS
    assert classify([], "feat(api): add refunds", rework=False, incident=False,
                    settings=review.investment)[0] == "feature"
    assert classify([], "fix: null total", rework=False, incident=False, settings=review.investment)[0] == "unplanned"
    assert classify(["dependencies"], "Bump x", rework=False, incident=False,
                    settings=review.investment)[0] == "maintenance"
    assert review.capacity.target_utilization == 0.6
    with pytest.raises(ConfigError, match=r"investment.rules\[1\].category: must be one of feature, maintenance"):
        parse_config({"investment": {"rules": [{"category": "features", "labels": ["x"]}]}})
    with pytest.raises(ConfigError, match=r"investment.rules\[1\]: matches nothing"):
        parse_config({"investment": {"rules": [{"category": "feature"}]}})
    with pytest.raises(ConfigError, match="exclude_authors: must be a list"):
        parse_config({"exclude_authors": "dependabot"})
    with pytest.raises(ConfigError, match="capacity.target_utilization"):
        parse_config({"capacity": {"target_utilization": 150}})
    assert parse_config({"capacity": {"target_utilization": 75}}).review.capacity.target_utilization == 0.75


def test_author_globs():
    patterns = DEFAULT_EXCLUDE_AUTHORS
    assert is_bot("dependabot[bot]", patterns) and is_bot("Renovate-Bot", patterns)
    assert is_bot("github-actions[bot]", patterns) and is_bot("my-ci[BOT]", patterns)
    assert not is_bot("alice", patterns) and not is_bot("bot-lover", patterns) and not is_bot(None, patterns)
    # "[" and "]" are literal, not a character class: "*[bot]" does not match "xb".
    assert not is_bot("xb", patterns)
    assert author_pattern(()) is None and not is_bot("dependabot[bot]", ())


def test_quarters_parse():
    assert parse_quarter("2026-Q4") == date(2026, 10, 1) and parse_quarter("2025-q1") == date(2025, 1, 1)
    for bad in ("2026-Q5", "2026Q4", "Q4-2026"):
        with pytest.raises(ReviewError, match="YYYY-Qn"):
            parse_quarter(bad)


# -- bots in lead time, investment balance and contributors ------------------------------------------

def _with_a_bot(con):
    """shop/api (payments) in January 2024: three human changes with lead times 2, 4 and 6 h and
    one bot change with 0.5 h, each shipped by its own deployment."""
    deps, changes = [], []
    for i, (author, hours) in enumerate((("ana", 2), ("ben", 4), ("ana", 6), ("dependabot[bot]", 0.5)), start=1):
        finished = datetime(2024, 1, 10 + i, 12)
        deps.append(dep(f"d{i}", finished.isoformat(), sha=f"s{i}"))
        c = chg(f"c{i}", (finished - timedelta(minutes=10)).isoformat(), sha=f"s{i}",
                first_commit=(finished - timedelta(hours=hours)).isoformat(),
                opened=(finished - timedelta(minutes=20)).isoformat(),
                labels=["dependencies"] if author.endswith("[bot]") else ["feature"])
        c["author"] = author
        changes.append(c)
    load(con, deployments=deps, changes=changes)


def test_bots_are_left_out_of_lead_time_but_counted_as_changes(con, config):
    _with_a_bot(con)
    row = dora_metrics(con, config, date(2024, 1, 1), date(2024, 1, 31), period="total").iloc[0]
    # Humans: median of 2, 4, 6 h = 4 h. With the bot, the median of 0.5, 2, 4, 6 would be 3 h.
    assert row["lead_time_p50_hours"] == pytest.approx(4.0)
    assert row["changes_deployed"] == 4   # the bot's change still shipped
    # Coding (first commit -> opened, 20 min before deploy): humans 2 - 1/3, 4 - 1/3, 6 - 1/3 h ->
    # median 4 - 1/3 = 3.667 h.
    assert row["coding_p50_hours"] == pytest.approx(4 - 1 / 3)
    nobody = parse_config({"teams": {"payments": {"repos": ["shop/api"]}}, "exclude_authors": []})
    everyone = dora_metrics(con, nobody, date(2024, 1, 1), date(2024, 1, 31), period="total").iloc[0]
    assert everyone["lead_time_p50_hours"] == pytest.approx(3.0)   # (2 + 4) / 2 with the bot's 0.5 h
    assert bot_changes(con, config, date(2024, 1, 1), date(2024, 1, 31)) == 1
    assert bot_changes(con, nobody, date(2024, 1, 1), date(2024, 1, 31)) == 0


def test_bots_are_left_out_of_the_balance_and_the_contributor_count(con, config):
    _with_a_bot(con)
    rows = review_changes(con, config, date(2024, 1, 1), date(2024, 1, 31))
    assert list(rows["category"]) == ["feature", "feature", "feature", "bot"]
    balance = investment_balance(con, config, date(2024, 1, 1), date(2024, 1, 31))
    feature = balance[balance["category"] == "feature"].iloc[0]
    # 3 human changes, all features: share 3 / 3; the bot's "dependencies" change counts nowhere.
    assert (feature["team"], feature["quarter"], feature["changes"], feature["share_by_count"]) == (
        "payments", "2024-Q1", 3, 1.0)
    assert balance[balance["category"] == "maintenance"]["changes"].sum() == 0
    people = contributors(con, config, date(2024, 1, 1), date(2024, 1, 31)).iloc[0]
    # ana and ben (the bot is no contributor); 3 human changes over 2 people x 31/7 weeks = 0.339.
    assert (people["active_contributors"], people["changes_shipped"], people["bot_changes"]) == (2, 3, 1)
    assert people["changes_per_contributor_week"] == pytest.approx(3 / (2 * 31 / 7))


def test_rework_and_changes_shipped_during_an_incident_count_as_unplanned(con, config):
    changes = [chg("c1", "2024-01-10T09:00", sha="s1", labels=["feature"], title="feat: refunds"),
               chg("c2", "2024-01-11T09:00", sha="s2", labels=["feature"], title='Revert "feat: refunds"'),
               chg("c3", "2024-01-12T09:00", sha="s3", labels=["feature"], title="feat: gift cards"),
               chg("c4", "2024-01-13T09:00", sha="s4", labels=["bug"], title="Fix rounding")]
    for c, who in zip(changes, ("ana", "ana", "ben", "ben"), strict=True):
        c["author"] = who
    deps = [dep(f"d{i}", f"2024-01-{9 + i}T10:00", sha=f"s{i}") for i in range(1, 5)]
    # An incident of "api" open from 11:00 on the 11th to the 13th: d3 (12th, 10:00) ships inside it.
    load(con, deployments=deps, changes=changes,
         incidents=[inc("i1", "2024-01-11T11:00", resolved="2024-01-13T00:00")])
    rows = review_changes(con, config, date(2024, 1, 1), date(2024, 1, 31)).set_index("change_id")
    assert rows.loc["c1", "category"] == "feature"
    assert (rows.loc["c2", "category"], rows.loc["c2", "rule"]) == ("unplanned", "rework")
    assert (rows.loc["c3", "category"], rows.loc["c3", "rule"]) == ("unplanned", "incident")
    assert (rows.loc["c4", "category"], rows.loc["c4", "rule"]) == ("unplanned", "rule 1")
    balance = investment_balance(con, config, date(2024, 1, 1), date(2024, 1, 31)).set_index("category")
    # 3 of 4 unplanned: 75 %.
    assert balance.loc["unplanned", "share_by_count"] == pytest.approx(0.75)


def test_effort_weights_by_the_coding_span(con, config):
    # Feature: coding 6 h; unplanned: coding 2 h -> by count 50/50, by effort 6/8 and 2/8.
    changes = [chg("c1", "2024-01-10T09:00", sha="s1", labels=["feature"], first_commit="2024-01-09T00:00",
                   opened="2024-01-09T06:00"),
               chg("c2", "2024-01-11T09:00", sha="s2", labels=["bug"], first_commit="2024-01-10T00:00",
                   opened="2024-01-10T02:00")]
    load(con, deployments=[dep("d1", "2024-01-10T10:00", sha="s1"), dep("d2", "2024-01-11T10:00", sha="s2")],
         changes=changes)
    b = investment_balance(con, config, date(2024, 1, 1), date(2024, 1, 31)).set_index("category")
    assert b.loc["feature", "share_by_count"] == b.loc["unplanned", "share_by_count"] == pytest.approx(0.5)
    assert b.loc["feature", "share_by_effort"] == pytest.approx(0.75)
    assert b.loc["unplanned", "share_by_effort"] == pytest.approx(0.25)


# -- scenario and right-sizing arithmetic ------------------------------------------------------------

def test_scenario_arithmetic_by_hand():
    # Trend 100 changes, 20 % by bots, 4 contributors + 2: 100 x (0.8 x 6/4 + 0.2) = 100 x 1.4 = 140.
    # Cost trend 1000, half usage-driven, +10 % traffic: 1000 x (1 + 0.5 x 0.10) = 1050.
    assert scenario_arithmetic(100, 0.2, 4, 2, 1000, 0.5, 10) == (pytest.approx(140), pytest.approx(1050))
    # No change at all: the trend itself.
    assert scenario_arithmetic(100, 0.2, 4, 0, 1000, 0.5, 0) == (pytest.approx(100), pytest.approx(1000))
    # Losing every contributor leaves the bots' 20 %: 100 x (0.8 x 0/4 + 0.2) = 20.
    assert scenario_arithmetic(100, 0.2, 4, -4, 1000, 0.0, 50)[0] == pytest.approx(20)
    # Nobody there today: a change in people cannot be scaled from.
    assert pd.isna(scenario_arithmetic(100, 0.0, 0, 3, 1000, 0.0, 0)[0])


def test_right_sizing_arithmetic_by_hand():
    # 1000 USD at 30 % utilization, target 60 %: the used 300 needs 1000 x 0.3 / 0.6 = 500 USD of
    # compute; idle there 500 x 0.4 = 200; saving 1000 - 500 = 500.
    assert right_sizing_arithmetic(1000, 0.3, 0.6) == (pytest.approx(500), pytest.approx(200), pytest.approx(500))
    # Already above target: nothing to save; idle stays 1000 x (1 - 0.8) = 200.
    assert right_sizing_arithmetic(1000, 0.8, 0.6) == (pytest.approx(1000), pytest.approx(200), 0)


def _quarter_warehouse(path):
    """payments (shop/api), February to April 2026: 1, 2, 3 changes a day (one deployment each),
    by "ana" and "ben" in turn and every fifth by dependabot; cost per day: 10 USD of Compute and
    10 USD of Storage in February, 20 + 20 in March, 30 + 30 in April; CPU utilization 25 % on one
    instance whose cost is the Compute line; a Savings Plan covering 50 %."""
    deployments, changes, costs, util, commitments = [], [], [], [], []
    day, n = date(2026, 2, 1), 0
    while day <= date(2026, 4, 30):
        for k in range({2: 1, 3: 2, 4: 3}[day.month]):
            n += 1
            finished = datetime(day.year, day.month, day.day, 10 + k)
            deployments.append({"id": f"d{n}", "repo": "shop/api", "service": "api", "environment": "production",
                                "sha": f"s{n}", "status": "success", "started_at": finished - timedelta(minutes=5),
                                "finished_at": finished})
            changes.append({"id": f"c{n}", "repo": "shop/api", "number": n, "title": f"feat: thing {n}",
                            "author": "dependabot[bot]" if n % 5 == 0 else ("ana" if n % 2 else "ben"),
                            "labels": [], "first_commit_at": finished - timedelta(hours=5),
                            "opened_at": finished - timedelta(hours=4), "merged_at": finished - timedelta(hours=1),
                            "merge_sha": f"s{n}"})
        per = 10.0 * (day.month - 1)
        for category, service, resource in (("Compute", "Amazon EC2", "i-1"), ("Storage", "Amazon S3", "")):
            costs.append({"charge_date": day, "source": "test", "provider": "AWS", "billing_account_id": "1",
                          "sub_account_id": "1", "service_name": service, "region": "us-east-1",
                          "resource_id": resource, "allocation_tag": "payments", "team": "payments",
                          "service_category": category, "billed_cost": per, "effective_cost": per})
        util.append({"date": day, "provider": "AWS", "resource": "i-1", "service": "api", "team": "payments",
                     "metric": "cpu", "avg": 0.25, "p95": 0.4, "capacity": 2.0})
        commitments.append({"date": day, "provider": "AWS", "kind": "savings_plan", "utilization": 0.9,
                            "coverage": 0.5})
        day += timedelta(days=1)
    with write_connection(path) as con:
        for table, rows in (("deployments", deployments), ("changes", changes), ("costs", costs),
                            ("utilization", util), ("commitments", commitments)):
            upsert_rows(con, table, rows)


@pytest.fixture
def quarter_db(tmp_path):
    path = tmp_path / "quarters.duckdb"
    _quarter_warehouse(path)
    return path


QCONFIG = parse_config({"teams": {"payments": {"repos": ["shop/api"], "services": ["api"],
                                               "cost_tags": ["payments"]}}})


def test_next_quarter_forecast_scales_the_trend_by_the_scenario(quarter_db):
    with read_connection(quarter_db) as con:
        base = next_quarter_forecast(con, QCONFIG, date(2026, 2, 1), date(2026, 4, 30)).iloc[0]
        fc = next_quarter_forecast(con, QCONFIG, date(2026, 2, 1), date(2026, 4, 30), traffic_growth=20,
                                   contributor_change={"payments": 1}).iloc[0]
        table, panel = capacity_with_scenario(con, QCONFIG, date(2026, 2, 1), date(2026, 4, 30), 20, {"payments": 1})
    # Trend (metrics.capacity, tests/metrics/test_capacity.py): daily rates 1, 2, 3 -> Q3 = 643 changes;
    # total cost per day 20, 40, 60 -> 120, 140, 160 over Jul 31, Aug 31, Sep 30 days = 12860 USD.
    assert base["quarter"] == "2026-Q3"
    assert base["trend_changes"] == pytest.approx(643) and base["changes_forecast"] == pytest.approx(643)
    assert base["trend_cost"] == pytest.approx(12860) and base["cost_forecast"] == pytest.approx(12860)
    # Q2 so far (April): 90 changes, numbers 91..180, of which 18 (every fifth) are the bot's:
    # bot share 18 / 90 = 0.2; contributors ana and ben = 2. Usage-driven: Compute = half the cost.
    assert (fc["contributors"], fc["bot_share"], fc["usage_share"]) == (2, pytest.approx(0.2), pytest.approx(0.5))
    # Changes: 643 x (0.8 x 3/2 + 0.2) = 643 x 1.4 = 900.2. Cost: 12860 x (1 + 0.5 x 0.2) = 14146.
    assert fc["changes_forecast"] == pytest.approx(900.2)
    assert fc["cost_forecast"] == pytest.approx(14146)
    # The quarter table's forecast row carries the very same figures as the panel (one forecast).
    row = table[table["is_forecast"]].iloc[0]
    assert row["changes_deployed"] == pytest.approx(panel.iloc[0]["changes_forecast"]) == pytest.approx(900.2)
    assert row["effective_cost"] == pytest.approx(panel.iloc[0]["cost_forecast"])
    with pytest.raises(ReviewError, match="traffic growth"):
        next_quarter_forecast(None, QCONFIG, date(2026, 2, 1), date(2026, 4, 30), traffic_growth=-150)


def test_right_sizing_per_team_with_commitment_coverage(quarter_db):
    with read_connection(quarter_db) as con:
        rs = right_sizing(con, QCONFIG, date(2026, 4, 1), date(2026, 4, 30)).iloc[0]
    # April compute: 30 days x 30 USD = 900 at 25 % utilization; idle 900 x 0.75 = 675.
    # At 60 %: 900 x 0.25 / 0.6 = 375 USD, idle 375 x 0.4 = 150, saving 900 - 375 = 525.
    assert (rs["team"], rs["compute_cost"], rs["utilization"]) == ("payments", pytest.approx(900), pytest.approx(0.25))
    assert rs["cost_of_idle"] == pytest.approx(675)
    assert (rs["cost_at_target"], rs["idle_at_target"], rs["saving"]) == (
        pytest.approx(375), pytest.approx(150), pytest.approx(525))
    assert (rs["commitment_coverage"], rs["commitment_utilization"]) == (pytest.approx(0.5), pytest.approx(0.9))


def test_contributors_per_quarter(quarter_db):
    with read_connection(quarter_db) as con:
        people = contributors(con, QCONFIG, date(2026, 2, 1), date(2026, 4, 30)).set_index("quarter")
    q1, q2 = people.loc["2026-Q1"], people.loc["2026-Q2"]
    # Q1: changes 1..90 (28 x 1 + 31 x 2), 18 by the bot -> 72 human; ana and ben; 59 days.
    assert (q1["active_contributors"], q1["changes_shipped"], q1["bot_changes"], q1["days"]) == (2, 72, 18, 59)
    # 72 / (2 x 59/7) = 4.271 per contributor-week.
    assert q1["changes_per_contributor_week"] == pytest.approx(72 / (2 * 59 / 7))
    assert (q2["changes_shipped"], q2["bot_changes"], q2["days"]) == (72, 18, 30)


# -- the demo ---------------------------------------------------------------------------------------

def test_the_demo_makes_the_investment_balance_meaningful(demo_warehouse):
    from warehouse.meta import effective_config

    db = demo_warehouse
    cfg = effective_config(parse_config({}), db)
    with read_connection(db) as con:
        one = lambda sql: con.execute(sql).fetchone()[0]  # noqa: E731
        # Conventional-commit titles (platform, growth), labelled PRs (the others) and bot PRs.
        assert one("SELECT count(*) FROM changes WHERE title LIKE 'feat: %'") > 100
        assert one("SELECT count(*) FROM changes WHERE title LIKE 'fix: %'") > 50
        assert one("SELECT count(*) FROM changes WHERE list_contains(labels, 'feature')") > 100
        assert one("SELECT count(*) FROM changes WHERE author LIKE '%[bot]'") > 100
        balance = investment_balance(con, cfg, date(2025, 12, 1), date(2026, 11, 16))
        bots = bot_changes(con, cfg, date(2025, 12, 1), date(2026, 11, 16))
    assert bots > 100
    unplanned = balance[balance["category"] == "unplanned"].pivot(index="quarter", columns="team",
                                                                   values="share_by_count")
    # Fulfilment's unplanned share rises over the year (the demo's story); the others stay flat.
    fulfilment = unplanned["fulfilment"]
    assert fulfilment["2026-Q4"] - fulfilment["2026-Q1"] > 0.15
    assert fulfilment["2026-Q4"] > 0.5
    assert abs(unplanned["platform"]["2026-Q4"] - unplanned["platform"]["2026-Q1"]) < 0.1
    # Every category is used: the rules (and the demo's titles) separate the work.
    totals = balance.groupby("category")["changes"].sum()
    assert (totals > 0).all() and set(totals.index) == {"feature", "maintenance", "unplanned", "other"}


def test_rows_that_share_labels_and_a_title_prefix_are_classified_as_each_alone(con, config):
    # review_changes classifies each distinct (labels, title's first characters, flags) once; every
    # row must still get what classify() gives it alone: case and padding of the title, label order
    # and case, no labels, and a title longer than the widest prefix sharing its start with another.
    cases = [("c1", ["Bug"], "feat: x"), ("c2", [], "  Fix: padded"), ("c3", [], "fix: plain"),
             ("c4", ["chore", "bug"], "feat: y"), ("c5", ["bug", "chore"], "feat: y"), ("c6", None, "Bump deps"),
             ("c7", [], "FEAT: a title longer than any prefix"), ("c8", [], "feat: a title longer than any"),
             ("c9", ["feature"], 'Revert "feat: x"'), ("c10", [], "fixture update")]
    deps, changes = [], []
    for i, (cid, labels, title) in enumerate(cases, start=1):
        finished = datetime(2024, 1, 2 + i, 12)
        deps.append(dep(f"d{i}", finished.isoformat(), sha=f"s{i}"))
        changes.append(chg(cid, (finished - timedelta(minutes=10)).isoformat(), sha=f"s{i}", labels=labels,
                           title=title))
    load(con, deployments=deps, changes=changes)
    rows = review_changes(con, config, date(2024, 1, 1), date(2024, 1, 31)).set_index("change_id")
    got = {c: tuple(rows.loc[c, ["category", "rule", "reason"]]) for c, _, _ in cases}
    assert got == {
        "c1": ("unplanned", "rule 1", 'label "bug"'),
        "c2": ("unplanned", "rule 1", 'title starts with "fix:"'),
        "c3": ("unplanned", "rule 1", 'title starts with "fix:"'),
        "c4": ("unplanned", "rule 1", 'label "bug"'),
        "c5": ("unplanned", "rule 1", 'label "bug"'),
        "c6": ("maintenance", "rule 2", 'title starts with "bump "'),
        "c7": ("feature", "rule 3", 'title starts with "feat:"'),
        "c8": ("feature", "rule 3", 'title starts with "feat:"'),
        "c9": ("unplanned", "rework", 'title starts with "revert"'),
        "c10": ("other", "default", "no rule matched"),
    }
    for c, labels, title in cases:   # the same as each alone
        rework = title.lower().startswith("revert")
        assert got[c] == classify(labels, title, rework=rework, incident=False, settings=config.review.investment,
                                  rework_labels=config.rework_labels)


def test_the_review_changes_read_from_stored_facts_are_the_direct_ones(con, config):
    # The dashboard reads them over the range's DORA facts (metrics.facts); same rows either way,
    # rework and incident flags included (the rows of the rework/incident test above).
    from metrics.facts import FactStore, using_store

    changes = [chg("c1", "2024-01-10T09:00", sha="s1", labels=["feature"], title="feat: refunds"),
               chg("c2", "2024-01-11T09:00", sha="s2", labels=["feature"], title='Revert "feat: refunds"'),
               chg("c3", "2024-01-12T09:00", sha="s3", labels=["feature"], title="feat: gift cards"),
               chg("c4", "2024-01-13T09:00", sha="s4", labels=["bug"], title="Fix rounding")]
    load(con, deployments=[dep(f"d{i}", f"2024-01-{9 + i}T10:00", sha=f"s{i}") for i in range(1, 5)],
         changes=changes, incidents=[inc("i1", "2024-01-11T11:00", resolved="2024-01-13T00:00")])
    direct = review_changes(con, config, date(2024, 1, 1), date(2024, 1, 31))
    with using_store(FactStore(), "test"):
        stored = review_changes(con, config, date(2024, 1, 1), date(2024, 1, 31))
    assert list(direct["category"]) == ["feature", "unplanned", "unplanned", "unplanned"]
    pd.testing.assert_frame_equal(direct, stored, check_exact=True)
