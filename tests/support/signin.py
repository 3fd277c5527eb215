"""Sign-in as the AppTest dashboard tests configure it: the OpenID environment the server keeps,
Streamlit's [auth] secrets, and a signed-in user as ``st.user`` presents one. The issuer is never
called (port 9): AppTest's ``user`` stands in for the provider's answer."""

from __future__ import annotations

import time

ENV = {"CADENCE_OIDC_ISSUER": "http://127.0.0.1:9", "CADENCE_OIDC_CLIENT_ID": "cadence",
       "CADENCE_PUBLIC_URL": "http://127.0.0.1:8501"}  # the server's environment keeps these three
SECRETS = {"auth": {"redirect_uri": "http://127.0.0.1:8501/oauth2callback", "cookie_secret": "c" * 40,
                    "client_id": "cadence", "client_secret": "s" * 20,
                    "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration"}}


def user(email: str, verified=True, issued: float | None = None) -> dict:
    """``st.user`` of someone signed in as ``email`` (the session issued at ``issued``, default now)."""
    return {"is_logged_in": True, "email": email, "email_verified": verified, "name": "Someone",
            "iat": int(time.time() if issued is None else issued), "sub": email}
