"""Real files of every supported kind, in every supported encoding, through the whole ingest:
what text comes out, where chunks point, which page they start on, and what is refused."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from ingest.pipeline import chunk_document, read_corpus
from ingest.readers import SCANNED_PDF, read_document
from ingest.records import Document, SkippedFile
from settings import Settings
from tests.docfiles import write_blank_pdf, write_docx, write_pdf

SIMPLIFIED = (
    "职工医保个人账户怎么用\n\n个人账户的钱可以支付本人在定点医院看病的费用，也可以在定点药店买药。\n"
)
TRADITIONAL = "異地就醫怎麼備案\n\n參保人員到外地就醫，需要先在醫保服務平臺辦理備案，再持醫保卡結算。\n"
PAGE_ONE = [
    "门诊慢特病待遇说明",
    "参保人员患有高血压、糖尿病等门诊慢特病的，经认定后，在定点医疗机构门诊发生的"
    "符合规定的费用，按照规定比例报销。" * 3,
]
PAGE_TWO = [
    "生育津贴的领取",
    "女职工生育享受产假期间，可以按照规定领取生育津贴，生育津贴按照职工所在用人单位"
    "上年度职工月平均工资计发。" * 3,
]


def _chunks(doc: Document) -> list:
    return chunk_document(doc, Settings())[0]


def _read(path: Path) -> Document:
    doc = read_document(path, path.parent)
    assert isinstance(doc, Document), doc
    return doc


@pytest.mark.parametrize(
    ("encoding", "text"),
    [
        ("gb18030", SIMPLIFIED),
        ("gbk", SIMPLIFIED),
        ("gb2312", SIMPLIFIED),
        ("big5", TRADITIONAL),
        ("utf-16", SIMPLIFIED),  # Python writes the BOM
        ("utf-8-sig", TRADITIONAL),
        ("utf-8", SIMPLIFIED),
    ],
)
def test_text_in_each_supported_encoding_reads_as_the_same_text(
    tmp_path: Path, encoding: str, text: str
) -> None:
    path = tmp_path / "doc.txt"
    path.write_bytes(text.encode(encoding))
    doc = _read(path)
    assert doc.text == text
    assert doc.kind == "txt" and doc.size == path.stat().st_size
    chunks = _chunks(doc)
    assert chunks and all(doc.text[c.start : c.end] == c.text for c in chunks)
    assert all(c.page is None for c in chunks)


def test_gb18030_document_in_a_corpus_is_chunked_with_its_title(tmp_path: Path) -> None:
    (tmp_path / "gbk.txt").write_bytes(SIMPLIFIED.encode("gb18030"))
    (tmp_path / "big5.md").write_bytes(TRADITIONAL.encode("big5"))
    documents, skipped = read_corpus(tmp_path)
    assert not skipped
    by_id = {doc.doc_id: doc for doc in documents}
    assert by_id["gbk.txt"].encoding == "gb18030" and by_id["big5.md"].encoding == "big5"
    assert _chunks(by_id["gbk.txt"])[0].title == "职工医保个人账户怎么用"
    assert _chunks(by_id["big5.md"])[0].title == "異地就醫怎麼備案"


def test_bytes_of_no_supported_encoding_are_skipped_with_the_reason(tmp_path: Path) -> None:
    path = tmp_path / "cyrillic.txt"
    path.write_bytes("Медицинское страхование и пенсии".encode("koi8-r"))
    result = read_document(path, tmp_path)
    assert isinstance(result, SkippedFile)
    assert "GB18030" in result.reason and "Big5" in result.reason


def test_two_page_pdf_gives_page_numbers_and_exact_offsets(tmp_path: Path) -> None:
    doc = _read(write_pdf(tmp_path / "guide.pdf", [PAGE_ONE, PAGE_TWO]))
    assert doc.kind == "pdf" and len(doc.pages) == 2 and doc.pages[0] == 0
    assert doc.text.startswith("门诊慢特病待遇说明")
    assert doc.text[doc.pages[1] :].startswith("生育津贴的领取")
    # Lines the PDF wrapped a paragraph into are joined again: the sentence is whole.
    assert "门诊发生的符合规定的费用" in doc.text
    chunks = _chunks(doc)
    assert all(doc.text[c.start : c.end] == c.text for c in chunks)
    pages = {c.page for c in chunks}
    assert pages == {1, 2}
    assert next(c for c in chunks if "门诊慢特病待遇说明" in c.text).page == 1
    assert next(c for c in chunks if "上年度职工月平均工资" in c.text).page == 2
    assert all(c.page == doc.page_at(c.start) for c in chunks)


def test_pdf_without_a_text_layer_is_skipped_as_scanned(tmp_path: Path, caplog) -> None:
    write_blank_pdf(tmp_path / "scan.pdf", pages=2)
    with caplog.at_level(logging.WARNING, logger="ingest"):
        documents, skipped = read_corpus(tmp_path)
    assert not documents
    reason = f"{SCANNED_PDF}; pages without a text layer (scanned?): 1–2; not read by OCR"
    assert skipped == [SkippedFile("scan.pdf", reason)]
    assert any("scan.pdf" in r.getMessage() and SCANNED_PDF in r.getMessage() for r in caplog.records)


def test_docx_headings_become_sections_and_tables_lines_of_cells(tmp_path: Path) -> None:
    path = write_docx(
        tmp_path / "family.docx",
        "家庭共济办理指南",
        [
            ("什么是家庭共济", ["职工医保个人账户可以给配偶、父母和子女使用。"]),
            ("怎么绑定家庭成员", ["打开国家医保服务平台，选择家庭共济，添加家庭成员。"]),
        ],
        [["项目", "年度限额"], ["门诊统筹", "2000元"]],
    )
    doc = _read(path)
    assert doc.kind == "docx"
    lines = doc.text.splitlines()
    assert lines[:2] == ["# 家庭共济办理指南", "# 什么是家庭共济"]
    assert "门诊统筹 | 2000元" in lines
    chunks = _chunks(doc)
    assert all(doc.text[c.start : c.end] == c.text for c in chunks)
    sections = {c.section for c in chunks}
    assert any(s.endswith("怎么绑定家庭成员") for s in sections), sections
    binding = next(c for c in chunks if "添加家庭成员" in c.text)
    assert binding.section.endswith("怎么绑定家庭成员") and binding.title == "家庭共济办理指南"


def test_a_file_that_is_not_a_docx_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "fake.docx").write_text("不是 Word 文件", encoding="utf-8")
    result = read_document(tmp_path / "fake.docx", tmp_path)
    assert isinstance(result, SkippedFile) and ".docx" in result.reason


def test_htm_is_read_as_html(tmp_path: Path) -> None:
    (tmp_path / "page.htm").write_bytes("<h1>医保报销</h1><p>住院费用按比例报销。</p>".encode("gb18030"))
    doc = _read(tmp_path / "page.htm")
    assert doc.kind == "html" and doc.text.split() == ["医保报销", "住院费用按比例报销。"]


def test_links_out_of_the_corpus_are_skipped_and_links_inside_are_read(tmp_path: Path, caplog) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    outside = tmp_path / "secret.txt"
    outside.write_text("不应被索引的秘密内容。", encoding="utf-8")
    (corpus / "real.txt").write_text(SIMPLIFIED, encoding="utf-8")
    os.symlink("/etc/passwd", corpus / "passwd.txt")
    os.symlink(outside, corpus / "secret.txt")
    os.symlink("real.txt", corpus / "alias.txt")
    os.symlink(tmp_path, corpus / "parent")
    with caplog.at_level(logging.WARNING, logger="ingest"):
        documents, skipped = read_corpus(corpus)
    assert [d.doc_id for d in documents] == ["alias.txt", "real.txt"]
    reasons = {s.path: s.reason for s in skipped}
    assert set(reasons) == {"passwd.txt", "secret.txt", "parent"}
    assert all("outside the corpus" in reasons[name] for name in reasons)
    assert not any("root:" in d.text or "秘密" in d.text for d in documents)
    warnings = " ".join(r.getMessage() for r in caplog.records)
    assert "passwd.txt" in warnings and "secret.txt" in warnings


def test_unsupported_types_are_listed_as_skipped(tmp_path: Path) -> None:
    (tmp_path / "table.xlsx").write_bytes(b"PK\x03\x04")
    (tmp_path / "README").write_text("没有扩展名", encoding="utf-8")
    _, skipped = read_corpus(tmp_path)
    reasons = {s.path: s.reason for s in skipped}
    assert reasons["table.xlsx"].startswith("not a supported type (.xlsx)")
    assert reasons["README"].startswith("not a supported type (no extension)")
