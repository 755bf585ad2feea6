"""The one place that picks the store from ``YIBAO_STORE`` (txtai style: one module per store)."""

from __future__ import annotations

from index.store import StoredIndex
from index.stores.base import ChunkStore
from index.stores.local import LocalStore
from settings import STORES, Settings


def open_store(settings: Settings, index: StoredIndex) -> ChunkStore:
    """The store that searches ``index``'s chunks; Milvus is imported only when chosen."""
    if settings.store == "local":
        return LocalStore(index)
    if settings.store == "milvus":
        from index.stores.milvus import MilvusStore

        return MilvusStore(index, settings)
    raise ValueError(f"YIBAO_STORE={settings.store!r}: choose one of {', '.join(STORES)}")


def sync_store(settings: Settings, index: StoredIndex, *, rebuild: bool = False) -> None:
    """After an ingest built ``index``: bring an external store in line with it. The local store
    is the version folder itself, written by index.store.write_index."""
    if settings.store == "milvus":
        from index.stores import milvus

        milvus.sync(settings, index, rebuild=rebuild)
    elif settings.store != "local":
        raise ValueError(f"YIBAO_STORE={settings.store!r}: choose one of {', '.join(STORES)}")
