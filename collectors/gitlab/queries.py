"""GraphQL documents the GitLab collector sends (field names per GitLab's GraphQL reference,
docs.gitlab.com/api/graphql/reference). Values always travel as variables, never in the text."""

from __future__ import annotations

NOTES_FIRST = 20          # notes read with each merge request; more only when none of them is a review

_MR_FIELDS = """
fragment CadenceMergeRequest on MergeRequest {
  iid title webUrl createdAt updatedAt mergedAt targetBranch
  mergeCommitSha diffHeadSha squashOnMerge
  author { username }
  labels(first: 20) { nodes { title } }
  oldestEnd: commitsWithoutMergeCommits(last: 1) { nodes { authoredDate } }
  newestEnd: commitsWithoutMergeCommits(first: 1) { nodes { authoredDate } }
  notes(first: $notesFirst) {
    pageInfo { hasNextPage endCursor }
    nodes { ...CadenceNote }
  }
}
"""

_NOTE_FIELDS = """
fragment CadenceNote on Note { system body createdAt author { username } }
"""

_ISSUE_FIELDS = """
fragment CadenceIssue on Issue {
  iid title webUrl createdAt updatedAt closedAt state severity
  labels(first: 20) { nodes { title } }
}
"""

# One request carries a page of every part of a project that still needs one; each part is switched
# on or off with @include, so a project costs as many requests as its longest part has pages.
PROJECT_QUERY = """
query CadenceProjectPage(
  $fullPath: ID!, $branches: [String!],
  $withEnvs: Boolean!, $envAfter: String,
  $withMrs: Boolean!, $mrFirst: Int!, $mrAfter: String, $mrSince: Time, $notesFirst: Int!,
  $withIncidents: Boolean!, $issueFirst: Int!, $incAfter: String, $incSince: Time,
  $withLabelled: Boolean!, $labAfter: String, $labels: [String]
) {
  project(fullPath: $fullPath) {
    fullPath
    environments(first: 100, after: $envAfter, states: ["available", "stopping", "stopped"])
        @include(if: $withEnvs) {
      pageInfo { hasNextPage endCursor }
      nodes { name tier }
    }
    mergeRequests(state: merged, targetBranches: $branches, updatedAfter: $mrSince, sort: UPDATED_ASC,
                  first: $mrFirst, after: $mrAfter) @include(if: $withMrs) {
      pageInfo { hasNextPage endCursor }
      nodes { ...CadenceMergeRequest }
    }
    incidents: issues(types: [INCIDENT], updatedAfter: $incSince, sort: UPDATED_ASC, first: $issueFirst,
                      after: $incAfter) @include(if: $withIncidents) {
      pageInfo { hasNextPage endCursor }
      nodes { ...CadenceIssue }
    }
    labelled: issues(labelName: $labels, updatedAfter: $incSince, sort: UPDATED_ASC, first: $issueFirst,
                     after: $labAfter) @include(if: $withLabelled) {
      pageInfo { hasNextPage endCursor }
      nodes { ...CadenceIssue }
    }
  }
}
""" + _MR_FIELDS + _NOTE_FIELDS + _ISSUE_FIELDS

# The rest of one merge request's notes, when its first NOTES_FIRST hold no review.
NOTES_QUERY = """
query CadenceMergeRequestNotes($fullPath: ID!, $iid: String!, $after: String) {
  project(fullPath: $fullPath) {
    mergeRequest(iid: $iid) {
      notes(first: 100, after: $after) {
        pageInfo { hasNextPage endCursor }
        nodes { ...CadenceNote }
      }
    }
  }
}
""" + _NOTE_FIELDS

GROUP_PROJECTS_QUERY = """
query CadenceGroupProjects($fullPath: ID!, $subgroups: Boolean!, $after: String) {
  group(fullPath: $fullPath) {
    projects(includeSubgroups: $subgroups, first: 100, after: $after) {
      pageInfo { hasNextPage endCursor }
      nodes { fullPath archived }
    }
  }
}
"""


def deployed_merge_requests_query(count: int) -> str:
    """The merge requests GitLab recorded as shipped by ``count`` deployments, one aliased
    ``mergeRequests(deploymentId:)`` connection each (``$d0``.. ``$dN`` hold the deployment ids,
    ``$a0``.. the cursors when one deployment shipped more than a page)."""
    params = ", ".join(f"$d{i}: String!, $a{i}: String" for i in range(count))
    fields = "\n".join(
        f"    d{i}: mergeRequests(deploymentId: $d{i}, first: 100, after: $a{i}) "
        "{ pageInfo { hasNextPage endCursor } nodes { iid } }" for i in range(count))
    return (f"query CadenceDeployedMergeRequests($fullPath: ID!, {params}) {{\n"
            f"  project(fullPath: $fullPath) {{\n{fields}\n  }}\n}}\n")
