"""The four senders: Slack (Block Kit through slack_sdk's WebhookClient), Microsoft Teams (an
Adaptive Card to an incoming webhook), e-mail (multipart text + HTML over SMTP, attachments) and a
generic webhook (JSON signed with HMAC-SHA256).

Every send is retried with exponential back-off (tenacity) on any failure to deliver: the channel
unreachable, an HTTP answer other than 2xx (a 4xx included, as a proxy or a rate limit answers
that way too), an SMTP refusal. A channel that cannot be sent to at all (its variable unset, no
signing key) fails at once without retrying. Failures become ``DeliveryError`` with a message that
never quotes the webhook URL (only its variable's name): exceptions from HTTP libraries repeat the
URL's path, which is the secret part of a Slack or Teams webhook.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from tenacity import RetryError, Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from cadence.core.errors import NotifyError
from cadence.notify.render import dumps
from cadence.core.settings.notify import SIGNING_KEY_ENV, Channel, NotifySettings

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 15
MAX_WAIT_SECONDS = 60
SIGNATURE_HEADER = "X-Cadence-Signature"
EVENT_HEADER = "X-Cadence-Event"
DELIVERY_HEADER = "X-Cadence-Delivery"
USER_AGENT = "Cadence-notify/1"


@dataclass
class Message:
    """One thing to send, rendered for every channel kind."""

    kind: str                 # digest / alert / test
    subject: str              # e-mail subject and log line
    text: str
    html: str
    slack: dict
    teams: dict
    payload: dict             # the webhook JSON (webhook.schema.json)
    attachments: dict[str, bytes] = field(default_factory=dict)   # e-mail only: file name -> CSV


class DeliveryError(NotifyError):
    """A channel did not take the message after every attempt; ``attempts`` says how many."""

    def __init__(self, message: str, attempts: int = 0):
        super().__init__(message)
        self.attempts = attempts


class _Transient(Exception):
    """One failed attempt; retried."""


def sign(body: bytes, key: str) -> str:
    """The signature header's value: ``sha256=`` and the hex HMAC-SHA256 of the body."""
    return "sha256=" + hmac.new(key.encode("utf-8"), body, hashlib.sha256).hexdigest()


def _http_failure(what: str, status: int, body: str) -> _Transient:
    return _Transient(f"{what} answered HTTP {status}: {body.strip()[:200] or '(empty body)'}")


def _send_slack(channel: Channel, message: Message, delivery_id: str) -> None:
    from slack_sdk.webhook import WebhookClient

    # No retry handlers of the SDK's own: retries live in one place (send, below).
    client = WebhookClient(channel.url(), timeout=TIMEOUT_SECONDS, retry_handlers=[])
    try:
        response = client.send(text=message.slack["text"], blocks=message.slack["blocks"],
                               headers={"User-Agent": USER_AGENT})
    except Exception as exc:  # urllib's URLError, timeouts, a refused connection
        raise _Transient(f"Slack could not be reached ({type(exc).__name__})") from None
    if response.status_code != 200:
        raise _http_failure("Slack", response.status_code, str(response.body or ""))


