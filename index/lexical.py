"""BM25 over folded jieba terms (Okapi BM25, the usual k1/b defaults), scored with numpy."""

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
        self._postings: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._idf: dict[str, float] = {}
        self._norm = np.zeros(0, dtype=np.float32)

    def fit(self, documents: Sequence[Sequence[str]]) -> BM25:
        lists: dict[str, tuple[list[int], list[int]]] = defaultdict(lambda: ([], []))
        for i, terms in enumerate(documents):
            for term, tf in Counter(terms).items():
                ids, tfs = lists[term]
                ids.append(i)
                tfs.append(tf)
        n = len(documents)
        self._postings = {
            t: (np.array(ids, dtype=np.int64), np.array(tfs, dtype=np.float32))
            for t, (ids, tfs) in lists.items()
        }
        self._idf = {
            t: math.log(1 + (n - len(p[0]) + 0.5) / (len(p[0]) + 0.5)) for t, p in self._postings.items()
        }
        lengths = np.array([len(d) for d in documents], dtype=np.float32)
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
        terms = [t for t in dict.fromkeys(query_terms) if t in self._postings]
        if not terms or k <= 0:
            return []
        scores = np.zeros(len(self._norm), dtype=np.float32)
        for term in terms:
            ids, tfs = self._postings[term]
            scores[ids] += self._idf[term] * tfs * (self.k1 + 1) / (tfs + self._norm[ids])
        hit = np.flatnonzero(scores)
        if len(hit) > k:
            hit = hit[np.argpartition(-scores[hit], k - 1)[:k]]
        best = sorted(hit.tolist(), key=lambda i: (-scores[i], i))
        # Which query terms each hit contains: one vectorised lookup per term, not per (term, hit).
        rows = np.array(best, dtype=np.int64)
        found = [_contains(self._postings[t][0], rows).tolist() for t in terms]
        return [
            LexicalHit(i, float(scores[i]), tuple(t for t, f in zip(terms, found, strict=True) if f[j]))
            for j, i in enumerate(best)
        ]

    def scores(
        self, query_terms: Sequence[str], rows: Sequence[int]
    ) -> tuple[np.ndarray, list[tuple[str, ...]]]:
        """The BM25 score of each of ``rows`` (0 for a row holding no term) and the query terms each
        holds: the exact score of passages another retriever found."""
        terms = [t for t in dict.fromkeys(query_terms) if t in self._postings]
        ids = np.asarray(rows, dtype=np.int64)
        out = np.zeros(len(ids), dtype=np.float32)
        held: list[list[str]] = [[] for _ in ids]
        for term in terms:
            postings, tfs = self._postings[term]
            pos = np.minimum(np.searchsorted(postings, ids), len(postings) - 1)
            found = postings[pos] == ids
            tf = tfs[pos[found]]
            out[found] += self._idf[term] * tf * (self.k1 + 1) / (tf + self._norm[ids[found]])
            for j in np.flatnonzero(found):
                held[j].append(term)
        return out, [tuple(h) for h in held]


def _contains(sorted_ids: np.ndarray, rows: np.ndarray) -> np.ndarray:
    pos = np.minimum(np.searchsorted(sorted_ids, rows), len(sorted_ids) - 1)
    return sorted_ids[pos] == rows
