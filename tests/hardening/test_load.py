"""A bounded burst against the real server (`yibao serve` in a subprocess on loopback): every
request answered as expected (no 5xx, no connection error), and the server's memory levels off."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import psutil
import pytest

from eval.questions import load_questions
from settings import ROOT, Settings

MAX_QUESTION = Settings().max_question_chars
OVER_BODY_LIMIT = b'{"question": "' + b"a" * (Settings().max_body_bytes + 1) + b'"}'

# Fuzzing, load and kill loops: minutes, left out of `make test-fast`.
pytestmark = pytest.mark.slow

REQUESTS = 2000
CONCURRENCY = 16
# The resident set may move by allocator noise, but not grow with the number of requests.
RSS_MARGIN = 48 * 2**20


def plan(seed: int, n: int) -> list[tuple[str, str, dict, set[int]]]:
    """``n`` requests as (method, url, httpx kwargs, the statuses that count as right)."""
    rng = random.Random(seed)
    questions = [q.question for q in load_questions(ROOT / "eval" / "questions.jsonl")]
    out = []
    for i in range(n):
        q = rng.choice(questions)
        miss = f"{q} {i}"  # a question never asked before: misses every cache
        roll = rng.random()
        if roll < 0.25:
            out.append(("POST", "/api/ask", {"json": {"question": q}}, {200}))
        elif roll < 0.40:
            out.append(("POST", "/api/ask", {"json": {"question": miss, "top_k": rng.randint(1, 10)}}, {200}))
        elif roll < 0.55:
            mode = rng.choice(["hybrid", "dense", "lexical"])
            out.append(("GET", "/api/search", {"params": {"q": miss, "retriever": mode}}, {200}))
        elif roll < 0.65:
            out.append(("GET", "/healthz", {}, {200}))
        elif roll < 0.72:
            out.append(("GET", "/", {"params": {"q": q}}, {200}))
        else:
            out.append(rng.choice(BAD))
    return out


BAD = [
    ("POST", "/api/ask", {"content": b"{not json"}, {400}),
    ("POST", "/api/ask", {"json": {"question": ""}}, {422}),
    ("POST", "/api/ask", {"json": {"question": "   "}}, {422}),
    ("POST", "/api/ask", {"json": {"question": "x" * (MAX_QUESTION + 1)}}, {422}),
    ("POST", "/api/ask", {"json": {"question": "医保", "top_k": 0}}, {422}),
    ("POST", "/api/ask", {"json": {"question": "医保\x00"}}, {422}),
    ("POST", "/api/ask", {"json": {"question": "医保", "evil": 1}}, {422}),
    ("POST", "/api/ask", {"json": ["医保"]}, {422}),
    ("POST", "/api/ask", {"content": OVER_BODY_LIMIT}, {413}),
    ("POST", "/api/ask", {"content": b"[" * 5000}, {400}),
    ("GET", "/api/search", {"params": {"q": "医保", "k": "many"}}, {422}),
    ("GET", "/api/search", {"params": {"q": "医保", "retriever": "magic"}}, {422}),
    ("GET", "/api/search", {"params": {"q": ""}}, {422}),
    ("GET", "/?q=%00", {}, {422}),
    ("GET", "/static/../settings.py", {}, {404}),
    ("GET", "/no/such/page", {}, {404}),
    ("DELETE", "/api/ask", {}, {405}),
    ("POST", "/api/admin/reload", {}, {403}),
]


def burst(base: str, requests: list[tuple[str, str, dict, set[int]]]) -> tuple[Counter, list[str], float]:
    """Send ``requests`` from CONCURRENCY threads, each with its own keep-alive connection."""
    local = threading.local()
    tally: Counter[str] = Counter()
    problems: list[str] = []
    lock = threading.Lock()

    def send(item: tuple[str, str, dict, set[int]]) -> None:
        method, url, kwargs, expected = item
        if not hasattr(local, "client"):
            local.client = httpx.Client(base_url=base, timeout=60)
        try:
            status = local.client.request(method, url, **kwargs).status_code
        except httpx.HTTPError as exc:
            with lock:
                tally["connection error"] += 1
                problems.append(f"{method} {url}: {type(exc).__name__}: {exc}")
            return
        with lock:
            tally[str(status)] += 1
            if status not in expected:
                problems.append(f"{method} {url} {str(kwargs)[:80]}: {status}, expected {expected}")

    started = time.perf_counter()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        list(pool.map(send, requests))
    return tally, problems, time.perf_counter() - started


@pytest.mark.slow
def test_a_burst_of_requests_gets_no_errors_and_memory_levels_off(served) -> None:
    process = psutil.Process(served.process.pid)
    burst(served.base, plan(0, 200))  # warm-up: thread pools, allocator arenas, caches
    rss_before = process.memory_info().rss
    requests = plan(1, REQUESTS)
    first, problems_1, seconds_1 = burst(served.base, requests[: REQUESTS // 2])
    rss_half = process.memory_info().rss
    second, problems_2, seconds_2 = burst(served.base, requests[REQUESTS // 2 :])
    rss_after = process.memory_info().rss
    tally = first + second
    mib = 2**20
    print(
        f"\nload: {REQUESTS} requests, {CONCURRENCY} concurrent, {seconds_1 + seconds_2:.1f} s "
        f"({REQUESTS / (seconds_1 + seconds_2):.0f} req/s); statuses {dict(sorted(tally.items()))}; "
        f"RSS before {rss_before / mib:.0f} MiB, after half {rss_half / mib:.0f} MiB, "
        f"after all {rss_after / mib:.0f} MiB"
    )
    problems = problems_1 + problems_2
    assert not problems, f"{len(problems)} wrong answers, e.g. {problems[:5]}"
    assert sum(n for status, n in tally.items() if status.startswith("5")) == 0
    assert tally["connection error"] == 0
    assert sum(tally.values()) == REQUESTS
    assert rss_after <= rss_half + RSS_MARGIN, (rss_before, rss_half, rss_after)
    assert served.process.poll() is None
    assert "Traceback" not in served.output()
