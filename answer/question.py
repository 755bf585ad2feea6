"""A question, read once: its text, folded form, script, terms, the place it names and what it
asks for. Every stage of composing reads this record; none folds or types the question again."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from answer.types import ONE, Asked, QuestionType, asked_types
from index.retriever import SearchResult
from ingest.textnorm import fold, has_cjk, is_traditional, to_simplified, to_traditional

SIMPLIFIED, TRADITIONAL, FOREIGN = "simplified", "traditional", "foreign"


@dataclass(frozen=True)
class Question:
    text: str
    folded: str
    # SIMPLIFIED, TRADITIONAL, or FOREIGN for a question without a Chinese character.
    script: str
    terms: tuple[str, ...]
    place: str | None
    asks: tuple[Asked, ...]

    @property
    def kind(self) -> QuestionType | None:
        """The type that decides the answer's form: the highest priority asked."""
        return self.asks[0].type if self.asks else None

    @property
    def form(self) -> str:
        return self.kind.form if self.kind else ONE

    @property
    def shapes(self) -> list[Asked]:
        """What the question asks for that an answer's words can tell (a cap, a year, a cause), the
        highest priority first."""
        return [a for a in self.asks if a.shape is not None]

    def in_script(self, text: str) -> str:
        """Quoted text as the asker writes: traditional for a traditional question, else simplified."""
        return to_traditional(text) if self.script == TRADITIONAL else to_simplified(text)


def read_question(text: str, terms: Sequence[str], place: str | None) -> Question:
    folded = fold(text)
    script = TRADITIONAL if is_traditional(text) else SIMPLIFIED if has_cjk(text) else FOREIGN
    return Question(text, folded, script, tuple(terms), place, asked_types(folded))


def question_of(result: SearchResult) -> Question:
    """The question a search was made for, with the terms and the place the search read in it."""
    return read_question(result.query, result.query_terms, result.region)
