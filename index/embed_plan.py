"""Which texts of a build still need the model, and embedding them window by window.

Vectors come from the live index (``known``) or the embedding cache when they can; each distinct
remaining text is encoded once. The model sees one window at a time, in corpus order (so a
killed ingest has finished whole windows, all in the cache), sorted by length inside the window
by ``Embedder.encode_passages`` so that batches pad little.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from index.embed_cache import EmbedCache, text_key
from index.embedding import Embedder, ModelUnavailable
from index.progress import EmbedProgress


@dataclass
class EmbedPlan:
    vectors: np.ndarray  # one row per text, filled where a vector was known or cached
    rows: dict[str, list[int]]  # each distinct text still to embed, with the rows it fills
    reused: int

    @property
    def todo(self) -> list[str]:
        return list(self.rows)

    @classmethod
    def of(
        cls, texts: list[str], known: dict[str, np.ndarray], cache: EmbedCache | None, dim: int
    ) -> EmbedPlan:
        vectors = np.zeros((len(texts), dim), dtype=np.float32)
        rows: dict[str, list[int]] = {}
        for i, text in enumerate(texts):
            vector = known.get(text)
            if vector is None:
                rows.setdefault(text, []).append(i)
            else:
                vectors[i] = vector
        if cache is not None and rows:
            keys = {text: text_key(text) for text in rows}
            cached = cache.get_many(list(keys.values()))
            for text in [t for t in rows if keys[t] in cached]:
                vectors[rows.pop(text)] = cached[keys[text]]
        reused = len(texts) - sum(len(r) for r in rows.values())
        return cls(vectors, rows, reused)

    def run(
        self, embedder: Embedder, cache: EmbedCache | None, progress: EmbedProgress | None, window: int
    ) -> np.ndarray:
        """Encode what is left, a window at a time, each window stored in the cache at once."""
        todo = self.todo
        for start in range(0, len(todo), max(1, window)):
            part = todo[start : start + window]
            try:
                encoded = embedder.encode_passages(part)
            except ModelUnavailable as exc:  # an embedding engine gone: say what is kept
                if cache is None:
                    raise
                raise type(exc)(
                    f"{exc}; {start} of {len(todo)} texts to embed were done before it, the embedding "
                    "cache keeps them and the next ingest goes on from there"
                ) from None
            for text, vector in zip(part, encoded, strict=True):
                self.vectors[self.rows[text]] = vector
            if cache is not None:
                cache.put_many([text_key(t) for t in part], encoded)
            if progress is not None:
                progress.update(len(part))
        return self.vectors
