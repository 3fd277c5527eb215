"""Named exceptions. Library code raises these; the CLI turns them into one line and a non-zero
exit, pages into ``st.error``. Every message names the thing, the problem and the next step.

A message is scrubbed of secrets as the error is made (``cadence.core.scrub``): it may quote an upstream
answer that echoed the request's Authorization header, and it is printed, logged and stored."""

from cadence.core.scrub import scrub


class CadenceError(Exception):
    """Base class: a problem the user can act on (not a bug)."""

    def __init__(self, message: object = "", *args: object):
        super().__init__(scrub(str(message)), *args)


class ConfigError(CadenceError):
    """The configuration file is missing, unreadable or has a wrong key or value."""


class WarehouseError(CadenceError):
    """The database file cannot be opened, is not DuckDB, or stays locked."""


class DatabaseLockedError(WarehouseError):
    """The database file stayed locked by another writer for the whole lock wait."""


class IngestError(CadenceError):
    """An input file fails validation; nothing was written.

    ``problems`` holds the structured findings (``collectors.files.Problem``: line or record,
    column, reason) when there are any, for callers that answer in JSON (the webhook).
    """

    def __init__(self, message: str, problems=()):
        super().__init__(message)
        self.problems = list(problems)


class SourceError(CadenceError):
    """A collector's source failed (HTTP error, unexpected response)."""


class SourceAuthError(SourceError):
    """The token or credentials are missing, wrong or lack a permission."""


class SourceRateLimitError(SourceError):
    """The source's rate limit is exhausted for longer than we are willing to wait."""


class ExportError(CadenceError):
    """An export cannot be produced or written (bad week, unwritable directory, failed sync)."""


class NotifyError(CadenceError):
    """A notification cannot be built or sent: a channel's variable is unset, a channel refused it."""
