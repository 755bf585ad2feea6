"""The floor (one question through the model alone) and the in-process pipeline, stage by stage.

Every figure here is taken with a query cache of size 0, so each question is really encoded;
the cached figure (the same question asked again) is reported on its own. Measurements of
different things are interleaved question by question, so that a noisy neighbour slows all of
them alike and the ratios stay honest.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING

from bench.stats import ratio, summarize, time_ms
from settings import Settings

if TYPE_CHECKING:
    from answer.compose import Answerer
    from index.embedding import Embedder

# Stage names as reported in SearchResult.timings_ms / Answer.timings_ms.
STAGES = ("encode", "faiss", "bm25", "fusion", "compose", "script")
MODES = ("dense", "lexical", "hybrid")


def floor_encoder(embedder: Embedder) -> Callable[[str], float]:
    """A function timing the model alone on ``[question]`` in ms (``Embedder.forward``, as
    ``SentenceTransformer.encode`` runs it on the torch backend): the floor every answer pays."""

    def encode(question: str) -> float:
        t0 = time.perf_counter()
        embedder.forward([question], embedder.query_prompt)
        return (time.perf_counter() - t0) * 1000

    return encode


def uncached_answerer(settings: Settings, embedder: Embedder, cache_size: int = 0) -> Answerer:
    """An Answerer over the configured index whose Embedder shares ``embedder``'s model (loaded once)
    but has its own query cache of ``cache_size``."""
    from answer.compose import Answerer
    from index.loader import open_retriever

    conf = replace(settings, query_cache_size=cache_size)
    return Answerer(open_retriever(conf, embedder.with_cache(cache_size)), conf)


def measure(settings: Settings, embedder: Embedder, questions: list[str], quick: bool) -> dict:
    """Floor, retrieval per mode, full ask per stage, the cached repeat and the thread experiments."""
    answerer = uncached_answerer(settings, embedder, 0)
    retriever = answerer.retriever
    floor = floor_encoder(embedder)
    for q in questions[:3]:  # warm-up: first calls allocate
        floor(q)
        answerer.ask(q)

    passes = 1 if quick else 2
    floors: list[float] = []
    retrieve: dict[str, list[float]] = {m: [] for m in MODES}
    retrieve_stages: dict[str, dict[str, list[float]]] = {m: {} for m in MODES}
    asks: list[float] = []
    stages: dict[str, list[float]] = {s: [] for s in STAGES}
    for _ in range(passes):
        for q in questions:
            floors.append(floor(q))
            for mode in MODES:
                t0 = time.perf_counter()
                result = retriever.search(q, None, mode)
                retrieve[mode].append((time.perf_counter() - t0) * 1000)
                for stage, ms in result.timings_ms.items():
                    retrieve_stages[mode].setdefault(stage, []).append(ms)
            t0 = time.perf_counter()
            answer = answerer.ask(q)
            asks.append((time.perf_counter() - t0) * 1000)
            for stage in STAGES:
                stages[stage].append(answer.timings_ms.get(stage, 0.0))

    floor_stats = summarize(floors)
    ask_stats = summarize(asks)
    total = sum(asks)
    stage_rows = {}
    for stage, values in stages.items():
        stage_rows[stage] = {**summarize(values), "share": round(sum(values) / total, 4) if total else 0.0}
    other = [a - sum(stages[s][i] for s in STAGES) for i, a in enumerate(asks)]
    stage_rows["other"] = {**summarize(other), "share": round(sum(other) / total, 4) if total else 0.0}

    return {
        "questions": len(questions),
        "passes": passes,
        "floor": floor_stats,
        "retrieve": {
            mode: {
                **summarize(retrieve[mode]),
                "stages": {s: summarize(v)["p50"] for s, v in retrieve_stages[mode].items()},
            }
            for mode in MODES
        },
        "ask": ask_stats,
        "stages": stage_rows,
        "ask_over_floor": ratio(ask_stats["p50"], floor_stats["p50"]),
        "max_non_encode_share": max(
            (row["share"], name) for name, row in stage_rows.items() if name != "encode"
        ),
        "cached": _cached_repeat(settings, embedder, questions, floor_stats["p50"]),
        "threads": thread_experiments(settings, embedder, answerer, questions[: 5 if quick else 40]),
        "parallel_capacity": parallel_capacity(answerer, questions, 16 if quick else 120),
    }


def _cached_repeat(settings: Settings, embedder: Embedder, questions: list[str], floor_p50: float) -> dict:
    """Each question asked once to fill the query cache, then again: what a repeated question costs."""
    cache = max(settings.query_cache_size, len(questions), 1)
    answerer = uncached_answerer(settings, embedder, cache)
    for q in questions:
        answerer.ask(q)
    asks, encodes = [], []
    for q in questions:
        t0 = time.perf_counter()
        answer = answerer.ask(q)
        asks.append((time.perf_counter() - t0) * 1000)
        encodes.append(answer.timings_ms.get("encode", 0.0))
    stats = summarize(asks)
    return {
        "cache_size": cache,
        "ask": stats,
        "encode": summarize(encodes),
        "ask_over_floor": ratio(stats["p50"], floor_p50),
    }


@contextmanager
def blas_threads(n: int | None):
    """numpy's BLAS pool limited to ``n`` threads (None: left as configured)."""
    from index.embedding.threads import numpy_blas_limit

    if n is None:
        yield
        return
    with numpy_blas_limit(n):
        yield


