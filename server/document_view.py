"""The document view: a document's indexed text in pieces, with its chunk boundaries and a cited span."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

from index.documents import IndexedDocument
from ingest.records import Chunk


@dataclass(frozen=True)
class Piece:
    """A run of the document's text: inside the cited span or not; ``chunk`` when a chunk starts here."""

    text: str
    cited: bool
    chunk: Chunk | None = None
    anchor: bool = False


def pieces(document: IndexedDocument, chunks: list[Chunk], start: int, end: int) -> list[Piece]:
    """The text cut at every chunk start and at the cited span's ends; the cited span's first piece
    carries the anchor the citation links to (``#quote``), so the browser scrolls there."""
    text = document.text
    start, end = max(0, min(start, len(text))), max(0, min(end, len(text)))
    starts = {c.start: c for c in sorted(chunks, key=lambda c: -c.end)}
    cuts = sorted({0, len(text), start, end, *starts})
    out = []
    for a, b in pairwise(cuts):
        if a == b:
            continue
        out.append(Piece(text[a:b], start <= a < end, starts.get(a), anchor=a == start and start < end))
    return out
