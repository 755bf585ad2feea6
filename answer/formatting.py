"""The chosen blocks as an answer: quotes with their citations, in the asker's script, with the
line that says where and when the sources speak of, and, for a question asked in another
language, one line in English saying what was found."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import replace

from pypinyin import lazy_pinyin

from answer.candidates import Candidate
from answer.question import FOREIGN, Question
from answer.records import LIST, SENTENCE, AnswerBlock, AnswerSentence, Citation
from answer.sources import Sources
from index.retriever import Passage
from ingest.patterns import ENDS_SENTENCE, LEAD_IN_END
from ingest.records import AnswerUnit
from ingest.structure import is_floor
from ingest.units import HEADING

_WHITESPACE = re.compile(r"\s+")
# A lead-in this short (「步骤:」, 「注意事项:」) says what kind of list follows, not what it is about.
_BARE_LEAD_IN_CHARS = 4
# A heading stands right above a lead-in when only line breaks lie between them.
_HEADING_GAP = 4


def cite(chosen: list[Candidate], sources: Sources) -> tuple[list[AnswerBlock], list[Citation]]:
    """Each passage quoted is cited once, [1] for the opening's, [2]… for others; when the quotes
    run past a passage (a list's later items) its span widens to cover them, so the citation shows
    every word it backs."""
    table = sources.units
    numbers: dict[int, int] = {}
    quoted: dict[int, list[AnswerUnit]] = defaultdict(list)
    blocks = []
    for cand in chosen:
        n = numbers.setdefault(id(cand.passage), len(numbers) + 1)
        units = [table.units[row] for row in cand.rows]
        quoted[n].extend(units)
        captions = {cand.rows[0]: _caption(sources, cand.rows[0])} if cand.kind == LIST else {}
        captions.update(cand.captions)
        quotes = [_quote(u, n, captions.get(row, "")) for row, u in zip(cand.rows, units, strict=True)]
        if cand.kind == SENTENCE:
            text = sources.text_of(units[0].doc_id)
            for quote, before in zip(quotes[1:], units, strict=False):
                # A row after a row, not the sentence a lead-in (「使用条件:」) runs on into.
                quote.new_line = (
                    text is not None
                    and ENDS_SENTENCE.search(before.text) is not None
                    and "\n" in text[before.end : quote.start]
                )
        blocks.append(AnswerBlock(cand.kind, quotes[0], quotes[1:]))
    passages = {numbers[id(c.passage)]: c.passage for c in chosen}
    return blocks, [Citation(n, _widened(sources, passages[n], quoted[n])) for n in sorted(passages)]


def in_script(blocks: list[AnswerBlock], question: Question) -> None:
    """Quotes shown in the asker's script, each on one line (a label and its text may stand on
    lines of their own in the source)."""
    for block in blocks:
        for quote in block.quotes:
            quote.caption = question.in_script(quote.caption)
            quote.text = _WHITESPACE.sub(" ", question.in_script(quote.source))


def scope(citations: list[Citation], question: Question) -> str:
    """Rules differ by city and year, so say where and when each cited source speaks of, and
    warn when the question names a place the sources are not about."""
    region = question.place
    parts = []
    for c in citations:
        chunk = c.passage.chunk
        where = "，".join(x for x in (chunk.region, chunk.date) if x)
        if where:
            parts.append(f"[{c.n}] {where}")
    lines = [f"（来源地区/日期：{'；'.join(parts)}）"] if parts else []
    if region and citations and not any(c.passage.chunk.region == region for c in citations):
        others = list(dict.fromkeys(c.passage.chunk.region for c in citations if c.passage.chunk.region))
        if others:
            lines.insert(0, f"以下为{'、'.join(others)}的规定，{region}可能不同。")
        else:
            lines.insert(0, f"资料未注明以下内容适用的地区，{region}的规定可能不同。")
    return question.in_script("\n".join(lines))


def english_note(citations: list[Citation], question: Question) -> str:
    """For a question without a word of Chinese: one line saying that the sources are in Chinese
    and quoted as written, and which document (and which city) each citation is."""
    if question.script != FOREIGN or not citations:
        return ""
    found = []
    for c in citations:
        chunk = c.passage.chunk
        where = f", {place_in_english(chunk.region)}" if chunk.region else ""
        found.append(f"[{c.n}] “{chunk.title}”{where}")
    return f"The sources are in Chinese; the answer quotes them as written. Found in {'; '.join(found)}."


def place_in_english(name: str) -> str:
    """A Chinese place name in pinyin, as English writes it: 厦门 → Xiamen."""
    return "".join(lazy_pinyin(name)).capitalize()


def _caption(sources: Sources, row: int) -> str:
    """The heading right above a bare lead-in (「步骤:」 under 「医保经办机构窗口查询」): what its list
    is about. A lead-in that says more (「支付宝查询步骤:」) needs none."""
    table = sources.units
    lead_in = table.units[row]
    before = table.preceding(row)
    if len(LEAD_IN_END.sub("", lead_in.text)) > _BARE_LEAD_IN_CHARS or before is None:
        return ""
    heading = table.units[before]
    if heading.role != HEADING or lead_in.start - heading.end > _HEADING_GAP or is_floor(heading.text):
        return ""
    return heading.text


def _quote(unit: AnswerUnit, n: int, caption: str = "") -> AnswerSentence:
    return AnswerSentence(unit.text, unit.text, n, unit.doc_id, unit.start, unit.end, caption)


def _widened(sources: Sources, passage: Passage, units: list[AnswerUnit]) -> Passage:
    chunk = passage.chunk
    start = min(chunk.start, *(u.start for u in units))
    end = max(chunk.end, *(u.end for u in units))
    text = sources.text_of(chunk.doc_id)
    if (start, end) == (chunk.start, chunk.end) or text is None:
        return passage
    return replace(passage, chunk=replace(chunk, start=start, end=end, text=text[start:end]))
