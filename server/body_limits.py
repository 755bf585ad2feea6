"""Request bodies within limits: counted as they arrive, refused past the size or the time.

Small bodies (every route but the uploads) are read whole by the middleware (server/app.py)
before any route sees them. An upload is not: its route checks the login or the token first and
only then reads the body, which the form parser spools to disk as it streams in, so a request
without credentials never makes the server read (let alone keep) its body. Either way a declared
Content-Length over the limit is refused at once, a chunked body as soon as it passes the limit
(413), and a body not received within the time allowed gets 408 and the connection is closed."""

from __future__ import annotations

import asyncio

from fastapi.responses import JSONResponse
from starlette.types import Message, Receive


class BodyRefused(Exception):
    """Raised from ``receive`` while a route reads a streamed body; ``response`` is the answer."""

    def __init__(self, response: JSONResponse) -> None:
        super().__init__(response.status_code)
        self.response = response


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status)


def too_large(limit: int, upload: bool) -> JSONResponse:
    if upload:
        response = error(413, f"上传的文件太大（一次最多 {limit / 1048576:.1f} MB）/ upload too large")
    else:
        response = error(413, f"请求体太大（最多 {limit} 字节）/ request body too large")
    response.headers["Connection"] = "close"  # the rest of the body is not read
    return response


def too_slow(seconds: float) -> JSONResponse:
    # A body trickled in (or never sent) would hold a connection and a buffer for good.
    response = error(408, f"请求体在 {seconds:g} 秒内未发送完 / request body too slow")
    response.headers["Connection"] = "close"
    return response


def declared_too_large(length: str | None, limit: int) -> bool:
    return length is not None and (not length.isdigit() or int(length) > limit)


async def read_whole(receive: Receive, limit: int, seconds: float) -> bytes | JSONResponse | None:
    """The whole body, or the response refusing it, or None when the client left meanwhile."""
    parts: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(seconds):
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return None
                body = message.get("body", b"")
                size += len(body)
                if size > limit:
                    return too_large(limit, False)
                parts.append(body)
                if not message.get("more_body", False):
                    return b"".join(parts)
    except TimeoutError:
        return too_slow(seconds)


def counted(receive: Receive, limit: int, seconds: float) -> Receive:
    """``receive`` for a route that reads the body itself: BodyRefused past ``limit`` bytes or
    ``seconds`` from the first read; after the body, messages pass as they come."""
    size = 0
    deadline: float | None = None
    done = False

    async def receive_counted() -> Message:
        nonlocal size, deadline, done
        if done:
            return await receive()  # after the body: waits for the disconnect, as ASGI has it
        loop = asyncio.get_running_loop()
        deadline = deadline or loop.time() + seconds
        try:
            async with asyncio.timeout_at(deadline):
                message = await receive()
        except TimeoutError:
            raise BodyRefused(too_slow(seconds)) from None
        if message["type"] == "http.request":
            size += len(message.get("body", b""))
            if size > limit:
                raise BodyRefused(too_large(limit, True))
            done = not message.get("more_body", False)
        return message

    return receive_counted
