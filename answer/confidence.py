"""Whether the retrieved passages answer the question at all.

multilingual-e5 cosines bunch between ~0.8 and ~0.95 for anything Chinese, so a cosine cut-off
alone cannot tell "about 医保" from "about cooking". Confidence mixes it with lexical evidence:
the idf-weighted share of the question's terms that the top passages contain.
"""

from __future__ import annotations

import numpy as np

from index.lexical import BM25
from index.retriever import SearchResult
from index.store import StoredIndex
from ingest.glossary import translate
from ingest.textnorm import STOPWORDS, fold, has_cjk
from settings import Settings


def signals(result: SearchResult, index: StoredIndex, query_vector: np.ndarray) -> dict[str, float]:
    """The raw evidence: best passage cosine and idf-weighted term coverage of the top passages."""
    top = result.passages[:3]
    if not top:
        return {"cosine": 0.0, "coverage": 0.0}
    cosine = max(float((index.vectors[list(p.rows)] @ query_vector).max()) for p in top)
    texts = [p.chunk.text for p in top]
    if has_cjk(result.query):
        share = coverage(result.query_terms, texts, index.lexical)
    else:
        share = english_coverage(result.query, texts)
    return {"cosine": cosine, "coverage": share}


def coverage(terms: list[str], texts: list[str], lexical: BM25) -> float:
    """Idf-weighted share of ``terms`` found in ``texts`` (rare terms count most)."""
    terms = list(dict.fromkeys(terms))
    total = sum(lexical.idf(t) for t in terms)
    if total <= 0:
        return 0.0
    # Folded one text at a time: fold is memoised, and corpus passages recur across questions.
    folded = [fold(text) for text in texts]
    return sum(lexical.idf(t) for t in terms if any(t in f for f in folded)) / total


def english_coverage(question: str, texts: list[str]) -> float:
    """The share of an English question's words whose Chinese terms (ingest.glossary) the texts
    contain. A word the glossary does not know counts as missing: 「exchange rate of the dollar」
    knows only 「rate」, 「family members use the money」 all but 「use」."""
    words = [(w, terms) for w, terms in translate(question) if w not in STOPWORDS and len(w) > 1]
    if not words:
        return 0.0
    folded = [fold(text) for text in texts]
    return sum(any(t in f for t in terms for f in folded) for _, terms in words) / len(words)


def confidence(evidence: dict[str, float], settings: Settings, cross_lingual: bool = False) -> float:
    """0..1 from the best passage's or answer unit's cosine and the term coverage; the answer
    abstains below ``settings.abstain_threshold``.

    A question with no Chinese in it is matched on a cosine scale shifted down by how much lower
    cross-lingual cosines run, and its coverage is that of its words' glossary terms."""
    lo, hi = settings.cosine_floor, settings.cosine_ceiling
    w = settings.coverage_weight
    if cross_lingual:
        # Short units match a foreign question loosely; only whole passages count here.
        shift = settings.cross_lingual_shift
        return (1 - w) * _unit((evidence["cosine"] - lo + shift) / (hi - lo)) + w * evidence["coverage"]
    # A passage that holds the answer in one unit (a phone-hours line) counts as close as that unit.
    cosine = max(evidence["cosine"], evidence.get("unit_cosine", 0.0))
    return (1 - w) * _unit((cosine - lo) / (hi - lo)) + w * evidence["coverage"]


def _unit(x: float) -> float:
    return min(1.0, max(0.0, x))
