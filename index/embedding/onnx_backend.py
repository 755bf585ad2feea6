"""The default backend: the model's ONNX export (fp32) run by onnxruntime.

A start needs onnxruntime, the ``tokenizers`` library and two files made once per machine and
model: the export, beside the model folder (``index.embedding.onnx_export``), and the model's
record (``index.embedding.model_record``). Only when one of them is missing is the model loaded
in torch, to make both; torch is not imported otherwise, which keeps a server at a third of the
memory (BENCHMARKS.md, "Server footprint").
"""

from __future__ import annotations

import copy
import functools
import logging
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from index.embedding.base import Embedder
from index.embedding.e5_model import ModelUnavailable
from index.embedding.model_record import ModelRecord, recall, record_of, remember
from index.embedding.onnx_export import (
    MODEL_FILE,
    WORDS_FILE,
    WordEmbeddings,
    built,
    export,
    is_current,
    not_exportable,
    tokenizer_file,
)
from index.embedding.sentence_transformer import load_sentence_transformer, model_folder
from index.embedding.threads import threads_per_pass
from index.embedding.tokenizer import FolderTokenizer
from settings import Settings

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)


class OnnxEmbedder(Embedder):
    """The tokenizer from the model folder, the forward pass (with pooling) in onnxruntime."""

    tag = "onnx"

    def __init__(self, record: ModelRecord, folder: Path, path: Path, settings: Settings) -> None:
        # Not found or damaged files raise here (see ``open``), before any use.
        self.path = path
        self._session = _session(path, threads_per_pass(settings.threads))
        dim = self._session.get_inputs()[0].shape[-1]
        self._words = WordEmbeddings(path.parent / WORDS_FILE, dim)
        self._tokenizer = FolderTokenizer(folder / record.tokenizer, record.max_seq_length, record.pad_id)
        self._prompts = record.prompts
        # Its vectors are not bit-identical to torch's: an index built on one backend is rebuilt,
        # not silently reused, on another.
        fingerprint = f"{record.weights}-{self.tag}"
        super().__init__(
            settings.model,
            fingerprint,
            record.prompts,
            settings.batch_size,
            settings.query_cache_size,
            batch_tokens=settings.embed_batch_tokens,
        )

    @classmethod
    def open(cls, settings: Settings) -> OnnxEmbedder:
        cache = settings.model_cache
        folder = model_folder(settings)
        record = recall(cache, folder) if folder is not None else None
        if folder is None or record is None or not is_current(cls.export_folder(cache, record.weights)):
            record, folder = cls._export_with_torch(settings)
        path = cls.export_folder(cache, record.weights) / MODEL_FILE
        try:
            return cls(record, folder, path, settings)
        except _load_errors() as exc:  # damaged on disk with intact sizes: built again, once
            log.warning("rebuilding %s: %s", path.parent, exc)
            shutil.rmtree(path.parent, ignore_errors=True)
            record, folder = cls._export_with_torch(settings)
            return cls(record, folder, path, settings)

    @classmethod
    def export_folder(cls, cache: Path, weights: str) -> Path:
        """Where the export of the model with fingerprint ``weights`` lives."""
        return cache / f"onnx-{weights}"

    @classmethod
    def _build(cls, model: SentenceTransformer, cache: Path, weights: str) -> None:
        built(cls.export_folder(cache, weights), lambda out: export(model, out))

    @classmethod
    def _export_with_torch(cls, settings: Settings) -> tuple[ModelRecord, Path]:
        """Load the model in torch, build the export if it is missing, and record the model."""
        log.info("loading %s in torch once, to export it and record it", settings.model)
        model = load_sentence_transformer(settings)
        folder = model_folder(settings)
        reason = not_exportable(model, folder)
        if reason or folder is None:
            raise ModelUnavailable(f"{reason}; set YIBAO_BACKEND=torch for this model")
        record = record_of(model, tokenizer_file(folder) or "")
        cls._build(model, settings.model_cache, record.weights)
        remember(settings.model_cache, folder, record)
        return record, folder

    @property
    def tokenizer(self) -> FolderTokenizer:
        """The tokenizer alone (the benchmark times it apart from the forward pass)."""
        return self._tokenizer

    def token_counts(self, texts: list[str], prompt_name: str | None) -> list[int]:
        return [len(ids) for ids in self._tokenizer.encode(self._prompted(texts, prompt_name))]

    def forward(self, texts: list[str], prompt_name: str | None) -> np.ndarray:
        ids = self._tokenizer.encode(self._prompted(texts, prompt_name))
        parts = []
        for idx in self._batches([len(row) for row in ids]):
            tokens = self._tokenizer.pad([ids[i] for i in idx])
            feeds = {
                "inputs_embeds": self._words[tokens["input_ids"]],
                "attention_mask": tokens["attention_mask"],
            }
            parts.append((idx, self._session.run(None, feeds)[0]))
        out = np.empty((len(texts), parts[0][1].shape[1] if parts else 0), dtype=np.float32)
        for idx, vectors in parts:
            out[idx] = vectors
        return out

    def _prompted(self, texts: list[str], prompt_name: str | None) -> list[str]:
        prefix = self._prompts.get(prompt_name, "") if prompt_name else ""
        return [prefix + text for text in texts]

    def with_threads(self, threads: int) -> OnnxEmbedder:
        twin = copy.copy(self)
        twin._session = _session(self.path, threads)
        return twin


def _session(path: Path, threads: int) -> Any:
    """One onnxruntime session per export file (as it is now on disk) and thread count, shared
    by every embedder of the process: a session holds a few hundred MB that onnxruntime does not
    give back, and its ``run`` may be called from several threads at once."""
    stat = path.stat()
    return _open_session(str(path), stat.st_mtime_ns, stat.st_size, threads)


@functools.lru_cache(maxsize=8)
def _open_session(path: str, mtime_ns: int, size: int, threads: int) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def _load_errors() -> tuple[type[BaseException], ...]:
    from onnxruntime.capi.onnxruntime_pybind11_state import Fail, InvalidGraph, InvalidProtobuf, NoSuchFile

    # OSError/ValueError: a missing or cut word-embedding file (its size is not whole rows).
    return Fail, InvalidGraph, InvalidProtobuf, NoSuchFile, OSError, ValueError
