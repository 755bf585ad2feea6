"""The text layer of a PDF, page by page (pypdf); pages without one are read by OCR (ingest/pdf_ocr.py).

A PDF is read within a page limit and a time limit: the pages are counted before any is read,
and the clock is checked after every page, so a file built to keep the parser busy is given up
one page after its time is up; pypdf itself caps what one page's streams may expand to (75 MB)."""

from __future__ import annotations

import io
import logging
import re
import time
import unicodedata

from pypdf import PdfReader
from pypdf.errors import PyPdfError

from ingest.patterns import CLAUSE_STOPS, SENTENCE_STOPS

# pypdf reports every odd object it skips; the reader's own warnings say what matters.
logging.getLogger("pypdf").setLevel(logging.ERROR)

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
# Kangxi radicals and CJK compatibility ideographs that some PDF fonts map glyphs to: they look
# like ordinary characters (⽇ for 日) but no question would ever match them.
_LOOKALIKES = re.compile(r"[\u2e80-\u2fdf\uf900-\ufaff]")
# A line that ends a sentence, a clause or a lead-in, or closes a bracket, is not wrapped.
_SENTENCE_END = re.compile(f"[{SENTENCE_STOPS}{CLAUSE_STOPS}：:）)」』]$")
# A line at least this share of the page's longest line is taken as wrapped, not ended.
_FULL_LINE = 0.85


class UnreadablePdf(ValueError):
    """The PDF cannot give text; the message says why."""


def pdf_pages(raw: bytes, max_pages: int, max_seconds: float) -> list[str]:
    """The normalised text of each page, in order ("" for a page without a text layer);
    UnreadablePdf when the file is damaged, encrypted, or beyond the page or time limit."""
    deadline = time.monotonic() + max_seconds
    try:
        reader = PdfReader(io.BytesIO(raw))
        if reader.is_encrypted:
            raise UnreadablePdf("encrypted PDF: cannot be read")
        if len(reader.pages) > max_pages:
            raise UnreadablePdf(f"too many pages ({len(reader.pages)}, limit {max_pages})")
        pages = []
        for page in reader.pages:
            pages.append(page.extract_text() or "")
            if time.monotonic() > deadline:
                raise UnreadablePdf(f"reading it took longer than {max_seconds:g} s (the limit): not read")
    except (PyPdfError, ValueError, KeyError, TypeError, OSError, RecursionError) as exc:
        if isinstance(exc, UnreadablePdf):
            raise
        raise UnreadablePdf(f"damaged PDF ({type(exc).__name__}: {exc})") from None
    return [normalise_page(text) for text in pages]


def normalise_page(text: str) -> str:
    """A page's lines as text: look-alike characters mapped, controls dropped, wrapped lines joined."""
    text = _LOOKALIKES.sub(lambda m: unicodedata.normalize("NFKC", m.group()), text)
    text = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    lines = [line.rstrip() for line in text.split("\n")]
    return _reflow([line for line in lines if line.strip()]).strip()


def _reflow(lines: list[str]) -> str:
    """Join the lines that a paragraph was wrapped into, so that sentences stay whole."""
    if not lines:
        return ""
    longest = max(len(line) for line in lines)
    out = [lines[0]]
    for line in lines[1:]:
        previous = out[-1].split("\n")[-1]
        wrapped = len(previous) >= _FULL_LINE * longest and not _SENTENCE_END.search(previous)
        if wrapped:
            space = " " if previous[-1:].isascii() and line[:1].isascii() else ""
            out[-1] += space + line.lstrip()
        else:
            out.append(line)
    return "\n".join(out)
