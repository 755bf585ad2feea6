"""Thread settings for query-at-a-time inference: one thread per forward pass, numpy's BLAS on one.

A question is ~20 tokens, too little work to split across cores, and every op of a split encode
waits at a barrier for its slowest thread, so a core taken by another process (or by a second
request) stalls it. Concurrency comes from requests running side by side instead. Measured in
BENCHMARKS.md ("Thread settings"): on the 2-vCPU benchmark machine the floor was 26 ms with 1
torch thread and ~980 ms with 2; `yibao eval` went from 1031 ms to 27 ms a question and `yibao
ingest` from 47 s to 18 s, with identical retrieval metrics.

numpy's BLAS pool is held to one thread too: retrieval and the composer only multiply small
matrices (MMR over ~30 passages, sentence cosines), where waking BLAS threads costs more than it
saves and their spinning competes with the encoder (fusion: 20 ms -> 0.7 ms). FAISS searches are
held to one OpenMP thread by ``index.dense.search``. Each backend applies ``threads_per_pass`` to
its own runtime (the onnxruntime session, or torch's per-process pool).

An ingest has the machine to itself, and uses every core the same way: one batch per core at
once, each on one thread, rather than each pass split across cores (``for_ingest``).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from index.embedding.base import Embedder


def threads_per_pass(threads: int = 0) -> int:
    """The intra-op thread count of one forward pass for ``Settings.threads`` (0 means 1;
    ``threads > 0`` is taken as given)."""
    return threads if threads > 0 else 1


def for_ingest(embedder: Embedder) -> Embedder:
    """The embedder `yibao ingest` runs: as many batches at once as there are cores."""
    return embedder.with_parallel_batches(os.cpu_count() or 1)


def limit_numpy_blas() -> None:
    """Run numpy's BLAS on one thread for the rest of the process."""
    _set_numpy_blas_threads(1)


@contextlib.contextmanager
def numpy_blas_limit(threads: int) -> Iterator[None]:
    """Temporarily run numpy's BLAS with ``threads`` threads (for measurements)."""
    before = _set_numpy_blas_threads(threads)
    try:
        yield
    finally:
        for controller, n in before:
            controller.set_num_threads(n)


def _set_numpy_blas_threads(threads: int) -> list[tuple[object, int]]:
    """Limit the BLAS library numpy links (not FAISS's own, which trains IVF indexes); returns the
    previous settings. A no-op without threadpoolctl (it comes with scikit-learn)."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return []
    before = []
    for controller in ThreadpoolController().lib_controllers:
        if controller.user_api == "blas" and "numpy" in controller.filepath:
            before.append((controller, controller.num_threads))
            controller.set_num_threads(threads)
    return before
