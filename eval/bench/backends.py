"""Other inference backends for the same model, measured against the configured one (torch).

sentence-transformers' own ``backend="onnx"`` needs ``optimum``, whose ONNX package pins
``transformers<4.58`` (this project runs transformers 5), so it is not used. Instead the loaded
model is exported once with ``torch.onnx.export`` (mean pooling and normalisation inside the
graph) and run with onnxruntime directly: fp32, and int8 weights by
``onnxruntime.quantization.quantize_dynamic``. The export needs the ``onnx`` package, which is
not a dependency of this project: without it (or without onnxruntime) this part reports
``skipped``. The files are cached under ``<model_cache>/onnx-<fingerprint>/``.

Per backend: the floor (one question, interleaved with the others), agreement with torch
(cosine of the question embeddings), in-process throughput with every core asking, and
retrieval/answer quality on eval/questions.jsonl over an index built with that backend (the
torch row uses the configured index).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from eval.bench.inprocess import floor_encoder, parallel_capacity, raw_model, uncached_answerer
from eval.bench.stats import summarize
from index.embedder import Embedder
from settings import Settings

if TYPE_CHECKING:
    from answer.compose import Answerer

QUALITY_KEYS = (
    "hit@1",
    "hit@5",
    "mrr@10",
    "ndcg@10",
    "answer_evidence_rate",
    "abstain_recall",
    "false_abstain_rate",
)


def unavailable() -> str | None:
    """Why the ONNX backends cannot be measured here, or None."""
    missing = [m for m in ("onnxruntime", "onnx") if importlib.util.find_spec(m) is None]
    return f"not installed: {', '.join(missing)}" if missing else None


class OrtEmbedder(Embedder):
    """The Embedder with ``_encode`` on an onnxruntime session; tokenizer and prompts as loaded."""

    def __init__(self, base: Embedder, path: Path, threads: int, tag: str, cache_size: int = 0) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        model = raw_model(base)
        self._tokenizer = model.tokenizer
        self._max_length = model.max_seq_length
        self._prompts = getattr(model, "prompts", None) or {}
        super().__init__(model, base.name, base._batch_size, cache_size)
        # Its vectors differ from torch's, so its index must not pass for a torch-built one.
        self._fingerprint = f"{base.fingerprint}-{tag}"

    def _encode(self, texts: list[str], prompt_name: str | None) -> np.ndarray:
        prefix = self._prompts.get(prompt_name, "") if prompt_name else ""
        batch = self._tokenizer(
            [prefix + t for t in texts],
            padding=True,
            truncation=True,
            max_length=self._max_length,
            return_tensors="np",
        )
        feeds = {
            "input_ids": batch["input_ids"].astype(np.int64),
            "attention_mask": batch["attention_mask"].astype(np.int64),
        }
        (vectors,) = self._session.run(None, feeds)
        return np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(texts), -1)


def _exportable(model: Any) -> str | None:
    names = [type(m).__name__ for m in model]
    if names[:2] != ["Transformer", "Pooling"] or model[1].get_config_dict().get("pooling_mode") != "mean":
        return f"only Transformer + mean Pooling models are exported (this one: {names})"
    return None


def export(embedder: Embedder, cache: Path) -> dict[str, Path]:
    """``model.onnx`` (fp32) and ``model-int8.onnx`` for the embedder's model, built once."""
    folder = cache / f"onnx-{embedder.fingerprint}"
    files = {"onnx-fp32": folder / "model.onnx", "onnx-int8": folder / "model-int8.onnx"}
    if all(p.exists() for p in files.values()):
        return files
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model = raw_model(embedder)
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

    cache.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".onnx-", dir=cache))
    try:
        ids = torch.randint(5, 1000, (2, 16))
        with torch.inference_mode(False), torch.no_grad():
            torch.onnx.export(
                Pooled(model[0].auto_model).eval(),
                (ids, torch.ones_like(ids)),
                str(tmp / files["onnx-fp32"].name),
                input_names=["input_ids", "attention_mask"],
                output_names=["embedding"],
                dynamic_axes={
                    "input_ids": {0: "batch", 1: "tokens"},
                    "attention_mask": {0: "batch", 1: "tokens"},
                    "embedding": {0: "batch"},
                },
                opset_version=17,
                dynamo=False,
            )
        fp32, int8 = (str(tmp / files[k].name) for k in ("onnx-fp32", "onnx-int8"))
        quantize_dynamic(fp32, int8, weight_type=QuantType.QInt8)
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return files


def _quality(answerer: Answerer, questions: list) -> dict:
    from eval.run_questions import evaluate

    metrics = evaluate(answerer, questions, "hybrid", 10)["metrics"]
    return {k: metrics[k] for k in QUALITY_KEYS if k in metrics}


def measure(settings: Settings, embedder: Embedder, quick: bool, log=print) -> dict:
    reason = unavailable() or _exportable(raw_model(embedder))
    if reason:
        return {"skipped": reason}
    import torch

    from answer.compose import Answerer
    from eval.questions import load_questions
    from index.build import build_index
    from index.loader import open_retriever
    from settings import ROOT

    t0 = time.perf_counter()
    with contextlib.redirect_stdout(None):
        files = export(embedder, settings.model_cache)
    export_s = time.perf_counter() - t0
    threads = torch.get_num_threads()
    backends: dict[str, Embedder] = {"torch": embedder}
    for tag, path in files.items():
        backends[tag] = OrtEmbedder(embedder, path, threads, tag)
    questions = load_questions(ROOT / "eval" / "questions.jsonl")
    texts = [q.question for q in questions][: 20 if quick else 60]

    floors: dict[str, list[float]] = {name: [] for name in backends}
    torch_floor = floor_encoder(embedder)
    for q in texts:
        for name, backend in backends.items():
            if name == "torch":
                floors[name].append(torch_floor(q))
            else:
                t1 = time.perf_counter()
                backend._encode([q], "query")
                floors[name].append((time.perf_counter() - t1) * 1000)
    reference = embedder.encode_queries(texts)
    rows = {}
    with tempfile.TemporaryDirectory(prefix="yibao-bench-backend-") as tmp:
        for name, backend in backends.items():
            log(f"bench: backend {name}")
            agreement = np.einsum("ij,ij->i", backend.encode_queries(texts), reference)
            row: dict = {
                "floor": summarize(floors[name]),
                "cosine_to_torch_min": round(float(agreement.min()), 5),
                "cosine_to_torch_p50": round(float(np.median(agreement)), 5),
            }
            if name == "torch":
                answerer = uncached_answerer(settings, embedder, 0)
            else:
                conf = replace(settings, data_dir=Path(tmp) / name, query_cache_size=0)
                t1 = time.perf_counter()
                built = build_index(conf, backend, rebuild=True)
                row["ingest_seconds"] = round(time.perf_counter() - t1, 2)
                row["ingest_texts_per_second"] = round(built.embedded / (time.perf_counter() - t1), 2)
                answerer = Answerer(open_retriever(conf, backend), conf)
            if not quick:
                row["quality"] = _quality(answerer, questions)
            row["parallel_capacity"] = parallel_capacity(answerer, texts, 24 if quick else 80)
            rows[name] = row
    torch_p50 = rows["torch"]["floor"]["p50"]
    for row in rows.values():
        row["floor_speedup"] = round(torch_p50 / row["floor"]["p50"], 2) if row["floor"]["p50"] else None
    return {
        "export_seconds": round(export_s, 1),
        "files_mib": {k: round(p.stat().st_size / 2**20, 1) for k, p in files.items()},
        "threads": threads,
        "backends": rows,
    }