def thread_experiments(
    settings: Settings, embedder: Embedder, answerer: Answerer, questions: list[str]
) -> dict:
    """The floor and the ask under other backend / numpy-BLAS thread counts, interleaved with the
    configured setting so that all see the same machine load."""
    from index.embedding.threads import threads_per_pass

    cores = os.cpu_count() or 1
    configured = threads_per_pass(settings.threads)
    settings_tried = sorted({1, cores, configured})
    floors: dict[int, list[float]] = {n: [] for n in settings_tried}
    encoders = {
        n: floor_encoder(embedder if n == configured else embedder.with_threads(n)) for n in settings_tried
    }
    for q in questions:
        for n in settings_tried:
            floors[n].append(encoders[n](q))
    asks: dict[str, list[float]] = {}
    fusion: dict[str, list[float]] = {}
    for q in questions:
        for label, blas in (("numpy BLAS 1 thread", 1), (f"numpy BLAS {cores} threads", cores)):
            with blas_threads(blas):
                t0 = time.perf_counter()
                answer = answerer.ask(q)
                asks.setdefault(label, []).append((time.perf_counter() - t0) * 1000)
                fusion.setdefault(label, []).append(answer.timings_ms.get("fusion", 0.0))
    return {
        "configured_threads": configured,
        "floor_by_threads": {str(n): summarize(v) for n, v in floors.items()},
        "ask_by_blas_threads": {
            label: {"ask": summarize(asks[label]), "fusion": summarize(fusion[label])} for label in asks
        },
    }


def parallel_capacity(answerer: Answerer, questions: list[str], requests: int) -> dict:
    """Asks per second with one thread per core asking at once, in process: what the busy cores
    deliver without HTTP, the reference for the server's throughput under many clients."""
    cores = os.cpu_count() or 1
    lock = threading.Lock()
    counter = iter(range(requests))

    def worker() -> None:
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            answerer.ask(questions[i % len(questions)])

    threads = [threading.Thread(target=worker) for _ in range(cores)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - t0
    single = [time_ms(lambda q=q: answerer.ask(q)) for q in questions[: min(len(questions), 20)]]
    return {
        "threads": cores,
        "requests": requests,
        "asks_per_second": round(requests / seconds, 2),
        "single_thread_asks_per_second": round(1000 / summarize(single)["p50"], 2),
    }
