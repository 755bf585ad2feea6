"""What composing reads besides the search result, behind one narrow interface: the answer units
with their vectors, each document's text, how rare a term is, and the chunks' vectors.

Built from the loaded index once (``Sources.of``); a test can build one from units and vectors of
its own, without an index or the model."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from index.store import StoredIndex
from index.units import UnitTable


@dataclass(frozen=True)
class Sources:
    units: UnitTable
    # A document's text by its id, None when it is not at hand (then nothing is quoted past a passage).
    text_of: Callable[[str], str | None]
    # How rare a term is across the corpus (BM25's idf).
    idf: Callable[[str], float]
    # Chunk vectors by row: a passage is as close to the question as its closest chunk.
    chunk_vectors: np.ndarray

    @classmethod
    def of(cls, index: StoredIndex) -> Sources:
        def text_of(doc_id: str) -> str | None:
            document = index.document(doc_id)
            return document.text if document is not None else None

        return cls(index.units, text_of, index.lexical.idf, index.vectors)
