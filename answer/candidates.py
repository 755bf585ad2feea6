"""The blocks an answer may quote, from the retrieved passages' answer units (ingest/units.py).

A block is a body sentence, a lead-in with its items (a list), a lead-in with the sentence it
introduces, the list of sections a lead-in announces, or a heading's body when the question names
the heading. A heading, a label or a lead-in is never quoted on its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache

from answer.question import Question
from answer.records import LIST, SENTENCE
from answer.sources import Sources
from index.retriever import Passage
from index.units import UnitTable
from ingest.patterns import CJK, ENDS_SENTENCE, LEAD_IN_END
from ingest.records import AnswerUnit, Chunk
from ingest.structure import is_floor
from ingest.textnorm import fold, tokenize
from ingest.units import BODY, HEADING, LEAD_IN, is_label, key_of, without_marker

# A sentence this short still says something (「溶于汽油。」 answers 「丙烯颜料溶于汽油吗」): measured
# on cmrc2018_trial, 6 → 4 Chinese characters found 4 more answers; labels are kept out apart.
MIN_SENTENCE_CJK = 4
_MIN_ITEM_CJK = 2
# How far past its passage a quote may run (the sentence a lead-in introduces, a section read on).
LIST_REACH = 600
# How many headings and lead-ins a section's heading may stand above its first sentence.
_SECTION_WALK = 4
_BRACKETS = re.compile(r"[\s()（）\[\]【】「」“”\"']")
# Table rows are keyed by names like 「三级医院」 or 「乡(镇)卫生院」; a key this short (「支付宝:」)
# names a channel that a question may mention for something else (paying, not looking up: measured).
_KEY_MIN_CHARS = 4


@dataclass
class Candidate:
    """A block an answer may quote: one unit, or a lead-in (``rows[0]``) with its items."""

    passage: Passage
    rows: list[int]
    kind: str
    texts: list[str]
    # Row → the heading an item stands for, when a lead-in's items are the sections it announces.
    captions: dict[int, str] = field(default_factory=dict)
    # For such a list, the heading of the lead-in's section: what the whole list is about, which its
    # quotes (「以下是几种常见的查询方法:」, one way each) do not say.
    about: str = ""
    # Whether the question names it: the heading it stands under (a section's body), or its key
    # (a table row: 「三级医院:1000元以下…」 for 「去三级医院住院…」).
    named: bool = False
    # Its embedding similarity, its share of the question's terms and whether it carries the
    # shape asked for (answer/features.py), and its score (answer/score.py).
    cosine: float = 0.0
    overlap: float = 0.0
    shaped: float = 0.0
    score: float = 0.0

    @property
    def text(self) -> str:
        return "".join(self.texts)


def reach(sources: Sources, passage: Passage) -> int:
    """How far past a passage its quotes may run: without the document's text a widened citation
    could not show its words."""
    return LIST_REACH if sources.text_of(passage.chunk.doc_id) is not None else 0


def _item_reachable(item: AnswerUnit, chunk: Chunk, limit: int) -> bool:
    """Whether a list's item may be quoted with a passage: wherever its lead-in announces it when
    the document's text is at hand to show it (the ways of 「以下是几种常见的查询方法:」 run on for
    two screens, 「三、线下查询方法」 last), else only inside the passage. Measured: quoting all
    the items left eval/questions.jsonl's and cmrc2018_trial's figures as they were."""
    return limit > 0 or item.end <= chunk.end


def candidates(question: Question, passages: list[Passage], sources: Sources, room: int) -> list[Candidate]:
    """Every block of the passages, the lists of sections they lead to, and the bodies of the
    headings the question names (at most ``room`` characters)."""
    table = sources.units
    out = [
        cand
        for passage in passages
        for row in table.within(passage.chunk.doc_id, passage.chunk.start, passage.chunk.end)
        if (cand := block(table, row, passage, reach(sources, passage))) is not None
    ]
    out.extend(_overviews(question, passages, sources))
    asked = _BRACKETS.sub("", question.folded)
    for cand in out:
        cand.named = _names_key(asked, cand.texts[0])
    out.extend(_section_bodies(question, passages, sources, room))
    return out


def block(table: UnitTable, row: int, passage: Passage, limit: int) -> Candidate | None:
    """The block that unit ``row`` opens, or None when it cannot be quoted on its own: a lead-in
    comes with its items (those that say something, not bare labels), or else with the sentence it
    introduces. Items and that sentence may run up to ``limit`` characters past the passage; the
    citation then covers them."""
    unit = table.units[row]
    if unit.role == HEADING:
        return None
    chunk = passage.chunk

    def reachable(r: int) -> bool:
        u = table.units[r]
        return u.doc_id == chunk.doc_id and chunk.start <= u.start and u.end <= chunk.end + limit

    if unit.role == LEAD_IN:
        linked = [
            _labelled(table, r)
            for r in table.items.get(row, [])
            if _item_reachable(table.units[r], chunk, limit)
            and cjk_count(table.units[r].text) >= _MIN_ITEM_CJK
        ]
        # An item that is a bare label, or ends on a colon (「面积：」, its text lost), says nothing.
        said = [
            (r, caption)
            for r, caption in linked
            if not is_label(table.units[r].text) and not LEAD_IN_END.search(table.units[r].text)
        ]
        if len(said) >= 2:
            cand = _candidate(table, passage, [row, *(r for r, _ in said)], LIST)
            cand.captions = {r: caption for r, caption in said if caption}
            return cand
        # Else the first sentence it introduces, past any labels (「转移条件」) in between.
        following = table.following(row)
        while following is not None and (
            table.units[following].role == HEADING or is_label(table.units[following].text)
        ):
            following = table.following(following)
        if following is None or table.units[following].role != BODY or not reachable(following):
            return None
        return _candidate(table, passage, [row, following], SENTENCE)
    if not quotable(unit.text):
        return None
    # An entry under a heading line (「三、电话查询」, then 「拨打…」) is quoted as its sentence, the
    # heading shown as its caption.
    sentence, caption = _labelled(table, row)
    cand = _candidate(table, passage, [sentence], SENTENCE)
    cand.captions = {sentence: caption} if caption else {}
    return cand


def _overviews(question: Question, passages: list[Passage], sources: Sources) -> list[Candidate]:
    """Lists of the sections a lead-in announces (「以下是几种常见的查询方法:」: 【电话查询】…,
    【网上查询方法】…), for a passage that holds the lead-in or one of those sections, when the
    question is about what the lead-in's section is about as a whole: 「医保卡余额怎么查」 is
    answered by the ways, 「支付宝怎么查医保余额」 by the one it names. The citation widens to
    cover the lead-in."""
    table = sources.units
    # The place a question names is for the scope line to speak of, not a term a list of
    # ways must hold (「厦门医保卡余额怎么查」 asks the ways, wherever they are written).
    place = question.place or ""
    terms = [t for t in dict.fromkeys(question.terms) if t not in place]
    # Each list is built from the best passage that holds its lead-in, or else the best one
    # inside its sections: quoted with the passage around its lead-in, a list is read with the
    # sentence that introduces it (「…的报销比例因就诊类型…而有所不同。以下是…的具体说明:」).
    leads = [
        (not inside, rank, passage, row)
        for rank, passage in enumerate(passages)
        for row, inside in _leads_to(sources, passage)
    ]
    out, seen = [], set()
    for _, _, passage, row in sorted(leads, key=lambda lead: lead[:2]):
        lead_in = table.units[row]
        if row in seen or not _about_whole(terms, lead_in):
            continue
        limit = reach(sources, passage)
        items = [
            (r, caption)
            for r, caption in _section_items(table, lead_in.sections)
            if _item_reachable(table.units[r], passage.chunk, limit)
        ]
        if len(items) >= 2:
            seen.add(row)
            cand = _candidate(table, passage, [row, *(r for r, _ in items)], LIST)
            cand.captions = {r: caption for r, caption in items if caption}
            cand.about = lead_in.context
            out.append(cand)
    return out


def _section_bodies(
    question: Question, passages: list[Passage], sources: Sources, room: int
) -> list[Candidate]:
    """A heading's body when the question names what the heading says: asked 「新农合在县医院
    住院报销比例是多少」, the rows under 「一、住院报销」 (乡(镇)卫生院…, 县级定点医疗机构…, 二级医院…),
    quoted from the section's first sentence with the heading as its caption. The section may
    lie in a retrieved passage or within reach after one."""
    table = sources.units
    asked = set(question.terms)
    out, seen = [], set()
    for passage in passages:
        chunk = passage.chunk
        for row in table.within(chunk.doc_id, chunk.start, chunk.end + reach(sources, passage)):
            unit = table.units[row]
            if unit.role != BODY or (unit.doc_id, unit.context) in seen:
                continue
            seen.add((unit.doc_id, unit.context))
            heading = _heading_named(table, unit, asked)
            rows = _section_run(table, row, room) if heading else []
            if len(rows) >= 2:
                cand = _candidate(table, passage, rows, SENTENCE)
                cand.captions = {rows[0]: heading}
                cand.about, cand.named = unit.context, True
                out.append(cand)
    return out


def _leads_to(sources: Sources, passage: Passage) -> Iterator[tuple[int, bool]]:
    """The lead-ins of overviews a passage leads to, each with whether the passage holds it
    (else it lies within the sections it announces)."""
    table = sources.units
    chunk = passage.chunk
    limit = reach(sources, passage)
    for row in table.overviews.get(chunk.doc_id, []):
        lead_in = table.units[row]
        first, last = (table.units[r].start for r in (lead_in.sections[0], lead_in.sections[-1]))
        inside = chunk.start <= lead_in.start < chunk.end
        if inside or (limit > 0 and first <= chunk.start <= last + limit):
            yield row, inside


def quotable(text: str) -> bool:
    """Whether a body unit says something on its own: not a label, not a question, not a scrap."""
    text = text.rstrip()
    return cjk_count(text) >= MIN_SENTENCE_CJK and not text.endswith(("?", "？")) and not is_label(text)


def _heading_named(table: UnitTable, unit: AnswerUnit, asked: set[str]) -> str:
    """The heading a unit stands under (「一、住院报销」 → 「住院报销」) when every term of it is a term
    of the question, else "". A document's title is no section heading: the whole page stands
    under it."""
    heading, terms = _heading_terms(unit.context)
    if len(terms) < 2 or unit.context == table.title_context(unit.doc_id):
        return ""
    return heading if all(t in asked for t in terms) else ""


@lru_cache(maxsize=65536)
def _heading_terms(context: str) -> tuple[str, tuple[str, ...]]:
    """A unit context's heading without its marker, and its terms (none for a forum floor). A
    corpus has few headings and every question reads them again: each is segmented once."""
    heading = without_marker(context.split(" ")[0])
    return heading, () if is_floor(heading) else tuple(tokenize(heading))


def _section_run(table: UnitTable, row: int, room: int) -> list[int]:
    """The body sentences of ``row``'s section from its first one on, as many as fit in ``room``,
    ending on a sentence's end."""
    unit = table.units[row]

    def same(r: int | None) -> bool:
        return r is not None and table.units[r].role == BODY and table.units[r].context == unit.context

    first = row
    while same(before := table.preceding(first)):
        first = before
    rows, used, current = [], 0, first
    while same(current) and used + len(table.units[current].text) <= room:
        # A question the section repeats (「在厦门交的医保去其他城市能用吗?」) is not quoted.
        if quotable(table.units[current].text):
            rows.append(current)
            used += len(table.units[current].text)
        current = table.following(current)
    while rows and not ENDS_SENTENCE.search(table.units[rows[-1]].text):
        rows.pop()
    return rows


