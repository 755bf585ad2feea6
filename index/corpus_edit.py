"""Adding, replacing and removing corpus files so that the corpus dir and the live index never
disagree, whatever fails or is killed on the way.

An edit is staged in a hidden folder of the corpus dir (the same file system, so moving a file in
is a rename) together with a plan that names the index version the edit starts from. The ingest
then reads the corpus as if the edit were done (ingest.records.CorpusEdit) and only once its index
is live are the files moved in or removed. An ingest that fails discards the staging folder and the
corpus is untouched; a process killed at any point leaves the plan behind, and the next edit,
ingest or server start completes it if CURRENT moved on (the index already holds the edit) or
discards it if not.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from index import store
from ingest.records import CorpusEdit
from settings import Settings

log = logging.getLogger(__name__)

STAGING = ".yibao-staging"  # hidden: corpus readers never see it
_PLAN = "plan.json"


def stage(settings: Settings, add: dict[str, bytes | BinaryIO], remove: Iterable[str]) -> CorpusEdit:
    """Write the files to add (their bytes, or open files copied from where they are) and the
    plan; the caller holds the ingest lock."""
    staging = settings.corpus_dir / STAGING
    shutil.rmtree(staging, ignore_errors=True)
    (staging / "files").mkdir(parents=True)
    added: dict[str, Path] = {}
    for n, (name, data) in enumerate(add.items()):
        # Numbered names keep the type (readers go by the suffix) and nothing of a user's name.
        staged = staging / "files" / f"{n}{Path(name).suffix.lower()}"
        if isinstance(data, bytes):
            store.write_synced(staged, data)
        else:
            data.seek(0)
            with open(staged, "wb") as fh:
                shutil.copyfileobj(data, fh)
            store.fsync(staged)
        added[name] = staged
    live = store.current_version(settings.index_dir)
    plan = {
        "from": live.name if live else None,
        "added": {name: path.name for name, path in added.items()},
        "removed": sorted(set(remove)),
    }
    store.write_synced(staging / f"{_PLAN}.tmp", json.dumps(plan, ensure_ascii=False))
    os.replace(staging / f"{_PLAN}.tmp", staging / _PLAN)
    store.fsync(staging)
    return CorpusEdit(added=added, removed=frozenset(plan["removed"]))


def complete(settings: Settings) -> None:
    """Carry out the staged plan on the corpus dir (the index already holds it); idempotent."""
    staging = settings.corpus_dir / STAGING
    plan = _read_plan(staging)
    if plan is not None:
        for name in plan["removed"]:
            _inside(settings.corpus_dir, name).unlink(missing_ok=True)
        for name, staged in plan["added"].items():
            source = staging / "files" / staged
            if source.exists():
                os.replace(source, _inside(settings.corpus_dir, name))
        store.fsync(settings.corpus_dir)
    shutil.rmtree(staging, ignore_errors=True)


def discard(settings: Settings) -> None:
    """Drop a staged edit whose ingest did not go live; the corpus dir was never touched."""
    shutil.rmtree(settings.corpus_dir / STAGING, ignore_errors=True)


def recover(settings: Settings) -> None:
    """Finish or drop an edit that a killed process left behind; the caller holds the ingest lock."""
    staging = settings.corpus_dir / STAGING
    if not staging.exists():
        return
    plan = _read_plan(staging)
    live = store.current_version(settings.index_dir)
    if plan is not None and (live.name if live else None) != plan["from"]:
        log.warning("completing a corpus edit interrupted after its index went live: %s", plan)
        complete(settings)
    else:
        log.warning("discarding a corpus edit interrupted before its index went live")
        discard(settings)


def _inside(corpus_dir: Path, name: str) -> Path:
    """The corpus path of ``name``; refuses anything that would land outside the corpus dir."""
    path = corpus_dir / name
    # The parent is resolved, not the file: removing a link removes the link, wherever it points.
    if ".." in Path(name).parts or not path.parent.resolve().is_relative_to(corpus_dir.resolve()):
        raise ValueError(f"{name!r} is not a path inside the corpus dir")
    return path


def _read_plan(staging: Path) -> dict | None:
    try:
        plan = json.loads((staging / _PLAN).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # killed before the plan was complete: nothing of the edit went anywhere
    return plan if isinstance(plan, dict) and {"from", "added", "removed"} <= set(plan) else None
