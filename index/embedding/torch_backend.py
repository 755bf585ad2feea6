"""The torch backend: sentence-transformers' own ``encode``."""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from index.embedding.base import Embedder
from index.embedding.fingerprint import model_fingerprint
from index.embedding.sentence_transformer import load_sentence_transformer
from index.embedding.threads import threads_per_pass
from settings import Settings

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


class TorchEmbedder(Embedder):
    def __init__(self, model: SentenceTransformer, name: str, settings: Settings) -> None:
        self._model = model
        self._threads: int | None = None
        prompts = getattr(model, "prompts", None) or {}
        super().__init__(
            name,
            model_fingerprint(model),
            prompts,
            settings.batch_size,
            settings.query_cache_size,
            batch_tokens=settings.embed_batch_tokens,
        )

    @classmethod
    def open(cls, settings: Settings) -> TorchEmbedder:
        import torch

        # torch's intra-op pool is per process (see index.embedding.threads).
        n = threads_per_pass(settings.threads)
        if torch.get_num_threads() != n:
            torch.set_num_threads(n)
        return cls(load_sentence_transformer(settings), settings.model, settings)

    def token_counts(self, texts: list[str], prompt_name: str | None) -> list[int]:
        prefix = self._model.prompts.get(prompt_name, "") if prompt_name else ""
        mask = self._model.tokenize([prefix + text for text in texts])["attention_mask"]
        return [int(n) for n in mask.sum(dim=1)]

    def forward(self, texts: list[str], prompt_name: str | None) -> np.ndarray:
        import torch

        with _torch_threads(self._threads), torch.inference_mode():
            return self._model.encode(
                texts,
                prompt_name=prompt_name,
                batch_size=self._batch_size,
                show_progress_bar=False,
                convert_to_numpy=True,
                normalize_embeddings=True,
            )

    def with_threads(self, threads: int) -> TorchEmbedder:
        # torch's thread count is per process: the variant sets it around each of its passes.
        twin = copy.copy(self)
        twin._threads = threads
        return twin


@contextlib.contextmanager
def _torch_threads(threads: int | None) -> Iterator[None]:
    import torch

    before = torch.get_num_threads()
    if threads is None or threads == before:
        yield
        return
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)
