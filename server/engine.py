"""The loaded model and index behind every request, swapped for a new index without a restart."""

from __future__ import annotations

import logging
import re
import threading
from pathlib import Path

from answer.compose import Answerer
from index import corpus_edit, store
from index.embedding import Embedder, load_embedder
from index.loader import open_last_good, open_retriever
from index.retriever import Retriever
from settings import Settings

log = logging.getLogger(__name__)
# Any absolute path left in a message shown without login: only its last part is kept.
_ABSOLUTE_PATH = re.compile(r"(?<![\w.$])/(?:[^\s/'\"()]+/)+(?=[^\s/'\"()]*)")


class Engine:
    """Requests read ``self.answerer`` once; a reload replaces it whole, so a request in flight
    finishes on the index it started with."""

    def __init__(self, settings: Settings, embedder: Embedder) -> None:
        self.settings = settings
        self.embedder = embedder
        self._reload_lock = threading.Lock()
        _recover_interrupted_edit(settings)
        # A version that could not be loaded and why: not retried, shown by /healthz.
        self._refused: tuple[Path | None, str] | None = None
        self._reported: str | None = None
        try:
            retriever = open_retriever(settings, embedder)
        except store.IndexCorrupt as exc:
            retriever = self._last_good(exc)
        self.answerer = Answerer(retriever, settings)
        self._version = self.answerer.retriever.index.path

    def _last_good(self, damage: store.IndexCorrupt) -> Retriever:
        """Start on the newest intact version when the live one is damaged (the next ingest
        writes a new one and repairs CURRENT); the damage itself when there is none."""
        try:
            retriever = open_last_good(self.settings, self.embedder)
        except store.IndexStoreError:
            raise damage from None
        try:
            live = store.current_version(self.settings.index_dir)
        except store.IndexCorrupt:
            live = None  # CURRENT itself cannot be read
        self._refused = (live, str(damage))
        self._reported = str(damage)
        log.error(
            "the live index is damaged: %s Serving the last good version %s instead, until the next "
            "`yibao ingest` writes a new index and repairs CURRENT.",
            damage,
            retriever.index.path.name if retriever.index.path else "?",
        )
        return retriever

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

    def _report_once(self, problem: str) -> None:
        if problem != self._reported:
            self._reported = problem
            log.error("kept serving %s: %s", self._version, problem)

    def health(self) -> dict:
        """What /healthz shows to anyone: no absolute path (the data dir is named by its variable)."""
        index = self.answerer.retriever.index
        return {
            "status": "ok",
            "index_loaded": True,
            "chunks": len(index),
            "documents": index.manifest.counts.get("documents", 0),
            "index_version": index.path.name if index.path else None,
            "index_created_at": index.manifest.created_at,
            "model": self._public(self.embedder.name),
            **self._refused_health(),
        }

    def _refused_health(self) -> dict:
        if self._refused is None:
            return {}
        version, reason = self._refused
        return {"refused_version": version.name if version else None, "refused_reason": self._public(reason)}

    def _public(self, text: str) -> str:
        for folder in {str(self.settings.data_dir), str(self.settings.data_dir.resolve())}:
            text = text.replace(folder, "$YIBAO_DATA_DIR")
        return _ABSOLUTE_PATH.sub("…/", text)


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
