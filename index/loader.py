"""Opening the live index for serving, building it first when there is none."""

from __future__ import annotations

import logging

from index import store
from index.build import build_index
from index.embedding import Embedder
from index.retriever import Retriever
from index.stores import open_store
from settings import Settings

log = logging.getLogger(__name__)


def open_retriever(settings: Settings, embedder: Embedder, *, build_if_missing: bool = True) -> Retriever:
    """The retriever over the live index; a missing index is built (not a damaged one: that is
    reported, so that nobody's index is silently replaced)."""
    if build_if_missing and store.read_manifest(settings.index_dir) is None:
        log.info("no index in %s yet: building it from %s", settings.index_dir, settings.corpus_dir)
        log.info(build_index(settings, embedder, progress=True).summary())
    index = store.load_index(settings.index_dir, embedder.name, embedder.fingerprint, embedder.dim)
    return Retriever(index, embedder, settings, open_store(settings, index))


def open_last_good(settings: Settings, embedder: Embedder) -> Retriever:
    """The retriever over the newest intact version, for when the live one is damaged."""
    index = store.load_last_good(settings.index_dir, embedder.name, embedder.fingerprint, embedder.dim)
    return Retriever(index, embedder, settings, open_store(settings, index))
