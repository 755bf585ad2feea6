"""The loaded model and index behind every request, swapped for a new index without a restart."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from answer.compose import Answerer
from index import corpus_edit, store
from index.build import BuildReport, build_index, edit_corpus
from index.embedding import Embedder, load_embedder
from index.loader import open_retriever
from settings import Settings

log = logging.getLogger(__name__)


class Engine:
    """Requests read ``self.answerer`` once; a reload replaces it whole, so a request in flight
    finishes on the index it started with."""

    def __init__(self, settings: Settings, embedder: Embedder) -> None:
        self.settings = settings
        self.embedder = embedder
        self._reload_lock = threading.Lock()
        _recover_interrupted_edit(settings)
        self.answerer = Answerer(open_retriever(settings, embedder), settings)
        self._version = self.answerer.retriever.index.path
        # A version that could not be loaded and why: not retried, shown by /healthz.
        self._refused: tuple[Path, str] | None = None
        self._reported: str | None = None

    @classmethod
    def start(cls, settings: Settings) -> Engine:
        """Load the model once, build the index if there is none, and warm both up."""
        engine = cls(settings, load_embedder(settings))
        engine.answerer.ask("医保卡余额怎么查")
        return engine

    @property
    def version(self) -> Path | None:
        return self._version

    def reload_if_changed(self) -> bool:
        """Switch to the index that `yibao ingest` wrote last, if it is not the one in use.

        A damaged new index (or a damaged CURRENT) is logged once and the current one kept
        serving; that version is not tried again, the next ingest writes a new one."""
        try:
            live = store.current_version(self.settings.index_dir)
        except store.IndexStoreError as exc:
            self._report_once(str(exc))
            return False
        if live is None or live == self._version or (self._refused and live == self._refused[0]):
            return False
        with self._reload_lock:
            if live == self._version:
                return False
            try:
                fresh = Answerer(
                    open_retriever(self.settings, self.embedder, build_if_missing=False), self.settings
                )
            except store.IndexStoreError as exc:
                self._refused = (live, str(exc))
                self._report_once(f"the new index could not be loaded: {exc}")
                return False
            self.answerer = fresh
            self._version = fresh.retriever.index.path
            self._refused = None
            self._reported = None
            log.info("switched to index %s (%d chunks)", self._version, len(fresh.retriever.index))
            return True

    def refused(self) -> str | None:
        """Why the live version (the one CURRENT names) is not the one serving, or None."""
        try:
            live = store.current_version(self.settings.index_dir)
        except store.IndexStoreError as exc:
            return str(exc)
        if self._refused and live == self._refused[0]:
            return self._refused[1]
        return None

    def edit(self, add: dict[str, bytes], remove: list[str]) -> BuildReport:
        """Add or replace and remove corpus files and index them (all or nothing), then serve the
        new index at once. Questions meanwhile are answered from the previous index."""
        report = edit_corpus(self.settings, self.embedder, add=add, remove=remove)
        self.reload_if_changed()
        return report

    def reingest(self) -> BuildReport:
        """What `yibao ingest` does, from the server: pick up files changed in the corpus dir."""
        report = build_index(self.settings, self.embedder)
        self.reload_if_changed()
        return report

    def _report_once(self, problem: str) -> None:
        if problem != self._reported:
            self._reported = problem
            log.error("kept serving %s: %s", self._version, problem)

    def health(self) -> dict:
        index = self.answerer.retriever.index
        return {
            "status": "ok",
            "index_loaded": True,
            "chunks": len(index),
            "documents": index.manifest.counts.get("documents", 0),
            "index_version": index.path.name if index.path else None,
            "index_created_at": index.manifest.created_at,
            "model": self.embedder.name,
            **self._refused_health(),
        }

    def _refused_health(self) -> dict:
        if self._refused is None:
            return {}
        version, reason = self._refused
        return {"refused_version": version.name, "refused_reason": reason}


def _recover_interrupted_edit(settings: Settings) -> None:
    """Finish or drop an admin edit that a killed server left half done (index/corpus_edit.py),
    unless an ingest is running: that ingest does it."""
    try:
        with store.ingest_lock(settings.index_dir):
            corpus_edit.recover(settings)
    except store.IngestLocked:
        pass
    except OSError as exc:  # a read-only data dir still serves; only edits are impossible
        log.warning("could not check for an interrupted corpus edit: %s", exc)
