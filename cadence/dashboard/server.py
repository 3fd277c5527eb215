"""``python -m cadence.dashboard.server run APP [flags]``: ``streamlit run``, warmed first.

What ``cadence dashboard`` and ``cadence serve`` start (cadence.commands.dashboard.streamlit_args): the
same Streamlit command line, run in this process after cadence.dashboard.warm has imported what the
pages need and computed the default ranges' DORA facts, and with its thread warming every page once
the server is up (and again after each write to the warehouse), and with Streamlit's static bundle
answered from memory (``serve_static_from_memory``).
"""

from __future__ import annotations

import os
import sys


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
    routes.create_streamlit_static_handler = create


def _same_file(one: str, other: str) -> bool:
    try:
        return os.path.samefile(one, other)
    except OSError:
        return False


def main(argv: list[str] | None = None) -> None:
    from cadence.dashboard import warm

    _log_warm_up()
    serve_static_from_memory()
    args = list(sys.argv[1:] if argv is None else argv)
    warm.start()
    from streamlit.web import cli

    sys.argv = ["streamlit", *args]
    cli.main(prog_name="streamlit")


if __name__ == "__main__":
    main()
