"""The Milvus store against embedded milvus-lite: ingest, incremental updates, deletes, hybrid
search like the local store's, the region filter, model mismatch and reloads while serving."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

pytest.importorskip("pymilvus")

from pymilvus import MilvusClient

import cli
from index import dense, store
from index.build import build_index, edit_corpus
from index.loader import open_retriever
from index.stores import StoreUnavailable
from index.stores.milvus import MilvusStore
from settings import Settings
from tests.support import free_port

SOURCE = Settings.from_env().corpus_dir / "003_806fa7c8e5ae7b8f.txt"
NOTE = "# 长沙医保小贴士\n\n长沙的医保卡可以在湘雅医院直接刷卡结算。住院需先办理入院登记。\n"


@pytest.fixture()
def milvus(tmp_path: Path, settings: Settings) -> Settings:
    """One corpus file and a note about 长沙, indexed into milvus-lite in the test's own data dir."""
    corpus = tmp_path / "corpus"
    shutil.copytree(SOURCE.parent, corpus, ignore=lambda _, names: [n for n in names if n != SOURCE.name])
    (corpus / "note.md").write_text(NOTE, encoding="utf-8")
    return replace(settings, corpus_dir=corpus, data_dir=tmp_path / "data", store="milvus")


def _rows(s: Settings) -> dict[str, str]:
    """Chunk id → document of every row in the collection."""
    client = MilvusClient(s.milvus_target)
    client.load_collection(s.milvus_collection)
    rows = client.query(s.milvus_collection, filter='id != ""', output_fields=["doc_id"], limit=16_384)
    return {r["id"]: r["doc_id"] for r in rows}


def test_ingest_fills_the_collection_and_search_reads_it(milvus: Settings, embedder) -> None:
    build_index(milvus, embedder)
    retriever = open_retriever(milvus, embedder, build_if_missing=False)
    assert isinstance(retriever.store, MilvusStore)
    assert _rows(milvus) == {c.id: c.doc_id for c in retriever.index.chunks}
    top = retriever.search("长沙湘雅医院能刷医保卡吗", k=3).passages[0]
    assert top.chunk.doc_id == "note.md" and top.dense_rank and top.lexical_rank
    assert "湘雅医院" in top.matched_terms


def test_changed_and_deleted_files_replace_only_their_rows(milvus: Settings, embedder) -> None:
    build_index(milvus, embedder)
    before = _rows(milvus)
    changed = NOTE + "\n杭州的医保卡可以在浙一医院使用。\n"
    (milvus.corpus_dir / "note.md").write_text(changed, encoding="utf-8")
    assert build_index(milvus, embedder).changed_docs == ["note.md"]
    after = _rows(milvus)
    kept = {i for i, d in before.items() if d == SOURCE.name}
    assert kept <= set(after), "the unchanged document's rows stay"
    retriever = open_retriever(milvus, embedder, build_if_missing=False)
    assert after == {c.id: c.doc_id for c in retriever.index.chunks}
    # The new rows are a segment of their own, which milvus-lite scores by its own BM25 statistics
    # (README): the changed text is found, not always ranked first by the lexical search alone.
    found = retriever.search("浙一医院", k=3, mode="lexical").passages
    assert "note.md" in {p.chunk.doc_id for p in found}
    assert "浙一医院" in retriever.search("浙一医院", k=1).passages[0].chunk.text

    (milvus.corpus_dir / "note.md").unlink()
    assert build_index(milvus, embedder).removed_docs == ["note.md"]
    assert set(_rows(milvus).values()) == {SOURCE.name}
    retriever = open_retriever(milvus, embedder, build_if_missing=False)
    assert all(p.chunk.doc_id == SOURCE.name for p in retriever.search("湘雅医院", k=5).passages)


def test_hybrid_search_ranks_like_the_local_store(milvus: Settings, embedder) -> None:
    build_index(milvus, embedder)
    on_milvus = open_retriever(milvus, embedder, build_if_missing=False)
    local = open_retriever(replace(milvus, store="local"), embedder, build_if_missing=False)
    for question in ("长沙医保卡在哪家医院可以刷", "医保报销需要什么材料", "住院登记"):
        for mode in ("dense", "lexical", "hybrid"):
            a = [p.chunk.id for p in local.search(question, k=3, mode=mode).passages]
            b = [p.chunk.id for p in on_milvus.search(question, k=3, mode=mode).passages]
            assert a == b, (question, mode)


