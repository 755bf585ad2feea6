"""Whether the retrieved passages answer the question at all.

multilingual-e5 cosines bunch between ~0.8 and ~0.95 for anything Chinese, so a cosine cut-off
alone cannot tell "about 医保" from "about cooking". Confidence weighs it with lexical evidence
(the idf-weighted share of the question's terms that the top passages contain) in a logistic
model fitted on questions asked against their own corpus and against another one (eval/fit.py).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from answer.question import FOREIGN, Question
from answer.score import AnswerModel, probability
from answer.sources import Sources
from index.retriever import Passage
from ingest.glossary import translate
from ingest.textnorm import STOPWORDS, fold

# The passages whose words and cosines count.
_TOP = 3


def signals(
    question: Question, passages: list[Passage], sources: Sources, query_vector: np.ndarray, shift: float
) -> dict[str, float]:
    """The raw evidence: the best passage's cosine and the idf-weighted share of the question's
    terms that the top passages contain. A question with no Chinese in it is matched on a cosine
    scale moved up by ``shift`` (cross-lingual cosines run lower), and its coverage is that of its
    words' glossary terms."""
    top = passages[:_TOP]
    if not top:
        return {"cosine": 0.0, "coverage": 0.0}
    cosine = max(float((sources.chunk_vectors[list(p.rows)] @ query_vector).max()) for p in top)
    texts = [p.chunk.text for p in top]
    if question.script == FOREIGN:
        return {"cosine": cosine + shift, "coverage": english_coverage(question.text, texts)}
    return {"cosine": cosine, "coverage": coverage(list(question.terms), texts, sources.idf)}


def coverage(terms: list[str], texts: list[str], idf: Callable[[str], float]) -> float:
    """Idf-weighted share of ``terms`` found in ``texts`` (rare terms count most)."""
    terms = list(dict.fromkeys(terms))
    total = sum(idf(t) for t in terms)
    if total <= 0:
        return 0.0
    # Folded one text at a time: fold is memoised, and corpus passages recur across questions.
    folded = [fold(text) for text in texts]
    return sum(idf(t) for t in terms if any(t in f for f in folded)) / total


def english_coverage(question: str, texts: list[str]) -> float:
    """The share of an English question's words whose Chinese terms (ingest.glossary) the texts
    contain. A word the glossary does not know counts as missing: 「exchange rate of the dollar」
    knows only 「rate」, 「family members use the money」 all but 「use」."""
    words = [(w, terms) for w, terms in translate(question) if w not in STOPWORDS and len(w) > 1]
    if not words:
        return 0.0
    folded = [fold(text) for text in texts]
    return sum(any(t in f for t in terms for f in folded) for _, terms in words) / len(words)


def confidence(evidence: dict[str, float], model: AnswerModel) -> float:
    """0..1 from the evidence; the answer abstains below ``model.threshold``. A passage that holds
    the answer in one unit (a phone-hours line) counts as close as that unit; a foreign question's
    short units match it loosely, so only whole passages count for it."""
    seen = dict(evidence)
    seen["unit_cosine"] = max(seen["cosine"], seen.get("unit_cosine", 0.0))
    return probability(seen, model)
