"""A real OpenID Connect provider on 127.0.0.1 for the sign-in tests: ``oidc-provider-mock`` (its
Flask app, served by werkzeug in a thread), started once per test session.

It implements discovery, the authorization-code flow with a form to pick the user (type the
``sub`` and press "Authorize"), the token endpoint (RS256 ID tokens), userinfo and RP-initiated
logout. Any client id and secret are accepted. Users and their claims are set through its HTTP
API: ``PUT /users/<sub>`` with the claims as JSON.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

import pytest


@dataclass(frozen=True)
class Provider:
    issuer: str  # http://127.0.0.1:PORT (the provider names itself after the Host it is asked on)

    def set_user(self, sub: str, **claims: object) -> None:
        """Create or replace the user ``sub`` with these ID-token claims (email, email_verified, name...)."""
        request = urllib.request.Request(f"{self.issuer}/users/{sub}", data=json.dumps(claims).encode(),
                                         method="PUT", headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 204, response.status


def start_provider() -> tuple[Provider, object, threading.Thread]:
    import oidc_provider_mock
    import werkzeug.serving

    server = werkzeug.serving.make_server("127.0.0.1", 0, oidc_provider_mock.app(), threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True,
                              name="oidc-provider")
    thread.start()
    return Provider(issuer=f"http://127.0.0.1:{server.server_port}"), server, thread


@pytest.fixture(scope="session")
def oidc_provider() -> Iterator[Provider]:
    provider, server, thread = start_provider()
    try:
        yield provider
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
