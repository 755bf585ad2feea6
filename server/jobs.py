"""Background jobs: a `yibao` command run in a subprocess, one at a time, its state kept on disk.

A job is queued, then running, then done, failed (with the reason) or cancelled. The command
reports its progress in a file (``--progress FILE``: JSON with ``done``, ``total``, ``unit``,
``stage``, ``since``, ``committing`` and at the end ``result``, replaced whole at each write),
which the runner reads; the server never imports what the command runs (the evaluator, the
ingest), it reads its output as data. Each job keeps a folder in the data dir (jobs/<id>/:
job.json, progress.json, output.log and its inputs; an ``inputs/`` folder is dropped once the job
has finished), so a job outlives the request that started it. Commands run at a lower CPU
priority than the server, so that questions are answered first.

A job is stopped with SIGTERM (cancelled, or its server stopping), and SIGKILL if it has not
stopped after a few seconds, unless its progress says it is ``committing`` (past the point where
it can stop: an ingest writing its index): then it is left to finish, and reported done. A job
left running by a server that stopped or died is resumed at the next start if it is
``resumable`` (corpus changes: all or nothing, and the embedding cache keeps what was embedded),
at most a few times, else reported failed; its process is stopped first if it still runs. Queued
jobs run then."""

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
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path

from settings import ROOT, Settings

log = logging.getLogger(__name__)

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
FINISHED = (DONE, FAILED, CANCELLED)
PROGRESS_FILE = "progress.json"
INPUTS = "inputs"
_POLL_SECONDS = 0.5
_STOP_SECONDS = 10.0  # after SIGTERM, before SIGKILL
_COMMIT_SECONDS = 300.0  # the longest a committing command is waited for
_NICE = 10  # jobs' CPU priority below the server's
_MAX_RESUMES = 3
_ID = re.compile(r"^[0-9a-f]{32}$")
INTERRUPTED = "服务器重启，任务中断 / interrupted: the server stopped while it ran"
RESUMING = "服务器重启，任务将继续 / the server restarted: the job goes on"
TOO_LATE = "取消时任务已在写入结果，已完成 / it was already writing its result when cancelled: done"


