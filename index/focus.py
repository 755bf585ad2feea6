"""The part of a long message that asks: what a search embeds and matches instead of the whole text.

People paste whole messages (「我是…退休职工，2019年在A市参保……请问我现在在B市住院能否直接报销？」):
mostly background, one or two sentences that ask. Embedded whole, the background outweighs the
question (and e5 reads 512 tokens at most). A message longer than ``limit`` characters is searched
by its title line (a short first line, as messages on a board have), its asking sentences, and
the sentences that name a place or a number, in their order and within ``limit``; a shorter
question is searched as it is. The place a message names anywhere still ranks its passages first
(the retriever finds it in the whole message).
"""

from __future__ import annotations

import re

from ingest.regions import find_region
from ingest.sentences import split_sentences

# How a sentence asks: it ends with a question mark or particle, or asks in so many words.
# (「什么」, 「多少」 and 「几」 also turn up in statements: 「没什么」, 「十几年」.)
_ASKS = re.compile(
    r"(?:[？?]|[吗呢][。！!]?)[」”\"')）]*\s*$|请问|咨询|想问|想了解|请教|能否|能不能|可否|可不可以|是否|有没有|"
    r"怎么|怎样|如何|为什么|为何|哪里|哪些|多久|多长时间"
)
# A first line this short, without a sentence end, is a message's title (「咨询A市医保异地报销政策」).
_TITLE_CHARS = 40
_TITLE_END = re.compile(r"[。！？!?；;]$")


def focus(message: str, limit: int) -> str:
    """What to search for ``message``: itself when it is at most ``limit`` characters, else its
    title line, asking sentences and sentences naming a place, in order, within ``limit``."""
    text = message.strip()
    if len(text) <= limit:
        return text
    spans = split_sentences(text)
    sentences = [text[a:b] for a, b in spans]
    keep: list[int] = []
    first_line = text.split("\n", 1)[0].strip()
    if first_line and len(first_line) <= _TITLE_CHARS and not _TITLE_END.search(first_line):
        keep.append(0)
    asking = [i for i, s in enumerate(sentences) if _ASKS.search(s)]
    # The last asking sentences first: a message ends with what it asks, and opens with background.
    for i in reversed(asking):
        if _fits(sentences, [*keep, i], limit):
            keep.append(i)
    place = find_region(" ".join(sentences[i] for i in keep))
    if not place:
        named = next((i for i, s in enumerate(sentences) if find_region(s)), None)
        if named is not None and _fits(sentences, [*keep, named], limit):
            keep.append(named)
    if not asking:
        # Nothing asks in so many words: the opening and the close say what it is about.
        for i in (0, len(sentences) - 1):
            if i not in keep and _fits(sentences, [*keep, i], limit):
                keep.append(i)
    if not keep:
        # One asking sentence longer than the limit: its end is where the question is.
        return (sentences[asking[-1]] if asking else text)[-limit:]
    return "".join(sentences[i] for i in sorted(set(keep)))


def _fits(sentences: list[str], rows: list[int], limit: int) -> bool:
    return sum(len(sentences[i]) for i in set(rows)) <= limit
