"""The named features of each candidate block: what the score (answer/score.py) weighs.

Every feature is a number computed from the question record, the candidates, the question's
vector and the sources, nothing else; their weights are fitted (eval/fit.py). A feature stays
only where the fit shows it helps: the characters shared with the question, the terms of the
sentence before, a block's length and the shape of the first type alone each moved the held-out
opening on cmrc2018_train by at most 0.002 and cost this corpus's 111 questions up to 27 of their
openings (length and shared characters prefer cmrc's short sentences).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable

import numpy as np

from answer.candidates import Candidate
from answer.question import Question
from answer.sources import Sources
from index.retriever import Passage
from ingest.textnorm import fold

FEATURES: tuple[str, ...] = (
    # Embedding similarity to the question (a list: its lead-in's or its items' mean, the closer).
    "cosine",
    # How far its passage's own cosine and its keywords agree that it is the one (Passage.agreement:
    # 1 = ranked first by both), and whether that passage was ranked first.
    "passage",
    "first_passage",
    # The question's terms it holds, each weighted by its rarity among the candidates: in passages
    # that all say 「新农合」, 「三级医院」 is what tells them apart.
    "overlap",
    # The question's terms that set it apart within its own passage (idf × rarity among the
    # passage's blocks, the passage heading's terms left out): asked 「夜来香的种子有什么特点」,
    # the sentence that says 种子.
    "focus",
    # Whether it carries the shape of the answer the question asks for (answer/types.py: the
    # highest priority that has one).
    "shape",
)


def feature_matrix(
    question: Question,
    passages: list[Passage],
    cands: list[Candidate],
    query_vector: np.ndarray,
    sources: Sources,
) -> np.ndarray:
    """One row per candidate, one column per name in FEATURES."""
    out = np.zeros((len(cands), len(FEATURES)), dtype=np.float64)
    if not cands:
        return out
    col = {name: i for i, name in enumerate(FEATURES)}
    out[:, col["cosine"]] = cosines(cands, query_vector, sources)
    first = passages[0] if passages else None
    texts = [fold(c.about + c.text) for c in cands]
    terms = list(dict.fromkeys(question.terms))
    out[:, col["overlap"]] = _rarity_shares(terms, texts)
    out[:, col["focus"]] = _passage_focus(terms, cands, texts, sources.idf)
    shape = question.shapes[0].shape if question.shapes else None
    for i, cand in enumerate(cands):
        out[i, col["passage"]] = cand.passage.agreement
        out[i, col["first_passage"]] = cand.passage is first
        out[i, col["shape"]] = shape is not None and shape.search(texts[i]) is not None
    return out


def cosines(cands: list[Candidate], query_vector: np.ndarray, sources: Sources) -> np.ndarray:
    """Each block's embedding similarity: one product for every unit the blocks quote."""
    rows = sorted({r for cand in cands for r in cand.rows})
    if not rows:
        return np.zeros(len(cands))
    similarity = dict(zip(rows, (sources.units.vectors[rows] @ query_vector).tolist(), strict=True))
    out = np.zeros(len(cands))
    for i, cand in enumerate(cands):
        values = [similarity[r] for r in cand.rows]
        # A list is as close as its lead-in or its items on average, whichever is closer.
        out[i] = max(values[0], sum(values[1:]) / (len(values) - 1) if len(values) > 1 else 0.0)
    return out


def _passage_focus(
    terms: list[str], cands: list[Candidate], texts: list[str], idf: Callable[[str], float]
) -> list[float]:
    """Each candidate's share of the question's terms that set it apart within its own passage: a
    term in the passage's heading says nothing here, and a term counts by its idf times its rarity
    among the passage's candidates."""
    by_passage: dict[int, list[int]] = defaultdict(list)
    for i, cand in enumerate(cands):
        by_passage[id(cand.passage)].append(i)
    out = [0.0] * len(cands)
    for rows in by_passage.values():
        heading = fold(cands[rows[0]].passage.chunk.section)
        own = [t for t in terms if t not in heading]
        for i, share in zip(rows, _rarity_shares(own, [texts[i] for i in rows], idf), strict=True):
            out[i] = share
    return out


def _rarity_shares(
    terms: list[str], texts: list[str], idf: Callable[[str], float] = lambda _: 1.0
) -> list[float]:
    """Each text's share of ``terms``, a term weighted by ``idf`` times log(1 + texts / texts with it)."""
    weights = {}
    for term in dict.fromkeys(terms):
        df = sum(term in text for text in texts)
        if df:
            weights[term] = idf(term) * math.log(1 + len(texts) / df)
    total = sum(weights.values())
    if total <= 0:
        return [0.0] * len(texts)
    return [sum(w for t, w in weights.items() if t in text) / total for text in texts]
