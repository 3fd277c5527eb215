"""A fake GitHub for tests and benchmarks: REST + GraphQL over an in-memory model."""

from tests.support.fake_github.model import Repo, ts
from tests.support.fake_github.server import (
    FakeGitHub,
    Fault,
    echo_headers,
    graphql_partial,
    primary_exhausted,
    secondary_limit,
    server_error,
    too_many_requests,
)

__all__ = ["FakeGitHub", "Fault", "Repo", "echo_headers", "graphql_partial", "primary_exhausted", "secondary_limit",
           "server_error", "too_many_requests", "ts"]
