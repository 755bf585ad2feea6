"""An evaluation started from the admin: `yibao eval` as a job (server/jobs.py) on the built-in
questions, an uploaded question file (the eval/questions.jsonl format) or a BEIR set uploaded as a
zip. What can be checked here is checked before the job is queued (a clear 4xx); the rest the
command reports, and the job fails with its message."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from server.jobs import Job, JobError, Jobs
from server.safe_zip import UnsafeZip, extract, open_zip
from settings import Settings

KIND = "eval"
RETRIEVERS = ("hybrid", "dense", "lexical", "compare")
MAX_LIMIT = 100_000
BEIR_FILES = ("corpus.jsonl", "queries.jsonl", "qrels/test.tsv")
QUESTION_KEYS = ("id", "question", "answerable")
_ZIP_MAGIC = b"PK\x03\x04"
_UNSAFE_NAME = re.compile(r"[^\w.-]+")


@dataclass(frozen=True)
class EvalRequest:
    retriever: str = "hybrid"
    limit: int | None = None
    filename: str = ""  # the uploaded file's name; empty for the built-in questions
    data: bytes = b""

    @classmethod
    def from_form(cls, retriever: str, limit: str, filename: str, data: bytes) -> EvalRequest:
        """The form's fields, or JobError(422) saying which is wrong."""
        if retriever not in RETRIEVERS:
            raise JobError(422, f"检索方式应为 {'、'.join(RETRIEVERS)} 之一 / retriever must be one of those")
        limit = limit.strip()
        if limit and not (limit.isdigit() and 1 <= int(limit) <= MAX_LIMIT):
            raise JobError(
                422, f"题数上限应为 1 到 {MAX_LIMIT} 的整数 / limit must be a whole number, 1–{MAX_LIMIT}"
            )
        if filename and not data:
            raise JobError(422, f"文件是空的 / empty file: {filename}")
        return cls(retriever, int(limit) if limit else None, filename, data)

    @property
    def source(self) -> str:
        return self.filename or "内置问题集 eval/questions.jsonl"


def submit_eval(jobs: Jobs, settings: Settings, request: EvalRequest) -> Job:
    """Queue `yibao eval` for ``request``; a file that cannot be a question set is refused here."""
    options = ["--compare"] if request.retriever == "compare" else ["--retriever", request.retriever]
    if request.limit:
        options += ["--limit", str(request.limit)]
    title = (
        f"评测 {request.source}（{request.retriever}{f'，前 {request.limit} 题' if request.limit else ''}）"
    )

    def prepare(folder: Path) -> list[str]:
        if not request.filename:
            return ["eval", *options]
        stem = _UNSAFE_NAME.sub("_", Path(request.filename).stem)[:60] or "upload"
        if request.data.startswith(_ZIP_MAGIC) or request.filename.lower().endswith(".zip"):
            return ["eval", "--beir", str(_unpack_beir(request.data, folder / stem, settings)), *options]
        path = folder / f"{stem}.jsonl"
        path.write_bytes(_question_file(request.data))
        return ["eval", "--questions", str(path), *options]

    return jobs.submit(KIND, title, prepare)


def _question_file(data: bytes) -> bytes:
    """The file, if every line is a question record (JSON with id, question, answerable)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise JobError(422, "问题文件不是 UTF-8 文本 / the question file is not UTF-8 text") from None
    count = 0
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            record = None
        if not isinstance(record, dict) or any(key not in record for key in QUESTION_KEYS):
            raise JobError(
                422,
                f"第 {n} 行不是问题记录（需要 JSON 对象，含 {', '.join(QUESTION_KEYS)}）/ "
                f"line {n} is not a question record (a JSON object with {', '.join(QUESTION_KEYS)})",
            )
        if not isinstance(record["question"], str) or not record["question"].strip():
            raise JobError(422, f"第 {n} 行的 question 不是文本 / line {n}: question must be text")
        count += 1
    if not count:
        raise JobError(422, "问题文件里没有问题 / the question file holds no questions")
    return text.encode("utf-8")


def _unpack_beir(data: bytes, target: Path, settings: Settings) -> Path:
    """A BEIR set from a zip: its three files, at the zip's top or in one folder of it."""
    try:
        archive = open_zip(data, settings)
        names = archive.namelist()
        prefixes = sorted(
            (n[: -len(BEIR_FILES[0])] for n in names if n.endswith(BEIR_FILES[0]) and n.count("/") <= 1),
            key=len,
        )
        prefix = next((p for p in prefixes if all(p + f in names for f in BEIR_FILES)), None)
        if prefix is None:
            raise JobError(
                422,
                "zip 里没有 BEIR 数据集（顶层或一个文件夹里的 corpus.jsonl、queries.jsonl、qrels/test.tsv）/ "
                "no BEIR set in the zip (corpus.jsonl, queries.jsonl, qrels/test.tsv, top or in a folder)",
            )
        extract(archive, {prefix + f: target / f for f in BEIR_FILES}, settings)
    except UnsafeZip as exc:
        raise JobError(422, str(exc)) from None
    return target
