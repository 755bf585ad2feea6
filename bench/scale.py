"""FAISS at corpus sizes the real corpus does not reach: every index kind ``index/dense.py`` builds,
on synthetic vectors of 10k, 100k and 1M rows.

The vectors imitate multilingual-e5's geometry as measured on this corpus's own vectors: a large
shared mean (norm 0.94: any two e5 vectors have cosine ~0.88), a residual whose variance falls
as 1/rank in a random basis (the corpus's spectrum falls as rank^-1.2 over its 621 vectors), and
cluster structure: each row is drawn around one of n/50 centres that take half the residual
variance. Queries come from the same distribution. Neighbours then sit at cosine ~0.96 and the
10th one only ~0.01 below the 1st, which is what makes PQ codes and coarse IVF lists lose
recall; plain clustered random vectors (tried first) are far easier and flatter every index.

Build time is wall time with all cores; memory is the size of the serialised index (what
``dense.faiss`` takes on disk and about what it takes in RAM); search is ``dense.search`` one
query at a time (one OpenMP thread, as the server runs it) with k=10; recall@10 is against exact
inner-product search over the same vectors.
"""

from __future__ import annotations

import gc
import time

import faiss
import numpy as np

from bench.stats import summarize
from index import dense

DIM = 384
SIZES = (10_000, 100_000, 1_000_000)
QUICK_SIZES = (10_000,)
QUICK_KINDS = ("flat", "hnsw")
MEAN_NORM = 0.94
SPECTRUM_EXPONENT = 1.0
CLUSTER_SIZE = 50
WITHIN_CLUSTER_SHARE = 0.5
K = 10
SWEEPS = {"hnsw": ("efSearch", (32, 64, 128, 256, 512)), "ivfpq": ("nprobe", (16, 32, 64, 128))}


