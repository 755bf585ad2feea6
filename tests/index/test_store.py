"""The stored index refuses to serve what it cannot trust, with a message that says what to do."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from index import store
from index.build import build_index
from settings import Settings


@pytest.fixture()
def built(tmp_path: Path, settings: Settings, embedder) -> Settings:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text(
        "深圳医保卡余额可以拨打12333查询。\n\n也可以在粤省事小程序里查看。\n", encoding="utf-8"
    )
    s = replace(settings, corpus_dir=corpus, data_dir=tmp_path / "data")
    build_index(s, embedder)
    return s


def _load(s: Settings, embedder, **override) -> store.StoredIndex:
    args = {"model": embedder.name, "fingerprint": embedder.fingerprint, "dim": embedder.dim} | override
    return store.load_index(s.index_dir, **args)


def test_missing_index_says_how_to_build_one(tmp_path: Path, embedder) -> None:
    with pytest.raises(store.IndexMissing, match="yibao ingest"):
        store.load_index(tmp_path / "nothing", embedder.name, embedder.fingerprint, embedder.dim)


def test_other_model_is_a_mismatch_naming_both(built: Settings, embedder) -> None:
    with pytest.raises(store.IndexMismatch) as err:
        _load(built, embedder, model="bge-small-zh", fingerprint="0123")
    message = str(err.value)
    assert "multilingual-e5-small" in message and "bge-small-zh" in message
    assert "yibao ingest --rebuild" in message


def test_other_format_version_is_a_mismatch(built: Settings, embedder) -> None:
    version = store.current_version(built.index_dir)
    manifest = json.loads((version / "manifest.json").read_text(encoding="utf-8"))
    manifest["format_version"] = 999
    (version / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(store.IndexMismatch, match=r"format 999"):
        _load(built, embedder)


@pytest.mark.parametrize("name", ["dense.faiss", "vectors.npy", "chunks.jsonl", "unit_vectors.npy"])
def test_truncated_file_is_reported_as_damaged(built: Settings, embedder, name: str) -> None:
    path = store.current_version(built.index_dir) / name
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(store.IndexCorrupt, match=name):
        _load(built, embedder)


def test_garbled_manifest_is_reported_as_damaged(built: Settings, embedder) -> None:
    (store.current_version(built.index_dir) / "manifest.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(store.IndexCorrupt, match=r"manifest\.json"):
        _load(built, embedder)


def test_failed_write_keeps_the_previous_index(built: Settings, embedder, monkeypatch) -> None:
    before = store.current_version(built.index_dir)
    (built.corpus_dir / "b.txt").write_text("厦门医保可以在全国直接结算。\n", encoding="utf-8")

    def fail(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store.faiss, "write_index", fail)
    with pytest.raises(OSError, match="No space"):
        build_index(built, embedder)
    assert store.current_version(built.index_dir) == before
    assert {c.doc_id for c in _load(built, embedder).chunks} == {"a.txt"}
    monkeypatch.undo()
    build_index(built, embedder)
    assert {c.doc_id for c in _load(built, embedder).chunks} == {"a.txt", "b.txt"}
    leftovers = [p for p in built.index_dir.iterdir() if p.is_dir()]
    assert len(leftovers) == 2, "the live and the previous version only; unfinished ones are swept"


def test_second_writer_is_refused_while_one_holds_the_lock(built: Settings, embedder) -> None:
    with store.ingest_lock(built.index_dir), pytest.raises(store.IngestLocked, match="another ingest"):
        build_index(built, embedder)


def test_index_dir_copy_is_a_working_backup(built: Settings, embedder, tmp_path: Path) -> None:
    backup = tmp_path / "backup"
    shutil.copytree(built.index_dir, backup)
    restored = store.load_index(backup, embedder.name, embedder.fingerprint, embedder.dim)
    assert len(restored) == len(_load(built, embedder))
