"""What an answer is: quoted sentences, the passages they cite, and the evidence for abstaining."""

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
            "text": c.text,
            "score": round(self.passage.score, 4),
            "why": self.passage.why(),
        }


@dataclass
class AnswerSentence:
    """One quoted sentence: ``source`` is verbatim ``doc[start:end]``; ``text`` is what is shown."""

    text: str
    source: str
    citation: int
    doc_id: str
    start: int
    end: int


@dataclass
class Answer:
    question: str
    sentences: list[AnswerSentence]
    citations: list[Citation]
    abstained: bool
    confidence: float
    scope: str
    search: SearchResult
    timings_ms: dict[str, float] = field(default_factory=dict)
    evidence: dict[str, float] = field(default_factory=dict)
    disclaimer: str = DISCLAIMER

    @property
    def text(self) -> str:
        if self.abstained:
            return NOT_FOUND
        body = "".join(f"{s.text}[{s.citation}]" for s in self.sentences)
        return f"{body}\n{self.scope}" if self.scope else body

    def to_dict(self) -> dict:
        return {
            "question": self.question,
            "answer": self.text,
            "abstained": self.abstained,
            "confidence": round(self.confidence, 3),
            "disclaimer": self.disclaimer,
            "citations": [c.to_dict() for c in self.citations],
            "sentences": [
                {
                    "text": s.text,
                    "source": s.source,
                    "n": s.citation,
                    "doc": s.doc_id,
                    "start": s.start,
                    "end": s.end,
                }
                for s in self.sentences
            ],
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
        }
