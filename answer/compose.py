"""Extractive answers composed from answer units: the question's best block opens, then only what
adds to it, each quoted whole and cited.

Nothing is generated. Every quote is a verbatim span ``doc[start:end]`` of a cited document
(converted to the question's script when it is traditional). Composing runs in stages, each
testable alone: the question is read once (answer/question.py, its types from answer/types.py),
the candidate blocks gathered (answer/candidates.py), their named features computed
(answer/features.py), scored by fitted weights (answer/score.py), selected (answer/select.py) and
formatted with their citations (answer/formatting.py); confidence (answer/confidence.py) decides
whether anything answers at all.
"""

from __future__ import annotations

import numpy as np

from answer import formatting
from answer.candidates import Candidate, candidates
from answer.confidence import confidence, signals
from answer.features import FEATURES, feature_matrix
from answer.nonsense import lacks_content, no_content_answer
from answer.question import FOREIGN, Question, question_of
from answer.records import Answer
from answer.score import AnswerModel, load_model, score
from answer.select import Selector
from answer.sources import Sources
from index.retriever import Retriever, SearchResult
from index.timing import timed
from settings import Settings


class Answerer:
    def __init__(self, retriever: Retriever, settings: Settings, model: AnswerModel | None = None) -> None:
        self.retriever = retriever
        self.settings = settings
        self.model = model or load_model(settings.answer_model)
        self.sources = Sources.of(retriever.index)
        self.selector = Selector(self.sources, settings, self.model)

    def ask(
        self,
        question: str,
        top_k: int | None = None,
        mode: str = "hybrid",
        region: str | None = None,
        place: str | None = None,
    ) -> Answer:
        """Search, then answer from exactly the passages the search returned (``region`` and
        ``place``: Retriever.search)."""
        if lacks_content(question):
            return no_content_answer(question)
        return self.answer(question, self.retriever.search(question, top_k, mode, region=region, place=place))

    def answer(self, question: str, result: SearchResult) -> Answer:
        timings = dict(result.timings_ms)
        with timed(timings, "compose"):
            asked = question_of(result)
            query_vector = result.query_vector
            if query_vector is None:
                query_vector = self.retriever.embedder.encode_query(question)
            ranked = self.ranked(asked, result, query_vector)
            evidence = signals(
                asked, result.passages, self.sources, query_vector, self.settings.cross_lingual_shift
            )
            if ranked and asked.script != FOREIGN:
                evidence["unit_cosine"] = max(c.cosine for c in ranked)
            # A block carrying what the question asks (the hours of 「几点打人少」) says the passages answer.
            evidence["shape"] = max((c.shaped for c in ranked), default=0.0)
            conf = confidence(evidence, self.model)
            abstained = not ranked or conf < self.model.threshold
            chosen = [] if abstained else self.selector.select(asked, ranked)
            blocks, citations = formatting.cite(chosen, self.sources)
        with timed(timings, "script"):
            formatting.in_script(blocks, asked)
            scope = formatting.scope(citations, asked)
            note = formatting.english_note(citations, asked)
        return Answer(
            question, blocks, citations, abstained, conf, scope, result, timings, evidence, note=note
        )

    def ranked(self, question: Question, result: SearchResult, query_vector: np.ndarray) -> list[Candidate]:
        """The candidate blocks, best first, each with its score."""
        cands, features = self.blocks(question, result, query_vector)
        return scored(cands, features, self.model.vector)

    def blocks(
        self, question: Question, result: SearchResult, query_vector: np.ndarray
    ) -> tuple[list[Candidate], np.ndarray]:
        """The candidate blocks of the retrieved passages and their features, one row each."""
        cands = candidates(question, result.passages, self.sources, self.settings.answer_max_chars)
        return cands, feature_matrix(question, result.passages, cands, query_vector, self.sources)


def scored(cands: list[Candidate], features: np.ndarray, weights: np.ndarray) -> list[Candidate]:
    """The candidates with their scores (and the features selection reads), best first."""
    cosine, overlap, shape = (FEATURES.index(name) for name in ("cosine", "overlap", "shape"))
    for cand, value, row in zip(cands, score(features, weights), features, strict=True):
        cand.score, cand.cosine, cand.overlap = float(value), float(row[cosine]), float(row[overlap])
        cand.shaped = float(row[shape])
    return sorted(cands, key=lambda c: -c.score)
