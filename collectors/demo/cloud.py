"""``costs``, ``utilization`` and ``commitments`` of the demo's AWS organisation."""

from __future__ import annotations

import numpy as np
import pandas as pd

from collectors.demo.common import Calendar, random_shas
from collectors.demo.data import (ACCOUNTS, COST_ALLOCATION_ACCOUNTS, COST_ALLOCATION_SERVICES, COST_LINES, PAYER, RDS,
                                  RI_DISCOUNT, SERVICES, SHARED_LINES, SOURCE, SP_DISCOUNT, SP_SERVICES, TEAMS,
                                  UTILIZATION, TeamSpec)


def team_tag(team: TeamSpec, tag: str | None) -> str:
    return tag or team.cost_tags[0]


def _pattern_matrix(cal: Calendar, patterns: np.ndarray) -> np.ndarray:
    """Per line and day, the multiplier of its usage pattern."""
    n = cal.days
    weekend = cal.weekend.astype(float)
    season = cal.season
    rows = {
        "traffic": (1 + 0.06 * weekend) * season,
        "steady": 1 + 0.1 * (season - 1),
        "storage": np.ones(n),
        "batch": np.where(cal.month_end, 2.6, 1.0) * (1 - 0.1 * weekend),
        "office": np.where(cal.weekend, 0.35, 1.0) * np.where(cal.holiday, 0.5, 1.0),
    }
    return np.stack([rows[p] for p in patterns])


