"""Evaluations as background jobs (server/jobs.py, server/eval_jobs.py): `yibao eval` run in a
subprocess on the tiny corpus, followed to done through the API, uploads of a question file and of
a BEIR zip, refused uploads, cancelling, and a server killed while a job runs."""

from __future__ import annotations

import io
import json
import signal
import time
import zipfile
from pathlib import Path

import httpx2
import psutil
import pytest

from server.jobs import INTERRUPTED
from tests.admin.conftest import AUTH, FINISHED, TOKEN, Site, site, tiny, tiny_template
from tests.eval.test_beir import PASSAGES, QRELS, QUERIES
from tests.hardening.conftest import ServerProcess, Tiny

BASE = "base.txt"  # the tiny corpus's one document
QUESTIONS = [
    {"id": "share", "question": "医保卡里的钱能给家人用吗", "answerable": True,
     "answers": [{"doc": BASE, "evidence": "允许医保个人账户资金实现家庭成员共济使用"}]},
    {"id": "relatives", "question": "近亲属包括哪些人", "answerable": True,
     "answers": [{"doc": BASE, "evidence": "近亲属包括配偶、父母、子女"}]},
    {"id": "cake", "question": "蛋糕怎么烤", "answerable": False, "answers": []},
]  # fmt: skip
# The admin's fixtures: a logged-out client on a copy of the tiny corpus, the admin enabled.
__all__ = ["site", "tiny", "tiny_template"]


def _jsonl(records: list[dict]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode()


def _beir_zip(folder: str = "tinybeir") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(
            f"{folder}/corpus.jsonl",
            _jsonl([{"_id": k, "title": "", "text": v} for k, v in PASSAGES.items()]),
        )
        z.writestr(f"{folder}/queries.jsonl", _jsonl([{"_id": k, "text": v} for k, v in QUERIES.items()]))
        qrels = "query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{p}\t{s}\n" for q, p, s in QRELS)
        z.writestr(f"{folder}/qrels/test.tsv", qrels)
    return buffer.getvalue()


def _start(site: Site, files: dict | None = None, **data: str):
    return site.client.post("/api/admin/eval", headers=AUTH, data=data, files=files)


def _rows(html: str) -> int:
    table = html[html.index('class="questions"') :]
    return table[: table.index("</table>")].count("<tr") - 1  # less the header row


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_an_evaluation_runs_as_a_job_with_its_progress_and_report(site: Site) -> None:
    started = _start(site, limit="3")
    assert started.status_code == 202, started.text
    job = started.json()
    assert started.headers["location"] == f"/api/admin/jobs/{job['id']}"
    assert job["state"] in ("queued", "running") and job["kind"] == "eval"
    done = site.wait(job["id"])
    assert done["state"] == "done", done
    assert done["progress"] == {"done": 3, "total": 3, "unit": "questions"}
    assert done["rate_per_second"] > 0 and done["eta_seconds"] is None and done["reason"] is None
    assert [j["id"] for j in site.client.get("/api/admin/jobs", headers=AUTH).json()["jobs"]] == [job["id"]]
    again = _start(site, limit="1").json()  # within the same second: still listed newest first
    listed = site.client.get("/api/admin/jobs", headers=AUTH).json()["jobs"]
    assert [j["id"] for j in listed] == [again["id"], job["id"]]
    site.wait(again["id"])

    page = site.client.get(f"/eval?run={done['result']}")
    assert page.status_code == 200 and _rows(page.text) == 3 and "questions.jsonl" in page.text
    assert "<svg" in page.text  # the charts
    assert site.client.get("/eval").text.count(f"/eval?run={done['result']}") >= 1  # listed, newest first


