"""Which scored blocks an answer quotes, in what order.

The best block opens (read to its sentence's end, with the sentence it points back to, with the
list a short opening announces); blocks nearly as good from its passage follow in the source's
order; a block from another passage comes only for what the question asks and these lack (the
hours of 「几点打」, the conditions of 「能不能…需要什么条件」), and, when the question asks for
every way, place or kind (types.GATHER), for each other way the sources give, one line each.
"""

from __future__ import annotations

from dataclasses import replace
from itertools import pairwise

from answer.candidates import Candidate, block, reach
from answer.question import Question
from answer.records import LIST, SENTENCE
from answer.score import AnswerModel
from answer.sources import Sources
from answer.types import GATHER, ONE
from index.units import UnitTable
from ingest.patterns import ENDS_SENTENCE
from ingest.records import AnswerUnit
from ingest.textnorm import fold
from ingest.units import BODY, LEAD_IN, without_marker
from settings import Settings

# An opening this short (「…需要遵循一定的流程和条件。」) is read with the unit that follows it.
_SHORT_OPENING = 60
_NEAR_DUPLICATE = 0.6
# How many units of a cut sentence are read on with a quote that ends mid-sentence.
_CONTINUATION = 3
# A sentence that opens by pointing back (「因此它有时也被称为笨蛋水果。」) says why or what only
# together with the sentence before it.
_POINTS_BACK = (
    "因此",
    "因而",
    "所以",
    "于是",
    "故此",
    "由此",
    "为此",
    "此时",
    "这",
    "此",
    "但",
    "然而",
    "不过",
    "在此",
)


