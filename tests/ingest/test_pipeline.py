"""End to end on the real corpus: what every chunk must satisfy, and the corpus-specific structure."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest.pipeline import chunk_document, ingest_corpus, read_corpus
from ingest.records import SECTION_SEP, Chunk, Document, IngestResult
from settings import Settings

# Independent of ingest/clean.py on purpose: plain substrings a reader would call boilerplate.
BOILERPLATE = ("举报", "诚聘英才", "免责声明", "字數", "閱讀", "相关推荐", "请点击输入图片描述", "請點選輸入")
BOILERPLATE_LINE = re.compile(
    r"^(?:健康新闻 \d{4}-\d\d-\d\d|\d{4}-\d\d-\d\d \d\d:\d\d.*|.*\d{4}-\d\d-\d\d \d\d:\d\d医保知识.*"
    r"|.*声明[:：].*|(?:温馨)?提示[:：].*|.*免责声明.*|举报|相关推荐|诚聘英才|請點選輸入.*)$"
)
CJK = re.compile(r"[\u4e00-\u9fff]")


def _chunks(result: IngestResult, prefix: str) -> list[Chunk]:
    return [chunk for chunk in result.chunks if chunk.doc_id.startswith(prefix)]


def _lines(text: str) -> Iterator[tuple[int, int, str]]:
    for match in re.finditer(r"[^\n]+", text):
        stripped = match.group().strip()
        if stripped:
            start = match.start() + match.group().index(stripped)
            yield start, start + len(stripped), stripped


def test_every_chunk_is_an_exact_span_of_its_document(result: IngestResult) -> None:
    texts = {doc.doc_id: doc.text for doc in result.documents}
    for chunk in result.chunks:
        assert texts[chunk.doc_id][chunk.start : chunk.end] == chunk.text


def test_no_chunk_contains_boilerplate(result: IngestResult) -> None:
    for chunk in result.chunks:
        assert not any(marker in chunk.text for marker in BOILERPLATE), chunk.text
        assert not re.search(r"健康新闻 \d{4}-\d\d-\d\d", chunk.text)
        assert not re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", chunk.text), chunk.text  # meta and link lines
        assert "不能代替面诊" not in chunk.text and "社保网声明" not in chunk.text


def test_every_body_line_is_covered_by_some_chunk(result: IngestResult) -> None:
    for doc in result.documents:
        covered = bytearray(len(doc.text))
        for chunk in result.chunks:
            if chunk.doc_id == doc.doc_id:
                covered[chunk.start : chunk.end] = b"\1" * (chunk.end - chunk.start)
        lines = list(_lines(doc.text))
        for start, end, line in lines[1:]:  # the first line is the title, kept as chunk metadata
            if len(CJK.findall(line)) >= 8 and not BOILERPLATE_LINE.match(line):
                assert all(covered[start:end]), f"{doc.doc_id}: {line}"


def test_ids_are_unique_and_stable_across_runs(result: IngestResult, settings: Settings) -> None:
    ids = [chunk.id for chunk in result.chunks]
    assert len(ids) == len(set(ids))
    assert ids == [chunk.id for chunk in ingest_corpus(settings).chunks]


def test_counts(result: IngestResult, settings: Settings) -> None:
    assert len(result.documents) == 5 and not result.skipped
    assert result.sections >= len(result.documents)
    assert {chunk.doc_id for chunk in result.chunks} == {doc.doc_id for doc in result.documents}


def test_chunk_document_counts_sections(result: IngestResult, settings: Settings) -> None:
    doc = result.documents[0]
    chunks, sections, _ = chunk_document(doc, settings)
    assert chunks == [chunk for chunk in result.chunks if chunk.doc_id == doc.doc_id]
    assert len({chunk.section for chunk in chunks}) <= sections <= len(chunks)


def test_000_sub_articles_are_sections_with_title_date_region(result: IngestResult) -> None:
    chunks = _chunks(result, "000")
    sub = [chunk for chunk in chunks if chunk.date == "2025-04-19"]
    assert len({chunk.title for chunk in sub}) == 20
    target = next(chunk for chunk in sub if chunk.title == "厦门医保补缴怎么计算")
    assert (
        target.region == "厦门" and target.source == "健康新闻" and target.section == "厦门医保补缴怎么计算"
    )
    assert target.text.startswith("厦门医保补缴怎么计算\n")
    assert any(chunk.region == "牡丹江" for chunk in sub)
    for chunk in sub:  # one sub-article never leaks into another
        assert chunk.text.startswith(chunk.title)
        assert sum(other.title in chunk.text for other in sub if other.title != chunk.title) == 0


def test_000_section_paths(result: IngestResult) -> None:
    sections = {chunk.section for chunk in _chunks(result, "000")}
    assert SECTION_SEP.join(["医保个人账户余额怎么查看", "一、线上查询", "2. 手机APP查询"]) in sections
    official = next(chunk for chunk in _chunks(result, "000") if "1. 官方网站查询" in chunk.text)
    assert official.section.endswith("一、线上查询 › 1. 官方网站查询")


def test_004_floors_are_separate(result: IngestResult) -> None:
    chunks = _chunks(result, "004")
    assert all(len(re.findall(r"\d+樓:", chunk.text)) <= 1 for chunk in chunks)
    first = {chunk.id for chunk in chunks if chunk.section.endswith("1樓")}
    third = {chunk.id for chunk in chunks if chunk.section.endswith("3樓")}
    assert first and third and not first & third
    assert SECTION_SEP.join(["如何查個人醫保賬,怎麼查個人醫保賬戶明細", "1樓"]) in {c.section for c in chunks}
    assert all(chunk.date == "2025-01-12" for chunk in chunks)
    assert any("**" in chunk.text for chunk in chunks)  # masked words stay as they are


def test_dates_sources_and_regions(result: IngestResult) -> None:
    assert {chunk.date for chunk in _chunks(result, "001")} == {"2025-08-19"}
    assert {(chunk.date, chunk.source) for chunk in _chunks(result, "002")} == {("2025-04-03", "社保网")}
    assert {chunk.date for chunk in _chunks(result, "003")} == {"2025-05-05"}
    assert "深圳" in {chunk.region for chunk in _chunks(result, "001")}
    assert "湘潭" in {chunk.region for chunk in _chunks(result, "002")}
    assert "石家庄" in {chunk.region for chunk in _chunks(result, "003")}


def test_numbers_and_list_markers_are_not_split(result: IngestResult, tmp_path: Path) -> None:
    texts = {doc.doc_id: doc.text for doc in result.documents}
    for chunk in result.chunks:
        text = texts[chunk.doc_id]
        assert not (text[chunk.end - 1] in ".．" and text[chunk.end : chunk.end + 1].isdigit())
        assert not (chunk.start > 0 and text[chunk.start - 1] in ".．" and text[chunk.start].isdigit())
    assert any("1. 官方网站查询\n\n    登录当地医疗保障局官网" in chunk.text for chunk in result.chunks)

    (tmp_path / "n.txt").write_text("报销\n\n" + "最高可报1.5万元,门诊另计。" * 40 + "\n", encoding="utf-8")
    chunks = ingest_corpus(Settings(corpus_dir=tmp_path)).chunks
    assert len(chunks) > 1
    assert all(chunk.text.startswith(("报销", "最高可报1.5万元")) for chunk in chunks)
    assert all(chunk.text.endswith("门诊另计。") for chunk in chunks)


def test_bad_files_are_skipped_and_good_ones_chunked(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "a.txt").write_text("医保卡余额怎么查\n\n拨打12333查询余额。\n", encoding="utf-8")
    (tmp_path / "b.md").write_text("# 须知\n\n带上身份证和医保卡办理。\n", encoding="utf-8")
    (tmp_path / "c.html").write_text("<h1>页面</h1><p>在<b>窗口</b>办理。</p>", encoding="utf-8")
    (tmp_path / "latin1.txt").write_bytes("café".encode("latin-1"))
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "bin.txt").write_bytes(b"\x00\x01\x02")
    with caplog.at_level(logging.WARNING):
        result = ingest_corpus(Settings(corpus_dir=tmp_path))
    assert [doc.doc_id for doc in result.documents] == ["a.txt", "b.md", "c.html"]
    assert sorted(item.path for item in result.skipped) == ["bin.txt", "empty.txt", "latin1.txt"]
    for name in ("bin.txt", "empty.txt", "latin1.txt"):
        assert any(
            name in record.getMessage() for record in caplog.records if record.levelno == logging.WARNING
        )
    html = next(chunk for chunk in result.chunks if chunk.doc_id == "c.html")
    assert html.text == "页面\n在窗口办理。" and html.section == "页面"


def test_missing_corpus_dir_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="corpus directory"):
        read_corpus(tmp_path / "nope")


@pytest.mark.parametrize(
    "text",
    [
        "厦门医保可以在全国直接结算。\n",
        "医保卡挂失请拨打12333\n",
        "孩子的医保怎么办理?答:带户口本去社区办理。",
    ],
)
def test_a_document_that_is_only_its_first_line_keeps_it(text: str) -> None:
    chunks, _, _ = chunk_document(Document("note.txt", text, "sha"), Settings.from_env())
    assert [c.text for c in chunks] == [text.strip()]
