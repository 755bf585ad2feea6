"""Retrieval on the real corpus index: script folding, both retrievers, merging, explanations."""

from __future__ import annotations

import pytest

from ingest.textnorm import fold


def _about_balance(passage) -> bool:
    return "医保卡余额" in fold(passage.chunk.text) or "医保账户余额" in fold(passage.chunk.text)


@pytest.mark.parametrize("mode", ["dense", "lexical", "hybrid"])
def test_traditional_query_finds_simplified_chunks(retriever, mode: str) -> None:
    result = retriever.search("醫保卡餘額", 5, mode)
    simplified_hits = [
        p for p in result.passages if _about_balance(p) and p.chunk.doc_id != "004_2b5ac2e5e3100877.txt"
    ]
    assert simplified_hits, [p.chunk.section for p in result.passages]


def test_lexical_matches_traditional_terms_in_simplified_text(retriever) -> None:
    result = retriever.search("醫保卡餘額", 5, "lexical")
    assert result.passages[0].lexical_rank == 1
    assert {"医保卡", "余额"} <= set(result.passages[0].matched_terms)


def test_hybrid_passages_explain_why_they_matched(retriever) -> None:
    result = retriever.search("在厦门交的医保去其他城市能用吗", 5)
    top = result.passages[0]
    assert "厦门" in top.chunk.text
    assert top.dense_rank is not None and top.lexical_rank is not None
    assert "语义" in top.why() and "关键词" in top.why()
    assert 0 < top.score <= 1.0
    assert [p.rank for p in result.passages] == list(range(1, len(result.passages) + 1))


def test_no_two_passages_overlap_within_a_section(retriever) -> None:
    for question in ("医保卡余额怎么查", "如何查個人醫保賬戶明細", "新农合住院报销比例"):
        passages = retriever.search(question, 10).passages
        for i, a in enumerate(passages):
            for b in passages[i + 1 :]:
                same = (a.chunk.doc_id, a.chunk.section) == (b.chunk.doc_id, b.chunk.section)
                assert not (same and a.chunk.start < b.chunk.end and b.chunk.start < a.chunk.end)


def test_top_k_of_a_deeper_search_is_the_search_with_k(retriever) -> None:
    shallow = retriever.search("医保卡里的钱能取现吗", 5)
    deep = retriever.search("医保卡里的钱能取现吗", 20)
    assert [p.chunk.id for p in deep.top(5).passages] == [p.chunk.id for p in shallow.passages]


def test_results_span_several_documents(retriever) -> None:
    docs = {p.chunk.doc_id for p in retriever.search("医保卡余额怎么查询", 5).passages}
    assert len(docs) >= 2


def test_unknown_retriever_is_refused(retriever) -> None:
    with pytest.raises(ValueError, match="hybrid"):
        retriever.search("医保", 5, "bm42")


def test_stage_timings_are_reported(retriever) -> None:
    timings = retriever.search("异地就医怎么备案", 5).timings_ms
    assert {"encode", "faiss", "bm25", "fusion"} <= set(timings)
