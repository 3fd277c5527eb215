"""GitHub → ``changes``, ``deployments``, ``deployment_changes``, ``incidents`` (+ ``branch_commits``).

API: GitHub's GraphQL API for nearly everything, through PyGithub's requester (``base_url`` works
for GitHub Enterprise Server: ``https://HOST/api/v3`` → GraphQL at ``https://HOST/api/graphql``);
REST only where GraphQL cannot serve: Actions workflow runs (``/actions/workflows/{id}/runs``),
``/compare`` for a deployment made from outside the default branch, and ``/orgs/{org}/repos``.

Per repository, one GraphQL query (``REPO_QUERY``) carries a page of every entity at once, each part
switched on or off with ``@include``; the next request fetches the next page of each part that
still needs one, so a repository costs as many requests as its longest part has pages:

* changes: merged pull requests into the default branch, newest-updated first, 100 a page, each
  with its first commit (GraphQL lists every commit of a pull request; REST stops at 250), labels
  and first reviews (a pull request whose first 10 reviews are all by its author gets one more
  query for the rest);
* deployments, by the repo's signal: ``environments`` (GitHub deployments with their statuses; time
  = the first ``success`` status), ``workflow`` (runs of a deploy workflow on the default branch,
  REST, read in date windows when a filtered query passes GitHub's 1,000-result cap) or
  ``releases`` (published, non-prerelease); ``auto`` picks the first that has data, in that order;
* incidents: issues carrying ``incident_label``; GraphQL issues exclude pull requests; issues
  closed as not planned or duplicate are skipped (and removed if synced before);
* history: the default branch's first-parent chain, stored in ``branch_commits``: followed from
  the head through each merged pull request's merge commit and its first parent, and through
  ``history`` pages (100 commits) only where a commit no pull request explains stops the walk; each merged change goes to the first successful production deployment
  whose commit is at or after its merge commit on that chain (``deployment_changes``). A
  deployment whose commit is off the chain costs one ``compare`` against the head: "ahead" ships
  everything up to the head; "diverged" (a release or hotfix branch) ships, by ancestry, exactly
  the changes up to the merge base and is flagged; unrelated histories, commits of merged side
  branches and over-large divergence are flagged in ``sync_state.details`` and never guessed.

Incremental: ``sync_state`` (source ``github``) keeps per repo a cursor for each part — scopes
``OWNER/NAME:pulls`` (latest ``updatedAt``), ``:deployments`` (latest ``createdAt``, or the oldest
still-running deployment so it is read again), ``:incidents`` (latest ``updatedAt``), ``:history``
(the head commit) — and, on scope ``OWNER/NAME``, the chosen signal, ETags and flags. A run reads
newest-first and stops at the cursor; rows, chain, links and cursors of a repo are written in one
short transaction after its pages are read, so a killed run loses nothing and a re-run duplicates
nothing. A re-sync with nothing new costs one GraphQL request per repository (REST reads are
conditional: a 304 does not count against the rate limit).

Modules: ``settings`` ([sources.github] validated), ``queries`` (GraphQL text), ``model`` (ids, rows,
results), ``chain`` (the first-parent walk, attribution and off-chain compares), ``rest`` (REST
paging and the workflow-runs listing), ``workflow`` (deployments from a deploy workflow's runs),
``fetch`` (one repository's pages), ``actions`` (GitHub Actions runs and jobs), ``write`` (one
repository's transaction) and ``sync`` (the run over every repository).
"""

from collectors.github.model import PROGRESS_STATES, SOURCE, ProgressFn, SyncReport
from collectors.github.settings import CONFIG_KEYS, REPO_KEYS, GitHubSettings, RepoSettings
from collectors.github.sync import make_client, resolve_repos, sync

__all__ = ["CONFIG_KEYS", "PROGRESS_STATES", "REPO_KEYS", "SOURCE", "GitHubSettings", "ProgressFn",
           "RepoSettings", "SyncReport", "make_client", "resolve_repos", "sync"]
