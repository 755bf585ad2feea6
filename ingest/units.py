"""Answer units: a document's body split by the role each piece plays, with exact offsets.

Scraped pages flatten structure into runs of text: 「可以 在外省缴纳的医保可以转回老家,具体流程如下:
一、转移条件 参保人员返回户籍所在地就业 若参保人员…」 is a yes, a lead-in, an inline heading, a label
and a body sentence. An answer that quotes such a run whole glues a list marker and a heading into
its "sentence"; one that quotes the lead-in alone promises a list it never shows. So each piece gets
a role:

- ``heading``: a heading line, an inline numbered heading (「一、转移条件」) or a short label before its
  text; never quoted on its own.
- ``lead_in``: a sentence that announces what follows (「…如下:」, 「步骤:」); quoted only with its items.
- ``item``: a list entry under a lead-in: a numbered or bulleted piece (the marker is left out of its
  span), or one of the short lines that follow a lead-in; ``lead`` is the lead-in's position.
- ``body``: any other sentence.

Spans never include a list marker: an item starts after 「1、」, 「(2)」, 「•」. A bare yes or no
(「可以!」) is kept at the start of the sentence it answers with.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from itertools import pairwise

from ingest.patterns import CJK, LEAD_IN_END, LIST_MARKER, LIST_MARKER_STYLES
from ingest.sentences import Span, split_long_sentence, split_sentences
from ingest.structure import Block, post_of, reads_as_sentence

HEADING, LEAD_IN, ITEM, BODY = "heading", "lead_in", "item", "body"

# An answer unit is quoted whole, so an over-long sentence is cut at its commas first.
UNIT_MAX_CHARS = 160
# A list is shown with at most this many items, each at most this long.
MAX_ITEMS = 8
ITEM_MAX_CHARS = 120
# Lines under a lead-in that are this short (and not sentences of a paragraph) are its items.
SHORT_LINE_CHARS = 80

_MARKER = re.compile(LIST_MARKER)
# An inline marker starts a piece only where a new line of the original would have started.
_INLINE_MARKER = re.compile(r"(?:(?<=\s)|(?<=[。；;:：!！?？]))(?:" + _MARKER.pattern + r")\s*")
_LEADING_MARKER = re.compile(r"(?:" + _MARKER.pattern + r")\s*")
_LEAD_IN_PHRASE = re.compile(r"(?:如下|以下几[点种个条]|步骤)\s*$")
# A lead-in that runs on into its list's title on the same line: cut after its colon.
_LEAD_IN_COLON = re.compile(r"(?:如下|以下[^，,。；;:：]{0,12}|步骤|流程|方法|情形|条件|材料|包括)[:：]")
_PUNCT = re.compile(r"[，,。；;：:!！?？、()（）“”\"]")
# A gap in a flattened run: whitespace between a short label and its text.
_GAP = re.compile(r"\s+")
# 「余额 无法直接取现 ,其」: spaces around emphasised words, not a label gap.
_EMPHASIS = re.compile(r"\s[，,。；;、)）]")
_YES_NO = re.compile(
    r"^(?:可以|不可以|能|不能|可|不可|是的|是|不是|不行|行|否|有|没有|沒有|無|无)[!！。,，]?$"
)
LABEL_MAX_CHARS = 16
# A run that opens a bracket it does not close (「大久保笃的漫画作品《SOUL」 before 「EATER》…」) is cut
# from a title, not a label.
_BRACKET_PAIRS = ("《》", "「」", "『』", "“”", "（）", "()", "【】")
# Words a label never ends on: a particle or preposition whose object is still to come.
_WANTS_MORE = re.compile(
    r"(?:的|按照|按|依照|根[据據]|在|[对對]|把|被|[将將]|[与與]|和|及|或|[从從]|向|[给給]|由)\s*$"
)
SUBJECT_MAX_CHARS = 20
_FIRST_CLAUSE = re.compile(r"[，,。（(；;：:]")
# 「参加城镇职工基本医疗保险的退休人员;」: an entry of a list written as one sentence.
_CLAUSE_END = re.compile(r"[；;]\s*$")
# 「准备材料 :需提供…」: a flattened list entry, a short key and a colon before its text.
_KEYED = re.compile(r"([^\s，,。；;:：]{2,16})\s*[:：]\S")


@dataclass(frozen=True)
class Unit:
    """One piece of a document; ``text[start:end]`` is what an answer quotes (markers excluded)."""

    start: int
    end: int
    role: str
    lead: int | None = None
    style: str | None = None
    context: str = ""
    sections: tuple[int, ...] = ()


@dataclass(frozen=True)
class _Piece:
    start: int
    end: int
    style: str | None
    label: bool
    line_start: bool
    line_end: bool


def document_units(text: str, blocks: list[Block]) -> list[Unit]:
    """The units of a document, in order, with every list item linked to its lead-in.

    Lists may cross blocks: 「…具体法规如下:」 at the end of one block introduces 「1、退休移民:」,
    「2、长期异地生活:」 … which the structure parser made headings of blocks of their own."""
    pieces: list[_Piece] = []
    blocks_of: list[int] = []
    for n, block in enumerate(blocks):
        for piece in _block_pieces(text, block):
            pieces.append(piece)
            blocks_of.append(n)
    pieces, blocks_of = _glue_yes_no(text, pieces, blocks_of)
    units = [_unit(text, p) for p in pieces]
    posts = [post_of(blocks[b].path) for b in blocks_of]
    _link_lists(text, pieces, units, posts)
    _link_sections(units, [blocks[b].path for b in blocks_of])
    _drop_orphan_lead_ins(units, posts)
    return [replace(u, context=_context(text, units, n, blocks[blocks_of[n]])) for n, u in enumerate(units)]


def _context(text: str, units: list[Unit], n: int, block: Block) -> str:
    """What a unit is about when read alone: its section's heading and an inline label before it
    (「专款专用」 before 「医保个人账户资金仅限…」)."""
    parts = [_subject(block.path[-1])]
    if n > 0 and units[n - 1].role == HEADING and units[n].role != HEADING:
        label = text[units[n - 1].start : units[n - 1].end]
        if label not in parts:
            parts.append(label)
    return " ".join(parts)


def _subject(label: str) -> str:
    """A section of a file without headings is named by the page's first sentence, cut at 80
    characters; only its first clause (「吕志兴」, 「纽西兰鸡毛松」) says what a unit is about, the
    rest pulls every unit towards that sentence. Measured on cmrc2018_trial: the opening holds the
    answer 0.728 → 0.761 with the first clause instead of the whole cut sentence, and a unit embeds
    41 tokens on average instead of 94."""
    if not reads_as_sentence(label):
        return label
    end = _FIRST_CLAUSE.search(label)
    return label[: end.start() if end and end.start() > 0 else len(label)][:SUBJECT_MAX_CHARS]


def _glue_yes_no(text: str, pieces: list[_Piece], blocks_of: list[int]) -> tuple[list[_Piece], list[int]]:
    """「可以!」 on its own says nothing without the sentence after it, so it opens that sentence."""
    out: list[_Piece] = []
    out_blocks: list[int] = []
    carry: _Piece | None = None
    for piece, block in zip(pieces, blocks_of, strict=True):
        if carry is not None and not piece.label and out_blocks and out_blocks[-1] == block:
            out[-1] = _Piece(carry.start, piece.end, piece.style, False, carry.line_start, piece.line_end)
            carry = None
            continue
        carry = piece if not piece.label and _YES_NO.match(text[piece.start : piece.end]) else None
        out.append(piece)
        out_blocks.append(block)
    return out, out_blocks


def _block_pieces(text: str, block: Block) -> Iterator[_Piece]:
    # A marker left at the end of a line (「…選擇社保查詢。3.」, then 「第三步…」 on the next line)
    # marks what follows it.
    pending: str | None = None
    for i, line in enumerate(block.lines):
        heading = i < block.headings
        first = line.start + _marker_len(text, line.start, line.end)
        for start, end in split_sentences(text, line.start, line.end):
            marker = _LEADING_MARKER.match(text, _lstrip(text, start, end), end)
            if marker is not None and _lstrip(text, marker.end(), end) == end:
                pending = _style(marker)
                continue
            for a, b, style, label in _split_piece(text, start, end):
                style, pending = style or pending, None
                spans = [(a, b)] if label or b - a <= UNIT_MAX_CHARS else split_unit(text, (a, b))
                for n, (x, y) in enumerate(spans):
                    yield _Piece(
                        x,
                        y,
                        style if n == 0 else None,
                        label or heading,
                        line_start=x <= first,
                        line_end=y >= line.end,
                    )


def _marker_len(text: str, start: int, end: int) -> int:
    match = _LEADING_MARKER.match(text, start, end)
    return match.end() - start if match else 0


def _split_piece(text: str, start: int, end: int) -> Iterator[tuple[int, int, str | None, bool]]:
    """(start, end, marker style, is a label) for the pieces of one sentence: cut before inline
    list markers and after a lead-in's colon, then labels split off the head of each run."""
    cuts: list[tuple[int, str | None]] = [(start, None)]
    for match in _INLINE_MARKER.finditer(text, start, end):
        if match.start() > start:
            cuts.append((match.start(), _style(match)))
    for match in _LEAD_IN_COLON.finditer(text, start, end):
        # Only a title or a marked list runs on after the colon; anything else is the sentence's own text.
        rest = text[_lstrip(text, match.end(), end) : _rstrip(text, start, end)]
        head = rest.split(maxsplit=1)[0] if rest else ""
        if rest and ((is_label(head) and not _EMPHASIS.search(rest)) or _LEADING_MARKER.match(rest)):
            cuts.append((match.end(), None))
    by_position: dict[int, str | None] = {}
    for position, style in cuts:
        by_position[position] = by_position.get(position) or style
    bounds = [*sorted(by_position.items()), (end, None)]
    for (a, style), (b, _) in pairwise(bounds):
        marker = _LEADING_MARKER.match(text, a, b)
        style = style or (_style(marker) if marker else None)
        body_start = marker.end() if marker else a
        after_lead_in = a > start and text[a - 1] in ":："
        yield from _split_labels(text, _lstrip(text, body_start, b), b, style, after_lead_in)


