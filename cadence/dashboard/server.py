"""``python -m cadence.dashboard.server run APP [flags]``: ``streamlit run``, warmed first.

What ``cadence dashboard`` and ``cadence serve`` start (cadence.commands.dashboard.streamlit_args): the
same Streamlit command line, run in this process after cadence.dashboard.warm has imported what the
pages need and computed the default ranges' DORA facts, and with its thread warming every page once
the server is up (and again after each write to the warehouse), with Streamlit's static bundle
answered from memory (``serve_static_from_memory``), and with Nagle's algorithm off on every
connection (``no_delay``).
"""

from __future__ import annotations

import os
import sys
import threading


def _log_warm_up() -> None:
    """The warm-up's lines (and the facts' timings) on stderr beside Streamlit's own."""
    import logging

    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    for name in ("cadence.dashboard.warm", "metrics.facts"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.INFO)
        logger.addHandler(handler)
        logger.propagate = False


def no_delay() -> None:
    """Every connection to the dashboard sends at once (``TCP_NODELAY``), as asyncio means it to.

    Streamlit binds its listening socket itself, as ``socket.socket(family)``: protocol 0, not
    ``IPPROTO_TCP``. The connections accepted on it inherit that 0, and asyncio sets ``TCP_NODELAY``
    only on sockets that say ``IPPROTO_TCP`` — so Nagle's algorithm stayed on, and every keep-alive
    response whose headers and body leave in two writes (each static file) waited for the client's
    delayed ACK: 44 ms per request on Linux, 0.5 ms without (docs/performance.md; uvicorn's issue
    3149 is the same mechanism for its own pre-bound sockets). The listening socket is handed on as
    what it is, a TCP socket (and told ``TCP_NODELAY`` itself, which Linux passes to what it
    accepts)."""
    import socket

    from streamlit.web.server.starlette import starlette_server

    original = starlette_server._bind_socket
    if getattr(original, "cadence_no_delay", False):
        return

    def bind(address: str, port: int, backlog: int) -> socket.socket:
        sock = original(address, port, backlog)
        if sock.family not in (socket.AF_INET, socket.AF_INET6) or sock.type != socket.SOCK_STREAM:
            return sock
        tcp = socket.socket(sock.family, socket.SOCK_STREAM, socket.IPPROTO_TCP, fileno=sock.detach())
        tcp.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        tcp.setblocking(False)
        tcp.set_inheritable(True)
        return tcp

    bind.cadence_no_delay = True
    starlette_server._bind_socket = bind


def serve_static_from_memory() -> None:
    """Streamlit's own bundle (``static/``: content-hashed JavaScript, CSS and fonts, served as
    immutable) answered from memory after its first request. Starlette's FileResponse hops to a
    worker thread for the file's stat, its open and each 64 KB read; a browser's first load asks for
    ~60 modules at once, and on a busy 2-core host those hops kept the server answering them for
    0.5-0.7 s (docs/performance.md). Only what Streamlit's static handler itself served with a 200
    is kept (its path checks and cache headers stay in front), each file once; ``If-None-Match``
    gets its 304, ``HEAD`` the length without the body, and range requests and every other path go
    through untouched."""
    from starlette.datastructures import Headers
    from starlette.responses import FileResponse, Response
    from streamlit.web.server.starlette import starlette_static_routes as routes

    original = routes.create_streamlit_static_handler
    if getattr(original, "cadence_in_memory", False):
        return

    def create(directory: str, base_url: str | None):
        handler = original(directory, base_url)
        serve = handler.get_response
        kept: dict[str, tuple[bytes, dict[str, str]]] = {}
        _static_handlers.append((handler, directory))
        _handler_created.set()

        async def get_response(path: str, scope):
            request = Headers(scope=scope)
            hit = kept.get(path)
            if hit is None or "range" in request:
                response = await serve(path, scope)
                if not (path.startswith("static/") and isinstance(response, FileResponse)
                        and response.status_code == 200 and "range" not in request
                        and _same_file(response.path, os.path.join(directory, path))):
                    return response   # not a kept file: e.g. the page shell a missing path falls back to
                with open(response.path, "rb") as file:
                    body = file.read()
                headers = {k: v for k, v in response.headers.items() if k != "content-length"}
                hit = kept[path] = (body, headers | {"content-length": str(len(body))})
            body, headers = hit
            if headers.get("etag") and request.get("if-none-match") == headers["etag"]:
                return Response(status_code=304, headers={k: v for k, v in headers.items()
                                                          if k in ("etag", "cache-control", "last-modified")})
            return Response(b"" if scope.get("method") == "HEAD" else body, headers=headers)

        handler.get_response = get_response
        return handler

    create.cadence_in_memory = True
    create.__wrapped__ = original
    routes.create_streamlit_static_handler = create


def load_bundle(timeout: float = 30.0) -> tuple[int, int]:
    """Read Streamlit's whole static bundle (``static/``: its JavaScript, CSS and fonts) into the
    in-memory handler before anyone asks, through the handler itself (its path checks and headers),
    so that the first browser after the warm-up is answered from memory as well, not from disk. The
    warm-up calls it once the server is up; (files, bytes) kept. About 26 MB for Streamlit 1.67,
    most of it chunks a page never loads: read once, the disk and its per-file thread hops are out
    of every first load. Streamlit creates its handler with its HTTP app, which may come after its
    runtime reports ready: this waits up to ``timeout`` seconds for it (and reads nothing when the
    in-memory handler is not installed)."""
    import asyncio
    from pathlib import Path

    from streamlit.web.server.starlette import starlette_static_routes as routes

    if not getattr(routes.create_streamlit_static_handler, "cadence_in_memory", False):
        return 0, 0
    _handler_created.wait(timeout)

    async def read(handler, root: Path) -> tuple[int, int]:
        n = total = 0
        for file in sorted((root / "static").rglob("*")):
            if not file.is_file():
                continue
            path = file.relative_to(root).as_posix()
            response = await handler.get_response(path, {"type": "http", "method": "GET", "headers": [],
                                                         "path": f"/{path}", "root_path": ""})
            if response.status_code == 200 and response.headers.get("content-length"):
                n, total = n + 1, total + int(response.headers["content-length"])
        return n, total

    read_each = [asyncio.run(read(handler, Path(directory))) for handler, directory in list(_static_handlers)]
    return sum(n for n, _ in read_each), sum(size for _, size in read_each)


_static_handlers: list = []   # (handler, its directory) for each static handler Streamlit created
_handler_created = threading.Event()


def _same_file(one: str, other: str) -> bool:
    try:
        return os.path.samefile(one, other)
    except OSError:
        return False


def main(argv: list[str] | None = None) -> None:
    from cadence.dashboard import warm

    _log_warm_up()
    no_delay()
    serve_static_from_memory()
    args = list(sys.argv[1:] if argv is None else argv)
    warm.start()
    from streamlit.web import cli

    sys.argv = ["streamlit", *args]
    cli.main(prog_name="streamlit")


if __name__ == "__main__":
    # Run as ``python -m``, this file is ``__main__``; the warm-up imports ``cadence.dashboard.server``.
    # Both must see one module's state (the static handlers ``load_bundle`` reads), so run that one.
    from cadence.dashboard.server import main as run

    run()
