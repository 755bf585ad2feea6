"""What an answer is: quoted blocks (sentences and lists), the passages they cite, the evidence
for abstaining."""

from __future__ import annotations

from dataclasses import dataclass, field

from index.retriever import Passage, SearchResult

DISCLAIMER = "以上内容整理自公开资料，仅供参考，具体以当地医保部门规定为准。"
NOT_FOUND = "资料中未找到相关内容。"


@dataclass
class Citation:
    n: int
    passage: Passage

    def to_dict(self) -> dict:
        c = self.passage.chunk
        return {
            "n": self.n,
            "doc": c.doc_id,
            "title": c.title,
            "section": c.section,
            "date": c.date,
            "region": c.region,
            "start": c.start,
            "end": c.end,
            "page": c.page,
            "ocr": c.ocr,
            "text": c.text,
            "score": round(self.passage.score, 4),
            "why": self.passage.why(),
        }


@dataclass
class AnswerSentence:
    """One quoted sentence: ``source`` is verbatim ``doc[start:end]``; ``text`` is what is shown.

    ``caption`` is the heading a quote stands under, shown before it and not quoted (answers quote
    no headings): the heading above a bare 「步骤:」, or the section a list item stands for.
    ``new_line`` marks a quote of a sentence block that starts a new line in the source (the rows
    of a table under its heading): it is shown on a line of its own."""

    text: str
    source: str
    citation: int
    doc_id: str
    start: int
    end: int
    caption: str = ""
    new_line: bool = False

    @property
    def shown(self) -> str:
        """The quote with its caption, if any, in 【】 before it."""
        return f"【{self.caption}】{self.text}" if self.caption else self.text

    @property
    def line(self) -> str:
        return f"{self.shown}[{self.citation}]"

    def to_dict(self) -> dict:
        return {
            "text": self.text,
            "source": self.source,
            "n": self.citation,
            "doc": self.doc_id,
            "start": self.start,
            "end": self.end,
            "caption": self.caption,
            "new_line": self.new_line,
        }


SENTENCE, LIST = "sentence", "list"


@dataclass
class AnswerBlock:
    """A quoted sentence, or a list: its lead-in (``sentence``) and its items, each quoted whole."""

    kind: str
    sentence: AnswerSentence
    items: list[AnswerSentence] = field(default_factory=list)

    @property
    def quotes(self) -> list[AnswerSentence]:
        return [self.sentence, *self.items]

    @property
    def text(self) -> str:
        """A sentence block reads as its source does (a lead-in runs on into the sentence it
        introduces, a table's rows stand on lines of their own); a list puts each item on a line of
        its own."""
        if self.kind == SENTENCE:
            rest = "".join(f"\n{q.text}" if q.new_line else q.text for q in self.items)
            return self.sentence.shown + rest + f"[{self.sentence.citation}]"
        return "\n".join([self.sentence.line, *(f"- {q.line}" for q in self.items)])

    def to_dict(self) -> dict:
        return {"type": self.kind, **self.sentence.to_dict(), "items": [q.to_dict() for q in self.items]}


@dataclass
class Answer:
    question: str
    blocks: list[AnswerBlock]
    citations: list[Citation]
    abstained: bool
    confidence: float
    scope: str
    search: SearchResult
    timings_ms: dict[str, float] = field(default_factory=dict)
    evidence: dict[str, float] = field(default_factory=dict)
    disclaimer: str = DISCLAIMER
    # Why an abstention did not even search (answer.nonsense), shown in place of NOT_FOUND.
    notice: str = ""
    # For a question in another language: one line in English on what was found, before the quotes.
    note: str = ""

    @property
    def sentences(self) -> list[AnswerSentence]:
        """Every quoted span, in the order shown."""
        return [q for block in self.blocks for q in block.quotes]

    @property
    def related(self) -> list[Passage]:
        """The retrieved passages the answer does not quote: one source answers, the others are
        there to read (rules differ by city and year)."""
        if self.abstained:
            return []
        cited = {c.passage.chunk.id for c in self.citations}
        return [p for p in self.search.passages if p.chunk.id not in cited]

    @property
    def text(self) -> str:
        if self.abstained:
            return self.notice or NOT_FOUND
        lines = [self.note, *(block.text for block in self.blocks), self.scope]
        return "\n".join(line for line in lines if line)

    def to_dict(self) -> dict:
        return {
            "question": self.question,
            # What was searched: the question, or the part of a long message that asks.
            "searched": self.search.searched or self.question,
            "synonyms": [list(pair) for pair in self.search.synonyms],
            "answer": self.text,
            "abstained": self.abstained,
            "confidence": round(self.confidence, 3),
            "disclaimer": self.disclaimer,
            "note": self.note,
            "citations": [c.to_dict() for c in self.citations],
            "sentences": [s.to_dict() for s in self.sentences],
            "blocks": [b.to_dict() for b in self.blocks],
            "related": [_related(p) for p in self.related],
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
        }


def _related(passage: Passage) -> dict:
    """A passage the answer does not quote: where it is and why it matched, not its text."""
    return {k: v for k, v in Citation(0, passage).to_dict().items() if k not in ("n", "text")}