def test_an_uploaded_question_file_and_a_beir_zip_are_evaluated_in_turn(site: Site) -> None:
    questions = _start(site, {"file": ("我的问题.jsonl", _jsonl(QUESTIONS))}, retriever="compare")
    beir = _start(site, {"file": ("tinybeir.zip", _beir_zip())}, retriever="lexical")
    assert questions.status_code == beir.status_code == 202
    # One job at a time: the second waits for the first.
    assert site.wait(questions.json()["id"], ("running", *FINISHED))["state"] == "running"
    assert site.client.get(f"/api/admin/jobs/{beir.json()['id']}", headers=AUTH).json()["state"] == "queued"
    first, second = site.wait(questions.json()["id"]), site.wait(beir.json()["id"])
    assert first["state"] == second["state"] == "done", (first, second)
    assert first["progress"]["total"] == 4 * len(QUESTIONS)  # --compare: four settings

    mine = site.client.get(f"/eval?run={first['result']}").text
    assert "我的问题.jsonl" in mine and _rows(mine) == len(QUESTIONS)
    for name in ("dense", "lexical", "hybrid", "hybrid-no-mmr"):
        assert f"<th>{name}</th>" in mine
    report = json.loads(
        (site.settings.eval_reports_dir / f"{second['result']}.json").read_text(encoding="utf-8")
    )
    assert report["kind"] == "beir" and report["config"]["questions"].endswith("tinybeir")
    assert [row["first_relevant_rank"] for row in report["per_question"]] == [1, 1, 1]
    beir_page = site.client.get(f"/eval?run={second['result']}").text
    assert "tinybeir" in beir_page and _rows(beir_page) == len(QUERIES)


def test_a_job_whose_command_fails_is_reported_failed_with_its_message(site: Site) -> None:
    """What only the evaluator can tell (an answer without its evidence) fails the job, with the
    command's own error as the reason."""
    broken = [{**QUESTIONS[0], "answers": [{"doc": BASE}]}]
    job = _start(site, {"file": ("broken.jsonl", _jsonl(broken))}).json()
    failed = site.wait(job["id"])
    assert failed["state"] == "failed" and "not a question record" in failed["reason"], failed
    assert "broken.jsonl:1" in failed["reason"] and failed["result"] is None
    site.login()
    page = site.client.get(f"/admin/jobs/{job['id']}").text
    assert "失败 failed" in page and "not a question record" in page and "<details open>" in page


def _bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("set/corpus.jsonl", b"\0" * (20 << 20))  # 20 MiB of zeros: about 20 KB packed
        z.writestr("set/queries.jsonl", b"{}")
        z.writestr("set/qrels/test.tsv", b"query-id\tcorpus-id\tscore\n")
    return buffer.getvalue()


