"""Vectors already computed, by (model fingerprint, SHA-256 of the embedded text), in the data dir.

An ingest writes each window of vectors here as soon as it is encoded, so a killed ingest loses
at most one window: the next run encodes only what is not here yet. A changed file re-embeds only
its changed chunks and units, whatever index is live. Each row carries a CRC of its vector; a row
that fails it is dropped and its text embedded again. After an index is written the cache keeps
only what that index and the one kept before it use, and never more than ``max_entries`` rows
(least recently used go first).
"""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
import time
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

FILE = "embed_cache.sqlite3"
_LOOKUP_BATCH = 500  # below SQLite's limit on bound parameters


def text_key(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


class EmbedCache:
    def __init__(self, data_dir: Path, fingerprint: str, dim: int, max_entries: int) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.fingerprint = fingerprint
        self.dim = dim
        self.max_entries = max_entries
        self._db = sqlite3.connect(data_dir / FILE, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # WAL keeps it consistent; a lost tail is re-embedded
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS vectors (fingerprint TEXT, key BLOB, vector BLOB, crc INTEGER,"
            " used REAL, PRIMARY KEY (fingerprint, key)) WITHOUT ROWID"
        )
        self._rows = len(self)

    def close(self) -> None:
        self._db.close()

    def get_many(self, keys: list[bytes]) -> dict[bytes, np.ndarray]:
        """The intact cached vectors among ``keys``; damaged rows are deleted."""
        found: dict[bytes, np.ndarray] = {}
        damaged = []
        for start in range(0, len(keys), _LOOKUP_BATCH):
            part = keys[start : start + _LOOKUP_BATCH]
            marks = ",".join("?" * len(part))
            rows = self._db.execute(
                f"SELECT key, vector, crc FROM vectors WHERE fingerprint = ? AND key IN ({marks})",
                (self.fingerprint, *part),
            )
            for key, blob, crc in rows:
                if zlib.crc32(blob) == crc and len(blob) == 4 * self.dim:
                    found[key] = np.frombuffer(blob, dtype=np.float32)
                else:
                    damaged.append(key)
        if damaged:
            rows = [(self.fingerprint, key) for key in damaged]
            self._db.executemany("DELETE FROM vectors WHERE fingerprint = ? AND key = ?", rows)
        return found

    def put_many(self, keys: list[bytes], vectors: np.ndarray) -> None:
        """Store one window of vectors in one transaction (durable once this returns)."""
        now = time.time()
        rows = []
        for key, vector in zip(keys, vectors, strict=True):
            blob = np.ascontiguousarray(vector, dtype=np.float32).tobytes()
            rows.append((self.fingerprint, key, blob, zlib.crc32(blob), now))
        with self._transaction():
            self._db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?, ?, ?)", rows)
            self._rows += len(rows)
            if self._rows > self.max_entries:  # counted loosely: a replaced row counts again
                self._trim()
                self._rows = len(self)

    def keep_only(self, keys: Iterable[bytes]) -> int:
        """Drop every row no index uses (other models' too), then the oldest beyond the bound;
        returns how many rows remain."""
        with self._transaction():
            self._db.execute("CREATE TEMP TABLE IF NOT EXISTS keep (key BLOB PRIMARY KEY) WITHOUT ROWID")
            self._db.execute("DELETE FROM keep")
            self._db.executemany("INSERT OR IGNORE INTO keep VALUES (?)", ((k,) for k in keys))
            self._db.execute(
                "DELETE FROM vectors WHERE fingerprint != ? OR key NOT IN (SELECT key FROM keep)",
                (self.fingerprint,),
            )
            self._trim()
        self._rows = len(self)
        return self._rows

    def _trim(self) -> None:
        self._db.execute(
            "DELETE FROM vectors WHERE (fingerprint, key) IN"
            " (SELECT fingerprint, key FROM vectors ORDER BY used DESC LIMIT -1 OFFSET ?)",
            (self.max_entries,),
        )

    def __len__(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM vectors").fetchone()[0])

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")
