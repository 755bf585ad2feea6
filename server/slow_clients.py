"""uvicorn's h11 protocol with a deadline for a request's headers, a 431 for oversized ones, and
a share of the connections per client address.

uvicorn closes a keep-alive connection that stays idle, but a connection that never sends a
byte, or sends its headers a byte at a time, is held open for good (600 such connections held
for 20 s, none closed). Here every request must complete its headers within ``header_timeout``
seconds of the connection opening or the previous response; a slower client is disconnected.
A request head over ``max_header_bytes`` gets a 431 (h11 checks its buffer only while a head is
incomplete, so a large head arriving in one piece would pass, and uvicorn answers h11's 431
hint as 400). The body has its own deadline in the ASGI middleware
(server/app.py), where the app is already reading it.

One address may hold at most ``max_per_client`` open connections (0: no limit): past that a new
connection from it gets a 503 with Retry-After and is closed at once, so that one client holding
hundreds of silent sockets cannot take every connection the server allows (uvicorn's
``limit_concurrency``) from everyone else.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

_MESSAGES = {
    431: "请求头太大 / request header fields too large",
    400: "请求格式错误 / invalid HTTP request",
}


_REFUSED_LINGER_SECONDS = 1.0
_TOO_MANY = json.dumps(
    {"detail": "来自同一地址的连接太多，请稍后再试 / too many connections from your address"},
    ensure_ascii=False,
).encode()


def guarded_protocol(header_timeout: float, max_header_bytes: int, max_per_client: int) -> type[H11Protocol]:
    """The protocol class to give uvicorn as ``http=`` (uvicorn builds it with its own arguments)."""
    limits = {
        "header_timeout": header_timeout,
        "max_header_bytes": max_header_bytes,
        "max_per_client": max_per_client,
        "open_by_client": Counter(),  # shared by this server's connections (one event loop)
    }
    return type("GuardedH11Protocol", (_GuardedH11Protocol,), limits)


class _GuardedH11Protocol(H11Protocol):
    header_timeout: float = 10.0
    max_header_bytes: int = 8192
    max_per_client: int = 0
    open_by_client: Counter[str]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_deadline: asyncio.TimerHandle | None = None
        self._head = b""  # the start of the request head received so far
        self._error_status = 400
        self._address: str | None = None  # counted in open_by_client while open
        self._refused = False  # over its address's share: answered 503, closing
        next_event = self.conn.next_event

        def remember_status() -> Any:
            try:
                return next_event()
            except h11.RemoteProtocolError as exc:
                self._error_status = exc.error_status_hint
                raise

        self.conn.next_event = remember_status  # type: ignore[method-assign]

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        peer = transport.get_extra_info("peername")
        address = str(peer[0]) if isinstance(peer, tuple) and peer else ""
        if self.max_per_client and self.open_by_client[address] >= self.max_per_client:
            head = (
                "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\n"
                f"connection: close\r\ncontent-length: {len(_TOO_MANY)}\r\n\r\n"
            )
            transport.write(head.encode() + _TOO_MANY)
            # Closed a moment later, the request the client sent meanwhile read and dropped:
            # closing on unread data would reset the connection before the 503 is read. Not one
            # of the connections the server serves meanwhile.
            if transport.can_write_eof():
                transport.write_eof()
            self.connections.discard(self)
            self._refused = True
            self.loop.call_later(_REFUSED_LINGER_SECONDS, transport.close)
            return
        self._address = address
        self.open_by_client[address] += 1
        self._await_headers()

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        if self.conn.their_state is h11.IDLE and self._head_too_large(data):
            self._error_status = 431
            self.send_400_response("")
            return
        super().data_received(data)
        self._headers_done_if_received()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._await_headers()
            self._headers_done_if_received()  # a pipelined request already parsed

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_deadline()
        if self._address is not None:
            self.open_by_client[self._address] -= 1
            if not self.open_by_client[self._address]:
                del self.open_by_client[self._address]
            self._address = None
        super().connection_lost(exc)

    def send_400_response(self, msg: str) -> None:
        status = self._error_status if self._error_status in _MESSAGES else 400
        body = json.dumps({"detail": _MESSAGES[status]}, ensure_ascii=False).encode()
        headers = [(b"content-type", b"application/json"), (b"connection", b"close")]
        self.transport.write(self.conn.send(h11.Response(status_code=status, headers=headers)))
        self.transport.write(self.conn.send(h11.Data(data=body)))
        self.transport.write(self.conn.send(h11.EndOfMessage()))
        self.transport.close()

    def _head_too_large(self, data: bytes) -> bool:
        self._head = (self._head + data)[: self.max_header_bytes + 4]
        end = self._head.find(b"\r\n\r\n")
        return (end + 4 if end >= 0 else len(self._head)) > self.max_header_bytes

    def _await_headers(self) -> None:
        self._head = b""
        self._cancel_deadline()
        self._header_deadline = self.loop.call_later(self.header_timeout, self._too_slow)

    def _headers_done_if_received(self) -> None:
        if self.conn.their_state is not h11.IDLE:
            self._cancel_deadline()

    def _cancel_deadline(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _too_slow(self) -> None:
        self._header_deadline = None
        if not self.transport.is_closing():
            self.transport.close()