def _split_labels(
    text: str, start: int, end: int, style: str | None, title: bool
) -> Iterator[tuple[int, int, str | None, bool]]:
    """Short labels at the head of a flattened run (「专款专用 医保个人账户资金…」) become pieces of
    their own; so does a list's title right after its lead-in (「如下:医保卡里的钱可取出的情形」)."""
    end = _rstrip(text, start, end)
    if start >= end:
        return
    if _EMPHASIS.search(text, start, end):
        yield start, end, style, False
        return
    cursor = start
    for gap in _GAP.finditer(text, start, end):
        label = text[cursor : gap.start()]
        if _PUNCT.match(text, gap.end()) or _YES_NO.match(label) or not is_label(label):
            break
        yield cursor, gap.start(), style, True
        style = None
        cursor = gap.end()
    yield cursor, end, style, title and is_label(text[cursor:end])


def without_marker(text: str) -> str:
    """A heading as it reads without its list marker: 「一、住院报销」 → 「住院报销」."""
    return _LEADING_MARKER.sub("", text, count=1).strip()


def key_of(text: str) -> str | None:
    """The key of a row written 「key:text」 (「三级医院:1000元以下的费用报销20%;」), if it is one."""
    match = _KEYED.match(text)
    return match.group(1) if match else None


def is_label(text: str) -> bool:
    """A short run without punctuation: a heading or a label, not a statement. A run ending on a
    word that wants what follows (「退休人员按照本人养老金的 5%计入」, a figure lost in scraping) is
    the head of a sentence, not a label."""
    return (
        len(text) <= LABEL_MAX_CHARS
        and not _PUNCT.search(text)
        and len(CJK.findall(text)) >= 2
        and not _WANTS_MORE.search(text)
        and all(text.count(a) == text.count(b) for a, b in _BRACKET_PAIRS)
    )


