"""The on-disk index: versioned folders swapped in by renaming a pointer file.

Layout under the index dir::

    CURRENT              name of the live version folder (replaced atomically)
    LAST_GOOD            name of the newest version that loaded successfully
    v<time>-<pid>/       manifest.json, chunks.jsonl, vectors.npy, dense.faiss,
                         units.jsonl, unit_vectors.npy, documents.jsonl (and BAD once it
                         failed to load: why, one line)
    .ingest.lock         held by the one ingest allowed at a time

A killed ingest leaves at worst an unfinished version folder that CURRENT never named, so
the previous index stays intact and loadable. Retention keeps the live version and the last
good one, never a damaged one in its place.
"""

from __future__ import annotations

import bisect
import contextlib
import fcntl
import functools
import hashlib
import json
import os
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import faiss
import numpy as np

from index import documents
from index.documents import IndexedDocument
from index.lexical import BM25
from index.units import UnitTable
from ingest.records import AnswerUnit, Chunk

# 3: the answer units' own FAISS index (units.faiss), searched to score passages by their sentences.
FORMAT_VERSION = 3
_FILES = ("chunks.jsonl", "vectors.npy", "dense.faiss", "units.jsonl", "unit_vectors.npy", "units.faiss")
# Written by every ingest since the index kept the documents' text; an index from before it
# still loads (without document records) and the next ingest adds the file.
_DOCUMENTS = documents.FILE
BAD = "BAD"
_LAST_GOOD = "LAST_GOOD"


class IndexStoreError(RuntimeError):
    """A problem with the stored index, worded for the person running the command."""


class IndexMissing(IndexStoreError):
    pass


class IndexMismatch(IndexStoreError):
    pass


class IndexCorrupt(IndexStoreError):
    pass


class IngestLocked(IndexStoreError):
    pass


@dataclass
class Manifest:
    model: str
    model_fingerprint: str
    dim: int
    chunker: dict
    files: dict[str, str]
    counts: dict[str, int]
    index_kind: str
    format_version: int = FORMAT_VERSION
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    checksums: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)  # corpus file → why it is not indexed

    def mismatch(self, model: str, fingerprint: str, dim: int) -> str | None:
        """Why this index cannot serve the configured model, or None when it can."""
        if self.format_version != FORMAT_VERSION:
            return f"index format {self.format_version}, this program reads format {FORMAT_VERSION}"
        if self.model != model or self.model_fingerprint != fingerprint:
            return (
                f"index built with model {self.model!r} (fingerprint {self.model_fingerprint}), "
                f"configured model is {model!r} (fingerprint {fingerprint})"
            )
        if self.dim != dim:
            return f"index has {self.dim}-dimensional vectors, the model gives {dim}"
        return None


@dataclass
class StoredIndex:
    """A loaded index: chunk records, their vectors, the FAISS index, BM25 over their terms and
    the answer units the composer quotes from."""

    manifest: Manifest
    chunks: list[Chunk]
    tokens: list[list[str]]
    vectors: np.ndarray
    dense: faiss.Index
    lexical: BM25
    units: UnitTable
    path: Path | None = None
    documents: dict[str, IndexedDocument] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.chunks)

    def document(self, doc_id: str) -> IndexedDocument | None:
        """The indexed document (its extracted text, kind, pages, warnings), None if not indexed."""
        return self.documents.get(doc_id)

    def chunks_holding(self, unit_row: int) -> list[int]:
        """The rows of the chunks an answer unit lies wholly inside (chunks overlap: one or two)."""
        unit = self.units.units[unit_row]
        rows, starts = self._chunks_by_doc.get(unit.doc_id, ((), ()))
        end = bisect.bisect_right(starts, unit.start)
        return [r for r in rows[:end] if self.chunks[r].end >= unit.end]

    @functools.cached_property
    def _chunks_by_doc(self) -> dict[str, tuple[list[int], list[int]]]:
        by_doc: dict[str, list[int]] = {}
        for row, chunk in enumerate(self.chunks):
            by_doc.setdefault(chunk.doc_id, []).append(row)
        out = {}
        for doc_id, rows in by_doc.items():
            rows.sort(key=lambda r: self.chunks[r].start)
            out[doc_id] = (rows, [self.chunks[r].start for r in rows])
        return out


def current_version(index_dir: Path) -> Path | None:
    """The live version folder, or None when no index was ever written here.

    A CURRENT that cannot be read or names anything but a folder beside it is IndexCorrupt."""
    pointer = index_dir / "CURRENT"
    try:
        name = pointer.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise IndexCorrupt(_corrupt_message(pointer, exc)) from None
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name:
        raise IndexCorrupt(_corrupt_message(pointer, f"it names {name!r}, not a version folder"))
    return index_dir / name


def read_manifest(index_dir: Path) -> Manifest | None:
    """The live index's manifest, or None when there is no index yet."""
    version = current_version(index_dir)
    return None if version is None else _manifest_at(version)


