"""Packing sentences into chunks: sizes, overlap, glued headings, contiguous spans."""

from __future__ import annotations

from itertools import groupby, pairwise

from ingest.chunker import block_spans, chunk_block, chunk_id
from ingest.records import Chunk, IngestResult
from ingest.sentences import split_sentences
from ingest.structure import heading_rank, parse_structure
from settings import Settings

SMALL = Settings(chunk_min=40, chunk_max=80, chunk_overlap=20)


def _spans(text: str, settings: Settings = SMALL) -> list[str]:
    spans = []
    for block in parse_structure(text).blocks:
        spans.extend(text[start:end] for start, end in block_spans(text, block, settings))
    return spans


def test_chunks_fill_up_to_max_and_repeat_the_last_sentence_as_overlap() -> None:
    body = "".join(f"第{n}句话有一些内容在这里。" for n in range(1, 13))  # 12 sentences of 13 chars
    chunks = _spans(f"标题\n\n{body}\n")
    assert len(chunks) > 1
    assert all(len(chunk) <= SMALL.chunk_max for chunk in chunks)
    for previous, following in pairwise(chunks):
        last_sentence = previous[previous.rindex("第") :]
        assert following.startswith(last_sentence)  # overlap of one 13-char sentence (≤ 20)
    assert chunks[0].startswith("标题\n\n第1句")


def test_no_sentence_is_cut_unless_it_is_too_long_alone() -> None:
    long_sentence = "这是一个很长的句子," * 12 + "结束。"
    text = f"标题\n\n短句一。{long_sentence}短句二。\n"
    chunks = _spans(text)
    assert all(len(chunk) <= SMALL.chunk_max for chunk in chunks)
    sentences = [text[s:e] for s, e in split_sentences(text)]
    for sentence in ("短句一。", "短句二。"):
        assert any(sentence in chunk for chunk in chunks)
    assert not any(long_sentence in chunk for chunk in chunks)  # it had to be cut ...
    assert all(piece.endswith((",", "。")) for piece in chunks if "很长" in piece)  # ... at its commas
    assert long_sentence in sentences


def test_headings_and_lead_ins_are_glued_to_what_follows() -> None:
    text = "标题\n\n一、线上查询\n\n优点:\n\n" + "操作简单适合所有人群使用。" * 5 + "\n"
    chunks = _spans(text)
    assert all(heading_rank(chunk.splitlines()[-1].strip()) is None for chunk in chunks)
    assert not any(chunk.rstrip().endswith("优点:") for chunk in chunks)
    assert chunks[0].startswith("标题\n\n一、线上查询\n\n优点:\n\n操作简单")


def test_a_heading_with_no_body_before_a_removed_line_is_not_a_chunk() -> None:
    text = "标题\n\n二、线下查询\n\n请点击输入图片描述\n\n到窗口办理。\n"
    assert _spans(text) == ["到窗口办理。"]


def test_chunks_do_not_cross_a_removed_line() -> None:
    text = "标题\n\n正文一。\n\n請點選輸入**描述(最多18字)\n\n正文二。\n"
    assert _spans(text) == ["标题\n\n正文一。", "正文二。"]


def test_chunk_block_builds_records_with_metadata(settings: Settings) -> None:
    text = "广东深圳医保(08/19)\n\n2025-08-19 05:39\n\n查询方法?\n\n拨打12333。\n"
    [block] = parse_structure(text).blocks
    [chunk] = chunk_block("x.txt", text, block, settings)
    assert chunk == Chunk(
        id=chunk_id("x.txt", chunk.start, chunk.end, chunk.text),
        doc_id="x.txt",
        title="广东深圳医保",
        section="广东深圳医保 › 查询方法?",
        text="查询方法?\n\n拨打12333。",
        start=text.index("查询方法"),
        end=text.index("。") + 1,
        date="2025-08-19",
        region="深圳",
    )


def test_chunk_id_depends_on_place_and_text() -> None:
    assert chunk_id("a.txt", 0, 5, "正文") == chunk_id("a.txt", 0, 5, "正文")
    assert (
        len(
            {
                chunk_id("a.txt", 0, 5, "正文"),
                chunk_id("b.txt", 0, 5, "正文"),
                chunk_id("a.txt", 1, 5, "正文"),
            }
        )
        == 3
    )


# --- the real corpus ---------------------------------------------------------------------------


def test_corpus_chunks_are_within_max_unless_one_sentence_is_longer(
    result: IngestResult, settings: Settings
) -> None:
    texts = {doc.doc_id: doc.text for doc in result.documents}
    for chunk in result.chunks:
        if len(chunk.text) > settings.chunk_max:
            spans = split_sentences(texts[chunk.doc_id], chunk.start, chunk.end)
            assert len(spans) == 1, chunk.text


def test_corpus_short_chunks_only_end_sections(result: IngestResult, settings: Settings) -> None:
    short_not_last = 0
    for _, group in groupby(result.chunks, key=lambda chunk: (chunk.doc_id, chunk.section)):
        chunks = list(group)
        short_not_last += sum(len(chunk.text) < settings.chunk_min for chunk in chunks[:-1])
    assert short_not_last <= len(result.chunks) // 20


def test_corpus_has_no_heading_only_chunk(result: IngestResult) -> None:
    for chunk in result.chunks:
        lines = [line.strip() for line in chunk.text.splitlines() if line.strip()]
        assert any(heading_rank(line) is None for line in lines), chunk.text


def test_corpus_chunks_start_and_end_on_text(result: IngestResult) -> None:
    for chunk in result.chunks:
        assert chunk.text and chunk.text == chunk.text.strip()


def test_corpus_overlap_is_small_and_only_within_a_section(result: IngestResult, settings: Settings) -> None:
    overlaps = 0
    for previous, following in pairwise(result.chunks):
        if following.doc_id == previous.doc_id and following.start < previous.end:
            overlaps += 1
            assert following.section == previous.section
            assert previous.end - following.start <= settings.chunk_overlap
            assert following.end > previous.end
    assert overlaps >= 2
