"""The local store and Milvus side by side: filling each and searching it, on the corpus and on
synthetic chunks (10k; 100k in a full run).

Milvus here is milvus-lite, a local process over a file in a temporary dir: it shows what the Milvus code
path costs on one machine, not what a Milvus server does at scale (that is the reason to run one,
README "When one machine is not enough"). Build is filling the store from an index already
embedded (local: FAISS + BM25; Milvus: inserting every row and flushing, after which milvus-lite
builds the dense index in the background and brute force answers meanwhile); the first search is
reported on its own (milvus-lite builds a segment's BM25 index then); search is one dense query
(k=30, the retriever's candidate pool) and one lexical query per question, as the retriever asks
them.
"""

from __future__ import annotations

import math
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from bench.scale import e5_like
from bench.stats import summarize
from index import dense, store
from index.build import build_index
from index.embedding import Embedder
from index.lexical import BM25
from index.stores import ChunkStore, open_store, sync_store
from index.units import UnitTable
from ingest.textnorm import tokenize
from settings import Settings

SIZES = (10_000, 100_000)
QUICK_SIZES = (10_000,)
CHUNKS_PER_DOC = 100
# A Milvus fill estimated (from the size before) to take longer than this is not run.
MILVUS_FILL_CAP_SECONDS = 1800


def measure(settings: Settings, embedder: Embedder, questions: list[str], quick: bool, log=print) -> dict:
    build_index(settings, embedder)
    corpus = store.load_index(settings.index_dir, embedder.name, embedder.fingerprint, embedder.dim)
    terms = [tokenize(q) for q in questions]
    vectors = embedder.encode_queries(questions)
    rows = _both(settings, f"corpus ({len(corpus)} chunks)", corpus, vectors, terms, log)
    for n in QUICK_SIZES if quick else SIZES:
        synthetic, queries = _synthetic(corpus, n, len(questions))
        last = rows[-1]
        # Milvus fills in about linear time: the last size's fill, scaled, says whether to try.
        estimate = last["build_seconds"] * n / last["chunks"] if "build_seconds" in last else math.inf
        rows += _both(
            settings,
            f"synthetic {n // 1000}k chunks",
            synthetic,
            queries,
            terms,
            log,
            milvus_estimate=estimate,
        )
    return {"k": settings.candidates, "questions": len(questions), "rows": rows}


def _both(
    settings: Settings,
    data: str,
    index: store.StoredIndex,
    queries: np.ndarray,
    terms: list[list[str]],
    log,
    milvus_estimate: float = 0.0,
) -> list[dict]:
    out = []
    for name in ("local", "milvus"):
        if name == "milvus" and milvus_estimate > MILVUS_FILL_CAP_SECONDS:
            note = f"not measured: the fill would take about {milvus_estimate / 60:.0f} min"
            log(f"stores: {data} on {name}: {note}")
            out.append({"data": data, "store": name, "chunks": len(index), "skipped": note})
            continue
        with tempfile.TemporaryDirectory(prefix="yibao-bench-stores-") as tmp:
            conf = replace(settings, store=name, data_dir=Path(tmp), milvus_uri="")
            t0 = time.perf_counter()
            if name == "local":
                index = replace(index, dense=dense.build(index.vectors), lexical=BM25().fit(index.tokens))
            else:
                sync_store(conf, index)
            build = time.perf_counter() - t0
            chunk_store = open_store(conf, index)
            t0 = time.perf_counter()
            chunk_store.dense(queries[0], settings.candidates)
            chunk_store.lexical(terms[0], settings.candidates)
            first = time.perf_counter() - t0
            dense_ms, lexical_ms = _latencies(chunk_store, queries, terms, settings.candidates)
        row = {
            "data": data,
            "store": name,
            "chunks": len(index),
            "build_seconds": round(build, 2),
            "first_search_ms": round(first * 1000, 1),
            "dense_p50_ms": dense_ms["p50"],
            "dense_p95_ms": dense_ms["p95"],
            "lexical_p50_ms": lexical_ms["p50"],
            "lexical_p95_ms": lexical_ms["p95"],
        }
        log(f"stores: {data} on {name}: build {row['build_seconds']} s, dense p50 {row['dense_p50_ms']} ms")
        out.append(row)
    return out


def _latencies(
    chunk_store: ChunkStore, queries: np.ndarray, terms: list[list[str]], k: int
) -> tuple[dict, dict]:
    """Dense and lexical search latencies (p50, p95 …), one query at a time."""
    dense_ms, lexical_ms = [], []
    for vector, words in zip(queries, terms, strict=True):
        t0 = time.perf_counter()
        chunk_store.dense(vector, k)
        t1 = time.perf_counter()
        chunk_store.lexical(words, k)
        lexical_ms.append((time.perf_counter() - t1) * 1000)
        dense_ms.append((t1 - t0) * 1000)
    return summarize(dense_ms), summarize(lexical_ms)


def _synthetic(corpus: store.StoredIndex, n: int, n_queries: int) -> tuple[store.StoredIndex, np.ndarray]:
    """``n`` chunks with e5-like vectors whose texts are the corpus's chunks again (so the lexical
    search sees real term statistics), ``CHUNKS_PER_DOC`` to a document; and query vectors."""
    vectors, queries = e5_like(n, n_queries, seed=n, dim=corpus.manifest.dim)
    chunks, tokens = [], []
    for i in range(n):
        source = i % len(corpus)
        chunks.append(
            replace(corpus.chunks[source], id=f"s{i:07d}", doc_id=f"synthetic-{i // CHUNKS_PER_DOC}")
        )
        tokens.append(corpus.tokens[source])
    files = {c.doc_id: "synthetic" for c in chunks}
    manifest = replace(corpus.manifest, files=files, index_kind=dense.choose_kind(n))
    empty = UnitTable([], np.zeros((0, corpus.manifest.dim), dtype=np.float32))
    index = store.StoredIndex(manifest, chunks, tokens, vectors, corpus.dense, corpus.lexical, empty)
    return index, queries
