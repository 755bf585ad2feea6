"""The question log: what is kept (and not), feedback from the answer page, the problem list in
/admin, the export that `yibao eval` reads, retention, and answers when the log is broken."""

from __future__ import annotations

import json
import logging
import re
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import cli
from eval.questions import load_questions
from server.querylog import FILE, QueryLog
from tests.admin.conftest import TOKEN, Site, make_site

UNANSWERABLE = "红烧肉怎么做"
ANSWERABLE = "家庭共济怎么绑定"


def _rows(site: Site) -> list[dict]:
    site.client.app.state.querylog.flush()
    with sqlite3.connect(site.settings.data_dir / FILE) as db:
        db.row_factory = sqlite3.Row
        return [dict(row) for row in db.execute("SELECT * FROM questions ORDER BY asked_at, rowid")]


def _feedback_id(html: str) -> str:
    match = re.search(r'name="entry" value="([0-9a-f]{32})"', html)
    assert match, "no feedback buttons on the answer page"
    return match.group(1)


def test_every_question_is_logged_with_its_outcome_and_no_identity(site: Site) -> None:
    page = site.client.get(f"/?q={ANSWERABLE}")
    assert "有帮助" in page.text and "没帮助" in page.text
    api = site.client.post("/api/ask", json={"question": UNANSWERABLE}).json()
    rows = _rows(site)
    assert [(r["question"], r["via"]) for r in rows] == [(ANSWERABLE, "page"), (UNANSWERABLE, "api")]
    assert rows[0]["abstained"] == 0 and json.loads(rows[0]["cited_docs"]) == ["base.txt"]
    # The log keeps the confidence to 4 places, the API shows 3.
    assert rows[1]["abstained"] == 1 and rows[1]["confidence"] == pytest.approx(api["confidence"], abs=1e-3)
    assert all(r["latency_ms"] > 0 and r["asked_at"].endswith("+00:00") for r in rows)
    assert not {"ip", "client", "host", "user_agent"} & set(rows[0]), "no identity is stored"


def test_unhelpful_and_abstained_questions_are_listed_most_frequent_first(site: Site) -> None:
    entry = _feedback_id(site.client.get(f"/?q={ANSWERABLE}").text)
    thanks = site.client.post("/feedback", data={"entry": entry, "helpful": "0"})
    assert thanks.status_code == 200 and "谢谢" in thanks.text
    for _ in range(2):
        site.client.get(f"/?q={UNANSWERABLE}")
    site.client.post("/api/ask", json={"question": "紅燒肉怎麼做？"})  # the same question, another script
    site.client.get("/?q=医保卡余额怎么查")  # answered and not marked: not a problem
    assert site.client.post("/feedback", data={"entry": "nope", "helpful": "0"}).status_code == 422
    site.login()
    page = site.client.get("/admin").text
    problems = page[page.index("未回答或没帮助的问题") :]
    assert problems.index("紅燒肉怎麼做？") < problems.index(ANSWERABLE)
    assert "医保卡余额怎么查" not in problems
    listed = site.client.get("/api/admin/questions", headers={"Authorization": f"Bearer {TOKEN}"}).json()
    assert [(q["asked"], q["abstained"], q["unhelpful"]) for q in listed["questions"]] == [
        (3, 3, 0),
        (1, 0, 1),
    ]


def test_export_is_a_question_file_that_yibao_eval_reads(
    site: Site, tmp_path: Path, embedder, monkeypatch
) -> None:
    site.client.get(f"/?q={UNANSWERABLE}")
    entry = _feedback_id(site.client.get(f"/?q={ANSWERABLE}").text)
    site.client.post("/feedback", data={"entry": entry, "helpful": "0"})
    site.login()
    export = site.client.get("/admin/questions.jsonl")
    assert export.status_code == 200 and "attachment" in export.headers["content-disposition"]
    path = tmp_path / "exported.jsonl"
    path.write_bytes(export.content)
    questions = load_questions(path)
    assert {(q.question, q.answerable, q.answers) for q in questions} == {
        (UNANSWERABLE, False, ()),
        (ANSWERABLE, True, ()),
    }
    monkeypatch.setenv("YIBAO_CORPUS_DIR", str(site.corpus_dir))
    monkeypatch.setenv("YIBAO_DATA_DIR", str(site.settings.data_dir))
    # The session's model, already loaded, rather than a second copy of the same one.
    monkeypatch.setattr("index.embedding.load_embedder", lambda settings: embedder)
    assert cli.main(["eval", "--questions", str(path)]) == 0


def test_answers_go_out_when_the_log_cannot_be_written(
    tiny_template, tmp_path, settings, embedder, caplog
) -> None:
    for site in make_site(tiny_template, tmp_path, settings, embedder, admin_token=TOKEN):
        log_path = site.settings.data_dir / FILE
        site.client.app.state.querylog.close()
        log_path.unlink()
        log_path.mkdir()  # a folder where the database should be: it cannot be opened
        broken = QueryLog(site.settings.data_dir, 90, site.settings.log_max_rows)
        site.client.app.state.querylog = broken
        with caplog.at_level(logging.WARNING, logger="server.querylog"):
            broken.start()
            assert site.client.post("/api/ask", json={"question": ANSWERABLE}).status_code == 200
            assert site.client.get(f"/?q={ANSWERABLE}").status_code == 200
            broken.flush()
        assert any(
            "question log" in r.getMessage() and "unavailable" in r.getMessage() for r in caplog.records
        )


def test_entries_older_than_the_retention_are_deleted_at_start(tmp_path: Path) -> None:
    log = QueryLog(tmp_path, retention_days=90, max_rows=1000)
    log.start()
    log.flush()
    log.close()
    old = (datetime.now(UTC) - timedelta(days=91)).isoformat(timespec="seconds")
    recent = (datetime.now(UTC) - timedelta(days=89)).isoformat(timespec="seconds")
    with sqlite3.connect(tmp_path / FILE) as db:
        for n, when in enumerate((old, recent)):
            db.execute(
                "INSERT INTO questions (id, asked_at, question, question_key, via, abstained, confidence, "
                "cited_docs, latency_ms) VALUES (?, ?, ?, ?, 'api', 1, 0.1, '[]', 5)",
                (f"{n:032x}", when, f"问题{n}", f"问题{n}"),
            )
    log = QueryLog(tmp_path, retention_days=90, max_rows=1000)
    log.start()
    log.flush()
    log.close()
    with sqlite3.connect(tmp_path / FILE) as db:
        assert [row[0] for row in db.execute("SELECT asked_at FROM questions")] == [recent]
