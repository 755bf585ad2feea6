"""Sentence spans of the indexed chunks with their vectors, embedded once at ingest.

The answer composer scores sentences against the question; embedding them at query time would
cost many times the question's own encoding, so they are embedded with the chunks.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ingest.records import Chunk


@dataclass(frozen=True)
class SentenceSpan:
    row: int
    doc_id: str
    start: int
    end: int


class SentenceTable:
    def __init__(self, spans: Sequence[tuple[str, int, int]], vectors: np.ndarray) -> None:
        self.spans = [SentenceSpan(i, d, s, e) for i, (d, s, e) in enumerate(spans)]
        self.vectors = vectors
        self._by_doc: dict[str, list[SentenceSpan]] = defaultdict(list)
        for span in sorted(self.spans, key=lambda x: (x.doc_id, x.start)):
            self._by_doc[span.doc_id].append(span)
        self._starts = {d: [s.start for s in spans] for d, spans in self._by_doc.items()}

    def __len__(self) -> int:
        return len(self.spans)

    def within(self, doc_id: str, start: int, end: int) -> list[SentenceSpan]:
        """The sentences lying wholly inside ``[start, end)`` of a document, in order."""
        spans = self._by_doc.get(doc_id, [])
        i = bisect.bisect_left(self._starts.get(doc_id, []), start)
        out = []
        while i < len(spans) and spans[i].start < end:
            if spans[i].end <= end:
                out.append(spans[i])
            i += 1
        return out


def sentence_spans_of(
    chunks: Sequence[Chunk], split: Callable[[str], list[tuple[int, int]]]
) -> list[tuple[str, int, int]]:
    """Unique (doc, start, end) sentence spans: overlapping chunks share their sentences."""
    seen: dict[tuple[str, int, int], None] = {}
    for chunk in chunks:
        for s, e in split(chunk.text):
            seen.setdefault((chunk.doc_id, chunk.start + s, chunk.start + e))
    return list(seen)


def span_texts(chunks: Sequence[Chunk], spans: Sequence[tuple[str, int, int]]) -> list[str]:
    """The text of each span, cut from a chunk of its document that contains it."""
    by_doc: dict[str, list[Chunk]] = defaultdict(list)
    for chunk in chunks:
        by_doc[chunk.doc_id].append(chunk)
    texts = []
    for doc_id, start, end in spans:
        chunk = next(c for c in by_doc[doc_id] if c.start <= start and end <= c.end)
        texts.append(chunk.text[start - chunk.start : end - chunk.start])
    return texts
