"""Derived model files (the assembled e5 folder, its ONNX export) built once per machine, safely.

Several processes (CLI, server, test workers) may start at once: one builds under a file lock,
the others wait and then use its result. A build goes to a temporary folder that replaces the
target in one rename, and a marker listing every file with its size is written last, so a
folder cut short by a crash or a full disk is never taken for a finished one.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

log = logging.getLogger(__name__)

MARKER = "BUILD_COMPLETE.json"


def is_complete(folder: Path) -> bool:
    """True if ``folder`` holds a finished build: marker present and every listed file of the right size."""
    return read_marker(folder) is not None


def read_marker(folder: Path) -> dict | None:
    """The marker of a finished build (without its file list), or None."""
    try:
        marker = json.loads((folder / MARKER).read_text(encoding="utf-8"))
        files = marker.pop("files")
        complete = bool(files) and all((folder / name).stat().st_size == size for name, size in files.items())
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return marker if complete else None


def write_marker(folder: Path, info: dict) -> None:
    """Record ``info`` and every file's size; call it last in a build."""
    files = {
        p.relative_to(folder).as_posix(): p.stat().st_size for p in sorted(folder.rglob("*")) if p.is_file()
    }
    text = json.dumps({**info, "files": files}, indent=2, ensure_ascii=False) + "\n"
    (folder / MARKER).write_text(text, encoding="utf-8")


def build_once(
    folder: Path, build: Callable[[Path], None], usable: Callable[[Path], bool] = is_complete
) -> Path:
    """``folder``, built by ``build(tmp)`` (which ends with ``write_marker``) unless ``usable`` already."""
    if usable(folder):
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    with _exclusive(folder.parent / f".{folder.name}.lock"):
        if usable(folder):
            return folder
        log.info("building %s (once)", folder)
        started = time.perf_counter()
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=folder.parent))
        try:
            tmp.chmod(0o755)  # mkdtemp's 0700 would otherwise stick to the finished folder
            build(tmp)
            if folder.exists():  # an incomplete or outdated earlier build
                shutil.rmtree(folder)
            os.replace(tmp, folder)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        log.info("built %s in %.1f s", folder, time.perf_counter() - started)
    return folder


@contextlib.contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    with open(lock_path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
