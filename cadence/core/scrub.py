"""Secrets out of every message: the one scrubber that errors, logs and pages go through.

An upstream error can quote the request it refused, Authorization header included (a proxy, a
debug build, a WAF page), and that text becomes an exception message, a log line, a
``sync_state.last_error`` and a line on the Data health page. ``scrub(text)`` replaces in it

* the value of every secret environment variable that is set: the names in ``SECRET_ENV``, every
  name registered with ``register_secret_env`` (a source's ``token_env``, a future source's
  password), and every name read through ``cadence.core.config.secret``;
* anything shaped like a credential, configured or not: an Authorization (or Private-Token,
  X-Api-Key, Cookie) header's value, a bearer, basic or ``token`` credential, ``token=``,
  ``password=``, ``client_secret=``-style parameters, the password in ``scheme://user:pass@host``,
  GitHub/GitLab/Slack token shapes, JWTs and Slack webhook URLs;

with ``[redacted]``. Where it is applied: ``CadenceError`` messages as they are made,
``warehouse.state.record_sync_error``, the CLI's error printer, every log record (a LogRecord
factory installed by ``install_log_scrubber``, so any handler sees scrubbed text), and the
dashboard's error display. A new source registers its variable here (or reads it with
``cadence.core.config.secret``) and is covered everywhere.

Data (titles, names) is not pattern-scrubbed, only value-scrubbed (``redact_values``): a pull
request titled "Fix Authorization: header parsing" is not a secret.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterable

REDACTED = "[redacted]"
# Every secret Cadence reads from the environment. Sources add theirs with register_secret_env.
SECRET_ENV = ("GITHUB_TOKEN", "PAGERDUTY_TOKEN", "CADENCE_WEBHOOK_TOKEN", "GITHUB_APP_PRIVATE_KEY",
              "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "PROMETHEUS_TOKEN", "PROMETHEUS_PASSWORD",
              "GITLAB_TOKEN")
MIN_SECRET_CHARS = 8   # a shorter value would redact ordinary words

_registered: dict[str, None] = dict.fromkeys(SECRET_ENV)   # insertion-ordered set
_lock = threading.Lock()


def register_secret_env(*names: str) -> None:
    """Treat the values of these environment variables as secrets from now on (idempotent)."""
    with _lock:
        for name in names:
            _registered.setdefault(name, None)


def secret_env_names() -> tuple[str, ...]:
    with _lock:
        return tuple(_registered)


def secret_values(names: Iterable[str] | None = None) -> list[str]:
    """The set values of the secret variables (and of their lines, for a multi-line key, and the
    ``\\n``-escaped form it may be given in), longest first so no part is left behind."""
    values: set[str] = set()
    for name in (secret_env_names() if names is None else names):
        value = os.environ.get(name, "").strip()
        if len(value) < MIN_SECRET_CHARS:
            continue
        values.add(value)
        if "\n" in value:
            values.add(value.replace("\n", "\\n"))
            values.update(line.strip() for line in value.splitlines() if len(line.strip()) >= 16)
    return sorted(values, key=len, reverse=True)


def redact_values(text: str, values: Iterable[str] | None = None) -> str:
    """``text`` with every secret value replaced; no patterns (for data cells)."""
    for value in (secret_values() if values is None else values):
        if value in text:
            text = text.replace(value, REDACTED)
    return text


def _looks_secret(word: str) -> bool:
    """A credential rather than a word: long, and with digits, or mixed case and longer still."""
    if len(word) < MIN_SECRET_CHARS or word[0] in "$<{%[":
        return False
    has_digit = any(c.isdigit() for c in word)
    has_alpha = any(c.isalpha() for c in word)
    mixed = any(c.isupper() for c in word) and any(c.islower() for c in word)
    return has_alpha and (has_digit or (mixed and len(word) >= 16))


# Header values: to the end of the quoted string or the line; the scheme word stays readable.
_HEADER = re.compile(
    r"""(?i)(\b(?:proxy-)?authorization|\bprivate-token|\bx-api-key|\bx-auth-token|\bapi[-_]key|\bset-cookie|\bcookie)"""
    r"""((?:\\?["'])?[ \t]*[:=][ \t]*(?:\\?["'])?)"""
    r"""((?:bearer|token|basic|digest|apikey)[ \t]+)?"""
    r"""((?![ \t])(?!(?:bearer|token|basic|digest|apikey)[ \t]+[$<{%\[])(?![$<{%\[])[^"'\\\r\n]+)""")
# A credential after a scheme word, anywhere (only when it looks like one: "basic authentication"
# stays).
_SCHEME = re.compile(r"(?i)\b(bearer|token|basic)([ \t]+|=)([A-Za-z0-9._~+/=:-]{8,})")
# Parameters that carry a secret: in a query string, a form body, a config dump.
_PARAM = re.compile(
    r"""(?i)(\b(?:access_token|refresh_token|id_token|private_token|auth_token|token|api_key|apikey|"""
    r"""client_secret|password|passwd|pwd|secret|x-amz-signature|x-amz-security-token)"""
    r"""|[?&;](?:key|sig|signature|code))"""
    r"""(["']?[ \t]*[=:][ \t]*["']?)((?![$<{%\[])[^&\s"'<>#,;)\]}]+)""")
# The password of credentials in a URL: scheme://user:password@host
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]{0,31}://[^/\s:@'\"]{0,256}:)([^/\s@'\"]{1,256})(@)")
# Shapes that are secrets whatever surrounds them.
_SHAPES = re.compile(
    r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|glpat-[A-Za-z0-9_-]{20,}"
    r"|xox[abposr]-[A-Za-z0-9-]{10,}|eyJ[A-Za-z0-9_-]{8,4096}\.[A-Za-z0-9_-]{8,4096}\.[A-Za-z0-9_-]{8,4096})"
    r"|https://hooks\.slack\.com/services/[A-Za-z0-9/_-]+")


def _sub_header(m: re.Match) -> str:
    return f"{m.group(1)}{m.group(2)}{m.group(3) or ''}{REDACTED}"


def _sub_scheme(m: re.Match) -> str:
    return f"{m.group(1)}{m.group(2)}{REDACTED}" if _looks_secret(m.group(3)) else m.group(0)


def _sub_param(m: re.Match) -> str:
    # "token=VALUE" always carries a value; "token: WORDS" is as often prose (Cadence's own
    # "sources.gitlab.token: secrets do not belong ...") as a dump, so after a colon only a value
    # that looks like a credential goes (configured secrets are replaced by value before this).
    if "=" not in m.group(2) and not _looks_secret(m.group(3)):
        return m.group(0)
    return f"{m.group(1)}{m.group(2)}{REDACTED}"


def scrub(text: str) -> str:
    """``text`` with every secret value and every credential-shaped part replaced by ``[redacted]``."""
    if not text:
        return text
    text = redact_values(text)
    text = _SHAPES.sub(REDACTED, text)
    text = _HEADER.sub(_sub_header, text)
    text = _USERINFO.sub(lambda m: f"{m.group(1)}{REDACTED}{m.group(3)}", text)
    text = _PARAM.sub(_sub_param, text)
    return _SCHEME.sub(_sub_scheme, text)


# -- logging ---------------------------------------------------------------------------------------

def scrub_record(record: logging.LogRecord) -> logging.LogRecord:
    """Scrub one log record in place: its message, exception and stack text. A record with nothing
    to scrub is left as it is; otherwise its string arguments are scrubbed one by one, so formatters
    that read ``args`` (uvicorn's access log) keep working, and only when that is not enough is the
    message merged with its arguments and scrubbed as a whole."""
    try:
        message = record.getMessage()
    except Exception:  # a record whose arguments do not fit its format: leave it to the handler
        return record
    if scrub(message) != message:
        _scrub_message(record, message)
    if record.exc_info and not record.exc_text:
        record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
    elif record.exc_text:
        record.exc_text = scrub(record.exc_text)
    if record.stack_info:
        record.stack_info = scrub(record.stack_info)
    return record


def _scrub_message(record: logging.LogRecord, message: str) -> None:
    msg, args = record.msg, record.args
    if isinstance(msg, str) and isinstance(args, tuple):
        record.msg = scrub(msg)
        record.args = tuple(scrub(a) if isinstance(a, str) else a for a in args)
        try:
            again = record.getMessage()
            if scrub(again) == again:
                return
        except Exception:
            pass
    record.msg, record.args = scrub(message), None


class ScrubFilter(logging.Filter):
    """A filter for a handler that may receive records made before the factory was installed."""

    def filter(self, record: logging.LogRecord) -> bool:
        scrub_record(record)
        return True


_installed = False


def install_log_scrubber() -> None:
    """Scrub every log record as it is made, whichever logger makes it and whichever handler
    writes it (stderr, a file, Streamlit's, pytest's). Idempotent."""
    global _installed
    with _lock:
        if _installed:
            return
        make = logging.getLogRecordFactory()

        def scrubbed_record(*args, **kwargs) -> logging.LogRecord:
            return scrub_record(make(*args, **kwargs))

        logging.setLogRecordFactory(scrubbed_record)
        _installed = True
