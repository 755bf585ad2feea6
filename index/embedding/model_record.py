"""What the ONNX backends need to know of a model without loading it in torch, recorded once.

The fingerprint an index records is computed from the model as sentence-transformers loads it,
in torch (``index.embedding.fingerprint``). The first ONNX load of a model does that, exports the
model, and records here its fingerprint, prompts, maximum length and padding token under the
identity of the model folder; later loads find the record by that identity and run onnxruntime
with the ``tokenizers`` library alone, never importing torch. A changed model folder, or another
sentence-transformers or transformers version (their loading decides prompts and fingerprint),
has another identity, so the model is loaded in torch once more and recorded again.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from index.embedding.fingerprint import model_fingerprint

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

RECORDS = "records"
# Files up to this size are hashed whole; larger ones (the weights) by evenly spaced blocks,
# which any retraining or requantization changes, in milliseconds instead of a full read.
_WHOLE_FILE = 1 << 20
_BLOCKS, _BLOCK = 256, 4096


@dataclass(frozen=True)
class ModelRecord:
    weights: str  # model_fingerprint of the loaded model
    prompts: dict[str, str]
    max_seq_length: int
    tokenizer: str  # tokenizer.json, relative to the model folder
    pad_id: int
    pad_token: str


def record_of(model: SentenceTransformer, tokenizer: str) -> ModelRecord:
    """The record of ``model``, loaded by sentence-transformers, whose ``tokenizer.json`` is at
    ``tokenizer`` within its folder."""
    return ModelRecord(
        weights=model_fingerprint(model),
        prompts={name: text for name, text in (getattr(model, "prompts", None) or {}).items() if text},
        max_seq_length=int(model.max_seq_length),
        tokenizer=tokenizer,
        pad_id=int(model.tokenizer.pad_token_id),
        pad_token=str(model.tokenizer.pad_token),
    )


def recall(cache: Path, folder: Path) -> ModelRecord | None:
    """The record of the model in ``folder``, if one was made for exactly these files."""
    try:
        data = json.loads(_record_path(cache, folder).read_text(encoding="utf-8"))
        return ModelRecord(**data)
    except (OSError, ValueError, TypeError):
        return None


def remember(cache: Path, folder: Path, record: ModelRecord) -> None:
    """Store ``record`` for ``folder``; written whole or not at all (several processes may start)."""
    path = _record_path(cache, folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(asdict(record), out, ensure_ascii=False, indent=2)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def folder_identity(folder: Path) -> str:
    """Short hash of every file in ``folder`` (name, size, content) and of the library versions."""
    digest = hashlib.sha256()
    for package in ("sentence-transformers", "transformers"):
        digest.update(f"{package}={_version(package)}|".encode())
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        size = path.stat().st_size
        digest.update(f"{path.relative_to(folder).as_posix()}|{size}|".encode())
        with open(path, "rb") as handle:
            if size <= _WHOLE_FILE:
                digest.update(handle.read())
                continue
            for i in range(_BLOCKS):
                handle.seek(i * (size - _BLOCK) // (_BLOCKS - 1))
                digest.update(handle.read(_BLOCK))
    return digest.hexdigest()[:16]


def _record_path(cache: Path, folder: Path) -> Path:
    return Path(cache).expanduser() / RECORDS / f"{folder_identity(folder)}.json"


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "none"
