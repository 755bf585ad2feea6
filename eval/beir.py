"""Retrieval quality on a dataset in the BEIR layout (corpus.jsonl, queries.jsonl, qrels/test.tsv).

The passages go through the same chunker, answer units, model and retriever as the corpus; a chunk
maps back to its passage ``_id`` and a passage ranks where its best chunk ranks. The vectors are
kept in an embedding cache of the set's own under the data dir (``evalsets/<name>/``), so only the
first run embeds. Embedded once, the passages can be searched in several stores (``local``,
``milvus``: a collection of the set's own) side by side.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from tqdm import tqdm

from eval import metrics
from eval.report import BEIR_KEYS
from index.build import embed_index, in_memory_manifest
from index.embed_cache import EmbedCache
from index.embedding import Embedder
from index.retriever import Retriever
from index.store import StoredIndex
from index.stores import ChunkStore, open_store, sync_store
from ingest.pipeline import chunk_documents
from ingest.records import Document
from settings import Settings

DEPTH = 100


@dataclass
class BeirSet:
    corpus: dict[str, str]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]


def load_beir(folder: Path, split: str = "test", subset: str | None = None) -> BeirSet:
    """The set; ``subset`` keeps only the queries of that slice (the ``subset`` field of a query,
    e.g. baoxianzhidao's ``medins``), the corpus stays whole."""
    corpus = {}
    for rec in _jsonl(folder / "corpus.jsonl"):
        title, text = rec.get("title") or "", rec.get("text") or ""
        corpus[str(rec["_id"])] = f"{title}\n{text}".strip() if title else text
    queries = {
        str(rec["_id"]): rec["text"]
        for rec in _jsonl(folder / "queries.jsonl")
        if subset is None or rec.get("subset") == subset
    }
    qrels: dict[str, dict[str, int]] = {}
    with open(folder / "qrels" / f"{split}.tsv", encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh, delimiter="\t")
        header = next(reader, None)
        if not header or header[:2] != ["query-id", "corpus-id"]:
            raise ValueError(f"{folder}/qrels/{split}.tsv: expected the header 'query-id corpus-id score'")
        for row in reader:
            if len(row) >= 3 and int(row[2]) > 0:
                qrels.setdefault(row[0], {})[row[1]] = int(row[2])
    return BeirSet(corpus, {q: t for q, t in queries.items() if q in qrels}, qrels)


def evaluate_beir(
    folder: Path,
    settings: Settings,
    embedder: Embedder,
    modes: tuple[str, ...] = ("hybrid",),
    limit: int | None = None,
    progress: bool = True,
    stores: tuple[str, ...] = ("local",),
    on_query: Callable[[], None] | None = None,
    subset: str | None = None,
) -> dict:
    """Metrics per mode, or per ``mode@store`` when more than one store is asked for, and a row
    per query of the hybrid setting (else the first); ``on_query`` is called after each query.
    ``subset`` keeps the queries of one slice (``load_beir``)."""
    data = load_beir(folder, subset=subset)
    started = time.perf_counter()
    index, embedded = index_passages(data.corpus, settings, embedder, set_dir(settings, folder), progress)
    build_seconds = time.perf_counter() - started
    query_ids = sorted(data.queries)[:limit] if limit else sorted(data.queries)
    results, fill_seconds, rows_of = {}, {}, {}
    for name in stores:
        t0 = time.perf_counter()
        chunk_store = _filled(name, folder, settings, index)
        fill_seconds[name] = round(time.perf_counter() - t0, 1)
        retriever = Retriever(index, embedder, settings, chunk_store)
        for mode in modes:
            label = f"{mode}@{name}" if len(stores) > 1 else mode
            rows = []
            for qid in tqdm(query_ids, desc=f"beir {label}", unit="q", disable=not progress):
                rows.append(_score(retriever, mode, data, qid))
                if on_query is not None:
                    on_query()
            results[label] = {key: round(metrics.mean(r[key] for r in rows), 4) for key in BEIR_KEYS}
            rows_of[label] = rows
    # The rows of the setting a report leads with: hybrid (in the first store) when it ran.
    main = next((label for label in rows_of if label.split("@")[0] == "hybrid"), next(iter(rows_of), None))
    return {
        "dataset": str(folder),
        "subset": subset,
        "queries": len(query_ids),
        "passages": len(data.corpus),
        "chunks": len(index.chunks),
        "embedded": embedded,
        "index_seconds": round(build_seconds, 1),
        "store_fill_seconds": fill_seconds,
        "results": results,
        "per_question": [
            {"id": qid, "question": data.queries[qid], "answerable": True}
            | {k: v for k, v in row.items() if k not in BEIR_KEYS}
            for qid, row in zip(query_ids, rows_of.get(main, []), strict=True)
        ],
    }


def set_dir(settings: Settings, folder: Path) -> Path:
    """Where a set's embedding cache lives: beside the corpus's index, one folder per set."""
    return settings.data_dir / "evalsets" / _slug(folder)


def _slug(folder: Path) -> str:
    return re.sub(r"[^0-9A-Za-z]+", "_", folder.resolve().name).strip("_").lower()


def index_passages(
    passages: dict[str, str], settings: Settings, embedder: Embedder, cache_dir: Path, progress: bool
) -> tuple[StoredIndex, int]:
    """An in-memory index of the passages (one document each: its chunks and answer units), the
    vectors from ``cache_dir``'s embedding cache where it has them; also how many were embedded."""
    docs = [
        Document(doc_id, text, hashlib.sha256(text.encode()).hexdigest()) for doc_id, text in passages.items()
    ]
    result = chunk_documents(docs, settings)
    chunks = result.chunks
    manifest = in_memory_manifest(settings, embedder, chunks, docs)
    cache = EmbedCache(cache_dir, embedder.fingerprint, embedder.dim, settings.embed_cache_entries)
    try:
        return embed_index(
            chunks,
            embedder,
            manifest,
            units=result.units,
            cache=cache,
            window=settings.embed_window,
            progress=progress,
        )
    finally:
        cache.close()


def _filled(name: str, folder: Path, settings: Settings, index: StoredIndex) -> ChunkStore:
    """Store ``name`` holding the set's chunks. Milvus gets a collection named after the set, next
    to the corpus's (a rerun on the same set finds it filled and inserts nothing)."""
    slug = _slug(folder)
    conf = replace(settings, store=name, milvus_collection=f"{settings.milvus_collection}_beir_{slug}")
    sync_store(conf, index)
    return open_store(conf, index)


def _score(retriever: Retriever, mode: str, data: BeirSet, qid: str) -> dict:
    """The query's metrics, and what its row in the report shows: where the first relevant passage
    ranked (None: not in the top 100) and how long the search took."""
    started = time.perf_counter()
    ranked: list[str] = []
    for p in retriever.search(data.queries[qid], DEPTH, mode).passages:
        if p.chunk.doc_id not in ranked:
            ranked.append(p.chunk.doc_id)
    latency = (time.perf_counter() - started) * 1000
    judged = data.qrels[qid]
    gains = [float(judged.get(doc_id, 0)) for doc_id in ranked]
    relevant = [g > 0 for g in gains]
    hits = [{doc_id} if judged.get(doc_id, 0) > 0 else set() for doc_id in ranked]
    return {
        "hit@1": metrics.hit_at_k(relevant, 1),
        "hit@5": metrics.hit_at_k(relevant, 5),
        "ndcg@10": metrics.ndcg_at_k_graded(gains, list(judged.values()), 10),
        "recall@10": metrics.recall_at_k(hits, len(judged), 10),
        "recall@100": metrics.recall_at_k(hits, len(judged), 100),
        "mrr@10": metrics.mrr_at_k(relevant, 10),
        "first_relevant_rank": metrics.first_relevant_rank(relevant),
        "latency_ms": round(latency, 2),
    }


def _jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]
