"""The default branch's first-parent chain: walking it, attributing changes to deployments by
position on it, and placing (by one compare) a deployment whose commit is off it."""

from __future__ import annotations

import bisect
import logging
from datetime import datetime, timedelta

from collectors.github.model import SOURCE, Page, parse_time
from collectors.github_client import GitHubHTTPError

log = logging.getLogger(__package__)

COMPARE_LIMIT = 30            # compares per repo and run; the rest wait for the next run
COMPARE_MAX_AHEAD = 250       # a deploy branch further ahead than this is flagged, not used
HISTORY_SLACK = timedelta(days=1)


class ChainWalker:
    """Follows first parents from the head through history pages until it meets a commit already
    stored (a normal push), the root, or a stop chosen by the caller."""

    def __init__(self, known: dict[str, int]):
        self.known = known
        self.parent: dict[str, str | None] = {}
        self.date: dict[str, datetime | None] = {}
        self.new: list[str] = []               # newest first
        self.tip: str | None = None
        self.connected_at: str | None = None
        self.reached_root = False

    def start(self, head: str) -> None:
        self.tip = head
        self._advance()

    def add_page(self, nodes: list[dict]) -> None:
        for n in nodes:
            parents = (n.get("parents") or {}).get("nodes") or []
            self.parent[n["oid"]] = parents[0]["oid"] if parents else None
            self.date[n["oid"]] = parse_time(n.get("committedDate"))
        self._advance()

    def _advance(self) -> None:
        while self.tip is not None and self.connected_at is None:
            if self.tip in self.known:
                self.connected_at = self.tip
                return
            if self.tip not in self.parent:
                return
            self.new.append(self.tip)
            self.tip = self.parent[self.tip]
        if self.tip is None:
            self.reached_root = True

    @property
    def done(self) -> bool:
        return self.connected_at is not None or self.reached_root

    def oldest_date(self) -> datetime | None:
        return self.date.get(self.new[-1]) if self.new else None

    def located(self, sha: str) -> bool:
        return sha in self.known or sha in self._new_set()

    def _new_set(self) -> set[str]:
        if getattr(self, "_cache_len", -1) != len(self.new):
            self._cache = set(self.new)
            self._cache_len = len(self.new)
        return self._cache


def attribute_changes(changes: list[tuple[str, int]], deployments: list[tuple[str, int, datetime]]
                      ) -> list[tuple[str, str]]:
    """(change id, deployment id) pairs: each change (id, merge position) goes to the deployment
    (id, position, finished_at) that finished first among those at or after its position."""
    if not deployments:
        return []
    deps = sorted(deployments, key=lambda d: d[1])
    positions = [d[1] for d in deps]
    # suffix_best[i]: the earliest-finishing deployment among deps[i:]
    suffix_best: list[tuple[datetime, str]] = [None] * len(deps)  # type: ignore[list-item]
    best = None
    for i in range(len(deps) - 1, -1, -1):
        cand = (deps[i][2], deps[i][0])
        best = cand if best is None or cand < best else best
        suffix_best[i] = best
    out = []
    for cid, pos in changes:
        i = bisect.bisect_left(positions, pos)
        if i < len(deps):
            out.append((cid, suffix_best[i][1]))
    return out



