"""A library indexed from scratch: the shared cmrc2018_train corpus (2,403 passages, 1.22 million
characters), or an evenly spread slice of it, on the configured backend and through an embedding
engine with 1 and 2 requests in flight (YIBAO_EMBED_CONCURRENCY).

Each row is `yibao ingest` in a subprocess over a fresh data dir, as a user runs it: its wall
time, peak memory (VmHWM), the texts it embedded and texts per second of the whole ingest. The
engine is the one YIBAO_EMBED_URL names, else Infinity started here from .venv-engine
(`make engine`) serving the built-in model on this machine's CPU; its peak memory is its own.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from bench.engine import SERVED_NAME, InfinityServer, infinity_binary
from bench.http_load import free_port
from bench.ingest_stages import full_ingest
from settings import BUILTIN_MODEL, ROOT, Settings

CMRC_TRAIN = ROOT.parent / "shared" / "evalsets" / "cmrc2018_train" / "corpus"
QUICK_FILES = 20
CONCURRENCY = (1, 2)


def spread(files: list[Path], n: int | None) -> list[Path]:
    """``n`` of ``files`` taken evenly from the whole list (all of them when ``n`` is None)."""
    if n is None or n >= len(files):
        return files
    step = len(files) / n
    return [files[int(i * step)] for i in range(n)]


def measure(
    settings: Settings,
    corpus: Path = CMRC_TRAIN,
    files: int | None = None,
    quick: bool = False,
    log: Callable[[str], None] = print,
) -> dict:
    """One row per run: the configured backend, then the engine with 1 and 2 requests in flight."""
    from ingest.pipeline import read_corpus

    everything = sorted(p for p in corpus.rglob("*") if p.is_file())
    picked = spread(everything, QUICK_FILES if quick and files is None else files)
    with tempfile.TemporaryDirectory(prefix="yibao-bench-library-") as tmp_name:
        tmp = Path(tmp_name)
        library = tmp / "corpus"
        for path in picked:
            target = library / path.relative_to(corpus)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
        documents, _ = read_corpus(library)
        local = full_ingest(library, tmp / "local", {"YIBAO_BACKEND": settings.backend})
        rows = [_row(settings.backend, None, local)]
        log(f"library: {settings.backend}: {rows[-1]}")
        with _engine(settings, tmp / "engine.log") as (url, model, server):
            if not url:
                rows.append({"backend": "remote", "skipped": model})
            for concurrency in CONCURRENCY if url else ():
                env = {
                    "YIBAO_BACKEND": "remote",
                    "YIBAO_EMBED_URL": url,
                    "YIBAO_EMBED_MODEL": model,
                    "YIBAO_EMBED_CONCURRENCY": str(concurrency),
                }
                rows.append(
                    _row("remote", concurrency, full_ingest(library, tmp / f"remote-{concurrency}", env))
                )
                log(f"library: remote, {concurrency} in flight: {rows[-1]}")
            engine_peak = server.peak_rss_mib() if server else None
    characters = sum(len(d.text) for d in documents)
    for row in rows:
        if row.get("seconds"):
            row["chars_per_second"] = round(characters / row["seconds"])
    return {
        "corpus": str(corpus),
        "files": len(picked),
        "of_files": len(everything),
        "characters": characters,
        "engine": f"{settings.embed_model} at {settings.embed_url}"
        if settings.embed_url
        else "Infinity (torch, CPU) on this machine, started for the run",
        "engine_peak_rss_mib": engine_peak,
        "rows": rows,
    }


def _row(backend: str, concurrency: int | None, run: dict) -> dict:
    return {
        "backend": backend,
        "concurrency": concurrency,
        "seconds": run["seconds"],
        "texts": run["embedded"],
        "texts_per_second": round(run["embedded"] / run["seconds"], 1) if run["seconds"] else None,
        "peak_rss_mib": run["peak_rss_mib"],
    }


@contextlib.contextmanager
def _engine(settings: Settings, log_path: Path) -> Iterator[tuple[str, str, InfinityServer | None]]:
    """(url, model, server) of the engine to measure: YIBAO_EMBED_URL's, else Infinity started
    here for the built-in model; ("", why not, None) when there is none."""
    if settings.embed_url:
        yield settings.embed_url, settings.embed_model, None
        return
    binary = infinity_binary()
    if binary is None or settings.model != BUILTIN_MODEL:
        yield "", "not measured: no engine (set YIBAO_EMBED_URL, or `make engine` for Infinity)", None
        return
    from index.embedding.e5_model import ensure_e5_folder

    server = InfinityServer(binary, ensure_e5_folder(settings.model_cache), free_port(), log_path)
    server.start()
    try:
        yield server.url, SERVED_NAME, server
    finally:
        server.kill()
