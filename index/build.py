"""Corpus → chunks → vectors → a new stored index, re-embedding only what changed."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import BinaryIO

import numpy as np

from index import corpus_edit, dense, documents, store
from index.embed_cache import EmbedCache, text_key
from index.embed_plan import EmbedPlan
from index.embedding import Embedder
from index.lexical import BM25
from index.progress import EmbedListener, EmbedProgress
from index.stores import sync_store
from index.units import UnitTable, embedded_rows
from ingest.pipeline import CHUNKER_VERSION, ingest_corpus
from ingest.records import AnswerUnit, Chunk, CorpusEdit, Document, SkippedFile
from ingest.textnorm import tokenize
from settings import Settings

log = logging.getLogger(__name__)


@dataclass
class BuildReport:
    files_read: int
    skipped: list[SkippedFile]
    sections: int
    chunks: int
    embedded: int
    reused: int
    removed_docs: list[str] = field(default_factory=list)
    changed_docs: list[str] = field(default_factory=list)
    seconds: float = 0.0
    unchanged: bool = False

    @property
    def chunks_per_second(self) -> float:
        return self.chunks / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        lines = [
            f"files read: {self.files_read}, skipped: {len(self.skipped)}",
            *(f"  skipped {s.path}: {s.reason}" for s in self.skipped),
            f"sections: {self.sections}, chunks: {self.chunks} "
            f"(embedded {self.embedded}, reused {self.reused})",
        ]
        if self.changed_docs:
            lines.append(f"new or changed: {_names(self.changed_docs)}")
        if self.removed_docs:
            lines.append(f"removed: {_names(self.removed_docs)}")
        if self.unchanged:
            lines.append("corpus unchanged: index kept as it is")
        lines.append(f"seconds: {self.seconds:.2f}, chunks/s: {self.chunks_per_second:.1f}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """What changed, as the admin API shows it."""
        return {
            "changed": self.changed_docs,
            "removed": self.removed_docs,
            "chunks": self.chunks,
            "embedded": self.embedded,
            "skipped": [{"doc": s.path, "reason": s.reason} for s in self.skipped],
            "unchanged": self.unchanged,
        }


# A library's first ingest changes thousands of files: the summary names this many.
_NAMES_SHOWN = 10


def _names(docs: list[str]) -> str:
    more = len(docs) - _NAMES_SHOWN
    return ", ".join(docs[:_NAMES_SHOWN]) + (f" … and {more} more ({len(docs)} in all)" if more > 0 else "")


def chunker_config(settings: Settings) -> dict:
    return {
        "chunk_min": settings.chunk_min,
        "chunk_max": settings.chunk_max,
        "chunk_overlap": settings.chunk_overlap,
        "version": CHUNKER_VERSION,
        # The same scanned PDF gives other text under other OCR limits (ingest/pdf_ocr.py).
        "ocr": [settings.ocr_max_pages, settings.ocr_seconds, settings.ocr_min_confidence],
    }


def build_index(
    settings: Settings,
    embedder: Embedder,
    *,
    rebuild: bool = False,
    progress: bool = False,
    on_embedded: EmbedListener | None = None,
) -> BuildReport:
    """Bring the stored index in line with the corpus dir; a no-op when nothing changed."""
    with store.ingest_lock(settings.index_dir):
        corpus_edit.recover(settings)
        return build_locked(settings, embedder, rebuild=rebuild, progress=progress, on_embedded=on_embedded)


class UnusableUpload(ValueError):
    """Files of an edit that cannot be indexed; nothing was changed."""

    def __init__(self, skipped: list[SkippedFile]) -> None:
        super().__init__("; ".join(f"{s.path}: {s.reason}" for s in skipped))
        self.skipped = skipped


def edit_corpus(
    settings: Settings,
    embedder: Embedder,
    *,
    add: dict[str, bytes | BinaryIO] | None = None,
    remove: Iterable[str] = (),
    progress: bool = False,
    on_embedded: EmbedListener | None = None,
) -> BuildReport:
    """Add (or replace) and remove corpus files and index the result, all or nothing: the files
    reach the corpus dir only after their index is live (index/corpus_edit.py). A file to add
    that cannot be read is an UnusableUpload, and nothing changes."""
    with store.ingest_lock(settings.index_dir):
        corpus_edit.recover(settings)
        edit = corpus_edit.stage(settings, add or {}, remove)
        try:
            report = build_locked(settings, embedder, edit=edit, progress=progress, on_embedded=on_embedded)
        except BaseException:
            # Dropped, unless the error came after the new index went live: then it is completed.
            corpus_edit.recover(settings)
            raise
        corpus_edit.complete(settings)
        return report


def build_locked(
    settings: Settings,
    embedder: Embedder,
    *,
    edit: CorpusEdit | None = None,
    rebuild: bool = False,
    progress: bool = False,
    on_embedded: EmbedListener | None = None,
) -> BuildReport:
    """build_index for a caller that holds the ingest lock; ``edit`` indexes the corpus as it
    will be once the edit is done (see index/corpus_edit.py)."""
    started = time.perf_counter()
    result = ingest_corpus(settings, edit)
    unusable = [s for s in result.skipped if edit and s.path in edit.added]
    if unusable:
        raise UnusableUpload(unusable)
    files = {doc.doc_id: doc.sha256 for doc in result.documents}
    config = chunker_config(settings)
    previous = None if rebuild else _reusable(settings, embedder)
    old_files = previous.manifest.files if previous else {}
    report = BuildReport(
        files_read=len(result.documents),
        skipped=result.skipped,
        sections=result.sections,
        chunks=len(result.chunks),
        embedded=0,
        reused=0,
        removed_docs=sorted(set(old_files) - set(files)),
        changed_docs=sorted(d for d, sha in files.items() if old_files.get(d) != sha),
    )
    skipped = {s.path: s.reason for s in result.skipped}
    same_config = previous is not None and previous.manifest.chunker == config
    if same_config and old_files == files and previous.manifest.skipped == skipped:
        sync_store(settings, previous)
        report.unchanged = True
        report.reused = len(previous)
        report.seconds = time.perf_counter() - started
        return report

    manifest = store.Manifest(
        model=embedder.name,
        model_fingerprint=embedder.fingerprint,
        dim=embedder.dim,
        chunker=config,
        files=files,
        counts={
            "documents": len(result.documents),
            "skipped": len(result.skipped),
            "sections": result.sections,
            "chunks": len(result.chunks),
        },
        index_kind=dense.choose_kind(len(result.chunks)),
        skipped=skipped,
    )
    cache = EmbedCache(settings.data_dir, embedder.fingerprint, embedder.dim, settings.embed_cache_entries)
    try:
        index, report.embedded = embed_index(
            result.chunks,
            embedder,
            manifest,
            units=result.units,
            known=_known_vectors(previous, config),
            cache=cache,
            reuse_cache=not rebuild,
            window=settings.embed_window,
            progress=progress,
            on_embedded=on_embedded,
            files=len(result.documents),
        )
        index.documents = documents.describe(
            result.documents, result.chunks, previous.documents if previous else {}
        )
        report.reused = len(index.chunks) + len(embedded_rows(result.units)) - report.embedded
        # The external store first: if it fails, the live version still matches the corpus it had,
        # and the next ingest finds the changes again (syncing is idempotent).
        sync_store(settings, index, rebuild=rebuild)
        store.write_index(settings.index_dir, index)
        cache.keep_only(text_key(text) for text in index_texts(index))
    finally:
        cache.close()
    report.seconds = time.perf_counter() - started
    return report


def in_memory_manifest(
    settings: Settings, embedder: Embedder, chunks: list[Chunk], docs: list[Document]
) -> store.Manifest:
    """The manifest of an index built in memory only (evaluation sets, the benchmark); it lists
    the documents' hashes, as a store filled from it (index/stores/) needs them."""
    return store.Manifest(
        model=embedder.name,
        model_fingerprint=embedder.fingerprint,
        dim=embedder.dim,
        chunker=chunker_config(settings),
        files={doc.doc_id: doc.sha256 for doc in docs},
        counts={"documents": len(docs), "chunks": len(chunks)},
        index_kind=dense.choose_kind(len(chunks)),
    )


