"""`yibao ingest` behaviour: incremental updates, no-op reruns, deletions, the manifest."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from index import store
from index.build import build_index
from settings import Settings

SOURCE = Settings.from_env().corpus_dir / "003_806fa7c8e5ae7b8f.txt"
NOTE = (
    "# 医保小贴士\n\n长沙的医保卡可以在湘雅医院直接刷卡结算。门诊费用按比例报销，住院需要先办理入院登记。\n"
)


@pytest.fixture()
def small(tmp_path: Path, settings: Settings) -> Settings:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(SOURCE, corpus / SOURCE.name)
    (corpus / "note.md").write_text(NOTE, encoding="utf-8")
    return replace(settings, corpus_dir=corpus, data_dir=tmp_path / "data")


def _load(s: Settings, embedder) -> store.StoredIndex:
    return store.load_index(s.index_dir, embedder.name, embedder.fingerprint, embedder.dim)


def test_first_build_then_unchanged_rerun_is_a_no_op(small: Settings, embedder) -> None:
    first = build_index(small, embedder)
    assert first.files_read == 2 and first.embedded > first.chunks > 0 and first.reused == 0
    version = store.current_version(small.index_dir)
    again = build_index(small, embedder)
    assert again.unchanged and again.embedded == 0
    assert store.current_version(small.index_dir) == version


def test_changed_file_is_re_embedded_alone(small: Settings, embedder) -> None:
    build_index(small, embedder)
    (small.corpus_dir / "note.md").write_text(NOTE + "\n杭州的医保卡可以在浙一医院使用。\n", encoding="utf-8")
    report = build_index(small, embedder)
    assert report.changed_docs == ["note.md"]
    assert 0 < report.embedded <= 4, "only the changed note's chunk and answer units are embedded again"
    index = _load(small, embedder)
    assert any("浙一医院" in c.text for c in index.chunks)


def test_deleted_file_leaves_the_index(small: Settings, embedder) -> None:
    build_index(small, embedder)
    (small.corpus_dir / "note.md").unlink()
    report = build_index(small, embedder)
    assert report.removed_docs == ["note.md"]
    index = _load(small, embedder)
    assert {c.doc_id for c in index.chunks} == {SOURCE.name}
    assert all(u.doc_id == SOURCE.name for u in index.units.units)


def test_rebuild_embeds_everything_again(small: Settings, embedder) -> None:
    first = build_index(small, embedder)
    again = build_index(small, embedder, rebuild=True)
    assert again.embedded == first.embedded and not again.unchanged


def test_manifest_records_what_the_index_was_built_from(small: Settings, embedder) -> None:
    build_index(small, embedder)
    manifest = store.read_manifest(small.index_dir)
    assert manifest.model == embedder.name and manifest.model_fingerprint == embedder.fingerprint
    assert manifest.dim == 384 and manifest.format_version == store.FORMAT_VERSION
    assert set(manifest.files) == {SOURCE.name, "note.md"}
    assert manifest.chunker["chunk_max"] == small.chunk_max
    assert manifest.counts["chunks"] == len(_load(small, embedder))


def test_chunk_offsets_give_back_the_source_text(small: Settings, embedder) -> None:
    build_index(small, embedder)
    for chunk in _load(small, embedder).chunks:
        original = (small.corpus_dir / chunk.doc_id).read_text(encoding="utf-8")
        assert original[chunk.start : chunk.end] == chunk.text


def test_skipped_files_are_reported_and_the_rest_indexed(small: Settings, embedder) -> None:
    (small.corpus_dir / "latin1.txt").write_bytes("医保".encode("gb18030") + b"\xff\xfe")
    (small.corpus_dir / "empty.md").write_text("", encoding="utf-8")
    report = build_index(small, embedder)
    assert sorted(s.path for s in report.skipped) == ["empty.md", "latin1.txt"]
    assert report.files_read == 2
    assert "skipped latin1.txt" in report.summary()


def test_a_new_chunker_version_embeds_what_its_chunks_now_read(
    small: Settings, embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A chunker version that changes what a chunk embeds must not reuse the old index's vectors
    under the new text (they were worked out from today's code, which reads them differently)."""
    import numpy as np

    from index import build
    from ingest.records import Chunk

    build_index(small, embedder)
    monkeypatch.setattr(build, "CHUNKER_VERSION", build.CHUNKER_VERSION + 1)
    monkeypatch.setattr(Chunk, "embed_text", property(lambda c: f"新版本\n{c.text}"))
    build_index(small, embedder)
    index = _load(small, embedder)
    fresh = embedder.encode_passages([c.embed_text for c in index.chunks])
    assert np.allclose((fresh * index.vectors).sum(axis=1), 1.0, atol=1e-4)
