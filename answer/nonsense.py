"""Questions with no word of content: only emoji, punctuation or symbols, one character over and
over, or code and markup (``${jndi:ldap://x/a}``, ``<script>``, ``{{7*7}}``).

Such a question has nothing to search for, yet the nearest passages always score something (the
model's cosines bunch between 0.8 and 0.95), so it would be answered at middling confidence. It is
answered with a message instead, before any search."""

from __future__ import annotations

import re
import unicodedata

from answer.records import Answer
from index.retriever import SearchResult

NO_CONTENT = (
    "问题里没有可以查找的文字，请用文字描述您的医保问题。"
    "/ The question has no words to look up: please ask in words."
)

# Lookup and template syntax, tags and URLs are code, not words.
_CODE = re.compile(
    r"\$\{[^}]*\}?|\{\{.*?\}\}|\{%.*?%\}|<[^>]*>|[a-z][a-z0-9+.-]*://\S*", re.IGNORECASE | re.DOTALL
)


def lacks_content(question: str) -> bool:
    """Whether ``question``, read as NFKC without its code, has fewer than two different letters or
    digits (a CJK character counts as a letter)."""
    text = _CODE.sub(" ", unicodedata.normalize("NFKC", question))
    return len({ch.casefold() for ch in text if unicodedata.category(ch)[0] in "LN"}) < 2


def no_content_answer(question: str) -> Answer:
    """The abstention for such a question: nothing searched, nothing cited, the message shown."""
    search = SearchResult(question, "none", [], [], None)
    return Answer(question, [], [], True, 0.0, "", search, notice=NO_CONTENT)
