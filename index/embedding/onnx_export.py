"""Exporting a sentence-transformers model to ONNX, once per model (this part needs torch).

sentence-transformers' own ``backend="onnx"`` needs ``optimum``, whose ONNX package pins an older
``transformers`` than this project runs, so the loaded model is exported directly with
``torch.onnx.export``, with mean pooling and normalisation inside the graph: the ONNX backends
then only tokenize and run it.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from index.embedding.build_once import build_once, write_marker

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

MODEL_FILE = "model.onnx"
OPSET = 17


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
    """Write ``out/model.onnx``: token ids and attention mask in, pooled (normalized) vectors out."""
    import torch

    normalize = any(type(m).__name__ == "Normalize" for m in model)

    class Pooled(torch.nn.Module):
        def __init__(self, transformer: torch.nn.Module) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden = self.transformer(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, dim=-1) if normalize else pooled

    ids = torch.randint(5, 1000, (2, 16))
    # The tracer warns about Python control flow in the attention code; shapes stay dynamic.
    with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Pooled(model[0].auto_model).eval(),
            (ids, torch.ones_like(ids)),
            str(out / MODEL_FILE),
            input_names=["input_ids", "attention_mask"],
            output_names=["embedding"],
            dynamic_axes={
                "input_ids": {0: "batch", 1: "tokens"},
                "attention_mask": {0: "batch", 1: "tokens"},
                "embedding": {0: "batch"},
            },
            opset_version=OPSET,
            dynamo=False,
        )


def built(folder: Path, build: Callable[[Path], None]) -> Path:
    """``folder``, built by ``build(out)`` unless a finished build is there (``build_once``)."""

    def build_and_mark(out: Path) -> None:
        build(out)
        write_marker(out, {"opset": OPSET})

    return build_once(folder, build_and_mark)
