"""Finding corpus files and turning each into a Document (or a reason it was skipped)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

from ingest.records import Document, SkippedFile

SUFFIXES = (".txt", ".md", ".html")

# Tags whose end starts a new line, so the line-based cleaning and structure rules see
# paragraphs, headings and list items of an HTML page as separate lines.
_BLOCK_TAGS = frozenset(
    {
        *("address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "footer", "form"),
        *("h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre"),
        *("section", "table", "td", "th", "tr", "ul"),
    }
)
_INVISIBLE_TAGS = frozenset({"script", "style", "template", "noscript", "head"})


def iter_corpus_files(corpus_dir: Path) -> Iterator[Path]:
    """Every corpus file under ``corpus_dir`` (recursively), in a stable order; hidden paths are ignored."""
    for path in sorted(corpus_dir.rglob("*")):
        relative = path.relative_to(corpus_dir)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if path.is_file() and path.suffix.lower() in SUFFIXES:
            yield path


def read_document(path: Path, corpus_dir: Path) -> Document | SkippedFile:
    """Read one file; anything that cannot become useful text is a SkippedFile with the reason."""
    doc_id = path.relative_to(corpus_dir).as_posix()
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return SkippedFile(doc_id, f"cannot be read ({exc.strerror or exc})")
    if b"\x00" in raw:
        return SkippedFile(doc_id, "binary file (contains NUL bytes)")
    try:
        # utf-8-sig: a BOM is an encoding detail, not text that offsets should count.
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return SkippedFile(doc_id, f"not valid UTF-8 (byte {exc.start})")
    if path.suffix.lower() == ".html":
        text = html_to_text(text)
    if not text.strip():
        return SkippedFile(doc_id, "empty (no text)")
    return Document(doc_id=doc_id, text=text, sha256=hashlib.sha256(raw).hexdigest())


def html_to_text(html: str) -> str:
    """The visible text of an HTML page, one line per block element; offsets then refer to this text."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    return "".join(parser.parts)


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _INVISIBLE_TAGS:
            self._hidden_depth += 1
        elif tag in _BLOCK_TAGS:
            self._newline()

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK_TAGS:
            self._newline()

    def handle_endtag(self, tag: str) -> None:
        if tag in _INVISIBLE_TAGS:
            self._hidden_depth = max(0, self._hidden_depth - 1)
        elif tag in _BLOCK_TAGS:
            self._newline()

    def handle_data(self, data: str) -> None:
        if not self._hidden_depth:
            self.parts.append(data)

    def _newline(self) -> None:
        if self.parts and not self.parts[-1].endswith("\n"):
            self.parts.append("\n")
