"""The question-set format (eval/questions.jsonl): questions with the corpus spots that answer them."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from ingest.textnorm import fold

_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Evidence:
    doc: str
    evidence: str

    def found_in(self, doc_id: str, text: str) -> bool:
        """A passage answers when it comes from the answer's document and contains its evidence."""
        return doc_id == self.doc and self.evidence in text


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    answerable: bool
    answers: tuple[Evidence, ...]

    def relevant(self, doc_id: str, text: str) -> frozenset[int]:
        """Indexes of the answers this passage contains."""
        return frozenset(i for i, a in enumerate(self.answers) if a.found_in(doc_id, text))

    def answered_by(self, answer_text: str) -> bool:
        """The composed answer quotes an evidence string, up to simplified/traditional form and
        whitespace: an answer shows a quote on one line, so a label and its text that stand on
        lines of their own (「網上查詢:\n參保人…」) read 「網上查詢: 參保人…」."""
        folded = _unspaced(fold(answer_text))
        return any(_unspaced(fold(a.evidence)) in folded for a in self.answers)


def _unspaced(text: str) -> str:
    return _WHITESPACE.sub("", text)


def load_questions(path: Path) -> list[Question]:
    """Parse a question file; a malformed line is reported with its line number."""
    questions = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
                answers = tuple(Evidence(a["doc"], a["evidence"]) for a in raw.get("answers", []))
                questions.append(Question(str(raw["id"]), raw["question"], bool(raw["answerable"]), answers))
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"{path}:{n}: not a question record ({exc})") from None
    return questions