def _manifest_at(version: Path) -> Manifest:
    path = version / "manifest.json"
    try:
        manifest = Manifest(**json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError) as exc:
        raise IndexCorrupt(_corrupt_message(path, exc)) from None
    parts = (manifest.chunker, manifest.files, manifest.counts, manifest.checksums)
    if not all(isinstance(x, dict) for x in parts):
        raise IndexCorrupt(_corrupt_message(path, "fields of the wrong type"))
    return manifest


def write_index(index_dir: Path, index: StoredIndex) -> Path:
    """Write a complete new version beside the live one, then point CURRENT at it.

    Until the last step (renaming CURRENT.tmp over CURRENT) the live index is untouched: an
    error on the way (a full disk, a permission) removes the unfinished folder and leaves the
    live index as it was; a kill leaves the folder for the next ingest to sweep."""
    index_dir.mkdir(parents=True, exist_ok=True)
    version = index_dir / f"v{time.time_ns()}-{os.getpid()}"
    version.mkdir()
    try:
        _write_version(version, index)
        write_synced(index_dir / "CURRENT.tmp", version.name)
        # The live version (unless it failed to load) and the newest one that loaded: the same
        # folder unless the live one was never loaded, e.g. before a --rebuild.
        previous = {_last_good(index_dir), _live_name(index_dir)}
        os.replace(index_dir / "CURRENT.tmp", index_dir / "CURRENT")
    except BaseException:
        with contextlib.suppress(OSError):
            (index_dir / "CURRENT.tmp").unlink(missing_ok=True)
        if _live_name(index_dir) != version.name:
            shutil.rmtree(version, ignore_errors=True)
        raise
    # The new index is live; what follows is housekeeping and must not report a failure.
    with contextlib.suppress(OSError):
        fsync(index_dir)
        _remove_old_versions(index_dir, keep={version.name, *previous})
    return version


def _write_version(version: Path, index: StoredIndex) -> None:
    with open(version / "chunks.jsonl", "w", encoding="utf-8") as fh:
        for chunk, terms in zip(index.chunks, index.tokens, strict=True):
            fh.write(json.dumps({**chunk.to_dict(), "tokens": terms}, ensure_ascii=False) + "\n")
    np.save(version / "vectors.npy", np.ascontiguousarray(index.vectors, dtype=np.float32))
    faiss.write_index(index.dense, str(version / "dense.faiss"))
    with open(version / "units.jsonl", "w", encoding="utf-8") as fh:
        for unit in index.units.units:
            fh.write(json.dumps(asdict(unit), ensure_ascii=False) + "\n")
    np.save(version / "unit_vectors.npy", np.ascontiguousarray(index.units.vectors, dtype=np.float32))
    faiss.write_index(index.units.dense, str(version / "units.faiss"))
    documents.write(version / _DOCUMENTS, index.documents)
    manifest = index.manifest
    manifest.checksums = {name: _sha256(version / name) for name in (*_FILES, _DOCUMENTS)}
    write_synced(version / "manifest.json", json.dumps(asdict(manifest), ensure_ascii=False, indent=1))
    for name in (*_FILES, _DOCUMENTS):
        fsync(version / name)


def _live_name(index_dir: Path) -> str:
    """The live version's folder name, "" when there is none or CURRENT is damaged (being replaced)."""
    try:
        live = current_version(index_dir)
    except IndexCorrupt:
        return ""
    return live.name if live else ""


def load_index(index_dir: Path, model: str, fingerprint: str, dim: int) -> StoredIndex:
    """Load and verify the live index; every failure is an IndexStoreError with a way out.

    The outcome is remembered for retention: a damaged version is marked BAD (so that no later
    ingest keeps it as "the one before"), a loaded one becomes LAST_GOOD."""
    # CURRENT is read once: an ingest may switch it meanwhile, and the manifest and the files
    # must come from the same version.
    version = current_version(index_dir)
    if version is None:
        raise IndexMissing(f"no index in {index_dir}: run `yibao ingest` to build one")
    try:
        loaded = _load_version(version, model, fingerprint, dim)
    except IndexCorrupt as exc:
        _remember(version / BAD, str(exc))
        raise
    _remember(index_dir / _LAST_GOOD, version.name)
    return loaded


def load_last_good(index_dir: Path, model: str, fingerprint: str, dim: int) -> StoredIndex:
    """The newest intact version other than the live one, for when the live one is damaged:
    LAST_GOOD first, then the other versions newest first, each checked as ``load_index`` checks
    the live one (a damaged one is marked BAD). IndexMissing when none loads."""
    live = _live_name(index_dir)
    last_good = _last_good(index_dir)
    others = sorted(
        (p for p in index_dir.iterdir() if p.is_dir() and p.name.startswith("v") and not is_bad(p)),
        key=_written_at,
        reverse=True,
    )
    tried: list[str] = []
    for version in [*([index_dir / last_good] if last_good else []), *others]:
        if version.name in (live, *tried):
            continue
        tried.append(version.name)
        try:
            loaded = _load_version(version, model, fingerprint, dim)
        except IndexCorrupt as exc:
            _remember(version / BAD, str(exc))
            continue
        except IndexMismatch:
            continue
        _remember(index_dir / _LAST_GOOD, version.name)
        return loaded
    raise IndexMissing(f"no intact older index in {index_dir}")


