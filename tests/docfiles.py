"""Real PDF and Word files for the tests, written with fpdf2 and python-docx."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

CJK_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")


def write_pdf(path: Path, pages: list[list[str]]) -> Path:
    """A PDF with a real text layer: one list of paragraphs per page, in a CJK font."""
    from fpdf import FPDF

    if not CJK_FONT.exists():
        import pytest

        pytest.skip(f"no CJK font at {CJK_FONT} (Debian package fonts-wqy-zenhei)")
    pdf = FPDF(format="A4")
    pdf.add_font("wqy", fname=str(CJK_FONT))
    pdf.set_font("wqy", size=12)
    for paragraphs in pages:
        pdf.add_page()
        for paragraph in paragraphs:
            pdf.multi_cell(0, 8, paragraph)
            pdf.ln(4)
    pdf.output(str(path))
    return path


def write_blank_pdf(path: Path, pages: int = 1) -> Path:
    """A PDF whose pages carry no text layer, as a scan without OCR would."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    for _ in range(pages):
        pdf.add_page()
        pdf.rect(20, 20, 100, 60)
    pdf.output(str(path))
    return path


def write_scanned_pdf(path: Path, pages: list[list[str]], poor: tuple[int, ...] = ()) -> Path:
    """A PDF made of page images only, as a scanner makes it: each page's lines drawn in a CJK
    font by Pillow, no text layer. Pages are A5 landscape at 150 dpi; the 1-based pages in
    ``poor`` are a bad scan (blurred, grey on grey, noisy: OCR reads them at ~0.74 confidence,
    half the characters wrong)."""
    import numpy as np
    from PIL import Image, ImageDraw, ImageFilter, ImageFont

    if not CJK_FONT.exists():
        import pytest

        pytest.skip(f"no CJK font at {CJK_FONT} (Debian package fonts-wqy-zenhei)")
    font = ImageFont.truetype(str(CJK_FONT), 36)
    images = []
    for lines in pages:
        image = Image.new("L", (1240, 874), 255)
        draw = ImageDraw.Draw(image)
        for i, line in enumerate(lines):
            draw.text((90, 100 + 70 * i), line, font=font, fill=0)
        if len(images) + 1 in poor:
            grey = np.asarray(image.filter(ImageFilter.GaussianBlur(2.5)), dtype=np.float32) * 0.45 + 140
            noisy = grey + np.random.default_rng(0).normal(0, 25, grey.shape)
            image = Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))
        images.append(image)
    images[0].save(path, save_all=True, append_images=images[1:], resolution=150)
    return path


def write_docx(path: Path, title: str, sections: list[tuple[str, list[str]]], table: list[list[str]]) -> Path:
    """A Word file: a Title, Heading 1 sections with their paragraphs, then a table."""
    import docx

    document = docx.Document()
    document.add_heading(title, level=0)
    for heading, paragraphs in sections:
        document.add_heading(heading, level=1)
        for paragraph in paragraphs:
            document.add_paragraph(paragraph)
    grid = document.add_table(rows=len(table), cols=len(table[0]))
    for r, row in enumerate(table):
        for c, value in enumerate(row):
            grid.cell(r, c).text = value
    document.save(str(path))
    return path


# --- hostile Word files: what an attacker or a broken tool may hand over --------------------

_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
GIB = 1 << 30


def docx_bytes(text: str = "医保卡余额可以在医保服务平台查询。") -> bytes:
    """A valid Word file with one paragraph."""
    import io

    import docx

    document = docx.Document()
    document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def with_document_xml(raw: bytes, write: bytes | Callable[[BinaryIO], None]) -> bytes:
    """``raw`` (a Word file) with its word/document.xml replaced by ``write`` (bytes, or a function
    that streams them, so that a gigabyte never sits in the test's memory)."""
    import io
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(raw)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            if info.filename != "word/document.xml":
                dst.writestr(info, src.read(info))
            elif callable(write):
                with dst.open(info.filename, "w", force_zip64=True) as fh:
                    write(fh)
            else:
                dst.writestr(info.filename, write)
    return out.getvalue()


def truncated_docx() -> bytes:
    """word/document.xml cut off right after its first ``<w:p>``."""
    import io
    import zipfile

    raw = docx_bytes()
    with zipfile.ZipFile(io.BytesIO(raw)) as z:
        xml = z.read("word/document.xml")
    return with_document_xml(raw, xml[: xml.index(b"<w:p>") + len(b"<w:p>")])


def zeros_docx() -> bytes:
    """word/document.xml made of zero bytes."""
    return with_document_xml(docx_bytes(), b"\0" * 65536)


def billion_laughs_docx() -> bytes:
    """word/document.xml whose DTD declares entities that expand to 10⁹ "lol"s."""
    entities = ['<!ENTITY lol0 "lol">'] + [f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)]
    xml = (
        f'<?xml version="1.0"?>\n<!DOCTYPE w:document [{"".join(entities)}]>\n'
        f'<w:document xmlns:w="{_W}"><w:body><w:p><w:r><w:t>&lol9;</w:t></w:r></w:p></w:body></w:document>'
    )
    return with_document_xml(docx_bytes(), xml.encode())


def _repeat(block: bytes, total: int) -> Callable[[BinaryIO], None]:
    def write(fh: BinaryIO) -> None:
        for _ in range(total // len(block)):
            fh.write(block)

    return write


def zeros_bomb_docx(size: int = GIB) -> bytes:
    """About a megabyte that expands to ``size`` bytes of zeros."""
    return with_document_xml(docx_bytes(), _repeat(b"\0" * (1 << 20), size))


def xml_bomb_docx(size: int = GIB) -> bytes:
    """A few megabytes that expand to ``size`` bytes of valid Word XML (one paragraph repeated)."""
    para = "<w:p><w:r><w:t>医保卡余额可以在医保服务平台查询。</w:t></w:r></w:p>".encode()
    head = f'<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="{_W}"><w:body>'.encode()

    def write(fh: BinaryIO) -> None:
        fh.write(head)
        _repeat(para * ((1 << 20) // len(para)), size)(fh)
        fh.write(b"</w:body></w:document>")

    return with_document_xml(docx_bytes(), write)
