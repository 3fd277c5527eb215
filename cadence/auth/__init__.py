"""Sign-in for a shared deployment: OpenID Connect through Streamlit's ``st.login``, an allow-list
and two roles (``cost``, ``admin``) from ``[auth]`` in cadence.toml.

- ``settings``: the ``[auth]`` section (who may enter, who holds which role), validated.
- ``roles``: pure decisions: may this signed-in user enter, with which roles, is the sign-in too old.
- ``oidc``: the five environment variables that name the provider, and what Streamlit needs of them.
- ``launch``: ``cadence dashboard``'s part: refuse an open non-loopback server, write Streamlit's
  secrets file privately for the life of the server.
- ``audit``: one log line per sign-in, refusal and sign-out (an e-mail and a time, never a token).
- ``gate``: the dashboard's part (imports Streamlit): the sign-in screen, the refusal, the roles of
  this run for pages to ask (``cadence.dashboard.ui.can_see_costs``).

Nothing here is imported by collectors, the warehouse or metrics.
"""
