"""Ingest throughput: the index built from scratch into a temporary data dir, against the raw
model (``Embedder.forward``, batched as ``SentenceTransformer.encode`` batches) on exactly the
texts that build embedded (chunks and their answer units).

Builds and raw encodes alternate (build, raw, build, raw in the full run) so that both see the
same machine load; the ratio is total raw time over total build time.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from bench.stats import ratio
from settings import Settings

if TYPE_CHECKING:
    from index.embedding import Embedder


def _corpus_for(settings: Settings, quick: bool, tmp: Path) -> tuple[Path, list[str]]:
    """The configured corpus, or in quick mode a copy holding only its smallest document."""
    files = sorted(p for p in settings.corpus_dir.rglob("*") if p.is_file())
    if not quick:
        return settings.corpus_dir, [p.name for p in files]
    smallest = min(files, key=lambda p: p.stat().st_size)
    corpus = tmp / "corpus"
    corpus.mkdir()
    shutil.copy2(smallest, corpus / smallest.name)
    return corpus, [smallest.name]


def embedded_texts(index_dir: Path, embedder: Embedder) -> list[str]:
    """The texts a build embeds, read back from the index it wrote (chunk texts, then answer units)."""
    from index import store
    from index.build import index_texts

    return index_texts(store.load_index(index_dir, embedder.name, embedder.fingerprint, embedder.dim))


def raw_encode_seconds(embedder: Embedder, texts: list[str]) -> float:
    t0 = time.perf_counter()
    embedder.forward(texts, embedder.passage_prompt)
    return time.perf_counter() - t0


def measure(settings: Settings, embedder: Embedder, quick: bool) -> dict:
    from index.build import build_index

    rounds = 1 if quick else 2
    with tempfile.TemporaryDirectory(prefix="yibao-bench-ingest-") as tmp_name:
        tmp = Path(tmp_name)
        corpus, files = _corpus_for(settings, quick, tmp)
        builds, raws = [], []
        report = None
        texts: list[str] = []
        for i in range(rounds):
            conf = replace(settings, corpus_dir=corpus, data_dir=tmp / f"data{i}")
            t0 = time.perf_counter()
            report = build_index(conf, embedder, rebuild=True)
            builds.append(time.perf_counter() - t0)
            if not texts:
                texts = embedded_texts(conf.index_dir, embedder)
            raws.append(raw_encode_seconds(embedder, texts))
        assert report is not None
    build_s, raw_s = sum(builds), sum(raws)
    n = rounds
    return {
        "corpus": str(corpus) if not quick else f"{settings.corpus_dir}/{files[0]} (quick: smallest file)",
        "documents": len(files),
        "chunks": report.chunks,
        "embedded_texts": len(texts),
        "rounds": rounds,
        "build_seconds": [round(s, 2) for s in builds],
        "raw_encode_seconds": [round(s, 2) for s in raws],
        "chunks_per_second": round(report.chunks * n / build_s, 2),
        "texts_per_second": round(len(texts) * n / build_s, 2),
        "raw_texts_per_second": round(len(texts) * n / raw_s, 2),
        "ingest_over_raw": ratio(raw_s, build_s),
    }
