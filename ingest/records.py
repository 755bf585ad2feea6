"""Plain records that flow from ingest to index, answer, server and eval."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import asdict, dataclass, field
from pathlib import Path

SECTION_SEP = " › "


@dataclass(frozen=True)
class Document:
    """One corpus file; ``doc_id`` is its file name (relative path under the corpus dir).

    ``text`` is what its reader extracted (for a UTF-8 text file, the file itself): every offset
    refers to it. ``pages`` holds the offset where each page starts (PDF only), ``ocr_pages`` the
    1-based pages whose text OCR read from a scan."""

    doc_id: str
    text: str
    sha256: str
    kind: str = "txt"
    size: int = 0
    encoding: str | None = None
    pages: tuple[int, ...] = ()
    warnings: tuple[str, ...] = ()
    ocr_pages: tuple[int, ...] = ()

    def page_at(self, offset: int) -> int | None:
        """The 1-based page that ``offset`` falls on, None for a document without pages."""
        return page_at(self.pages, offset)

    def read_by_ocr(self, start: int, end: int) -> bool:
        """Whether any of ``text[start:end]`` lies on a page that OCR read."""
        return read_by_ocr(self.pages, self.ocr_pages, start, end)


def page_at(pages: tuple[int, ...], offset: int) -> int | None:
    """The 1-based page that ``offset`` falls on, given the start offset of each page; None without pages."""
    return bisect_right(pages, offset) if pages else None


def read_by_ocr(pages: tuple[int, ...], ocr_pages: tuple[int, ...], start: int, end: int) -> bool:
    """Whether ``start:end`` touches one of ``ocr_pages``, given the start offset of each page."""
    if not ocr_pages:
        return False
    first, last = page_at(pages, start) or 0, page_at(pages, max(start, end - 1)) or 0
    return any(first <= page <= last for page in ocr_pages)


@dataclass(frozen=True)
class Chunk:
    """A retrievable passage. ``text == document.text[start:end]`` always holds."""

    id: str
    doc_id: str
    title: str
    section: str
    text: str
    start: int
    end: int
    date: str | None = None
    region: str | None = None
    source: str | None = None
    page: int | None = None  # the page the chunk starts on (PDF only)
    ocr: bool = False  # some of its text was read by OCR from a scanned page

    @property
    def embed_text(self) -> str:
        """What the model sees: the section path gives short passages their context. (A first
        chunk, which opens with its title, has it twice: dropping the repeat lost passages on
        baoxianzhidao, MRR@10 0.419 → 0.414, and an answer on eval/questions.jsonl.)"""
        return f"{self.section}\n{self.text}"

    @property
    def whereabouts(self) -> str:
        """Its region, date and page as a source line shows them: 「石家庄，2025-05-05，第 2 页」."""
        return "，".join(x for x in (self.region, self.date, f"第 {self.page} 页" if self.page else "") if x)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Chunk:
        return cls(**data)


@dataclass(frozen=True)
class AnswerUnit:
    """A piece of a document an answer may quote (see ingest.units): ``text == doc[start:end]``.

    ``lead`` is, for a list item, the position of its lead-in in the same list of units;
    ``sections``, for a lead-in that announces the sections after it (「以下是几种常见的查询方法:」
    then 「电话查询」, 「二、网上查询方法」…), the positions of their first units."""

    doc_id: str
    start: int
    end: int
    role: str
    text: str
    lead: int | None = None
    # Its section heading (and a label right before it): what the unit is about when read alone.
    context: str = ""
    sections: tuple[int, ...] = ()

    @classmethod
    def from_dict(cls, data: dict) -> AnswerUnit:
        """A unit as stored (JSON gives ``sections`` back as a list)."""
        return cls(**{**data, "sections": tuple(data.get("sections", ()))})

    @property
    def embed_text(self) -> str:
        return f"{self.context}\n{self.text}" if self.context else self.text


@dataclass(frozen=True)
class SkippedFile:
    path: str
    reason: str


@dataclass
class IngestResult:
    documents: list[Document] = field(default_factory=list)
    chunks: list[Chunk] = field(default_factory=list)
    units: list[AnswerUnit] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    sections: int = 0


@dataclass(frozen=True)
class CorpusEdit:
    """Files about to be added or replaced (doc_id → a staged copy) and removed: an ingest reads
    the corpus as if the edit were done, before it touches the corpus dir."""

    added: dict[str, Path] = field(default_factory=dict)
    removed: frozenset[str] = frozenset()
