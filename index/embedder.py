"""Embeds passages and queries with one sentence-transformers model, loaded once per process."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from index.e5_model import ModelUnavailable, ensure_e5_folder
from settings import BUILTIN_MODEL, Settings

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

# Prompt names tried in order; models trained without prompts simply have none of them.
_PASSAGE_PROMPTS = ("passage", "document")
_QUERY_PROMPTS = ("query",)
# Fed through the tokenizer for the fingerprint: catches normalizer/vocabulary changes cheaply.
_TOKENIZER_PROBE = "query: 医保卡餘額 12333 Ｆｕｌｌ-width  spaces café 😀"


class Embedder:
    """One sentence-transformers model, shared by every thread of the process."""

    def __init__(
        self, model: SentenceTransformer, name: str, batch_size: int = 32, query_cache_size: int = 256
    ) -> None:
        self._model = model
        self._name = name
        self._batch_size = max(1, batch_size)
        self._passage_prompt = _pick_prompt(model, _PASSAGE_PROMPTS)
        self._query_prompt = _pick_prompt(model, _QUERY_PROMPTS)
        # One forward pass per core at a time: each runs on one torch thread, and more passes
        # than cores only thrash the caches (16 clients got less done than 4).
        self._passes = threading.BoundedSemaphore(os.cpu_count() or 1)
        # Encoding once before any server thread can: the fast tokenizer sets its truncation and
        # padding state on first use, and a second thread mutating it mid-encode raises "Already
        # borrowed". Every later call asks for the same state, so encoding needs no lock after this.
        self._dim = int(self._encode(["warm-up"], self._query_prompt).shape[1])
        self._fingerprint: str | None = None
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = max(0, query_cache_size)
        self._cache_lock = threading.Lock()

    @classmethod
    def load(cls, settings: Settings) -> Embedder:
        """Load ``settings.model`` on the CPU; the built-in model is assembled on first use."""
        configure_threads(settings.threads)
        model = _open(settings)
        model.eval()
        return cls(model, settings.model, settings.batch_size, settings.query_cache_size)

    @property
    def name(self) -> str:
        return self._name

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def fingerprint(self) -> str:
        """Short hex id of the loaded weights and tokenizer; changes whenever either does."""
        if self._fingerprint is None:
            self._fingerprint = _fingerprint(self._model)
        return self._fingerprint

    def encode_passages(self, texts: list[str], progress: bool = False) -> np.ndarray:
        """Normalized float32 embeddings, shape ``(len(texts), dim)``."""
        texts = list(texts)
        out = np.empty((len(texts), self._dim), dtype=np.float32)
        if not texts:
            return out
        # Longest first, as sentence-transformers does, so each batch pads to similar lengths.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=len(texts), desc="embedding", unit="passage")
        try:
            for start in range(0, len(order), self._batch_size):
                idx = order[start : start + self._batch_size]
                out[idx] = self._encode([texts[i] for i in idx], self._passage_prompt)
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
        return self._encode(texts, self._query_prompt)

    def encode_query(self, text: str) -> np.ndarray:
        """One normalized query embedding, shape ``(dim,)``, from a small LRU cache when seen recently."""
        if self._cache_size:
            with self._cache_lock:
                hit = self._cache.get(text)
                if hit is not None:
                    self._cache.move_to_end(text)
                    return hit.copy()
        vector = self._encode([text], self._query_prompt)[0]
        if self._cache_size:
            with self._cache_lock:
                self._cache[text] = vector.copy()
                self._cache.move_to_end(text)
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return vector

    def _encode(self, texts: list[str], prompt_name: str | None) -> np.ndarray:
        import torch

        with self._passes, torch.inference_mode():
            vectors = self._model.encode(
                texts,
                prompt_name=prompt_name,
                batch_size=self._batch_size,
                show_progress_bar=False,
                convert_to_numpy=True,
                normalize_embeddings=True,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(texts), -1)


def configure_threads(threads: int = 0) -> int:
    """Thread settings for query-at-a-time inference; returns the torch intra-op thread count.

    ``threads > 0`` is taken as given. ``0`` (the default) means one torch thread per encode call:
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

    n = threads if threads > 0 else 1
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    _set_numpy_blas_threads(1)
    return n


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


def _open(settings: Settings) -> SentenceTransformer:
    from sentence_transformers import SentenceTransformer

    if settings.model == BUILTIN_MODEL:
        folder = ensure_e5_folder(settings.model_cache)
        return SentenceTransformer(str(folder), device="cpu", local_files_only=True)
    path = Path(settings.model).expanduser()
    if path.exists():
        return SentenceTransformer(str(path), device="cpu", local_files_only=True)
    try:
        return SentenceTransformer(settings.model, device="cpu", local_files_only=True)
    except Exception as exc:  # not in the local Hugging Face cache: try the hub once
        log.info("model %s not cached locally (%s); trying to download it", settings.model, exc)
    try:
        return SentenceTransformer(settings.model, device="cpu")
    except Exception as exc:
        raise ModelUnavailable(
            f"cannot load embedding model {settings.model!r}: not a local folder, not in the Hugging Face "
            f"cache, and not downloadable ({exc}). Set YIBAO_MODEL={BUILTIN_MODEL} for the built-in model."
        ) from exc


def _pick_prompt(model: SentenceTransformer, names: tuple[str, ...]) -> str | None:
    prompts = getattr(model, "prompts", None) or {}
    return next((name for name in names if prompts.get(name)), None)


def _fingerprint(model: SentenceTransformer) -> str:
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
