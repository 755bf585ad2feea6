"""Property-based: whatever text a corpus file holds, reading, structuring and chunking it never
raises, and every chunk is a non-empty, bounded, verbatim span of the document."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from ingest.pipeline import chunk_document
from ingest.readers import html_to_text, read_document
from ingest.records import Document, SkippedFile
from settings import Settings

# Fuzzing, load and kill loops: minutes, left out of `make test-fast`.
pytestmark = pytest.mark.slow

# Pieces a medical-insurance page is made of, and the ones that break naive code.
PIECES = st.sampled_from(
    [
        "医保卡余额怎么查",
        "一、线上查询",
        "1. 官方网站查询",
        "（1）",
        "① ",
        "## 标题",
        "优点:",
        "步骤：",
        "拨打12333查询。",
        "個人賬戶當年資金",
        "1.5万",
        "。",
        "！？；",
        "……",
        "，，，",
        ":",
        "\n",
        "\n\n",
        "\r\n",
        "\t",
        "   ",
        "\u3000",
        "\u00a0",
        "\u2028",
        "\u200b",
        "\ufeff",
        "\x00",
        "\x0b\x0c\x1c\x1d\x1e\x85",
        "😀👨‍👩‍👧",
        "🇨🇳",
        "e\u0301",
        "مرحبا",
        "שלום",
        "Ω≈ç√",
        "<p>",
        "举报",
        "2025-08-19 05:39",
        "1樓:",
        "(08/19)(2)",
        "a" * 450,
        "医" * 450,
        "，" * 120,
        "。" * 120,
    ]
)
TEXTS = st.one_of(
    st.text(max_size=600),  # any Unicode (all categories but surrogates), incl. control characters
    st.lists(st.one_of(PIECES, st.text(max_size=40)), max_size=60).map("".join),
    st.builds(
        lambda piece, n: piece * n, st.lists(PIECES, min_size=1, max_size=6).map("".join), st.integers(1, 300)
    ),
    st.text(alphabet=st.characters(categories=["P", "S", "Z", "Cc"]), max_size=400),  # only punctuation etc.
)


@st.composite
def chunk_settings(draw: st.DrawFn) -> Settings:
    chunk_max = draw(st.integers(min_value=8, max_value=500))
    return Settings(
        chunk_min=draw(st.integers(min_value=1, max_value=chunk_max)),
        chunk_max=chunk_max,
        chunk_overlap=draw(st.integers(min_value=0, max_value=chunk_max // 2)),
    )


def assert_chunk_invariants(doc: Document, settings: Settings) -> None:
    chunks, sections, _ = chunk_document(doc, settings)
    assert sections >= 0
    for c in chunks:
        assert c.doc_id == doc.doc_id
        assert 0 <= c.start < c.end <= len(doc.text)
        assert doc.text[c.start : c.end] == c.text
        assert c.text.strip(), "an empty (or blank) chunk"
        assert len(c.text) <= settings.chunk_max
        assert c.embed_text.endswith(c.text)


@hsettings(max_examples=1500, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(text=TEXTS, settings=chunk_settings())
@example(text="", settings=Settings())
@example(text="\n\n\n", settings=Settings())
@example(text="。！？；" * 200, settings=Settings())
@example(text="医" * 5000, settings=Settings())
@example(text="一、\n二、\n三、\n", settings=Settings())
@example(text="优点:\n" * 50, settings=Settings(chunk_min=1, chunk_max=8, chunk_overlap=4))
def test_chunker_never_raises_and_chunks_are_verbatim_bounded_spans(text: str, settings: Settings) -> None:
    assert_chunk_invariants(Document("fuzz.txt", text, "0" * 64), settings)


@hsettings(max_examples=20, deadline=None, derandomize=True)
@given(text=TEXTS, copies=st.integers(min_value=20, max_value=150))
def test_huge_documents_chunk_within_bounds(text: str, copies: int) -> None:
    # Up to ~100k characters per document, with the default chunk sizes.
    assert_chunk_invariants(Document("huge.txt", text * copies, "0" * 64), Settings())


HTML = st.lists(
    st.one_of(
        PIECES,
        st.sampled_from(
            ["<p>", "</p>", "<br>", "<br/>", "<h2>", "</h2>", "<script>x()</script>", "<style>", "<li>"]
        ),
        st.sampled_from(
            ["&amp;", "&lt;", "&#x4e2d;", "&#0;", "&#xd800;", "&bogus;", "<!--", "-->", "<![CDATA["]
        ),
        st.text(max_size=20),
    ),
    max_size=50,
).map("".join)


@hsettings(max_examples=500, deadline=None, derandomize=True)
@given(html=HTML)
def test_html_pages_become_chunkable_text(html: str) -> None:
    assert_chunk_invariants(Document("page.html", html_to_text(html), "0" * 64), Settings())


@hsettings(max_examples=400, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(raw=st.one_of(st.binary(max_size=2000), TEXTS.map(lambda t: t.encode("utf-8", "surrogatepass"))))
def test_any_file_content_is_read_or_skipped_never_raises(raw: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp)
        for name in ("a.txt", "b.html"):
            path = corpus / name
            path.write_bytes(raw)
            result = read_document(path, corpus)
            assert isinstance(result, Document | SkippedFile)
            if isinstance(result, Document):
                assert result.text.strip()
                assert_chunk_invariants(result, Settings())
            else:
                assert result.reason
