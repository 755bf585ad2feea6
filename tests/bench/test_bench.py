"""``yibao bench --quick`` runs every part end to end: in process, a real server over HTTP,
ingest from scratch, FAISS at 10k rows; zero HTTP errors and the keys BENCHMARKS.md is made of."""

from __future__ import annotations

import pytest

from bench import render_markdown, run_bench
from bench.report import targets
from bench.scale import e5_like

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def quick_result(settings, embedder, retriever) -> dict:
    # ``retriever`` builds the session's index first, so that the bench only measures.
    return run_bench(settings, quick=True, embedder=embedder, log=lambda _: None)


def test_quick_bench_has_every_part(quick_result: dict) -> None:
    r = quick_result
    assert r["quick"] is True
    assert {"machine", "inprocess", "http", "ingest", "scale", "targets"} <= set(r)
    assert r["machine"]["nproc"] >= 1 and r["machine"]["onnxruntime"]
    inproc = r["inprocess"]
    assert inproc["floor"]["p50"] > 0 and inproc["ask"]["p50"] > 0
    assert set(inproc["retrieve"]) == {"dense", "lexical", "hybrid"}
    assert {"encode", "faiss", "bm25", "fusion", "compose", "script"} <= set(inproc["stages"])
    assert inproc["ask_over_floor"] > 0
    assert inproc["cached"]["ask"]["p50"] > 0
    assert inproc["parallel_capacity"]["asks_per_second"] > 0


def test_quick_bench_http_has_no_errors(quick_result: dict) -> None:
    http = quick_result["http"]
    assert set(http["phases"]) == {"1", "1 back-to-back", "4", "16", "32, 30 % invalid"}
    assert http["errors"] == 0
    for phase in http["phases"].values():
        assert phase["errors"] == 0
        assert phase["rps"] > 0
        assert 0 < phase["latency"]["p50"] <= phase["latency"]["p95"] <= phase["latency"]["p99"]
    assert http["p50_over_floor"] > 0


def test_quick_bench_ingest_and_scale(quick_result: dict) -> None:
    ingest = quick_result["ingest"]
    assert ingest["chunks"] > 0 and ingest["embedded_texts"] >= ingest["chunks"]
    assert ingest["ingest_over_raw"] > 0
    rows = quick_result["scale"]["rows"]
    assert {r["kind"] for r in rows} == {"flat", "hnsw"}
    flat = next(r for r in rows if r["kind"] == "flat")
    assert flat["recall_at_10"] == 1.0 and flat["auto_choice"]
    assert all(r["rows"] == 10_000 and r["index_mib"] > 0 for r in rows)


def test_quick_bench_renders(quick_result: dict) -> None:
    text = render_markdown(quick_result)
    for heading in ("### Targets", "### In process", "### HTTP /api/ask", "### Ingest", "### FAISS at scale"):
        assert heading in text
    names = {t["target"] for t in quick_result["targets"]}
    assert {"/api/ask p50, 1 client", "16 concurrent clients", "32 clients, 30 % invalid"} <= names


def test_targets_without_measurements_are_not_met_or_unknown() -> None:
    assert targets({}) == []
    scale_only = targets({"scale": {"rows": []}})
    assert scale_only[0]["met"] is None


def test_synthetic_vectors_are_unit_length_and_e5_like() -> None:
    vectors, queries = e5_like(2_000, 20, seed=1)
    assert vectors.shape == (2_000, 384) and queries.shape == (20, 384)
    assert abs(float((vectors**2).sum(axis=1).mean()) - 1) < 1e-4
    # e5 cosines bunch high: any two rows sit well above zero.
    assert float((queries @ vectors.T).mean()) > 0.8


def test_library_bench_indexes_through_each_engine(settings, infinity, quick_result: dict) -> None:
    """The library part on two of the repository's files: the same texts embedded in process
    and through the engine with 1 and 2 requests in flight, each with its time and memory."""
    from dataclasses import replace

    from bench import library
    from bench.engine import SERVED_NAME
    from settings import ROOT

    conf = replace(settings, embed_url=infinity.url, embed_model=SERVED_NAME)
    result = library.measure(conf, ROOT / "corpus", files=2, log=lambda _: None)
    assert result["files"] == 2 and result["of_files"] == len(list((ROOT / "corpus").iterdir()))
    rows = result["rows"]
    assert [(r["backend"], r["concurrency"]) for r in rows] == [("onnx", None), ("remote", 1), ("remote", 2)]
    assert rows[0]["texts"] > 0 and len({r["texts"] for r in rows}) == 1
    assert all(r["texts_per_second"] > 0 and r["peak_rss_mib"] > 0 for r in rows)
    assert result["characters"] > 0
    text = render_markdown({**quick_result, "library": result})
    assert "### A library" in text and "remote, 2 in flight" in text