def _many_members() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for i in range(1001):
            z.writestr(f"f{i}.txt", b"x")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "file", "message"),
    [
        ({"retriever": "bm25"}, None, "retriever must be one of"),
        ({"limit": "0"}, None, "limit must be a whole number"),
        ({"limit": "ten"}, None, "limit must be a whole number"),
        ({}, ("q.jsonl", "问题".encode("gb18030")), "not UTF-8"),
        ({}, ("q.jsonl", _jsonl(QUESTIONS[:1]) + b"not json\n"), "line 2 is not a question record"),
        ({}, ("q.jsonl", b'{"id": 1, "question": "x"}\n'), "line 1 is not a question record"),
        ({}, ("q.jsonl", b"\n\n"), "holds no questions"),
        ({}, ("q.jsonl", b""), "empty file"),
        ({}, ("set.zip", b"PK\x03\x04 not really a zip"), "not a valid zip"),
        ({}, ("set.zip", _beir_zip()[:200]), "not a valid zip"),
        ({}, ("bomb.zip", _bomb()), "compression ratio"),
        ({}, ("many.zip", _many_members()), "too many members"),
        ({}, ("set.zip", _beir_zip("a/b")), "no BEIR set in the zip"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_a_bad_request_is_a_clear_422_and_queues_nothing(site: Site, data, file, message) -> None:
    response = _start(site, {"file": file} if file else None, **data)
    assert response.status_code == 422 and message in response.json()["detail"], response.text
    assert site.client.get("/api/admin/jobs", headers=AUTH).json()["jobs"] == []
    assert not site.settings.jobs_dir.exists() or not any(site.settings.jobs_dir.iterdir())


def test_a_body_that_is_not_a_form_is_a_415(site: Site) -> None:
    for headers in ({}, {"content-type": "application/json"}):
        response = site.client.post("/api/admin/eval", headers=AUTH | headers, content=b'{"limit": 3}')
        assert response.status_code == 415 and "multipart/form-data" in response.json()["detail"]
    assert site.client.get("/api/admin/jobs", headers=AUTH).json()["jobs"] == []


def test_jobs_want_the_admin_token_and_unknown_jobs_are_404s(site: Site) -> None:
    assert site.client.post("/api/admin/eval").status_code == 401
    assert site.client.get("/api/admin/jobs").status_code == 401
    for job_id in ("0" * 32, "../../etc/passwd", "x"):
        assert site.client.get(f"/api/admin/jobs/{job_id}", headers=AUTH).status_code == 404
        assert site.client.post(f"/api/admin/jobs/{job_id}/cancel", headers=AUTH).status_code == 404
    assert site.client.get(f"/admin/jobs/{'0' * 32}").status_code in (303, 200)  # to the login first
    site.login()
    assert site.client.get(f"/admin/jobs/{'0' * 32}").status_code == 404


def test_cancel_stops_a_running_job(site: Site) -> None:
    job = _start(site, retriever="compare").json()  # the 127 built-in questions, four times: minutes
    site.wait(job["id"], ("running",))
    record = site.settings.jobs_dir / job["id"] / "job.json"
    pid = json.loads(record.read_text(encoding="utf-8"))["pid"]
    assert pid and _alive(pid)
    cancelled = site.client.post(f"/api/admin/jobs/{job['id']}/cancel", headers=AUTH)
    # The answer comes once the job's process has stopped.
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    assert "cancelled" in cancelled.json()["reason"]
    assert not _alive(pid)
    again = site.client.post(f"/api/admin/jobs/{job['id']}/cancel", headers=AUTH)
    assert again.status_code == 409 and "already finished" in again.json()["detail"]


def test_a_queued_job_is_cancelled_without_running(site: Site) -> None:
    first = _start(site, retriever="compare").json()
    second = _start(site, limit="1").json()
    assert (
        site.client.post(f"/api/admin/jobs/{second['id']}/cancel", headers=AUTH).json()["state"]
        == "cancelled"
    )
    assert (
        site.client.post(f"/api/admin/jobs/{first['id']}/cancel", headers=AUTH).json()["state"] == "cancelled"
    )
    assert site.client.get(f"/api/admin/jobs/{second['id']}", headers=AUTH).json()["started_at"] is None


@pytest.mark.slow
def test_a_server_killed_during_a_job_reports_it_failed_and_runs_the_queued_one(
    tiny: Tiny, tmp_path: Path
) -> None:
    env = tiny.env(YIBAO_ADMIN_TOKEN=TOKEN)
    server = ServerProcess.start(env, tmp_path / "first.log")
    try:
        base = server.base
        long_job = _post_eval(base, {"retriever": "compare"})
        short_job = _post_eval(base, {"limit": "2"})
        record = tiny.data_dir / "jobs" / long_job / "job.json"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not json.loads(record.read_text(encoding="utf-8")).get("pid"):
            time.sleep(0.2)
        pid = json.loads(record.read_text(encoding="utf-8"))["pid"]
        server.process.send_signal(signal.SIGKILL)  # no shutdown: the job's process is left running
        server.process.wait(timeout=10)
        assert _alive(pid)
    finally:
        server.stop()
    restarted = ServerProcess.start(env, tmp_path / "second.log")
    try:
        status, job = _get(f"{restarted.base}/api/admin/jobs/{long_job}")
        assert status == 200 and job["state"] == "failed" and job["reason"] == INTERRUPTED
        deadline = time.monotonic() + 15
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _alive(pid), "the interrupted job's process was stopped"
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            status, queued = _get(f"{restarted.base}/api/admin/jobs/{short_job}")
            if queued["state"] in FINISHED:
                break
            time.sleep(0.5)
        assert queued["state"] == "done", queued
        assert "interrupted by a restart" in restarted.output()
    finally:
        restarted.stop()


def _post_eval(base: str, fields: dict[str, str]) -> str:
    response = httpx2.post(f"{base}/api/admin/eval", data=fields, headers=AUTH, timeout=60)
    assert response.status_code == 202, response.text
    return response.json()["id"]


def _get(url: str) -> tuple[int, dict]:
    response = httpx2.get(url, headers=AUTH, timeout=30)
    return response.status_code, response.json()
