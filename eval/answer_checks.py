"""Checks on the composed answer text itself, beside the retrieval metrics.

- glued: a quoted span that has a list marker (「一、」, 「2.」, 「(3)」, 「④」, 「•」, 「第二,」) after
  other text, i.e. right after whitespace or a sentence end inside the quote. Such a quote ran a
  list item or a numbered heading into the sentence before it.
- dangling: an answer whose last quoted span ends on a lead-in's colon (「…如下:」) or is a
  heading or label (a short run without any punctuation, 「所需材料」), promising something it
  does not show.
"""

from __future__ import annotations

import re

from answer.records import Answer
from ingest.patterns import CLAUSE_STOPS, LEAD_IN_END, LIST_MARKER, SENTENCE_STOPS
from ingest.units import is_label

_GLUED = re.compile(f"(?<=[\\s{SENTENCE_STOPS}{CLAUSE_STOPS}:：])(?:{LIST_MARKER})")


def glued_quotes(answer: Answer) -> int:
    """How many quoted spans run a list marker in after other text."""
    return sum(1 for q in answer.sentences if _GLUED.search(q.source, 1))


def dangling(answer: Answer) -> bool:
    """The answer ends on a lead-in or a heading."""
    if answer.abstained or not answer.sentences:
        return False
    last = answer.sentences[-1].source.strip()
    return bool(LEAD_IN_END.search(last)) or is_label(last)


def answer_chars(answer: Answer) -> int:
    """The length of what the answer quotes (without citation marks and the scope line)."""
    return sum(len(q.source) for q in answer.sentences)
