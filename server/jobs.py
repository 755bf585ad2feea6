"""Background jobs: a `yibao` command run in a subprocess, one at a time, its state kept on disk.

A job is queued, then running, then done, failed (with the reason) or cancelled. The command
reports its progress in a file (``--progress FILE``: JSON with ``done``, ``total``, ``unit``,
``stage``, ``since`` and at the end ``result``, replaced whole at each write), which the runner
reads; the server never imports what the command runs (the evaluator, the ingest), it reads its
output as data. Each job keeps a folder in the data dir (jobs/<id>/: job.json, progress.json,
output.log and its inputs), so a job outlives the request that started it: a job left running by
a server that died is reported failed at the next start (its process is stopped if it still
runs), and queued jobs run then."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path

from settings import ROOT, Settings

log = logging.getLogger(__name__)

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
FINISHED = (DONE, FAILED, CANCELLED)
PROGRESS_FILE = "progress.json"
_POLL_SECONDS = 0.5
_STOP_SECONDS = 10.0  # after SIGTERM, before SIGKILL
_ID = re.compile(r"^[0-9a-f]{32}$")
INTERRUPTED = "服务器重启，任务中断 / interrupted: the server stopped while it ran"


@dataclass
class Job:
    id: str
    kind: str  # what it does: "eval" (later "ingest")
    title: str  # what the admin page shows
    args: list[str]  # the `yibao` command's arguments
    state: str = QUEUED
    number: int = 0  # the order jobs were submitted in (and run in)
    created_at: str = ""
    started_at: str | None = None
    finished_at: str | None = None
    reason: str | None = None  # why it failed or was cancelled
    done: int = 0
    total: int | None = None
    unit: str = ""
    stage: str = ""
    result: str | None = None  # what the command made (an eval: the report's id)
    pid: int | None = None
    # When the command started counting and when it last wrote (the progress file's clock, seconds
    # since the epoch): the rate and the ETA.
    since: float | None = None
    updated: float | None = None

    @property
    def finished(self) -> bool:
        return self.state in FINISHED

    @property
    def rate(self) -> float | None:
        """Units per second since the command started counting."""
        if self.since is None or self.updated is None or self.updated <= self.since or not self.done:
            return None
        return self.done / (self.updated - self.since)

    @property
    def eta_seconds(self) -> float | None:
        rate = self.rate
        if self.state != RUNNING or rate is None or self.total is None:
            return None
        return max(self.total - self.done, 0) / rate

    def to_dict(self) -> dict:
        rate, eta = self.rate, self.eta_seconds
        return {
            **{k: v for k, v in asdict(self).items() if k not in ("pid", "since", "updated", "args")},
            "progress": {"done": self.done, "total": self.total, "unit": self.unit},
            "rate_per_second": None if rate is None else round(rate, 2),
            "eta_seconds": None if eta is None else round(eta, 1),
        }

    @classmethod
    def from_dict(cls, data: dict) -> Job:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


class JobError(ValueError):
    """A job that cannot be started or changed, with the status and message to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Jobs:
    def __init__(self, settings: Settings) -> None:
        self.folder = settings.jobs_dir
        self.keep = settings.history_kept
        self._env = {**os.environ, **settings.to_env(), "PYTHONUNBUFFERED": "1"}
        self._lock = threading.Condition()
        self._jobs: dict[str, Job] = {}
        self._cancelled: set[str] = set()
        self._thread: threading.Thread | None = None
        self._closing = False

    # ------------------------------------------------------------ life

    def start(self) -> None:
        """Load the jobs on disk, report the interrupted ones, and start running the queue."""
        self._recover()
        self._thread = threading.Thread(target=self._run_queue, name="jobs", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop the running job (reported failed: interrupted) and the runner."""
        with self._lock:
            self._closing = True
            self._lock.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=_STOP_SECONDS + 5)
            self._thread = None

    # ------------------------------------------------------------ the API

    def submit(self, kind: str, title: str, prepare: Callable[[Path], list[str]]) -> Job:
        """Queue a job. ``prepare`` writes the job's inputs into its folder and returns the command's
        arguments; whatever it raises (a bad upload) leaves nothing behind."""
        job_id = uuid.uuid4().hex
        folder = self.folder / job_id
        try:
            folder.mkdir(parents=True)
            args = prepare(folder)
        except OSError as exc:
            shutil.rmtree(folder, ignore_errors=True)
            reason = exc.strerror or exc
            raise JobError(
                503, f"无法写入数据目录，未开始任务 / cannot write the data dir: {reason}"
            ) from None
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        with self._lock:
            number = max((j.number for j in self._jobs.values()), default=0) + 1
            job = Job(job_id, kind, title, args, number=number, created_at=_now())
            self._jobs[job_id] = job
            self._save(job)
            self._lock.notify_all()
        self._prune()
        return job

    def get(self, job_id: str) -> Job | None:
        if not _ID.match(job_id):
            return None
        with self._lock:
            return self._jobs.get(job_id)

    def list(self) -> list[Job]:
        """Newest first."""
        with self._lock:
            return sorted(self._jobs.values(), key=lambda j: j.number, reverse=True)

    def cancel(self, job_id: str) -> Job:
        """Cancel a queued job, or stop a running one and wait (a few seconds) until it has stopped."""
        with self._lock:
            job = self.get(job_id)
            if job is None:
                raise JobError(404, f"没有这个任务 / no such job: {job_id}")
            if job.finished:
                raise JobError(409, f"任务已结束（{job.state}）/ the job has already finished ({job.state})")
            if job.state == QUEUED:
                self._finish(job, CANCELLED, "已取消 / cancelled")
            else:
                self._cancelled.add(job_id)  # the runner stops the process
                self._lock.wait_for(lambda: job.finished, timeout=_STOP_SECONDS + 5)
            return job

    def output(self, job: Job, tail_bytes: int = 8192) -> str:
        """The end of what the command printed."""
        try:
            with open(self.folder / job.id / "output.log", "rb") as fh:
                fh.seek(max(fh.seek(0, os.SEEK_END) - tail_bytes, 0))
                return fh.read().decode("utf-8", errors="replace")
        except OSError:
            return ""

    # ------------------------------------------------------------ the runner

    def _run_queue(self) -> None:
        while True:
            with self._lock:
                while not self._closing and not (queued := self._queued()):
                    self._lock.wait()
                if self._closing:
                    return
                job = queued[0]
                job.state, job.started_at = RUNNING, _now()
                self._save(job)
            try:
                self._run(job)
            except Exception as exc:  # a job must never take the runner down with it
                log.exception("job %s failed to run", job.id)
                with self._lock:
                    self._finish(job, FAILED, f"无法运行 / could not run: {exc}")

    def _queued(self) -> list[Job]:
        return sorted((j for j in self._jobs.values() if j.state == QUEUED), key=lambda j: j.number)

    def _run(self, job: Job) -> None:
        folder = self.folder / job.id
        progress = folder / PROGRESS_FILE
        command = [sys.executable, "-m", "cli", *job.args, "--progress", str(progress)]
        with open(folder / "output.log", "wb") as out:
            process = subprocess.Popen(command, cwd=ROOT, env=self._env, stdout=out, stderr=subprocess.STDOUT)
        with self._lock:
            job.pid = process.pid
            self._save(job)
        stop_reason = None
        while process.poll() is None:
            time.sleep(_POLL_SECONDS)
            with self._lock:
                self._read_progress(job, progress)
                if job.id in self._cancelled:
                    stop_reason = (CANCELLED, "已取消 / cancelled")
                elif self._closing:
                    stop_reason = (FAILED, INTERRUPTED)
            if stop_reason:
                _stop(process)
                break
        with self._lock:
            self._read_progress(job, progress)
            self._cancelled.discard(job.id)
            if stop_reason:
                self._finish(job, *stop_reason)
            elif process.returncode == 0:
                self._finish(job, DONE, None)
            else:
                self._finish(job, FAILED, _failure(self.output(job), process.returncode))

    def _read_progress(self, job: Job, path: Path) -> None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return  # not written yet (the command is loading the model)
        if not isinstance(data, dict):
            return
        for key, kind in (("done", int), ("total", int), ("unit", str), ("stage", str), ("result", str)):
            if isinstance(data.get(key), kind):
                setattr(job, key, data[key])
        for key in ("since", "updated"):
            if isinstance(data.get(key), int | float):
                setattr(job, key, float(data[key]))
        self._save(job)

    def _finish(self, job: Job, state: str, reason: str | None) -> None:
        job.state, job.reason, job.finished_at, job.pid = state, reason, _now(), None
        self._save(job)
        self._lock.notify_all()

    # ------------------------------------------------------------ on disk

    def _save(self, job: Job) -> None:
        folder = self.folder / job.id
        tmp = folder / "job.json.tmp"
        try:
            tmp.write_text(json.dumps(asdict(job), ensure_ascii=False, indent=1), encoding="utf-8")
            tmp.replace(folder / "job.json")
        except OSError as exc:  # a full disk: the job goes on, its record on disk lags behind
            log.warning("could not save job %s: %s", job.id, exc)

    def _recover(self) -> None:
        if not self.folder.is_dir():
            return
        for path in self.folder.glob("*/job.json"):
            try:
                job = Job.from_dict(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError, TypeError) as exc:
                log.warning("unreadable job record %s: %s", path, exc)
                continue
            with self._lock:
                if job.state == RUNNING:
                    _stop_orphan(job.pid, self.folder / job.id)
                    self._finish(job, FAILED, INTERRUPTED)
                    log.warning("job %s (%s) was interrupted by a restart", job.id, job.title)
                self._jobs[job.id] = job

    def _prune(self) -> None:
        """Keep the newest finished jobs (``history_kept``); queued and running ones always."""
        with self._lock:
            finished = [j for j in self.list() if j.finished]
            for job in finished[self.keep :]:
                del self._jobs[job.id]
                shutil.rmtree(self.folder / job.id, ignore_errors=True)


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=_STOP_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _stop_orphan(pid: int | None, folder: Path) -> None:
    """A job's process that outlived its server (killed with SIGKILL) still runs: stop it, but
    only if that pid is still this job's command (its arguments name the job's folder)."""
    if not pid:
        return
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return
    if str(folder) in cmdline:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)


def _failure(output: str, returncode: int) -> str:
    """The command's own message: its last `error:` line, else its last line."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:") or "Error" in line.split(":")[0]]
    last = (errors or lines or [f"exit status {returncode}"])[-1]
    return f"命令失败（退出码 {returncode}）/ the command failed: {last[:500]}"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