def _lstrip(text: str, start: int, end: int) -> int:
    while start < end and text[start].isspace():
        start += 1
    return start


def _rstrip(text: str, start: int, end: int) -> int:
    while end > start and text[end - 1].isspace():
        end -= 1
    return end


def _style(match: re.Match[str]) -> str | None:
    return next((name for name, _ in LIST_MARKER_STYLES if match.group(name)), None)


def _unit(text: str, piece: _Piece) -> Unit:
    span = text[piece.start : piece.end]
    if piece.label:
        role = HEADING
    elif LEAD_IN_END.search(span) or (_LEAD_IN_PHRASE.search(span) and piece.line_end):
        role = LEAD_IN
    else:
        role = BODY
    return Unit(piece.start, piece.end, role, style=piece.style)


def _link_lists(text: str, pieces: list[_Piece], units: list[Unit], posts: list[tuple[str, ...]]) -> None:
    """Make the units after each lead-in its items: siblings of the first marker style that follows,
    or else the short stand-alone lines right after it. A labelled item (「1、退休移民:」) takes the
    sentence under its label with it, when that fits."""
    for i, unit in enumerate(units):
        if unit.role != LEAD_IN:
            continue
        items = _marked_items(units, posts, i) or _line_items(text, pieces, units, posts, i)
        for j in items[:MAX_ITEMS]:
            end = units[j].end
            following = units[j + 1] if j + 1 < len(units) else None
            if (
                units[j].role in (HEADING, LEAD_IN)
                and following is not None
                and following.role == BODY
                and following.style is None
                and following.end - units[j].start <= ITEM_MAX_CHARS
            ):
                end = following.end
            units[j] = replace(units[j], end=end, role=ITEM, lead=i)


