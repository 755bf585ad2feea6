"""Extractive answers composed from answer units: the question's best unit opens, then only what
adds to it, each quoted whole and cited.

Nothing is generated. Every quote is a verbatim span ``doc[start:end]`` of a cited document
(converted to the question's script when it is traditional). The units come from ingest
(ingest.units): a body sentence, a lead-in with its list items, never a heading or a lead-in on
its own. The question's intent (answer.intent) decides which unit opens: the yes or no, the steps
as a list, the number, the list of cases, the cause.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from functools import lru_cache
from itertools import pairwise

import numpy as np

from answer.confidence import confidence, signals
from answer.intent import answer_pattern, answers_intent, question_intent, wants_list
from answer.nonsense import lacks_content, no_content_answer
from answer.records import LIST, SENTENCE, Answer, AnswerBlock, AnswerSentence, Citation
from index.retriever import Passage, Retriever, SearchResult
from index.timing import timed
from index.units import UnitTable
from ingest.patterns import CJK, ENDS_SENTENCE, LEAD_IN_END
from ingest.records import AnswerUnit
from ingest.structure import is_floor
from ingest.textnorm import fold, has_cjk, is_traditional, to_simplified, to_traditional, tokenize
from ingest.units import BODY, HEADING, LEAD_IN, is_label, key_of, without_marker
from settings import Settings

# A sentence this short still says something (「溶于汽油。」 answers 「丙烯颜料溶于汽油吗」): measured
# on cmrc2018_trial, 6 → 4 Chinese characters found 4 more answers; labels are kept out apart.
_MIN_SENTENCE_CJK = 4
_MIN_ITEM_CJK = 2
# How far past its passage a quoted list may run (its items, or the sentence a lead-in introduces).
_LIST_REACH = 600
# An opening this short (「…需要遵循一定的流程和条件。」) is read with the unit that follows it.
_SHORT_OPENING = 60
_NEAR_DUPLICATE = 0.6
# A sentence that opens by pointing back (「因此它有时也被称为笨蛋水果。」) says why or what only
# together with the sentence before it.
_POINTS_BACK = re.compile(r"^(?:因此|因而|所以|于是|故此|由此|为此|此时|这|此|但|然而|不过|在此)")
# How many units of a cut sentence are read on with a quote that ends mid-sentence.
_CONTINUATION = 3
_WHITESPACE = re.compile(r"\s+")
_BRACKETS = re.compile(r"[\s()（）\[\]【】「」“”\"']")
# Table rows are keyed by names like 「三级医院」 or 「乡(镇)卫生院」; a key this short (「支付宝:」)
# names a channel that a question may mention for something else (paying, not looking up: measured).
_KEY_MIN_CHARS = 4
# A lead-in this short (「步骤:」, 「注意事项:」) says what kind of list follows, not what it is about.
_BARE_LEAD_IN_CHARS = 4
# How many headings and lead-ins a section's heading may stand above its first sentence.
_SECTION_WALK = 4
# A heading stands right above a lead-in when only line breaks lie between them.
_HEADING_GAP = 4


@dataclass
class _Candidate:
    """A block an answer may quote: one unit, or a lead-in (``rows[0]``) with its items."""

    passage: Passage
    rows: list[int]
    kind: str
    texts: list[str]
    cosine: float = 0.0
    score: float = 0.0
    # Row → the heading an item stands for, when a lead-in's items are the sections it announces.
    captions: dict[int, str] = field(default_factory=dict)
    # For such a list, the heading of the lead-in's section: what the whole list is about, which its
    # quotes (「以下是几种常见的查询方法:」, one way each) do not say.
    about: str = ""
    # Whether the question names the heading it stands under (a section's body).
    named: bool = False

    @property
    def text(self) -> str:
        return "".join(self.texts)


class Answerer:
    def __init__(self, retriever: Retriever, settings: Settings) -> None:
        self.retriever = retriever
        self.settings = settings

    def ask(
        self, question: str, top_k: int | None = None, mode: str = "hybrid", region: str | None = None
    ) -> Answer:
        """Search, then answer from exactly the passages the search returned."""
        if lacks_content(question):
            return no_content_answer(question)
        return self.answer(question, self.retriever.search(question, top_k, mode, region=region))

    def answer(self, question: str, result: SearchResult) -> Answer:
        timings = dict(result.timings_ms)
        with timed(timings, "compose"):
            query_vector = result.query_vector
            if query_vector is None:
                query_vector = self.retriever.embedder.encode_query(question)
            intent, pattern = question_intent(question), answer_pattern(question)
            candidates = self._candidates(result, query_vector, intent, pattern)
            evidence = signals(result, self.retriever.index, query_vector)
            evidence["unit_cosine"] = max((c.cosine for c in candidates), default=0.0)
            conf = confidence(evidence, self.settings, cross_lingual=not has_cjk(question))
            abstained = not candidates or conf < self.settings.abstain_threshold
            ranked = _whole_list_first(candidates, intent)
            chosen = [] if abstained else self._select(ranked, result.query_terms)
            if chosen and (asked := _asked_for(pattern)) is not None:
                chosen = self._with_what_it_lacks(chosen, ranked, asked)
            blocks, citations = self._cite(chosen)
        with timed(timings, "script"):
            convert = to_traditional if is_traditional(question) else to_simplified
            for block in blocks:
                for quote in block.quotes:
                    quote.caption = convert(quote.caption)
                    # Shown on one line: a label and its text may stand on lines of their own.
                    quote.text = _WHITESPACE.sub(" ", convert(quote.source))
            scope = convert(_scope(citations, result.region))
        return Answer(question, blocks, citations, abstained, conf, scope, result, timings, evidence)

    def _candidates(
        self, result: SearchResult, query_vector: np.ndarray, intent: str, pattern: re.Pattern[str] | None
    ) -> list[_Candidate]:
        table = self.retriever.index.units
        s = self.settings
        out = [
            cand
            for passage in result.passages
            for row in table.within(passage.chunk.doc_id, passage.chunk.start, passage.chunk.end)
            if (cand := _block(table, row, passage, self._reach(passage))) is not None
        ]
        out.extend(self._overviews(result))
        out.extend(self._section_bodies(result))
        asked = _BRACKETS.sub("", fold(result.query))
        shaped = _asked_for(pattern)
        # One product for every unit the candidates quote, not one per candidate.
        rows = sorted({r for cand in out for r in cand.rows})
        similarity = dict(zip(rows, (table.vectors[rows] @ query_vector).tolist(), strict=True))
        for cand in out:
            cosines = [similarity[r] for r in cand.rows]
            # A list is as close as its lead-in or its items on average, whichever is closer.
            cand.cosine = max(cosines[0], sum(cosines[1:]) / (len(cosines) - 1) if len(cosines) > 1 else 0.0)
            fits = answers_intent(intent, cand.text) or (cand.kind == LIST and wants_list(intent))
            typed = shaped is not None and shaped(cand)
            cand.score = (
                cand.cosine
                + s.answer_passage_weight * cand.passage.score
                + s.answer_intent_bonus * fits
                + s.answer_type_bonus * typed
                + s.answer_key_bonus * (cand.named or _names_key(asked, cand.texts[0]))
            )
        for cand, overlap in zip(out, _local_coverage(result.query_terms, out), strict=True):
            cand.score += s.answer_overlap_weight * overlap
        idf = self.retriever.index.lexical.idf
        for cand, focus in zip(out, _passage_focus(result.query_terms, out, idf), strict=True):
            cand.score += s.answer_focus_weight * focus
        return sorted(out, key=lambda c: -c.score)

    def _overviews(self, result: SearchResult) -> list[_Candidate]:
        """Lists of the sections a lead-in announces (「以下是几种常见的查询方法:」: 【电话查询】…,
        【网上查询方法】…), for a passage that holds the lead-in or one of those sections, when the
        question is about what the lead-in's section is about as a whole: 「医保卡余额怎么查」 is
        answered by the ways, 「支付宝怎么查医保余额」 by the one it names. The citation widens to
        cover the lead-in."""
        table = self.retriever.index.units
        # The place a question names is for the scope line to speak of, not a term a list of
        # ways must hold (「厦门医保卡余额怎么查」 asks the ways, wherever they are written).
        place = result.region or ""
        terms = [t for t in dict.fromkeys(result.query_terms) if t not in place]
        # Each list is built from the best passage that holds its lead-in, or else the best one
        # inside its sections: quoted with the passage around its lead-in, a list is read with the
        # sentence that introduces it (「…的报销比例因就诊类型…而有所不同。以下是…的具体说明:」).
        leads = [
            (not inside, rank, passage, row)
            for rank, passage in enumerate(result.passages)
            for row, inside in self._leads_to(passage)
        ]
        out, seen = [], set()
        for _, _, passage, row in sorted(leads, key=lambda lead: lead[:2]):
            lead_in = table.units[row]
            if row in seen or not _about_whole(terms, lead_in):
                continue
            limit = passage.chunk.end + self._reach(passage)
            items = [
                (r, caption)
                for r, caption in _section_items(table, lead_in.sections)
                if table.units[r].end <= limit
            ]
            if len(items) >= 2:
                seen.add(row)
                cand = _candidate(table, passage, [row, *(r for r, _ in items)], LIST)
                cand.captions = {r: caption for r, caption in items if caption}
                cand.about = lead_in.context
                out.append(cand)
        return out

    def _section_bodies(self, result: SearchResult) -> list[_Candidate]:
        """A heading's body when the question names what the heading says: asked 「新农合在县医院
        住院报销比例是多少」, the rows under 「一、住院报销」 (乡(镇)卫生院…, 县级定点医疗机构…, 二级医院…),
        quoted from the section's first sentence with the heading as its caption. The section may
        lie in a retrieved passage or within reach after one."""
        table = self.retriever.index.units
        asked = set(result.query_terms)
        room = self.settings.answer_max_chars
        out, seen = [], set()
        for passage in result.passages:
            chunk = passage.chunk
            for row in table.within(chunk.doc_id, chunk.start, chunk.end + self._reach(passage)):
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

    def _leads_to(self, passage: Passage) -> Iterator[tuple[int, bool]]:
        """The lead-ins of overviews a passage leads to, each with whether the passage holds it
        (else it lies within the sections it announces)."""
        table = self.retriever.index.units
        chunk = passage.chunk
        reach = self._reach(passage)
        for row in table.overviews.get(chunk.doc_id, []):
            lead_in = table.units[row]
            first, last = (table.units[r].start for r in (lead_in.sections[0], lead_in.sections[-1]))
            inside = chunk.start <= lead_in.start < chunk.end
            if inside or (reach > 0 and first <= chunk.start <= last + reach):
                yield row, inside

    def _select(self, candidates: list[_Candidate], terms: list[str]) -> list[_Candidate]:
        """The best block opens (with the list it announces, if it ends on one); then blocks nearly
        as good from its passage. Blocks from other passages stay out (but for what the question
        asks and these lack, `_with_what_it_lacks`): measured on both question sets, a second source
        added for the question terms the first lacked was mostly off-topic (citation precision 0.64
        → 0.80 here without it, answers holding the evidence 0.757 → 0.739)."""
        s = self.settings
        table = self.retriever.index.units
        opening = _fit(candidates[0], s.answer_max_chars) or candidates[0]
        opening = self._to_sentence_end(opening, s.answer_max_chars)
        opening = self._with_antecedent(opening, s.answer_max_chars)
        chosen = [opening]
        announced = table.following(opening.rows[-1])
        if opening.kind == SENTENCE and announced is not None and len(opening.text) < _SHORT_OPENING:
            follow = _block(table, announced, opening.passage, self._reach(opening.passage))
            # What a short opening announces (「…可以申请提取。」 then 「具体法规如下:」 and its list) is
            # read with it; a plain next sentence only when it is about the question too.
            if (
                follow is not None
                and _same_section(table, opening, follow)
                and (table.units[announced].role == LEAD_IN or _has_terms(terms, follow))
            ):
                follow = _fit(follow, s.answer_max_chars - len(opening.text))
                if follow is not None:
                    chosen.append(follow)
        opening_end = table.units[opening.rows[-1]].end
        for cand in (c for c in candidates[1:] if c.passage is opening.passage):
            if len(chosen) >= s.answer_max_sentences:
                break
            # Reading on is natural: the sentence right after the opening, in its paragraph, may
            # score lower (a new line starts something else: 「优点:可现场获取…」).
            reads_on = cand.rows[0] == announced and table.units[announced].start == opening_end
            margin = s.answer_next_margin if reads_on else s.answer_margin
            if cand.score < opening.score - margin:
                continue
            room = s.answer_max_chars - sum(len(c.text) for c in chosen)
            cand = _fit(cand, room)
            if cand is None or any(_from_quoted_list(table, cand, c) for c in chosen):
                continue
            # Read on to the sentence's end unless that runs into a quote already chosen.
            for quote in (self._to_sentence_end(cand, room), cand):
                if not any(_overlaps(table, quote, c) or _similar(quote.text, c.text) for c in chosen):
                    chosen.append(quote)
                    break
        # The opening answers; the rest follow as the source has them, except that what runs
        # straight into the opening stays before it (「当个人账户余额用尽时,…。」 then 「住院治疗则…」)
        # and what the opening runs straight into stays after it: one run of the source, one quote.
        rest = sorted(chosen[1:], key=lambda c: table.units[c.rows[0]].start)
        first, last = table.units[opening.rows[0]], table.units[opening.rows[-1]]
        before = [c for c in rest if _runs_into(table.units[c.rows[-1]], first)]
        after = [c for c in rest if _runs_into(last, table.units[c.rows[0]])]
        others = [c for c in rest if c not in before and c not in after]
        return _join_running_text(table, [*before, opening, *after, *others])

    def _with_what_it_lacks(
        self, chosen: list[_Candidate], candidates: list[_Candidate], asked: Callable[[_Candidate], bool]
    ) -> list[_Candidate]:
        """When no chosen block carries what the question asks for (the hours of 「几点打比较好」),
        the best block that does from another passage the search ranked at least as high, nearly
        as good as the opening, as a second source; else the answer as chosen. A passage ranked
        lower is about something else more often than not: on cmrc2018_trial, where each passage
        is another entity, all 13 second sources it gave were off-topic."""
        s = self.settings
        table = self.retriever.index.units
        if any(asked(c) for c in chosen) or len(chosen) >= s.answer_max_sentences:
            return chosen
        room = s.answer_max_chars - sum(len(c.text) for c in chosen)
        opening = chosen[0]
        for cand in candidates:
            if cand.score < opening.score - s.answer_margin:
                break
            if (
                cand.passage is not opening.passage
                and cand.passage.score >= opening.passage.score
                and asked(cand)
                and len(cand.text) <= room
                and not any(_overlaps(table, cand, c) or _similar(cand.text, c.text) for c in chosen)
            ):
                return [*chosen, cand]
        return chosen

    def _to_sentence_end(self, cand: _Candidate, room: int) -> _Candidate:
        """A sentence quote cut mid-sentence (「…作为上品；」, 「…的能力，」) read on to its sentence's
        end, unit by unit, while it fits: the rest of the sentence is usually what was asked."""
        if cand.kind != SENTENCE:
            return cand
        table = self.retriever.index.units
        limit = cand.passage.chunk.end + self._reach(cand.passage)
        rows, texts = list(cand.rows), list(cand.texts)
        for _ in range(_CONTINUATION):
            if ENDS_SENTENCE.search(texts[-1]):
                break
            last = table.units[rows[-1]]
            row = table.following(rows[-1])
            if row is None:
                break
            unit = table.units[row]
            if not _runs_on(last, unit) or unit.end > limit:
                break
            if sum(map(len, texts)) + len(unit.text) > room:
                break
            rows.append(row)
            texts.append(unit.text)
        return replace(cand, rows=rows, texts=texts) if len(rows) > len(cand.rows) else cand

    def _with_antecedent(self, cand: _Candidate, room: int) -> _Candidate:
        """A sentence quote that opens by pointing back, with the sentence before it when it fits."""
        if cand.kind != SENTENCE or not _POINTS_BACK.match(fold(cand.texts[0])):
            return cand
        table = self.retriever.index.units
        row = table.preceding(cand.rows[0])
        if row is None:
            return cand
        unit = table.units[row]
        if (
            not _runs_on(unit, table.units[cand.rows[0]])
            or unit.start < cand.passage.chunk.start
            or len(unit.text) + len(cand.text) > room
        ):
            return cand
        return replace(cand, rows=[row, *cand.rows], texts=[unit.text, *cand.texts])

    def _cite(self, chosen: list[_Candidate]) -> tuple[list[AnswerBlock], list[Citation]]:
        """Each passage quoted is cited once, [1] for the opening's, [2] for a second source; when
        the quotes run past a passage (a list's later items) its span widens to cover them, so the
        citation shows every word it backs."""
        table = self.retriever.index.units
        numbers: dict[int, int] = {}
        quoted: dict[int, list[AnswerUnit]] = defaultdict(list)
        blocks = []
        for cand in chosen:
            n = numbers.setdefault(id(cand.passage), len(numbers) + 1)
            units = [table.units[row] for row in cand.rows]
            quoted[n].extend(units)
            captions = {cand.rows[0]: _caption(table, cand.rows[0])} if cand.kind == LIST else {}
            captions.update(cand.captions)
            quotes = [_quote(u, n, captions.get(row, "")) for row, u in zip(cand.rows, units, strict=True)]
            if cand.kind == SENTENCE:
                document = self.retriever.index.document(units[0].doc_id)
                for quote, before in zip(quotes[1:], units, strict=False):
                    # A row after a row, not the sentence a lead-in (「使用条件:」) runs on into.
                    quote.new_line = (
                        document is not None
                        and ENDS_SENTENCE.search(before.text) is not None
                        and "\n" in document.text[before.end : quote.start]
                    )
            blocks.append(AnswerBlock(cand.kind, quotes[0], quotes[1:]))
        passages = {numbers[id(c.passage)]: c.passage for c in chosen}
        return blocks, [Citation(n, self._widened(passages[n], quoted[n])) for n in sorted(passages)]

    def _widened(self, passage: Passage, units: list[AnswerUnit]) -> Passage:
        chunk = passage.chunk
        start = min(chunk.start, *(u.start for u in units))
        end = max(chunk.end, *(u.end for u in units))
        document = self.retriever.index.document(chunk.doc_id)
        if (start, end) == (chunk.start, chunk.end) or document is None:
            return passage
        return replace(passage, chunk=replace(chunk, start=start, end=end, text=document.text[start:end]))

    def _reach(self, passage: Passage) -> int:
        # Without the document's text a widened citation could not show its words.
        return _LIST_REACH if self.retriever.index.document(passage.chunk.doc_id) is not None else 0


def _block(table: UnitTable, row: int, passage: Passage, reach: int) -> _Candidate | None:
    """The block that unit ``row`` opens, or None when it cannot be quoted on its own: a lead-in
    comes with its items (those that say something, not bare labels), or else with the sentence it
    introduces. Items and that sentence may run up to ``reach`` characters past the passage; the
    citation then covers them."""
    unit = table.units[row]
    if unit.role == HEADING:
        return None
    chunk = passage.chunk

    def reachable(r: int) -> bool:
        u = table.units[r]
        return u.doc_id == chunk.doc_id and chunk.start <= u.start and u.end <= chunk.end + reach

    if unit.role == LEAD_IN:
        linked = [
            _labelled(table, r)
            for r in table.items.get(row, [])
            if reachable(r) and _cjk_count(table.units[r].text) >= _MIN_ITEM_CJK
        ]
        said = [(r, caption) for r, caption in linked if not is_label(table.units[r].text)]
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
    if not _quotable(unit.text):
        return None
    # An entry under a heading line (「三、电话查询」, then 「拨打…」) is quoted as its sentence, the
    # heading shown as its caption.
    sentence, caption = _labelled(table, row)
    cand = _candidate(table, passage, [sentence], SENTENCE)
    cand.captions = {sentence: caption} if caption else {}
    return cand


def _quotable(text: str) -> bool:
    """Whether a body unit says something on its own: not a label, not a question, not a scrap."""
    text = text.rstrip()
    return _cjk_count(text) >= _MIN_SENTENCE_CJK and not text.endswith(("?", "？")) and not is_label(text)


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
        if _quotable(table.units[current].text):
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
        if first.role != HEADING and not is_label(first.text) and _cjk_count(first.text) >= _MIN_SENTENCE_CJK:
            out.append(_labelled(table, start))
            continue
        row = table.following(start)
        for _ in range(_SECTION_WALK):
            if row is None or (end is not None and table.units[row].start >= end):
                break
            unit = table.units[row]
            if unit.role not in (HEADING, LEAD_IN) and not is_label(unit.text):
                if _cjk_count(unit.text) >= _MIN_SENTENCE_CJK:
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


def _asked_for(pattern: re.Pattern[str] | None) -> Callable[[_Candidate], bool] | None:
    """Whether a block carries what the question asks for, where its words can tell: the answer's
    shape (「9-11点」 for 「几点打」, a cause for a why question). None where they cannot (a yes or
    no is often said without 能 or 可以; steps and lists are judged as lists)."""
    if pattern is None:
        return None
    return lambda cand: pattern.search(fold(cand.text)) is not None


def _about_whole(terms: list[str], lead_in: AnswerUnit) -> bool:
    """Whether every term of the question is in the lead-in or the heading of its section."""
    said = fold(f"{lead_in.context} {lead_in.text}")
    return bool(terms) and all(term in said for term in terms)


def _whole_list_first(candidates: list[_Candidate], intent: str) -> list[_Candidate]:
    """A how-to or which question whose best block is one item of a list opens with the list: one
    step cut from three (「工作人员将为您查询并告知医保账户余额。」) does not say how."""
    top = candidates[0] if candidates else None
    if top is None or top.kind != SENTENCE or not wants_list(intent):
        return candidates
    for cand in candidates[1:]:
        if cand.kind == LIST and cand.passage is top.passage and top.rows[0] in cand.rows[1:]:
            return [cand, *(c for c in candidates if c is not cand)]
    return candidates


def _caption(table: UnitTable, row: int) -> str:
    """The heading right above a bare lead-in (「步骤:」 under 「医保经办机构窗口查询」): what its list
    is about. A lead-in that says more (「支付宝查询步骤:」) needs none."""
    lead_in = table.units[row]
    before = table.preceding(row)
    if len(LEAD_IN_END.sub("", lead_in.text)) > _BARE_LEAD_IN_CHARS or before is None:
        return ""
    heading = table.units[before]
    if heading.role != HEADING or lead_in.start - heading.end > _HEADING_GAP or is_floor(heading.text):
        return ""
    return heading.text


def _runs_into(before: AnswerUnit, after: AnswerUnit) -> bool:
    """Whether ``after`` is written right after ``before``, in one run of text."""
    return before.doc_id == after.doc_id and after.start == before.end


def _runs_on(before: AnswerUnit, after: AnswerUnit) -> bool:
    """Whether body text ``after`` continues ``before`` with at most one character between."""
    return after.role == BODY and 0 <= after.start - before.end <= 1


def _join_running_text(table: UnitTable, blocks: list[_Candidate]) -> list[_Candidate]:
    """Sentences quoted one right after the other in the source read as one quote, as they were
    written (「…以头足类为食。体型较大的物种可能也以…为食。」), not as separate statements."""
    out = [blocks[0]]
    for block in blocks[1:]:
        last, first = table.units[out[-1].rows[-1]], table.units[block.rows[0]]
        if SENTENCE == out[-1].kind == block.kind and last.doc_id == first.doc_id and first.start == last.end:
            out[-1] = replace(out[-1], rows=out[-1].rows + block.rows, texts=out[-1].texts + block.texts)
        else:
            out.append(block)
    return out


def _candidate(table: UnitTable, passage: Passage, rows: list[int], kind: str) -> _Candidate:
    return _Candidate(passage, rows, kind, [table.units[r].text for r in rows])


def _same_section(table: UnitTable, a: _Candidate, b: _Candidate) -> bool:
    """Whether ``b`` lies in the passage ``a`` was quoted from or runs on from it without a heading."""
    first, last = table.units[a.rows[-1]], table.units[b.rows[0]]
    chunk = a.passage.chunk
    return first.doc_id == last.doc_id and (last.start < chunk.end or last.start - first.end < _SHORT_OPENING)


def _local_coverage(terms: list[str], candidates: list[_Candidate]) -> list[float]:
    """Each candidate's share of the question's terms, each term weighted by how rare it is among
    the candidates: in passages that all say 「新农合」, 「三级医院」 is what tells them apart."""
    return _rarity_shares(terms, [fold(c.about + c.text) for c in candidates])


def _passage_focus(
    terms: list[str], candidates: list[_Candidate], idf: Callable[[str], float]
) -> list[float]:
    """Each candidate's share of the question's terms that set it apart within its own passage.

    A passage about 夜来香 names it in several sentences; asked 「夜来香的种子有什么特点」, the
    sentence that says 种子 (「种子宽卵形…」, its subject left out) is the answer. So a term in the
    passage's heading says nothing here, and a term counts by its idf times its rarity among the
    passage's candidates."""
    by_passage: dict[int, list[int]] = defaultdict(list)
    for i, cand in enumerate(candidates):
        by_passage[id(cand.passage)].append(i)
    out = [0.0] * len(candidates)
    for rows in by_passage.values():
        heading = fold(candidates[rows[0]].passage.chunk.section)
        own = [t for t in terms if t not in heading]
        shares = _rarity_shares(own, [fold(candidates[i].about + candidates[i].text) for i in rows], idf)
        for i, share in zip(rows, shares, strict=True):
            out[i] = share
    return out


def _rarity_shares(
    terms: list[str], texts: list[str], idf: Callable[[str], float] = lambda _: 1.0
) -> list[float]:
    """Each text's share of ``terms``, a term weighted by ``idf`` times log(1 + texts / texts with it)."""
    weights = {}
    for term in dict.fromkeys(terms):
        df = sum(term in text for text in texts)
        if df:
            weights[term] = idf(term) * math.log(1 + len(texts) / df)
    total = sum(weights.values())
    if total <= 0:
        return [0.0] * len(texts)
    return [sum(w for t, w in weights.items() if t in text) / total for text in texts]


def _fit(cand: _Candidate, room: int) -> _Candidate | None:
    """The block within ``room`` characters: a list keeps as many items as fit (at least two)."""
    if len(cand.text) <= room:
        return cand
    if cand.kind != LIST:
        return None
    keep, used = 1, len(cand.texts[0])
    for text in cand.texts[1:]:
        if used + len(text) > room:
            break
        keep, used = keep + 1, used + len(text)
    return replace(cand, rows=cand.rows[:keep], texts=cand.texts[:keep]) if keep >= 3 else None


def _names_key(asked: str, text: str) -> bool:
    """Whether ``text`` is a row keyed by a name the (folded, unbracketed) question contains."""
    key = key_of(text)
    if key is None:
        return False
    key = _BRACKETS.sub("", fold(key))
    return len(key) >= _KEY_MIN_CHARS and key in asked


def _has_terms(terms: list[str], cand: _Candidate) -> bool:
    """Whether ``cand`` holds any of the question's terms."""
    text = fold(cand.text)
    return any(t in text for t in terms)


def _quote(unit: AnswerUnit, n: int, caption: str = "") -> AnswerSentence:
    return AnswerSentence(unit.text, unit.text, n, unit.doc_id, unit.start, unit.end, caption)


def _from_quoted_list(table: UnitTable, cand: _Candidate, quoted: _Candidate) -> bool:
    """Whether ``cand`` is one item of a list that ``quoted`` already quotes from: the last of the
    window's three steps (「工作人员将为您查询并告知医保账户余额。」) after a list of ways whose
    【线下查询方法】 quotes the first says nothing on its own."""
    lead = table.units[cand.rows[0]].lead
    if lead is None:
        return False
    return quoted.rows[0] == lead or any(table.units[r].lead == lead for r in quoted.rows)


def _overlaps(table: UnitTable, a: _Candidate, b: _Candidate) -> bool:
    spans_b = [table.units[r] for r in b.rows]
    for ua in (table.units[r] for r in a.rows):
        if any(ua.doc_id == ub.doc_id and ua.start < ub.end and ub.start < ua.end for ub in spans_b):
            return True
    return False


def _scope(citations: list[Citation], region: str | None) -> str:
    """Rules differ by city and year, so say where and when each cited source speaks of, and
    warn when the question names a place the sources are not about."""
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
    return "\n".join(lines)


def _similar(a: str, b: str) -> bool:
    grams_a, grams_b = _bigrams(fold(a)), _bigrams(fold(b))
    if not grams_a or not grams_b:
        return fold(a) == fold(b)
    return len(grams_a & grams_b) / min(len(grams_a), len(grams_b)) > _NEAR_DUPLICATE


def _bigrams(text: str) -> set[str]:
    chars = [ch for ch in text if ch.isalnum()]
    return {a + b for a, b in pairwise(chars)}


@lru_cache(maxsize=65536)
def _cjk_count(text: str) -> int:
    return len(CJK.findall(text))
