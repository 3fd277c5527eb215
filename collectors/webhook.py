"""The webhook receiver: CI/CD pipelines and incident tools push rows instead of being polled.

A Starlette app served by uvicorn (``cadence webhook``):

* ``POST /deployments``, ``POST /incidents``, ``POST /changes``, ``POST /sli``, ``POST /pipeline_runs``,
  ``POST /pipeline_jobs``: a JSON body holding
  one object or a list of objects with the columns of ``cadence ingest`` (docs/ingest.md). Validation and the
  write are ``collectors.files.ingest_records``, the same code as ``cadence ingest``: a bad body is
  a 422 naming what and where, and nothing is written; rows are upserted on their key (``id``;
  ``slo, hour`` for SLI hours; ``id, attempt`` for pipeline runs, ``run_id, attempt, name`` for jobs), so a pipeline that retries a post changes nothing. The limits of a
  JSON record (keys, nesting, a key given twice, NUL characters, lone surrogates) are the same
  rules too (docs/ingest.md).
* ``GET /healthz``: 200 when the process serves (no token needed, tells nothing about data).

Every POST needs ``Authorization: Bearer <token>``, compared in constant time with
``CADENCE_WEBHOOK_TOKEN``; without that variable the service does not start. Bodies are bounded
(``max_body_bytes``, 1 MiB by default; 413 beyond) and read only after the token checks out.

DuckDB allows one writer: each write is one short transaction through
``warehouse.write_connection``, which runs one write transaction at a time in this process (the
requests' checks run side by side in private in-memory DuckDBs) and waits for another process's lock
(a sync, ``cadence ingest``), so the receiver runs beside the dashboard and the collectors. A
database locked for longer than that wait gives 503 with ``Retry-After``.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import socket
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from cadence.core.config import Config, secret
from cadence.core.errors import CadenceError, ConfigError, IngestError, WarehouseError
from collectors.files import NOUNS

log = logging.getLogger(__name__)

TOKEN_ENV = "CADENCE_WEBHOOK_TOKEN"
DEFAULT_PORT = 8502
DEFAULT_HOST = "127.0.0.1"
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
MIN_TOKEN_LENGTH = 16
KINDS = ("deployments", "incidents", "changes", "sli", "pipeline_runs", "pipeline_jobs")
SOURCE_NAME = "webhook"

class _BodyTooLarge(Exception):
    pass


def require_token(env: str = TOKEN_ENV) -> str:
    """The webhook token from the environment, or a ConfigError saying how to set one."""
    token = secret(env)
    if not token:
        raise ConfigError(
            f"{env} is not set: the webhook refuses to start without a token. Generate one with "
            f"`python -c 'import secrets; print(secrets.token_urlsafe(32))'`, export it as {env}, "
            f"and give the same value to the pipelines that post.")
    if len(token) < MIN_TOKEN_LENGTH:
        raise ConfigError(f"{env} is shorter than {MIN_TOKEN_LENGTH} characters; use a long random "
                          f"token (e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`).")
    return token


def check_max_body_bytes(value, what: str = "max_body_bytes") -> int:
    """``value`` when it is a whole number of bytes ≥ 1024, else a ConfigError naming ``what``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1024:
        raise ConfigError(f"{what}: must be a whole number of bytes ≥ 1024, got {value!r}")
    return value


def max_body_bytes_from(config: Config) -> int:
    """``[sources.webhook] max_body_bytes`` validated, else 1 MiB."""
    value = config.source("webhook").get("max_body_bytes", DEFAULT_MAX_BODY_BYTES)
    where = f"{config.path}: " if config.path else ""
    return check_max_body_bytes(value, f"{where}sources.webhook.max_body_bytes")


def _error(status: int, message: str, **headers: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers or None)


def _authorized(request: Request, expected: bytes) -> str | None:
    """None when the bearer token matches; else why not (never echoing what was sent)."""
    header = request.headers.get("authorization")
    if not header:
        return "missing Authorization header; send `Authorization: Bearer $CADENCE_WEBHOOK_TOKEN`"
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        return "Authorization must be `Bearer <token>`"
    if not hmac.compare_digest(given.strip().encode(), expected):
        return "invalid token; use the value of CADENCE_WEBHOOK_TOKEN on the receiving host"
    return None


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise _BodyTooLarge
    body = bytearray()
    async for chunk in request.stream():  # a chunked body has no length up front: count as we go
        body += chunk
        if len(body) > limit:
            raise _BodyTooLarge
    return bytes(body)


