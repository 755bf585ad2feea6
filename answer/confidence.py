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
from ingest.textnorm import fold
from settings import Settings


def signals(result: SearchResult, index: StoredIndex, query_vector: np.ndarray) -> dict[str, float]:
    """The raw evidence: best passage cosine and idf-weighted term coverage of the top passages."""
    top = result.passages[:3]
    if not top:
        return {"cosine": 0.0, "coverage": 0.0}
    cosine = max(float((index.vectors[list(p.rows)] @ query_vector).max()) for p in top)
    return {
        "cosine": cosine,
        "coverage": coverage(result.query_terms, [p.chunk.text for p in top], index.lexical),
    }


def coverage(terms: list[str], texts: list[str], lexical: BM25) -> float:
    """Idf-weighted share of ``terms`` found in ``texts`` (rare terms count most)."""
    terms = list(dict.fromkeys(terms))
    total = sum(lexical.idf(t) for t in terms)
    if total <= 0:
        return 0.0
    # Folded one text at a time: fold is memoised, and corpus passages recur across questions.
    folded = [fold(text) for text in texts]
    return sum(lexical.idf(t) for t in terms if any(t in f for f in folded)) / total


def confidence(evidence: dict[str, float], settings: Settings, cross_lingual: bool = False) -> float:
    """0..1 from the best passage's or answer unit's cosine and the term coverage; the answer
    abstains below ``settings.abstain_threshold``.

    A question with no Chinese in it shares no terms with the corpus, so its confidence rests on
    the cosine alone, on a scale shifted down by how much lower cross-lingual cosines run."""
    lo, hi = settings.cosine_floor, settings.cosine_ceiling
    if cross_lingual:
        # Short units match a foreign question loosely; only whole passages count here.
        shift = settings.cross_lingual_shift
        return _unit((evidence["cosine"] - lo + shift) / (hi - lo))
    # A passage that holds the answer in one unit (a phone-hours line) counts as close as that unit.
    cosine = max(evidence["cosine"], evidence.get("unit_cosine", 0.0))
    w = settings.coverage_weight
    return (1 - w) * _unit((cosine - lo) / (hi - lo)) + w * evidence["coverage"]


def _unit(x: float) -> float:
    return min(1.0, max(0.0, x))
