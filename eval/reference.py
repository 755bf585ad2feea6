"""What people build first, measured in the same run as ours: the reference rows of an evaluation.

``e5-plain``: the same model over fixed 250-character windows of each document's text (50 shared
with the next), no section path, FAISS exact search, nothing else. ``bm25-plain``: Okapi BM25
(k1 1.5, b 0.75, as rank-bm25's BM25Okapi) over jieba's words of the same windows, no folding of
traditional characters and no stopwords. Both rank windows; a question set judges a window by the
evidence it holds, a BEIR set by its document, as it judges our passages.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import jieba
from tqdm import tqdm

from eval import metrics
from index import dense
from index.embed_cache import EmbedCache
from index.embed_plan import EmbedPlan
from index.embedding import Embedder
from index.lexical import BM25
from index.progress import EmbedProgress

WINDOW = 250
STRIDE = 200
MODES = ("e5-plain", "bm25-plain")


@dataclass(frozen=True)
class Window:
    doc_id: str
    text: str


class PlainIndex:
    """Fixed windows of every document, embedded (through the set's embedding cache) and cut by jieba."""

    def __init__(
        self, documents: dict[str, str], embedder: Embedder, cache_dir: Path, max_entries: int, progress: bool
    ) -> None:
        self.windows = [
            Window(doc_id, text[start : start + WINDOW])
            for doc_id, text in documents.items()
            for start in range(0, max(1, len(text) - WINDOW + STRIDE), STRIDE)
        ]
        self.embedder = embedder
        texts = [w.text for w in self.windows]
        cache = EmbedCache(cache_dir, embedder.fingerprint, embedder.dim, max_entries)
        try:
            plan = EmbedPlan.of(texts, {}, cache, embedder.dim)
            vectors = plan.run(
                embedder, cache, EmbedProgress(0, 0, len(plan.rows), plan.reused) if progress else None, 256
            )
        finally:
            cache.close()
        self.dense = dense.build(vectors, "flat")
        self.bm25 = BM25().fit([_words(t) for t in texts])

    def search(self, question: str, mode: str, k: int) -> list[Window]:
        if mode == "e5-plain":
            _, rows = dense.search(self.dense, self.embedder.encode_query(question), k)
            return [self.windows[r] for r in rows.tolist()]
        return [self.windows[hit.index] for hit in self.bm25.search(_words(question), k)]


def _words(text: str) -> list[str]:
    return [w for w in jieba.lcut(text) if w.strip()]


def evaluate_windows(
    index: PlainIndex,
    queries: list[tuple[str, Callable[[Window], float], list[float]]],
    mode: str,
    k: int,
    by_doc: bool = False,
    progress: bool = False,
) -> dict[str, float]:
    """Ranking metrics of one reference over ``queries``: (question, the grade of a window, the
    grades of all its answers). ``by_doc``: a document ranks where its first window does (a BEIR
    set judges documents)."""
    rows = []
    for question, grade, ideal in tqdm(queries, desc=mode, unit="q", disable=not progress):
        found = index.search(question, mode, max(k, 100))
        if by_doc:
            first: dict[str, Window] = {}
            for window in found:
                first.setdefault(window.doc_id, window)
            found = list(first.values())
        gains = [grade(w) for w in found]
        relevant = [g > 0 for g in gains]
        rows.append(
            {
                "hit@1": metrics.hit_at_k(relevant, 1),
                "hit@5": metrics.hit_at_k(relevant, 5),
                f"mrr@{k}": metrics.mrr_at_k(relevant, k),
                f"ndcg@{k}": metrics.ndcg_at_k_graded(gains, ideal, k),
            }
        )
    return {key: round(metrics.mean(r[key] for r in rows), 4) for key in rows[0]} if rows else {}
