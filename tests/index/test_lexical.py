"""BM25 over segmented Chinese: scores, matched terms, and the idf of unseen terms."""

from __future__ import annotations

import math

from index.lexical import BM25
from ingest.textnorm import tokenize

DOCS = [
    "医保卡余额可以拨打12333查询",
    "医保卡余额可以在支付宝查询，支付宝里点市民中心",
    "红烧肉先焯水再炖",
    "厦门医保跨省就医直接结算",
]


def _bm25() -> BM25:
    return BM25().fit([tokenize(d) for d in DOCS])


def test_matching_documents_rank_by_term_weight() -> None:
    hits = _bm25().search(tokenize("支付宝怎么查医保卡余额"), 10)
    assert [h.index for h in hits[:2]] == [1, 0]
    assert "支付宝" in hits[0].matched and "支付宝" not in hits[1].matched
    assert all(h.index not in (2,) for h in hits)


def test_score_matches_the_okapi_formula() -> None:
    bm25 = _bm25()
    hit = bm25.search(["红烧肉"], 1)[0]
    n, df = len(DOCS), 1
    idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
    lengths = [len(tokenize(d)) for d in DOCS]
    norm = 1.5 * (1 - 0.75 + 0.75 * lengths[2] / (sum(lengths) / n))
    assert math.isclose(hit.score, idf * 1 * 2.5 / (1 + norm), rel_tol=1e-5)


def test_traditional_query_matches_simplified_text() -> None:
    hits = _bm25().search(tokenize("醫保卡餘額"), 5)
    assert {h.index for h in hits[:2]} == {0, 1}
    assert {"医保卡", "余额"} <= set(hits[0].matched)


def test_unseen_terms_count_as_the_rarest() -> None:
    bm25 = _bm25()
    assert bm25.idf("护照") > bm25.idf("医保卡") > 0
    assert bm25.search(["护照"], 5) == []


def test_k_limits_the_hits() -> None:
    assert len(_bm25().search(tokenize("医保卡余额查询"), 1)) == 1
