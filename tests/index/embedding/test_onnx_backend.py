"""The ONNX export behind the default backend: built once, rebuilt when damaged on disk, and run
later without torch, giving the vectors and the fingerprint torch gives."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from index.embedding import Embedder, load_embedder
from index.embedding.build_once import is_complete
from index.embedding.model_record import RECORDS
from settings import ROOT, Settings

QUESTION = "异地就医怎么备案"
# Past the model's 512 tokens: truncation must cut where the Hugging Face tokenizer cuts.
LONG = "参保人员异地就医前应办理备案手续，可通过国家医保服务平台App线上办理。" * 40


LEAN_SCRIPT = """
import json, sys
from pathlib import Path
from index.embedding import load_embedder
from settings import Settings
e = load_embedder(Settings.from_env(model_cache=Path(sys.argv[1]), query_cache_size=0))
question, long = json.loads(sys.argv[2])
q, p = e.encode_queries([question]), e.encode_passages([question, long])
loaded = [m for m in ("torch", "sentence_transformers", "transformers") if m in sys.modules]
print(json.dumps({"fp": e.fingerprint, "q": q.tolist(), "p": p.tolist(), "loaded": loaded}))
"""


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("model-cache")


def _settings(cache: Path, backend: str = "onnx") -> Settings:
    return Settings.from_env(backend=backend, model_cache=cache, query_cache_size=0)


def _export(cache: Path) -> Path:
    (folder,) = cache.glob("onnx-*")
    return folder / "model.onnx"


@pytest.mark.parametrize("damage", ["none", "truncated", "garbled with the same size"])
def test_export_is_reused_or_rebuilt(
    cache: Path, embedder: Embedder, caplog: pytest.LogCaptureFixture, damage: str
) -> None:
    load_embedder(_settings(cache))  # the first load exports (once per module)
    path = _export(cache)
    if damage == "truncated":
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
        assert not is_complete(path.parent)
    elif damage == "garbled with the same size":
        path.write_bytes(b"\x00" * path.stat().st_size)
        assert is_complete(path.parent)  # sizes match: only loading it can tell
    with caplog.at_level(logging.INFO, logger="index"):
        again = load_embedder(_settings(cache))
    rebuilt = any("building" in r.getMessage() for r in caplog.records)
    assert rebuilt == (damage != "none")
    assert is_complete(_export(cache).parent)
    vector = again.encode_query(QUESTION)
    assert float(vector @ embedder.encode_query(QUESTION)) >= 0.9999
    assert np.isfinite(vector).all()


def test_a_later_load_needs_no_torch_and_gives_the_same_vectors(cache: Path) -> None:
    """Once exported and recorded, a new process runs the model with onnxruntime and the
    ``tokenizers`` library alone: same fingerprint, same vectors, torch never imported."""
    first = load_embedder(_settings(cache))
    (record,) = (cache / RECORDS).glob("*.json")
    assert json.loads(record.read_text(encoding="utf-8"))["weights"] == first.fingerprint.split("-")[0]
    out = subprocess.run(
        [sys.executable, "-c", LEAN_SCRIPT, str(cache), json.dumps([QUESTION, LONG])],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    lean = json.loads(out.splitlines()[-1])
    assert lean["loaded"] == []
    assert lean["fp"] == first.fingerprint
    torch = load_embedder(_settings(cache, "torch"))
    assert float(np.array(lean["q"][0]) @ torch.encode_query(QUESTION)) >= 0.99999
    passages = (np.array(lean["p"]) * torch.encode_passages([QUESTION, LONG])).sum(axis=1)
    assert passages.min() >= 0.99999
