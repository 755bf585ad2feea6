"""Where a model's files are, and loading them with sentence-transformers (which imports torch)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from index.embedding.e5_model import ModelUnavailable, ensure_e5_folder
from settings import BUILTIN_MODEL, Settings

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)


def model_folder(settings: Settings) -> Path | None:
    """The local folder of ``settings.model`` (the built-in one is assembled on first use), or None
    for a hub name that is not in the local Hugging Face cache yet."""
    if settings.model == BUILTIN_MODEL:
        return ensure_e5_folder(settings.model_cache)
    path = Path(settings.model).expanduser()
    if path.is_dir():
        return path
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(settings.model, local_files_only=True))
    except Exception:  # not cached (or not a hub name): sentence-transformers says which
        return None


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
