"""Where ingest time goes: reading, chunking, tokenising, the model, indexing (jieba, BM25,
FAISS) and writing, on the cmrc2018_trial passages and on a synthetic 5 MB file made from
corpus/ at bench time. The model before (batches of 32 texts whatever their length, one at a
time on one thread: the ingest before issue 12) and after (the batching of `yibao ingest` now:
batches capped by padded tokens, one per core at once), timed one after the other on the same
texts, each sorted by length at once (`yibao ingest` sorts within windows of 256). The 5 MB
file's model time is measured on a spread-out sample of its texts and projected to all of them;
then `yibao ingest` runs on the whole file in a subprocess, for its time and peak memory.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from settings import ROOT, Settings

if TYPE_CHECKING:
    from index.embedding import Embedder

CMRC = ROOT.parent / "shared" / "evalsets" / "cmrc2018_trial" / "corpus"
SYNTHETIC_BYTES = 5 * 1024 * 1024
SAMPLE = 256
# More padded tokens than any batch of 32 texts holds (the model stops at 512 a text): the
# "before" batches are capped by count alone.
UNCAPPED = 1 << 30


def synthetic_corpus(target: Path, size: int = SYNTHETIC_BYTES) -> Path:
    """One file of about ``size`` bytes: corpus/ repeated, each copy under a heading of its own
    so that no two copies embed the same texts."""
    sources = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "corpus").glob("*.txt"))]
    target.mkdir(parents=True, exist_ok=True)
    path = target / "synthetic.txt"
    written, copy = 0, 0
    with open(path, "w", encoding="utf-8") as fh:
        while written < size:
            copy += 1
            for text in sources:
                block = f"# 第{copy}份资料\n\n{text}\n\n"
                fh.write(block)
                written += len(block.encode("utf-8"))
    return target


def measure_corpus(settings: Settings, embedder: Embedder, corpus: Path, sample: int | None) -> dict:
    from index import store
    from index.build import embed_index, in_memory_manifest
    from index.units import embedded_rows
    from ingest.pipeline import chunk_document, read_corpus

    conf = replace(settings, corpus_dir=corpus)
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    docs, _ = read_corpus(corpus)
    seconds["reading"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    chunks, units = [], []
    for doc in docs:
        c, _, u = chunk_document(doc, conf)
        chunks += c
        units += u
    seconds["chunking"] = time.perf_counter() - t0
    texts = [c.embed_text for c in chunks] + [units[r].embed_text for r in embedded_rows(units)]
    picked = texts if sample is None or sample >= len(texts) else texts[:: len(texts) // sample][:sample]
    scale = len(texts) / len(picked)
    tokenizer = getattr(embedder, "tokenizer", None)
    if tokenizer is not None:
        t0 = time.perf_counter()
        tokenizer([embedder.passage_prompt_text + t for t in picked])
        seconds["tokenising"] = (time.perf_counter() - t0) * scale
    model = {}
    for label, twin in _before_after(settings, embedder).items():
        t0 = time.perf_counter()
        twin.encode_passages(picked)
        model[label] = (time.perf_counter() - t0) * scale
    known = dict.fromkeys(texts, embedder.encode_passages(["warm"])[0])
    manifest = in_memory_manifest(conf, embedder, chunks, docs)
    t0 = time.perf_counter()
    index, _ = embed_index(chunks, embedder, manifest, units=units, known=known)
    seconds["indexing"] = time.perf_counter() - t0
    with tempfile.TemporaryDirectory(prefix="yibao-bench-stages-") as tmp:
        t0 = time.perf_counter()
        store.write_index(Path(tmp), index)
        seconds["writing"] = time.perf_counter() - t0
    rest = sum(seconds.values()) - seconds.get("tokenising", 0.0)  # the model time includes it
    chars = sum(len(d.text) for d in docs)
    total = {label: rest + model_s for label, model_s in model.items()}
    return {
        "corpus": str(corpus),
        "documents": len(docs),
        "source_chars": chars,
        "chunks": len(chunks),
        "texts": len(texts),
        "model_sample": len(picked),
        "seconds": {k: round(v, 2) for k, v in seconds.items()},
        "model_seconds": {k: round(v, 1) for k, v in model.items()},
        "texts_per_second": {k: round(len(texts) / v, 1) for k, v in model.items()},
        "source_chars_per_second": {k: round(chars / v, 1) for k, v in total.items()},
    }


def _before_after(settings: Settings, embedder: Embedder) -> dict[str, Embedder]:
    from index.embedding import load_embedder
    from index.embedding.threads import for_ingest

    uncapped = replace(settings, threads=1, embed_batch_tokens=UNCAPPED)
    return {"before": load_embedder(uncapped), "after": for_ingest(embedder)}


def full_ingest(corpus: Path, data_dir: Path, env: dict[str, str] | None = None) -> dict:
    """`yibao ingest` over ``corpus`` in a subprocess (with ``env`` added to this one's): its
    seconds, peak resident memory and how many texts it embedded.

    The peak is VmHWM, the high-water mark of the process's own memory: ``ru_maxrss`` also counts
    the memory of the bench process it was started from (the address space it had before exec).
    """
    env = {**os.environ, **(env or {}), "YIBAO_CORPUS_DIR": str(corpus), "YIBAO_DATA_DIR": str(data_dir)}
    code = (
        "import re, time, cli; t0 = time.perf_counter(); cli.main(['ingest']); "
        "print(time.perf_counter() - t0, "
        "re.search(r'VmHWM:\\s*(\\d+)', open('/proc/self/status').read()).group(1))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    )
    seconds, peak_kib = done.stdout.split()[-2:]
    embedded = re.search(r"\(embedded (\d+),", done.stdout)
    return {
        "seconds": round(float(seconds), 1),
        "peak_rss_mib": round(int(peak_kib) / 1024, 1),
        "embedded": int(embedded.group(1)) if embedded else 0,
    }


def measure(settings: Settings, embedder: Embedder, quick: bool) -> dict:
    rows = {}
    with tempfile.TemporaryDirectory(prefix="yibao-bench-5mb-") as tmp:
        synthetic = synthetic_corpus(
            Path(tmp) / "corpus", SYNTHETIC_BYTES // 20 if quick else SYNTHETIC_BYTES
        )
        if CMRC.is_dir() and not quick:
            rows["cmrc2018_trial"] = measure_corpus(settings, embedder, CMRC, None)
        row = measure_corpus(settings, embedder, synthetic, 32 if quick else SAMPLE)
        ingest = full_ingest(synthetic, Path(tmp) / "data")
        row["full_ingest"] = {
            **ingest,
            "source_chars_per_second": round(row["source_chars"] / ingest["seconds"], 1),
        }
        rows["synthetic_5mb"] = row
    return {"rows": rows, "threads_after": os.cpu_count() or 1}
