"""Admin uploads without a login or token are refused before their body is read: the 401 comes
back while the body has not even been sent, and many large unauthenticated bodies leave the
server's memory where it was; an authenticated upload streams to disk under the size limit."""

from __future__ import annotations

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil

from tests.admin.conftest import TOKEN

from .conftest import ServerProcess, Tiny

BODY = 19 * 2**20  # under the 20 MiB upload limit
PATHS = ("/api/admin/documents", "/admin/upload")
REQUESTS = 48
# What the server's resident memory may move by: allocator noise, far below one body.
MARGIN = 64 * 2**20


def head(path: str, length: int, extra: str = "") -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
        f"Content-Length: {length}\r\n{extra}\r\n"
    ).encode()


def status_of(reply: bytes) -> int:
    return int(reply.split(b" ", 2)[1])


def ask_without_body(port: int, path: str) -> bytes:
    """Send only the request head (a large body announced) and read the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(head(path, BODY))
        return sock.recv(65536)


def send_whole(port: int, path: str) -> int:
    """An attacker's request: the head, then the whole body whatever the answer; its status."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(head(path, BODY))
        chunk = b"\0" * 2**20
        try:
            for _ in range(BODY // len(chunk)):
                sock.sendall(chunk)
        except OSError:
            pass  # the server may close the connection once it has answered
        return status_of(sock.recv(65536))


def test_unauthenticated_uploads_are_refused_before_their_body_is_read(tiny: Tiny, tmp_path: Path) -> None:
    server = ServerProcess.start(tiny.env(YIBAO_ADMIN_TOKEN=TOKEN), tmp_path / "serve.log")
    try:
        for path in PATHS:
            reply = ask_without_body(server.port, path)
            assert status_of(reply) == 401, reply[:300]  # answered with no byte of the body sent
        with socket.create_connection(("127.0.0.1", server.port), timeout=60) as sock:
            sock.sendall(head(PATHS[0], BODY, "Authorization: Bearer wrong\r\n"))
            assert status_of(sock.recv(65536)) == 401

        process = psutil.Process(server.process.pid)
        send_whole(server.port, PATHS[0])  # warm-up
        before = process.memory_info().rss
        peak = before
        done = threading.Event()

        def watch() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, process.memory_info().rss)
                time.sleep(0.01)

        watcher = threading.Thread(target=watch)
        watcher.start()
        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(lambda i: send_whole(server.port, PATHS[i % 2]), range(REQUESTS)))
        done.set()
        watcher.join()
        after = process.memory_info().rss
        assert statuses == [401] * REQUESTS
        mib = 2**20
        assert peak - before < MARGIN, f"RSS {before / mib:.0f} → peak {peak / mib:.0f} MiB"
        assert after - before < MARGIN, f"RSS {before / mib:.0f} → {after / mib:.0f} MiB"
        assert server.health()["status"] == "ok"
    finally:
        server.stop()
