"""Embeds passages and queries with one sentence-transformers model, loaded once per process."""

from __future__ import annotations

import contextlib
import copy
import hashlib
import importlib
import json
import os
import threading
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from index.e5_model import ModelUnavailable
from settings import Settings

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

# settings.backend -> "module:class"; each class has ``open(settings)``. ONNX is the default:
# the same vectors (cosine to torch >= 0.99999) at half the time per question, and onnxruntime
# runs a whole forward pass without holding the GIL (BENCHMARKS.md, "Inference backends").
BACKENDS = {
    "onnx": "index.onnx_embedder:OnnxEmbedder",
    "onnx-int8": "index.onnx_embedder:OnnxInt8Embedder",
    "torch": "index.torch_embedder:TorchEmbedder",
}

# Prompt names tried in order; models trained without prompts simply have none of them.
_PASSAGE_PROMPTS = ("passage", "document")
_QUERY_PROMPTS = ("query",)
# Fed through the tokenizer for the fingerprint: catches normalizer/vocabulary changes cheaply.
_TOKENIZER_PROBE = "query: 医保卡餘額 12333 Ｆｕｌｌ-width  spaces café 😀"


class Embedder(ABC):
    """One embedding model, shared by every thread of the process.

    The base class holds what every backend shares: prompts, batching, the query cache and the
    limit of one forward pass per core. A backend supplies ``forward``; ``Embedder.load`` picks
    the backend named by ``settings.backend`` (see ``BACKENDS``).
    """

    def __init__(
        self,
        name: str,
        fingerprint: str,
        prompts: dict[str, str],
        batch_size: int = 32,
        query_cache_size: int = 256,
    ) -> None:
        self._name = name
        self._fingerprint = fingerprint
        self._batch_size = max(1, batch_size)
        self.passage_prompt = _pick_prompt(prompts, _PASSAGE_PROMPTS)
        self.query_prompt = _pick_prompt(prompts, _QUERY_PROMPTS)
        # One forward pass per core at a time: each runs on one thread, and more passes than
        # cores only thrash the caches (16 clients got less done than 4).
        self._passes = threading.BoundedSemaphore(os.cpu_count() or 1)
        # Encoding once before any server thread can: the fast tokenizer sets its truncation and
        # padding state on first use, and a second thread mutating it mid-encode raises "Already
        # borrowed". Every later call asks for the same state, so encoding needs no lock after this.
        self._dim = int(self._encode(["warm-up"], self.query_prompt).shape[1])
        self._set_cache(query_cache_size)

    @classmethod
    def load(cls, settings: Settings) -> Embedder:
        """The model ``settings.model`` on the backend ``settings.backend``, on the CPU."""
        if settings.backend not in BACKENDS:
            raise ModelUnavailable(
                f"YIBAO_BACKEND={settings.backend!r} is not a backend; choose one of {', '.join(BACKENDS)}"
            )
        module, _, attribute = BACKENDS[settings.backend].partition(":")
        backend = getattr(importlib.import_module(module), attribute)
        configure_threads(settings.threads)
        return backend.open(settings)

    @property
    def name(self) -> str:
        return self._name

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def fingerprint(self) -> str:
        """Short id of the weights, tokenizer and backend: an index is only valid for its own."""
        return self._fingerprint

    @abstractmethod
    def forward(self, texts: list[str], prompt_name: str | None) -> np.ndarray:
        """The model alone, as ``SentenceTransformer.encode`` runs it: normalized float32 vectors in
        input order, batched by length; no cache and no limit on concurrent passes (the floor)."""

    @abstractmethod
    def with_threads(self, threads: int) -> Embedder:
        """The same model whose forward passes use ``threads`` threads (for the benchmark)."""

    def with_cache(self, query_cache_size: int) -> Embedder:
        """The same model (and the same limit on concurrent passes) with a query cache of its own."""
        twin = copy.copy(self)
        twin._set_cache(query_cache_size)
        return twin

    def encode_passages(self, texts: list[str], progress: bool = False) -> np.ndarray:
        """Normalized float32 embeddings, shape ``(len(texts), dim)``."""
        texts = list(texts)
        out = np.empty((len(texts), self._dim), dtype=np.float32)
        if not texts:
            return out
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=len(texts), desc="embedding", unit="passage")
        try:
            for idx in self._batches(texts):
                out[idx] = self._encode([texts[i] for i in idx], self.passage_prompt)
                if bar is not None:
                    bar.update(len(idx))
        finally:
            if bar is not None:
                bar.close()
        return out

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """Normalized float32 query embeddings, shape ``(len(texts), dim)``; not cached."""
        texts = list(texts)
        if not texts:
            return np.empty((0, self._dim), dtype=np.float32)
        return self._encode(texts, self.query_prompt)

    def encode_query(self, text: str) -> np.ndarray:
        """One normalized query embedding, shape ``(dim,)``, from a small LRU cache when seen recently."""
        if self._cache_size:
            with self._cache_lock:
                hit = self._cache.get(text)
                if hit is not None:
                    self._cache.move_to_end(text)
                    return hit.copy()
        vector = self._encode([text], self.query_prompt)[0]
        if self._cache_size:
            with self._cache_lock:
                self._cache[text] = vector.copy()
                self._cache.move_to_end(text)
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return vector

    def _encode(self, texts: list[str], prompt_name: str | None) -> np.ndarray:
        with self._passes:
            vectors = self.forward(texts, prompt_name)
        return np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(texts), -1)

    def _batches(self, texts: list[str]) -> Iterator[list[int]]:
        """Indexes of ``texts`` in batches, longest first as sentence-transformers does, so that each
        batch pads to similar lengths."""
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        for start in range(0, len(order), self._batch_size):
            yield order[start : start + self._batch_size]

    def _set_cache(self, size: int) -> None:
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = max(0, size)
        self._cache_lock = threading.Lock()