def build_cloud(rng: np.random.Generator, cal: Calendar) -> dict[str, pd.DataFrame]:
    """costs, utilization and commitments of the demo's AWS organisation."""
    teams = {t.name: t for t in TEAMS}
    tag_team = {tag: t.name for t in TEAMS for tag in t.cost_tags}
    account_team = {ACCOUNTS[a][0]: t.name for t in TEAMS for a in t.accounts}
    account_team.update({ACCOUNTS[k][0]: t for k, t in COST_ALLOCATION_ACCOUNTS.items()})

    # One "line" = account x service x region x tag; prod lines mirrored smaller into staging.
    lines = []
    for team_name, specs in COST_LINES.items():
        team = teams[team_name]
        home = ACCOUNTS[team.accounts[0]][0] if team.accounts and team.accounts[0] != "shared" else ACCOUNTS["prod"][0]
        for service, base, pattern, region, tag in specs:
            g = team.profile.growth * rng.uniform(0.6, 1.4)
            share = rng.uniform(0.88, 0.985)
            lines.append((home, service, region, team_tag(team, tag), base, pattern, g, share, "production"))
            if pattern in ("traffic", "steady") and service in SP_SERVICES + (RDS, "Amazon ElastiCache", "Amazon DynamoDB"):
                lines.append((ACCOUNTS["staging"][0], service, region, team_tag(team, tag),
                              base * rng.uniform(0.08, 0.16), "office", g, rng.uniform(0.6, 0.85), "staging"))
    for acct, service, base, pattern, region, tag in SHARED_LINES:
        lines.append((ACCOUNTS[acct][0], service, region, tag, base, pattern,
                      0.25 * rng.uniform(0.5, 1.5), 1.0 if tag else 0.0,
                      "staging" if acct == "staging" else "production"))
    L = pd.DataFrame(lines, columns=["account", "service", "region", "tag", "base", "pattern",
                                     "growth", "share", "env"])
    n_lines, n_days = len(L), cal.days
    t = np.arange(n_days) / (n_days - 1)
    growth = np.where(L.pattern.to_numpy()[:, None] == "storage",
                      1 + L.growth.to_numpy()[:, None] * t * 1.3,
                      (1 + L.growth.to_numpy()[:, None]) ** t[None, :])
    noise = np.exp(rng.normal(0, 0.05, (n_lines, n_days)))
    cost = L.base.to_numpy()[:, None] * growth * _pattern_matrix(cal, L.pattern.to_numpy()) * noise

    def lines_where(**kw) -> np.ndarray:
        mask = np.ones(n_lines, dtype=bool)
        for col, val in kw.items():
            mask &= (L[col] == val).to_numpy()
        return np.flatnonzero(mask)

    # Step changes: data added Redshift nodes; checkout right-sized its containers.
    day = lambda frac: int(frac * (n_days - 1))  # noqa: E731
    cost[lines_where(service="Amazon Redshift", env="production"), day(0.58):] *= 1.35
    cost[lines_where(service="Amazon Elastic Container Service", tag="checkout", env="production"), day(0.7):] *= 0.75
    # Anomalies: a sudden 3-5x day (or a few) for one service.
    # They start on a Tuesday to Thursday away from month ends and the retail season, so they
    # stand out from the regular patterns rather than hide in them.
    anomalies = [
        (lines_where(service="AWS Lambda", tag="web"), (0.12, 0.28), 4.2, 1),        # retry loop
        (lines_where(service="Amazon Elastic Compute Cloud", account=ACCOUNTS["sandbox"][0]),
         (0.35, 0.5), 10.0, 3),                                                        # forgotten GPUs
        (lines_where(service="AWS Data Transfer", account=ACCOUNTS["prod"][0]), (0.55, 0.7), 4.0, 1),
        (lines_where(service="AmazonCloudWatch", tag="catalog"), (0.75, 0.9), 3.6, 2),  # debug logs
    ]
    dow = np.asarray(cal.dates.day_of_week)
    quiet = (dow >= 1) & (dow <= 3) & (np.asarray(cal.dates.day) <= 25) & (np.asarray(cal.dates.day) > 1)
    quiet &= (cal.season < 1.02) & ~cal.holiday
    for idx, (a, b), factor, length in anomalies:
        window = np.flatnonzero(quiet[day(a):day(b)]) + day(a)
        if window.size == 0:
            window = np.arange(day(a), day(b))
        first = int(rng.choice(window))
        cost[idx, first:first + length] *= factor

    # Savings Plan: a fixed hourly commitment bought before the year; coverage falls as usage grows.
    sp_lines = np.flatnonzero(L.service.isin(SP_SERVICES).to_numpy())
    usage = cost[sp_lines].sum(axis=0)
    sp_util = np.clip(0.9 - 0.05 * cal.weekend + rng.normal(0, 0.02, n_days), 0.8, 0.97)
    commitment = 0.74 * (1 - SP_DISCOUNT) * usage[:14].mean() / 0.9
    sp_cov = np.clip(sp_util * commitment / ((1 - SP_DISCOUNT) * usage), 0, 0.98)
    # RDS reservation, all upfront, bought ~5 months before the end of the demo.
    rds_lines = lines_where(service=RDS, account=ACCOUNTS["prod"][0])
    ri_day = day(0.58)
    rds_usage = cost[rds_lines].sum(axis=0)
    ri_daily = 0.6 * rds_usage[ri_day] * (1 - RI_DISCOUNT)
    ri_util = np.where(np.arange(n_days) >= ri_day, np.clip(0.99 + rng.normal(0, 0.006, n_days), 0.96, 1.0), np.nan)
    ri_cov = np.clip(ri_util * ri_daily / ((1 - RI_DISCOUNT) * rds_usage), 0, 1)

    cover = np.zeros((n_lines, n_days))
    discount = np.zeros(n_lines)
    cover[sp_lines] = sp_cov
    discount[sp_lines] = SP_DISCOUNT
    cover[rds_lines] = np.nan_to_num(ri_cov)
    discount[rds_lines] = RI_DISCOUNT
    billed = cost * (1 - cover)
    effective = billed + cost * cover * (1 - discount[:, None])

    # Long form: a tagged row and an untagged remainder per line and day.
    share = L.share.to_numpy()
    frames = []
    for part, frac in (("tagged", share), ("untagged", 1 - share)):
        keep = frac > 0
        li = np.repeat(np.flatnonzero(keep), n_days)
        di = np.tile(np.arange(n_days), keep.sum())
        f = frac[li]
        frames.append(pd.DataFrame({
            "line": li, "d": di, "tag": L.tag.to_numpy()[li] if part == "tagged" else "",
            "list_cost": cost[li, di] * f, "billed_cost": billed[li, di] * f,
            "effective_cost": effective[li, di] * f}))
    long = pd.concat(frames, ignore_index=True)
    long["account"] = L.account.to_numpy()[long.line]
    long["service"] = L.service.to_numpy()[long.line]
    long["region"] = L.region.to_numpy()[long.line]
    long["env"] = L.env.to_numpy()[long.line]
    long = (long.groupby(["d", "account", "service", "region", "tag", "env"], as_index=False, sort=True)
            [["list_cost", "billed_cost", "effective_cost"]].sum())

    # Fees: the Savings Plan's daily charge, the reservation's upfront payment, monthly support.
    fees = [pd.DataFrame({"d": np.arange(n_days), "account": PAYER,
                          "service": "Savings Plans for AWS Compute usage", "region": "", "tag": "",
                          "env": "", "list_cost": np.nan, "billed_cost": commitment,
                          "effective_cost": commitment * (1 - sp_util)})]
    fees.append(pd.DataFrame({"d": [ri_day], "account": ACCOUNTS["prod"][0], "service": RDS,
                              "region": "us-east-1", "tag": "", "env": "", "list_cost": [np.nan],
                              "billed_cost": [ri_daily * 365], "effective_cost": [0.0],
                              "resource_id": f"arn:aws:rds:us-east-1:{ACCOUNTS['prod'][0]}:ri:aurora-pg-r6g-1yr"}))
    total = effective.sum(axis=0)
    firsts = np.flatnonzero(cal.month_start)
    support = [0.06 * 30 * total[max(0, d - 30):d].mean() if d > 0 else 0.06 * 30 * total[0] for d in firsts]
    fees.append(pd.DataFrame({"d": firsts, "account": PAYER, "service": "AWS Support (Business)",
                              "region": "", "tag": "", "env": "", "list_cost": support,
                              "billed_cost": support, "effective_cost": support}))
    long = pd.concat([long] + fees, ignore_index=True)
    long["resource_id"] = long["resource_id"].fillna("")

    category = long.service.map({k: v[0] for k, v in SERVICES.items()})
    unit = long.service.map({k: v[1] for k, v in SERVICES.items()})
    unit_price = long.service.map({k: v[2] for k, v in SERVICES.items()}).astype("float64")
    team = long.tag.map(tag_team)
    team = team.fillna(long.account.map(account_team)).fillna(long.service.map(COST_ALLOCATION_SERVICES))
    team = team.fillna("unallocated")
    tags = np.where(long.tag.eq(""),
                    np.where(long.env.eq(""), None, '{"env": "' + long.env + '"}'),
                    '{"env": "' + long.env + '", "team": "' + long.tag + '"}')
    costs = pd.DataFrame({
        "charge_date": cal.dates[long.d.to_numpy()], "source": SOURCE, "provider": "AWS",
        "billing_account_id": PAYER, "sub_account_id": long.account, "service_name": long.service,
        "region": long.region, "resource_id": long.resource_id, "allocation_tag": long.tag,
        "service_category": category, "tags": tags, "team": team,
        "billed_cost": long.billed_cost.round(4), "effective_cost": long.effective_cost.round(4),
        "list_cost": long.list_cost.round(4),
        "consumed_quantity": (long.list_cost / unit_price).round(3), "consumed_unit": unit,
        "currency": "USD", "estimated": long.d.to_numpy() >= n_days - 2})

    # Utilization per compute resource; catalog's fleet is the over-provisioned one.
    service_team = {s: t.name for t in TEAMS for svcs in t.repos.values() for s in svcs}
    frames = []
    for service, (count, vcpu, gib, cpu, mem, kind) in UTILIZATION.items():
        ids = ([f"i-0{h[:16]}" for h in random_shas(rng, count)] if kind == "ec2"
               else [f"ecs:prod/{service}/task-{i + 1}" for i in range(count)])
        for resource in ids:
            level = rng.uniform(0.85, 1.15)
            traffic = (1 + 0.35 * (cal.season - 1)) * np.where(cal.weekend, 0.8, 1.0)
            for metric, base, capacity in (("cpu", cpu, vcpu), ("memory", mem, gib)):
                damp = 1.0 if metric == "cpu" else 0.3
                avg = np.clip(base * level * (1 + damp * (traffic - 1)) * np.exp(rng.normal(0, 0.08, n_days)), 0.01, 0.97)
                spread = (1.5, 2.3) if metric == "cpu" else (1.1, 1.35)
                p95 = np.minimum(avg * rng.uniform(*spread, n_days), 1.0)
                frames.append(pd.DataFrame({"date": cal.dates, "provider": "AWS", "resource": resource,
                                            "service": service, "team": service_team[service],
                                            "metric": metric, "avg": avg.round(4), "p95": p95.round(4),
                                            "capacity": float(capacity)}))
    utilization = pd.concat(frames, ignore_index=True)

    has_ri = ~np.isnan(ri_util)
    commitments = pd.concat([
        pd.DataFrame({"date": cal.dates, "provider": "AWS", "kind": "savings_plan",
                      "utilization": sp_util.round(4), "coverage": sp_cov.round(4)}),
        pd.DataFrame({"date": cal.dates[has_ri], "provider": "AWS", "kind": "reservation",
                      "utilization": ri_util[has_ri].round(4), "coverage": ri_cov[has_ri].round(4)}),
    ], ignore_index=True)
    return {"costs": costs, "utilization": utilization, "commitments": commitments}