@dataclass
class Job:
    id: str
    kind: str  # what it does: "eval", "upload", "delete", "reingest"
    title: str  # what the admin page shows
    args: list[str]  # the `yibao` command's arguments
    files: list[str] = field(default_factory=list)  # the corpus files it changes
    resumable: bool = False  # run again after a restart interrupted it (else: failed)
    restarts: int = 0  # how often it was interrupted by a restart and resumed
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
    # What the command made: an eval its report's id, an ingest what changed (BuildReport.to_dict).
    result: str | dict | None = None
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
    def __init__(self, settings: Settings, on_done: Callable[[Job], None] | None = None) -> None:
        """``on_done`` is called when a command has succeeded, before its job is reported done
        (the server switches to the index an ingest wrote)."""
        self.folder = settings.jobs_dir
        self.keep = settings.history_kept
        self.on_done = on_done
        self._env = {**os.environ, **settings.to_env(), "PYTHONUNBUFFERED": "1"}
        self._lock = threading.Condition()
        self._jobs: dict[str, Job] = {}
        self._cancelled: set[str] = set()
        self._orphans: list[tuple[int, Path]] = []  # processes of jobs a dead server left running
        self._thread: threading.Thread | None = None
        self._closing = False

    # ------------------------------------------------------------ life

    def start(self) -> None:
        """Load the jobs on disk, report the interrupted ones, and start running the queue."""
        self._recover()
        self._thread = threading.Thread(target=self._run_queue, name="jobs", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop the running job (to resume at the next start, or reported failed: interrupted)
        and the runner."""
        with self._lock:
            self._closing = True
            self._lock.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=_STOP_SECONDS + 5)
            self._thread = None

    # ------------------------------------------------------------ the API

    def submit(
        self,
        kind: str,
        title: str,
        prepare: Callable[[Path], list[str]],
        *,
        files: list[str] | None = None,
        resumable: bool = False,
    ) -> Job:
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
            job = Job(
                job_id,
                kind,
                title,
                args,
                files=list(files or ()),
                resumable=resumable,
                number=number,
                created_at=_now(),
            )
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
        """Cancel a queued job, or stop a running one and wait (a few seconds) until it has stopped;
        a job past the point where it can stop goes on to done."""
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
        for pid, folder in self._orphans:
            _stop_orphan(pid, folder)
        self._orphans.clear()
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
        progress.unlink(missing_ok=True)  # what a resumed job's last run wrote
        command = [sys.executable, "-m", "cli", *job.args, "--progress", str(progress)]
        with open(folder / "output.log", "wb") as out:
            process = subprocess.Popen(command, cwd=ROOT, env=self._env, stdout=out, stderr=subprocess.STDOUT)
        with contextlib.suppress(OSError):  # before it starts its threads, which inherit it
            os.setpriority(os.PRIO_PROCESS, process.pid, _NICE)
        with self._lock:
            job.pid = process.pid
            self._save(job)
        stopping = None  # why the runner stopped it: cancelled, or the server closing
        while process.poll() is None:
            time.sleep(_POLL_SECONDS)
            with self._lock:
                self._read_progress(job, progress)
                if job.id in self._cancelled:
                    stopping = CANCELLED
                elif self._closing:
                    stopping = FAILED
            if stopping:
                _stop(process, progress)
                break
        with self._lock:
            self._read_progress(job, progress)
            self._cancelled.discard(job.id)
        if process.returncode == 0:  # finished, on its own or past the point where it could stop
            self._succeeded(job, TOO_LATE if stopping == CANCELLED else None)
            return
        with self._lock:
            if stopping == CANCELLED:
                self._finish(job, CANCELLED, "已取消 / cancelled")
            elif stopping:
                self._interrupted(job)
            else:
                self._finish(job, FAILED, _failure(self.output(job), process.returncode))

    def _succeeded(self, job: Job, note: str | None) -> None:
        if self.on_done is not None:
            try:
                self.on_done(job)
            except Exception:  # what the command did is done; the server catches up later
                log.exception("after job %s", job.id)
        with self._lock:
            self._finish(job, DONE, note)

    def _interrupted(self, job: Job) -> None:
        """A job a restart stopped: queued again to resume, or failed."""
        if not job.resumable or job.restarts >= _MAX_RESUMES:
            self._finish(job, FAILED, INTERRUPTED)
            return
        job.state, job.stage, job.pid, job.restarts = QUEUED, RESUMING, None, job.restarts + 1
        job.since = job.updated = None
        self._save(job)

    def _read_progress(self, job: Job, path: Path) -> None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return  # not written yet (the command is loading the model)
        if not isinstance(data, dict):
            return
        for key, kind in (
            ("done", int),
            ("total", int),
            ("unit", str),
            ("stage", str),
            ("result", str | dict),
        ):
            if isinstance(data.get(key), kind):
                setattr(job, key, data[key])
        for key in ("since", "updated"):
            if isinstance(data.get(key), int | float):
                setattr(job, key, float(data[key]))
        self._save(job)

    def _finish(self, job: Job, state: str, reason: str | None) -> None:
        job.state, job.reason, job.finished_at, job.pid = state, reason, _now(), None
        self._save(job)
        shutil.rmtree(self.folder / job.id / INPUTS, ignore_errors=True)  # no longer needed
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
                    if job.pid:  # its process, if it still runs, is stopped before anything runs
                        self._orphans.append((job.pid, self.folder / job.id))
                    self._interrupted(job)
                    what = "resumes" if job.state == QUEUED else "failed"
                    log.warning("job %s (%s) was interrupted by a restart: it %s", job.id, job.title, what)
                self._jobs[job.id] = job

    def _prune(self) -> None:
        """Keep the newest finished jobs (``history_kept``); queued and running ones always."""
        with self._lock:
            finished = [j for j in self.list() if j.finished]
            for job in finished[self.keep :]:
                del self._jobs[job.id]
                shutil.rmtree(self.folder / job.id, ignore_errors=True)


def _stop(process: subprocess.Popen, progress: Path) -> None:
    process.terminate()
    started = time.monotonic()
    while process.poll() is None:
        if _kill_now(started, progress):
            process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=_POLL_SECONDS)


def _kill_now(started: float, progress: Path) -> bool:
    """Whether a command sent SIGTERM at ``started`` has had its time: a few seconds, or longer
    while it is committing (its ``progress`` file says so)."""
    waited = time.monotonic() - started
    if waited > _COMMIT_SECONDS:
        return True
    if waited < _STOP_SECONDS:
        return False
    try:
        return json.loads(progress.read_text(encoding="utf-8")).get("committing") is not True
    except (OSError, ValueError, AttributeError):
        return True


def _stop_orphan(pid: int, folder: Path) -> None:
    """A job's process that outlived its server (killed with SIGKILL) still runs: stop it, but
    only if that pid is still this job's command (its arguments name the job's folder), and wait
    until it is gone (it may hold the ingest lock)."""
    if not _runs_in(pid, folder):
        return
    with contextlib.suppress(OSError):
        os.kill(pid, signal.SIGTERM)
    started = time.monotonic()
    while _runs_in(pid, folder):
        if _kill_now(started, folder / PROGRESS_FILE):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(_POLL_SECONDS)


def _runs_in(pid: int, folder: Path) -> bool:
    """Whether process ``pid`` runs (not a zombie) a command naming ``folder``."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z" and str(folder) in cmdline


def _failure(output: str, returncode: int) -> str:
    """The command's own message: its last `error:` line, else its last line."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:") or "Error" in line.split(":")[0]]
    last = (errors or lines or [f"exit status {returncode}"])[-1]
    return f"命令失败（退出码 {returncode}）/ the command failed: {last[:2000]}"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
