"""FAISS inner-product search over normalised vectors; the index kind is chosen in one place."""

from __future__ import annotations

import math

import faiss
import numpy as np

# Below this many vectors exact search is already sub-millisecond and approximate indexes
# only cost recall (figures in BENCHMARKS.md).
EXACT_MAX_ROWS = 50_000


def choose_kind(n_rows: int) -> str:
    """``flat`` (exact) for small corpora, ``hnsw`` above that, ``ivfpq`` for very large ones."""
    if n_rows <= EXACT_MAX_ROWS:
        return "flat"
    if n_rows <= 2_000_000:
        return "hnsw"
    return "ivfpq"


def build(vectors: np.ndarray, kind: str = "auto") -> faiss.Index:
    """An index over ``vectors`` (float32, L2-normalised rows); inner product = cosine."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n, dim = vectors.shape
    kind = choose_kind(n) if kind == "auto" else kind
    if kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        index.hnsw.efSearch = 64
    elif kind == "ivfpq":
        cells = max(1, int(4 * math.sqrt(n)))
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFPQ(quantizer, dim, cells, dim // 8, 8, faiss.METRIC_INNER_PRODUCT)
        index.train(vectors[np.random.default_rng(0).choice(n, min(n, 64 * cells), replace=False)])
        index.nprobe = 32
    else:
        raise ValueError(f"unknown index kind {kind!r} (flat, hnsw, ivfpq or auto)")
    if n:
        index.add(vectors)
    return index


def search(index: faiss.Index, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-k (scores, row ids) for one query vector; ids of -1 (fewer rows than k) are dropped."""
    k = min(k, index.ntotal)
    if k <= 0:
        return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
    scores, ids = index.search(np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32), k)
    keep = ids[0] >= 0
    return scores[0][keep], ids[0][keep]
