"""The evaluation pages: the kept reports, one report's metrics, charts and questions (misses
filtered), two reports compared, and the retrieval test's three rankings side by side."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import pytest
from fastapi.testclient import TestClient

from settings import Settings

MAX_QUESTION = Settings().max_question_chars


def _report(created: str, hit1: float, rows: list[dict], **metrics: float) -> dict:
    runs = {"hit@1": hit1, "hit@5": 0.9, "mrr@10": 0.7, "latency_p50_ms": 20.0, "glued": 0, **metrics}
    runs["recall_curve"] = [0.5, 0.7, 0.8, 0.9]
    config = {"name": "hybrid", "questions": "eval/questions.jsonl", "model": "e5", "created_at": created}
    return {
        "config": config,
        "metrics": runs,
        "compare": [{"config": config, "metrics": runs}],
        "per_question": rows,
    }


def _row(
    qid: str, rank: int | None, evidence: bool, abstained: bool = False, answerable: bool = True
) -> dict:
    return {
        "id": qid,
        "question": f"问题 {qid} <b>",
        "answerable": answerable,
        "first_relevant_rank": rank,
        "answer_has_evidence": evidence,
        "abstained": abstained,
        "latency_ms": 12.5,
        "answer": "回答",
    }


OLD = _report(
    "2025-01-01T10:00:00+00:00",
    0.5,
    [_row("a", 1, True), _row("b", None, False), _row("c", 3, False), _row("d", 1, True)],
    median_answer_chars=120.0,
)
NEW = _report(
    "2025-01-02T10:00:00+00:00",
    0.75,
    [
        _row("a", 1, True),
        _row("b", 2, True),
        _row("c", 3, False),
        _row("u", None, False, abstained=False, answerable=False),
        _row("d", 4, True),
    ],
    latency_p50_ms=30.0,
    median_answer_chars=90.0,
)


@pytest.fixture
def reports(settings, engine, tmp_path):
    from server.app import create_app

    conf = replace(settings, data_dir=tmp_path)
    conf.eval_reports_dir.mkdir(parents=True)
    for name, report in (("20250101-100000-000", OLD), ("20250102-100000-000", NEW)):
        (conf.eval_reports_dir / f"{name}.json").write_text(json.dumps(report), encoding="utf-8")
    with TestClient(create_app(conf, engine)) as client:
        yield client


def _question_rows(html: str) -> list[str]:
    table = html[html.index('class="questions"') :]
    return re.findall(r"<tr(?: class=\"(\w+)\")?><td>(\w+)</td>", table[: table.index("</table>")])


def test_the_newest_report_shows_with_the_list_of_all(reports) -> None:
    html = reports.get("/eval").text
    assert html.index("2025-01-02 10:00:00 UTC") < html.index("2025-01-01 10:00:00 UTC")  # newest first
    assert 'href="/eval?run=20250101-100000-000"' in html and "最新" in html
    assert '<form class="compare" method="get" action="/eval/compare">' in html
    assert [qid for _, qid in _question_rows(html)] == ["c", "u", "a", "b", "d"]  # misses first
    assert "&lt;b&gt;" in html and "问题 a <b>" not in html  # escaped


def test_misses_only_keeps_the_failed_questions(reports) -> None:
    html = reports.get("/eval?run=20250102-100000-000&only=misses").text
    # c: found but the answer lacks the evidence; u: unanswerable and answered.
    assert _question_rows(html) == [("fail", "c"), ("fail", "u")]
    assert "只看未命中 2 题" in html and "全部 5 题" in html


def test_charts_are_inline_svg(reports) -> None:
    html = reports.get("/eval?run=20250101-100000-000").text
    assert html.count("<svg") == 3 and "<script" not in html
    bars = re.findall(r'<rect x="[\d.]+" y="[\d.]+" width="([\d.]+)" height="10"', html)
    assert bars and float(bars[0]) > 0  # hit@1 0.5: a bar half the scale
    assert "<polyline" in html  # recall@k
    assert ">1</text>" in html and ">未找到</text>" in html  # the rank histogram's buckets


def test_two_runs_compared(reports) -> None:
    html = reports.get("/eval/compare?a=20250101-100000-000&b=20250102-100000-000").text
    assert re.search(r"<td>hit@1</td><td>0.500</td><td>0.750</td><td class=\"better\">\+0.250</td>", html)
    assert re.search(
        r"<td>latency_p50_ms</td><td>20.0</td><td>30.0</td><td class=\"worse\">\+10.000</td>", html
    )
    # Shorter answers are neither better nor worse as such.
    assert re.search(r"<td>median_answer_chars</td><td>120.0</td><td>90.0</td><td>-30.000</td>", html)
    # b: not found → rank 2 with the evidence (better); d: found lower (worse); a and c
    # unchanged; u only in B.
    assert "结果有变化的问题（2 / 共同 4 题）" in html
    assert '<tr class="better"><td>b</td>' in html and "— → 2" in html
    assert '<tr class="worse"><td>d</td>' in html and "1 → 4" in html


@pytest.mark.parametrize(
    "url",
    [
        "/eval?run=nope",
        "/eval?run=../../etc/passwd",
        "/eval/compare?a=20250101-100000-000&b=nope",
        "/eval/compare",
    ],
)
def test_unknown_reports_are_404s(reports, url) -> None:
    response = reports.get(url)
    assert response.status_code == 404 and "报告" in response.text


def test_a_beir_report_shows_dashes_for_the_answer_columns(reports, settings) -> None:
    rows = [
        {"id": "q1", "question": "怎么查", "answerable": True, "first_relevant_rank": 12, "latency_ms": 3.0}
    ]
    beir = {
        "kind": "beir",
        "config": {"name": "hybrid", "questions": "/x/tinybeir"},
        "metrics": {"ndcg@10": 0.4},
    }
    beir |= {"compare": [{"config": {"name": "hybrid"}, "metrics": {"ndcg@10": 0.4}}], "per_question": rows}
    folder = reports.app.state.settings.eval_reports_dir
    (folder / "20250103-100000-000.json").write_text(json.dumps(beir), encoding="utf-8")
    html = reports.get("/eval").text
    assert "tinybeir" in html and "ndcg@10 0.400" in html
    # Rank 12 is outside the top 10: a miss; no answer, so no evidence and no abstention to show.
    assert '<tr class="fail"><td>q1</td><td>怎么查</td><td>12</td><td>—</td><td>—</td>' in html


def test_no_report_yet_says_how_to_make_one(settings, engine, tmp_path) -> None:
    from server.app import create_app

    with TestClient(create_app(replace(settings, data_dir=tmp_path), engine)) as client:
        page = client.get("/eval")
    assert page.status_code == 200 and "还没有评测报告" in page.text and 'href="/admin"' in page.text


def test_the_retrieval_test_shows_three_rankings(client) -> None:
    html = client.get("/retrieval", params={"q": "医保卡余额怎么查", "k": "4"}).text
    columns = {mode: html[html.index(f'id="col-{mode}"') :] for mode in ("dense", "lexical", "hybrid")}
    for mode, column in columns.items():
        column = column[: column.index("</section>")]
        assert column.count('<li class="hit">') == 4, mode
        assert "/doc/" in column and re.search(r'<span class="score">\d\.\d{3}</span>', column)
    assert "语义 #" in columns["dense"] and "关键词 #" not in columns["dense"].split("</section>")[0]
    assert "BM25" in columns["lexical"] and "匹配词" in columns["lexical"]
    assert "<mark>" in html


def test_the_retrieval_test_refuses_bad_input_on_the_page(client) -> None:
    for params, message in [
        ({"q": "医保", "k": "0"}, "k 必须在 1 到 50 之间"),
        ({"q": "医保", "k": "x"}, "k 必须是整数"),
        ({"q": "问" * (MAX_QUESTION + 1)}, "问题太长"),
        ({"q": "医保", "region": "长" * 30}, "地区太长"),
    ]:
        page = client.get("/retrieval", params=params)
        assert page.status_code == 422 and message in page.text, params
    assert client.get("/retrieval").status_code == 200
    escaped = client.get("/retrieval", params={"q": "<script>alert(1)</script>"}).text
    assert "<script>alert" not in escaped
