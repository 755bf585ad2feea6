"""``yibao bench``: the floor, the in-process pipeline, HTTP, ingest and FAISS at scale, in one run.

``run_bench(settings, quick)`` returns one JSON-able dict; ``render_markdown`` turns it into the
tables of BENCHMARKS.md. Parts: ``inprocess`` (floor, retrieval, ask per stage, cached repeat,
thread settings), ``http_load``, ``ingest``, ``stages`` (ingest time by stage, the batching
before and after issue 12, `yibao ingest`'s peak memory on a 5 MB file), ``backends`` (torch,
onnx fp32 and int8 side by side), ``footprint`` (a server's start-up time and resident memory
per backend), ``stores`` (local vs Milvus: build and search, corpus and synthetic chunks),
``scale`` (FAISS kinds on synthetic 10k–1M rows), ``library`` (a library indexed from scratch on
the configured backend and through an embedding engine); ``report`` holds the targets and tables.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from bench.report import render_markdown, targets
from settings import ROOT, Settings

if TYPE_CHECKING:
    from index.embedding import Embedder

__all__ = ["PARTS", "QUICK_PARTS", "render_markdown", "run_bench"]

PARTS = ("inprocess", "http", "ingest", "stages", "backends", "footprint", "stores", "scale", "library")
# The backend comparison, the footprint and the library build an index per backend: too slow for
# --quick.
QUICK_PARTS = ("inprocess", "http", "ingest", "scale")
QUICK_QUESTIONS = 12


def run_bench(
    settings: Settings,
    quick: bool = False,
    *,
    embedder: Embedder | None = None,
    parts: tuple[str, ...] | None = None,
    library: Path | None = None,
    library_files: int | None = None,
    log: Callable[[str], None] = print,
) -> dict:
    """Every part of the benchmark on this machine; ``quick`` trims request counts and sizes.
    ``library`` is the corpus the library part indexes (default: the shared cmrc2018_train), of
    which it takes ``library_files`` files spread evenly (default: all)."""
    from bench import (
        backends,
        footprint,
        http_load,
        ingest,
        ingest_stages,
        inprocess,
        machine,
        scale,
        stores,
    )
    from bench import library as library_part
    from eval.questions import load_questions
    from index.embedding import LOCAL_BACKENDS, load_embedder
    from index.embedding.threads import threads_per_pass

    parts = parts or (QUICK_PARTS if quick else PARTS)
    started = time.perf_counter()
    result: dict = {
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": quick,
        "machine": machine.describe(),
        "settings": {
            "model": settings.model,
            "backend": settings.backend,
            "threads": settings.threads,
            "query_cache_size": settings.query_cache_size,
            "batch_size": settings.batch_size,
            "data_dir": str(settings.data_dir),
            "corpus_dir": str(settings.corpus_dir),
        },
    }
    if embedder is None:
        t0 = time.perf_counter()
        embedder = load_embedder(settings)
        result["model_load_seconds"] = round(time.perf_counter() - t0, 1)
    result["settings"]["threads_per_pass"] = threads_per_pass(settings.threads)
    questions = [q.question for q in load_questions(ROOT / "eval" / "questions.jsonl")]
    if quick:
        questions = questions[:QUICK_QUESTIONS]
    result["questions"] = len(questions)

    floor = inprocess.floor_encoder(embedder)
    if "inprocess" in parts:
        log("bench: floor and in-process pipeline")
        result["inprocess"] = inprocess.measure(settings, embedder, questions, quick)
    if "http" in parts:
        log("bench: HTTP (yibao serve subprocess)")
        result["http"] = http_load.measure(settings, questions, floor, quick)
    if "ingest" in parts:
        log("bench: ingest from scratch")
        result["ingest"] = ingest.measure(settings, embedder, quick)
    if "stages" in parts:
        log("bench: where ingest time goes (cmrc2018_trial, synthetic 5 MB file)")
        result["stages"] = ingest_stages.measure(settings, embedder, quick)
    if "backends" in parts:
        log("bench: every inference backend (torch, onnx, onnx-int8)")
        result["backends"] = backends.measure(settings, embedder, quick, log=log)
    if "footprint" in parts:
        log("bench: `yibao serve` start-up and memory on every backend")
        result["footprint"] = footprint.measure(settings, questions, LOCAL_BACKENDS, log=log)
    if "stores" in parts:
        log("bench: the local store and Milvus (milvus-lite)")
        result["stores"] = stores.measure(settings, embedder, questions, quick, log=log)
    if "scale" in parts:
        log("bench: FAISS at scale")
        result["scale"] = scale.measure(quick, log=log)
    if "library" in parts:
        log("bench: a library indexed from scratch, in process and through an embedding engine")
        corpus = library or library_part.CMRC_TRAIN
        result["library"] = library_part.measure(settings, corpus, library_files, quick, log=log)
    result["machine"]["load_average_end"] = machine.load_average()
    result["seconds"] = round(time.perf_counter() - started, 1)
    result["targets"] = targets(result)
    return result
