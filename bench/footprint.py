"""What one `yibao serve` process costs, per inference backend: start-up time and resident memory.

Per backend, `yibao ingest` first builds that backend's index into a temporary data dir (and its
ONNX export, once), so that the measured start is the everyday one: model and index on disk,
nothing to build. Then the server is started, timed until /healthz answers, asked 100 questions
by one client, and its resident set (VmRSS) read; whether it mapped torch's library is read from
/proc/<pid>/maps, the proof that the lean backends stay lean.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from bench.http_load import run_clients, running_server, server_env
from settings import ROOT, Settings

ASKS = 100


def measure(
    settings: Settings,
    questions: list[str],
    backends: tuple[str, ...],
    asks: int = ASKS,
    log: Callable[[str], None] = print,
) -> dict:
    """One row per backend: ``startup_seconds``, ``rss_mib`` after ``asks`` asks, ``torch_loaded``."""
    rows: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="yibao-bench-footprint-") as tmp:
        for name in backends:
            log(f"bench: footprint of `yibao serve` on {name}")
            conf = replace(settings, backend=name, data_dir=Path(tmp) / name)
            subprocess.run(
                [sys.executable, "-m", "cli", "ingest"],
                cwd=ROOT,
                env=server_env(conf),
                check=True,
                capture_output=True,
            )
            started = time.perf_counter()
            with running_server(conf) as server:
                startup = time.perf_counter() - started
                load = run_clients(server, questions, 1, asks)
                rows[name] = {
                    "startup_seconds": round(startup, 1),
                    "asks": len(load.latencies),
                    "errors": load.errors,
                    **server.status(),
                    "torch_loaded": _maps_torch(server.process.pid),
                }
    return {"asks": asks, "backends": rows}


def _maps_torch(pid: int) -> bool:
    return "libtorch" in Path(f"/proc/{pid}/maps").read_text()
