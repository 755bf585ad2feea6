"""The HTML pages: a plain GET form, the cited answer with its source cards, escaping, headers."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from markupsafe import escape

from ingest.textnorm import is_traditional
from server.highlight import highlight
from settings import Settings

MAX_QUESTION = Settings().max_question_chars

_pages: dict[str, tuple[int, str]] = {}


def page(client, q: str | None = None) -> str:
    """The page for ``q`` (fetched once per session) and check it is an HTML 200."""
    status, html = fetch(client, q)
    assert status == 200, html
    return html


def fetch(client, q: str | None) -> tuple[int, str]:
    key = q if q is not None else "\x00none"
    if key not in _pages:
        response = client.get("/", params=None if q is None else {"q": q})
        assert response.headers["content-type"].startswith("text/html")
        _pages[key] = (response.status_code, response.text)
    return _pages[key]


def section(html: str, cls: str) -> str:
    match = re.search(rf'<section class="{cls}[^"]*"[^>]*>(.*?)</section>', html, re.S)
    assert match, f"no <section class={cls}>"
    return match.group(1)


def input_value(html: str) -> str:
    match = re.search(r'<input[^>]*\bname="q"[^>]*\bvalue="([^"]*)"', html)
    assert match, "no question box"
    return match.group(1)


def title(html: str) -> str:
    return re.search(r"<title>(.*?)</title>", html, re.S).group(1)


def test_home_has_a_plain_form_and_example_questions(client):
    # The form posts: a pasted message of 2,000 characters is too long for a URL; /?q= links work too.
    html = page(client)
    form = re.search(r"<form\b[^>]*>", html).group(0)
    assert 'method="post"' in form and 'action="/"' in form
    assert re.search(r'<input[^>]*\bname="q"', html)
    assert re.search(r'<button[^>]*type="submit"[^>]*>提问</button>', html)
    examples = re.findall(r'<a href="/\?q=([^"]+)">([^<]+)</a>', html)
    assert len(examples) >= 3
    assert "医保卡余额怎么查" in [text for _, text in examples]
    assert 'lang="zh-CN"' in html
    assert 'id="answer"' not in html and "仅供参考" not in section(html, "examples")


def test_example_links_lead_to_answers(client):
    html = page(client)
    href = re.search(r'<a href="(/\?q=[^"]+)">', html).group(1)
    response = client.get(href.replace("&amp;", "&"))
    assert response.status_code == 200 and 'id="answer"' in response.text


def test_result_page_shows_the_answer_with_clickable_citations(client):
    html = page(client, "医保卡余额怎么查")
    answer = section(html, "answer")
    assert "资料中未找到" not in answer
    links = re.findall(r'<a class="cite" href="#src-(\d+)"[^>]*>\[(\d+)\]</a>', answer)
    assert links and all(a == b for a, b in links)
    cards = re.findall(r'<article class="card" id="src-(\d+)"', html)
    assert {n for n, _ in links} == set(cards)
    assert cards == [str(i) for i in range(1, len(cards) + 1)]


def test_result_page_matches_the_api_answer(client):
    html = page(client, "医保卡余额怎么查")
    data = client.post("/api/ask", json={"question": "医保卡余额怎么查"}).json()
    for s in data["sentences"]:
        assert f"{escape(s['text'])}</span>" in html
    for c in data["citations"]:
        assert str(escape(c["section"])) in html


def test_source_cards_show_section_path_date_region_highlights_and_why(client):
    html = page(client, "医保卡余额怎么查")
    cards = re.findall(r'<article class="card"[^>]*>(.*?)</article>', html, re.S)
    assert cards
    for card in cards:
        # The section path (when the passage sits below the document title).
        assert re.search(r'<p class="path">[^<]+ › [^<]+</p>', card)
        assert re.search(r"日期：\d{4}-\d{2}-\d{2}", card)
        assert "<mark>" in card
        assert re.search(r"(语义|关键词) #\d+", card)
    assert any("地区：" in card for card in cards)
    assert "<mark>余额</mark>" in html


def test_cards_underline_the_sentences_the_answer_quotes(client):
    html = page(client, "医保卡里的钱能取现吗")
    data = client.post("/api/ask", json={"question": "医保卡里的钱能取现吗"}).json()
    cards = dict(re.findall(r'<article class="card" id="src-(\d+)">(.*?)</article>', html, re.S))
    for s in data["sentences"]:
        quoted = re.findall(r'<span class="quoted">(.*?)</span>', cards[str(s["n"])], re.S)
        underlined = re.sub(r"</?mark>", "", "".join(quoted))
        assert str(escape(s["source"])) in underlined
        # The rest of the passage is not underlined.
        rest = re.sub(r'<span class="quoted">.*?</span>', "", cards[str(s["n"])], flags=re.S)
        assert str(escape(s["source"])) not in re.sub(r"</?mark>", "", rest)


def test_disclaimer_is_on_every_answer(client):
    for q in ("医保卡余额怎么查", "红烧肉怎么做"):
        answer = section(page(client, q), "answer")
        assert re.search(r'<p class="disclaimer"[^>]*>[^<]*仅供参考[^<]*</p>', answer)


def test_traditional_question_page_answers_in_traditional(client):
    html = page(client, "醫保卡餘額能不能提現")
    sentences = re.findall(r'<span class="sent">([^<]+)</span>', html)
    assert sentences and is_traditional("".join(sentences))
    # The source keeps its own (simplified) characters and still marks the question's words.
    assert re.search(r"<mark>[^<]*(余额|提现)[^<]*</mark>", html)


def test_simplified_words_are_marked_in_a_traditional_source(client):
    html = page(client, "退休人员医保卡每月划入多少")
    cards = re.findall(r'<article class="card"[^>]*>(.*?)</article>', html, re.S)
    traditional = [c for c in cards if "004_" in c]
    assert traditional
    assert re.search(r"<mark>[^<]*醫保[^<]*</mark>", traditional[0])


@pytest.mark.parametrize("q", ["红烧肉怎么做", "明天北京会下雨吗"])
def test_not_found_page(client, q):
    html = page(client, q)
    answer = section(html, "answer")
    assert "not-found" in re.search(r'<section class="([^"]+)" id="answer"', html).group(1)
    assert "资料中未找到相关内容" in answer
    assert 'class="cite"' not in html and 'id="src-' not in html
    assert input_value(html) == str(escape(q))


PAYLOADS = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "医保卡余额</title><b>x</b>"]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_user_text_is_always_escaped(client, payload):
    html = page(client, payload)
    assert payload not in html
    escaped = str(escape(payload))
    assert input_value(html) == escaped
    assert title(html).startswith(escaped)
    assert "<script" not in html and "onerror=alert" not in html.replace(escaped, "")
    assert "<img" not in html


def test_template_syntax_in_a_question_is_not_evaluated(client):
    html = page(client, "{{7*7}}")
    assert input_value(html) == "{{7*7}}"
    assert title(html).startswith("{{7*7}} ·")
    assert "49" not in input_value(html) + title(html)


@pytest.mark.parametrize(
    ("q", "words"),
    [
        ("医" * (MAX_QUESTION + 1), ("问题太长", str(MAX_QUESTION))),
        ("医保\x00卡", ("控制字符", "control")),
        ("医保\x1b卡", ("控制字符",)),
    ],
)
def test_bad_questions_get_a_422_page_with_the_message(client, q, words):
    status, html = fetch(client, q)
    assert status == 422
    error = re.search(r'<p class="error"[^>]*>([^<]+)</p>', html)
    assert error and all(w in error.group(1) for w in words)
    assert re.search(r'<input[^>]*\bname="q"', html)
    assert 'id="answer"' not in html


@pytest.mark.parametrize("q", ["", "   "])
def test_an_empty_question_shows_the_home_page(client, q):
    html = page(client, q)
    assert 'id="answer"' not in html and 'class="error"' not in html
    assert section(html, "examples")


def test_pages_are_readable_on_a_phone(client):
    html = page(client, "医保卡余额怎么查")
    assert re.search(r'<meta name="viewport" content="width=device-width, initial-scale=1">', html)
    css = client.get("/static/style.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert "@media (max-width" in css.text


def test_security_headers_and_no_inline_code(client):
    response = client.get("/", params={"q": "医保卡余额怎么查"})
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "unsafe-inline" not in csp and "script-src" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    html = response.text
    assert "<script" not in html and "<style" not in html
    assert not re.search(r"\sstyle=|\son[a-z]+=", html)


def test_eval_page_responds_without_a_report(client):
    response = client.get("/eval")
    assert response.status_code == 200 and "评测" in response.text


def test_highlight_marks_terms_on_the_original_characters():
    pieces = highlight("醫保卡餘額可以查詢", ["医保卡", "查询"])
    assert "".join(p for p, _, _ in pieces) == "醫保卡餘額可以查詢"
    assert [p for p, hit, _ in pieces if hit] == ["醫保卡", "查詢"]
    assert highlight("abc", []) == [("abc", False, False)]
    # Single ASCII letters would mark every stray character; they are ignored.
    assert all(not hit for _, hit, _ in highlight("a b c", ["a"]))


def test_highlight_marks_terms_and_quoted_spans_independently():
    runs = highlight("医保卡余额可以查询", ["余额"], [(3, 7)])
    assert "".join(p for p, _, _ in runs) == "医保卡余额可以查询"
    assert runs == [
        ("医保卡", False, False),
        ("余额", True, True),
        ("可以", False, True),
        ("查询", False, False),
    ]
    assert highlight("abc", [], [(-5, 99)]) == [("abc", False, True)]


def test_eval_page_renders_the_json_report_escaped_with_any_metric(settings, engine, tmp_path):
    import json
    from dataclasses import replace

    from fastapi.testclient import TestClient

    from server.app import create_app

    conf = replace(settings, data_dir=tmp_path)
    report = {
        "config": {"name": "hybrid", "questions": "q.jsonl", "model": "m", "created_at": "today"},
        "metrics": {"hit@1": 0.5, "glued": 0.125, "median_answer_chars": 88, "recall_curve": [0.1, 0.2]},
        "per_question": [
            {"id": "q1", "question": "<script>alert(1)</script>", "answerable": True,
             "first_relevant_rank": None, "abstained": False, "answer_has_evidence": False,
             "answer": "<b>x</b>", "cited_docs": ["a.txt"]},
        ],
    }  # fmt: skip
    conf.eval_report.write_text(json.dumps(report), encoding="utf-8")
    with TestClient(create_app(conf, engine)) as client:
        html = client.get("/eval").text
    assert "glued" in html and "0.125" in html and "median_answer_chars" in html and "88" in html
    assert "recall_curve" not in html  # a list, not a metric to tabulate
    assert "<script>alert" not in html and "&lt;script&gt;" in html and "&lt;b&gt;x" in html
    assert 'class="fail"' in html


def test_passages_the_answer_does_not_quote_are_listed_to_read(client):
    html = page(client, "医保卡余额怎么查")
    data = client.post("/api/ask", json={"question": "医保卡余额怎么查"}).json()
    related = section(html, "related")
    cited = {(c["doc"], c["start"]) for c in data["citations"]}
    assert data["related"] and not cited & {(r["doc"], r["start"]) for r in data["related"]}
    for r in data["related"]:
        assert f'href="/doc/{r["doc"]}?start={r["start"]}&amp;end={r["end"]}#quote"' in related


def test_the_form_takes_a_short_question_to_its_own_address(client):
    # Shareable and back-button friendly: the answer page of a posted question is /?q=….
    posted = client.post("/", data={"q": "医保卡余额怎么查"}, follow_redirects=False)
    assert posted.status_code == 303 and posted.headers["location"] == "/?q=" + quote("医保卡余额怎么查")
    assert "仅供参考" in client.get(posted.headers["location"]).text
