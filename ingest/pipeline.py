"""Corpus directory → documents → chunks. Pure: no embedding and no index (those live in index/)."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

from ingest.chunker import chunk_block
from ingest.pdf_ocr import OcrLimits
from ingest.readers import iter_corpus_files, read_document
from ingest.records import AnswerUnit, Chunk, CorpusEdit, Document, IngestResult, SkippedFile
from ingest.structure import parse_structure
from ingest.units import document_units
from settings import Settings

log = logging.getLogger(__name__)

# Stored indexes record this; bump it whenever cleaning, structure, chunking or the terms BM25
# indexes (ingest.textnorm.tokenize) change what comes out of the same files, so an index built by
# older rules is rebuilt rather than reused.
CHUNKER_VERSION = 18


def read_corpus(
    corpus_dir: Path,
    edit: CorpusEdit | None = None,
    settings: Settings | None = None,
    ocr: OcrLimits | None = None,
) -> tuple[list[Document], list[SkippedFile]]:
    """Every readable corpus file as a Document; the others are skipped with a warning, never fatal.

    With ``edit``, the corpus is read as if the edit were already done; ``settings`` gives the
    readers' limits; with ``ocr``, scanned PDF pages are read by OCR within those limits."""
    if not corpus_dir.is_dir():
        raise FileNotFoundError(f"corpus directory not found: {corpus_dir}")
    edit = edit or CorpusEdit()
    paths = {path.relative_to(corpus_dir).as_posix(): path for path in iter_corpus_files(corpus_dir)}
    paths = {doc_id: path for doc_id, path in paths.items() if doc_id not in edit.removed} | edit.added
    documents: list[Document] = []
    skipped: list[SkippedFile] = []
    for doc_id, path in sorted(paths.items()):
        result = read_document(path, corpus_dir, doc_id, settings, ocr)
        if isinstance(result, SkippedFile):
            log.warning("skipping corpus file %s: %s", result.path, result.reason)
            skipped.append(result)
        else:
            documents.append(result)
    return documents, skipped


def chunk_document(doc: Document, settings: Settings) -> tuple[list[Chunk], int, list[AnswerUnit]]:
    """The chunks of one document, the number of sections (heading blocks) they came from and the
    document's answer units (lead positions relative to this document's list)."""
    structure = parse_structure(doc.text)
    chunks: list[Chunk] = []
    sections = 0
    for block in structure.blocks:
        block_chunks = chunk_block(doc.doc_id, doc.text, block, settings)
        sections += bool(block_chunks)
        chunks.extend(block_chunks)
    if doc.pages:
        chunks = [
            replace(chunk, page=doc.page_at(chunk.start), ocr=doc.read_by_ocr(chunk.start, chunk.end))
            for chunk in chunks
        ]
    units = [
        AnswerUnit(
            doc.doc_id, u.start, u.end, u.role, doc.text[u.start : u.end], u.lead, u.context, u.sections
        )
        for u in document_units(doc.text, structure.blocks)
    ]
    return chunks, sections, units


def ingest_corpus(settings: Settings, edit: CorpusEdit | None = None) -> IngestResult:
    """Read, clean, structure and chunk every file under ``settings.corpus_dir`` (as ``edit`` leaves it)."""
    documents, skipped = read_corpus(settings.corpus_dir, edit, settings, OcrLimits.from_settings(settings))
    result = chunk_documents(documents, settings)
    result.skipped = skipped
    return result


def chunk_documents(documents: list[Document], settings: Settings) -> IngestResult:
    """The chunks and answer units of documents already read (lead positions across all of them)."""
    result = IngestResult(documents=documents)
    for doc in documents:
        chunks, sections, units = chunk_document(doc, settings)
        result.chunks.extend(chunks)
        result.sections += sections
        offset = len(result.units)
        result.units.extend(
            replace(
                u,
                lead=None if u.lead is None else u.lead + offset,
                sections=tuple(row + offset for row in u.sections),
            )
            for u in units
        )
    return result
