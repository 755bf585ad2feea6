"""Exporting a sentence-transformers model to ONNX, once per model (this part needs torch).

sentence-transformers' own ``backend="onnx"`` needs ``optimum``, whose ONNX package pins an older
``transformers`` than this project runs, so the loaded model is exported directly with
``torch.onnx.export``, with mean pooling and normalisation inside the graph.

The word-embedding matrix (250k × 384 floats, 384 MB of the 470 MB model) is left out of the
graph and written beside it as raw float32 rows: the backends read the ~20 rows a question needs
(``WordEmbeddings``), so a server does not hold the matrix in memory. The lookup is exact: the
vectors are those of the whole model.
"""

from __future__ import annotations

import contextlib
import json
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from index.embedding.build_once import build_once, read_marker, write_marker

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

MODEL_FILE = "model.onnx"
WORDS_FILE = "word_embeddings.f32"
OPSET = 17
# In the build marker: exports made before the word embeddings left the graph are rebuilt.
LAYOUT = "words-outside"


def not_exportable(model: SentenceTransformer, folder: Path | None) -> str | None:
    """Why ``model`` (loaded from ``folder``) cannot run on onnxruntime, or None if it can."""
    names = [type(m).__name__ for m in model]
    if names[:2] != ["Transformer", "Pooling"] or model[1].get_config_dict().get("pooling_mode") != "mean":
        return f"only Transformer + mean Pooling models run on onnxruntime (this one: {names})"
    if folder is None or tokenizer_file(folder) is None:
        return f"only models with a tokenizer.json in a local folder run on onnxruntime ({folder})"
    return None


def tokenizer_file(folder: Path) -> str | None:
    """The ``tokenizer.json`` of the model's Transformer module, relative to ``folder``."""
    try:
        modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
        first = next(m for m in modules if m["type"].endswith("Transformer"))
    except (OSError, ValueError, KeyError, StopIteration):
        return None
    name = Path(first.get("path") or "") / "tokenizer.json"
    return name.as_posix() if (folder / name).is_file() else None


def export(model: SentenceTransformer, out: Path) -> None:
    """Write ``out/model.onnx`` (word embeddings and attention mask in, pooled, normalized vectors
    out) and the word-embedding rows it takes, ``out/word_embeddings.f32``."""
    import torch

    transformer = model[0].auto_model
    words = transformer.get_input_embeddings().weight.detach().cpu().numpy().astype("<f4")
    words.tofile(out / WORDS_FILE)

    normalize = any(type(m).__name__ == "Normalize" for m in model)

    class Pooled(torch.nn.Module):
        def __init__(self, transformer: torch.nn.Module) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden = self.transformer(
                inputs_embeds=inputs_embeds, attention_mask=attention_mask
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, dim=-1) if normalize else pooled

    embeds = torch.randn(2, 16, words.shape[1])
    # The tracer warns about Python control flow in the attention code; shapes stay dynamic.
    with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Pooled(transformer).eval(),
            (embeds, torch.ones(2, 16, dtype=torch.int64)),
            str(out / MODEL_FILE),
            input_names=["inputs_embeds", "attention_mask"],
            output_names=["embedding"],
            dynamic_axes={
                "inputs_embeds": {0: "batch", 1: "tokens"},
                "attention_mask": {0: "batch", 1: "tokens"},
                "embedding": {0: "batch"},
            },
            opset_version=OPSET,
            dynamo=False,
        )


def is_current(folder: Path) -> bool:
    """A finished export in today's layout."""
    marker = read_marker(folder)
    return marker is not None and marker.get("layout") == LAYOUT


def built(folder: Path, build: Callable[[Path], None]) -> Path:
    """``folder``, built by ``build(out)`` unless a current export is there (``build_once``)."""

    def build_and_mark(out: Path) -> None:
        build(out)
        write_marker(out, {"opset": OPSET, "layout": LAYOUT})

    return build_once(folder, build_and_mark, is_current)


class WordEmbeddings:
    """The export's word-embedding rows, read from the file one row per distinct token.

    Not a memory map: the kernel maps every page around a faulting one (and the file sits in the
    page cache), so a mapped matrix ended up half resident after 60 questions. ``pread`` copies
    the ~20 rows a question needs from the page cache and the process keeps none of it.
    """

    def __init__(self, path: Path, dim: int) -> None:
        self._fd = os.open(path, os.O_RDONLY)
        self._dim = dim
        self._row_bytes = 4 * dim
        size = os.fstat(self._fd).st_size
        if size == 0 or size % self._row_bytes:
            os.close(self._fd)
            raise ValueError(f"{path}: {size} bytes is not a whole number of {dim}-float rows")
        self._rows = size // self._row_bytes

    def __getitem__(self, ids: np.ndarray) -> np.ndarray:
        """The rows of ``ids`` (any shape), float32, shape ``ids.shape + (dim,)``."""
        unique, inverse = np.unique(ids, return_inverse=True)
        rows = np.empty((len(unique), self._dim), dtype="<f4")
        for i, token in enumerate(unique.tolist()):
            if not 0 <= token < self._rows:
                raise ValueError(f"token id {token} outside the {self._rows}-row vocabulary")
            rows[i] = np.frombuffer(os.pread(self._fd, self._row_bytes, token * self._row_bytes), "<f4")
        return rows[inverse.reshape(ids.shape)]

    def __del__(self) -> None:
        with contextlib.suppress(AttributeError, OSError):
            os.close(self._fd)