def _parse(body: bytes, kind: str) -> list[dict] | str:
    """The records of a body, or a message saying what is wrong and where.

    The record rules themselves (keys, nesting, text) are ``collectors.files``'; here the body is
    only measured before Python's recursive parser sees it, and a key given twice is kept twice
    (``keep_repeated_keys``) so that those rules see it."""
    from collectors.files import MAX_NESTING, NESTING_REASON, json_nesting_exceeds, keep_repeated_keys

    if not body.strip():
        return f"empty body; POST one {NOUNS.get(kind, kind[:-1])} object or a list of them as JSON"
    try:
        text = body.decode(json.detect_encoding(body), "surrogatepass")   # as json.loads(bytes)
    except UnicodeDecodeError:
        return "body is not UTF-8 text"
    if json_nesting_exceeds(text, MAX_NESTING + (1 if text.lstrip().startswith("[") else 0)):  # + the list
        return f"body is {NESTING_REASON}"
    try:
        data = json.loads(text, object_pairs_hook=keep_repeated_keys)
    except json.JSONDecodeError as exc:
        return f"body is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
    except RecursionError:   # measured above; kept so that no body can turn into a 500
        return f"body is {NESTING_REASON}"
    records = [data] if isinstance(data, dict) else data
    if not isinstance(records, list):
        return f"body must be a JSON object or a list of objects, got {type(data).__name__}"
    for n, rec in enumerate(records, start=1):
        if not isinstance(rec, dict):
            return f"record {n}: must be a JSON object with the {kind} columns, got {type(rec).__name__}"
    return records


def _write(db_path: Path, kind: str, records: list[dict]):
    from collectors.files import ingest_records  # the one validator, shared with `cadence ingest`

    return ingest_records(db_path, kind, records, source_name=SOURCE_NAME)   # writes one at a time


def create_app(db_path: str | os.PathLike, token: str, *,
               max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> Starlette:
    """The ASGI app writing to ``db_path``; ``token`` is what every POST must present."""
    if not token:
        raise ConfigError(f"{TOKEN_ENV} is not set: the webhook refuses to start without a token.")
    check_max_body_bytes(max_body_bytes)
    db_path = Path(db_path)
    expected = token.encode()

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def receive(request: Request) -> JSONResponse:
        kind = request.url.path.strip("/")
        problem = _authorized(request, expected)
        if problem:
            return _error(401, problem, **{"WWW-Authenticate": 'Bearer realm="cadence"'})
        try:
            body = await _read_body(request, max_body_bytes)
        except _BodyTooLarge:
            return _error(413, f"body larger than {max_body_bytes} bytes; post fewer records per "
                               f"request (or raise sources.webhook.max_body_bytes)")
        except ClientDisconnect:
            return _error(400, "client disconnected before the body was complete")
        parsed = _parse(body, kind)
        if isinstance(parsed, str):
            return _error(422, f"{kind}: {parsed}; nothing was written")
        try:
            result = await run_in_threadpool(_write, db_path, kind, parsed)
        except IngestError as exc:
            problems = [{"record": p.row + 1 if p.row is not None else None, "column": p.column,
                         "reason": p.reason} for p in exc.problems]
            return JSONResponse({"error": str(exc), "problems": problems},  # says nothing was written
                                status_code=422)
        except WarehouseError as exc:
            log.warning("webhook %s: warehouse unavailable: %s", kind, exc)
            return _error(503, f"{exc}", **{"Retry-After": "5"})
        log.info("webhook %s: %d records, %d inserted, %d updated", kind, result.rows_read,
                 result.inserted, result.updated)
        return JSONResponse({"kind": kind, "records": result.rows_read, "inserted": result.inserted,
                             "updated": result.updated, "links_written": result.links_written,
                             "warnings": list(result.warnings)})

    routes = [Route("/healthz", healthz, methods=["GET"])]
    routes += [Route(f"/{kind}", receive, methods=["POST"]) for kind in KINDS]
    return Starlette(routes=routes)


def bind_socket(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> socket.socket:
    """A listening socket (port 0: any free port), so callers know the port before serving."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise CadenceError(f"Cannot listen on {host}:{port}: {exc.strerror}; pick another --port "
                           f"or stop what holds it.") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def make_server(app: Starlette, *, log_level: str = "info"):
    """A uvicorn server for ``app`` (run with ``server.run(sockets=[bind_socket(...)])``)."""
    import uvicorn

    return uvicorn.Server(uvicorn.Config(app, log_level=log_level, lifespan="off",
                                         server_header=False, proxy_headers=False))
