"""Ranking metrics over one ranked list: pure functions, no project imports.

Conventions: ranks are 1-based; ``k`` truncates the ranked list (``k <= 0`` scores 0);
an empty list or a list with nothing relevant scores 0. Gains for nDCG are linear in the
relevance grade and discounted by ``log2(rank + 1)``, as in trec_eval's ``ndcg_cut``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence


def first_relevant_rank(relevant: Sequence[bool]) -> int | None:
    """The 1-based rank of the first relevant item, or ``None`` when there is none."""
    for rank, is_relevant in enumerate(relevant, start=1):
        if is_relevant:
            return rank
    return None


def hit_at_k(relevant: Sequence[bool], k: int) -> float:
    """1.0 when a relevant item is among the top ``k``, else 0.0."""
    rank = first_relevant_rank(relevant[: max(k, 0)])
    return 0.0 if rank is None else 1.0


def mrr_at_k(relevant: Sequence[bool], k: int) -> float:
    """Reciprocal rank of the first relevant item within the top ``k`` (0.0 when none)."""
    rank = first_relevant_rank(relevant[: max(k, 0)])
    return 0.0 if rank is None else 1.0 / rank


def dcg(gains: Iterable[float]) -> float:
    """Discounted cumulative gain: the gain at rank r is divided by ``log2(r + 1)``."""
    return sum(gain / math.log2(rank + 1) for rank, gain in enumerate(gains, start=1))


def ndcg_at_k_graded(gains: Sequence[float], ideal_gains: Sequence[float], k: int) -> float:
    """Graded nDCG@k as trec_eval's ``ndcg_cut``.

    ``gains`` are the relevance grades of the ranked items (0 for non-relevant);
    ``ideal_gains`` are the grades of *all* judged-relevant items for the query, in any
    order: they are sorted descending and cut at ``k`` to form the ideal ranking.
    """
    if k <= 0:
        return 0.0
    ideal = dcg(sorted((g for g in ideal_gains if g > 0), reverse=True)[:k])
    if ideal <= 0.0:
        return 0.0
    return dcg(gains[:k]) / ideal


def ndcg_at_k(relevant: Sequence[bool], k: int, n_relevant: int) -> float:
    """Binary nDCG@k; the ideal ranking puts ``min(n_relevant, k)`` relevant items first."""
    gains = [1.0 if is_relevant else 0.0 for is_relevant in relevant]
    return ndcg_at_k_graded(gains, [1.0] * max(n_relevant, 0), k)


def recall_at_k(hits_per_rank: Sequence[Iterable[object]], n_targets: int, k: int) -> float:
    """Share of a query's ``n_targets`` targets satisfied by the top ``k`` items.

    ``hits_per_rank[i]`` holds the ids of the targets (answer indices, or corpus ids of
    relevant documents) that the item at rank ``i + 1`` satisfies; one item may satisfy
    several targets and a target counts once however often it is hit. 0.0 when
    ``n_targets <= 0``.
    """
    if n_targets <= 0 or k <= 0:
        return 0.0
    found: set[object] = set()
    for hits in hits_per_rank[:k]:
        found.update(hits)
    return min(len(found), n_targets) / n_targets


def mean(values: Iterable[float]) -> float:
    """Arithmetic mean; 0.0 for no values."""
    items = list(values)
    return sum(items) / len(items) if items else 0.0


def percentile(values: Iterable[float], p: float) -> float:
    """The ``p``-th percentile (0–100) with linear interpolation, like ``numpy.percentile``.

    Raises ``ValueError`` for no values or ``p`` outside [0, 100].
    """
    ordered = sorted(values)
    if not ordered:
        raise ValueError("percentile of no values")
    if not 0.0 <= p <= 100.0:
        raise ValueError(f"percentile must lie in [0, 100], got {p}")
    position = (len(ordered) - 1) * p / 100.0
    lower = math.floor(position)
    upper = min(lower + 1, len(ordered) - 1)
    fraction = position - lower
    return ordered[lower] + (ordered[upper] - ordered[lower]) * fraction
