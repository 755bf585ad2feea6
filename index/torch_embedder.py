"""The torch backend: sentence-transformers' own ``encode``."""

from __future__ import annotations

import contextlib
import copy
import logging
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from index.e5_model import ModelUnavailable, ensure_e5_folder
from index.embedder import Embedder, model_fingerprint
from settings import BUILTIN_MODEL, Settings

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)


class TorchEmbedder(Embedder):
    def __init__(self, model: SentenceTransformer, name: str, batch_size: int, query_cache_size: int) -> None:
        self._model = model
        self._threads: int | None = None
        prompts = getattr(model, "prompts", None) or {}
        super().__init__(name, model_fingerprint(model), prompts, batch_size, query_cache_size)

    @classmethod
    def open(cls, settings: Settings) -> TorchEmbedder:
        return cls(
            load_sentence_transformer(settings),
            settings.model,
            settings.batch_size,
            settings.query_cache_size,
        )

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
def _torch_threads(threads: int | None):
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


def load_sentence_transformer(settings: Settings) -> SentenceTransformer:
    """``settings.model`` on the CPU, in eval mode; the built-in model is assembled on first use."""
    model = _open(settings)
    model.eval()
    return model


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
