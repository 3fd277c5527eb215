"""Nagle's algorithm off on the dashboard's connections (cadence.dashboard.server.no_delay).

Streamlit binds its listening socket as protocol 0; asyncio sets ``TCP_NODELAY`` only on accepted
sockets that say ``IPPROTO_TCP``, so without the fix every keep-alive response waited ~40 ms for the
browser's delayed ACK (docs/performance.md). Checked here on a real asyncio server over a real
connection, through the function Streamlit's server calls to bind."""

from __future__ import annotations

import asyncio
import socket

import pytest
from streamlit.web.server.starlette import starlette_server

from cadence.dashboard import server


@pytest.fixture
def patched(monkeypatch):
    monkeypatch.setattr(starlette_server, "_bind_socket", starlette_server._bind_socket)
    server.no_delay()
    once = starlette_server._bind_socket
    server.no_delay()   # a second call wraps nothing twice
    assert starlette_server._bind_socket is once and once.cadence_no_delay


def accepted_no_delay(listener: socket.socket) -> tuple[int, int]:
    """(TCP_NODELAY, protocol) of a connection an asyncio server accepted on ``listener``."""
    async def run() -> tuple[int, int]:
        seen: asyncio.Future = asyncio.get_running_loop().create_future()

        class Report(asyncio.Protocol):
            def connection_made(self, transport):
                sock = transport.get_extra_info("socket")
                seen.set_result((sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY), sock.proto))
                transport.close()

        srv = await asyncio.get_running_loop().create_server(Report, sock=listener)
        async with srv:
            host, port = listener.getsockname()[:2]
            _, writer = await asyncio.open_connection(host, port)
            try:
                return await asyncio.wait_for(seen, timeout=30)
            finally:
                writer.close()

    return asyncio.run(run())


def test_connections_the_dashboard_accepts_send_at_once(patched):
    listener, address = starlette_server._bind_server_socket("127.0.0.1", "127.0.0.1", 0, 16)
    assert address == "127.0.0.1"
    assert listener.proto == socket.IPPROTO_TCP and listener.type == socket.SOCK_STREAM
    assert not listener.getblocking() and listener.get_inheritable()   # as Streamlit left it
    assert accepted_no_delay(listener) == (1, socket.IPPROTO_TCP)


def test_the_dashboard_server_applies_it_before_streamlit_starts(monkeypatch):
    from streamlit.web import cli

    from cadence.dashboard import warm

    monkeypatch.setattr(starlette_server, "_bind_socket", starlette_server._bind_socket)
    seen = {}
    monkeypatch.setattr(warm, "start", lambda: None)
    monkeypatch.setattr(server, "_log_warm_up", lambda: None)
    monkeypatch.setattr(server, "serve_static_from_memory", lambda: None)
    monkeypatch.setattr(cli, "main", lambda prog_name: seen.setdefault(
        "wrapped", getattr(starlette_server._bind_socket, "cadence_no_delay", False)))
    monkeypatch.setattr("sys.argv", ["cadence"])
    server.main(["run", "app.py"])
    assert seen == {"wrapped": True}
