"""What a person watching `yibao ingest` reads while it embeds: files, chunks, texts/s and an ETA."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

# Told (texts embedded, texts to embed) at the start and after each window: a server job's
# progress file (cli.py) listens this way.
EmbedListener = Callable[[int, int], None]

_EVERY_SECONDS = 2.0


def duration(seconds: float) -> str:
    """``1 h 05 min``, ``3 min 20 s``, ``12 s``."""
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


class EmbedProgress:
    """One line every couple of seconds (and at the end) on ``out``."""

    def __init__(
        self,
        files: int,
        chunks: int,
        total: int,
        cached: int,
        out: TextIO = sys.stderr,
        listener: EmbedListener | None = None,
    ) -> None:
        self.files, self.chunks, self.total, self.cached = files, chunks, total, cached
        self.out = out
        self.listener = listener
        self.done = 0
        self._started = time.perf_counter()
        self._shown = 0.0
        self._say(f"{files} files, {chunks} chunks: {total} texts to embed ({cached} already embedded)")
        if listener is not None:
            listener(0, total)

    def update(self, n: int) -> None:
        self.done += n
        if self.listener is not None:
            self.listener(self.done, self.total)
        now = time.perf_counter()
        if self.done >= self.total or now - self._shown >= _EVERY_SECONDS:
            self._shown = now
            elapsed = now - self._started
            rate = self.done / elapsed if elapsed > 0 else 0.0
            eta = (self.total - self.done) / rate if rate > 0 else 0.0
            share = 100 * self.done / self.total if self.total else 100.0
            finished = self.done >= self.total
            when = f"done in {duration(elapsed)}" if finished else f"about {duration(eta)} left"
            self._say(f"embedding {self.done}/{self.total} texts ({share:.0f} %), {rate:.1f} texts/s, {when}")

    def _say(self, line: str) -> None:
        print(line, file=self.out, flush=True)
