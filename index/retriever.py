"""The one retrieval path: search, answers, the API and the evaluation all call ``Retriever.search``.

Dense and lexical (BM25) candidates from the store ``YIBAO_STORE`` names (index/stores/) are fused
by reciprocal rank, overlapping chunks of one section are merged into one passage, and MMR prefers
passages that add something new.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from index.embedding import Embedder
from index.store import StoredIndex
from index.stores.base import ChunkStore
from index.stores.local import LocalStore
from index.timing import timed
from ingest.records import Chunk
from ingest.regions import find_region
from ingest.textnorm import query_terms
from settings import Settings

MODES = ("hybrid", "dense", "lexical")
REGION_FILTER_DEPTH = 10


@dataclass
class Passage:
    """A retrieved span with the evidence of why it was retrieved."""

    chunk: Chunk
    rows: tuple[int, ...]
    score: float
    dense_rank: int | None = None
    dense_score: float | None = None
    lexical_rank: int | None = None
    lexical_score: float | None = None
    matched_terms: tuple[str, ...] = ()
    rank: int = 0

    def why(self) -> str:
        parts = []
        if self.dense_rank is not None:
            parts.append(f"语义 #{self.dense_rank} (cos {self.dense_score:.3f})")
        if self.lexical_rank is not None:
            parts.append(f"关键词 #{self.lexical_rank} (BM25 {self.lexical_score:.2f})")
        return " · ".join(parts) or "—"


@dataclass
class SearchResult:
    query: str
    mode: str
    passages: list[Passage]
    query_terms: list[str]
    query_vector: np.ndarray | None
    timings_ms: dict[str, float] = field(default_factory=dict)
    # The place the question names (or the filter asked for): its passages rank first.
    region: str | None = None

    def top(self, k: int) -> SearchResult:
        """The first k passages: MMR picks greedily, so this equals a search with k."""
        return replace(self, passages=self.passages[:k])


class Retriever:
    def __init__(
        self, index: StoredIndex, embedder: Embedder, settings: Settings, store: ChunkStore | None = None
    ) -> None:
        self.index = index
        self.embedder = embedder
        self.settings = settings
        self.store = store or LocalStore(index)

    def search(
        self,
        query: str,
        k: int | None = None,
        mode: str = "hybrid",
        region: str | None = None,
        place: str | None = None,
    ) -> SearchResult:
        """The top ``k`` passages. Passages about the place the question names rank first; a
        ``region`` filter keeps only passages about that place. ``place`` is one named earlier (a
        chat's previous turns): taken as named when the question names none, not a filter."""
        if mode not in MODES:
            raise ValueError(f"unknown retriever {mode!r}: choose one of {', '.join(MODES)}")
        k = k or self.settings.top_k
        # A pool that does not depend on k keeps top(k) of a deeper search equal to a search with k;
        # a filter looks deeper, since most candidates may be about other places.
        n_candidates = max(self.settings.candidates, k) * (REGION_FILTER_DEPTH if region else 1)
        terms = query_terms(query)
        # The terms carry the place an English question names (Xiamen → 厦门).
        named = region or find_region(query) or find_region(" ".join(terms)) or place
        timings: dict[str, float] = {}
        ranked: dict[int, Passage] = {}
        vector = None
        if mode != "lexical":
            with timed(timings, "encode"):
                vector = self.embedder.encode_query(query)
            # The stage names predate the stores: "faiss" is the dense search, "bm25" the lexical one.
            with timed(timings, "faiss"):
                rows = self.store.dense(vector, n_candidates, region)
            for rank, (row, score) in enumerate(rows, 1):
                ranked[row] = Passage(self.index.chunks[row], (row,), 0.0, rank, float(score))
        if mode != "dense":
            with timed(timings, "bm25"):
                hits = self.store.lexical(terms, n_candidates, region)
            for rank, hit in enumerate(hits, 1):
                passage = ranked.setdefault(
                    hit.index, Passage(self.index.chunks[hit.index], (hit.index,), 0.0)
                )
                passage.lexical_rank, passage.lexical_score = rank, hit.score
                passage.matched_terms = hit.matched
        with timed(timings, "fusion"):
            fused = self._fuse(list(ranked.values()), mode)
            if region:
                fused = [p for p in fused if _about(p.chunk, region)]
            elif named:
                fused.sort(key=lambda p: not _about(p.chunk, named))
            merged = _merge_overlaps(fused)
            chosen = self._diversify(merged, k)
        for rank, passage in enumerate(chosen, 1):
            passage.rank = rank
        return SearchResult(query, mode, chosen, terms, vector, timings, named)

    def _fuse(self, passages: list[Passage], mode: str) -> list[Passage]:
        # Scaled so that 1.0 means "ranked first by every retriever used": a score people can read.
        c = self.settings.rrf_k
        best = (2 if mode == "hybrid" else 1) / (c + 1)
        for p in passages:
            ranks = [r for r in (p.dense_rank, p.lexical_rank) if r is not None]
            p.score = sum(1 / (c + r) for r in ranks) / best
        return sorted(passages, key=lambda p: (-p.score, p.rows[0]))

    def _diversify(self, passages: list[Passage], k: int) -> list[Passage]:
        """Maximal marginal relevance over chunk vectors: near-duplicates give way to other sources."""
        if len(passages) <= 1:
            return passages[:k]
        lam = self.settings.mmr_lambda
        # A merged passage is the normalised sum of its chunks' vectors, summed in one numpy call.
        sizes = [len(p.rows) for p in passages]
        rows = [row for p in passages for row in p.rows]
        vecs = np.add.reduceat(self.index.vectors[rows], np.cumsum([0, *sizes[:-1]]), axis=0)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True) + 1e-12
        sims = vecs @ vecs.T
        rel = np.array([p.score for p in passages])
        chosen: list[int] = []
        left = list(range(len(passages)))
        while left and len(chosen) < k:
            penalty = sims[np.ix_(left, chosen)].max(axis=1) if chosen else np.zeros(len(left))
            pick = left[int(np.argmax(lam * rel[left] - (1 - lam) * penalty))]
            chosen.append(pick)
            left.remove(pick)
        return [passages[i] for i in chosen]


