"""Admin edits of the corpus are all or nothing, also when the process dies half way: staged files
reach the corpus dir only once their index is live, and whatever a kill leaves is finished or
dropped by the next edit, ingest or server start."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
import urllib.request

import pytest

from index import corpus_edit, store
from index.build import build_index, build_locked
from tests.hardening.conftest import BASE_DOC, NEW_DOC, NEW_QUESTION, NEW_TEXT, ServerProcess, Tiny, http_json

TOKEN = "kill-test-token"


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


@pytest.mark.slow
def test_sigkill_during_an_uploads_ingest_keeps_the_previous_index_and_corpus(tiny: Tiny, tmp_path) -> None:
    # Long enough that its ingest (embedding hundreds of sentences) is surely caught in the act.
    long_text = "医保卡补办须知\n\n" + "".join(
        f"第{n}条：参保人在第{n}个社保服务网点补办医保卡时，应当携带本人身份证原件和第{n}号申请表。\n"
        for n in range(1, 400)
    )
    env = tiny.env(YIBAO_ADMIN_TOKEN=TOKEN)
    before, live = _corpus(tiny), tiny.live()
    server = ServerProcess.start(env, tmp_path / "serve1.log")
    body, content_type = _multipart(NEW_DOC, long_text.encode())
    request = urllib.request.Request(
        f"{server.base}/api/admin/documents",
        data=body,
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": content_type},
    )

    def upload() -> None:
        with contextlib.suppress(OSError):  # the server dies under it
            urllib.request.urlopen(request, timeout=120)

    uploader = threading.Thread(target=upload, daemon=True)
    try:
        uploader.start()
        plan = tiny.corpus_dir / corpus_edit.STAGING / "plan.json"
        deadline = time.monotonic() + 60
        while not plan.exists():
            assert time.monotonic() < deadline, "the upload's ingest never started"
            time.sleep(0.005)
        time.sleep(0.2)  # well into reading and embedding
        os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait(timeout=10)
    finally:
        server.stop()
    uploader.join(timeout=10)
    assert tiny.live() == live, "the ingest had not finished: the previous index is still the live one"
    assert _corpus(tiny) == before, "the corpus dir did not change"

    server = ServerProcess.start(env, tmp_path / "serve2.log")
    try:
        assert server.health()["index_version"] == live
        assert not (tiny.corpus_dir / corpus_edit.STAGING).exists(), "the server start dropped the leftover"
        status, answer = http_json(f"{server.base}/api/ask", {"question": NEW_QUESTION})
        assert status == 200 and all(c["doc"] != NEW_DOC for c in answer["citations"])
        assert _corpus(tiny) == before
    finally:
        server.stop()
