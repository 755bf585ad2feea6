"""The one retrieval path: search, answers, the API and the evaluation all call ``Retriever.search``.

Candidates come from three lists: the chunks nearest the question (dense, from the store
``YIBAO_STORE`` names), the chunks holding the answer units (sentences) nearest it, and the best
BM25 chunks (index/stores/). Every candidate is then scored on all three signals exactly — its
best sentence's cosine, its own cosine and its BM25 score relative to the best candidate's — and
ranked by their weighted sum (settings ``search_*_weight``, measured on the shared sets: README,
"How a passage is scored"). Overlapping chunks of one section are merged into one passage, and MMR
prefers passages that add something new.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from index.embedding import Embedder
from index.focus import focus
from index.store import StoredIndex
from index.stores.base import ChunkStore
from index.stores.local import LocalStore
from index.synonyms import SynonymFile
from index.timing import timed
from ingest.records import Chunk
from ingest.regions import find_region
from ingest.textnorm import query_terms, tokenize
from settings import Settings

MODES = ("hybrid", "dense", "lexical")
REGION_FILTER_DEPTH = 10
# Units looked at per candidate chunk wanted: a chunk holds several, and neighbours share some.
_UNITS_PER_CHUNK = 3
_AGREEMENT_K = 60


@dataclass
class Passage:
    """A retrieved span with the evidence of why it was retrieved: each signal's value and the
    passage's rank by it among the candidates (None where the mode does not use it)."""

    chunk: Chunk
    rows: tuple[int, ...]
    score: float
    dense_rank: int | None = None
    dense_score: float | None = None
    sentence_rank: int | None = None
    sentence_score: float | None = None
    # The answer unit (row) that matched best: what "sentence" in the explanation refers to.
    sentence_row: int | None = None
    lexical_rank: int | None = None
    lexical_score: float | None = None
    matched_terms: tuple[str, ...] = ()
    # (word asked, synonym) pairs whose synonym the passage holds (index/synonyms.py).
    synonyms: tuple[tuple[str, str], ...] = ()
    rank: int = 0

    @property
    def agreement(self) -> float:
        """How far the chunk's own cosine and its keywords agree that it is the one (0..1, 1 =
        ranked first by both among the candidates, by reciprocal rank, constant 60): the
        composer's prior for quoting from this passage rather than a neighbour."""
        ranks = [r for r in (self.dense_rank, self.lexical_rank) if r is not None]
        return sum(1 / (_AGREEMENT_K + r) for r in ranks) / (2 / (_AGREEMENT_K + 1))

    def why(self) -> str:
        parts = []
        if self.sentence_rank is not None:
            parts.append(f"句子 #{self.sentence_rank} (cos {self.sentence_score:.3f})")
        if self.dense_rank is not None:
            parts.append(f"语义 #{self.dense_rank} (cos {self.dense_score:.3f})")
        if self.lexical_rank is not None and self.lexical_score:
            parts.append(f"关键词 #{self.lexical_rank} (BM25 {self.lexical_score:.2f})")
        if self.synonyms:
            parts.append("同义词 " + "、".join(f"{asked}→{other}" for asked, other in self.synonyms))
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
    # What was searched: the question, or the part of a long message that asks (index/focus.py).
    searched: str = ""
    # (word asked, word also searched) for each synonym group the question used (index/synonyms.py).
    synonyms: tuple[tuple[str, str], ...] = ()

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
        self.synonyms = SynonymFile(settings.synonyms_file)

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
        searched = focus(query, self.settings.focus_chars)
        expansion = self.synonyms.current().expand(searched)
        terms = query_terms(searched)
        # Synonyms widen what BM25 looks for; the question's own terms are what an answer matches.
        lexical_terms = terms + list(expansion.terms)
        # The terms carry the place an English question names (Xiamen → 厦门); a long message may
        # name it outside the part searched.
        named = region or find_region(searched) or find_region(" ".join(terms)) or find_region(query)
        named = named or place
        timings: dict[str, float] = {}
        rows: dict[int, None] = {}  # candidate chunk rows, in the order found
        vector = None
        if mode != "lexical":
            with timed(timings, "encode"):
                vector = self.embedder.encode_query(searched)
            # The stage names predate the stores: "faiss" is the dense search, "bm25" the lexical one.
            with timed(timings, "faiss"):
                rows.update((row, None) for row, _ in self.store.dense(vector, n_candidates, region))
                rows.update((row, None) for row in self._sentence_chunks(vector, n_candidates))
        if mode != "dense":
            with timed(timings, "bm25"):
                hits = self.store.lexical(lexical_terms, n_candidates, region)
                rows.update((hit.index, None) for hit in hits)
        with timed(timings, "fusion"):
            fused = self._score(list(rows), vector, lexical_terms, mode)
            if region:
                fused = [p for p in fused if _about(p.chunk, region)]
            elif named:
                fused.sort(key=lambda p: not _about(p.chunk, named))
            merged = _merge_overlaps(fused)
            chosen = self._diversify(merged, k)
        for rank, passage in enumerate(chosen, 1):
            passage.rank = rank
            passage.synonyms = _synonyms_held(passage, expansion.used)
        return SearchResult(query, mode, chosen, terms, vector, timings, named, searched, expansion.used)

    def _sentence_chunks(self, vector: np.ndarray, n: int) -> list[int]:
        """The first ``n`` chunks holding the answer units nearest the question, nearest first."""
        found: dict[int, None] = {}
        for unit_row, _ in self.index.units.nearest(vector, n * _UNITS_PER_CHUNK):
            found.update((row, None) for row in self.index.chunks_holding(unit_row))
            if len(found) >= n:
                break
        return list(found)[:n]

    def _score(
        self, rows: list[int], vector: np.ndarray | None, terms: list[str], mode: str
    ) -> list[Passage]:
        """Every candidate scored on every signal the mode uses, best first."""
        s = self.settings
        chunks = self.index.chunks
        passages = [Passage(chunks[row], (row,), 0.0) for row in rows]
        total = np.zeros(len(rows))
        weight = 0.0
        if mode != "lexical" and rows:
            cosines = self.index.vectors[rows] @ vector
            best = [self._best_unit(chunks[row], vector) for row in rows]
            for p, cos, (unit_row, unit_cos) in zip(passages, cosines.tolist(), best, strict=True):
                p.dense_score = cos
                # A chunk without a quotable unit (headings only) is as close as itself.
                p.sentence_row = unit_row
                p.sentence_score = cos if unit_row is None else unit_cos
            sentence = np.array([p.sentence_score for p in passages])
            total += s.search_sentence_weight * sentence + s.search_passage_weight * cosines
            weight += s.search_sentence_weight + s.search_passage_weight
            _rank(passages, sentence, "sentence_rank")
            _rank(passages, cosines, "dense_rank")
        if mode != "dense" and rows:
            bm25, held = self.index.lexical.scores(terms, rows)
            for p, score, matched in zip(passages, bm25.tolist(), held, strict=True):
                p.lexical_score, p.matched_terms = score, matched
            _rank(passages, bm25, "lexical_rank")
            relative = bm25 / bm25.max() if bm25.max() > 0 else bm25
            if mode == "lexical":
                total, weight = relative, 1.0
            else:
                total += s.search_keyword_weight * relative
                weight += s.search_keyword_weight
        for p, value in zip(passages, total.tolist(), strict=True):
            p.score = value / weight if weight else 0.0
        return sorted(passages, key=lambda p: (-p.score, p.rows[0]))

    def _best_unit(self, chunk: Chunk, vector: np.ndarray) -> tuple[int | None, float]:
        """The quotable unit of ``chunk`` nearest the question and its cosine."""
        units = self.index.units
        inside = [r for r in units.within(chunk.doc_id, chunk.start, chunk.end) if units.vectors[r].any()]
        if not inside:
            return None, 0.0
        cosines = units.vectors[inside] @ vector
        best = int(np.argmax(cosines))
        return inside[best], float(cosines[best])

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
        # Relevance spread over 0..1 within the candidates, as similarities spread: a fused score
        # is a weighted cosine (a few hundredths apart), which raw would let redundancy decide.
        rel = np.array([p.score for p in passages])
        rel = (rel - rel.min()) / (np.ptp(rel) or 1.0)
        chosen: list[int] = []
        left = list(range(len(passages)))
        while left and len(chosen) < k:
            penalty = sims[np.ix_(left, chosen)].max(axis=1) if chosen else np.zeros(len(left))
            pick = left[int(np.argmax(lam * rel[left] - (1 - lam) * penalty))]
            chosen.append(pick)
            left.remove(pick)
        return [passages[i] for i in chosen]