def test_a_collection_above_the_exact_search_limit_gets_an_hnsw_index(
    milvus: Settings, embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FLAT (exact) up to dense.EXACT_MAX_ROWS chunks, HNSW above, as for FAISS. The limit lowered
    below this corpus's size, the next ingest recreates the collection with HNSW (milvus-lite
    builds it with faiss), and the dense search still finds what the local store finds."""
    build_index(milvus, embedder)
    rows = _rows(milvus)
    assert _dense_index(milvus) == "FLAT"
    monkeypatch.setattr(dense, "EXACT_MAX_ROWS", len(rows) - 1)
    build_index(milvus, embedder)
    assert _dense_index(milvus) == "HNSW"
    assert _rows(milvus) == rows
    on_milvus = open_retriever(milvus, embedder, build_if_missing=False)
    local = open_retriever(replace(milvus, store="local"), embedder, build_if_missing=False)
    for question in ("长沙医保卡在哪家医院可以刷", "医保报销需要什么材料"):
        a = [p.chunk.id for p in local.search(question, k=3, mode="dense").passages]
        assert a == [p.chunk.id for p in on_milvus.search(question, k=3, mode="dense").passages]


def _dense_index(s: Settings) -> str:
    return MilvusClient(s.milvus_target).describe_index(s.milvus_collection, "dense")["index_type"]


def test_region_filter_runs_in_milvus(milvus: Settings, embedder) -> None:
    build_index(milvus, embedder)
    retriever = open_retriever(milvus, embedder, build_if_missing=False)
    vector = embedder.encode_query("医保卡怎么用")
    rows = [row for row, _ in retriever.store.dense(vector, 50, region="长沙")]
    assert rows and all(retriever.index.chunks[r].doc_id == "note.md" for r in rows)
    result = retriever.search("医保卡怎么用", k=5, region="长沙")
    assert result.passages and all(p.chunk.doc_id == "note.md" for p in result.passages)


def test_collection_built_with_another_model_is_refused(milvus: Settings, embedder) -> None:
    build_index(milvus, embedder)
    index = store.load_index(milvus.index_dir, embedder.name, embedder.fingerprint, embedder.dim)
    index.manifest = replace(index.manifest, model_fingerprint="0" * 16)
    with pytest.raises(store.IndexMismatch, match="Rebuild it with `yibao ingest --store milvus --rebuild`"):
        MilvusStore(index, milvus)


def test_missing_collection_and_unreachable_server_are_one_line_errors(
    milvus: Settings, embedder, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    build_index(replace(milvus, store="local"), embedder)
    monkeypatch.setenv("YIBAO_CORPUS_DIR", str(milvus.corpus_dir))
    monkeypatch.setenv("YIBAO_DATA_DIR", str(milvus.data_dir))
    monkeypatch.setenv("YIBAO_STORE", "milvus")
    assert cli.main(["search", "医保卡"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: no Milvus collection") and "\n" not in err
    index = store.load_index(milvus.index_dir, embedder.name, embedder.fingerprint, embedder.dim)
    with pytest.raises(StoreUnavailable, match="YIBAO_MILVUS_URI"):
        MilvusStore(index, replace(milvus, milvus_uri=f"http://127.0.0.1:{free_port()}"))


@pytest.mark.slow
def test_server_switches_to_the_updated_collection_while_serving(milvus: Settings, embedder) -> None:
    from server.engine import Engine

    build_index(milvus, embedder)
    engine = Engine(milvus, embedder)
    before = engine.answerer.retriever
    hangzhou = "# 杭州\n\n杭州的医保卡可以在浙一医院直接结算。\n"
    edit_corpus(milvus, embedder, add={"hangzhou.md": hangzhou.encode()})
    assert engine.reload_if_changed()
    assert engine.answerer.retriever is not before
    top = engine.answerer.retriever.search("浙一医院能用医保卡吗", k=3).passages
    assert "hangzhou.md" in {p.chunk.doc_id for p in top}
    assert before.search("浙一医院能用医保卡吗", k=5).passages, "the old retriever still answers"