def e5_like(n: int, n_queries: int, seed: int = 0, dim: int = DIM) -> tuple[np.ndarray, np.ndarray]:
    """``n`` database rows and ``n_queries`` queries, float32, unit length (see the module doc)."""
    rng = np.random.default_rng(seed)
    mean = rng.standard_normal(dim)
    mean *= MEAN_NORM / np.linalg.norm(mean)
    variances = np.arange(1, dim + 1, dtype=np.float64) ** -SPECTRUM_EXPONENT
    variances *= (1 - MEAN_NORM**2) / variances.sum()
    basis = np.linalg.qr(rng.standard_normal((dim, dim)))[0]
    to_residual = (np.sqrt(variances)[:, None] * basis).astype(np.float32)
    n_centres = max(1, n // CLUSTER_SIZE)
    centres = rng.standard_normal((n_centres, dim), dtype=np.float32) @ to_residual
    centres *= np.float32(np.sqrt(1 - WITHIN_CLUSTER_SHARE))
    within = np.float32(np.sqrt(WITHIN_CLUSTER_SHARE))
    mean32 = mean.astype(np.float32)

    def draw(m: int) -> np.ndarray:
        out = np.empty((m, dim), dtype=np.float32)
        for start in range(0, m, 65_536):
            size = min(65_536, m - start)
            block = centres[rng.integers(n_centres, size=size)]
            block += (rng.standard_normal((size, dim), dtype=np.float32) @ to_residual) * within
            block += mean32
            block /= np.linalg.norm(block, axis=1, keepdims=True)
            out[start : start + size] = block
        return out

    return draw(n), draw(n_queries)


def index_bytes(index: faiss.Index) -> int:
    """Size of the serialised index, counted without holding a copy of it."""
    total = 0

    def count(chunk: bytes) -> int:
        nonlocal total
        total += len(chunk)
        return len(chunk)

    writer = faiss.PyCallbackIOWriter(count)
    faiss.write_index(index, writer)
    del writer
    return total


def search_figures(index: faiss.Index, queries: np.ndarray, truth: np.ndarray) -> dict:
    latencies, found = [], 0
    for q, expected in zip(queries, truth, strict=True):
        t0 = time.perf_counter()
        _, ids = dense.search(index, q, K)
        latencies.append((time.perf_counter() - t0) * 1000)
        found += len(set(ids.tolist()) & set(expected.tolist()))
    stats = summarize(latencies)
    return {"p50_ms": stats["p50"], "p95_ms": stats["p95"], "recall_at_10": round(found / truth.size, 4)}


def _all_threads_p50(index: faiss.Index, queries: np.ndarray) -> float:
    """Single-query search with FAISS's default OpenMP threads (what dense.search avoids)."""
    latencies = []
    for q in queries:
        t0 = time.perf_counter()
        index.search(q.reshape(1, -1), K)
        latencies.append((time.perf_counter() - t0) * 1000)
    return summarize(latencies)["p50"]


def _param(index: faiss.Index, name: str) -> int:
    return int(index.hnsw.efSearch if name == "efSearch" else index.nprobe)


def _set_param(index: faiss.Index, name: str, value: int) -> None:
    if name == "efSearch":
        index.hnsw.efSearch = value
    else:
        index.nprobe = value


def measure(quick: bool, log=print) -> dict:
    sizes = QUICK_SIZES if quick else SIZES
    # ivfpq is never chosen automatically and its training dominates a quick run.
    kinds = QUICK_KINDS if quick else dense.KINDS
    n_queries = 100 if quick else 200
    rows, data = [], []
    for n in sizes:
        t0 = time.perf_counter()
        vectors, queries = e5_like(n, n_queries, seed=n)
        exact = faiss.IndexFlatIP(DIM)
        exact.add(vectors)
        top, truth = exact.search(queries, K)
        del exact
        log(f"scale: {n} rows generated with ground truth in {time.perf_counter() - t0:.1f} s")
        for kind in kinds:
            gc.collect()
            t0 = time.perf_counter()
            index = dense.build(vectors, kind)
            build_s = time.perf_counter() - t0
            size = index_bytes(index)
            row = {
                "rows": n,
                "kind": kind,
                "auto_choice": dense.choose_kind(n) == kind,
                "build_seconds": round(build_s, 2),
                "index_mib": round(size / 2**20, 1),
                "bytes_per_vector": round(size / n, 1),
                **search_figures(index, queries, truth),
            }
            if kind == "flat":
                row["p50_ms_all_threads"] = _all_threads_p50(index, queries[:50])
            if kind in SWEEPS:
                name, values = SWEEPS[kind]
                default = _param(index, name)
                row["param"] = f"{name}={default}"
                sweep = []
                for value in values:
                    _set_param(index, name, value)
                    sweep.append({name: value, **search_figures(index, queries, truth)})
                _set_param(index, name, default)
                row["sweep"] = sweep
            rows.append(row)
            log(
                f"scale: {n} {kind}: build {row['build_seconds']} s, {row['index_mib']} MiB, "
                f"p50 {row['p50_ms']} ms, recall@10 {row['recall_at_10']}"
            )
            del index
        data.append(
            {
                "rows": n,
                "top1_cosine_p50": round(float(np.median(top[:, 0])), 4),
                "top10_cosine_p50": round(float(np.median(top[:, K - 1])), 4),
            }
        )
        del vectors, queries
    return {
        "dim": DIM,
        "queries": n_queries,
        "k": K,
        "data": (
            f"e5-like: mean norm {MEAN_NORM}, residual variance ~ rank^-{SPECTRUM_EXPONENT} in a random "
            f"basis, clusters of {CLUSTER_SIZE} sharing {1 - WITHIN_CLUSTER_SHARE:.0%} of the residual"
        ),
        "params": {
            "exact_max_rows": dense.EXACT_MAX_ROWS,
            "hnsw": f"IndexHNSWSQ fp16, M={dense.HNSW_M}, efConstruction={dense.HNSW_EF_CONSTRUCTION}, "
            f"efSearch by rows {dense.HNSW_EF_SEARCH} else {dense.HNSW_EF_SEARCH_MAX}",
            "ivfpq": f"IndexIVFPQ 2*sqrt(n) lists, {DIM // 8}x8-bit codes, nprobe={dense.IVF_NPROBE}",
        },
        "rows": rows,
        "neighbours": data,
    }
