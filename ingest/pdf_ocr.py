"""Scanned PDF pages read by OCR: each page without a text layer is rendered by PDFium
(pypdfium2) and read by RapidOCR, whose Chinese PP-OCR models ship inside its wheel (no download).

A file is read up to ``YIBAO_OCR_MAX_PAGES`` pages and ``YIBAO_OCR_SECONDS`` seconds; pages past
either limit, pages read with a mean confidence under ``YIBAO_OCR_MIN_CONFIDENCE`` and pages where
OCR finds no text are named in the document's warnings, not indexed. OCR takes seconds a page, and
every ingest reads the whole corpus again, so what a file gave is kept by its hash in the data dir
(``ocr/``): the same file under the same limits is read once, and gives the same text every time.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.metadata
import json
import logging
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ingest.pdf_text import normalise_page
from settings import Settings

log = logging.getLogger(__name__)

# Scans are made at 200–300 dpi; 200 reads ordinary print, and a page's longer side is capped so
# that a poster-sized page cannot take gigabytes.
RENDER_DPI = 200
MAX_SIDE_PIXELS = 3000
CACHE_DIR = "ocr"


@dataclass(frozen=True)
class OcrLimits:
    max_pages: int
    seconds: float
    min_confidence: float
    cache_dir: Path | None = None  # where results are kept by file hash (None: not kept)

    @classmethod
    def from_settings(cls, settings: Settings) -> OcrLimits:
        return cls(
            settings.ocr_max_pages,
            settings.ocr_seconds,
            settings.ocr_min_confidence,
            settings.data_dir / CACHE_DIR,
        )


@dataclass(frozen=True)
class ScannedPages:
    texts: list[str]  # every page's text, pages read by OCR filled in
    ocr_pages: tuple[int, ...] = ()  # 1-based pages whose text OCR read
    warnings: tuple[str, ...] = ()


@dataclass
class _Read:
    """What OCR gave for one file: text and mean confidence per page read, and the pages it did
    not read for a limit (as cached)."""

    pages: dict[int, tuple[str, float]] = field(default_factory=dict)
    not_read: list[int] = field(default_factory=list)
    limit: str = ""


def read_scanned_pages(raw: bytes, sha256: str, texts: list[str], limits: OcrLimits | None) -> ScannedPages:
    """``texts`` (one per page, "" where a page has no text layer) with those pages read by OCR."""
    blank = [n for n, text in enumerate(texts, 1) if not text]
    if not blank:
        return ScannedPages(texts)
    why_not = _why_no_ocr(limits)
    if why_not or limits is None:
        warning = f"pages without a text layer (scanned?): {_pages(blank)}; {why_not}"
        return ScannedPages(texts, (), (warning,))
    read = _cached_read(raw, sha256, blank, limits)
    out, ocr_pages, weak, empty = list(texts), [], [], []
    for page in blank:
        if page not in read.pages:
            continue
        text, confidence = read.pages[page]
        if not text:
            empty.append(page)
        elif confidence < limits.min_confidence:
            weak.append(f"{page} ({confidence:.3f})")
        else:
            out[page - 1] = text
            ocr_pages.append(page)
    warnings = []
    if weak:
        floor = f"{limits.min_confidence:g}"
        warnings.append(f"pages read by OCR with confidence below {floor}, not indexed: {', '.join(weak)}")
    if empty:
        warnings.append(f"pages without text, also by OCR: {_pages(empty)}")
    if read.not_read:
        warnings.append(f"pages not read by OCR: {_pages(read.not_read)} ({read.limit})")
    return ScannedPages(out, tuple(ocr_pages), tuple(warnings))


def _why_no_ocr(limits: OcrLimits | None) -> str:
    if limits is None:
        return "not read by OCR"
    if limits.max_pages <= 0:
        return "OCR is off (YIBAO_OCR_MAX_PAGES=0)"
    try:
        import pypdfium2  # noqa: F401

        _engine()
    except ImportError:
        return "OCR is not installed (pip install -e '.[ocr]')"
    return ""


def _cached_read(raw: bytes, sha256: str, blank: list[int], limits: OcrLimits) -> _Read:
    """OCR's reading of this file under these limits: from the cache, else done now and kept."""
    key = json.dumps([_versions(), RENDER_DPI, MAX_SIDE_PIXELS, limits.max_pages, limits.seconds, blank])
    path = None
    if limits.cache_dir is not None:
        path = limits.cache_dir / f"{sha256}-{hashlib.sha256(key.encode()).hexdigest()[:12]}.json"
        with contextlib.suppress(OSError, ValueError, TypeError, KeyError):
            data = json.loads(path.read_text(encoding="utf-8"))
            pages = {int(n): (str(text), float(conf)) for n, (text, conf) in data["pages"].items()}
            return _Read(pages, [int(n) for n in data["not_read"]], str(data["limit"]))
    read = _ocr(raw, blank, limits)
    if path is not None:
        _write(path, asdict(read))
    return read