class Selector:
    def __init__(self, sources: Sources, settings: Settings, model: AnswerModel) -> None:
        self.sources = sources
        self.settings = settings
        self.model = model

    def select(self, question: Question, ranked: list[Candidate]) -> list[Candidate]:
        """The blocks to quote from candidates sorted best first (none: nothing to quote)."""
        if not ranked:
            return []
        ranked = self._preferred_first(question, ranked)
        ranked = _whole_list_first(ranked, question)
        chosen = self._from_opening_passage(ranked, question)
        chosen = self._with_what_it_lacks(question, chosen, ranked)
        if question.form == GATHER:
            chosen = self._gathered(question, chosen, ranked)
        return chosen

    def _preferred_first(self, question: Question, ranked: list[Candidate]) -> list[Candidate]:
        """Among the blocks within the margin of the best, what the question's words and form prefer
        opens: a block it names (a table row by its key, a heading's body by its heading), else,
        where it asks for steps or ways, a list that holds as much of the question's terms. Scores
        say these are about as good; the documents' structure says which one answers (the fitting
        set has no such structure)."""
        top = ranked[0]
        close = [c for c in ranked if c.score >= top.score - self.model.margin]
        preferred = next((c for c in close if c.named), None)
        if preferred is None and question.form != ONE:
            preferred = next((c for c in close if c.kind == LIST and c.overlap >= top.overlap), None)
        if preferred is None or preferred is top:
            return ranked
        return [preferred, *(c for c in ranked if c is not preferred)]

    def _from_opening_passage(self, ranked: list[Candidate], question: Question) -> list[Candidate]:
        """The best block opens (with the list it announces, if it ends on one); then blocks nearly
        as good from its passage. Measured on both of the first question sets, a second source
        added for the question terms the first lacked was mostly off-topic (citation precision
        0.64 → 0.80 without it)."""
        s, m = self.settings, self.model
        table = self.sources.units
        opening = _fit(ranked[0], s.answer_max_chars) or ranked[0]
        opening = self._to_sentence_end(opening, s.answer_max_chars)
        opening = self._with_antecedent(opening, s.answer_max_chars)
        chosen = [opening]
        announced = table.following(opening.rows[-1])
        if opening.kind == SENTENCE and announced is not None and len(opening.text) < _SHORT_OPENING:
            follow = block(table, announced, opening.passage, reach(self.sources, opening.passage))
            # What a short opening announces (「…可以申请提取。」 then 「具体法规如下:」 and its list) is
            # read with it; a plain next sentence only when it is about the question too.
            if (
                follow is not None
                and self._same_section(opening, follow)
                and (table.units[announced].role == LEAD_IN or _has_terms(question.terms, follow))
            ):
                follow = _fit(follow, s.answer_max_chars - len(opening.text))
                if follow is not None:
                    chosen.append(follow)
        opening_end = table.units[opening.rows[-1]].end
        for cand in (c for c in ranked[1:] if c.passage is opening.passage):
            if len(chosen) >= s.answer_max_sentences:
                break
            # Reading on is natural: the sentence right after the opening, in its paragraph, may
            # score lower (a new line starts something else: 「优点:可现场获取…」).
            reads_on = cand.rows[0] == announced and table.units[announced].start == opening_end
            if cand.score < opening.score - (m.next_margin if reads_on else m.margin):
                continue
            room = s.answer_max_chars - sum(len(c.text) for c in chosen)
            fitted = _fit(cand, room)
            if fitted is None or any(self._from_quoted_list(fitted, c) for c in chosen):
                continue
            # Read on to the sentence's end unless that runs into a quote already chosen.
            for quote in (self._to_sentence_end(fitted, room), fitted):
                if self._new(quote, chosen):
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
        return self._join_running_text([*before, opening, *after, *others])

    def _with_what_it_lacks(
        self, question: Question, chosen: list[Candidate], ranked: list[Candidate]
    ) -> list[Candidate]:
        """For each thing the question asks whose shape no chosen block carries (the hours of
        「几点打比较好」, the conditions of 「能不能…需要什么条件」), the best block that does, nearly
        as good as the opening, from a passage the search ranked at least as high. A passage ranked
        lower is about something else more often than not: on cmrc2018_trial, where each passage
        is another entity, all 13 second sources it gave were off-topic."""
        s = self.settings
        opening = chosen[0]
        for asked in question.shapes:
            if len(chosen) >= s.answer_max_sentences:
                break
            if any(asked.shape.search(fold(c.text)) for c in chosen):
                continue
            room = s.answer_max_chars - sum(len(c.text) for c in chosen)
            for cand in ranked:
                if cand.score < opening.score - self.model.margin:
                    break
                if (
                    cand.passage.score >= opening.passage.score
                    and asked.shape.search(fold(cand.text))
                    and len(cand.text) <= room
                    and self._new(cand, chosen)
                ):
                    chosen = [*chosen, cand]
                    break
        return chosen

    def _gathered(
        self, question: Question, chosen: list[Candidate], ranked: list[Candidate]
    ) -> list[Candidate]:
        """Asked for the ways, places or kinds, and answered by one of them, the others the sources
        give follow, one line each under its section's heading, each cited, the best first: blocks
        nearly as good from other sections or other passages that carry the question's shape
        (查/看 for a look-up) and its terms. A list already quoted gives the ways itself."""
        s = self.settings
        if any(c.kind == LIST for c in chosen):
            return chosen
        shape = question.asks[0].shape
        opening = chosen[0]
        table = self.sources.units
        sections = {_section(table.units[c.rows[0]]) for c in chosen}
        out = list(chosen)
        for cand in ranked[1:]:
            if len(out) >= s.answer_max_sentences or cand.score < opening.score - self.model.gather_margin:
                break
            text = fold(cand.text)
            section = _section(table.units[cand.rows[0]])
            room = s.answer_max_chars - sum(len(c.text) for c in out)
            if (
                section in sections
                or len(cand.text) > room
                or (shape is not None and not shape.search(text))
                or not _has_terms(question.terms, cand)
                or not self._new(cand, out)
            ):
                continue
            sections.add(section)
            heading = _heading(table, table.units[cand.rows[0]])
            if heading and not cand.captions:
                cand = replace(cand, captions={cand.rows[0]: heading})
            out.append(cand)
        return out

    def _new(self, cand: Candidate, chosen: list[Candidate]) -> bool:
        """Whether ``cand`` neither overlaps a chosen quote nor says nearly the same."""
        return not any(self._overlaps(cand, c) or _similar(cand.text, c.text) for c in chosen)

    def _to_sentence_end(self, cand: Candidate, room: int) -> Candidate:
        """A sentence quote cut mid-sentence (「…作为上品；」, 「…的能力，」) read on to its sentence's
        end, unit by unit, while it fits: the rest of the sentence is usually what was asked."""
        if cand.kind != SENTENCE:
            return cand
        table = self.sources.units
        limit = cand.passage.chunk.end + reach(self.sources, cand.passage)
        rows, texts = list(cand.rows), list(cand.texts)
        for _ in range(_CONTINUATION):
            if ENDS_SENTENCE.search(texts[-1]):
                break
            row = table.following(rows[-1])
            if row is None:
                break
            unit = table.units[row]
            if not _runs_on(table.units[rows[-1]], unit) or unit.end > limit:
                break
            if sum(map(len, texts)) + len(unit.text) > room:
                break
            rows.append(row)
            texts.append(unit.text)
        return replace(cand, rows=rows, texts=texts) if len(rows) > len(cand.rows) else cand

    def _with_antecedent(self, cand: Candidate, room: int) -> Candidate:
        """A sentence quote that opens by pointing back, with the sentence before it when it fits."""
        if cand.kind != SENTENCE or not fold(cand.texts[0]).startswith(_POINTS_BACK):
            return cand
        table = self.sources.units
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

    def _join_running_text(self, blocks: list[Candidate]) -> list[Candidate]:
        """Sentences quoted one right after the other in the source read as one quote, as they were
        written (「…以头足类为食。体型较大的物种可能也以…为食。」), not as separate statements."""
        table = self.sources.units
        out = [blocks[0]]
        for cand in blocks[1:]:
            last, first = table.units[out[-1].rows[-1]], table.units[cand.rows[0]]
            if (
                SENTENCE == out[-1].kind == cand.kind
                and last.doc_id == first.doc_id
                and first.start == last.end
            ):
                out[-1] = replace(out[-1], rows=out[-1].rows + cand.rows, texts=out[-1].texts + cand.texts)
            else:
                out.append(cand)
        return out

    def _same_section(self, a: Candidate, b: Candidate) -> bool:
        """Whether ``b`` lies in the passage ``a`` was quoted from or runs on from it without a heading."""
        table = self.sources.units
        first, last = table.units[a.rows[-1]], table.units[b.rows[0]]
        chunk = a.passage.chunk
        return first.doc_id == last.doc_id and (
            last.start < chunk.end or last.start - first.end < _SHORT_OPENING
        )

    def _from_quoted_list(self, cand: Candidate, quoted: Candidate) -> bool:
        """Whether ``cand`` is one item of a list that ``quoted`` already quotes from: the last of
        the window's three steps (「工作人员将为您查询并告知医保账户余额。」) after a list of ways
        whose 【线下查询方法】 quotes the first says nothing on its own."""
        table = self.sources.units
        lead = table.units[cand.rows[0]].lead
        if lead is None:
            return False
        return quoted.rows[0] == lead or any(table.units[r].lead == lead for r in quoted.rows)

    def _overlaps(self, a: Candidate, b: Candidate) -> bool:
        table = self.sources.units
        spans_b = [table.units[r] for r in b.rows]
        for ua in (table.units[r] for r in a.rows):
            if any(ua.doc_id == ub.doc_id and ua.start < ub.end and ub.start < ua.end for ub in spans_b):
                return True
        return False


