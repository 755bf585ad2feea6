"""The default store: the FAISS index and the BM25 postings of the loaded version folder."""

from __future__ import annotations

import numpy as np

from index import dense
from index.lexical import LexicalHit
from index.stores.base import ChunkStore


class LocalStore(ChunkStore):
    name = "local"

    def dense(self, vector: np.ndarray, k: int, region: str | None = None) -> list[tuple[int, float]]:
        scores, rows = dense.search(self.index.dense, vector, k)
        return list(zip(rows.tolist(), scores.tolist(), strict=True))

    def lexical(self, terms: list[str], k: int, region: str | None = None) -> list[LexicalHit]:
        return self.index.lexical.search(terms, k)