def _link_sections(units: list[Unit], paths: list[tuple[str, ...]]) -> None:
    """A lead-in that ends its section and is followed by sections of their own
    (「以下是几种常见的查询方法:」, then 「电话查询」, 「二、网上查询方法」, 「三、现场查询方法」) announces
    them: it records where each starts. Its siblings are the sections under the first heading
    path the next unit has in common with it, up to where that path ends."""
    for i, unit in enumerate(units):
        if unit.role != LEAD_IN or i + 1 >= len(units) or paths[i + 1] == paths[i]:
            continue
        here, after = paths[i], paths[i + 1]
        depth = next((k for k, (a, b) in enumerate(zip(here, after, strict=False)) if a != b), len(here))
        if depth == 0 or depth >= len(after):
            continue
        starts: dict[str, int] = {}
        for j in range(i + 1, len(units)):
            path = paths[j]
            if path[:depth] != after[:depth] or len(path) <= depth or len(starts) > MAX_ITEMS:
                break
            starts.setdefault(path[depth], j)
        if 2 <= len(starts) <= MAX_ITEMS:
            units[i] = replace(unit, sections=tuple(starts.values()))


def _drop_orphan_lead_ins(units: list[Unit], posts: list[tuple[str, ...]]) -> None:
    """A lead-in that ends its article with nothing under it (「…在以下特定情形下可申请提取:」, its
    list lost in scraping, then the next article's title) introduces nothing: it is not quoted, as
    a heading is not, rather than run on into the next article."""
    led = {u.lead for u in units if u.lead is not None}
    for i, unit in enumerate(units):
        if unit.role != LEAD_IN or i in led or unit.sections:
            continue
        if i + 1 == len(units) or posts[i + 1] != posts[i]:
            units[i] = replace(unit, role=HEADING)


def _marked_items(units: list[Unit], posts: list, i: int) -> list[int]:
    style = None
    items: list[int] = []
    for j in range(i + 1, len(units)):
        if posts[j] != posts[i] or (units[j].role == LEAD_IN and units[j].style is None):
            break
        if style is None:
            if units[j].style is None:
                # A title of the list may sit between the lead-in and its first item.
                if j == i + 1 and units[j].role == HEADING:
                    continue
                break
            style = units[j].style
        if units[j].style == style:
            items.append(j)
        elif units[j].style is not None and _rank(units[j].style) < _rank(style):
            break
    return items


def _line_items(text: str, pieces: list[_Piece], units: list[Unit], posts: list, i: int) -> list[int]:
    """Short stand-alone lines, 「key :text」 entries or 「…;」 clauses right after a lead-in (a
    title of the list may come first)."""
    items: list[int] = []
    first = i + 2 if i + 1 < len(units) and units[i + 1].role == HEADING and pieces[i + 1].label else i + 1
    kind = None
    for j in range(first, len(units)):
        p = pieces[j]
        if posts[j] != posts[i] or units[j].role != BODY:
            break
        before = pieces[j - 1]
        # Only the previous piece is searched: from the file's start, chunking was quadratic (35 of
        # the 40 s a 2-million-character file took).
        previous_clause = bool(items) and _CLAUSE_END.search(text, before.start, before.end) is not None
        this = _item_kind(text, p, previous_clause)
        # The items of one list are written alike; a differently written piece starts something else.
        if this is None or kind not in (None, this):
            break
        kind = this
        items.append(j)
        if this == "clause" and not _CLAUSE_END.search(text, p.start, p.end):
            break
    return items if len(items) >= 2 else []


def _item_kind(text: str, p: _Piece, previous_clause: bool) -> str | None:
    """How a piece is written as a list entry: a short line of its own, 「key :text」, a 「…;」
    clause (or the clause closing such a run), or None when it is not written as an entry."""
    if p.line_start and p.line_end and p.end - p.start <= SHORT_LINE_CHARS:
        return "line"
    if _KEYED.match(text, p.start, p.end):
        return "keyed"
    if _CLAUSE_END.search(text, p.start, p.end) or previous_clause:
        return "clause"
    return None


def _rank(style: str) -> int:
    return [name for name, _ in LIST_MARKER_STYLES].index(style)


def split_unit(text: str, span: Span) -> list[Span]:
    """An over-long unit cut at its pauses, so that a quote stays short."""
    return split_long_sentence(text, span, UNIT_MAX_CHARS)
