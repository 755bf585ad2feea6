"""The ONNX export behind the default backend: built once, and rebuilt when damaged on disk."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from index.build_once import is_complete
from index.embedder import Embedder
from settings import Settings

QUESTION = "异地就医怎么备案"


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("model-cache")


def _load(cache: Path) -> Embedder:
    return Embedder.load(Settings.from_env(backend="onnx", model_cache=cache, query_cache_size=0))


def _export(cache: Path) -> Path:
    (folder,) = cache.glob("onnx-*")
    return folder / "model.onnx"


@pytest.mark.parametrize("damage", ["none", "truncated", "garbled with the same size"])
def test_export_is_reused_or_rebuilt(
    cache: Path, embedder: Embedder, caplog: pytest.LogCaptureFixture, damage: str
) -> None:
    _load(cache)  # the first load exports (once per module)
    path = _export(cache)
    if damage == "truncated":
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
        assert not is_complete(path.parent)
    elif damage == "garbled with the same size":
        path.write_bytes(b"\x00" * path.stat().st_size)
        assert is_complete(path.parent)  # sizes match: only loading it can tell
    with caplog.at_level(logging.INFO, logger="index"):
        again = _load(cache)
    rebuilt = any("building" in r.getMessage() for r in caplog.records)
    assert rebuilt == (damage != "none")
    assert is_complete(_export(cache).parent)
    vector = again.encode_query(QUESTION)
    assert float(vector @ embedder.encode_query(QUESTION)) >= 0.9999
    assert np.isfinite(vector).all()
