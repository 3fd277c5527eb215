"""The two fixtures every module testing against a fake forge (tests/support/fake_github,
tests/support/fake_gitlab) uses: ``server``, one running fake per module, and ``fake``, that server
emptied for one test with the token variable set; after the test, ``fake`` checks that the real
service would have accepted every GraphQL query the collector sent.

    server, fake = fake_forge_fixtures(FakeGitHub, "GITHUB_TOKEN", "GitHub")
"""

from __future__ import annotations

from datetime import datetime

import pytest

TOKEN = "test-token"   # the token both fakes accept unless a test says otherwise


def fake_forge_fixtures(service_class, token_env: str, label: str):
    """(server, fake) fixtures for ``service_class``; assign them to those names in the test module."""
    @pytest.fixture(scope="module", name="server")
    def server_fixture():
        with service_class() as fake:
            yield fake

    @pytest.fixture(name="fake")
    def fake_fixture(server, monkeypatch):
        server.reset()
        monkeypatch.setenv(token_env, TOKEN)
        yield server
        assert not server.invalid_queries, f"{label} would reject: {server.invalid_queries[0][1]}"

    return server_fixture, fake_fixture


# The fakes' scenarios are set in March 2026; a sync against them runs as of this time.
NOW = datetime(2026, 3, 20, 12, 0)


def sync_github(db_path, config, now: datetime = NOW, **kw):
    """``collectors.github.sync`` against a fake, with test-speed retries (1 s secondary wait, tiny backoff)."""
    from collectors.github import GitHubSettings, make_client, sync

    client = make_client(GitHubSettings.from_config(config), backoff_factor=0.01, secondary_rate_wait=1, retries=4)
    try:
        return sync(db_path, config, client=client, now=now, **kw)
    finally:
        client.close()


def sync_gitlab(db_path, config, now: datetime = NOW, **kw):
    """``collectors.gitlab.sync`` against a fake, with test-speed retries."""
    from collectors.gitlab import sync
    from collectors.gitlab.sync import make_client, settings_of

    client = make_client(settings_of(config), retries=3)
    try:
        return sync(db_path, config, client=client, now=now, **kw)
    finally:
        client.close()
