"""The fingerprint an index records of the model that embedded it (``Embedder.fingerprint``).

It is computed from the loaded sentence-transformers model, which needs torch; the lean
backends read the value back from ``index.embedding.model_record`` instead of recomputing it.
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
