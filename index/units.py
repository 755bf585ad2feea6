"""The answer units of the indexed documents with their vectors, embedded once at ingest.

The composer scores a retrieved passage's units against the question; embedding them at query
time would cost several times the question's own encoding, so they are embedded with the chunks.
Headings are never quoted on their own, so they get no vector of their own (a zero row).
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Sequence

import faiss
import numpy as np

from index import dense
from ingest.records import AnswerUnit
from ingest.units import HEADING, ITEM


class UnitTable:
    """``dense`` searches the unit vectors (built from them when not given): retrieval scores a
    passage by its best-matching sentences too."""

    def __init__(
        self, units: Sequence[AnswerUnit], vectors: np.ndarray, index: faiss.Index | None = None
    ) -> None:
        self.units = list(units)
        self.vectors = vectors
        self.dense = dense.build(vectors) if index is None else index
        self._by_doc: dict[str, list[int]] = defaultdict(list)
        self.items: dict[int, list[int]] = defaultdict(list)
        # Per document, the lead-ins that announce the sections after them.
        self.overviews: dict[str, list[int]] = defaultdict(list)
        for row, unit in enumerate(self.units):
            self._by_doc[unit.doc_id].append(row)
            if unit.role == ITEM and unit.lead is not None:
                self.items[unit.lead].append(row)
            if unit.sections:
                self.overviews[unit.doc_id].append(row)
        for rows in self._by_doc.values():
            rows.sort(key=lambda r: self.units[r].start)
        self._starts = {d: [self.units[r].start for r in rows] for d, rows in self._by_doc.items()}

    def title_context(self, doc_id: str) -> str:
        """The context of a document's first unit: what its title says, which every unit without a
        section heading of its own stands under."""
        rows = self._by_doc.get(doc_id)
        return self.units[rows[0]].context if rows else ""

    def __len__(self) -> int:
        return len(self.units)

    def nearest(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        """The ``k`` units closest to ``vector`` as (row, cosine), best first."""
        scores, rows = dense.search(self.dense, vector, k)
        return list(zip(rows.tolist(), scores.tolist(), strict=True))

    def within(self, doc_id: str, start: int, end: int) -> list[int]:
        """Rows of the units lying wholly inside ``[start, end)`` of a document, in order."""
        rows = self._by_doc.get(doc_id, [])
        i = bisect.bisect_left(self._starts.get(doc_id, []), start)
        out = []
        while i < len(rows) and self.units[rows[i]].start < end:
            if self.units[rows[i]].end <= end:
                out.append(rows[i])
            i += 1
        return out

    def preceding(self, row: int) -> int | None:
        """The row of the last unit of the same document that ends before this one starts, or None."""
        unit = self.units[row]
        rows = self._by_doc[unit.doc_id]
        i = bisect.bisect_left(self._starts[unit.doc_id], unit.start) - 1
        while i >= 0 and self.units[rows[i]].end > unit.start:
            i -= 1
        return rows[i] if i >= 0 else None

    def following(self, row: int) -> int | None:
        """The row of the first unit of the same document after this one ends, or None."""
        unit = self.units[row]
        rows = self._by_doc[unit.doc_id]
        i = bisect.bisect_left(self._starts[unit.doc_id], unit.end)
        return rows[i] if i < len(rows) else None


def embedded_rows(units: Sequence[AnswerUnit]) -> list[int]:
    """The units that get a vector: everything an answer may quote."""
    return [row for row, unit in enumerate(units) if unit.role != HEADING]
