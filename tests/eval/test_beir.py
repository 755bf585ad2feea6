"""`yibao eval --beir` on a tiny BEIR-layout dataset written by the test."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from eval.beir import evaluate_beir, load_beir

PASSAGES = {
    "p1": "医保卡余额可以拨打12333查询，也可以在支付宝的市民中心里查看。",
    "p2": "厦门医保已经实现全国漫游，跨省就医可以直接结算，不需要先垫付。",
    "p3": "红烧肉要先焯水，再加冰糖炒出糖色，最后小火慢炖一个小时。",
    "p4": "新农合在乡镇卫生院住院，300元以下的费用报销30%。",
}
QUERIES = {"q1": "怎么查医保卡里还有多少钱", "q2": "厦门的医保到外省看病能直接报销吗", "q3": "红烧肉怎么做"}
QRELS = [("q1", "p1", 1), ("q2", "p2", 1), ("q3", "p3", 1)]


@pytest.fixture()
def tiny(tmp_path: Path) -> Path:
    (tmp_path / "qrels").mkdir()
    with open(tmp_path / "corpus.jsonl", "w", encoding="utf-8") as fh:
        for pid, text in PASSAGES.items():
            fh.write(json.dumps({"_id": pid, "title": "", "text": text}, ensure_ascii=False) + "\n")
    with open(tmp_path / "queries.jsonl", "w", encoding="utf-8") as fh:
        for qid, text in QUERIES.items():
            fh.write(json.dumps({"_id": qid, "text": text}, ensure_ascii=False) + "\n")
    rows = ["query-id\tcorpus-id\tscore", *(f"{q}\t{p}\t{s}" for q, p, s in QRELS)]
    (tmp_path / "qrels" / "test.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return tmp_path


def test_load_reads_the_standard_layout(tiny: Path) -> None:
    data = load_beir(tiny)
    assert set(data.corpus) == set(PASSAGES) and set(data.queries) == set(QUERIES)
    assert data.qrels["q2"] == {"p2": 1}


def test_a_header_less_qrels_file_is_refused(tiny: Path) -> None:
    (tiny / "qrels" / "test.tsv").write_text("q1\tp1\t1\n", encoding="utf-8")
    with pytest.raises(ValueError, match="query-id"):
        load_beir(tiny)


@pytest.mark.parametrize("mode", ["dense", "lexical", "hybrid"])
def test_each_query_finds_its_passage_first(tiny: Path, settings, embedder, mode: str) -> None:
    report = evaluate_beir(tiny, settings, embedder, (mode,), progress=False)
    assert report["queries"] == 3 and report["passages"] == 4
    metrics = report["results"][mode]
    assert metrics["mrr@10"] == 1.0 and metrics["ndcg@10"] == 1.0 and metrics["recall@10"] == 1.0


def test_limit_evaluates_the_first_queries_only(tiny: Path, settings, embedder) -> None:
    assert evaluate_beir(tiny, settings, embedder, ("lexical",), limit=2, progress=False)["queries"] == 2


def test_the_milvus_store_scores_the_set_like_the_local_store(
    tiny: Path, settings, embedder, tmp_path
) -> None:
    pytest.importorskip("pymilvus")
    conf = replace(settings, data_dir=tmp_path / "data")
    modes = ("dense", "lexical", "hybrid")
    report = evaluate_beir(tiny, conf, embedder, modes, progress=False, stores=("local", "milvus"))
    assert set(report["store_fill_seconds"]) == {"local", "milvus"}
    for mode in modes:
        assert report["results"][f"{mode}@milvus"] == report["results"][f"{mode}@local"]


def test_each_query_gets_a_row_and_a_progress_call(tiny: Path, settings, embedder) -> None:
    calls = []
    report = evaluate_beir(
        tiny, settings, embedder, ("lexical", "hybrid"), progress=False, on_query=lambda: calls.append(1)
    )
    assert len(calls) == 2 * len(QUERIES)  # every query, for each setting
    rows = report["per_question"]  # the hybrid setting's
    assert [(r["id"], r["question"], r["first_relevant_rank"]) for r in rows] == [
        (qid, QUERIES[qid], 1) for qid in sorted(QUERIES)
    ]
    assert all(r["latency_ms"] > 0 and "ndcg@10" not in r for r in rows)
