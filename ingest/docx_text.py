"""The text of a Word (.docx) file: paragraphs and tables in document order (python-docx).

Word's heading styles become Markdown ``#`` lines, which ingest/structure.py reads as headings, so
a document's own outline gives its section paths; each table row becomes one line of cells."""

from __future__ import annotations

import io
import re
import zipfile
import zlib

from docx import Document as open_docx
from docx.opc.exceptions import PackageNotFoundError
from docx.table import Table
from docx.text.paragraph import Paragraph
from lxml.etree import LxmlError

from ingest.archive import ArchiveLimits, UnsafeArchive, check_archive

# Built-in heading styles are named in English in the file whatever Word's language.
_HEADING = re.compile(r"^(?:heading|标题|標題)\s*([1-6])$", re.IGNORECASE)
CELL_SEP = " | "


class UnreadableDocx(ValueError):
    """The file is not a readable .docx; the message says why."""


def docx_text(raw: bytes, limits: ArchiveLimits) -> str:
    """The file's text; UnreadableDocx when it is beyond ``limits`` or damaged."""
    try:
        check_archive(raw, limits)
        document = open_docx(io.BytesIO(raw))
    except UnsafeArchive as exc:
        raise UnreadableDocx(f"refused .docx file: {exc}") from None
    except LxmlError as exc:
        raise UnreadableDocx(f"damaged .docx file: its XML cannot be parsed ({exc})") from None
    # A damaged archive fails in zipfile or zlib, or names parts that are not there.
    except (PackageNotFoundError, zipfile.BadZipFile, zlib.error, EOFError, KeyError, ValueError) as exc:
        raise UnreadableDocx(f"not a readable .docx file ({type(exc).__name__}: {exc})") from None
    lines: list[str] = []
    for block in document.iter_inner_content():
        if isinstance(block, Paragraph):
            lines.append(_paragraph_line(block))
        elif isinstance(block, Table):
            lines.extend(_table_lines(block))
    return "\n".join(line for line in lines if line.strip())


def _paragraph_line(paragraph: Paragraph) -> str:
    text = paragraph.text.strip()
    style = paragraph.style.name if paragraph.style is not None else ""
    if text and style == "Title":
        return f"# {text}"
    heading = _HEADING.match(style or "")
    return f"{'#' * int(heading.group(1))} {text}" if text and heading else text


def _table_lines(table: Table) -> list[str]:
    lines = []
    for row in table.rows:
        cells: list[str] = []
        seen: set[int] = set()
        for cell in row.cells:
            # A merged cell is returned once per grid column it spans; its text counts once.
            if id(cell._tc) in seen:
                continue
            seen.add(id(cell._tc))
            cells.append(" ".join(cell.text.split()))
        lines.append(CELL_SEP.join(cells))
    return lines