def _post(channel: Channel, body: bytes, headers: dict[str, str], what: str) -> None:
    import requests

    try:
        response = requests.post(channel.url(), data=body, timeout=TIMEOUT_SECONDS,
                                 headers={"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers})
    except requests.RequestException as exc:
        raise _Transient(f"{what} could not be reached ({type(exc).__name__})") from None
    if not 200 <= response.status_code < 300:
        raise _http_failure(what, response.status_code, response.text)


def _send_teams(channel: Channel, message: Message, delivery_id: str) -> None:
    _post(channel, dumps(message.teams), {}, "Teams")


def signing_key() -> str:
    key = os.environ.get(SIGNING_KEY_ENV, "").strip()
    if not key:
        raise NotifyError(f"{SIGNING_KEY_ENV} is not set: webhook notifications are signed with it (HMAC-SHA256); "
                          "set it to a long random string that the receiver also knows.")
    return key


def _send_webhook(channel: Channel, message: Message, delivery_id: str) -> None:
    body = dumps(message.payload)
    _post(channel, body, {SIGNATURE_HEADER: sign(body, signing_key()), EVENT_HEADER: message.kind,
                          DELIVERY_HEADER: delivery_id}, "The webhook")


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    sender: str
    starttls: bool
    user: str | None
    password: str | None


def smtp_settings(environ=os.environ) -> SmtpSettings:
    """CADENCE_SMTP_HOST, _PORT (default 587 with STARTTLS, else 25), _FROM, _STARTTLS (true/false,
    default true), and _USER with _PASSWORD (no AUTH when unset)."""
    host = environ.get("CADENCE_SMTP_HOST", "").strip()
    sender = environ.get("CADENCE_SMTP_FROM", "").strip()
    if not host or not sender:
        missing = " and ".join(n for n, v in (("CADENCE_SMTP_HOST", host), ("CADENCE_SMTP_FROM", sender)) if not v)
        raise NotifyError(f"{missing} {'is' if ' and ' not in missing else 'are'} not set: e-mail channels need the "
                          "SMTP server and the sender address (docs/notify.md, \"E-mail\").")
    raw_tls = environ.get("CADENCE_SMTP_STARTTLS", "true").strip().lower()
    if raw_tls not in ("true", "false", "1", "0", "yes", "no"):
        raise NotifyError(f'CADENCE_SMTP_STARTTLS="{raw_tls}" is not true or false; set it to true (the default) or '
                          "false (a relay on this machine only).")
    starttls = raw_tls in ("true", "1", "yes")
    raw_port = environ.get("CADENCE_SMTP_PORT", "").strip()
    try:
        port = int(raw_port) if raw_port else (587 if starttls else 25)
        if not 0 < port < 65536:
            raise ValueError
    except ValueError:
        raise NotifyError(f'CADENCE_SMTP_PORT="{raw_port}" is not a port number; set it to e.g. 587.') from None
    user = environ.get("CADENCE_SMTP_USER", "").strip() or None
    password = environ.get("CADENCE_SMTP_PASSWORD", "") or None
    if bool(user) != bool(password):
        raise NotifyError("Set both CADENCE_SMTP_USER and CADENCE_SMTP_PASSWORD (to log in to the SMTP server) or "
                          "neither (no AUTH).")
    return SmtpSettings(host, port, sender, starttls, user, password)


def build_email(channel: Channel, message: Message, sender: str, delivery_id: str) -> EmailMessage:
    mail = EmailMessage()
    mail["Subject"] = message.subject
    mail["From"] = sender
    mail["To"] = ", ".join(channel.to)
    mail["Date"] = formatdate(usegmt=True)
    mail["Message-ID"] = make_msgid(idstring=delivery_id[:16], domain="cadence.local")
    mail.set_content(message.text)
    mail.add_alternative(message.html, subtype="html")
    for name, data in message.attachments.items():
        mail.add_attachment(data, maintype="text", subtype="csv", filename=name)
    return mail


def _send_email(channel: Channel, message: Message, delivery_id: str) -> None:
    smtp = smtp_settings()
    mail = build_email(channel, message, smtp.sender, delivery_id)
    try:
        with smtplib.SMTP(smtp.host, smtp.port, timeout=TIMEOUT_SECONDS) as server:
            if smtp.starttls:
                server.starttls(context=ssl.create_default_context())
            if smtp.user:
                server.login(smtp.user, smtp.password or "")
            refused = server.send_message(mail)
    except smtplib.SMTPAuthenticationError as exc:
        raise _Transient(f"the SMTP server refused the login ({exc.smtp_code}); check CADENCE_SMTP_USER and "
                         "CADENCE_SMTP_PASSWORD") from None
    except smtplib.SMTPException as exc:
        raise _Transient(f"the SMTP server refused the message: {exc}"[:300]) from None
    except OSError as exc:
        raise _Transient(f"the SMTP server {smtp.host}:{smtp.port} could not be reached ({type(exc).__name__})") from None
    if refused:
        raise _Transient(f"the SMTP server refused {len(refused)} recipient(s): {', '.join(sorted(refused))}")


SENDERS = {"slack": _send_slack, "teams": _send_teams, "email": _send_email, "webhook": _send_webhook}


def send(channel: Channel, message: Message, settings: NotifySettings, delivery_id: str) -> int:
    """Deliver ``message`` to ``channel``, retrying with back-off; returns the attempts it took.
    Raises DeliveryError after the last attempt, NotifyError at once when the channel is not set up."""
    sender = SENDERS[channel.kind]
    attempts = 0
    retrying = Retrying(stop=stop_after_attempt(settings.retries),
                        wait=wait_exponential(multiplier=settings.retry_wait_seconds, max=MAX_WAIT_SECONDS),
                        retry=retry_if_exception_type(_Transient), reraise=False)
    try:
        for attempt in retrying:
            with attempt:
                attempts = attempt.retry_state.attempt_number
                try:
                    sender(channel, message, delivery_id)
                except _Transient as exc:
                    log.warning("notify %s to %s: attempt %d of %d failed: %s", message.kind, channel.name,
                                attempts, settings.retries, exc)
                    raise
    except RetryError as exc:
        last = exc.last_attempt.exception()
        raise DeliveryError(f'channel "{channel.name}" ({channel.kind}): {last}; gave up after {attempts} '
                            f"attempt{'s' if attempts != 1 else ''}", attempts) from None
    log.info("notify %s sent to %s (%s) in %d attempt(s)", message.kind, channel.name, channel.kind, attempts)
    return attempts
