"""The fingerprint an index records of the model that embedded it (``Embedder.fingerprint``).

For a local model it is computed from the loaded sentence-transformers model, which needs torch;
the lean backends read the value back from ``index.embedding.model_record`` instead of
recomputing it. A model an embedding engine serves is known by its name (``remote_fingerprint``).
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

# Fed through the tokenizer for the fingerprint: catches normalizer/vocabulary changes cheaply.
TOKENIZER_PROBE = "query: 医保卡餘額 12333 Ｆｕｌｌ-width  spaces café 😀"


def model_fingerprint(model: SentenceTransformer) -> str:
    """Hash of every tensor's name, shape, dtype and ~1k evenly spaced values, plus tokenizer behaviour.

    Sampling rather than hashing all ~500 MB keeps it to milliseconds, and any retraining,
    requantization or swap of weights changes the samples; values are copied bit-exactly, so the
    result does not depend on thread counts or load order.
    """
    digest = hashlib.sha256()
    for key, tensor in sorted(model.state_dict().items()):
        flat = tensor.detach().reshape(-1)
        step = max(1, flat.numel() // 1024)
        sample = flat[::step][:1024].contiguous().cpu().numpy()
        digest.update(f"{key}|{tuple(tensor.shape)}|{tensor.dtype}|".encode())
        digest.update(sample.tobytes())
    tokenizer = getattr(model, "tokenizer", None)
    probe = tokenizer(TOKENIZER_PROBE)["input_ids"] if tokenizer is not None else []
    extra = {
        "max_seq_length": getattr(model, "max_seq_length", None),
        "prompts": getattr(model, "prompts", {}),
        "vocab": len(tokenizer) if tokenizer is not None else None,
        "probe": list(probe),
        "modules": [type(module).__name__ for module in model],
    }
    digest.update(json.dumps(extra, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:16]


def remote_fingerprint(model: str, prompts: dict[str, str]) -> str:
    """The fingerprint of a model an embedding engine serves: its name and the prompts put before
    texts. The weights stay on the engine, so an index is tied to the name it was built with; an
    engine that serves other weights under the same name is not detected."""
    text = json.dumps({"engine": "openai-embeddings", "model": model, "prompts": prompts}, sort_keys=True)
    return f"{hashlib.sha256(text.encode()).hexdigest()[:16]}-remote"