@dataclass
class IngestPlan:
    """What `yibao ingest` would do, told before it starts (``--dry-run``)."""

    files: int
    chunks: int
    texts: int
    to_embed: int
    seconds: float  # estimated from encoding a sample of the texts to embed
    sample: int

    def summary(self) -> str:
        from index.progress import duration

        reused = self.texts - self.to_embed
        line = f"{self.files} files, {self.chunks} chunks: {self.to_embed} of {self.texts} texts to embed"
        line += f" ({reused} already embedded, in the live index or the embedding cache)"
        if self.to_embed:
            line += f"; about {duration(self.seconds)} on this machine (timed on {self.sample} of them)"
        return line


def plan_ingest(
    settings: Settings, embedder: Embedder, *, rebuild: bool = False, sample: int = 64
) -> IngestPlan:
    """Count the texts an ingest would embed, and time a spread-out sample of them to estimate."""
    result = ingest_corpus(settings)
    previous = None if rebuild else _reusable(settings, embedder)
    quotable = embedded_rows(result.units)
    texts = [c.embed_text for c in result.chunks] + [result.units[row].embed_text for row in quotable]
    cache = EmbedCache(settings.data_dir, embedder.fingerprint, embedder.dim, settings.embed_cache_entries)
    try:
        known = _known_vectors(previous, chunker_config(settings))
        todo = EmbedPlan.of(texts, known, None if rebuild else cache, embedder.dim).todo
    finally:
        cache.close()
    picked = todo[:: max(1, len(todo) // sample)][:sample]
    started = time.perf_counter()
    embedder.encode_passages(picked)
    per_text = (time.perf_counter() - started) / len(picked) if picked else 0.0
    return IngestPlan(
        len(result.documents), len(result.chunks), len(texts), len(todo), per_text * len(todo), len(picked)
    )


def embed_index(
    chunks: list[Chunk],
    embedder: Embedder,
    manifest: store.Manifest,
    *,
    units: list[AnswerUnit] | None = None,
    known: dict[str, np.ndarray] | None = None,
    cache: EmbedCache | None = None,
    reuse_cache: bool = True,
    window: int = 256,
    progress: bool = False,
    on_embedded: EmbedListener | None = None,
    files: int = 0,
) -> tuple[store.StoredIndex, int]:
    """An in-memory index over ``chunks`` (and the answer units an answer may quote), embedding
    only the texts neither in ``known`` nor in ``cache`` (unless not ``reuse_cache``: then the
    cache is only written); also returns how many texts were embedded."""
    units = units or []
    quotable = embedded_rows(units)
    texts = [chunk.embed_text for chunk in chunks] + [units[row].embed_text for row in quotable]
    plan = EmbedPlan.of(texts, known or {}, cache if reuse_cache else None, embedder.dim)
    reporter = (
        EmbedProgress(files, len(chunks), len(plan.rows), plan.reused, listener=on_embedded)
        if progress
        else None
    )
    vectors = plan.run(embedder, cache, reporter, window)
    chunk_vectors = vectors[: len(chunks)]
    unit_vectors = np.zeros((len(units), embedder.dim), dtype=np.float32)
    unit_vectors[quotable] = vectors[len(chunks) :]
    tokens = [tokenize(chunk.embed_text) for chunk in chunks]
    index = store.StoredIndex(
        manifest=manifest,
        chunks=chunks,
        tokens=tokens,
        vectors=chunk_vectors,
        dense=dense.build(chunk_vectors, manifest.index_kind),
        lexical=BM25().fit(tokens),
        units=UnitTable(units, unit_vectors),
    )
    return index, len(plan.rows)


def index_texts(index: store.StoredIndex) -> list[str]:
    """Every text an index embedded: its chunks, then its quotable answer units."""
    units = index.units.units
    return [c.embed_text for c in index.chunks] + [units[row].embed_text for row in embedded_rows(units)]


def _reusable(settings: Settings, embedder: Embedder) -> store.StoredIndex | None:
    """The live index when its vectors can be reused, else None (and why, in the log)."""
    try:
        return store.load_index(settings.index_dir, embedder.name, embedder.fingerprint, embedder.dim)
    except store.IndexMissing:
        return None
    except store.IndexStoreError as exc:
        log.warning("building from scratch: %s", exc)
        return None


def _known_vectors(previous: store.StoredIndex | None, config: dict) -> dict[str, np.ndarray]:
    """Vectors of the live index by the text they embed: a vector depends on its text alone.

    Only an index chunked by the same rules: the text a vector embedded is worked out again from
    the stored records by today's code (``embed_text``), which a new chunker version may have
    changed; vectors of another version come from the embedding cache, keyed by the text itself."""
    if previous is None or previous.manifest.chunker != config:
        return {}
    known = {c.embed_text: previous.vectors[i] for i, c in enumerate(previous.chunks)}
    units = previous.units
    known.update((units.units[row].embed_text, units.vectors[row]) for row in embedded_rows(units.units))
    return known
