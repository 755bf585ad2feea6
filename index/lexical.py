"""BM25 over folded jieba terms (Okapi BM25, the usual k1/b defaults)."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LexicalHit:
    index: int
    score: float
    matched: tuple[str, ...]


class BM25:
    def __init__(self, k1: float = 1.5, b: float = 0.75) -> None:
        self.k1 = k1
        self.b = b
        self._postings: dict[str, list[tuple[int, int]]] = {}
        self._idf: dict[str, float] = {}
        self._norm = np.zeros(0, dtype=np.float32)

    def fit(self, documents: Sequence[Sequence[str]]) -> BM25:
        postings: dict[str, list[tuple[int, int]]] = defaultdict(list)
        lengths = np.array([len(d) for d in documents], dtype=np.float32)
        for i, terms in enumerate(documents):
            for term, tf in Counter(terms).items():
                postings[term].append((i, tf))
        n = len(documents)
        self._postings = dict(postings)
        self._idf = {t: math.log(1 + (n - len(p) + 0.5) / (len(p) + 0.5)) for t, p in postings.items()}
        avg = float(lengths.mean()) if n else 1.0
        # Per-document length normalisation, precomputed once.
        self._norm = self.k1 * (1 - self.b + self.b * lengths / max(avg, 1e-9))
        return self

    def __len__(self) -> int:
        return len(self._norm)

    def idf(self, term: str) -> float:
        """A term the corpus never uses is as rare as a term can be."""
        idf = self._idf.get(term)
        if idf is None:
            return math.log(1 + (len(self._norm) + 0.5) / 0.5)
        return idf

    def search(self, query_terms: Sequence[str], k: int) -> list[LexicalHit]:
        scores: dict[int, float] = defaultdict(float)
        matched: dict[int, list[str]] = defaultdict(list)
        for term in dict.fromkeys(query_terms):
            idf = self._idf.get(term)
            if idf is None:
                continue
            for i, tf in self._postings[term]:
                scores[i] += idf * tf * (self.k1 + 1) / (tf + self._norm[i])
                matched[i].append(term)
        best = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
        return [LexicalHit(i, float(s), tuple(matched[i])) for i, s in best]
