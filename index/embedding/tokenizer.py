"""A model folder's ``tokenizer.json`` run by the ``tokenizers`` library, without transformers.

Padding to the longest text of a batch and truncating at the model's maximum length, as the
Hugging Face fast tokenizer does when sentence-transformers calls it: the same ids, the same
vectors (tests/index/embedding/test_onnx_backend.py).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


class FolderTokenizer:
    def __init__(self, path: Path, max_length: int, pad_id: int, pad_token: str) -> None:
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_file(str(path))
        # Set once here: a tokenizer mutated while another thread encodes raises "Already borrowed".
        self._tokenizer.enable_truncation(max_length)
        self._tokenizer.enable_padding(pad_id=pad_id, pad_token=pad_token)

    def __call__(self, texts: list[str]) -> dict[str, np.ndarray]:
        """``input_ids`` and ``attention_mask`` as int64 arrays of shape (texts, longest)."""
        encodings = self._tokenizer.encode_batch(texts)
        return {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
        }