class ChainReading:
    """The part of ``RepoFetcher`` that reads and closes the chain (mixed into it; uses its
    ``walker``, ``targets``, ``head``, ``result``, ``details`` and ``client``)."""

    def _history_needs_more(self, parts: dict[str, Page]) -> bool:
        """Whether the next request should read history from where the first-parent walk stalled.

        Merged pull requests carry their merge commit's first parent, so on a branch that only
        takes pull requests the walk goes down the chain as pull request pages arrive; history is
        read only where it stalls on a commit no pull request explains (a direct push, the commits
        of a rebase merge). While pull request pages are still coming, a stall waits for them
        unless they have already passed the stalled commit's time."""
        w = self.walker
        if w.done or w.tip is None:
            return False
        if not w.known and not (parts["pulls"].active or parts["deployments"].active
                                or parts["releases"].active):
            missing = [t for sha, t in self.targets.items() if not w.located(sha)]
            if not missing:
                return False
            dated = [t for t in missing if t is not None]
            oldest = w.oldest_date()
            if dated and oldest is not None:
                bound = min(dated) - HISTORY_SLACK
                if self.settings.since is not None:
                    bound = max(bound, self.settings.since - HISTORY_SLACK)
                if oldest < bound:
                    return False
        if parts["pulls"].active:
            child = w.oldest_date()
            if child is None or self.min_updated is None or self.min_updated >= child:
                return False    # the next pull request page may explain the stalled commit
        return True

    def _finish_chain(self) -> None:
        w, r = self.walker, self.result
        if not self.head:
            return
        new = w.new
        if w.connected_at is not None:
            base = w.known[w.connected_at]
            stale = [s for s, p in w.known.items() if p > base]
            if stale:
                r.chain_drop_above = base
                self._flag("history_rewritten", self.head,
                           f"the default branch was force-pushed: {len(stale)} commits after "
                           f"{w.connected_at[:12]} are no longer on it; their deployments are re-attributed")
        elif w.known:
            r.chain_reset = True
            base = -1
            self._flag("history_unrelated", self.head,
                       "the default branch no longer shares history with the stored one; "
                       "the stored first-parent chain was replaced")
        else:
            base = -1
        n = len(new)
        for i, sha in enumerate(new):
            r.chain_rows.append({"repo": self.repo, "sha": sha, "position": base + n - i,
                                 "committed_at": w.date.get(sha), "source": SOURCE})

    def _compare_off_chain(self) -> None:
        """A successful production deployment whose commit is not on the default branch's first
        parent chain: one compare against the head, cached by commit. Only ancestry is used (see
        the module docstring); whatever it cannot place is flagged rather than guessed."""
        if not self.head:
            return
        located = set(self.walker.known) | set(self.walker.new)
        if self.result.chain_reset:
            located = set(self.walker.new)
        cache = self.details.setdefault("compare", {})
        deps = [d for d in self.result.deployments
                if d["status"] == "success" and d["environment"].lower() in self.production
                and d["sha"] and d["sha"] not in located]
        oldest_chain = self.walker.oldest_date()
        todo = []
        for d in deps:
            if d["sha"] in cache:
                continue
            if (not self.walker.reached_root and oldest_chain and d["started_at"]
                    and d["started_at"] < oldest_chain and not self.walker.known):
                continue    # older than the history read: outside the synced range
            todo.append(d)
        seen = set()
        for d in todo:
            sha = d["sha"]
            if sha in seen:
                continue
            seen.add(sha)
            if len(seen) > COMPARE_LIMIT:
                self._flag("compare_deferred", sha, f"more than {COMPARE_LIMIT} off-branch deployments; "
                                                    "the rest are compared on the next run")
                break
            cache[sha] = self._compare(sha)
            entry = cache[sha]
            if entry["status"] != "ahead":
                self._flag(f"compare_{entry['status']}", sha, entry["note"])

    def _compare(self, sha: str) -> dict:
        path = f"/repos/{self.repo}/compare/{self.head}...{sha}"
        try:
            resp = self.client.get(path, {"per_page": 1}, what=f"{self.repo} compare {sha[:12]}")
        except GitHubHTTPError as exc:
            if exc.status == 404:
                return {"status": "unrelated", "base": None,
                        "note": f"deployed commit {sha[:12]} shares no history with {self.default_branch} "
                                f"({exc.message or 'not found'}); not attributed"}
            raise
        body = resp.data or {}
        status = body.get("status")
        ahead = body.get("ahead_by") or 0
        base = (body.get("merge_base_commit") or {}).get("sha")
        if status == "ahead" and ahead > COMPARE_MAX_AHEAD:
            return {"status": "too_large", "base": base,
                    "note": f"deployed commit {sha[:12]} is {ahead} commits ahead of {self.default_branch} "
                            f"(more than {COMPARE_MAX_AHEAD}); not attributed"}
        if status in ("ahead", "identical"):
            return {"status": "ahead", "base": base or self.head, "note": ""}
        if status == "behind":
            return {"status": "off_chain", "base": None,
                    "note": f"deployed commit {sha[:12]} is inside {self.default_branch}'s history but not on "
                            "its first-parent chain (a commit of a merged branch); not attributed"}
        if ahead > COMPARE_MAX_AHEAD or not base:
            return {"status": "too_large", "base": base,
                    "note": f"deployed commit {sha[:12]} diverged from {self.default_branch} by {ahead} "
                            f"commits (more than {COMPARE_MAX_AHEAD}); not attributed"}
        # Diverged (a release or hotfix branch cut earlier): by ancestry it ships exactly the
        # default branch's changes up to the merge base, and none merged after it.
        return {"status": "diverged", "base": base,
                "note": f"deployed commit {sha[:12]} diverged from {self.default_branch} ({ahead} ahead, "
                        f"{body.get('behind_by')} behind): credited only with changes up to the merge base "
                        f"{base[:12]}"}

    def _flag(self, kind: str, ref: str, message: str) -> None:
        log.warning("github %s: %s", self.repo, message)
        self.result.flags.append({"kind": kind, "ref": ref, "message": message})
