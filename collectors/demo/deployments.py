"""One repository's deployments (staging and production, failed attempts retried), the pull
requests each ships, and the incidents and rollbacks they cause."""

from __future__ import annotations

import numpy as np
import pandas as pd

from collectors.demo.changes import pull_requests
from collectors.demo.common import Calendar, Delivery, daily_times, lognormal, random_shas, value_at
from collectors.demo.data import EXPLICIT_LINK_REPOS, INCIDENT_TITLES, ORG, Profile, TeamSpec


def deploy_starts(rng, cal: Calendar, p: Profile, merges: np.ndarray):
    """Production deploy start times and the merges each ships: (starts, lo, hi) index ranges."""
    day_t = (np.arange(cal.days) + 0.5) / cal.days
    wk = np.where(cal.weekend, p.weekend, 1.0)
    if p.deploy_mode == "cd":
        delay = lognormal(rng, value_at(p.pipeline_hours, merges / cal.end_hours), 0.6, merges.size)
        starts, his = [], []
        pending = -np.inf
        for i, m in enumerate(merges):
            if m <= pending:          # joins the deploy already queued: it ships the newer head
                his[-1] = i + 1
                continue
            pending = m + delay[i]
            starts.append(pending)
            his.append(i + 1)
        starts, hi = np.asarray(starts, dtype=float), np.asarray(his, dtype=int)
        lo = np.r_[0, hi[:-1]].astype(int)
        return starts, lo, hi
    calendar_factor = np.where(cal.holiday | cal.freeze, 0.2, 1.0)
    lam = value_at(p.deploy_rate, day_t) * wk * calendar_factor
    cand = daily_times(rng, lam, p.center_hour + 1.5, 2.0)
    if p.deploy_mode == "train":
        train_days = np.flatnonzero(np.asarray(cal.dates.day_of_week == p.train_weekday))
        rides = rng.random(train_days.size) < p.train_share * calendar_factor[train_days]
        train = train_days[rides] * 24.0 + np.clip(rng.normal(p.center_hour + 3, 1.0, rides.sum()), 0, 23.9)
        cand = np.sort(np.r_[cand, train])
    hi = np.searchsorted(merges, cand, side="right")
    lo = np.r_[0, hi[:-1]]
    # A scheduled run with nothing new merged mostly does not happen; sometimes it ships config.
    keep = (hi > lo) | (rng.random(cand.size) < 0.25)
    return cand[keep], lo[keep].astype(int), hi[keep].astype(int)