def _whole_list_first(ranked: list[Candidate], question: Question) -> list[Candidate]:
    """A question asking for steps or ways whose best block is one item of a list opens with the
    list: one step cut from three (「工作人员将为您查询并告知医保账户余额。」) does not say how."""
    top = ranked[0]
    if top.kind != SENTENCE or question.form == ONE:
        return ranked
    for cand in ranked[1:]:
        if cand.kind == LIST and cand.passage is top.passage and top.rows[0] in cand.rows[1:]:
            return [cand, *(c for c in ranked if c is not cand)]
    return ranked


def _fit(cand: Candidate, room: int) -> Candidate | None:
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


def _section(unit: AnswerUnit) -> tuple[str, str]:
    return unit.doc_id, unit.context


def _heading(table: UnitTable, unit: AnswerUnit) -> str:
    """The heading a gathered line stands under (「三、电话查询」 → 「电话查询」), or "" where the
    unit stands under its document's title alone."""
    if unit.context == table.title_context(unit.doc_id):
        return ""
    return without_marker(unit.context.split(" ")[0])


def _runs_into(before: AnswerUnit, after: AnswerUnit) -> bool:
    """Whether ``after`` is written right after ``before``, in one run of text."""
    return before.doc_id == after.doc_id and after.start == before.end


def _runs_on(before: AnswerUnit, after: AnswerUnit) -> bool:
    """Whether body text ``after`` continues ``before`` with at most one character between."""
    return after.role == BODY and 0 <= after.start - before.end <= 1


def _has_terms(terms: tuple[str, ...], cand: Candidate) -> bool:
    """Whether ``cand`` holds any of the question's terms."""
    text = fold(cand.text)
    return any(t in text for t in terms)


def _similar(a: str, b: str) -> bool:
    grams_a, grams_b = _bigrams(fold(a)), _bigrams(fold(b))
    if not grams_a or not grams_b:
        return fold(a) == fold(b)
    return len(grams_a & grams_b) / min(len(grams_a), len(grams_b)) > _NEAR_DUPLICATE


def _bigrams(text: str) -> set[str]:
    chars = [ch for ch in text if ch.isalnum()]
    return {a + b for a, b in pairwise(chars)}
