"""Notifications (issue 19): the weekly digest and threshold alerts, pushed to Slack, Microsoft
Teams, e-mail and any webhook.

- ``settings``: the ``[notify]`` section of cadence.toml (channels, digest routing, alert rules),
  validated when the config loads; secrets (webhook URLs, SMTP password, signing key) come from
  environment variables only and are registered with ``cadence.core.scrub``.
- ``digest``: the week's figures per team (or the organisation) as a plain ``Digest``.
- ``render``: one ``Digest`` or alert as plain text, HTML, Slack Block Kit, a Teams Adaptive Card
  and the published webhook JSON (``webhook.schema.json``).
- ``channels``: the four senders, with retries (tenacity) and one error type.
- ``alerts``: the rules, evaluated on a read-only connection.
- ``state``: the alert state and the delivery log in the warehouse (migration 006).
- ``service``: what ``cadence notify digest|check|test`` run, as library functions.
"""
