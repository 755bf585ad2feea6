"""Admin edits of the corpus are all or nothing, also when the process dies half way: staged files
reach the corpus dir only once their index is live, and whatever a kill leaves is finished or
dropped by the next edit, ingest or server start (where the upload's job then runs again)."""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.request
from pathlib import Path

import pytest

from index import corpus_edit, store
from index.build import build_index, build_locked
from tests.hardening.conftest import (
    BASE_DOC,
    NEW_DOC,
    NEW_TEXT,
    RULES_DOC,
    RULES_QUESTION,
    ServerProcess,
    Tiny,
    http_json,
    rules_text,
)

TOKEN = "kill-test-token"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


def _corpus(tiny: Tiny) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in tiny.corpus_dir.iterdir() if p.is_file()}


def _indexed(tiny: Tiny, embedder) -> set[str]:
    return set(store.load_index(tiny.index_dir, embedder.name, embedder.fingerprint, embedder.dim).documents)


def test_an_edit_killed_before_its_index_went_live_is_dropped(tiny: Tiny, settings, embedder) -> None:
    conf = tiny.settings(settings)
    before, live = _corpus(tiny), tiny.live()
    with store.ingest_lock(tiny.index_dir):
        corpus_edit.stage(conf, {NEW_DOC: NEW_TEXT.encode()}, [BASE_DOC])
    # ... killed here. The corpus is as it was, and the next ingest does not index the staged file.
    assert _corpus(tiny) == before
    report = build_index(conf, embedder)
    assert report.unchanged and tiny.live() == live
    assert not (tiny.corpus_dir / corpus_edit.STAGING).exists()
    assert _corpus(tiny) == before


def test_an_edit_killed_after_its_index_went_live_is_completed(tiny: Tiny, settings, embedder) -> None:
    conf = tiny.settings(settings)
    (tiny.corpus_dir / "old.txt").write_text(NEW_TEXT.replace("补办", "挂失"), encoding="utf-8")
    build_index(conf, embedder)
    with store.ingest_lock(tiny.index_dir):
        edit = corpus_edit.stage(conf, {NEW_DOC: NEW_TEXT.encode()}, ["old.txt"])
        build_locked(conf, embedder, edit=edit)
    # ... killed here: the index holds the edit, the corpus dir does not yet.
    assert _indexed(tiny, embedder) == {BASE_DOC, NEW_DOC} and "old.txt" in _corpus(tiny)
    with store.ingest_lock(tiny.index_dir):
        corpus_edit.recover(conf)
    assert set(_corpus(tiny)) == {BASE_DOC, NEW_DOC} == _indexed(tiny, embedder)
    assert _corpus(tiny)[NEW_DOC] == NEW_TEXT.encode()
    assert not (tiny.corpus_dir / corpus_edit.STAGING).exists()


def _multipart(name: str, data: bytes) -> tuple[bytes, str]:
    boundary = "yibaoKillTest"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
            f"Content-Type: text/plain\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def _job(server: ServerProcess, job_id: str) -> dict:
    request = urllib.request.Request(f"{server.base}/api/admin/jobs/{job_id}", headers=BEARER)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def _until(server: ServerProcess, job_id: str, ready, timeout: float = 240) -> dict:
    deadline = time.monotonic() + timeout
    while not ready(job := _job(server, job_id)):
        assert job["state"] in ("queued", "running") and time.monotonic() < deadline, job
        time.sleep(0.1)
    return job


@pytest.mark.slow
def test_sigkill_during_an_upload_job_keeps_the_previous_index_and_the_job_resumes(
    tiny: Tiny, tmp_path: Path
) -> None:
    """The server and its job's process killed at once (SIGKILL to the process group), mid-embedding:
    the corpus and the live index are as they were; the next start drops what the job had staged
    and runs the job again, which embeds only what the embedding cache does not hold yet."""
    env = tiny.env(YIBAO_ADMIN_TOKEN=TOKEN, YIBAO_EMBED_WINDOW="32")
    before, live = _corpus(tiny), tiny.live()
    server = ServerProcess.start(env, tmp_path / "serve1.log")
    body, content_type = _multipart(RULES_DOC, rules_text(400).encode())
    request = urllib.request.Request(
        f"{server.base}/api/admin/documents", data=body, headers={**BEARER, "Content-Type": content_type}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            assert response.status == 202
            job_id = json.loads(response.read())["id"]
        killed = _until(server, job_id, lambda j: j["progress"]["done"] >= 64)
        os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait(timeout=10)
    finally:
        server.stop()
    assert tiny.live() == live, "the ingest had not finished: the previous index is still the live one"
    assert _corpus(tiny) == before, "the corpus dir did not change"

    server = ServerProcess.start(env, tmp_path / "serve2.log")
    try:
        assert server.health()["index_version"] == live
        resumed = _until(server, job_id, lambda j: j["state"] == "done")
        assert resumed["restarts"] == 1
        assert resumed["progress"]["total"] <= killed["progress"]["total"] - 64, (
            "the cache kept what was done"
        )
        status, answer = http_json(f"{server.base}/api/ask", {"question": RULES_QUESTION})
        assert status == 200 and answer["citations"][0]["doc"] == RULES_DOC
        assert set(_corpus(tiny)) == set(before) | {RULES_DOC}
        assert not (tiny.corpus_dir / corpus_edit.STAGING).exists()
        assert "interrupted by a restart: it resumes" in server.output()
    finally:
        server.stop()
