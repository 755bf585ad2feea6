"""The onnx-int8 backend: the fp32 export with int8 weights (dynamic quantization), made once.

About 4 × faster than torch, but retrieval quality drops measurably (BENCHMARKS.md).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from index.embedding.onnx_backend import OnnxEmbedder
from index.embedding.onnx_export import MODEL_FILE, WORDS_FILE, built

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


class OnnxInt8Embedder(OnnxEmbedder):
    # Per-channel weights since the tag gained "-pc" (the per-tensor export's vectors differ).
    tag = "onnx-int8-pc"

    @classmethod
    def export_folder(cls, cache: Path, weights: str) -> Path:
        return cache / f"{cls.tag}-{weights}"

    @classmethod
    def _build(cls, model: SentenceTransformer, cache: Path, weights: str) -> None:
        OnnxEmbedder._build(model, cache, weights)
        fp32 = OnnxEmbedder.export_folder(cache, weights)
        built(cls.export_folder(cache, weights), lambda out: _quantize(fp32, out))


def _quantize(fp32: Path, out: Path) -> None:
    """The fp32 graph's weights in int8; the word embeddings (looked up outside the graph) stay
    float32, shared with the fp32 export when the file system allows a hard link."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # One scale per output channel, not per tensor: vectors at cosine 0.997 to fp32 on average
    # (0.988 per tensor) for the same speed (BENCHMARKS.md, "Ingest: fewer texts or int8").
    quantize_dynamic(
        str(fp32 / MODEL_FILE), str(out / MODEL_FILE), weight_type=QuantType.QInt8, per_channel=True
    )
    try:
        os.link(fp32 / WORDS_FILE, out / WORDS_FILE)
    except OSError:
        shutil.copyfile(fp32 / WORDS_FILE, out / WORDS_FILE)
