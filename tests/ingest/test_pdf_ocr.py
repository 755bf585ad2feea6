"""Scanned PDFs (page images, no text layer) read by OCR with the real RapidOCR models: the
sentence is found and cited with its page and marked as OCR; pages under the confidence floor or
past the page limit are reported, not indexed; a file is read by OCR once."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from urllib.parse import quote

import pytest

from ingest import pdf_ocr
from ingest.pdf_ocr import OcrLimits
from ingest.pipeline import read_corpus
from ingest.readers import PAGE_SEP, SCANNED_PDF, read_document
from ingest.records import Document, SkippedFile
from settings import Settings
from tests.docfiles import write_blank_pdf, write_scanned_pdf

pytest.importorskip("rapidocr_onnxruntime", reason="OCR is the ocr extra: pip install -e '.[ocr]'")

SENTENCE = "灵活就业人员的生育津贴按本人缴费基数计发，支付期限为九十八天。"
SCAN = [
    [
        "关于灵活就业人员生育保险待遇的通知",
        "各参保单位、各参保人员：",
        "为保障灵活就业人员的生育保险权益，根据国家和省有关规定，",
        "结合本市实际，现就灵活就业人员参加生育保险有关事项通知如下。",
        "本通知自发布之日起施行，有效期五年。各区医疗保障部门要加强",
        "宣传解读，做好政策衔接，确保参保人员按时足额享受待遇。",
        "参保人员可通过国家医保服务平台查询本人的参保缴费记录。",
        "执行中遇到的问题，请及时向市医疗保障局反映。",
    ],
    ["一、生育津贴", SENTENCE],
]
OTHER = "# 异地就医备案\n\n参保人员到外地就医前，应通过国家医保服务平台办理备案，再持医保卡结算。\n"
QUESTION = "灵活就业人员的生育津贴怎么计发"
LIMITS = OcrLimits(max_pages=100, seconds=600, min_confidence=0.8)


@pytest.fixture(scope="module")
def library(settings: Settings, embedder, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A corpus of one scanned PDF and one text file, indexed by the code `yibao ingest` runs."""
    from index.build import build_index

    root = tmp_path_factory.mktemp("scanned")
    corpus = root / "corpus"
    corpus.mkdir()
    write_scanned_pdf(corpus / "scan.pdf", SCAN)
    (corpus / "other.md").write_text(OTHER, encoding="utf-8")
    conf = replace(settings, corpus_dir=corpus, data_dir=root / "data")
    report = build_index(conf, embedder)
    assert report.files_read == 2 and not report.skipped
    return conf


def test_the_sentence_is_found_and_cited_with_its_page(library: Settings, embedder) -> None:
    from fastapi.testclient import TestClient

    from server.app import create_app
    from server.engine import Engine

    with TestClient(create_app(library, Engine(library, embedder))) as client:
        answer = client.post("/api/ask", json={"question": QUESTION}).json()
        assert SENTENCE in answer["answer"]
        cited = answer["citations"][0]
        assert (cited["doc"], cited["page"], cited["ocr"]) == ("scan.pdf", 2, True)

        page = client.get("/", params={"q": QUESTION}).text
        assert "第 2 页" in page and "OCR 识别" in page
        view = client.get(f"/doc/{quote('scan.pdf')}", params={"start": cited["start"], "end": cited["end"]})
        assert "OCR 识别：第 1、2 页" in view.text
        assert "第 2 页（OCR 识别，可能有误）" in view.text


def test_a_text_file_is_not_marked_as_ocr(library: Settings, embedder) -> None:
    from answer.compose import Answerer
    from index.loader import open_retriever

    answer = Answerer(open_retriever(library, embedder), library).ask("异地就医怎么备案")
    assert answer.citations and not any(c.passage.chunk.ocr for c in answer.citations)


def _read(path: Path, limits: OcrLimits) -> Document | SkippedFile:
    return read_document(path, path.parent, ocr=limits)


def test_a_page_below_the_confidence_floor_is_reported_not_indexed(tmp_path: Path) -> None:
    path = write_scanned_pdf(tmp_path / "scan.pdf", [SCAN[1], SCAN[1]], poor=(2,))
    doc = _read(path, LIMITS)
    assert isinstance(doc, Document) and doc.ocr_pages == (1,)
    assert doc.text.count(SENTENCE) == 1 and doc.text.endswith(SENTENCE + PAGE_SEP)
    (warning,) = doc.warnings
    assert warning.startswith("pages read by OCR with confidence below 0.8, not indexed: 2 (0.")


def test_pages_past_the_page_limit_are_reported(tmp_path: Path) -> None:
    path = write_scanned_pdf(tmp_path / "scan.pdf", [SCAN[1], ["第二页"], ["第三页"]])
    doc = _read(path, replace(LIMITS, max_pages=1))
    assert isinstance(doc, Document)
    assert SENTENCE in doc.text and doc.ocr_pages == (1,)
    limit = "OCR reads at most 1 pages a file, YIBAO_OCR_MAX_PAGES"
    assert doc.warnings == (f"pages not read by OCR: 2–3 ({limit})",)


def test_a_file_is_read_by_ocr_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_scanned_pdf(tmp_path / "scan.pdf", SCAN[1:])
    limits = replace(LIMITS, cache_dir=tmp_path / "ocr")
    first = _read(path, limits)
    assert isinstance(first, Document) and SENTENCE in first.text

    def no_second_reading(*args: object) -> None:
        raise AssertionError("OCR ran again on a file it had read")

    monkeypatch.setattr(pdf_ocr, "_ocr", no_second_reading)
    assert _read(path, limits) == first


def test_pages_without_any_text_are_skipped_with_the_reason(tmp_path: Path) -> None:
    write_blank_pdf(tmp_path / "blank.pdf", pages=2)
    documents, skipped = read_corpus(tmp_path, ocr=LIMITS)
    assert not documents
    assert skipped == [SkippedFile("blank.pdf", f"{SCANNED_PDF}; pages without text, also by OCR: 1–2")]
    _, off = read_corpus(tmp_path, ocr=replace(LIMITS, max_pages=0))
    assert off[0].reason.endswith("OCR is off (YIBAO_OCR_MAX_PAGES=0)")
