"""What every embedding backend shares: prompts, batching, the query cache, one pass per core."""

from __future__ import annotations

import copy
import os
import threading
from abc import ABC, abstractmethod
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor

import numpy as np

# Prompt names tried in order; models trained without prompts simply have none of them.
_PASSAGE_PROMPTS = ("passage", "document")
_QUERY_PROMPTS = ("query",)


class Embedder(ABC):
    """One embedding model, shared by every thread of the process.

    The base class holds what every backend shares: prompts, batching, the query cache and the
    limit of one forward pass per core. A backend supplies ``forward``;
    ``index.embedding.load_embedder`` picks the backend named by ``settings.backend``.
    """

    def __init__(
        self,
        name: str,
        fingerprint: str,
        prompts: dict[str, str],
        batch_size: int = 32,
        query_cache_size: int = 256,
        *,
        batch_tokens: int,
        passes: int = 0,
    ) -> None:
        self._name = name
        self._fingerprint = fingerprint
        self._batch_size = max(1, batch_size)
        self._batch_tokens = max(1, batch_tokens)
        self._parallel = 1
        self._prompts_text = dict(prompts)
        self.passage_prompt = _pick_prompt(prompts, _PASSAGE_PROMPTS)
        self.query_prompt = _pick_prompt(prompts, _QUERY_PROMPTS)
        # One forward pass per core at a time: each runs on one thread, and more passes than
        # cores only thrash the caches (16 clients got less done than 4). A backend whose passes
        # run elsewhere (an embedding server) says how many it may have in flight.
        self._passes = threading.BoundedSemaphore(passes or os.cpu_count() or 1)
        # Encoding once before any server thread can: a fast tokenizer that sets its truncation and
        # padding state on first use raises "Already borrowed" when a second thread mutates it
        # mid-encode. Every later call asks for the same state, so encoding needs no lock after this.
        self._dim = int(self._encode(["warm-up"], self.query_prompt).shape[1])
        self._set_cache(query_cache_size)

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
    def token_counts(self, texts: list[str], prompt_name: str | None) -> list[int]:
        """How many tokens the model sees for each text (prompt included, truncated)."""

    @abstractmethod
    def with_threads(self, threads: int) -> Embedder:
        """The same model whose forward passes use ``threads`` threads (for the benchmark)."""

    def with_cache(self, query_cache_size: int) -> Embedder:
        """The same model (and the same limit on concurrent passes) with a query cache of its own."""
        twin = copy.copy(self)
        twin._set_cache(query_cache_size)
        return twin

    def encode_passages(self, texts: list[str], progress: bool = False) -> np.ndarray:
        """Normalized float32 embeddings, shape ``(len(texts), dim)``, in batches bounded by tokens,
        ``with_parallel_batches`` of them at a time."""
        texts = list(texts)
        out = np.empty((len(texts), self._dim), dtype=np.float32)
        if not texts:
            return out
        batches = self._batches(self.token_counts(texts, self.passage_prompt))
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=len(texts), desc="embedding", unit="passage")
        try:
            with ThreadPoolExecutor(self._parallel) as pool:
                encoded = pool.map(
                    lambda idx: self._encode([texts[i] for i in idx], self.passage_prompt), batches
                )
                for idx, vectors in zip(batches, encoded, strict=True):
                    out[idx] = vectors
                    if bar is not None:
                        bar.update(len(idx))
        finally:
            if bar is not None:
                bar.close()
        return out

    def with_parallel_batches(self, batches: int) -> Embedder:
        """The same model encoding up to ``batches`` batches of passages at once, each a pass of its
        own (still at most one pass per core): for an ingest, which has the machine to itself."""
        twin = copy.copy(self)
        twin._parallel = max(1, batches)
        return twin

    @property
    def passage_prompt_text(self) -> str:
        """The text put before every passage (empty for models trained without prompts)."""
        return self._prompts_text.get(self.passage_prompt or "", "")

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

    def _batches(self, lengths: list[int]) -> list[list[int]]:
        """Indexes of texts of ``lengths`` tokens in batches (see ``token_batches``)."""
        return token_batches(lengths, self._batch_tokens, self._batch_size)

    def _set_cache(self, size: int) -> None:
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = max(0, size)
        self._cache_lock = threading.Lock()


def token_batches(lengths: list[int], max_tokens: int, max_texts: int) -> list[list[int]]:
    """Indexes of texts of ``lengths`` tokens, longest first, in batches of at most ``max_texts``
    whose padded size (texts × the longest) stays within ``max_tokens``; a text longer than that
    is a batch of its own. The model's working memory grows with texts × length² (attention), so
    this bounds it, and sorted batches pad little."""
    batches: list[list[int]] = []
    for i in sorted(range(len(lengths)), key=lambda i: -lengths[i]):
        if (
            batches
            and len(batches[-1]) < max_texts
            and (len(batches[-1]) + 1) * lengths[batches[-1][0]] <= max_tokens
        ):
            batches[-1].append(i)
        else:
            batches.append([i])
    return batches


def _pick_prompt(prompts: dict[str, str], names: tuple[str, ...]) -> str | None:
    return next((name for name in names if prompts.get(name)), None)
