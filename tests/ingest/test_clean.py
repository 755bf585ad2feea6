"""Boilerplate is recognised line by line as spans; the text itself is never touched."""

from __future__ import annotations

import pytest

from ingest.clean import LineKind, normalize_date, scan_lines
from ingest.pipeline import read_corpus
from ingest.records import Document
from settings import Settings

BOILERPLATE_MARKERS = ("举报", "诚聘英才", "免责声明", "字數", "閱讀", "相关推荐", "请点击输入", "請點選輸入")


@pytest.fixture(scope="module")
def docs() -> dict[str, Document]:
    documents, _ = read_corpus(Settings.from_env().corpus_dir)
    return {doc.doc_id[:3]: doc for doc in documents}


def _texts(doc: Document, kind: LineKind) -> list[str]:
    return [doc.text[line.start : line.end] for line in scan_lines(doc.text) if line.kind is kind]


def test_lines_are_stripped_spans_of_the_original_text(docs: dict[str, Document]) -> None:
    for doc in docs.values():
        lines = scan_lines(doc.text)
        expected = [raw.strip() for raw in doc.text.split("\n") if raw.strip()]
        assert [doc.text[line.start : line.end] for line in lines] == expected


def test_body_lines_carry_no_boilerplate(docs: dict[str, Document]) -> None:
    for doc in docs.values():
        for text in _texts(doc, LineKind.BODY):
            assert not any(marker in text for marker in BOILERPLATE_MARKERS), text
            assert not text.startswith(("提示:本内容不能代替面诊", "温馨提示:本数据源于网络", "社保网声明"))


def test_expected_boilerplate_is_dropped(docs: dict[str, Document]) -> None:
    dropped = {key: _texts(doc, LineKind.BOILERPLATE) for key, doc in docs.items()}
    assert "提示:本内容不能代替面诊,如有不适请尽快就医。" in dropped["000"]
    for key in ("001", "003"):
        assert "举报" in dropped[key] and "诚聘英才" in dropped[key]
        assert any(text.startswith("【免责声明】") for text in dropped[key])
    assert any(text.startswith("社保网声明:") and text.endswith("投诉") for text in dropped["002"])
    related_links = [text for text in dropped["002"] if "医保知识" in text]
    assert len(related_links) == 6
    assert "請點選輸入**描述(最多18字)" in dropped["004"]
    for key in ("000", "001", "003"):
        assert _texts(docs[key], LineKind.RELATED) == ["相关推荐"]


def test_meta_lines_give_dates_and_sources(docs: dict[str, Document]) -> None:
    def meta(key: str) -> list[tuple[str | None, str | None]]:
        return [(ln.date, ln.source) for ln in scan_lines(docs[key].text) if ln.kind is LineKind.META]

    assert meta("001") == [("2025-08-19", None)]
    assert meta("002") == [("2025-04-03", "社保网")]
    assert meta("003") == [("2025-05-05", None)]
    assert meta("004") == [("2025-01-12", None)]  # the 字數/閱讀 counters are not a source


def test_trailers_close_the_000_sub_articles(docs: dict[str, Document]) -> None:
    trailers = [ln for ln in scan_lines(docs["000"].text) if ln.kind is LineKind.TRAILER]
    assert len(trailers) == 20
    assert {(ln.date, ln.source) for ln in trailers} == {("2025-04-19", "健康新闻")}


def test_masked_words_and_ordinary_text_stay_body() -> None:
    text = "1、登入當地的人力資源和社會保障局**,選擇「個人社保查詢」;\n提示音响起后按1。\n我要举报这件事。\n"
    assert [line.kind for line in scan_lines(text)] == [LineKind.BODY] * 3


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("2025-04-03", "2025-04-03"), ("2025/4/3", "2025-04-03"), ("2025.12.1", "2025-12-01")],
)
def test_normalize_date(raw: str, expected: str) -> None:
    assert normalize_date(raw) == expected
