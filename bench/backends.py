"""The same model on every backend of ``index.embedding.LOCAL_BACKENDS`` (torch, onnx fp32, onnx int8).

Per backend: the time to load it (the first ONNX load includes the one-off export), the floor
(one question, interleaved across backends), agreement with torch (cosine of the question
embeddings), in-process throughput with every core asking, and retrieval/answer quality on
eval/questions.jsonl over an index built with that backend (the configured backend uses the
configured index).
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bench.inprocess import floor_encoder, parallel_capacity, uncached_answerer
from bench.stats import summarize
from index.embedding import LOCAL_BACKENDS, Embedder, ModelUnavailable, load_embedder
from index.embedding.threads import threads_per_pass
from settings import Settings

if TYPE_CHECKING:
    from answer.compose import Answerer

QUALITY_KEYS = (
    "hit@1",
    "hit@5",
    "mrr@10",
    "ndcg@10",
    "answer_evidence_rate",
    "abstain_recall",
    "false_abstain_rate",
)


def _quality(answerer: Answerer, questions: list) -> dict:
    from eval.run_questions import evaluate

    metrics = evaluate(answerer, questions, "hybrid", 10)["metrics"]
    return {k: metrics[k] for k in QUALITY_KEYS if k in metrics}


def measure(settings: Settings, embedder: Embedder, quick: bool, log=print) -> dict:
    from answer.compose import Answerer
    from eval.questions import load_questions
    from index.build import build_index
    from index.loader import open_retriever
    from settings import ROOT

    backends: dict[str, Embedder] = {}
    load_seconds: dict[str, float] = {}
    skipped: dict[str, str] = {}
    for name in LOCAL_BACKENDS:
        if name == settings.backend:
            backends[name] = embedder
            continue
        t0 = time.perf_counter()
        try:
            backends[name] = load_embedder(replace(settings, backend=name, query_cache_size=0))
        except ModelUnavailable as exc:  # e.g. a configured model that cannot be exported to ONNX
            skipped[name] = str(exc)
            continue
        load_seconds[name] = round(time.perf_counter() - t0, 1)
    questions = load_questions(ROOT / "eval" / "questions.jsonl")
    texts = [q.question for q in questions][: 20 if quick else 60]

    floors: dict[str, list[float]] = {name: [] for name in backends}
    encoders = {name: floor_encoder(backend) for name, backend in backends.items()}
    for q in texts:
        for name, encode in encoders.items():
            floors[name].append(encode(q))
    reference = backends["torch"].encode_queries(texts)
    rows = {}
    with tempfile.TemporaryDirectory(prefix="yibao-bench-backend-") as tmp:
        for name, backend in backends.items():
            log(f"bench: backend {name}")
            agreement = np.einsum("ij,ij->i", backend.encode_queries(texts), reference)
            row: dict = {
                "floor": summarize(floors[name]),
                "cosine_to_torch_min": round(float(agreement.min()), 5),
                "cosine_to_torch_p50": round(float(np.median(agreement)), 5),
            }
            if name in load_seconds:
                row["load_seconds"] = load_seconds[name]
            path = getattr(backend, "path", None)
            if path is not None:
                row["model_file_mib"] = round(path.stat().st_size / 2**20, 1)
            if name == settings.backend:
                answerer = uncached_answerer(settings, embedder, 0)
            else:
                conf = replace(settings, data_dir=Path(tmp) / name, backend=name, query_cache_size=0)
                t1 = time.perf_counter()
                built = build_index(conf, backend, rebuild=True)
                row["ingest_seconds"] = round(time.perf_counter() - t1, 2)
                row["ingest_texts_per_second"] = round(built.embedded / (time.perf_counter() - t1), 2)
                answerer = Answerer(open_retriever(conf, backend), conf)
            if not quick:
                row["quality"] = _quality(answerer, questions)
            row["parallel_capacity"] = parallel_capacity(answerer, texts, 24 if quick else 80)
            rows[name] = row
    configured_p50 = rows[settings.backend]["floor"]["p50"]
    for row in rows.values():
        row["floor_vs_configured"] = (
            round(row["floor"]["p50"] / configured_p50, 2) if configured_p50 else None
        )
    return {
        "configured": settings.backend,
        "threads": threads_per_pass(settings.threads),
        "backends": rows,
        "skipped": skipped,
    }
