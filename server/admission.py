"""Questions are admitted to the model a few at a time, in a fair order, through a bounded queue.

Every question (the page, /api/ask, /api/search) costs the model: run all at once on a few cores,
they share the CPU and all get slow together, so that eight clients asking 499-character
questions raise a short question's median from 22 ms to 1.5 s. Here ``workers`` questions run at
once and the others wait in a queue of ``queue`` places, taken earliest deadline first: a
question's deadline is its arrival plus a grace that grows with its length, so a short question
passes the long ones that wait, and a long one still gets its turn once it has waited its grace.
A full queue is a 503 with Retry-After at once, not a slow collapse. One client address may have
at most ``per_client`` questions in flight or waiting (429 beyond), so that it cannot take every
place."""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
from collections import Counter
from collections.abc import AsyncIterator

# How much later a question may start per character it has: 500 characters wait up to 1 s more
# than a question of a few, about what encoding them costs beside a short one under load.
_GRACE_PER_CHAR = 0.002
RETRY_AFTER_SECONDS = 1


class Busy(Exception):
    """The question is not admitted; ``status`` (429 or 503) and the message say why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class AskGate:
    def __init__(self, workers: int, queue: int, per_client: int) -> None:
        self.workers = workers
        self.queue = queue
        self.per_client = per_client
        self._running = 0
        self._waiting: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._by_client: Counter[str] = Counter()

    @contextlib.asynccontextmanager
    async def admit(self, client: str, length: int) -> AsyncIterator[None]:
        """Hold a worker while the block runs; Busy when ``client`` has its share or the queue is full."""
        if self.per_client and self._by_client[client] >= self.per_client:
            n = self.per_client
            raise Busy(
                429, f"同一地址同时提问太多（最多 {n} 个）/ too many questions at once from your address"
            )
        self._by_client[client] += 1
        try:
            if self._running < self.workers:
                self._running += 1
            elif len(self._waiting) >= self.queue:
                raise Busy(503, "服务繁忙，请稍后再试 / the server is busy, try again shortly")
            else:
                await self._wait_turn(length)
        except BaseException:
            self._leave(client)
            raise
        try:
            yield
        finally:
            self._leave(client)
            self._next()

    def _leave(self, client: str) -> None:
        self._by_client[client] -= 1
        if not self._by_client[client]:
            del self._by_client[client]

    async def _wait_turn(self, length: int) -> None:
        loop = asyncio.get_running_loop()
        entry = (loop.time() + length * _GRACE_PER_CHAR, next(self._order), loop.create_future())
        heapq.heappush(self._waiting, entry)
        try:
            await entry[2]
        except asyncio.CancelledError:
            if entry[2].done() and not entry[2].cancelled():
                self._next()  # the turn came as the request was cancelled: pass it on
            else:
                self._waiting.remove(entry)
                heapq.heapify(self._waiting)
            raise

    def _next(self) -> None:
        """Give the worker that is free to the waiting question with the earliest deadline."""
        while self._waiting:
            _, _, turn = heapq.heappop(self._waiting)
            if not turn.done():
                turn.set_result(None)
                return
        self._running -= 1
