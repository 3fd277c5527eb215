"""The GraphQL text: one query for a page of every part of a repository, one for the rest of a pull
request's reviews (see the package docstring for how the parts are paged)."""

FIRST_REVIEWS = 10            # reviews read with each pull request

PERMISSION = {  # GraphQL field → the fine-grained permission that reads it
    "pullRequests": "Pull requests", "pullRequest": "Pull requests", "deployments": "Deployments",
    "environments": "Deployments", "issues": "Issues", "releases": "Contents",
    "defaultBranchRef": "Contents", "historyFrom": "Contents", "actions": "Actions",
}

_FRAGMENTS = """
fragment CadenceHistory on CommitHistoryConnection {
  pageInfo { hasNextPage endCursor }
  nodes { oid committedDate parents(first: 1) { nodes { oid } } }
}
fragment CadencePull on PullRequest {
  number title url createdAt updatedAt mergedAt baseRefName
  author { login }
  mergeCommit { oid committedDate parents(first: 1) { nodes { oid } } }
  labels(first: 20) { nodes { name } }
  commits(first: 1) { totalCount nodes { commit { authoredDate committedDate } } }
  reviews(first: %(reviews)d, states: [APPROVED, CHANGES_REQUESTED, COMMENTED, DISMISSED]) {
    totalCount nodes { author { login } submittedAt }
  }
}
""" % {"reviews": FIRST_REVIEWS}

REPO_QUERY = """
query CadenceRepoPage(
  $owner: String!, $name: String!,
  $withHead: Boolean!, $withHistory: Boolean!, $histHead: GitObjectID,
  $withPulls: Boolean!, $prFirst: Int!, $prAfter: String,
  $withDeployments: Boolean!, $depFirst: Int!, $depAfter: String, $envs: [String!],
  $withIssues: Boolean!, $issAfter: String, $label: String!, $issSince: DateTime,
  $withReleases: Boolean!, $relAfter: String
) {
  rateLimit { remaining limit resetAt cost }
  repository(owner: $owner, name: $name) {
    nameWithOwner name createdAt isArchived
    defaultBranchRef @include(if: $withHead) {
      name
      target { ... on Commit { oid history(first: 100) { ...CadenceHistory } } }
    }
    historyFrom: object(oid: $histHead) @include(if: $withHistory) {
      ... on Commit { history(first: 100) { ...CadenceHistory } }
    }
    pullRequests(states: [MERGED], first: $prFirst, after: $prAfter,
                 orderBy: {field: UPDATED_AT, direction: DESC}) @include(if: $withPulls) {
      pageInfo { hasNextPage endCursor }
      nodes { ...CadencePull }
    }
    deployments(first: $depFirst, after: $depAfter, environments: $envs,
                orderBy: {field: CREATED_AT, direction: DESC}) @include(if: $withDeployments) {
      pageInfo { hasNextPage endCursor }
      nodes {
        databaseId environment commitOid createdAt state
        latestStatus { state createdAt logUrl }
        statuses(first: 20) { nodes { state createdAt } }
      }
    }
    issues(first: 100, after: $issAfter, labels: [$label], filterBy: {since: $issSince},
           orderBy: {field: UPDATED_AT, direction: DESC}) @include(if: $withIssues) {
      pageInfo { hasNextPage endCursor }
      nodes {
        number title url createdAt updatedAt closedAt state stateReason
        labels(first: 20) { nodes { name } }
      }
    }
    releases(first: 100, after: $relAfter, orderBy: {field: CREATED_AT, direction: DESC})
        @include(if: $withReleases) {
      pageInfo { hasNextPage endCursor }
      nodes { databaseId tagName isDraft isPrerelease createdAt publishedAt url tagCommit { oid } }
    }
  }
}
""" + _FRAGMENTS

REVIEWS_QUERY = """
query CadenceReviews($owner: String!, $name: String!, $number: Int!, $after: String) {
  repository(owner: $owner, name: $name) {
    pullRequest(number: $number) {
      reviews(first: 100, after: $after, states: [APPROVED, CHANGES_REQUESTED, COMMENTED, DISMISSED]) {
        pageInfo { hasNextPage endCursor }
        nodes { author { login } submittedAt }
      }
    }
  }
}
"""


# -- configuration ------------------------------------------------------------------------------