def _section_items(table: UnitTable, starts: tuple[int, ...]) -> list[tuple[int, str]]:
    """For each section a lead-in announces, the unit that stands for it: its first sentence, with
    the section's heading as its caption (「电话查询」: 「拨打当地医保部门的服务热线…」), or the
    section's first unit itself when that already carries its sentence."""
    out = []
    for n, start in enumerate(starts):
        end = table.units[starts[n + 1]].start if n + 1 < len(starts) else None
        first = table.units[start]
        if first.role != HEADING and not is_label(first.text) and cjk_count(first.text) >= MIN_SENTENCE_CJK:
            out.append(_labelled(table, start))
            continue
        row = table.following(start)
        for _ in range(_SECTION_WALK):
            if row is None or (end is not None and table.units[row].start >= end):
                break
            unit = table.units[row]
            if unit.role not in (HEADING, LEAD_IN) and not is_label(unit.text):
                if cjk_count(unit.text) >= MIN_SENTENCE_CJK:
                    out.append((row, first.text))
                break
            row = table.following(row)
    return out


def _labelled(table: UnitTable, row: int) -> tuple[int, str]:
    """A list item that carries a heading line before its sentence (「一、住院报销」, then
    「乡(镇)卫生院:…」 on the next line) is quoted as that sentence with the heading as its caption,
    not run into it. A label written as a key (「1、退休移民:」) reads as one line with its text, as
    the keyed items beside it do (「3、櫃檯查詢:參保人…」); it and any other unit are quoted as they are."""
    item = table.units[row]
    inner = table.within(item.doc_id, item.start + 1, item.end)
    if len(inner) != 1 or table.units[inner[0]].end != item.end or table.units[inner[0]].role != BODY:
        return row, ""
    label = item.text[: table.units[inner[0]].start - item.start].strip()
    return (inner[0], label) if is_label(label) else (row, "")


def _about_whole(terms: list[str], lead_in: AnswerUnit) -> bool:
    """Whether every term of the question is in the lead-in or the heading of its section."""
    said = fold(f"{lead_in.context} {lead_in.text}")
    return bool(terms) and all(term in said for term in terms)


def _candidate(table: UnitTable, passage: Passage, rows: list[int], kind: str) -> Candidate:
    return Candidate(passage, rows, kind, [table.units[r].text for r in rows])


def _names_key(asked: str, text: str) -> bool:
    """Whether ``text`` is a row keyed by a name the (folded, unbracketed) question contains."""
    key = key_of(text)
    if key is None:
        return False
    key = _BRACKETS.sub("", fold(key))
    return len(key) >= _KEY_MIN_CHARS and key in asked


@lru_cache(maxsize=65536)
def cjk_count(text: str) -> int:
    return len(CJK.findall(text))
