"""What the retriever needs from a store: dense and lexical candidates over the index's chunks.

Rows are positions in the loaded index's ``chunks`` (and ``vectors``): the chunk records, the
answer units and the documents stay in the local version folder whatever the store, so fusion,
merging, MMR and answer composition are the same code for every store.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from index.lexical import LexicalHit
from index.store import IndexStoreError, StoredIndex


class StoreUnavailable(IndexStoreError):
    """The store cannot be reached or used (a server down, a wrong URI)."""


class ChunkStore(ABC):
    name: str

    def __init__(self, index: StoredIndex) -> None:
        self.index = index

    @abstractmethod
    def dense(self, vector: np.ndarray, k: int, region: str | None = None) -> list[tuple[int, float]]:
        """The ``k`` rows nearest to ``vector`` as (row, cosine), best first. ``region`` lets a
        store search only that place's chunks; the retriever filters again either way."""

    @abstractmethod
    def lexical(self, terms: list[str], k: int, region: str | None = None) -> list[LexicalHit]:
        """The ``k`` best BM25 rows for a query's folded jieba terms (ingest/textnorm.tokenize)."""
