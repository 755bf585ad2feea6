"""FAISS inner-product search over normalised vectors; the index kind is chosen in one place.

The thresholds and parameters come from ``yibao bench`` (BENCHMARKS.md, "FAISS at scale"): on
e5-like synthetic vectors, one search thread, recall@10 against exact search.

* ``flat``: exact. Its cost grows with the corpus (one thread: 0.3 ms at 10k rows, 5.5 ms at
  100k, 56 ms at 1M), so it is used while it stays a small part of an answer's time (the
  question's encoding takes ~20 ms): up to 20k rows, ~1 ms.
* ``hnsw``: HNSW graph (M=32) over fp16-stored vectors: ~1 KB a row, 2/3 of float32 storage
  (the float32 vectors are kept in ``vectors.npy`` anyway), and an exact fp16 scan still finds
  99.9 % of the true top 10. Its search breadth grows with the corpus (``hnsw_ef_search``); at
  1M rows a search takes ~1.3 ms with one thread at recall@10 ≈ 0.97. Building it is the slow
  part (≈9 minutes for 1M rows on the benchmark machine), small next to embedding 1M chunks.
* ``ivfpq``: inverted lists with 8-bit product codes, 48 bytes a vector. The smallest index,
  but PQ codes blur the fine differences between e5 neighbours (they all sit at cosine ~0.95):
  recall@10 0.6 at 10k rows, 0.4 at 100k, 0.2 at 1M in the benchmark, so it is never chosen
  automatically; it is there for corpora that do not fit in memory otherwise
  (``build(vectors, "ivfpq")``).
"""

from __future__ import annotations

import math

import faiss
import numpy as np

KINDS = ("flat", "hnsw", "ivfpq")
# Exact search up to here: ≈1 ms with one thread at 20k rows (100k rows: 5.5 ms).
EXACT_MAX_ROWS = 20_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
# efSearch grows with the graph: recall@10 at 100k rows is 0.995 with 64; at 1M rows 64 gives
# 0.93, 128 gives 0.95, 256 gives 0.97 (1.3 ms) and 512 gives 0.98 (2.2 ms). The retriever asks
# for 30 candidates and FAISS searches max(efSearch, k).
HNSW_EF_SEARCH = ((150_000, 64), (400_000, 128), (1_500_000, 256))
HNSW_EF_SEARCH_MAX = 384
IVF_NPROBE = 32


def hnsw_ef_search(n_rows: int) -> int:
    """The HNSW search breadth that keeps recall@10 ≥ 0.95 at this many rows (BENCHMARKS.md)."""
    return next((ef for rows, ef in HNSW_EF_SEARCH if n_rows <= rows), HNSW_EF_SEARCH_MAX)


def choose_kind(n_rows: int) -> str:
    """``flat`` (exact) for small corpora, ``hnsw`` above that."""
    return "flat" if n_rows <= EXACT_MAX_ROWS else "hnsw"


def build(vectors: np.ndarray, kind: str = "auto") -> faiss.Index:
    """An index over ``vectors`` (float32, L2-normalised rows); inner product = cosine."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n, dim = vectors.shape
    kind = choose_kind(n) if kind == "auto" else kind
    if kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif kind == "hnsw":
        index = faiss.IndexHNSWSQ(dim, faiss.ScalarQuantizer.QT_fp16, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.hnsw.efSearch = hnsw_ef_search(n)
        index.train(vectors[:1] if n else np.zeros((1, dim), np.float32))  # fp16: nothing to learn
    elif kind == "ivfpq":
        cells = max(1, int(2 * math.sqrt(n)))
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFPQ(quantizer, dim, cells, dim // 8, 8, faiss.METRIC_INNER_PRODUCT)
        # 40 points per cell (FAISS warns below 39); more only slows training down.
        sample = np.random.default_rng(0).choice(n, min(n, max(40 * cells, 256)), replace=False)
        index.train(vectors[sample])
        index.nprobe = IVF_NPROBE
    else:
        raise ValueError(f"unknown index kind {kind!r} ({', '.join(KINDS)} or auto)")
    if n:
        index.add(vectors)
    return index


def search(index: faiss.Index, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-k (scores, row ids) for one query vector; ids of -1 (fewer rows than k) are dropped.

    The search runs with one OpenMP thread: splitting one query's scan across cores made exact
    search 4-60x slower on the 2-vCPU benchmark machine (threads wait at the barrier for a core
    that another request or process holds), and concurrent requests already use every core.
    The setting is per calling thread and restored afterwards, so index builds keep all cores."""
    k = min(k, index.ntotal)
    if k <= 0:
        return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
    query = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        scores, ids = index.search(query, k)
    finally:
        faiss.omp_set_num_threads(threads)
    keep = ids[0] >= 0
    return scores[0][keep], ids[0][keep]