def _written_at(version: Path) -> int:
    """When a version folder (v<time_ns>-<pid>) was written; 0 for a name of another shape."""
    stamp = version.name[1:].partition("-")[0]
    return int(stamp) if stamp.isdigit() else 0


def is_bad(version: Path) -> bool:
    """Whether this version failed to load once (it is never kept, and removed first)."""
    return (version / BAD).exists()


def _remember(path: Path, line: str) -> None:
    # A read-only data dir still serves; retention then falls back to the live version.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        write_synced(tmp, line)
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def _last_good(index_dir: Path) -> str:
    try:
        name = (index_dir / _LAST_GOOD).read_text(encoding="utf-8").strip()
    except (OSError, ValueError):
        return ""
    usable = name and "/" not in name and (index_dir / name).is_dir() and not is_bad(index_dir / name)
    return name if usable else ""


def _load_version(version: Path, model: str, fingerprint: str, dim: int) -> StoredIndex:
    manifest = _manifest_at(version)
    reason = manifest.mismatch(model, fingerprint, dim)
    if reason:
        raise IndexMismatch(f"{reason}. Rebuild it with `yibao ingest --rebuild`.")
    has_documents = _DOCUMENTS in manifest.checksums
    for name in (*_FILES, _DOCUMENTS) if has_documents else _FILES:
        path = version / name
        try:
            intact = _sha256(path) == manifest.checksums.get(name)
        except OSError:
            intact = False
        if not intact:
            raise IndexCorrupt(_corrupt_message(path, "missing or checksum mismatch"))
    try:
        chunks, tokens = [], []
        with open(version / "chunks.jsonl", encoding="utf-8") as fh:
            for line in fh:
                record = json.loads(line)
                tokens.append(record.pop("tokens"))
                chunks.append(Chunk.from_dict(record))
        vectors = np.load(version / "vectors.npy", mmap_mode="r")
        index = faiss.read_index(str(version / "dense.faiss"))
        with open(version / "units.jsonl", encoding="utf-8") as fh:
            units = UnitTable(
                [AnswerUnit.from_dict(json.loads(line)) for line in fh],
                np.load(version / "unit_vectors.npy"),
                faiss.read_index(str(version / "units.faiss")),
            )
        records = documents.read(version / _DOCUMENTS) if has_documents else {}
    except (OSError, ValueError, TypeError, KeyError, RuntimeError) as exc:
        raise IndexCorrupt(_corrupt_message(version, exc)) from None
    if not (len(chunks) == len(vectors) == index.ntotal) or not (
        len(units.units) == len(units.vectors) == units.dense.ntotal
    ):
        raise IndexCorrupt(_corrupt_message(version, "record, vector and FAISS counts differ"))
    lexical = BM25().fit(tokens)
    return StoredIndex(manifest, chunks, tokens, vectors, index, lexical, units, version, records)


@contextlib.contextmanager
def ingest_lock(index_dir: Path) -> Iterator[None]:
    """One writer at a time; a second ingest is refused with the holder's pid."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / ".ingest.lock", "a+", encoding="utf-8") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "unknown"
            raise IngestLocked(
                f"another ingest is running ({holder}); wait for it to finish and run again"
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}, started {datetime.now(UTC).isoformat(timespec='seconds')}")
        fh.flush()
        try:
            yield
        finally:
            fh.seek(0)
            fh.truncate()
            fcntl.flock(fh, fcntl.LOCK_UN)


def _remove_old_versions(index_dir: Path, keep: set[str]) -> None:
    # The last good version stays so that requests still reading it finish cleanly and there is
    # one to go back to; damaged versions go first, then folders left by killed ingests.
    old = [
        p
        for p in index_dir.iterdir()
        if p.is_dir() and p.name.startswith("v") and (p.name not in keep or is_bad(p))
    ]
    for path in sorted(old, key=lambda p: not is_bad(p)):
        shutil.rmtree(path, ignore_errors=True)


def _corrupt_message(path: Path, detail: object) -> str:
    return (
        f"the index file {path} is damaged ({detail}). Rebuild it with `yibao ingest --rebuild` "
        "or restore the data dir from a backup."
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_synced(path: Path, data: str | bytes) -> None:
    """Write ``data`` (text as UTF-8) and make it durable before returning."""
    with open(path, "wb") as fh:
        fh.write(data.encode() if isinstance(data, str) else data)
        fh.flush()
        os.fsync(fh.fileno())


def fsync(path: Path) -> None:
    """Make a file's content, or a folder's entries, durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
