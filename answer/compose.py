"""Extractive answers: the question's best sentences from the retrieved passages, each cited.

Nothing is generated. Every answer sentence is a verbatim span of a cited passage (converted
to the question's script when it is traditional), so nothing can be invented.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from answer.confidence import confidence, coverage, signals
from answer.records import Answer, AnswerSentence, Citation
from index.retriever import Passage, Retriever, SearchResult
from index.timing import timed
from ingest.records import SECTION_SEP
from ingest.textnorm import CJK, fold, has_cjk, is_traditional, to_simplified, to_traditional
from settings import Settings

_MIN_SENTENCE_CJK = 6
_NEAR_DUPLICATE = 0.6


@dataclass
class _Candidate:
    passage: Passage
    start: int
    end: int
    text: str
    score: float


class Answerer:
    def __init__(self, retriever: Retriever, settings: Settings) -> None:
        self.retriever = retriever
        self.settings = settings

    def ask(self, question: str, top_k: int | None = None, mode: str = "hybrid") -> Answer:
        """Search, then answer from exactly the passages the search returned."""
        return self.answer(question, self.retriever.search(question, top_k, mode))

    def answer(self, question: str, result: SearchResult) -> Answer:
        timings = dict(result.timings_ms)
        with timed(timings, "compose"):
            query_vector = result.query_vector
            if query_vector is None:
                query_vector = self.retriever.embedder.encode_query(question)
            candidates = self._candidates(result, query_vector)
            evidence = signals(result, self.retriever.index, query_vector)
            conf = confidence(evidence, self.settings, cross_lingual=not has_cjk(question))
            abstained = not candidates or conf < self.settings.abstain_threshold
            chosen = [] if abstained else self._select(candidates)
            sentences, citations = _cite(chosen)
        with timed(timings, "script"):
            convert = to_traditional if is_traditional(question) else to_simplified
            for s in sentences:
                s.text = convert(s.source)
            scope = convert(_scope(citations))
        return Answer(question, sentences, citations, abstained, conf, scope, result, timings, evidence)

    def _candidates(self, result: SearchResult, query_vector: np.ndarray) -> list[_Candidate]:
        table = self.retriever.index.sentences
        lexical = self.retriever.index.lexical
        s = self.settings
        out = []
        for passage in result.passages:
            chunk = passage.chunk
            rows = table.within(chunk.doc_id, chunk.start, chunk.end)
            if not rows:
                continue
            cosines = table.vectors[[r.row for r in rows]] @ query_vector
            headings = {fold(h) for h in chunk.section.split(SECTION_SEP)}
            for span, cos in zip(rows, cosines.tolist(), strict=True):
                text = chunk.text[span.start - chunk.start : span.end - chunk.start]
                if not _quotable(text, headings):
                    continue
                overlap = coverage(result.query_terms, [text], lexical)
                score = cos + s.answer_overlap_weight * overlap + s.answer_passage_weight * passage.score
                out.append(_Candidate(passage, span.start, span.end, text, score))
        return sorted(out, key=lambda c: -c.score)

    def _select(self, candidates: list[_Candidate]) -> list[_Candidate]:
        """The best sentence, then those nearly as good: a sentence from a passage not yet cited
        must be closer to the best, so that an answer does not wander across sources."""
        s = self.settings
        best = candidates[0].score
        chosen: list[_Candidate] = []
        used = 0
        for cand in candidates:
            if len(chosen) >= s.answer_max_sentences:
                break
            new_source = all(c.passage is not cand.passage for c in chosen)
            margin = s.answer_margin / 2 if new_source else s.answer_margin
            if cand.score < best - margin:
                continue
            if chosen and used + len(cand.text) > s.answer_max_chars:
                continue
            if any(_similar(cand.text, c.text) for c in chosen):
                continue
            chosen.append(cand)
            used += len(cand.text)
        # Readable order: by source passage, then as the source has them.
        return sorted(chosen, key=lambda c: (c.passage.rank, c.start))


def _cite(chosen: list[_Candidate]) -> tuple[list[AnswerSentence], list[Citation]]:
    numbers: dict[int, int] = {}
    citations: list[Citation] = []
    sentences = []
    for cand in chosen:
        key = id(cand.passage)
        if key not in numbers:
            numbers[key] = len(citations) + 1
            citations.append(Citation(numbers[key], cand.passage))
        sentences.append(
            AnswerSentence(
                cand.text, cand.text, numbers[key], cand.passage.chunk.doc_id, cand.start, cand.end
            )
        )
    return sentences, citations


def _scope(citations: list[Citation]) -> str:
    """Rules differ by city and year, so say where and when each cited source speaks of."""
    parts = []
    for c in citations:
        chunk = c.passage.chunk
        where = "，".join(x for x in (chunk.region, chunk.date) if x)
        if where:
            parts.append(f"[{c.n}] {where}")
    return f"（来源地区/日期：{'；'.join(parts)}）" if parts else ""


def _quotable(text: str, headings: set[str]) -> bool:
    """Labels (「优点:」), headings and questions restate the topic; they do not answer it."""
    stripped = text.rstrip()
    return (
        _cjk_count(text) >= _MIN_SENTENCE_CJK
        and not stripped.endswith((":", "：", "?", "？"))
        and fold(stripped) not in headings
    )


def _similar(a: str, b: str) -> bool:
    grams_a, grams_b = _bigrams(fold(a)), _bigrams(fold(b))
    if not grams_a or not grams_b:
        return fold(a) == fold(b)
    return len(grams_a & grams_b) / min(len(grams_a), len(grams_b)) > _NEAR_DUPLICATE


def _bigrams(text: str) -> set[str]:
    chars = [ch for ch in text if ch.isalnum()]
    return {a + b for a, b in pairwise(chars)}


def _cjk_count(text: str) -> int:
    return len(CJK.findall(text))