def _ocr(raw: bytes, blank: list[int], limits: OcrLimits) -> _Read:
    import pypdfium2 as pdfium

    read = _Read()
    todo = blank[: limits.max_pages]
    if len(blank) > limits.max_pages:
        read.not_read = blank[limits.max_pages :]
        read.limit = f"OCR reads at most {limits.max_pages} pages a file, YIBAO_OCR_MAX_PAGES"
    started = time.monotonic()
    try:
        pdf = pdfium.PdfDocument(raw)
    except pdfium.PdfiumError as exc:  # pypdf read it, PDFium cannot: reported, not fatal
        read.not_read, read.limit = blank, f"PDFium cannot open the file: {exc}"
        return read
    try:
        for i, page in enumerate(todo):
            if time.monotonic() - started >= limits.seconds:
                read.not_read = todo[i:] + read.not_read
                read.limit = f"OCR stops after {limits.seconds:g} s a file, YIBAO_OCR_SECONDS"
                break
            if page <= len(pdf):
                read.pages[page] = _read_page(pdf[page - 1])
    finally:
        pdf.close()
    log.info("OCR read %d pages in %.1f s", len(read.pages), time.monotonic() - started)
    return read


def _read_page(page: Any) -> tuple[str, float]:
    """The page's text (lines in reading order, wrapped lines joined) and the mean confidence of
    its characters."""
    width, height = page.get_size()  # in points, 1/72 inch
    scale = min(RENDER_DPI / 72, MAX_SIDE_PIXELS / max(width, height, 1))
    image = page.render(scale=scale, grayscale=True).to_numpy()
    found, _ = _engine()(image)
    lines: list[list[tuple[float, str]]] = []
    last_bottom = None
    chars, weighted = 0, 0.0
    for box, text, score in found or []:
        top, bottom = min(p[1] for p in box), max(p[1] for p in box)
        # A box whose middle is above the last line's bottom is on that line (table cells, gaps).
        if lines and last_bottom is not None and (top + bottom) / 2 < last_bottom:
            lines[-1].append((box[0][0], text))
        else:
            lines.append([(box[0][0], text)])
            last_bottom = bottom
        chars += len(text)
        weighted += float(score) * len(text)
    text = "\n".join(" ".join(t for _, t in sorted(line)) for line in lines)
    return normalise_page(text), (weighted / chars if chars else 0.0)


@functools.cache
def _engine() -> Any:
    from rapidocr_onnxruntime import RapidOCR

    return RapidOCR()


@functools.cache
def _versions() -> str:
    return ", ".join(f"{p} {importlib.metadata.version(p)}" for p in ("rapidocr-onnxruntime", "pypdfium2"))


def _pages(pages: list[int]) -> str:
    """``[1, 2, 3, 5]`` → ``1–3, 5``."""
    runs: list[list[int]] = []
    for page in pages:
        if runs and page == runs[-1][-1] + 1:
            runs[-1].append(page)
        else:
            runs.append([page])
    return ", ".join(f"{r[0]}–{r[-1]}" if len(r) > 1 else str(r[0]) for r in runs)


def _write(path: Path, data: dict) -> None:
    """Whole or not at all; a data dir that cannot be written only means OCR runs again next time."""
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(data, out, ensure_ascii=False)
        os.replace(tmp, path)
    except OSError as exc:
        log.warning("OCR result not kept (%s): it will be read again next time", exc)
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
