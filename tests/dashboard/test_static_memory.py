"""Streamlit's static bundle answered from memory (cadence.dashboard.server.serve_static_from_memory):
the same bytes and headers as Streamlit's own handler, read from disk once, with its path checks,
304s, HEAD and range requests intact. Over real HTTP in tests/dashboard/test_browser.py (every
page load there goes through it); here against the handler itself."""

from __future__ import annotations

import threading

import pytest
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient
from streamlit.web.server.starlette import starlette_static_routes as routes

from cadence.dashboard import server
from cadence.dashboard.server import load_bundle, serve_static_from_memory


@pytest.fixture
def client(tmp_path, monkeypatch):
    monkeypatch.setattr(routes, "create_streamlit_static_handler", routes.create_streamlit_static_handler)
    monkeypatch.setattr(server, "_static_handlers", [])
    monkeypatch.setattr(server, "_handler_created", threading.Event())
    serve_static_from_memory()
    serve_static_from_memory()   # a second call wraps nothing twice
    (tmp_path / "static" / "js").mkdir(parents=True)
    (tmp_path / "index.html").write_text("<html>shell</html>")
    module = tmp_path / "static" / "js" / "index.abc123.js"
    module.write_bytes(b"export const x = 1;\n" * 1000)
    handler = routes.create_streamlit_static_handler(str(tmp_path), None)
    assert routes.create_streamlit_static_handler.cadence_in_memory
    with TestClient(Starlette(routes=[Mount("/", app=handler)])) as c:
        yield c, module


def test_a_module_is_read_once_and_served_with_streamlits_headers(client):
    c, module = client
    first = c.get("/static/js/index.abc123.js")
    assert first.status_code == 200 and first.content == module.read_bytes()
    assert first.headers["content-type"].startswith(("text/javascript", "application/javascript"))
    assert "immutable" in first.headers["cache-control"]
    assert first.headers["content-length"] == str(len(first.content))
    # Changed on disk after the first request: still the first bytes (served from memory).
    module.write_bytes(b"export const x = 2;\n")
    again = c.get("/static/js/index.abc123.js")
    assert again.content == first.content
    assert {k: v for k, v in again.headers.items() if k != "date"} == {
        k: v for k, v in first.headers.items() if k != "date"}
    # A revalidation with the ETag gets a 304 without a body; HEAD the length without the body.
    etag = first.headers["etag"]
    not_modified = c.get("/static/js/index.abc123.js", headers={"if-none-match": etag})
    assert not_modified.status_code == 304 and not_modified.content == b"" and not_modified.headers["etag"] == etag
    head = c.head("/static/js/index.abc123.js")
    assert head.status_code == 200 and head.content == b"" and head.headers["content-length"] == str(len(first.content))


def test_what_is_not_a_static_file_goes_through_streamlits_handler(client):
    c, module = client
    # The root document and the SPA fallback (a page's URL) are never kept: HTML is no-cache.
    shell = c.get("/delivery")
    assert shell.status_code == 200 and shell.text == "<html>shell</html>"
    assert "no-cache" in shell.headers["cache-control"]
    # A module not there (yet) gets Streamlit's fallback, and nothing is kept for it.
    late = module.with_name("late.def456.js")
    assert c.get("/static/js/late.def456.js").text == "<html>shell</html>"
    late.write_bytes(b"export const late = true;\n")
    assert c.get("/static/js/late.def456.js").content == late.read_bytes()
    # A range request is answered from the file, as Streamlit answers it.
    part = c.get("/static/js/index.abc123.js", headers={"range": "bytes=0-5"})
    assert part.status_code == 206 and part.content == module.read_bytes()[:6]


def test_the_warm_up_reads_the_whole_bundle_before_the_first_request(client):
    c, module = client
    font = module.parent.parent / "media" / "font.woff2"
    font.parent.mkdir()
    font.write_bytes(b"\x00font" * 100)
    # Read through the handler (index.html, outside static/, is not: it is no-cache).
    assert load_bundle() == (2, module.stat().st_size + font.stat().st_size)
    original = module.read_bytes()
    module.write_bytes(b"export const x = 3;\n")
    font.unlink()
    # The first request after it gets what was read, with Streamlit's headers: nothing from disk.
    first = c.get("/static/js/index.abc123.js")
    assert first.status_code == 200 and first.content == original and "immutable" in first.headers["cache-control"]
    assert c.get("/static/media/font.woff2").content == b"\x00font" * 100


def test_without_the_in_memory_handler_nothing_is_read(monkeypatch):
    # `streamlit run` without cadence.dashboard.server: Streamlit's own handler, nothing to wait for.
    original = getattr(routes.create_streamlit_static_handler, "__wrapped__", routes.create_streamlit_static_handler)
    monkeypatch.setattr(routes, "create_streamlit_static_handler", original)
    monkeypatch.setattr(server, "_handler_created", threading.Event())
    assert not getattr(routes.create_streamlit_static_handler, "cadence_in_memory", False)
    assert load_bundle(timeout=0) == (0, 0)