def repo_delivery(rng, cal: Calendar, team: TeamSpec, repo_name: str, services: tuple[str, ...],
                   out: Delivery) -> None:
    p = team.profile
    repo = f"{ORG}/{repo_name}"
    end = cal.end_hours
    day_t = (np.arange(cal.days) + 0.5) / cal.days
    lam_pr = value_at(p.pr_rate, day_t) * np.where(cal.weekend, p.weekend, 1.0) * np.where(cal.holiday, 0.2, 1.0)
    merges = daily_times(rng, lam_pr, p.center_hour, 2.5)
    merge_shas = random_shas(rng, merges.size)
    prs = pull_requests(rng, cal, team, merges, merge_shas)
    prs["repo"] = repo
    n_merged = merges.size

    deploy_frames: list[pd.DataFrame] = []
    incident_frames: list[pd.DataFrame] = []
    if services:
        starts, lo, hi = deploy_starts(rng, cal, p, merges)
        k = starts.size
        t = starts / end
        direct = random_shas(rng, k)
        sha = np.array([merge_shas[h - 1] if h > l else d for l, h, d in zip(lo, hi, direct)], dtype=object)
        last_merge = np.where(hi > lo, merges[np.maximum(hi - 1, 0)], starts - 0.5)
        dur = lognormal(rng, value_at(p.duration_minutes, t) / 60.0, 0.4, k)
        # Failed attempt, then a retry of the same sha (never past the next deploy's start).
        next_start = np.r_[starts[1:], np.inf]
        fail_dur = dur * rng.uniform(0.3, 1.0, k)
        gap = lognormal(rng, p.retry_hours, 0.7, k)
        room = next_start - starts - fail_dur
        failed = (rng.random(k) < value_at(p.fail_rate, t)) & (room > 0.1)
        gap = np.minimum(gap, room * 0.8)
        ok_start = np.where(failed, starts + fail_dur + gap, starts)
        ok_finish = ok_start + dur
        keys = out.keys(k)
        prod = pd.DataFrame({"key": keys, "service": services[0], "environment": "production",
                             "sha": sha, "status": "success", "started_h": ok_start,
                             "finished_h": ok_finish, "rollback": False, "hotfix": False})
        frames = [prod]
        fails = pd.DataFrame({"key": out.keys(int(failed.sum())), "service": services[0],
                              "environment": "production", "sha": sha[failed], "status": "failure",
                              "started_h": starts[failed], "finished_h": starts[failed] + fail_dur[failed],
                              "rollback": False, "hotfix": False})
        frames.append(fails)
        # Staging first: after the last merge it ships, before production.
        st = rng.random(k) < p.staging_share
        st_gap = lognormal(rng, value_at(p.staging_hours, t), 0.6, k)
        st_start = np.maximum(last_merge + 0.05, starts - st_gap)
        st_start = np.where(st_start >= starts - 0.05, (last_merge + starts) / 2, st_start)
        st_dur = dur * rng.uniform(0.6, 1.0, k)
        frames.append(pd.DataFrame({"key": out.keys(int(st.sum())), "service": services[0],
                                    "environment": "staging", "sha": sha[st], "status": "success",
                                    "started_h": st_start[st], "finished_h": st_start[st] + st_dur[st],
                                    "rollback": False, "hotfix": False}))
        # Rollbacks: shortly after a bad deploy, redeploy the previous sha.
        rb_start = ok_finish + rng.uniform(0.15, 0.6, k)
        rolled = (rng.random(k) < p.rollback_rate) & (np.arange(k) >= 1) & (next_start > rb_start + 1.0)
        rolled &= rb_start < end - 0.5
        idx = np.flatnonzero(rolled)
        frames.append(pd.DataFrame({"key": out.keys(idx.size), "service": services[0],
                                    "environment": "production", "sha": sha[idx - 1],
                                    "status": "success", "started_h": rb_start[idx],
                                    "finished_h": rb_start[idx] + dur[idx] * 0.8,
                                    "rollback": True, "hotfix": False}))
        # After a rollback the team reverts the offending change.
        for i in idx:
            j = int(np.searchsorted(merges, rb_start[i]))
            if hi[i] > lo[i] and j < n_merged:
                prs.at[j, "title"] = f'Revert "{prs.at[hi[i] - 1, "title"]}"'
                prs.at[j, "labels"] = ["revert"]
        if repo in EXPLICIT_LINK_REPOS:
            for key, l, h in zip(keys, lo, hi):
                out.links += [(int(key), repo, int(x)) for x in range(l, h)]
        # A second service of the same repo deploys the same sha a few minutes later.
        for extra in services[1:]:
            follow = rng.random(k) < 0.5
            delay = rng.uniform(0.08, 0.25, k)
            frames.append(pd.DataFrame({"key": out.keys(int(follow.sum())), "service": extra,
                                        "environment": "production", "sha": sha[follow],
                                        "status": "success",
                                        "started_h": ok_finish[follow] + delay[follow],
                                        "finished_h": ok_finish[follow] + delay[follow] + dur[follow],
                                        "rollback": False, "hotfix": False}))
        deploys = pd.concat(frames, ignore_index=True)

        # Incidents caused by production deploys (and most rollbacks had one).
        cand = deploys[(deploys.environment == "production") & (deploys.status == "success")
                       & ~deploys.rollback].reset_index(drop=True)
        ct = cand.finished_h.to_numpy() / end
        rolled_keys = set(keys[idx].tolist())
        was_rolled = cand.key.isin(rolled_keys).to_numpy()
        rb_of = dict(zip(keys[idx].tolist(), rb_start[idx].tolist()))
        hit = rng.random(len(cand)) < np.where(was_rolled, 0.6, value_at(p.incident_rate, ct))
        fin = cand.finished_h.to_numpy()
        created = fin + np.minimum(rng.exponential(1.5, len(cand)), 48)
        sev = rng.choice(["sev1", "sev2", "sev3"], len(cand), p=[0.08, 0.37, 0.55])
        sev_factor = np.select([sev == "sev1", sev == "sev2"], [0.7, 1.0], 1.5)
        resolved = created + lognormal(rng, value_at(p.recovery_hours, ct) * sev_factor, 0.9, len(cand))
        rb_created = np.array([fin[i] + (rb_of.get(key, fin[i]) - fin[i]) * 0.5
                               for i, key in enumerate(cand.key)])
        created = np.where(was_rolled, rb_created, created)
        resolved = np.where(was_rolled, created + rng.uniform(0.4, 1.2, len(cand)), resolved)
        explicit = rng.random(len(cand)) < 0.45
        titles = rng.choice(INCIDENT_TITLES, len(cand))
        sel = hit & (created < end)
        inc = pd.DataFrame({"service": cand.service[sel].to_numpy(), "repo": repo,
                            "title": [ti.format(s=s) for ti, s in zip(titles[sel], cand.service[sel])],
                            "severity": sev[sel], "created_h": created[sel],
                            "resolved_h": resolved[sel],
                            "caused_key": np.where(explicit[sel], cand.key[sel], -1)})
        # Hotfixes: for some incidents the team ships a fix while it is open.
        hf = (rng.random(len(inc)) < 0.45) & (inc.resolved_h - inc.created_h > 0.5).to_numpy()
        hf &= ~cand.key[sel].isin(rolled_keys).to_numpy()
        if hf.any():
            c, r = inc.created_h.to_numpy()[hf], inc.resolved_h.to_numpy()[hf]
            m = c + (r - c) * rng.uniform(0.3, 0.6, hf.sum())
            d_start = m + (0.15 if p.deploy_mode == "cd" else 0.3)
            d_fin = d_start + lognormal(rng, value_at(p.duration_minutes, m / end) / 60.0, 0.4, hf.sum())
            inc.loc[hf, "resolved_h"] = np.maximum(r, d_fin + rng.uniform(0.1, 0.5, hf.sum()))
            hf_sha = random_shas(rng, int(hf.sum()))
            services_hf = inc.service.to_numpy()[hf]
            hotfix_prs = pd.DataFrame({
                "first_commit_h": c + (m - c) * 0.1, "opened_h": c + (m - c) * 0.3,
                "first_review_h": c + (m - c) * 0.6, "merged_h": m, "merge_sha": hf_sha,
                "title": [f"Hotfix: {ti.split(': ', 1)[-1].lower()}" for ti in inc.title.to_numpy()[hf]],
                "author": rng.choice(team.authors, hf.sum()),
                "labels": [["hotfix"] for _ in range(int(hf.sum()))], "repo": repo})
            first_new = len(prs)
            prs = pd.concat([prs, hotfix_prs], ignore_index=True)
            hkeys = out.keys(int(hf.sum()))
            keep = d_start < end
            deploys = pd.concat([deploys, pd.DataFrame({
                "key": hkeys[keep], "service": services_hf[keep], "environment": "production",
                "sha": np.asarray(hf_sha, dtype=object)[keep], "status": "success",
                "started_h": d_start[keep], "finished_h": d_fin[keep], "rollback": False,
                "hotfix": True})], ignore_index=True)
            if repo in EXPLICIT_LINK_REPOS:
                out.links += [(int(hk), repo, first_new + i) for i, hk in enumerate(hkeys) if keep[i]]
        incident_frames.append(inc)
        deploys["repo"] = repo
        deploy_frames.append(deploys[deploys.started_h < end])
    out.prs.append(prs)
    out.deploys += deploy_frames
    out.incidents += incident_frames
