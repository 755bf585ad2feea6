"""Uploads as background jobs (server/ingest_jobs.py): an upload returns at once and its job is
followed to done while questions are answered from the previous index; a second upload queues
behind it; a cancelled job and a server stopped during a job leave the corpus and the index as
they were, and the stopped job resumes at the next start."""

from __future__ import annotations

import json
import time

import pytest

from tests.admin.conftest import AUTH, TOKEN, Site, make_site, serve_site, site, tiny, tiny_template
from tests.hardening.conftest import (
    BASE_DOC,
    NEW_DOC,
    NEW_QUESTION,
    NEW_TEXT,
    RULES_DOC,
    RULES_QUESTION,
    rules_text,
)

# The admin's fixtures: a logged-out client on a copy of the tiny corpus, the admin enabled.
__all__ = ["site", "tiny", "tiny_template"]
EMBEDDING = "嵌入"  # the stage of a job that is embedding (cli.py)


def _upload(site: Site, name: str, text: str, **data: str):
    files = [("files", (name, text.encode(), "text/plain"))]
    return site.client.post("/api/admin/documents", headers=AUTH, data=data, files=files)


def _cited(site: Site, question: str) -> set[str]:
    response = site.client.post("/api/ask", json={"question": question})
    assert response.status_code == 200, response.text
    return {c["doc"] for c in response.json()["citations"]}


def _state(site: Site) -> tuple[set[str], str, set[str], str]:
    """What a job that did not finish must leave as it was: corpus files, the live version, the
    indexed documents, the version serving."""
    return site.corpus(), site.live(), site.indexed(), site.client.get("/healthz").json()["index_version"]


def test_an_upload_job_is_followed_to_done_while_questions_are_answered(site: Site) -> None:
    serving = site.client.get("/healthz").json()["index_version"]
    first = _upload(site, RULES_DOC, rules_text(120))
    assert first.status_code == 202, first.text
    job = first.json()
    assert job["state"] in ("queued", "running") and job["kind"] == "upload" and job["files"] == [RULES_DOC]
    # A second upload while the first runs waits its turn; the same name again is refused at once.
    second = _upload(site, NEW_DOC, NEW_TEXT)
    assert second.status_code == 202 and second.json()["state"] == "queued"
    again = _upload(site, RULES_DOC, rules_text(3))
    assert again.status_code == 409 and "being uploaded" in again.json()["detail"]

    # Until the new index is live (the job is writing it), answers come from the previous one.
    answered_during_the_job = 0
    while (state := site.job(job["id"]))["state"] != "done":
        assert state["state"] in ("queued", "running"), state
        cited = _cited(site, RULES_QUESTION)
        if site.client.get("/healthz").json()["index_version"] == serving:
            assert RULES_DOC not in cited
            answered_during_the_job += site.job(job["id"])["state"] == "running"
        time.sleep(0.1)
    assert answered_during_the_job >= 1

    done = site.wait(job["id"])
    assert done["progress"]["unit"] == "texts" and done["progress"]["done"] == done["progress"]["total"] > 100
    assert done["rate_per_second"] > 0 and done["eta_seconds"] is None
    assert (
        done["result"]["changed"] == [RULES_DOC] and done["result"]["embedded"] == done["progress"]["total"]
    )
    assert RULES_DOC in _cited(site, RULES_QUESTION), "served as soon as its job is done"
    assert site.wait(second.json()["id"])["state"] == "done"
    assert NEW_DOC in _cited(site, NEW_QUESTION)
    assert site.corpus() == site.indexed() == {BASE_DOC, RULES_DOC, NEW_DOC}

    site.login()
    listed = site.client.get("/admin").text
    row = listed[listed.index(f'id="job-{job["id"]}"') :]
    row = row[: row.index("</tr>")]
    assert RULES_DOC in row and "完成 done" in row and f"{done['progress']['total']} texts" in row
    page = site.client.get(f"/admin/jobs/{job['id']}").text
    assert f"已上传并导入 / uploaded and indexed: {RULES_DOC}" in page and 'http-equiv="refresh"' not in page
    assert not (site.settings.jobs_dir / job["id"] / "inputs").exists(), "the upload's copy is dropped"


def test_a_cancelled_upload_job_leaves_the_corpus_and_the_index_as_they_were(site: Site) -> None:
    before = _state(site)
    job = _upload(site, RULES_DOC, rules_text(400)).json()
    running = site.wait(job["id"], until=lambda j: j["stage"].startswith(EMBEDDING))
    assert running["state"] == "running" and running["progress"]["total"] > 400
    cancelled = site.client.post(f"/api/admin/jobs/{job['id']}/cancel", headers=AUTH)
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled", cancelled.json()
    assert _state(site) == before
    assert not (site.corpus_dir / ".yibao-staging").exists()
    assert RULES_DOC not in _cited(site, RULES_QUESTION)
    # Nothing is left locked: the next upload goes through.
    assert site.finished(_upload(site, NEW_DOC, NEW_TEXT))["state"] == "done"
    assert site.indexed() == {BASE_DOC, NEW_DOC}


@pytest.mark.slow
def test_a_server_stopped_during_an_upload_job_resumes_it_at_the_next_start(
    tiny_template, tmp_path, settings, embedder
) -> None:
    """A server that stops (SIGTERM: its jobs are stopped too) leaves the corpus and the index as
    they were; at the next start the job runs again, and embeds only what the first run had not
    (the embedding cache kept its finished windows)."""
    for first in make_site(tiny_template, tmp_path, settings, embedder, admin_token=TOKEN, embed_window=32):
        before = _state(first)
        job = _upload(first, RULES_DOC, rules_text(400)).json()
        interrupted = first.wait(job["id"], until=lambda j: j["progress"]["done"] >= 64)
        break  # the server stops
    record = json.loads((first.settings.jobs_dir / job["id"] / "job.json").read_text(encoding="utf-8"))
    assert record["state"] == "queued" and record["restarts"] == 1 and "restarted" in record["stage"]
    for second in serve_site(first.settings, embedder):
        assert _state(second) == before
        resumed = second.wait(job["id"])
        assert resumed["state"] == "done" and resumed["restarts"] == 1, resumed
        assert resumed["progress"]["total"] <= interrupted["progress"]["total"] - 64
        assert RULES_DOC in _cited(second, RULES_QUESTION) and RULES_DOC in second.corpus()
