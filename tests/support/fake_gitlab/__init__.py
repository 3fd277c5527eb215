"""A fake GitLab for tests and benchmarks: REST v4 + GraphQL over an in-memory model."""

from tests.support.fake_gitlab.model import Project, ts
from tests.support.fake_gitlab.server import FakeGitLab, Fault, hang, passthrough, server_error, too_many_requests

__all__ = ["FakeGitLab", "Fault", "Project", "hang", "passthrough", "server_error", "too_many_requests", "ts"]
