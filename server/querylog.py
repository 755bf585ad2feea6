"""The question log: every question asked through the pages or the API, with its outcome and the
asker's feedback, in SQLite in the data dir (questions.sqlite3). No IP or other identity is kept.

One writer thread owns the only writing connection and takes entries from a queue, so logging
never makes an answer wait: a full queue or a log that cannot be written drops the entry with a
warning and the answer goes out all the same. Readers (the admin page) open their own connection;
WAL mode lets them read while the writer writes."""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import re
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from answer.records import Answer
from ingest.textnorm import fold

log = logging.getLogger(__name__)

FILE = "questions.sqlite3"
_QUEUE_SIZE = 10_000
_PURGE_EVERY_SECONDS = 24 * 3600
_ID = re.compile(r"^[0-9a-f]{32}$")
_KEY_NOISE = re.compile(r"[\s?？!！。.,，、]+")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS questions (
    id TEXT PRIMARY KEY,
    asked_at TEXT NOT NULL,          -- UTC, ISO 8601
    question TEXT NOT NULL,
    question_key TEXT NOT NULL,      -- folded to simplified, without spaces and punctuation
    via TEXT NOT NULL,               -- page | api
    abstained INTEGER NOT NULL,
    confidence REAL NOT NULL,
    cited_docs TEXT NOT NULL,        -- JSON list of doc ids
    latency_ms REAL NOT NULL,
    helpful INTEGER,                 -- 1 有帮助, 0 没帮助, NULL no feedback
    feedback_at TEXT
);
CREATE INDEX IF NOT EXISTS questions_asked_at ON questions (asked_at);
CREATE INDEX IF NOT EXISTS questions_key ON questions (question_key);
"""


@dataclass(frozen=True)
class Problem:
    """A question (all its wordings that fold to the same key) that went unanswered or unhelped."""

    key: str
    question: str  # the latest wording
    asked: int
    abstained: int
    unhelpful: int
    last_asked: str
    cited_docs: tuple[str, ...]

    def to_eval_record(self) -> dict:
        """A line of eval/questions.jsonl: the answers are left for a person to fill in."""
        return {
            "id": f"log-{uuid.uuid5(uuid.NAMESPACE_URL, self.key).hex[:12]}",
            "question": self.question,
            # Abstained more often than not: taken as unanswerable until someone finds evidence.
            "answerable": self.abstained * 2 < self.asked,
            "answers": [],
            "asked": self.asked,
            "abstained": self.abstained,
            "unhelpful": self.unhelpful,
            "cited_docs": list(self.cited_docs),
        }


class QueryLog:
    def __init__(self, data_dir: Path, retention_days: int, max_rows: int) -> None:
        self.path = data_dir / FILE
        self.retention_days = retention_days
        self.max_rows = max_rows
        self._rows = 0  # in the table, as the writer counts them
        # Ids logged by this process, whose row may still be in the queue (for feedback).
        self._recent: dict[str, None] = {}
        self._recent_lock = threading.Lock()
        self._queue: queue.Queue[tuple | None] = queue.Queue(_QUEUE_SIZE)
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()  # the writer has opened (or failed to open) the database
        self._warned = False
        self._warned_full = False

    def start(self) -> None:
        """Start the writer; it applies the retention (age and size) at once, age then daily."""
        self._thread = threading.Thread(target=self._write_loop, name="querylog", daemon=True)
        self._thread.start()

    def close(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=10)
            self._thread = None

    def flush(self) -> None:
        """Wait until everything queued so far is written (for the admin page and the tests)."""
        if self._thread is not None and self._thread.is_alive():
            self._ready.wait(timeout=10)
            self._queue.join()

    def record(self, answer: Answer, via: str, latency_ms: float) -> str:
        """Queue the asked question; returns its id, which the feedback buttons send back."""
        entry_id = uuid.uuid4().hex
        cited = sorted({c.passage.chunk.doc_id for c in answer.citations})
        row = (
            entry_id,
            _now(),
            answer.question,
            question_key(answer.question),
            via,
            int(answer.abstained),
            round(answer.confidence, 4),
            json.dumps(cited, ensure_ascii=False),
            round(latency_ms, 2),
        )
        with self._recent_lock:
            self._recent[entry_id] = None
            if len(self._recent) > _QUEUE_SIZE:
                del self._recent[next(iter(self._recent))]
        self._put(("ask", row))
        return entry_id

    def feedback(self, entry_id: str, helpful: bool) -> str:
        """Queue the feedback on one logged answer: "recorded", or "invalid" for an id that cannot
        be one, "unknown" for one that was never logged (or is deleted by now)."""
        if not _ID.match(entry_id):
            return "invalid"
        with self._recent_lock:
            recent = entry_id in self._recent
        if not recent and not self._logged(entry_id):
            return "unknown"
        self._put(("feedback", (int(helpful), _now(), entry_id)))
        return "recorded"

    def _logged(self, entry_id: str) -> bool:
        try:
            with contextlib.closing(_reader(self.path)) as db:
                return db.execute("SELECT 1 FROM questions WHERE id = ?", (entry_id,)).fetchone() is not None
        except sqlite3.Error:
            return False

    def problems(self, limit: int = 100) -> list[Problem]:
        """Abstained and unhelpful questions, most frequent first."""
        try:
            with contextlib.closing(_reader(self.path)) as db:
                rows = db.execute(
                    """
                    SELECT question_key, COUNT(*) AS asked, SUM(abstained), SUM(helpful = 0), MAX(asked_at),
                           (SELECT question FROM questions q2 WHERE q2.question_key = q.question_key
                            ORDER BY asked_at DESC, rowid DESC LIMIT 1),
                           (SELECT cited_docs FROM questions q3 WHERE q3.question_key = q.question_key
                            ORDER BY asked_at DESC, rowid DESC LIMIT 1)
                    FROM questions q WHERE abstained = 1 OR helpful = 0
                    GROUP BY question_key ORDER BY asked DESC, MAX(asked_at) DESC LIMIT ?
                    """,
                    (limit,),
                ).fetchall()
        except sqlite3.Error as exc:
            log.warning("the question log cannot be read (%s): %s", self.path, exc)
            return []
        return [
            Problem(key, question, asked, abstained, unhelpful or 0, last, tuple(json.loads(cited)))
            for key, asked, abstained, unhelpful, last, question, cited in rows
        ]

    def export_jsonl(self) -> str:
        """The problems as an eval question file (`yibao eval --questions FILE` reads it)."""
        return "".join(
            json.dumps(p.to_eval_record(), ensure_ascii=False) + "\n" for p in self.problems(10_000)
        )

    def _put(self, item: tuple) -> None:
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self._warn("the question log is behind: an entry was dropped")

    def _warn(self, message: str) -> None:
        if not self._warned:
            self._warned = True
            log.warning("%s (answers are not affected)", message)

    def _write_loop(self) -> None:
        db = self._open()
        self._ready.set()
        last_purge = time.monotonic()
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    break
                if db is not None:
                    self._write(db, item)
                    if time.monotonic() - last_purge > _PURGE_EVERY_SECONDS:
                        last_purge = time.monotonic()
                        self._purge(db)
            finally:
                self._queue.task_done()
        if db is not None:
            db.close()

    def _open(self) -> sqlite3.Connection | None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA busy_timeout=2000")
            db.executescript(_SCHEMA)
            self._purge(db)
        except (sqlite3.Error, OSError) as exc:
            self._warn(f"the question log {self.path} is unavailable ({exc}); questions are not logged")
            return None
        return db

    def _write(self, db: sqlite3.Connection, item: tuple) -> None:
        kind, values = item
        try:
            if kind == "ask":
                db.execute(
                    "INSERT INTO questions (id, asked_at, question, question_key, via, abstained, "
                    "confidence, cited_docs, latency_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    values,
                )
                self._rows += 1
                if self._rows > self.max_rows:
                    self._trim(db)
            else:
                db.execute("UPDATE questions SET helpful = ?, feedback_at = ? WHERE id = ?", values)
        except sqlite3.Error as exc:
            self._warn(f"the question log {self.path} cannot be written ({exc})")

    def _purge(self, db: sqlite3.Connection) -> None:
        cutoff = (datetime.now(UTC) - timedelta(days=self.retention_days)).isoformat(timespec="seconds")
        try:
            removed = db.execute("DELETE FROM questions WHERE asked_at < ?", (cutoff,)).rowcount
            self._rows = db.execute("SELECT COUNT(*) FROM questions").fetchone()[0]
        except sqlite3.Error as exc:
            self._warn(f"the question log {self.path} cannot be purged ({exc})")
            return
        if removed:
            log.info("question log: removed %d entries older than %d days", removed, self.retention_days)
        if self._rows > self.max_rows:
            self._trim(db)

    def _trim(self, db: sqlite3.Connection) -> None:
        """Delete the oldest entries beyond ``max_rows`` (rowids grow with every insert)."""
        try:
            removed = db.execute(
                "DELETE FROM questions WHERE rowid <= "
                "(SELECT rowid FROM questions ORDER BY rowid DESC LIMIT 1 OFFSET ?)",
                (self.max_rows,),
            ).rowcount
        except sqlite3.Error as exc:
            self._warn(f"the question log {self.path} cannot be trimmed ({exc})")
            return
        self._rows -= removed
        if not self._warned_full:
            self._warned_full = True
            log.info(
                "question log: full at %d entries, the oldest are deleted as new ones come", self.max_rows
            )


def question_key(question: str) -> str:
    """What makes two wordings the same question: script, spacing and punctuation do not."""
    return _KEY_NOISE.sub("", fold(question))


def _reader(path: Path) -> sqlite3.Connection:
    if not path.exists():
        raise sqlite3.OperationalError("no question has been logged yet")
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=2)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
