"""Finding corpus files and turning each into a Document (or a reason it was skipped).

Readers by type: plain text and Markdown as decoded (ingest/decode.py), HTML as its visible text,
PDF as its text layer with page starts (pypdf) and scanned pages read by OCR (ingest/pdf_ocr.py),
Word .docx as paragraphs, headings and tables (python-docx). Offsets of chunks always refer to
``Document.text``, the text a reader gives.

Every reader is a sandbox: a file that fails in any way, within the limits of Settings (ingest/
archive.py, ingest/pdf_text.py) or by an error the parsing libraries raise, is a SkippedFile with
the reason, never an error that stops an ingest or an upload."""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path

from ingest.archive import ArchiveLimits
from ingest.decode import Undecodable, decode_text
from ingest.docx_text import UnreadableDocx, docx_text
from ingest.html_text import html_to_text
from ingest.pdf_ocr import OcrLimits, read_scanned_pages
from ingest.pdf_text import UnreadablePdf, pdf_pages
from ingest.records import Document, SkippedFile
from settings import Settings

log = logging.getLogger(__name__)

# File type by extension; .htm is the same reader as .html.
KINDS = {".txt": "txt", ".md": "md", ".html": "html", ".htm": "html", ".pdf": "pdf", ".docx": "docx"}
SUFFIXES = tuple(KINDS)
PAGE_SEP = "\n\n"
SCANNED_PDF = "scanned PDF: no text"


def iter_corpus_files(corpus_dir: Path) -> Iterator[Path]:
    """Every entry to consider under ``corpus_dir`` (recursively), in a stable order: files of any
    type and links to folders (which are reported, not followed); hidden paths are ignored."""
    found: list[Path] = []
    for root, dirs, files in os.walk(corpus_dir):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found.extend(Path(root, d) for d in dirs if Path(root, d).is_symlink())
        found.extend(Path(root, f) for f in files if not f.startswith("."))
    yield from sorted(found)


def read_document(
    path: Path,
    corpus_dir: Path,
    doc_id: str | None = None,
    settings: Settings | None = None,
    ocr: OcrLimits | None = None,
) -> Document | SkippedFile:
    """Read one file; anything that cannot become useful text is a SkippedFile with the reason.

    ``doc_id`` defaults to the path relative to ``corpus_dir``; an upload being staged elsewhere
    passes the name it will have in the corpus. ``settings`` gives the readers' limits (default:
    the defaults); scanned PDF pages are read by OCR within ``ocr`` (None: not read)."""
    doc_id = doc_id or path.relative_to(corpus_dir).as_posix()
    if path.is_symlink() and not path.resolve().is_relative_to(corpus_dir.resolve()):
        return SkippedFile(doc_id, "a link pointing outside the corpus dir: not read")
    if path.is_dir():
        return SkippedFile(doc_id, "a link to a folder: not followed")
    kind = KINDS.get(path.suffix.lower())
    if kind is None:
        return SkippedFile(
            doc_id,
            f"not a supported type ({path.suffix or 'no extension'}); supported: {', '.join(SUFFIXES)}",
        )
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return SkippedFile(doc_id, f"cannot be read ({exc.strerror or exc})")
    try:
        document = _document(doc_id, kind, raw, settings or Settings(), ocr)
    except (Undecodable, UnreadablePdf, UnreadableDocx) as exc:
        return SkippedFile(doc_id, str(exc))
    except Exception as exc:
        # The parsing libraries raise many kinds of errors on hostile input; each is this file's
        # problem alone, so it is skipped and the rest of the corpus is read.
        log.warning("reading %s failed", doc_id, exc_info=True)
        return SkippedFile(doc_id, f"cannot be read ({type(exc).__name__}: {str(exc)[:200]})")
    if not document.text.strip():
        if kind != "pdf":
            return SkippedFile(doc_id, "empty (no text)")
        return SkippedFile(doc_id, "; ".join((SCANNED_PDF, *document.warnings)))
    return document


def _document(doc_id: str, kind: str, raw: bytes, settings: Settings, ocr: OcrLimits | None) -> Document:
    common = {"doc_id": doc_id, "sha256": hashlib.sha256(raw).hexdigest(), "kind": kind, "size": len(raw)}
    if kind == "pdf":
        pages = pdf_pages(raw, settings.max_pdf_pages, settings.pdf_seconds)
        scanned = read_scanned_pages(raw, common["sha256"], pages, ocr)
        starts, offset = [], 0
        for text in scanned.texts:
            starts.append(offset)
            offset += len(text) + len(PAGE_SEP)
        return Document(
            text=PAGE_SEP.join(scanned.texts),
            pages=tuple(starts),
            warnings=scanned.warnings,
            ocr_pages=scanned.ocr_pages,
            **common,
        )
    if kind == "docx":
        return Document(text=docx_text(raw, ArchiveLimits.of(settings)), **common)
    text, encoding = decode_text(raw)
    if kind == "html":
        text = html_to_text(text)
    return Document(text=text, encoding=encoding, **common)
