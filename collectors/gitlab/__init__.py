"""GitLab → ``changes``, ``deployments``, ``deployment_changes``, ``incidents``, ``pipeline_runs``,
``pipeline_jobs``.

API: GitLab REST v4 and GraphQL (``base_url``: https://gitlab.com or any self-managed instance),
through python-gitlab (``client.py``: counting, bounded rate-limit waits, errors that say what to do).

Per project (``fetch.py``):

* the project (REST ``GET /projects/:path``, conditional with ``If-None-Match``): id, default
  branch, archived, moved (GitLab redirects an old path to the new project);
* one GraphQL query per round carries a page of each part that still needs one: the environments
  (name, tier), merge requests merged into the default branch (``updatedAfter`` cursor, ascending,
  with their first notes and the two ends of their commit list: first commit, first review), and
  issues of type incident (and ``incident_label``); a merge request squashed and fast-forwarded costs
  one REST list per 100 for its squash commit; one whose first 20 notes hold no review costs a notes
  query;
* deployments (REST ``/projects/:id/deployments``, per production environment, ``updated_after``
  cursor, ascending), or published releases when the project has no production environment;
* which merge requests a successful production deployment shipped: GitLab's own record (GraphQL
  ``mergeRequests(deploymentId:)``, 20 deployments a query), else the commit range since the
  environment's previous successful deployment (REST ``repository/compare``);
* CI pipelines updated since the cursor (REST ``/projects/:id/pipelines``) with their jobs, retried
  ones included (the keyset-paginated ``/projects/:id/jobs``, or per pipeline when cheaper):
  ``pipelines.py``.

Incremental: ``sync_state`` (source ``gitlab``) keeps per project a cursor per part (scopes
``GROUP/PROJECT:merge_requests``, ``:incidents``, ``:deployments:ENV`` or ``:releases``,
``:pipelines``) and, on scope ``GROUP/PROJECT``, the project's id with ``details`` (ETag,
environments, default branch, flags, the objects read at each cursor's instant). A re-sync with nothing new costs 4 requests per project. Rows,
links and cursors of a project are written in one transaction after its pages are read.
"""

from collectors.gitlab.fetch import PARTS, Part
from cadence.core.settings.gitlab import GitLabSettings, ProjectSettings, parse_settings
from collectors.gitlab.sync import SyncReport, make_client, settings_of, sync

__all__ = ["PARTS", "GitLabSettings", "Part", "ProjectSettings", "SyncReport", "make_client", "parse_settings",
           "settings_of", "sync"]
