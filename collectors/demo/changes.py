"""Pull requests (``changes``): merged ones worked backwards from their merge, plus the closed and
still open ones, with titles and labels by kind of work."""

from __future__ import annotations

import numpy as np
import pandas as pd

from collectors.demo.common import Calendar, lognormal, value_at
from collectors.demo.data import BOTS, BUG, CHORE, CONVENTIONAL, FEATURE, PROBLEMS, TeamSpec


def pr_titles(rng, team: TeamSpec, kinds: np.ndarray) -> tuple[list[str], list[list[str]]]:
    n = kinds.size
    nouns = rng.choice(team.nouns, n)
    probs = rng.choice(PROBLEMS, n)
    libs = rng.choice(team.libraries, n)
    feat, bug, chore = rng.integers(0, 100, n), rng.integers(0, 100, n), rng.integers(0, 100, n)
    major, minor, patch = rng.integers(1, 6, n), rng.integers(0, 30, n), rng.integers(0, 9, n)
    titles, labels = [], []
    for i, kind in enumerate(kinds):
        if kind == "dependencies":
            titles.append(f"Bump {libs[i]} from {major[i]}.{minor[i]}.{patch[i]} to {major[i]}.{minor[i] + 1}.0")
            labels.append(["dependencies"])
        elif kind == "feature":
            titles.append(FEATURE[feat[i] % len(FEATURE)].format(n=nouns[i]))
            labels.append(["feature"])
        elif kind in ("bug", "hotfix"):
            titles.append(BUG[bug[i] % len(BUG)].format(n=nouns[i], p=probs[i]))
            labels.append(["bug", "hotfix"] if kind == "hotfix" else ["bug"])
        else:
            title = CHORE[chore[i] % len(CHORE)].format(n=nouns[i])
            titles.append(title[0].upper() + title[1:])
            labels.append([] if kind == "none" else [kind])
    if team.conventional:
        titles, labels = _conventional(kinds, titles, labels)
    return titles, labels


def _conventional(kinds: np.ndarray, titles: list[str], labels: list[list[str]]) -> tuple[list[str], list[list[str]]]:
    out_t, out_l = [], []
    for kind, title, label in zip(kinds, titles, labels, strict=True):
        kind = str(kind)
        prefix = CONVENTIONAL.get(kind)
        out_t.append(f"{prefix}: {title[0].lower()}{title[1:]}" if prefix else title)
        out_l.append(["hotfix"] if kind == "hotfix" else ([] if prefix and kind != "dependencies" else label))
    return out_t, out_l


def _unplanned_drift(team: TeamSpec, kinds: np.ndarray, t: np.ndarray, shas: list[str]) -> np.ndarray:
    """Planned pull requests (feature, chore, refactor) that become bug fixes, with a probability
    rising linearly from 0 to ``team.unplanned_rise`` over the year. The coin is read from the merge
    sha (already random), so no draw is added and every other row of the demo stays the same."""
    if not team.unplanned_rise:
        return kinds
    coin = np.array([int(sha[:8], 16) / 0x100000000 for sha in shas])
    planned = np.isin(kinds, ["feature", "chore", "refactor"])
    return np.where(planned & (coin < team.unplanned_rise * t), "bug", kinds)


def pull_requests(rng, cal: Calendar, team: TeamSpec, merged_h: np.ndarray, shas: list[str]) -> pd.DataFrame:
    """Merged pull requests (times worked backwards from the merge) plus closed and open ones."""
    p = team.profile
    n = merged_h.size
    t = merged_h / cal.end_hours
    kinds = rng.choice(["feature", "bug", "chore", "refactor", "none", "dependencies", "hotfix"],
                       n, p=[0.40, 0.26, 0.11, 0.09, 0.03, 0.10, 0.01])
    kinds = _unplanned_drift(team, kinds, t, shas)
    bot = kinds == "dependencies"
    review = lognormal(rng, value_at(p.review_hours, t), 1.0, n)
    pickup = lognormal(rng, value_at(p.pickup_hours, t), 1.1, n)
    coding = lognormal(rng, value_at(p.coding_hours, t), 1.1, n)
    no_review = (rng.random(n) < 0.05) | (bot & (rng.random(n) < 0.5))
    coding[bot] = rng.uniform(0.001, 0.02, bot.sum())
    first_review = np.where(no_review, np.nan, merged_h - review)
    opened = merged_h - review - pickup
    first_commit = opened - coding
    # Rebased branches: the first commit's timestamp lands after the pull request was opened.
    rebased = (rng.random(n) < 0.01) & ~bot
    first_commit[rebased] = opened[rebased] + rng.uniform(0.1, 3.0, rebased.sum())
    titles, labels = pr_titles(rng, team, kinds)
    authors = np.where(bot, rng.choice(BOTS, n), rng.choice(team.authors, n))
    merged = pd.DataFrame({"first_commit_h": first_commit, "opened_h": opened,
                           "first_review_h": first_review, "merged_h": merged_h,
                           "merge_sha": shas, "title": titles, "author": authors, "labels": labels})

    # Never merged: abandoned, superseded, or still open at the end.
    m = int(n * 0.09) + 3
    opened_u = np.sort(rng.uniform(0, cal.end_hours - 1, m))
    opened_u[-3:] = cal.end_hours - rng.uniform(2, 120, 3)
    kinds_u = rng.choice(["feature", "bug", "chore", "dependencies"], m, p=[0.45, 0.2, 0.15, 0.2])
    titles_u, labels_u = pr_titles(rng, team, kinds_u)
    review_u = opened_u + lognormal(rng, value_at(p.pickup_hours, opened_u / cal.end_hours), 1.1, m)
    unmerged = pd.DataFrame({
        "first_commit_h": opened_u - lognormal(rng, value_at(p.coding_hours, opened_u / cal.end_hours), 1.1, m),
        "opened_h": opened_u,
        "first_review_h": np.where((rng.random(m) < 0.6) & (review_u < cal.end_hours), review_u, np.nan),
        "merged_h": np.nan, "merge_sha": None, "title": titles_u,
        "author": np.where(kinds_u == "dependencies", rng.choice(BOTS, m), rng.choice(team.authors, m)),
        "labels": labels_u})
    return pd.concat([merged, unmerged], ignore_index=True)
