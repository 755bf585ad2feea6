"""Where chunks are searched: one module per store, chosen by ``YIBAO_STORE`` in factory.py."""

from index.stores.base import ChunkStore, StoreUnavailable
from index.stores.factory import open_store, sync_store

__all__ = ["ChunkStore", "StoreUnavailable", "open_store", "sync_store"]