def _rank(passages: list[Passage], values: np.ndarray, attribute: str) -> None:
    """Each passage's rank (1 = best) by ``values`` among the candidates."""
    for rank, i in enumerate(np.argsort(-values, kind="stable").tolist(), 1):
        setattr(passages[i], attribute, rank)


def _synonyms_held(passage: Passage, used: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    """The synonyms searched for that the passage matched on."""
    matched = set(passage.matched_terms)
    return tuple(pair for pair in used if matched.intersection(tokenize(pair[1])))


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
    """One passage of two overlapping ones: the first (better) keeps its score, each signal its best."""
    a, b = sorted((first.chunk, second.chunk), key=lambda c: c.start)
    text = a.text + b.text[a.end - b.start :] if b.end > a.end else a.text
    chunk = replace(a, text=text, end=max(a.end, b.end), id=f"{a.id}+{b.id}")
    sentence = max((first, second), key=lambda p: -1.0 if p.sentence_score is None else p.sentence_score)
    return Passage(
        chunk=chunk,
        rows=first.rows + second.rows,
        score=max(first.score, second.score),
        dense_rank=_best(first.dense_rank, second.dense_rank),
        dense_score=_max(first.dense_score, second.dense_score),
        sentence_rank=_best(first.sentence_rank, second.sentence_rank),
        sentence_score=sentence.sentence_score,
        sentence_row=sentence.sentence_row,
        lexical_rank=_best(first.lexical_rank, second.lexical_rank),
        lexical_score=_max(first.lexical_score, second.lexical_score),
        matched_terms=tuple(dict.fromkeys(first.matched_terms + second.matched_terms)),
    )


def _best(a: int | None, b: int | None) -> int | None:
    return min((x for x in (a, b) if x is not None), default=None)


def _max(a: float | None, b: float | None) -> float | None:
    return max((x for x in (a, b) if x is not None), default=None)
