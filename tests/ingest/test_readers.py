"""Reading corpus files: which files count, what is skipped and why, HTML as text (the other
formats, encodings and links: test_formats.py)."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import pytest

from ingest.html_text import html_to_text
from ingest.pipeline import read_corpus
from ingest.readers import iter_corpus_files, read_document
from ingest.records import Document, SkippedFile
from settings import Settings

PAGE = """<!doctype html><html><head><title>页面标题</title><style>p {color: red}</style></head>
<body><h1>医保卡余额怎么查</h1><p>拨打12333&nbsp;查询&amp;办理。</p>
<script>var x = "<p>脚本</p>";</script><ul><li>一、线上查询</li><li>二、线下查询</li></ul></body></html>"""


@pytest.fixture
def mixed_corpus(tmp_path: Path) -> Path:
    (tmp_path / "good.txt").write_text("医保卡余额怎么查\n\n拨打12333查询余额。\n", encoding="utf-8")
    (tmp_path / "notes.md").write_text("# 医保须知\n\n带上身份证和医保卡。\n", encoding="utf-8")
    (tmp_path / "page.html").write_text(PAGE, encoding="utf-8")
    (tmp_path / "sub" / "dir").mkdir(parents=True)
    (tmp_path / "sub" / "dir" / "nested.txt").write_text("嵌套目录里的文件也要读。\n", encoding="utf-8")
    (tmp_path / "latin1.txt").write_bytes("café crème".encode("latin-1"))
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "blank.md").write_text("  \n\t\n", encoding="utf-8")
    (tmp_path / "binary.txt").write_bytes(b"PK\x03\x04\x00\x00\x01binary")
    (tmp_path / ".hidden.txt").write_text("隐藏文件不读。", encoding="utf-8")
    (tmp_path / ".cache").mkdir()
    (tmp_path / ".cache" / "x.txt").write_text("隐藏目录不读。", encoding="utf-8")
    (tmp_path / "data.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    (tmp_path / "scan.pdf").write_bytes(b"%PDF-1.4")
    return tmp_path


def test_reads_good_files_recursively_and_ignores_hidden_and_other_extensions(mixed_corpus: Path) -> None:
    documents, _ = read_corpus(mixed_corpus)
    assert [doc.doc_id for doc in documents] == ["good.txt", "notes.md", "page.html", "sub/dir/nested.txt"]


def test_bad_files_are_skipped_with_a_warning_naming_file_and_reason(
    mixed_corpus: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="ingest"):
        _, skipped = read_corpus(mixed_corpus)
    reasons = {item.path: item.reason for item in skipped}
    assert set(reasons) == {"latin1.txt", "empty.txt", "blank.md", "binary.txt", "data.csv", "scan.pdf"}
    assert "UTF-8" in reasons["latin1.txt"] and "GB18030" in reasons["latin1.txt"]
    assert "not a supported type (.csv)" in reasons["data.csv"]
    assert "damaged PDF" in reasons["scan.pdf"]
    assert "empty" in reasons["empty.txt"] and "empty" in reasons["blank.md"]
    assert "binary" in reasons["binary.txt"]
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    for path, reason in reasons.items():
        assert any(path in message and reason in message for message in warnings), path


def test_html_becomes_visible_text_only(mixed_corpus: Path) -> None:
    documents, _ = read_corpus(mixed_corpus)
    page = next(doc for doc in documents if doc.doc_id == "page.html")
    assert "<" not in page.text and ">" not in page.text
    assert "脚本" not in page.text and "color" not in page.text and "页面标题" not in page.text
    assert "拨打12333\xa0查询&办理。" in page.text
    lines = [line.strip() for line in page.text.splitlines() if line.strip()]
    assert lines == ["医保卡余额怎么查", "拨打12333\xa0查询&办理。", "一、线上查询", "二、线下查询"]


def test_html_to_text_keeps_block_elements_on_separate_lines() -> None:
    assert html_to_text("<p>第一段</p><p>第二段<br>换行</p>").split() == ["第一段", "第二段", "换行"]


def test_document_text_is_the_decoded_file_and_hash_is_of_its_bytes(tmp_path: Path) -> None:
    path = tmp_path / "bom.txt"
    path.write_bytes(b"\xef\xbb\xbf" + "标题\n正文。".encode())
    doc = read_document(path, tmp_path)
    assert isinstance(doc, Document)
    assert doc.text == "标题\n正文。"
    assert doc.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_unreadable_path_is_skipped_not_raised(tmp_path: Path) -> None:
    result = read_document(tmp_path / "missing.txt", tmp_path)
    assert isinstance(result, SkippedFile) and result.path == "missing.txt"


def test_real_corpus_doc_ids_are_file_names() -> None:
    corpus_dir = Settings.from_env().corpus_dir
    names = [path.name for path in iter_corpus_files(corpus_dir)]
    documents, skipped = read_corpus(corpus_dir)
    assert not skipped
    assert [doc.doc_id for doc in documents] == names
    assert len(documents) >= 5
