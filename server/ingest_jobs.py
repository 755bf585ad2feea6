"""Changes to the corpus from the admin as background jobs (server/jobs.py): an upload, a delete
or a re-ingest runs `yibao ingest` (with ``--edit`` for an upload or a delete) in a process of its
own, all or nothing, while questions are answered from the previous index.

What can be judged without reading the files is judged here, before anything is queued (a clear
4xx): names, types, counts, empty files, a name already in the corpus or in a queued or running
upload, a document to delete that is not there. Reading the files is the job's: a file that
cannot be read fails the job with its reason, and nothing changes. The request's checks and the
queueing are one step, so that two uploads of one name cannot both pass."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path
from typing import BinaryIO

from index.edit_request import EditRequest
from server.jobs import FINISHED, INPUTS, Job, Jobs
from server.upload_names import BadUpload, check_batch
from settings import Settings

UPLOAD, DELETE, REINGEST = "upload", "delete", "reingest"
KINDS = (UPLOAD, DELETE, REINGEST)
EDIT_FILE = "edit.json"
_SHOWN_NAMES = 3  # in a job's title; the job lists them all
# Checking names against the corpus and the queued uploads, then queueing: one request at a time.
_queueing = threading.Lock()


def submit_upload(jobs: Jobs, settings: Settings, files: list[tuple[str, BinaryIO]], overwrite: bool) -> Job:
    """Queue the upload of ``files`` (names already cleaned, each with its open file), or
    BadUpload when the names clash."""
    names = [name for name, _ in files]
    with _queueing:
        check_batch(names, _corpus_names(settings), overwrite, settings, _pending_uploads(jobs))

        def prepare(folder: Path) -> list[str]:
            (folder / INPUTS).mkdir()
            add = {}
            for n, (name, data) in enumerate(files):
                # Numbered names keep the type (readers go by the suffix) and nothing of a user's name.
                path = folder / INPUTS / f"{n}{Path(name).suffix.lower()}"
                data.seek(0)
                with open(path, "wb") as fh:
                    shutil.copyfileobj(data, fh)
                add[name] = path
            return _edit(folder, EditRequest(add=add))

        return jobs.submit(UPLOAD, _title("上传并导入", names), prepare, files=names, resumable=True)


def submit_delete(jobs: Jobs, docs: list[str], known: set[str]) -> Job:
    """Queue the removal of ``docs``, or BadUpload (404) naming those not in the corpus."""
    unknown = sorted(set(docs) - known)
    if not docs or unknown:
        raise BadUpload(404, f"语料中没有这个文件 / not in the corpus: {', '.join(unknown) or '(none)'}")
    names = sorted(set(docs))

    def prepare(folder: Path) -> list[str]:
        return _edit(folder, EditRequest(remove=tuple(names)))

    with _queueing:
        return jobs.submit(DELETE, _title("删除", names), prepare, files=names, resumable=True)


def submit_reingest(jobs: Jobs) -> Job:
    """Queue `yibao ingest`: files changed in the corpus dir by hand."""
    with _queueing:
        return jobs.submit(REINGEST, "重新导入语料目录", lambda folder: ["ingest"], resumable=True)


def outcome(job: Job) -> str | None:
    """What a finished corpus job did, in the words the admin page shows."""
    if job.kind not in KINDS or job.state != "done" or not isinstance(job.result, dict):
        return None
    result = job.result
    if job.kind == UPLOAD:
        changed = ", ".join(result.get("changed") or []) or "(内容未变 / unchanged)"
        return f"已上传并导入 / uploaded and indexed: {changed}"
    if job.kind == DELETE:
        return f"已删除 / deleted: {', '.join(result.get('removed') or job.files)}"
    if result.get("unchanged"):
        return "索引已是最新 / the index was up to date"
    return f"已重新导入 / re-ingested: {result.get('chunks')} chunks"


def _edit(folder: Path, request: EditRequest) -> list[str]:
    request.write(folder / EDIT_FILE)
    return ["ingest", "--edit", str(folder / EDIT_FILE)]


def _pending_uploads(jobs: Jobs) -> frozenset[str]:
    unfinished = [job for job in jobs.list() if job.kind == UPLOAD and job.state not in FINISHED]
    return frozenset(name for job in unfinished for name in job.files)


def _corpus_names(settings: Settings) -> set[str]:
    return {p.name for p in settings.corpus_dir.iterdir()} if settings.corpus_dir.is_dir() else set()


def _title(action: str, names: list[str]) -> str:
    shown = "、".join(names[:_SHOWN_NAMES])
    return f"{action} {shown}" + (f" 等 {len(names)} 个文件" if len(names) > _SHOWN_NAMES else "")
