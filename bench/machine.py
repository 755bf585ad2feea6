"""What the benchmark ran on: cores, CPU model, memory, load and library versions."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

# One process hashing 16 MiB blocks (hashlib drops the GIL; nothing else runs in it).
_PROBE = "import hashlib,os;b=os.urandom(1<<24);[hashlib.sha256(b).digest() for _ in range({n})]"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ram_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def load_average() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def cpu_capacity(blocks: int = 96) -> dict:
    """How many cores' worth of work the machine delivers: the same hashing in one process, then
    split over one process per core. A VM whose vCPUs share a smaller quota shows fewer
    effective cores than ``nproc`` and then no thread setting can reach ``nproc`` busy cores."""
    cores = os.cpu_count() or 1

    def run(processes: int) -> float:
        t0 = time.perf_counter()
        procs = [
            subprocess.Popen([sys.executable, "-c", _PROBE.format(n=blocks // processes)])
            for _ in range(processes)
        ]
        for proc in procs:
            proc.wait()
        return time.perf_counter() - t0

    one = min(run(1) for _ in range(2))
    many = min(run(cores) for _ in range(2))
    return {
        "one_process_s": round(one, 2),
        f"{cores}_processes_s": round(many, 2),
        "effective_cores": round(one / many, 2),
    }


def describe() -> dict:
    import faiss
    import torch

    return {
        "nproc": os.cpu_count(),
        "cpu": _cpu_model(),
        "ram_gib": _ram_gib(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "faiss": faiss.__version__,
        "faiss_omp_threads": faiss.omp_get_max_threads(),
        "sentence_transformers": _version("sentence-transformers"),
        "transformers": _version("transformers"),
        "numpy": _version("numpy"),
        "onnxruntime": _version("onnxruntime"),
        "load_average_start": load_average(),
        "cpu_capacity": cpu_capacity(),
    }
