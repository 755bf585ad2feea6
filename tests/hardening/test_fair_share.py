"""One client cannot take the service from the others: its connections beyond its share are
refused while another address is served; questions reach the model through a bounded queue in
which short questions pass long ones (a full queue is a 503 with Retry-After, not a slow
collapse), and one address may have only so many questions in flight."""

from __future__ import annotations

import asyncio
import json
import select
import socket
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from server.admission import AskGate, Busy

from .conftest import ServerProcess, Tiny

GREEDY = "127.0.0.1"
OTHER = "127.0.0.2"  # Linux routes all of 127.0.0.0/8 to the loopback device
HELD = 300
SHARE = 64


def connect(port: int, source: str) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=60, source_address=(source, 0))


def get(port: int, source: str, target: str, body: dict | None = None) -> tuple[int, dict, bytes]:
    """One request from ``source``: status, headers, body."""
    with connect(port, source) as sock:
        data = b"" if body is None else json.dumps(body, ensure_ascii=False).encode()
        method = "GET" if body is None else "POST"
        sock.sendall(
            f"{method} {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n".encode()
            + data
        )
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    head, _, payload = reply.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, payload


def test_300_held_sockets_from_one_address_leave_another_address_served(tiny: Tiny, tmp_path: Path) -> None:
    env = tiny.env(YIBAO_MAX_CONNECTIONS_PER_CLIENT=str(SHARE), YIBAO_HEADER_TIMEOUT="120")
    server = ServerProcess.start(env, tmp_path / "serve.log")
    held: list[socket.socket] = []
    try:
        held = [connect(server.port, GREEDY) for _ in range(HELD)]
        refused: set[int] = set()
        deadline = time.monotonic() + 60
        while len(refused) < HELD - SHARE and time.monotonic() < deadline:
            readable, _, _ = select.select([s for s in held if s.fileno() not in refused], [], [], 1)
            for sock in readable:
                reply = sock.recv(65536)
                assert reply.startswith(b"HTTP/1.1 503") and b"retry-after: 1" in reply.lower(), reply
                assert "连接太多" in reply.decode("utf-8", "replace")
                refused.add(sock.fileno())
        assert len(refused) == HELD - SHARE  # the first SHARE are held open, silent

        for _ in range(10):
            assert get(server.port, OTHER, "/healthz")[0] == 200
        status, _, body = get(server.port, OTHER, "/api/ask", {"question": "家庭共济怎么绑定"})
        assert status == 200 and json.loads(body)["citations"]
        assert get(server.port, GREEDY, "/healthz")[0] == 503  # its share is taken
    finally:
        for sock in held:
            sock.close()
        server.stop()
    assert "Traceback" not in server.output()


def test_a_full_queue_is_a_503_with_retry_after_and_nothing_else_fails(tiny: Tiny, tmp_path: Path) -> None:
    env = tiny.env(YIBAO_ASK_WORKERS="1", YIBAO_ASK_QUEUE="1", YIBAO_QUERY_CACHE_SIZE="0")
    server = ServerProcess.start(env, tmp_path / "serve.log")
    start = threading.Barrier(24)
    results: list[tuple[int, str | None]] = []

    def ask(n: int) -> None:
        request = urllib.request.Request(
            f"{server.base}/api/ask",
            data=json.dumps({"question": f"家庭共济绑定以后家人看病能不能用我的个人账户 {n} " * 10}).encode(),
            headers={"Content-Type": "application/json"},
        )
        start.wait()
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                results.append((response.status, response.headers.get("Retry-After")))
        except urllib.error.HTTPError as exc:
            results.append((exc.code, exc.headers.get("Retry-After")))

    try:
        threads = [threading.Thread(target=ask, args=(n,)) for n in range(24)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        server.stop()
    statuses = sorted(status for status, _ in results)
    assert len(statuses) == 24 and set(statuses) == {200, 503}, statuses
    assert all(retry == "1" for status, retry in results if status == 503)


async def _scenario() -> tuple[list[str], list[int]]:
    gate = AskGate(workers=1, queue=2, per_client=3)
    order: list[str] = []
    refused: list[int] = []
    release = asyncio.Event()

    async def ask(client: str, name: str, length: int, hold: asyncio.Event | None = None) -> None:
        try:
            async with gate.admit(client, length):
                order.append(name)
                if hold is not None:
                    await hold.wait()
        except Busy as exc:
            refused.append(exc.status)

    first = asyncio.create_task(ask("a", "long-1", 500, release))
    await asyncio.sleep(0)
    long_2 = asyncio.create_task(ask("a", "long-2", 500))
    await asyncio.sleep(0)
    short = asyncio.create_task(ask("b", "short", 5))
    await asyncio.sleep(0)
    await ask("c", "over", 5)  # the queue (2 places) is full: 503 at once
    release.set()
    await asyncio.gather(first, long_2, short)
    return order, refused


def test_short_questions_pass_long_ones_and_a_full_queue_refuses_at_once() -> None:
    order, refused = asyncio.run(_scenario())
    assert order == ["long-1", "short", "long-2"]
    assert refused == [503]


def test_one_address_has_only_its_share_in_flight() -> None:
    async def scenario() -> list[int]:
        gate = AskGate(workers=2, queue=10, per_client=2)
        hold = asyncio.Event()
        refused: list[int] = []

        async def ask(client: str) -> None:
            try:
                async with gate.admit(client, 10):
                    await hold.wait()
            except Busy as exc:
                refused.append(exc.status)

        tasks = [asyncio.create_task(ask("greedy")) for _ in range(3)]
        tasks.append(asyncio.create_task(ask("other")))
        await asyncio.sleep(0)
        hold.set()
        await asyncio.gather(*tasks)
        return refused

    assert asyncio.run(scenario()) == [429]


@pytest.mark.parametrize("turn_given", [False, True])
def test_a_cancelled_waiter_gives_back_its_place(turn_given: bool) -> None:
    async def scenario() -> list[str]:
        gate = AskGate(workers=1, queue=1, per_client=0)
        hold = asyncio.Event()
        order: list[str] = []

        async def ask(name: str) -> None:
            async with gate.admit(name, 10):
                order.append(name)
                await hold.wait()

        first = asyncio.create_task(ask("first"))
        await asyncio.sleep(0)
        waiter = asyncio.create_task(ask("cancelled"))
        await asyncio.sleep(0)
        if turn_given:
            hold.set()
            await first  # the turn passes to the waiter, which is cancelled before it runs
        waiter.cancel()
        hold.set()
        await asyncio.gather(first, waiter, return_exceptions=True)
        await ask("after")  # the worker is free again
        return order

    assert asyncio.run(scenario())[-1] == "after"
