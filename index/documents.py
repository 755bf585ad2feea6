"""What the index keeps of each document: its extracted text (which every chunk offset refers to,
also for a PDF or Word file) and what the admin page lists. Stored as documents.jsonl."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path

from ingest.records import Chunk, Document, page_at, read_by_ocr

FILE = "documents.jsonl"


@dataclass(frozen=True)
class IndexedDocument:
    doc_id: str
    kind: str
    title: str
    text: str
    sha256: str
    size: int
    encoding: str | None
    pages: tuple[int, ...]  # the offset in ``text`` where each page starts (PDF only)
    warnings: tuple[str, ...]
    chunks: int
    date: str | None
    region: str | None
    ingested_at: str  # when this content of the file was first indexed (UTC, ISO 8601)
    ocr_pages: tuple[int, ...] = ()  # the 1-based pages whose text OCR read from a scan

    @property
    def page_count(self) -> int | None:
        return len(self.pages) or None

    def page_at(self, offset: int) -> int | None:
        """The 1-based page that ``offset`` of ``text`` falls on, None for a document without pages."""
        return page_at(self.pages, offset)

    def read_by_ocr(self, start: int, end: int) -> bool:
        """Whether any of ``text[start:end]`` lies on a page that OCR read."""
        return read_by_ocr(self.pages, self.ocr_pages, start, end)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> IndexedDocument:
        known = {f.name for f in fields(cls)}
        record = {k: v for k, v in data.items() if k in known}
        tuples = {key: tuple(record[key]) for key in ("pages", "warnings", "ocr_pages") if key in record}
        return cls(**{**record, **tuples})


def describe(
    documents: Iterable[Document], chunks: Iterable[Chunk], previous: dict[str, IndexedDocument]
) -> dict[str, IndexedDocument]:
    """The records of ``documents``; an unchanged file keeps the time it was first indexed."""
    by_doc: dict[str, list[Chunk]] = {}
    for chunk in chunks:
        by_doc.setdefault(chunk.doc_id, []).append(chunk)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    records = {}
    for doc in documents:
        own = by_doc.get(doc.doc_id, [])
        before = previous.get(doc.doc_id)
        records[doc.doc_id] = IndexedDocument(
            doc_id=doc.doc_id,
            kind=doc.kind,
            title=own[0].title if own else doc.doc_id,
            text=doc.text,
            sha256=doc.sha256,
            size=doc.size,
            encoding=doc.encoding,
            pages=doc.pages,
            warnings=doc.warnings,
            chunks=len(own),
            date=next((c.date for c in own if c.date), None),
            region=next((c.region for c in own if c.region), None),
            ingested_at=before.ingested_at if before and before.sha256 == doc.sha256 else now,
            ocr_pages=doc.ocr_pages,
        )
    return records


def write(path: Path, documents: dict[str, IndexedDocument]) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for doc in documents.values():
            fh.write(json.dumps(doc.to_dict(), ensure_ascii=False) + "\n")


def read(path: Path) -> dict[str, IndexedDocument]:
    with open(path, encoding="utf-8") as fh:
        records = (IndexedDocument.from_dict(json.loads(line)) for line in fh if line.strip())
        return {doc.doc_id: doc for doc in records}
