"""Ranking metrics: hand-computed cases, edge cases, and agreement with trec_eval."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import pytrec_eval

from eval.metrics import (
    dcg,
    first_relevant_rank,
    hit_at_k,
    mean,
    mrr_at_k,
    ndcg_at_k,
    ndcg_at_k_graded,
    percentile,
    recall_at_k,
)

F, T = False, True


def test_first_relevant_rank() -> None:
    assert first_relevant_rank([F, F, T, T]) == 3
    assert first_relevant_rank([T]) == 1
    assert first_relevant_rank([F, F]) is None
    assert first_relevant_rank([]) is None


def test_hit_at_k() -> None:
    assert hit_at_k([F, F, T], 3) == 1.0
    assert hit_at_k([F, F, T], 2) == 0.0  # the relevant item sits at rank 3 > k
    assert hit_at_k([F, T], 10) == 1.0  # k longer than the list
    assert hit_at_k([], 5) == 0.0
    assert hit_at_k([T], 0) == 0.0


def test_mrr_at_k() -> None:
    # first relevant at rank 3 -> 1/3
    assert mrr_at_k([F, F, T, T], 5) == pytest.approx(1 / 3)
    assert mrr_at_k([F, F, T, T], 2) == 0.0
    assert mrr_at_k([T, T], 1) == 1.0
    assert mrr_at_k([F, F], 10) == 0.0
    assert mrr_at_k([], 10) == 0.0


def test_dcg_by_hand() -> None:
    # 3/log2(2) + 2/log2(3) + 0/log2(4) = 3 + 1.261860 = 4.261860
    assert dcg([3, 2, 0]) == pytest.approx(3 + 2 / math.log2(3))
    assert dcg([]) == 0.0


def test_ndcg_binary_by_hand() -> None:
    # relevant at ranks 2 and 4, 3 relevant in all, k = 5:
    # DCG  = 1/log2(3) + 1/log2(5)            = 0.630930 + 0.430677 = 1.061606
    # IDCG = 1/log2(2) + 1/log2(3) + 1/log2(4) = 1 + 0.630930 + 0.5   = 2.130930
    # nDCG = 1.061606 / 2.130930 = 0.498189
    expected = (1 / math.log2(3) + 1 / math.log2(5)) / (1 + 1 / math.log2(3) + 0.5)
    assert ndcg_at_k([F, T, F, T, F], 5, 3) == pytest.approx(expected)
    assert expected == pytest.approx(0.498189, abs=1e-6)


def test_ndcg_binary_ideal_is_cut_at_k() -> None:
    # 5 relevant in all but k = 2: IDCG = 1 + 1/log2(3); DCG of [T, F] = 1
    assert ndcg_at_k([T, F, T], 2, 5) == pytest.approx(1 / (1 + 1 / math.log2(3)))
    # every top-k item relevant -> 1.0 whatever lies below k
    assert ndcg_at_k([T, T, F], 2, 10) == pytest.approx(1.0)


def test_ndcg_edge_cases() -> None:
    assert ndcg_at_k([F, F, F], 3, 0) == 0.0  # nothing relevant exists
    assert ndcg_at_k([F, F, F], 3, 2) == 0.0  # nothing relevant retrieved
    assert ndcg_at_k([], 10, 2) == 0.0
    assert ndcg_at_k([T], 0, 1) == 0.0
    # k longer than the list: [T] with 1 relevant is perfect
    assert ndcg_at_k([T], 10, 1) == pytest.approx(1.0)


def test_ndcg_graded_by_hand() -> None:
    # gains [1, 2, 0], judged grades {2, 1, 1}, k = 3:
    # DCG  = 1/1 + 2/log2(3)          = 1 + 1.261860            = 2.261860
    # IDCG = 2/1 + 1/log2(3) + 1/log2(4) = 2 + 0.630930 + 0.5    = 3.130930
    # nDCG = 0.722424
    expected = (1 + 2 / math.log2(3)) / (2 + 1 / math.log2(3) + 0.5)
    assert ndcg_at_k_graded([1, 2, 0], [1, 2, 1], 3) == pytest.approx(expected)
    assert expected == pytest.approx(0.722424, abs=1e-6)
    assert ndcg_at_k_graded([0, 0], [], 2) == 0.0


def test_recall_at_k() -> None:
    # two answers; rank 1 satisfies none, rank 2 satisfies answer 0, rank 3 answer 1
    hits = [frozenset(), frozenset({0}), frozenset({1})]
    assert recall_at_k(hits, 2, 1) == 0.0
    assert recall_at_k(hits, 2, 2) == 0.5
    assert recall_at_k(hits, 2, 3) == 1.0
    # one item may satisfy several answers; repeats count once
    assert recall_at_k([frozenset({0, 2}), frozenset({0})], 3, 5) == pytest.approx(2 / 3)
    assert recall_at_k([], 3, 5) == 0.0
    assert recall_at_k([frozenset({0})], 0, 5) == 0.0
    assert recall_at_k([frozenset({"d1", "d2"})], 2, 10) == 1.0  # any hashable ids


def test_mean_and_percentile() -> None:
    assert mean([]) == 0.0
    assert mean([1.0, 2.0, 6.0]) == 3.0
    # sorted [1, 2, 3, 4]: p50 at position 1.5 -> 2.5; p95 at position 2.85 -> 3.85
    assert percentile([4, 1, 3, 2], 50) == pytest.approx(2.5)
    assert percentile([4, 1, 3, 2], 95) == pytest.approx(3.85)
    assert percentile([7.0], 95) == 7.0
    rng = random.Random(7)
    values = [rng.uniform(0, 100) for _ in range(57)]
    for p in (0, 5, 50, 90, 95, 99, 100):
        assert percentile(values, p) == pytest.approx(float(np.percentile(values, p)))
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1.0], 101)


# --- agreement with trec_eval (pytrec_eval) on random runs ------------------------------


def _random_case(rng: random.Random, graded: bool) -> tuple[dict[str, int], list[str]]:
    """Qrels over a pool of 30 docs and a run of at most 10 of them (so that trec_eval's
    untruncated recip_rank equals MRR@10)."""
    pool = [f"d{i:02d}" for i in range(30)]
    n_judged = rng.randint(1, 12)
    grades = [1, 2] if graded else [1]
    qrels = {doc: rng.choice(grades) for doc in rng.sample(pool, n_judged)}
    # some judged-non-relevant docs as trec_eval sees them in BEIR qrels
    for doc in rng.sample([d for d in pool if d not in qrels], 3):
        qrels[doc] = 0
    run = rng.sample(pool, rng.randint(0, 10))
    return qrels, run


@pytest.mark.parametrize("graded", [False, True])
def test_agrees_with_trec_eval(graded: bool) -> None:
    rng = random.Random(20240519 + graded)
    qrels_all: dict[str, dict[str, int]] = {}
    run_all: dict[str, dict[str, float]] = {}
    cases: dict[str, tuple[dict[str, int], list[str]]] = {}
    for q in range(60):
        qrels, run = _random_case(rng, graded)
        qid = f"q{q}"
        cases[qid] = (qrels, run)
        qrels_all[qid] = qrels
        # distinct, descending scores so trec_eval keeps our order (no tie-breaking)
        run_all[qid] = {doc: float(len(run) - i) for i, doc in enumerate(run)}
    evaluator = pytrec_eval.RelevanceEvaluator(qrels_all, {"ndcg_cut.10", "recip_rank", "recall.10"})
    results = evaluator.evaluate(run_all)

    checked = 0
    for qid, (qrels, run) in cases.items():
        checked += bool(run)
        ref = results[qid]
        gains = [float(qrels.get(doc, 0)) for doc in run]
        ideal = [float(g) for g in qrels.values() if g > 0]
        relevant = [g > 0 for g in gains]
        n_relevant = len(ideal)
        assert ndcg_at_k_graded(gains, ideal, 10) == pytest.approx(ref["ndcg_cut_10"], abs=1e-6)
        if not graded:
            assert ndcg_at_k(relevant, 10, n_relevant) == pytest.approx(ref["ndcg_cut_10"], abs=1e-6)
        assert mrr_at_k(relevant, 10) == pytest.approx(ref["recip_rank"], abs=1e-6)
        hits = [frozenset({doc}) if qrels.get(doc, 0) > 0 else frozenset() for doc in run]
        assert recall_at_k(hits, n_relevant, 10) == pytest.approx(ref["recall_10"], abs=1e-6)
    assert checked >= 40  # most runs are non-empty; empty ones must score 0 on both sides
