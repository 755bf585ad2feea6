"""Slow or stuck clients cannot hold the server: connections that never finish their headers or
body are closed after the configured time, an oversized request head gets 431, and normal
requests are answered meanwhile."""

from __future__ import annotations

import socket
import time
from pathlib import Path

from .conftest import ServerProcess, Tiny, http_json

HEADER_TIMEOUT = 2
BODY_TIMEOUT = 3
HELD = 40
# How long the test waits for the server to close a held connection: well beyond the limit, so a
# busy machine cannot fail it, and far below "never".
GRACE = 60


def _open(port: int, first_bytes: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=GRACE)
    if first_bytes:
        sock.sendall(first_bytes)
    return sock


def _closed_by_server(sock: socket.socket) -> bytes:
    """Everything the server sent before closing; raises socket.timeout if it never closes."""
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def test_slow_clients_are_disconnected_and_big_heads_refused_while_normal_requests_are_answered(
    tiny: Tiny, tmp_path: Path
) -> None:
    env = tiny.env(
        YIBAO_HEADER_TIMEOUT=str(HEADER_TIMEOUT),
        YIBAO_BODY_TIMEOUT=str(BODY_TIMEOUT),
        YIBAO_MAX_CONNECTIONS="200",
    )
    server = ServerProcess.start(env, tmp_path / "serve.log")
    try:
        silent = [_open(server.port, b"") for _ in range(HELD // 2)]
        partial = [
            _open(server.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ") for _ in range(HELD // 2)
        ]
        trickle = _open(
            server.port, b"POST /api/ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        )
        no_body = _open(
            server.port,
            b"POST /api/ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100\r\n\r\n{",
        )
        # Normal requests are answered while the held connections are open.
        for _ in range(3):
            status, answer = http_json(f"{server.base}/api/ask", {"question": "家庭共济怎么绑定"})
            assert status == 200 and answer["citations"]
        # A header line a byte at a time, slower than the limit allows in total.
        started = time.monotonic()
        try:
            while time.monotonic() - started < HEADER_TIMEOUT * 4:
                trickle.sendall(b"X")
                time.sleep(0.2)
        except OSError:
            pass  # closed by the server while trickling
        for sock in silent + partial + [trickle]:
            assert _closed_by_server(sock) == b""  # closed, nothing answered
        answer_to_no_body = _closed_by_server(no_body)
        assert answer_to_no_body.startswith(b"HTTP/1.1 408")
        assert "请求体" in answer_to_no_body.decode("utf-8") and b"too slow" in answer_to_no_body

        big = _open(server.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 65536 + b"\r\n\r\n")
        reply = _closed_by_server(big)
        assert reply.startswith(b"HTTP/1.1 431")
        assert "请求头太大" in reply.decode("utf-8") and b"too large" in reply
        assert server.health()["status"] == "ok"
    finally:
        server.stop()
