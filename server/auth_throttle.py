"""Failed admin logins and bearer tokens, per client address: a few are free, then every further
attempt must wait a delay that doubles with each failure (1 s, 2 s, 4 s… up to ``max_delay``).

An attempt before its time is refused with 429 and Retry-After without the token being looked at,
so a guesser gets one try per delay however fast it sends (300 wrong logins took 1.3 s before).
Every failure is logged with the address. A success forgets the address; so does an hour without
a failure. At most ``_ADDRESSES`` addresses are remembered, the longest quiet forgotten first."""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

log = logging.getLogger(__name__)

_FORGET_SECONDS = 3600.0
_ADDRESSES = 10_000


@dataclass
class _Record:
    failures: int
    last: float  # time.monotonic() of the last failure
    next_try: float  # no attempt is checked before this


class AuthThrottle:
    def __init__(self, free_failures: int, max_delay: float) -> None:
        self.free = free_failures
        self.max_delay = max_delay
        self._records: OrderedDict[str, _Record] = OrderedDict()
        self._lock = threading.Lock()

    def wait(self, address: str) -> float:
        """Seconds before ``address`` may try again (0: now)."""
        now = time.monotonic()
        with self._lock:
            record = self._records.get(address)
            if record is None:
                return 0.0
            if now - record.last > _FORGET_SECONDS:
                del self._records[address]
                return 0.0
            return max(0.0, record.next_try - now)

    def failed(self, address: str, what: str) -> None:
        """Count a failure (``what`` failed: "login" or "bearer token") and log it."""
        now = time.monotonic()
        with self._lock:
            record = self._records.pop(address, None) or _Record(0, now, now)
            if now - record.last > _FORGET_SECONDS:
                record = _Record(0, now, now)
            record.failures += 1
            record.last = now
            over = record.failures - self.free
            delay = min(self.max_delay, 2.0 ** (over - 1)) if over > 0 else 0.0
            record.next_try = now + delay
            self._records[address] = record
            while len(self._records) > _ADDRESSES:
                self._records.popitem(last=False)
        log.warning(
            "admin: wrong %s from %s (%d in a row)%s",
            what,
            address or "?",
            record.failures,
            f"; its next attempt is checked in {delay:g} s" if delay else "",
        )

    def succeeded(self, address: str) -> None:
        with self._lock:
            self._records.pop(address, None)


def too_many_message(seconds: float) -> str:
    return f"失败次数太多，请 {seconds:.0f} 秒后再试 / too many failed attempts, try again in {seconds:.0f} s"
