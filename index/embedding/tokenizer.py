"""A model folder's ``tokenizer.json`` run by the ``tokenizers`` library, without transformers.

Truncating at the model's maximum length and padding to the longest text of a batch, as the
Hugging Face fast tokenizer does when sentence-transformers calls it: the same ids, the same
vectors (tests/index/embedding/test_onnx_backend.py). Padding is done here, per batch, so that
the texts of a window can be tokenised once and then batched by their lengths.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


class FolderTokenizer:
    def __init__(self, path: Path, max_length: int, pad_id: int) -> None:
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_file(str(path))
        # Set once here: a tokenizer mutated while another thread encodes raises "Already borrowed".
        self._tokenizer.enable_truncation(max_length)
        self._tokenizer.no_padding()
        self._pad_id = pad_id

    def encode(self, texts: list[str]) -> list[list[int]]:
        """The token ids of each text, truncated, not padded."""
        return [e.ids for e in self._tokenizer.encode_batch(texts)]

    def pad(self, ids: list[list[int]]) -> dict[str, np.ndarray]:
        """``input_ids`` and ``attention_mask`` as int64 arrays of shape (texts, longest)."""
        longest = max((len(row) for row in ids), default=0)
        input_ids = np.full((len(ids), longest), self._pad_id, dtype=np.int64)
        mask = np.zeros((len(ids), longest), dtype=np.int64)
        for i, row in enumerate(ids):
            input_ids[i, : len(row)] = row
            mask[i, : len(row)] = 1
        return {"input_ids": input_ids, "attention_mask": mask}

    def __call__(self, texts: list[str]) -> dict[str, np.ndarray]:
        return self.pad(self.encode(texts))
