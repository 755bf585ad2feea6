"""The onnxruntime backends: the same model exported once to ONNX, fp32 (default) or int8.

sentence-transformers' own ``backend="onnx"`` needs ``optimum``, whose ONNX package pins an older
``transformers`` than this project runs, so the loaded model is exported directly with
``torch.onnx.export`` (mean pooling and normalisation inside the graph) and run with onnxruntime.
The export is built once per machine and model, beside the model folder (``index.build_once``).
Only the tokenizer of the sentence-transformers model is kept; its torch weights are released.
"""

from __future__ import annotations

import copy
import logging
import shutil
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from index.build_once import build_once, write_marker
from index.e5_model import ModelUnavailable
from index.embedder import Embedder, model_fingerprint, threads_per_pass
from index.torch_embedder import load_sentence_transformer
from settings import Settings

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

MODEL_FILE = "model.onnx"
OPSET = 17


class OnnxEmbedder(Embedder):
    """Tokenizer and prompts from the sentence-transformers model, the forward pass in onnxruntime."""

    tag = "onnx"

    def __init__(self, model: SentenceTransformer, weights: str, path: Path, settings: Settings) -> None:
        self.path = path
        self._session = _session(path, threads_per_pass(settings.threads))
        self._tokenizer = model.tokenizer
        self._max_length = model.max_seq_length
        self._prompts = dict(getattr(model, "prompts", None) or {})
        # Its vectors are not bit-identical to torch's: an index built on one backend is rebuilt,
        # not silently reused, on another.
        fingerprint = f"{weights}-{self.tag}"
        super().__init__(
            settings.model, fingerprint, self._prompts, settings.batch_size, settings.query_cache_size
        )

    @classmethod
    def open(cls, settings: Settings) -> OnnxEmbedder:
        model = load_sentence_transformer(settings)
        reason = _not_exportable(model)
        if reason:
            raise ModelUnavailable(f"{reason}; set YIBAO_BACKEND=torch for this model")
        weights = model_fingerprint(model)
        path = cls._model_file(model, weights, settings.model_cache)
        try:
            return cls(model, weights, path, settings)
        except _load_errors() as exc:  # damaged on disk with intact sizes: built again, once
            log.warning("rebuilding %s: %s", path.parent, exc)
            shutil.rmtree(path.parent, ignore_errors=True)
            path = cls._model_file(model, weights, settings.model_cache)
            return cls(model, weights, path, settings)

    @classmethod
    def _model_file(cls, model: SentenceTransformer, weights: str, cache: Path) -> Path:
        """The ONNX file for ``model`` (fingerprint ``weights``) under ``cache``, built on first use."""
        return _built(cache / f"onnx-{weights}", lambda out: _export(model, out))

    def forward(self, texts: list[str], prompt_name: str | None) -> np.ndarray:
        prefix = self._prompts.get(prompt_name, "") if prompt_name else ""
        parts = []
        for idx in self._batches(texts):
            batch = self._tokenizer(
                [prefix + texts[i] for i in idx],
                padding=True,
                truncation=True,
                max_length=self._max_length,
                return_tensors="np",
            )
            feeds = {name: batch[name].astype(np.int64) for name in ("input_ids", "attention_mask")}
            parts.append((idx, self._session.run(None, feeds)[0]))
        out = np.empty((len(texts), parts[0][1].shape[1] if parts else 0), dtype=np.float32)
        for idx, vectors in parts:
            out[idx] = vectors
        return out

    def with_threads(self, threads: int) -> OnnxEmbedder:
        twin = copy.copy(self)
        twin._session = _session(self.path, threads)
        return twin


class OnnxInt8Embedder(OnnxEmbedder):
    """int8 weights (dynamic quantization): ~4x faster, but retrieval quality drops measurably."""

    tag = "onnx-int8"

    @classmethod
    def _model_file(cls, model: SentenceTransformer, weights: str, cache: Path) -> Path:
        fp32 = super()._model_file(model, weights, cache)
        return _built(cache / f"onnx-int8-{weights}", lambda out: _quantize(fp32, out))


def _built(folder: Path, build: Any) -> Path:
    def build_and_mark(out: Path) -> None:
        build(out)
        write_marker(out, {"opset": OPSET})

    return build_once(folder, build_and_mark) / MODEL_FILE


def _session(path: Path, threads: int) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _load_errors() -> tuple[type[BaseException], ...]:
    from onnxruntime.capi.onnxruntime_pybind11_state import Fail, InvalidGraph, InvalidProtobuf, NoSuchFile

    return Fail, InvalidGraph, InvalidProtobuf, NoSuchFile


def _not_exportable(model: SentenceTransformer) -> str | None:
    names = [type(m).__name__ for m in model]
    if names[:2] != ["Transformer", "Pooling"] or model[1].get_config_dict().get("pooling_mode") != "mean":
        return f"only Transformer + mean Pooling models run on onnxruntime (this one: {names})"
    return None


def _export(model: SentenceTransformer, out: Path) -> None:
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


def _quantize(fp32: Path, out: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(fp32), str(out / MODEL_FILE), weight_type=QuantType.QInt8)