def _about(chunk: Chunk, region: str) -> bool:
    return chunk.region == region or region in chunk.section


def _merge_overlaps(passages: list[Passage]) -> list[Passage]:
    """Overlapping or touching chunks of one section become one passage, ranked by its best part."""
    merged: list[Passage] = []
    by_section: dict[tuple[str, str], list[int]] = {}  # positions in merged, per (doc, section)
    for p in passages:
        b = p.chunk
        same = by_section.setdefault((b.doc_id, b.section), [])
        for i in same:
            a = merged[i].chunk
            if b.start <= a.end and a.start <= b.end:
                merged[i] = _join(merged[i], p)
                break
        else:
            same.append(len(merged))
            merged.append(p)
    return merged


def _join(first: Passage, second: Passage) -> Passage:
    a, b = sorted((first.chunk, second.chunk), key=lambda c: c.start)
    text = a.text + b.text[a.end - b.start :] if b.end > a.end else a.text
    chunk = replace(a, text=text, end=max(a.end, b.end), id=f"{a.id}+{b.id}")
    return Passage(
        chunk=chunk,
        rows=first.rows + second.rows,
        score=max(first.score, second.score),
        dense_rank=_best(first.dense_rank, second.dense_rank),
        dense_score=_max(first.dense_score, second.dense_score),
        lexical_rank=_best(first.lexical_rank, second.lexical_rank),
        lexical_score=_max(first.lexical_score, second.lexical_score),
        matched_terms=tuple(dict.fromkeys(first.matched_terms + second.matched_terms)),
    )


def _best(a: int | None, b: int | None) -> int | None:
    return min((x for x in (a, b) if x is not None), default=None)


def _max(a: float | None, b: float | None) -> float | None:
    return max((x for x in (a, b) if x is not None), default=None)