def configure_threads(threads: int = 0) -> int:
    """Thread settings for query-at-a-time inference; returns the intra-op thread count of one
    forward pass (torch's, and the onnxruntime session's).

    ``threads > 0`` is taken as given. ``0`` (the default) means one thread per forward pass:
    a question is ~20 tokens, too little work to split across cores, and every op of a split
    encode waits at a barrier for its slowest thread, so a core taken by another process (or by
    a second request) stalls it. Concurrency comes from requests running side by side instead.
    Measured in BENCHMARKS.md ("Thread settings"): on the 2-vCPU benchmark machine the floor was
    26 ms with 1 torch thread and ~980 ms with 2; `yibao eval` went from 1031 ms to 27 ms a
    question and `yibao ingest` from 47 s to 18 s, with identical retrieval metrics.

    numpy's BLAS pool is held to one thread too: retrieval and the composer only multiply small
    matrices (MMR over ~30 passages, sentence cosines), where waking BLAS threads costs more than
    it saves and their spinning competes with the encoder (fusion: 20 ms -> 0.7 ms).
    FAISS searches are held to one OpenMP thread by ``index.dense.search``.
    """
    import torch

    n = threads_per_pass(threads)
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    _set_numpy_blas_threads(1)
    return n


def threads_per_pass(threads: int = 0) -> int:
    """The intra-op thread count of one forward pass for ``Settings.threads`` (0 means 1)."""
    return threads if threads > 0 else 1


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


def _pick_prompt(prompts: dict[str, str], names: tuple[str, ...]) -> str | None:
    return next((name for name in names if prompts.get(name)), None)


def model_fingerprint(model: SentenceTransformer) -> str:
    """Hash of every tensor's name, shape, dtype and ~1k evenly spaced values, plus tokenizer behaviour.

    Sampling rather than hashing all ~500 MB keeps it to milliseconds, and any retraining,
    requantization or swap of weights changes the samples; values are copied bit-exactly, so the
    result does not depend on thread counts or load order.
    """
    digest = hashlib.sha256()
    for key, tensor in sorted(model.state_dict().items()):
        flat = tensor.detach().reshape(-1)
        step = max(1, flat.numel() // 1024)
        sample = flat[::step][:1024].contiguous().cpu().numpy()
        digest.update(f"{key}|{tuple(tensor.shape)}|{tensor.dtype}|".encode())
        digest.update(sample.tobytes())
    tokenizer = getattr(model, "tokenizer", None)
    probe = tokenizer(_TOKENIZER_PROBE)["input_ids"] if tokenizer is not None else []
    extra = {
        "max_seq_length": getattr(model, "max_seq_length", None),
        "prompts": getattr(model, "prompts", {}),
        "vocab": len(tokenizer) if tokenizer is not None else None,
        "probe": list(probe),
        "modules": [type(module).__name__ for module in model],
    }
    digest.update(json.dumps(extra, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:16]
